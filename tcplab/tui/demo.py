"""Scenario playback in the dashboard, and ``--pace``: a scripted demo an instructor
presents.

Theory of operation
-------------------
A scenario given to the dashboard is played one command at a time.  Without a pace,
each command follows the last as soon as it is done (its ``wait``s as written).  With
``--pace S`` the next command comes S seconds of wall time after the last one ended,
and each command is shown with the comment lines above it in the file as a caption,
so the audience reads what is about to happen.  Space pauses the demo (and goes on);
``n`` runs the next command at once, paused or not.  A ``wait`` is driven a slice at
a time like one typed by hand, so the dashboard keeps drawing while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from tcplab.lab import commands as C
from tcplab.tui.base import DashboardBase
from tcplab.tui.widgets.colors import role


def captions(text: str) -> dict[int, str]:
    """The comment lines right above each line of a scenario, by line number."""
    out: dict[int, str] = {}
    comments: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
        elif stripped:
            if comments:
                out[number] = " ".join(c for c in comments if c)
            comments = []
        else:
            comments = []
    return out


@dataclass(slots=True)
class Script:
    """A scenario being played: its commands, where it is, how fast it goes."""

    commands: list[tuple[int, C.Command]]
    captions: dict[int, str]
    pace: float | None = None       # wall seconds between commands; None: no pause
    position: int = 0
    held: bool = False              # paused by the user (Space)
    due: float = 0.0                # the wall time the next command is due

    @property
    def done(self) -> bool:
        return self.position >= len(self.commands)


class Demo(DashboardBase):
    """Mixed into the app: see the module docstring."""

    script: Script | None

    def start_script(self) -> None:
        if self.script is None:
            return
        self.set_interval(0.05, self._script_tick)
        self._show_caption()

    def _script_tick(self) -> None:
        script = self.script
        if script is None or script.done or script.held or self.waiting:
            return
        if self._now_wall() < script.due:
            return
        self.next_command()

    def _now_wall(self) -> float:
        import time

        return time.monotonic()

    def next_command(self) -> None:
        """Run the script's next command (the ``n`` key)."""
        script = self.script
        if script is None or script.done:
            self.say("the scenario is over" if script is not None else
                     "no scenario is playing (tcplab run --scenario FILE)")
            return
        if self.waiting:
            self.say("a wait is running: Esc ends it, then n runs the next command")
            return
        line_no, cmd = script.commands[script.position]
        script.position += 1
        extra = self.run_command(cmd, line_no)
        script.due = self._now_wall() + (script.pace or 0.0) + extra
        self._show_caption()

    def toggle_script(self) -> bool:
        """Space during a paced demo: hold it or let it go on.  False when no paced
        demo is playing (Space then does what it does otherwise)."""
        script = self.script
        if script is None or script.pace is None or script.done:
            return False
        script.held = not script.held
        script.due = self._now_wall() + script.pace
        self.say("demo paused: n runs the next command, Space goes on" if script.held
                 else "demo goes on")
        self._show_caption()
        return True

    def _show_caption(self) -> None:
        script = self.script
        box = self.query_one("#caption", Static)
        if script is None or script.pace is None:
            box.display = False
            return
        box.display = True
        text = Text()
        if script.done:
            text.append("the demo is over", style="bold")
        else:
            line_no, cmd = script.commands[script.position]
            caption = script.captions.get(line_no, "")
            text.append(f"next ({script.position + 1}/{len(script.commands)}): ",
                        style="dim")
            text.append(cmd.to_line(), style="bold")
            if caption:
                text.append(f"   {caption}", style="italic")
            if script.held:
                text.append("   ")
                text.append("(paused: n runs it)", style=role("warn"))
        box.update(text)

    def run_command(self, cmd: C.Command, line_no: int) -> float:
        """Run one scenario command; returns the wall seconds to wait after it (a
        ``wait`` under the real clock is wall time itself)."""
        raise NotImplementedError
