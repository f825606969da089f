"""``tcplab replay DIR --at T --json``: the sockets table at any instant of a recording,
equal to what the live lab held at that instant."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tcplab.backends.sim.backend import SimBackend
from tcplab.cli.replay import main as replay_main
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology

LINES = ["link h1 s1 delay=10ms loss=2%", "listen h2:80", "connect h1 h2:80 as c1",
         "wait 0.3", "send c1 --bytes 60000", "wait 0.7", "close c1", "wait 0.013",
         "close c1'", "wait 0.2", "wait 3"]
KEYS = {"host", "name", "local", "remote", "state", "snd_una", "snd_nxt", "rcv_nxt", "cwnd",
        "ssthresh", "srtt", "rto"}


def _rel(value: int, base: int) -> int:
    return (value - base) & 0xFFFFFFFF


def live_tables() -> list[tuple[float, list[dict[str, Any]]]]:
    """The lab's own sockets before each wait of LINES (when everything at that instant
    has happened) and at the end, in the JSON's terms."""
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.start()
    out = []
    for line in [*LINES, "wait 0"]:
        if line.startswith("wait"):
            rows = []
            for host, info in sorted(lab.sockets(), key=lambda hi: (hi[0], hi[1].id)):
                st = info.status
                row: dict[str, Any] = {
                    "host": host, "local": f"{info.local[0]}:{info.local[1]}",
                    "remote": None if info.remote is None else
                    f"{info.remote[0]}:{info.remote[1]}", "state": str(info.state.value),
                    "name": lab.name_of(host, info.id, info) or None}
                if info.remote is not None:
                    row.update(snd_una=_rel(st.snd_una, st.iss), snd_nxt=_rel(st.snd_nxt, st.iss),
                               rcv_nxt=_rel(st.rcv_nxt, st.irs), cwnd=st.cwnd,
                               ssthresh=st.ssthresh, srtt=st.srtt, rto=st.rto)
                rows.append(row)
            out.append((lab.now(), rows))
        assert lab.execute(line).ok, line
    lab.stop()
    return out


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rec") / "run"
    scenario = directory.parent / "s.scn"
    scenario.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tcplab", "run", "--headless", "--virtual-time", "--backend",
         "sim", "--scenario", str(scenario), "--record", str(directory)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return directory


def replay_json(directory: Path, t: float, capsys: pytest.CaptureFixture[str]) -> Any:
    assert replay_main([str(directory), "--at", repr(t), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_table_at_five_instants_is_what_the_live_lab_held(
        recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = live_tables()
    assert len(tables) == 6
    for t, live in tables:
        got = replay_json(recording, t, capsys)
        assert got["t"] == t
        assert all(set(s) >= KEYS for s in got["sockets"])
        trimmed = [{k: s[k] for k in live_row} for s, live_row in
                   zip(got["sockets"], live, strict=True)]
        assert trimmed == live, f"at t={t}"
    states = {s["name"]: s["state"] for s in replay_json(recording, tables[3][0], capsys)
              ["sockets"] if s["name"]}
    assert states == {"c1": "FIN-WAIT-1", "c1'": "LAST-ACK"}  # the FIN's ACK is in flight


def test_a_listener_has_no_remote_and_null_tcb(recording: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    listener = [s for s in replay_json(recording, 0.0, capsys)["sockets"]
                if s["state"] == "LISTEN"]
    assert len(listener) == 1
    assert listener[0]["remote"] is None and listener[0]["cwnd"] is None
    assert listener[0]["local"] == "0.0.0.0:80" and listener[0]["host"] == "h2"


def test_after_the_end_the_last_table_stands(recording: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    last = replay_json(recording, 1e6, capsys)
    assert last["t"] == 1e6
    # the recording ends with c1 in TIME-WAIT (2 MSL is a minute): so does its table
    assert [s["state"] for s in last["sockets"]] == ["TIME-WAIT", "LISTEN", "CLOSED"]


def test_times_take_units(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay_json(recording, 0.3, capsys)["sockets"] == replay_json(
        recording, 0.3, capsys)["sockets"]
    assert replay_main([str(recording), "--at", "300ms", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["t"] == 0.3


@pytest.mark.parametrize("args, error", [
    (["--json"], "--json needs --at T"),
    (["--at", "soon", "--json"], "--at soon"),
    (["--verify", "--at", "1"], "--verify takes no --at"),
])
def test_usage_errors(recording: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                      error: str) -> None:
    assert replay_main([str(recording), *args]) == 2
    assert error in capsys.readouterr().err


def test_unreadable_recordings_are_refused_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay_main([str(tmp_path / "nothing"), "--at", "1", "--json"]) == 2
    assert "no recording" in capsys.readouterr().err
    old = tmp_path / "old"
    old.mkdir()
    (old / "events.jsonl").write_text(
        '{"kind":"header","schema":1,"tcplab":"0.1.0","topology":"pair","backend":"sim",'
        '"seed":1,"clock":"virtual"}\n', encoding="utf-8")
    assert replay_main([str(old), "--at", "1", "--json"]) == 2
    assert "schema 1" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "events.jsonl").write_text(
        '{"kind":"header","schema":2}\n{"kind":"notice","t":0.0,"host":"","text":"x"}\nnot json\n',
        encoding="utf-8")
    assert replay_main([str(bad), "--at", "1", "--json"]) == 2
    assert "line 3" in capsys.readouterr().err
