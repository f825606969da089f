"""The state diagram: RFC 9293 Figure 5 as boxes and arrows, drawn from the transition
table, with the selected connection's state and last move marked on it.

The geometry comes from :mod:`tcplab.tui.widgets.diagram_layout` (computed once from
:data:`~tcplab.tcp.states.TRANSITIONS`).  On it the current state's box is drawn with a
double border and its name reversed, the move just taken with heavy lines and its label
reversed, so they read without colour (``NO_COLOR``, 16 colours) too.  Beside the figure
(wide terminals) or under it: the exits to CLOSED of each state (resets, aborts,
timeouts), the last move with the segment that caused it, and the connection's path
through the states.  The figure scrolls; it brings the current state into view when it
changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll

from tcplab.lab.snapshot import PATH_LENGTH, SocketRow
from tcplab.lab.timeline import Timeline
from tcplab.tcp.states import MEANINGS, TABLE, State, Transition, Trigger
from tcplab.tui.history import SegRecord, cause_of
from tcplab.tui.widgets.colors import STATE_COLORS
from tcplab.tui.widgets.diagram_layout import HEADS, HEAVY, LIGHT, label_of, layout
from tcplab.tui.widgets.panel import Panel
from tcplab.tui.widgets.runs import put

WIDE = 150          # from this width the notes stand beside the figure
LIGHT_BOX = "┌┐└┘─│"
DOUBLE_BOX = "╔╗╚╝═║"
DOUBLE_TEES = {"┬": "╤", "┴": "╧", "├": "╟", "┤": "╢"}


def move_of(old: str, new: str, cause: str) -> Transition | None:
    """The table row of a recorded state change (None for one the table does not know,
    e.g. a synthetic benchmark event)."""
    try:
        # a cause may carry a note: "rcv RST (connection refused)"
        row = TABLE.get((State(old), Trigger(cause.split(" (", 1)[0])))
    except ValueError:
        return None
    return row if row is not None and row.next.value == new else None


def render_figure(current: State | None, last: Transition | None) -> Text:
    """The figure, the current state's box and the last move marked (cached: the
    returned Text must not be changed)."""
    return _figure(current, last, tuple(STATE_COLORS.values()))


@lru_cache(maxsize=64)
def _figure(current: State | None, last: Transition | None, _palette: tuple[str, ...]
            ) -> Text:
    lay = layout()
    grid = [[" "] * lay.width for _ in range(lay.height)]
    style: dict[tuple[int, int], str] = {}
    for box in lay.boxes:
        now = box.state is current
        chars = DOUBLE_BOX if now else LIGHT_BOX
        colour = STATE_COLORS[box.state]
        x1, y1 = box.x + box.w - 1, box.y + box.h - 1
        for x in range(box.x, x1 + 1):
            grid[box.y][x] = grid[y1][x] = chars[4]
        for y in range(box.y, y1 + 1):
            grid[y][box.x] = grid[y][x1] = chars[5]
        grid[box.y][box.x], grid[box.y][x1] = chars[0], chars[1]
        grid[y1][box.x], grid[y1][x1] = chars[2], chars[3]
        name = box.state.value
        at = box.x + (box.w - len(name)) // 2
        for i, ch in enumerate(name):
            grid[box.y + 1][at + i] = ch
        for y in range(box.y, y1 + 1):
            for x in range(box.x, x1 + 1):
                style[(x, y)] = f"bold {colour}" if now else colour
        if now:
            for i in range(-1, len(name) + 1):
                style[(at + i, box.y + 1)] = f"bold reverse {colour}"
    merged: dict[tuple[int, int], int] = {}
    for edge in lay.edges:
        for cell, bits in edge.cells.items():
            merged[cell] = merged.get(cell, 0) | bits
    for edge in lay.edges:
        taken = last is not None and last in edge.rows
        line_style = "bold" if taken else "dim"
        for (x, y), bits in edge.cells.items():
            heavy = taken and merged[(x, y)] == bits
            grid[y][x] = (HEAVY if heavy else LIGHT)[bits]
            if taken or (x, y) not in style:
                style[(x, y)] = line_style
        px, py, tee = edge.port
        src_box = next(b for b in lay.boxes if b.state is edge.src and not b.bottom)
        grid[py][px] = DOUBLE_TEES[tee] if src_box.state is current else tee
        hx, hy, hd = edge.head
        grid[hy][hx] = HEADS[hd]
        style[(hx, hy)] = "bold" if taken else "not dim"  # a run of its own (see runs.py)
        if edge.label_at is not None:
            lx, ly = edge.label_at
            for i, ch in enumerate(edge.label):
                grid[ly][lx + i] = ch
                style[(lx + i, ly)] = "bold reverse" if taken else "italic"
    text = Text()
    for y, row in enumerate(grid):
        line = "".join(row).rstrip()
        start = len(text)
        put(text, line)
        run_style, run_start = "", 0
        for x in range(len(line) + 1):
            s = style.get((x, y), "") if x < len(line) else "\0"
            if s != run_style:
                if run_style:
                    text.stylize(run_style, start + run_start, start + x)
                run_style, run_start = s, x
        put(text, "\n")
    notes = [e for e in lay.edges if e.note]
    for edge in notes:
        put(text, f"({edge.note}) {edge.label}\n", style="italic")
    return text


def render_exits(current: State | None, last: Transition | None) -> Text:
    """Each state's moves to CLOSED that are not drawn in the figure: one arrow each
    (cached: the returned Text must not be changed)."""
    return _exits(current, last, tuple(STATE_COLORS.values()))


@lru_cache(maxsize=64)
def _exits(current: State | None, last: Transition | None, _palette: tuple[str, ...]
           ) -> Text:
    lay = layout()
    text = Text("to CLOSED from any state (resets, aborts, timeouts):\n", style="bold")
    width = max(len(e.src.value) for e in lay.exits)
    for edge in lay.exits:
        here = edge.src is current
        put(text, f"{'▶' if here else ' '} {edge.src.value:<{width}} ",
                    style=f"bold {STATE_COLORS[edge.src]}" if here else STATE_COLORS[edge.src])
        taken = last is not None and last in edge.rows
        put(text, "━━▶ CLOSED " if taken else "──▶ CLOSED ", style="bold" if taken else "dim")
        for i, row in enumerate(edge.rows):
            if i:
                put(text, " · ", style="dim")
            put(text, label_of(row), style="bold reverse" if row is last else "")
        put(text, "\n")
    return text


@dataclass(slots=True)
class DiagramView:
    """What the diagram shows of one connection."""

    title: str = ""
    current: State | None = None
    path: tuple[tuple[float, str, str, str], ...] = ()   # (t, old, new, cause)
    cause: SegRecord | None = None     # the segment received (or sent) at the last move
    truncated: bool = False            # the path lost its oldest moves

    @property
    def last(self) -> Transition | None:
        if not self.path:
            return None
        _t, old, new, cause = self.path[-1]
        return move_of(old, new, cause)


def render_info(view: DiagramView, compact: bool = False) -> Text:
    """The current state's meaning, the last move and its segment, the path
    (``compact``: the title on the state's line, for short terminals)."""
    text = Text()
    if view.title:
        put(text, view.title + ("  " if compact else "\n"), style="bold")
    if view.current is None:
        put(text, "select a connection in the sockets table\n", style="dim")
        return text
    colour = STATE_COLORS[view.current]
    put(text, f"now {view.current.value}", style=f"bold reverse {colour}")
    put(text, f"  {MEANINGS[view.current]}\n")
    if view.path:
        t, old, new, cause = view.path[-1]
        move = view.last
        put(text, "last move: ", style="bold")
        put(text, f"{old} → {new}  ")
        put(text, label_of(move) if move is not None else cause, style="reverse")
        put(text, f"  at t={t:.3f} s\n")
        rec = view.cause
        if rec is not None:
            way = "sent" if rec.outbound else "received"
            put(text, f"  segment {way}: ", style="bold")
            put(text, segment_words(rec))
            put(text, f"  at t={rec.t:.3f} s\n")
        elif move is not None and not move.trigger.value.startswith("rcv"):
            put(text, "  no segment: a command or a timer made this move\n", style="dim")
        put(text, "path: ", style="bold")
        states = [view.path[0][1]] + [step[2] for step in view.path]
        put(text, ("… → " if view.truncated else "") + " → ".join(states) + "\n")
    return text


def segment_words(rec: SegRecord) -> str:
    """``flags S. seq 0 ack 1 len 0 win 65535``: a segment spelt out."""
    words = f"flags {rec.flags} seq {rec.seq}"
    if "." in rec.flags:
        words += f" ack {rec.ack}"
    return words + f" len {rec.length} win {rec.window}"


def render_diagram(view: DiagramView) -> Text:
    """The whole diagram as one text (figure, exits, notes): for tests and exports."""
    text = Text()
    text.append_text(render_figure(view.current, view.last))
    put(text, "\n")
    text.append_text(render_exits(view.current, view.last))
    put(text, "\n")
    text.append_text(render_info(view))
    return text


class StateDiagram(Vertical):
    """The diagram pane (see the module docstring)."""

    DEFAULT_CSS = """
    StateDiagram { height: 1fr; }
    StateDiagram > Horizontal { height: 1fr; }
    StateDiagram #diagram-scroll { width: 1fr; height: 1fr; }
    StateDiagram #diagram-body { width: auto; }
    StateDiagram #diagram-side { width: 1fr; padding: 0 0 0 2; display: none; }
    StateDiagram #diagram-foot { height: auto; max-height: 5; }
    StateDiagram.-wide #diagram-scroll { width: auto; }
    StateDiagram.-wide #diagram-side { display: block; }
    StateDiagram.-wide #diagram-foot { display: none; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._view = DiagramView()
        self._scrolled_to: State | None = None
        self._cause_for: object = None
        self._cause: SegRecord | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            with VerticalScroll(id="diagram-scroll"):
                yield Panel(id="diagram-body")
            yield Panel(id="diagram-side")
        yield Panel(id="diagram-foot")

    def show(self, view: DiagramView) -> None:
        self._view = view
        self._draw()

    def show_row(self, timeline: Timeline, row: SocketRow | None, n: int,
                 title: str = "") -> None:
        """Show a connection at the first ``n`` events of a run.  The segment behind its
        last move is looked up once per move (a few events read back), not per redraw."""
        if row is None:
            self.show(DiagramView(title))
            return
        key = (row.key, row.path[-1] if row.path else None, timeline.rewinds, n
               if not row.path else row.path[-1][0])
        if key != self._cause_for:
            self._cause_for = key
            self._cause = cause_of(timeline, row, n)
        self.show(DiagramView(title, State(row.state), row.path, self._cause,
                              len(row.path) >= PATH_LENGTH))

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        view = self._view
        wide = self.size.width >= WIDE
        self.set_class(wide, "-wide")
        figure = render_figure(view.current, view.last)
        exits = render_exits(view.current, view.last)
        info = render_info(view, compact=not wide)
        body = self.query_one("#diagram-body", Panel)
        if wide:
            body.put(figure)
            side = Text()
            side.append_text(info)
            side.append("\n")
            side.append_text(exits)
            self.query_one("#diagram-side", Panel).put(side)
        else:
            both = figure.copy()
            both.append("\n")
            both.append_text(exits)
            body.put(both)
            info.rstrip()
            self.query_one("#diagram-foot", Panel).put(info)
        if view.current is not self._scrolled_to:
            self._scrolled_to = view.current
            self.call_after_refresh(self._bring_current_into_view)

    def _bring_current_into_view(self) -> None:
        current = self._view.current
        scroll = self.query_one("#diagram-scroll", VerticalScroll)
        if not scroll.region.height:
            self._scrolled_to = None  # not shown: bring it into view when it is
            return
        if current is None:
            scroll.scroll_home(animate=False)
            return
        box = layout().box_of(current)
        if current is State.CLOSED and self._view.path:
            box = layout().box_of(current, bottom=True)
        # the box in the middle: the arrows into it above, those out of it below
        scroll.scroll_to(y=max(0, box.y + 1 - scroll.size.height // 2), animate=False)
