"""``export ladder CONN FILE`` and ``screenshot [FILE]``: the dashboard's drawings of what
it shows, from a live run or a replay."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from textual.widgets import Static

from tcplab.lab.timeline import Timeline
from tcplab.tui.app import TcplabApp
from tcplab.tui.export import arrows
from tcplab.tui.history import SegRecord

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def lost_fin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rec") / "lf"
    done = subprocess.run(
        [sys.executable, "-m", "tcplab", "run", "--headless", "--virtual-time", "--scenario",
         str(ROOT / "scenarios" / "lost-fin.scn"), "--record", str(directory)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return directory


def run_lines(recording: Path, *lines: str) -> list[tuple[bool, str]]:
    async def go() -> list[tuple[bool, str]]:
        app = TcplabApp(None, timeline=Timeline.load(recording))
        out = []
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("end")
            await pilot.pause()
            for line in lines:
                ok = app.run_line(line)
                out.append((ok, str(app.query_one("#result", Static).render())))
        return out
    return asyncio.run(go())


def test_svg_ladder_has_two_lanes_and_an_arrow_per_segment(lost_fin: Path,
                                                           tmp_path: Path) -> None:
    target = tmp_path / "c1.svg"
    [(ok, message)] = run_lines(lost_fin, f"export ladder c1 {target}")
    assert ok, message
    assert "8 segments" in message
    root = ET.parse(target).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}line")
    lanes = [ln for ln in lines if ln.get("x1") == ln.get("x2")]
    arrows = [ln for ln in lines if ln.get("x1") != ln.get("x2")]
    assert len(lanes) == 2
    assert len(arrows) == 8
    # the lost FIN ends half way, dashed, with a cross; the resent one arrives
    lost = [ln for ln in arrows if ln.get("stroke-dasharray")]
    assert len(lost) == 1
    assert "✕" in [t.text for t in root.findall(f"{ns}text")]
    labels = [t.text or "" for t in root.findall(f"{ns}text")]
    assert any(label.endswith("rtx") and label.startswith("F.") for label in labels)
    # in flight, an arrow slants: it arrives later (lower) than it left
    assert all(float(ln.get("y2", 0)) > float(ln.get("y1", 0)) for ln in arrows)
    # each lane's states where they change, as in the text export
    left = [t.text for t in root.findall(f"{ns}text") if t.get("text-anchor") == "end"]
    right = [t.text for t in root.findall(f"{ns}text") if t.get("text-anchor") == "start"]
    assert left[:2] == ["SYN-SENT", "ESTABLISHED"] and "FIN-WAIT-1" in left, left
    assert right[:2] == ["SYN-RECEIVED", "ESTABLISHED"] and "CLOSE-WAIT" in right, right


def test_a_connection_not_made_yet_says_where_it_is(lost_fin: Path, tmp_path: Path) -> None:
    async def go() -> tuple[bool, str]:
        app = TcplabApp(None, timeline=Timeline.load(lost_fin))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("home")
            await pilot.pause()
            ok = app.run_line(f"export ladder c1 {tmp_path / 'early.svg'}")
            return ok, str(app.query_one("#result", Static).render())
    assert asyncio.run(go()) == (False, "error: export ladder: no connection 'c1' at "
                                        "t=0.000 (it is there later: End or g TIME moves there)")


def test_a_held_segment_is_marked_held_in_the_drawing() -> None:
    sent = SegRecord(1.0, True, "F.", 1, 1, 2048, 0, held=True)
    [arrow] = arrows([sent], [SegRecord(1.5, False, "F.", 1, 1, 2048, 0, refused="no socket")])
    assert arrow.label == "F. 1:1(0) ack 1 win 2048 held (no socket)"
    assert (arrow.sent, arrow.arrived) == (1.0, 1.5)


def test_text_ladder_and_errors(lost_fin: Path, tmp_path: Path) -> None:
    target = tmp_path / "c1b.txt"
    results = run_lines(lost_fin, f"export ladder c1' {target}", "export ladder c9 x.txt",
                        "export ladder", f"export ladder c1 {tmp_path}/no/such/dir/x.svg")
    assert results[0][0], results[0][1]
    text = target.read_text(encoding="utf-8").splitlines()
    assert text[0].startswith("c1': h2")
    # two lanes, one line per segment: the peer's lost FIN ends in a cross
    assert "┌" in text[1] and "┐" in text[1] and all("│" in line for line in text[2:])
    lost = [line for line in text if "✕" in line]
    assert len(lost) == 1 and "F. 1:1(0)" in lost[0] and "filter" in lost[0]
    assert all(len(line) <= 100 for line in text[1:])
    end = Timeline.load(lost_fin).end_time
    assert results[1] == (False, f"error: export ladder: no connection 'c9' at t={end:.3f}")
    assert not results[2][0] and "usage: export ladder CONN FILE" in results[2][1]
    assert not results[3][0] and "cannot write" in results[3][1]


def test_screenshot_saves_an_svg_of_the_dashboard(lost_fin: Path, tmp_path: Path) -> None:
    target = tmp_path / "shot.svg"
    results = run_lines(lost_fin, f"screenshot {target}", f"screenshot {tmp_path}/x.png")
    assert results[0][0], results[0][1]
    assert "tcplab replay" in target.read_text(encoding="utf-8").replace("&#160;", " ")
    assert results[1] == (False, "error: screenshot: the file must end in .svg")
