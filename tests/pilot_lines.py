"""Typing a line into the dashboard's command line under Textual's test pilot (the
dashboard's and the lab sheet's tests share it)."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input


async def enter_line(pilot: Pilot[Any], line: str, *, typed: bool = False) -> None:
    """``:`` (unless the command line has the focus already), the line -- typed key by
    key, or pasted: a pilot key press costs tens of milliseconds --, enter."""
    app = pilot.app
    box = app.query_one("#command", Input)
    if app.focused is not box:
        await pilot.press("colon")
    assert app.focused is box
    if typed:
        await pilot.press(*line)
    else:
        box.post_message(events.Paste(line))
        await pilot.pause()
    assert box.value == line
    await pilot.press("enter")
