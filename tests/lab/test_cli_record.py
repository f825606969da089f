"""``tcplab run --record DIR`` never writes over a recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.cli import main


def test_a_second_run_into_the_same_directory_is_refused_and_loses_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.scn"
    scenario.write_text("listen h2:80\nconnect h1 h2:80 as c1\nwait 1\n")
    out = tmp_path / "rec"
    argv = ["run", "--backend", "sim", "--virtual-time", "--headless", "--scenario",
            str(scenario), "--record", str(out)]
    assert main(argv) == 0
    before = (out / "events.jsonl").read_bytes()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"tcplab run: {out} already holds a recording: record into another "
                           f"directory (or delete it first)")
    assert (out / "events.jsonl").read_bytes() == before
