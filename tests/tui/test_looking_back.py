"""Pilot tests of looking back in a live run, from a user trial: End goes live from
any pane; a command follows the live run again; the selected connection comes back
after a seek to before it existed; ``step`` under virtual time; ``g`` past the end
says where the view is.  Simulated backend, virtual time."""

from __future__ import annotations

import pytest
from pilot_sync import sync
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tcplab.lab.lab import Lab
from tcplab.tui.app import TcplabApp

NARROW = (100, 30)


def plain(app: TcplabApp, selector: str) -> str:
    content = app.query_one(selector, Static).content
    return Text.from_markup(content).plain if isinstance(content, str) else str(content)


async def run(app: TcplabApp, pilot: Pilot[int], *lines: str) -> None:
    for line in lines:
        assert app.run_line(line), plain(app, "#result")
        while app.waiting:
            await pilot.pause(0.02)
    await pilot.pause()


async def goto(app: TcplabApp, pilot: Pilot[int], t: str) -> None:
    app.table.focus()
    await pilot.press("g", *t, "enter")
    await pilot.pause()


@pytest.mark.parametrize("tab", ["2", "6"])  # the ladder, the log: they take the focus
@sync
async def test_end_goes_live_from_the_ladder_and_the_log(lab: Lab, tab: str) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await run(app, pilot, "listen h2:80", "connect h1 h2:80 as c1", "wait 0.5")
        app.table.focus()
        app.table.select(("h1", 1))
        await pilot.press("home", tab)
        await pilot.pause()
        status = plain(app, "#status")
        assert app.cursor == 0 and "looking back at t=0.000 (End: live)" in status
        # the part that matters fits a 100-column terminal
        assert status.index("(End: live)") + len("(End: live)") < NARROW[0] - 2
        await pilot.press("end")
        await pilot.pause()
        assert app.cursor is None and "· live ·" in plain(app, "#status")


@sync
async def test_a_command_while_looking_back_follows_the_live_run(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await run(app, pilot, "listen h2:80", "connect h1 h2:80 as c1", "wait 1")
        await goto(app, pilot, "0.5")
        assert app.cursor is not None and "t=0.500" in plain(app, "#status")
        await pilot.press("colon")
        app.query_one("#command", Input).value = 'send c1 "x"'
        await pilot.press("enter")
        await pilot.pause()
        status = plain(app, "#status")
        assert app.cursor is None and "· live ·" in status and "t=1.000" in status


@sync
async def test_the_selection_comes_back_after_a_seek_to_before_it_existed(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await run(app, pilot, "listen h2:80", "connect h1 h2:80 as c1", "wait 1",
                  "connect h1 h2:80 as c2", "wait 0.5")
        c2 = next(k for k in app.timeline.head.rows if app.timeline.head.name_of(k) == "c2")
        app.table.focus()
        app.table.select(c2)
        await pilot.pause()
        await goto(app, pilot, "0.5")
        assert app.selected != c2  # c2 was not there yet
        await pilot.press("end")
        await pilot.pause()
        assert app.cursor is None and app.selected == c2
        # a row the user picks while looking back is the new choice
        await goto(app, pilot, "0.5")
        before = app.selected
        await pilot.press("up" if app.table.cursor_row else "down")
        chosen = app.selected
        assert chosen not in (before, c2)
        await pilot.press("end")
        await pilot.pause()
        assert app.selected == chosen


@sync
async def test_step_under_virtual_time_needs_no_pause(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await run(app, pilot, "listen h2:80", "connect h1 h2:80 as c1")
        await pilot.press("colon", *"step", "enter")
        while app.waiting:
            await pilot.pause(0.02)
        await pilot.pause()
        assert not lab.paused and plain(app, "#result").startswith("ok t=0.000 h1 sent ")


@sync
async def test_going_to_a_time_still_to_come_says_where_the_view_is(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await run(app, pilot, "listen h2:80", "connect h1 h2:80 as c1", "wait 2")
        for start in ("", "0.5"):  # from the live end, and while looking back
            if start:
                await goto(app, pilot, start)
                assert app.cursor is not None
            await goto(app, pilot, "99")
            result, status = plain(app, "#result"), plain(app, "#status")
            assert result.startswith("t=99 is still to come: at t=2.000, live"), result
            assert app.cursor is None and "t=2.000" in status and "t=99" not in status
