"""Every scenario file under tests/scenarios/ runs through the real ``tcplab run`` and passes.

Each scenario asserts its own story with ``expect``/``expect-seen``/``expect-received``;
here we also check the headless lines that show the story happened for the right reason
(a RST, not a FIN; a retransmitted FIN, not the first one), and for a few scenarios the
recorded event stream.  A scenario with a syntax error must run nothing; one whose
``expect`` fails must say which line, what was expected and what was found.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tcplab.cli import main

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"

# For each scenario: regular expressions that must match some headless output line.
KEY_LINES: dict[str, list[str]] = {
    "handshake.scn": [
        r"h1 \S+>10\.0\.0\.2:80 CLOSED -> SYN-SENT \(active OPEN\)",
        r"h2 10\.0\.0\.2:80>\S+ LISTEN -> SYN-RECEIVED \(rcv SYN\)",
        r"h1 \S+ SYN-SENT -> ESTABLISHED \(rcv SYN,ACK\)",
        r"h2 \S+ SYN-RECEIVED -> ESTABLISHED \(rcv ACK of SYN\)",
    ],
    "simultaneous_open.scn": [
        r"h1 10\.0\.0\.1:5000>10\.0\.0\.2:6000 SYN-SENT -> SYN-RECEIVED \(rcv SYN",
        r"h2 10\.0\.0\.2:6000>10\.0\.0\.1:5000 SYN-SENT -> SYN-RECEIVED \(rcv SYN",
    ],
    "close_client_first.scn": [
        r"h1 \S+ ESTABLISHED -> FIN-WAIT-1 \(CLOSE\)",
        r"h2 \S+ ESTABLISHED -> CLOSE-WAIT \(rcv FIN\)",
        r"h2 \S+ LAST-ACK -> CLOSED",
        r"h1 \S+ TIME-WAIT -> CLOSED \(2MSL timeout\)",
    ],
    "close_server_first.scn": [
        r"h2 \S+ ESTABLISHED -> FIN-WAIT-1 \(CLOSE\)",
        r"h1 \S+ CLOSE-WAIT -> LAST-ACK \(CLOSE\)",
        r"h2 \S+ TIME-WAIT -> CLOSED \(2MSL timeout\)",
    ],
    "simultaneous_close.scn": [
        r"h1 \S+ FIN-WAIT-1 -> CLOSING \(rcv FIN",
        r"h2 \S+ FIN-WAIT-1 -> CLOSING \(rcv FIN",
        r"h1 \S+ CLOSING -> TIME-WAIT",
        r"h2 \S+ CLOSING -> TIME-WAIT",
    ],
    "half_close.scn": [
        r"h1 \S+ ESTABLISHED -> FIN-WAIT-1 \(CLOSE \(shutdown",
        r"h1 \S+ FIN-WAIT-2 -> TIME-WAIT \(rcv FIN\)",
    ],
    "rst_abort.scn": [
        r"h1 \S+ ESTABLISHED -> CLOSED \(ABORT\)",
        r"h2 \S+ ESTABLISHED -> CLOSED \(rcv RST\)",
        r"h2 socket \d+: connection reset by peer",
    ],
    "refused.scn": [
        r"h1 \S+>10\.0\.0\.2:81 SYN-SENT -> CLOSED \(rcv RST",
        r"h1 socket \d+: connection refused",
    ],
    "lost_fin.scn": [
        # the FIN was sent at 0.2 s; the peer sees it only after an RTO of at least 1 s
        r"t=0\.200 h1 \S+ ESTABLISHED -> FIN-WAIT-1 \(CLOSE\)",
        r"t=1\.\d+ h2 \S+ ESTABLISHED -> CLOSE-WAIT \(rcv FIN\)",
    ],
    "lost_last_ack.scn": [
        r"t=0\.4\d+ h1 \S+ FIN-WAIT-2 -> TIME-WAIT \(rcv FIN\)",
        r"t=1\.\d+ h1 \S+ TIME-WAIT -> TIME-WAIT \(rcv FIN",
        r"t=1\.\d+ h2 \S+ LAST-ACK -> CLOSED \(rcv ACK of FIN\)",
        r"t=61\.4\d+ h1 \S+ TIME-WAIT -> CLOSED \(2MSL timeout\)",
    ],
    "transfer_loss.scn": [
        r"link h1>s1 loss=10%",
        r"link s1>h1 loss=10%",
        r"h1 \S+ FIN-WAIT-1 -> FIN-WAIT-2",
    ],
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``tcplab run ARGS`` in this process: (exit status, stdout, stderr)."""
    code = main(["run", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_scenario(capsys: pytest.CaptureFixture[str], path: Path | str, *extra: str
                 ) -> tuple[int, str, str]:
    return run(capsys, "--headless", "--virtual-time", "--scenario", str(path), *extra)


def events(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


def test_every_scenario_file_is_listed() -> None:
    on_disk = {p.name for p in SCENARIO_DIR.glob("*.scn")}
    assert on_disk == set(KEY_LINES)


@pytest.mark.parametrize("name", sorted(KEY_LINES))
def test_scenario_passes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_scenario(capsys, SCENARIO_DIR / name)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[-1].endswith("all expectations held")
    assert not [line for line in lines if " error: " in line or " FAIL " in line]
    for pattern in KEY_LINES[name]:
        assert any(re.search(pattern, line) for line in lines), f"no line matches {pattern}"


@pytest.mark.parametrize("name", ["handshake.scn", "refused.scn"])
def test_a_fresh_process_prints_the_same_lines(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The same scenario in a fresh interpreter prints exactly the same lines: nothing in
    # a run depends on the process (hash seeds, import order, the wall clock).
    path = SCENARIO_DIR / name
    code, out, _ = run_scenario(capsys, path)
    proc = subprocess.run(
        [sys.executable, "-m", "tcplab", "run", "--headless", "--virtual-time",
         "--scenario", str(path)],
        capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout) == (code, out) == (0, out)
    assert proc.stderr == ""


def test_lost_fin_is_retransmitted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_scenario(capsys, SCENARIO_DIR / "lost_fin.scn", "--record",
                                str(tmp_path))
    assert code == 0, out
    evs = events(tmp_path)
    dropped = [e for e in evs if e["kind"] == "link.dropped"]
    assert len(dropped) == 1
    assert dropped[0]["reason"] == "filter" and "F" in dropped[0]["segment"]["flags"]
    fin_seq = dropped[0]["segment"]["seq"]
    rtx = [e for e in evs if e["kind"] == "segment.retransmitted"]
    assert [(e["host"], e["seq"], e["why"]) for e in rtx] == [("h1", fin_seq, "rto")]
    assert rtx[0]["t"] >= dropped[0]["t"] + 1.0  # RFC 6298 §2.4: RTO >= 1 s


def test_lost_last_ack_makes_time_wait_ack_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_scenario(capsys, SCENARIO_DIR / "lost_last_ack.scn", "--record",
                                str(tmp_path))
    assert code == 0, out
    evs = events(tmp_path)
    fins = [e for e in evs if e["kind"] == "segment.sent" and e["host"] == "h2"
            and "F" in e["segment"]["flags"]]
    assert len(fins) == 2 and fins[0]["segment"]["seq"] == fins[1]["segment"]["seq"]
    rtx = [e for e in evs if e["kind"] == "segment.retransmitted"]
    assert [(e["host"], e["seq"]) for e in rtx] == [("h2", fins[0]["segment"]["seq"])]
    # h1, in TIME-WAIT, answers each copy of the FIN with an ACK; the first one is lost.
    fin_ack = fins[0]["segment"]["seq"] + 1
    acks = [e for e in evs if e["kind"] == "segment.sent" and e["host"] == "h1"
            and e["segment"]["ack"] == fin_ack and e["segment"]["flags"] == "."]
    assert len(acks) == 2
    assert acks[0]["t"] < fins[1]["t"] < acks[1]["t"]
    lost = [e for e in evs if e["kind"] == "link.dropped"]
    assert [(e["reason"], e["segment"]["ack"]) for e in lost] == [("filter", fin_ack)]


def test_reset_and_refusal_are_reported_with_errno(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, errname, rst_from in (("rst_abort.scn", "ECONNRESET", "h1"),
                                    ("refused.scn", "ECONNREFUSED", "h2")):
        rec = tmp_path / name
        code, out, _ = run_scenario(capsys, SCENARIO_DIR / name, "--record", str(rec))
        assert code == 0, out
        evs = events(rec)
        errors = [e for e in evs if e["kind"] == "socket.error"]
        assert [e["errname"] for e in errors] == [errname]
        rsts = [e for e in evs if e["kind"] == "segment.sent" and "R" in e["segment"]["flags"]]
        assert [e["host"] for e in rsts] == [rst_from]


def test_transfer_delivers_every_byte_in_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_scenario(capsys, SCENARIO_DIR / "transfer_loss.scn", "--record",
                                str(tmp_path))
    assert code == 0, out
    evs = events(tmp_path)
    delivered = [e for e in evs if e["kind"] == "data.delivered" and e["host"] == "h2"]
    assert sum(e["len"] for e in delivered) == 1_000_000
    losses = [e for e in evs if e["kind"] == "link.dropped" and e["reason"] == "link loss"]
    data_lost = [e for e in losses if e["segment"] and e["segment"]["len"] > 0]
    assert data_lost, "10% loss over ~700 data segments must lose some of them"
    # the pattern is printable ASCII 32..126 repeating, so each chunk starts where the
    # previous one ended: delivery is in order with no byte repeated or skipped
    offset = 0
    for e in delivered:
        assert bytes.fromhex(e["hex"])[0] == 32 + offset % 95
        offset += e["len"]


# ----------------------------------------------------------------------- failing scenarios

def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.scn"
    path.write_text(text, encoding="utf-8")
    return path


def test_syntax_error_exits_2_and_runs_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "listen h2:80\nconnect h1 h2:80 as c1\nwiat 1\n"
                           "link h1 s1 loss=200%\nexpect c1 ESTABLISHED\n")
    rec = tmp_path / "rec"
    code, out, err = run_scenario(capsys, path, "--record", str(rec))
    assert code == 2
    assert out == ""  # not even the topology notice: nothing started
    assert f"{path}: line 3: unknown command 'wiat' (did you mean 'wait'?)" in err
    assert f"{path}: line 4: bad value for loss: '200%'" in err
    assert "nothing was run" in err
    assert not rec.exists()


def test_failing_expect_names_line_expected_and_actual(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "listen h2:80\nconnect h1 h2:80 as c1\nwait 0.1\n"
                           "expect c1 TIME-WAIT\nexpect c1' ESTABLISHED\n")
    code, out, _ = run_scenario(capsys, path)
    assert code == 1
    assert "error: line 4: expect c1 TIME-WAIT: state is ESTABLISHED" in out
    assert "FAIL line 4: expect c1 TIME-WAIT" in out
    assert "line 5" not in out  # the next expectation held and ran
    assert out.splitlines()[-1].endswith("1 command(s) or expectation(s) failed")


def test_runtime_error_names_line_and_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "# a comment line\nlisten h9:80\nlisten h2:80\nlisten h2:80\n"
                           "close c7\n")
    code, out, _ = run_scenario(capsys, path)
    assert code == 1
    assert "error: line 2: unknown host 'h9' (hosts: h1, h2)" in out
    assert "error: line 4: port 80 in use on h2" in out
    assert "error: line 5: no connection named 'c7'" in out
    assert "LISTEN" in out  # line 3 still ran
    assert out.splitlines()[-1].endswith("3 command(s) or expectation(s) failed")


def test_missing_scenario_file_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_scenario(capsys, tmp_path / "nope.scn")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert "cannot read scenario" in err and "nope.scn" in err


def test_keepalive_flag_shortens_the_idle_time(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    path = tmp_path / "ka.scn"
    path.write_text("listen h2:80\nconnect h1 h2:80 as c1 keepalive=on\nconnect h1 h2:80 as c2\n"
                    "wait 1\nlink h1 s1 down\nwait 25\nexpect c1 ESTABLISHED\nwait 4\n"
                    "expect c1 CLOSED\nexpect c2 ESTABLISHED\n")
    # quiet since the handshake at 0: probes at 10, 12 ... 26 s, unanswered: c1 ends at 28 s
    code, out, err = run_scenario(capsys, path, "--keepalive", "10")
    assert (code, err) == (0, ""), out
    assert "keep-alive: 9 probes unanswered" in out
    code, out, err = run_scenario(capsys, path)          # two hours: nothing happens
    assert code == 1 and "expect c1 CLOSED" in out


@pytest.mark.parametrize("value", ["0", "-5", "100000"])
def test_keepalive_flag_out_of_range(capsys: pytest.CaptureFixture[str], value: str) -> None:
    demo = Path(__file__).resolve().parents[2] / "scenarios" / "handshake.scn"
    code, _out, err = run_scenario(capsys, demo, "--keepalive", value)
    assert code == 2
    assert err.strip() == "tcplab run: --keepalive must be between 1 and 86400 seconds"
