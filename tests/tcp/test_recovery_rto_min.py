"""``tcplab run --rto-min SECONDS``: the RTO's lower bound as a run setting, carried
into the recording's header (so a re-execution uses it too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcplab.cli import main
from tcplab.lab.session import RunInputs

# A lost FIN with RACK-TLP off, so the retransmission timer is what resends it.
SCENARIO = """\
link h1 s1 delay=10ms
listen h2:80 rack=off
connect h1 h2:80 as c1 rack=off
wait 200ms
drop h1>h2 FIN
close c1
wait 2
expect c1 FIN-WAIT-2
"""


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str
         ) -> tuple[int, str, list[dict[str, object]]]:
    scn = tmp_path / "lost-fin.scn"
    scn.write_text(SCENARIO, encoding="utf-8")
    rec = tmp_path / f"rec{len(list(tmp_path.glob('rec*')))}"  # one per run: never reused
    code = main(["run", "--headless", "--virtual-time", "--scenario", str(scn),
                 "--record", str(rec), *extra])
    out, err = capsys.readouterr()
    lines = [json.loads(x) for x in (rec / "events.jsonl").read_text().splitlines()] \
        if code == 0 else []
    return code, out + err, lines


def _fin_resent_after(lines: list[dict[str, object]]) -> float:
    [drop] = [e for e in lines if e.get("kind") == "link.dropped"]
    [rtx] = [e for e in lines if e.get("kind") == "segment.retransmitted"]
    assert rtx["why"] == "rto"
    t_rtx, t_drop = rtx["t"], drop["t"]
    assert isinstance(t_rtx, float) and isinstance(t_drop, float)
    return t_rtx - t_drop


def test_rto_min_lowers_the_retransmission_timeout(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, lines = _run(capsys, tmp_path, "--rto-min", "0.2")
    assert code == 0, out
    assert lines[0]["rto_min"] == 0.2
    assert RunInputs.from_header(lines[0]).rto_min == 0.2
    # RTT 40 ms: the RTO is the 200 ms floor (Linux's), not RFC 6298's 1 s
    assert 0.2 <= _fin_resent_after(lines) < 0.3


def test_the_default_floor_is_one_second_and_the_header_stays_as_it_was(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, lines = _run(capsys, tmp_path)
    assert code == 0, out
    assert "rto_min" not in lines[0]
    assert _fin_resent_after(lines) >= 1.0


@pytest.mark.parametrize("value", ["0", "-1", "61"])
def test_a_bad_rto_min_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   value: str) -> None:
    code, out, _ = _run(capsys, tmp_path, "--rto-min", value)
    assert code == 2
    assert out.strip() == "tcplab run: --rto-min must be between 0.001 and 60 seconds"
