"""``tcplab lab``'s dashboard, driven by its keys (Pilot): an exercise ticks when the
student makes it happen, a failed attempt brings the hint, progress survives a restart
(kept under $XDG_DATA_HOME), F2 hides the sheet."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from pilot_lines import enter_line
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Label, Static

from tcplab.labsheet.progress import Progress, data_home, progress_path
from tcplab.labsheet.runner import sim_lab, start_lab
from tcplab.labsheet.sheet import Sheet, load_sheet, parse_sheet
from tcplab.tui.labsheet import LabSheetApp, SheetFence, SheetMarkdown

LABS = Path(__file__).resolve().parents[2] / "docs" / "labs"
SIZE = (150, 45)


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))
    return run


@pytest.fixture(autouse=True)
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


def app_for(sheet: Sheet) -> LabSheetApp:
    lab, inputs = sim_lab(sheet)
    lab.keep_timeline(inputs.header())
    app = LabSheetApp(lab, sheet, Progress.load(sheet.id), seed=inputs.seed)
    start_lab(lab, sheet, inputs)
    return app


def plain(app: LabSheetApp, selector: str) -> str:
    content = app.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def type_line(pilot: Pilot[int], line: str, *, typed: bool = False) -> None:
    """The line entered on the command line (typed or pasted), then a redraw."""
    await enter_line(pilot, line, typed=typed)
    await pilot.pause()


async def settle(pilot: Pilot[int], app: LabSheetApp) -> None:
    """Let a wait run to its end and the panel redraw."""
    for _ in range(200):
        await pilot.pause(0.02)
        if not app.waiting:
            break
    await pilot.pause(0.3)


def test_progress_lives_under_xdg_data_home(data: Path) -> None:
    assert data_home() == data
    assert progress_path("01-handshake") == data / "tcplab" / "progress" / "01-handshake.json"


def test_a_missing_or_garbled_progress_file_is_no_progress(data: Path) -> None:
    assert Progress.load("x").done == {}
    path = progress_path("x")
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    assert Progress.load("x").done == {}
    path.write_text(json.dumps({"sheet": "other", "done": {"a": "then"}}), encoding="utf-8")
    assert Progress.load("x").done == {}


@sync
async def test_an_exercise_ticks_and_survives_a_restart(data: Path) -> None:
    sheet = load_sheet(LABS / "01-handshake.md")
    app = app_for(sheet)
    async with app.run_test(size=SIZE) as pilot:
        assert "0 of 4 exercises done" in plain(app, "#lab-progress")
        assert "▶ handshake" in plain(app, "#lab-progress")
        await type_line(pilot, "connect h1 h2:80 as mine", typed=True)
        await type_line(pilot, "wait 1", typed=True)
        await settle(pilot, app)
        panel = plain(app, "#lab-progress")
        assert "1 of 4 exercises done" in panel
        assert "✔ handshake" in panel and "▶ data-both-ways" in panel
        task = plain(app, "#lab-task")
        assert "✔ handshake done" in task and "data-both-ways" in task
        assert "RFC 9293 §3.10.2" in task
    saved = json.loads(progress_path("01-handshake").read_text(encoding="utf-8"))
    assert list(saved["done"]) == ["handshake"]

    again = app_for(sheet)   # the next session: a fresh lab, the ticks kept
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = plain(again, "#lab-progress")
        assert "1 of 4 exercises done" in panel
        assert "✔ handshake (earlier)" in panel and "▶ data-both-ways" in panel


CLOSING = """# A closing lab

```lab-setup
topology: pair
clock: virtual
msl: 1
listen h2:80
```

## Close at once

```check both-close
rfc: RFC 9293 §3.6
task: Make both ends close at once.
hint: hold the FINs both ways before closing both ends.
role c = h1 > h2:80
expect-seen c CLOSING
```
"""


@sync
async def test_a_failed_attempt_shows_the_hint(tmp_path: Path) -> None:
    sheet = parse_sheet(CLOSING, tmp_path / "closing.md")
    app = app_for(sheet)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("connect h1 h2:80 as c1", "wait 1", "close c1", "wait 1", "close c1'",
                     "wait 5"):
            await type_line(pilot, line)
            await settle(pilot, app)
        task = plain(app, "#lab-task")
        assert "✘ c1 (h1:" in task
        assert "ended without expect-seen c CLOSING: c never was CLOSING" in task
        assert "hint: hold the FINs both ways" in task
        assert "✘ tried" in plain(app, "#lab-progress")
    saved = json.loads(progress_path(sheet.id).read_text(encoding="utf-8"))
    assert saved["failed"] == {"both-close": 1} and saved["done"] == {}


@sync
async def test_f2_hides_and_shows_the_sheet() -> None:
    app = app_for(load_sheet(LABS / "02-teardown-orders.md"))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one("#lab-sheet")
        assert panel.display
        table_width = app.query_one("#sockets").size.width
        await pilot.press("escape", "f2")
        await pilot.pause()
        assert not panel.display
        assert app.query_one("#sockets").size.width > table_width
        await pilot.press("f2")
        await pilot.pause()
        assert panel.display


@sync
async def test_the_panel_hides_the_checks_and_wraps_the_code_blocks() -> None:
    """At 100 x 30: no check block (they give the answers away), the setup block shown,
    every code block wrapped inside the panel, and a ``'`` not taken for a quote."""
    app = app_for(load_sheet(LABS / "03-teardown-races.md"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)
        markdown = app.query_one("#lab-markdown", SheetMarkdown)
        assert "expect-" not in markdown.source and "```check" not in markdown.source
        fences = list(markdown.query(SheetFence))
        codes = [fence.code for fence in fences]
        assert any("listen h2:80" in code and "topology: pair" in code for code in codes)
        long = next(f for f in fences if "--scenario scenarios/rst-race.scn" in f.code)
        label = long.query_one(Label)
        assert long.size.width < 40 and label.size.width <= long.size.width
        lines = [label.render_line(y).text.strip() for y in range(label.size.height)]
        assert len([line for line in lines if line]) >= 2   # wrapped, not cut
        assert " ".join(" ".join(lines).split()) == " ".join(long.code.split())
        quoted = next(f for f in fences if "close c1'" in f.code)
        assert not quoted.query_one(Label).render().spans   # plain: no string colour


@sync
async def test_a_recorded_session_grades_as_the_dashboard_ticked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tcplab.labsheet.cli import Session, main

    record = tmp_path / "me"
    session = Session(load_sheet(LABS / "01-handshake.md"), str(record))
    app = session.app
    try:
        async with app.run_test(size=SIZE) as pilot:
            for line in ("connect h1 h2:80 as mine", "wait 1", "connect h1 h2:81 as oops",
                         "wait 1"):
                await type_line(pilot, line)
                await settle(pilot, app)
            ticked = sorted(app.checker.done)
    finally:
        session.close()
    assert ticked == ["handshake", "refused"]
    assert main(["1", "--check", str(record)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "PASS handshake", "FAIL data-both-ways", "PASS refused", "FAIL simultaneous-open",
        "2 of 4 exercises done"]


@sync
async def test_restart_forgets_the_saved_ticks(data: Path) -> None:
    from tcplab.labsheet.cli import Session

    sheet = load_sheet(LABS / "01-handshake.md")
    saved = Progress.load(sheet.id)
    saved.mark_done("handshake")
    saved.save()
    session = Session(sheet, restart=True)
    try:
        async with session.app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert "0 of 4 exercises done" in plain(session.app, "#lab-progress")
    finally:
        session.close()
    assert Progress.load(sheet.id).done == {}


@sync
async def test_a_rewind_starts_the_checker_again_from_the_kept_events() -> None:
    sheet = load_sheet(LABS / "03-teardown-races.md")
    app = app_for(sheet)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("connect h1 h2:80 as c1", "wait 1", "close c1", "wait 1", "rewind 0.5",
                     "connect h1 h2:80 as c9", "wait 1"):
            await type_line(pilot, line)
            await settle(pilot, app)
        tracker = app.checker.tracker
        # the abandoned branch's close is forgotten: c1 never closed in this branch
        states = sorted((s.name or "", s.state) for s in tracker.socks.values() if s.active)
        assert states == [("c1", "ESTABLISHED"), ("c9", "ESTABLISHED")]


@sync
async def test_on_the_simulated_network_the_linux_part_is_left_out_and_says_so(
        data: Path) -> None:
    sheet = load_sheet(LABS / "08-linux-and-tcplab.md")
    saved = Progress.load(sheet.id)
    for name in ("syn-options", "time-wait-60s", "closed-port", "rto-doubles"):
        saved.mark_done(name)   # Part A, done in an earlier session
    saved.save()
    app = app_for(sheet)
    async with app.run_test(size=SIZE) as pilot:
        # h2 runs tcplab's TCP here: B1's handshake must not tick on it
        await type_line(pilot, "connect h1 h2:80 as k1")
        await type_line(pilot, "wait 1")
        await settle(pilot, app)
        panel = plain(app, "#lab-progress")
        assert "4 of 8 exercises done" in panel
        assert " – linux-handshake (needs Linux)" in panel and "▶" not in panel
        assert "needs Linux's TCP on h2: a lab on Mininet, as root (sudo)" in panel
        task = plain(app, "#lab-task")
        assert "Every exercise that can be done here is done. The others (linux-handshake," \
            in task and "need Linux's TCP: do them in a lab on Mininet, as root." in task
