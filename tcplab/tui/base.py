"""What every part of the dashboard shares: the run it shows, the cursor into it, the
result line, and the few calls the parts make on each other.

The app (:mod:`tcplab.tui.app`) is assembled from parts -- the command side
(:mod:`tcplab.tui.commanding`) and the time travel (:mod:`tcplab.tui.travel`) -- that
each see the dashboard through this base.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import App
from textual.widgets import Input, Static

from tcplab.lab import commands as C
from tcplab.lab.port import LabPort
from tcplab.lab.snapshot import Key
from tcplab.lab.timeline import Timeline
from tcplab.tui.widgets.colors import role


class DashboardBase(App[int]):
    lab: LabPort | None        # None in a replay
    live: bool
    timeline: Timeline
    hosts: list[tuple[str, str]]        # (name, ip)
    host_of_ip: dict[str, str]
    cursor: int | None         # events shown; None: follow the end
    playing: bool
    play_speed: float
    history: list[str]
    history_pos: int
    _play_t: float
    refresh_times: deque[float]   # seconds each redraw took, the latest last
    _typing_to: Input | None = None   # a box taking the focus: typed keys go to it

    @property
    def selected(self) -> Key | None:
        """The (host, socket id) under the sockets table's cursor."""
        from tcplab.tui.widgets.sockets import SocketsTable

        return self.query_one("#sockets", SocketsTable).selected

    @property
    def n(self) -> int:
        """How many events the panes show."""
        end = len(self.timeline)
        return end if self.cursor is None else min(self.cursor, end)

    def cursor_time(self) -> float:
        """The run's time the panes show."""
        if self.cursor is None and self.lab is not None:
            return self.lab.now()
        return self._play_t  # set by every seek: the time asked for, or of the event

    @property
    def paused(self) -> bool:
        return self.lab is not None and self.lab.paused

    @property
    def waiting(self) -> bool:
        return self.lab is not None and self.lab.waiting

    # -- the one-line boxes above the table (go to, filter) --------------------------
    def open_box(self, box_id: str, placeholder: str, value: str = "") -> None:
        """Show the box (once: pressed again, its key focuses the one shown)."""
        found = self.query(f"#{box_id}")
        if found:
            found.first().focus()
            return
        box = Input(placeholder=placeholder, id=box_id, value=value)
        self.mount(box, before=self.query_one("#top"))
        self.typing_to(box)

    def typing_to(self, box: Input) -> None:
        """Focus ``box``.  The focus moves on the next turn of the loop: keys typed
        before it arrives go into the box all the same, not to the keys' bindings."""
        self._typing_to = None if box.has_focus else box
        box.focus()

    def close_box(self, box: Input) -> None:
        """Take the box away; the keys go back to the table."""
        if self._typing_to is box:
            self._typing_to = None
        box.remove()
        self.query_one("#sockets").focus()

    # -- the result line -----------------------------------------------------------------
    # messages quote usage texts like [loss=5%]: Text, never markup
    def show_result(self, ok: bool, message: str) -> None:
        self._show("ok" if ok else "error", message)

    def say(self, message: str) -> None:
        self._show("", message)

    def show_error(self, message: str) -> None:
        self._show("error", message)

    def _show(self, kind: str, message: str) -> None:
        self._result = (kind, message)  # drawn again in a new palette
        text = Text()
        if kind:  # the space inside the styled run: SVG viewers drop a run's first space
            text.append(f"{kind}: " if kind == "error" else f"{kind} ",
                        style=role(kind, "bold" if kind == "error" else ""))
        text.append(message)
        self.query_one("#result", Static).update(text)

    def redraw_result(self) -> None:
        kind, message = getattr(self, "_result", ("", ""))
        if message:
            self._show(kind, message)

    # -- what the parts call on each other ----------------------------------------------
    def refresh_all(self) -> None:
        raise NotImplementedError

    def run_line(self, line: str) -> bool:
        raise NotImplementedError

    def toggle_play(self) -> None:
        raise NotImplementedError

    def toggle_script(self) -> bool:
        raise NotImplementedError

    def begin_wait(self, cmd: C.Wait) -> bool:
        raise NotImplementedError
