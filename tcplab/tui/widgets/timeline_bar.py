"""The timeline bar: where the cursor is in the run, with its state changes and drops.

One line is the run from t=0 to its last event: ``│`` marks a state change, ``x`` a
drop, ``!`` a breakpoint that fired, ``●`` the cursor.  The line under it says the time
and the event number at the cursor and how the view moves (following the live run,
paused, playing and how fast).  A click on the bar seeks there.
"""

from __future__ import annotations

from bisect import bisect_left

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from tcplab.tui.widgets.colors import role

# what a mark is, by its character (never by colour alone), and its colour's role
MARKS = {0: ("│", "mark", ""), 1: ("x", "drop", "bold"), 2: ("!", "break", "bold")}


class TimelineBar(Widget):
    DEFAULT_CSS = """
    TimelineBar {
        height: 2;
        padding: 0 1;
    }
    """

    class Seek(Message):
        """The user clicked the bar: go to ``t``."""

        def __init__(self, t: float) -> None:
            super().__init__()
            self.t = t

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.end = 0.0
        self.cursor_t = 0.0
        self.caption = ""
        self._marks: dict[int, list[float]] = {}   # code -> the times of its marks, sorted
        self._cells: list[int] | None = None
        self._cells_for: tuple[int, int, float] = (0, 0, 0.0)
        self._count = 0

    def set(self, end: float, cursor_t: float, marks: list[tuple[float, int]] | None,
            caption: str) -> None:
        """Redraw: ``marks`` None keeps the ones already given."""
        if marks is not None:
            # by kind, in time order (the timeline's order): a cell then asks each kind
            # whether it has a mark in its time span, by bisection
            self._count = len(marks)
            self._marks = {code: [t for t, c in marks if c == code] for code in MARKS}
        if (end, cursor_t, caption) != (self.end, self.cursor_t, self.caption) or marks:
            self.end, self.cursor_t, self.caption = end, cursor_t, caption
            self.refresh()

    def _width(self) -> int:
        return max(self.content_size.width, 10)

    def _mark_cells(self, width: int) -> list[int]:
        """The strongest mark in each cell (-1: none).  Cell x holds the times t with
        int(t / end * (width - 1)) == x; the live end moves with every redraw, so this
        costs a few bisections per cell, not a step per mark (thousands of them)."""
        key = (self._count, width, self.end)
        if self._cells is None or key != self._cells_for:
            cells = [-1] * width
            step = (self.end or 1.0) / max(width - 1, 1)
            for code in sorted(self._marks):
                times = self._marks[code]
                lo = 0
                for x in range(width):
                    hi = bisect_left(times, (x + 1) * step) if x < width - 1 else len(times)
                    if hi > lo:
                        cells[x] = code
                    lo = hi
            self._cells, self._cells_for = cells, key
        return self._cells

    def render(self) -> Text:
        width = self._width()
        cells = self._mark_cells(width)
        span = self.end or 1.0
        at = min(int(self.cursor_t / span * (width - 1)), width - 1)
        # runs of one style, not a span per cell: the bar is redrawn with every event
        styles = {code: (char, role(name, extra)) for code, (char, name, extra) in MARKS.items()}
        chars: list[tuple[str, str]] = []
        for x, code in enumerate(cells):
            if x == at:
                chars.append(("●", "bold reverse"))
            elif code >= 0:
                chars.append(styles[code])
            else:
                chars.append(("─", "dim" if x > at else ""))
        text = Text()
        run, style = "", None
        for char, char_style in chars:
            if char_style != style and run:
                text.append(run, style=style or "")
                run = ""
            run += char
            style = char_style
        text.append(run, style=style or "")
        text.append("\n")
        text.append(self.caption, style="dim")
        return text

    def on_click(self, event: events.Click) -> None:
        width = self._width()
        x = event.x - 1  # the padding
        if 0 <= x < width and event.y == 0:
            self.post_message(self.Seek(x / max(width - 1, 1) * (self.end or 0.0)))
