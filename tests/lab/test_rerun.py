"""Re-execution: ``verify`` reproduces recordings byte for byte, ``rewind`` branches.

Recordings come from the real CLI (``tcplab run --headless --record``) or from a lab
built the way the CLI builds one, with a recorder subscribed.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from tcplab.backends.sim.backend import SimBackend
from tcplab.cli import main
from tcplab.lab.events import CommandDone, EventBus, LabEvent, RunRewound
from tcplab.lab.lab import Lab
from tcplab.lab.record import Recorder
from tcplab.lab.rerun import verify
from tcplab.lab.session import RunInputs, announce
from tcplab.lab.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.scn"))


def record(out: Path, scenario: Path, *args: str) -> Path:
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", "--backend", "sim", "--headless", *args, "--scenario",
                     str(scenario), "--record", str(out)])
    assert code == 0, f"{scenario.name} failed"
    return out


def check(directory: Path) -> tuple[int, str]:
    out = io.StringIO()
    return verify(directory, out, SimBackend), out.getvalue()


def event_lines(directory: Path, name: str = "events.jsonl") -> list[str]:
    return (directory / name).read_text(encoding="utf-8").splitlines()


class Recording:
    """A lab built as ``tcplab run`` builds one, recording into ``directory``."""

    def __init__(self, directory: Path, virtual: bool = True, topology: str = "pair") -> None:
        topo = load_topology(topology)
        self.inputs = RunInputs.of(topo, backend="sim", mechanism=SimBackend.mechanism,
                                   seed=1, virtual=virtual)
        self.backend = SimBackend(1, virtual=virtual, config=self.inputs.config())
        self.lab = Lab(topo, self.backend, EventBus())
        self.recorder = Recorder(directory, self.inputs.header())
        self.lab.bus.subscribe(self.recorder.event)
        self.backend.add_tap(self.recorder.frame)
        self.seen: list[LabEvent] = []  # a subscriber's copy: cut at each run.rewound
        self.lab.bus.subscribe(self._see)
        self.lab.start()
        announce(self.lab, self.inputs)

    def _see(self, event: LabEvent) -> None:
        if isinstance(event, RunRewound):
            del self.seen[event.keep:]
        self.seen.append(event)

    def ok(self, *lines: str) -> str:
        message = ""
        for line in lines:
            result = self.lab.execute(line)
            assert result.ok, f"{line}: {result.message}"
            message = result.message
        return message

    def close(self) -> None:
        self.lab.stop()
        self.recorder.close()


# ------------------------------------------------------------------------------ verify

@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_scenario_re_executes_byte_for_byte(tmp_path: Path, path: Path) -> None:
    directory = record(tmp_path / "rec", path, "--virtual-time")
    code, out = check(directory)
    assert out == f"verified {len(event_lines(directory)) - 1} events\n"
    assert code == 0


@pytest.fixture(scope="module")
def handshake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record(tmp_path_factory.mktemp("hs") / "rec", ROOT / "scenarios" / "handshake.scn",
                  "--virtual-time")


def _copy(src: Path, dst: Path, lines: list[str]) -> Path:
    dst.mkdir()
    (dst / "events.jsonl").write_text("".join(line + "\n" for line in lines), "utf-8")
    return dst


def test_a_tampered_recording_fails_at_its_line(handshake: Path, tmp_path: Path) -> None:
    lines = event_lines(handshake)
    number = next(i for i, line in enumerate(lines) if '"new":"ESTABLISHED"' in line)
    lines[number] = lines[number].replace('"new":"ESTABLISHED"', '"new":"ESTABLISHEE"', 1)
    code, out = check(_copy(handshake, tmp_path / "bad", lines))
    assert code == 1
    assert f"events.jsonl line {number + 1} differs:" in out
    assert '"new":"ESTABLISHEE"' in out and '"new":"ESTABLISHED"' in out


def test_one_byte_changed_anywhere_is_found(handshake: Path, tmp_path: Path) -> None:
    lines = event_lines(handshake)
    for number in (1, len(lines) // 2, len(lines) - 1):
        tampered = list(lines)
        line = tampered[number]
        i = line.index('"kind":') + 3  # one byte of the kind's name: "kind" -> "kimd"
        tampered[number] = line[:i] + "m" + line[i + 1:]
        assert len(tampered[number]) == len(line) and tampered[number] != line
        code, out = check(_copy(handshake, tmp_path / f"bad{number}", tampered))
        assert code == 1 and f"line {number + 1} differs" in out


def test_a_line_missing_or_added_fails(handshake: Path, tmp_path: Path) -> None:
    lines = event_lines(handshake)
    number = next(i for i, line in enumerate(lines) if '"kind":"state.changed"' in line)
    code, out = check(_copy(handshake, tmp_path / "short", lines[:number] + lines[number + 1:]))
    assert code == 1 and f"line {number + 1} differs" in out
    assert lines[number] in out and lines[number + 1] in out
    code, out = check(_copy(handshake, tmp_path / "long", [*lines, lines[number]]))
    assert code == 1 and f"line {len(lines) + 1} differs" in out
    assert "(the re-executed run ended before it)" in out


@pytest.mark.parametrize(("change", "reason"), [
    ({"schema": 1}, "recording schema 1: this tcplab reads schema 2"),
    ({"backend": "mininet"}, "a mininet recording: Mininet hosts run on the wall clock and "
                             "cannot be re-run"),
    ({"kind": "notice"}, "the first line is not a recording header"),
])
def test_recordings_that_cannot_be_re_executed(handshake: Path, tmp_path: Path,
                                               change: dict[str, object], reason: str) -> None:
    lines = event_lines(handshake)
    header = json.loads(lines[0])
    header.update(change)
    directory = _copy(handshake, tmp_path / "other", [json.dumps(header), *lines[1:]])
    code, out = check(directory)
    assert code == 2
    assert out.startswith(f"cannot re-execute {directory}: ") and reason in out


def test_a_schema_1_file_and_a_missing_file(tmp_path: Path) -> None:
    old = _copy(tmp_path, tmp_path / "old", [json.dumps(
        {"kind": "header", "schema": 1, "tcplab": "0.1.0", "topology": "pair",
         "backend": "sim", "seed": 1, "clock": "virtual"})])
    code, out = check(old)
    assert code == 2 and "recording schema 1" in out
    code, out = check(tmp_path / "nothing")
    assert code == 2 and "cannot read" in out and "No such file" in out
    code, out = check(_copy(tmp_path, tmp_path / "empty", []))
    assert code == 2 and "no header" in out


def test_a_real_time_recording_re_executes(tmp_path: Path) -> None:
    scenario = tmp_path / "real.scn"
    scenario.write_text("link h1 s1 delay=10ms\nlisten h2:80\nconnect h1 h2:80 as c1\n"
                        "wait 0.1\nsend c1 --bytes 50000\nbreak c1 FIN-WAIT-2\nclose c1\n"
                        "wait 0.3\nexpect c1 FIN-WAIT-2\nresume\nwait 0.05\n", "utf-8")
    directory = record(tmp_path / "rec", scenario)
    assert json.loads(event_lines(directory)[0])["clock"] == "real"
    code, out = check(directory)
    assert (code, out) == (0, f"verified {len(event_lines(directory)) - 1} events\n")


def test_an_interrupted_wait_re_executes_where_it_stopped(tmp_path: Path) -> None:
    rec = Recording(tmp_path)
    rec.ok("listen h2:80", "connect h1 h2:80 as c1", "wait 1", "send c1 --bytes 99999999999")
    rec.lab.start_wait(5)
    rec.lab.run_slice(0.02)
    rec.lab.interrupt()  # mid-transfer, in the middle of the instant t=1
    rec.ok("close c1'")
    rec.close()
    interrupted = [json.loads(line) for line in event_lines(tmp_path)
                   if '"line":"wait 5"' in line]
    assert "after" in interrupted[0]["message"]
    assert check(tmp_path) == (0, f"verified {len(event_lines(tmp_path)) - 1} events\n")


# ------------------------------------------------------------------------------ rewind

def _delivered(directory: Path, name: str = "events.jsonl") -> list[str]:
    return [json.loads(line)["ascii"] for line in event_lines(directory, name)
            if '"kind":"data.delivered"' in line]


def test_rewind_then_a_different_command_gives_a_different_branch(tmp_path: Path) -> None:
    rec = Recording(tmp_path)
    rec.ok("link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1", "wait 1",
           'send c1 "first"', "wait 1")
    before = list(rec.seen)
    message = rec.ok("rewind 1")
    assert message.startswith("rewound to t=1: re-ran the run's start, ")
    assert rec.lab.now() == 1.0
    rewound = [e for e in rec.seen if isinstance(e, RunRewound)]
    assert [(e.t, e.to) for e in rewound] == [(1.0, 1.0)]
    keep = rewound[0].keep
    # the kept prefix is the stream up to the wait that ended at t=1, and nothing after
    assert rec.seen[:keep] == before[:keep]
    assert isinstance(before[keep - 1], CommandDone) and before[keep - 1].line == "wait 1"
    rec.ok("expect c1 ESTABLISHED", 'send c1 "second"', "wait 1", "expect-received c1 6")
    rec.close()
    assert _delivered(tmp_path) == ["second"]
    assert _delivered(tmp_path, "events.branch-1.jsonl") == ["first"]
    lines, branch = event_lines(tmp_path), event_lines(tmp_path, "events.branch-1.jsonl")
    assert lines[:keep + 1] == branch[:keep + 1]  # the header and the shared past
    assert json.loads(lines[keep + 1])["kind"] == "run.rewound"
    # events.jsonl is the current branch: what a subscriber kept, line for line
    assert len(lines) - 1 == len(rec.seen)
    assert check(tmp_path) == (0, f"verified {len(lines) - 1} events\n")


def test_rewind_into_a_wait_and_twice(tmp_path: Path) -> None:
    rec = Recording(tmp_path)
    rec.ok("link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1", "wait 1",
           "send c1 --bytes 300000", "break c1' CLOSE-WAIT", "close c1", "wait 5")
    rec.ok("rewind 1.005")  # inside the transfer, inside the wait after close
    rec.ok("expect c1 ESTABLISHED")  # the FIN waits for the bytes
    # the breakpoint was set before t=1.005: it is part of the new branch and fires again
    assert "by breakpoint 1 (break c1' CLOSE-WAIT)" in rec.ok("wait 5")
    rec.ok("expect c1 FIN-WAIT-1", "wait 5", "expect c1 FIN-WAIT-2")
    rec.ok("rewind 1.2", "rewind 0.5", "expect c1 ESTABLISHED", "pause", "step", "step 2")
    rec.close()
    assert (tmp_path / "events.branch-3.jsonl").exists()
    assert check(tmp_path) == (0, f"verified {len(event_lines(tmp_path)) - 1} events\n")


def test_rewind_goes_back_only(tmp_path: Path) -> None:
    rec = Recording(tmp_path)
    rec.ok("wait 1")
    result = rec.lab.execute("rewind 2")
    assert not result.ok
    assert result.message == "rewind goes back in time: t=2 is after now (t=1.000000)"
    rec.close()


def test_rewind_under_real_time_leaves_the_clock_paused(tmp_path: Path) -> None:
    rec = Recording(tmp_path, virtual=False)
    rec.ok("listen h2:80", "connect h1 h2:80 as c1", "wait 0.1")
    message = rec.ok("rewind 0.05")
    assert message.endswith("; the clock is paused (resume to go on)")
    assert rec.lab.now() == 0.05 and rec.backend is not rec.lab.backend
    assert isinstance(rec.lab.backend, SimBackend) and rec.lab.backend.paused
    rec.ok("resume", "wait 0.05", "expect c1 ESTABLISHED")
    rec.close()
    assert check(tmp_path) == (0, f"verified {len(event_lines(tmp_path)) - 1} events\n")
