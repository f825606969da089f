"""The ``rack`` switch in the command language: per socket (``connect``/``listen``,
inherited by accepted connections) and per host (``tcp HOST rack=off``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcplab.cli import main

# h1 sends one lone segment that the network drops: nothing follows it, so only a
# timer can find the loss -- the tail loss probe, or with rack=off the RTO.
LONE_H1 = """\
link h1 s1 delay=10ms
listen h2:80
connect h1 h2:80 as c1{opt}
wait 1
drop h1>h2 DATA
send c1 "lonely"
wait 3
expect-received c1 6
"""
# the same from h2's side: its socket was accepted on a listener with the switch
LONE_H2 = """\
link h1 s1 delay=10ms
{pre}listen h2:80{opt}
connect h1 h2:80 as c1
wait 1
drop h2>h1 DATA
send c1' "lonely"
wait 3
expect c1 ESTABLISHED
"""


def _whys(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> list[str]:
    scn = tmp_path / "lone.scn"
    scn.write_text(text, encoding="utf-8")
    rec = tmp_path / f"rec{len(list(tmp_path.glob('rec*')))}"  # one per run: never reused
    code = main(["run", "--headless", "--virtual-time", "--scenario", str(scn),
                 "--record", str(rec)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    lines = [json.loads(x) for x in (rec / "events.jsonl").read_text().splitlines()[1:]]
    return [str(e["why"]) for e in lines if e["kind"] == "segment.retransmitted"]


def test_by_default_a_probe_finds_the_tail_loss(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _whys(capsys, tmp_path, LONE_H1.format(opt="")) == ["tlp"]


def test_rack_off_on_connect_leaves_it_to_the_rto(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _whys(capsys, tmp_path, LONE_H1.format(opt=" rack=off")) == ["rto"]


def test_rack_off_on_a_listener_reaches_the_connections_it_accepts(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _whys(capsys, tmp_path, LONE_H2.format(pre="", opt="")) == ["tlp"]
    assert _whys(capsys, tmp_path, LONE_H2.format(pre="", opt=" rack=off")) == ["rto"]


def test_rack_off_for_a_host(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _whys(capsys, tmp_path, LONE_H2.format(pre="tcp h2 rack=off\n", opt="")) == ["rto"]
