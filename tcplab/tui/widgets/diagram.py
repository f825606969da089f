"""The state diagram: the eleven states laid out like RFC 9293's Figure 5.

Drawn from :data:`tcplab.tcp.states.TRANSITIONS` and :data:`MEANINGS`: the current
state is highlighted, the previous one underlined, the last move annotated with its
cause, and every move the table allows from here is listed with what it sends.
"""

from __future__ import annotations

from rich.text import Text

from tcplab.tcp.states import MEANINGS, TRANSITIONS, State
from tcplab.tui.widgets.colors import STATE_COLORS
from tcplab.tui.widgets.panel import Panel

S = State
# (row, column) of each box, after RFC 9293 Figure 5
LAYOUT: dict[State, tuple[int, int]] = {
    S.CLOSED: (0, 22),
    S.LISTEN: (2, 22),
    S.SYN_RECEIVED: (4, 2),
    S.SYN_SENT: (4, 40),
    S.ESTABLISHED: (6, 20),
    S.FIN_WAIT_1: (8, 2),
    S.CLOSE_WAIT: (8, 40),
    S.FIN_WAIT_2: (10, 2),
    S.CLOSING: (10, 21),
    S.LAST_ACK: (10, 40),
    S.TIME_WAIT: (12, 2),
}
WIDTH = 56
ROWS = 13


def render_diagram(current: State | None, last: tuple[float, State, State, str] | None,
                   title: str = "") -> Text:
    grid = [[" "] * WIDTH for _ in range(ROWS)]
    styles: list[tuple[int, int, int, str]] = []  # row, col, length, style
    previous = last[1] if last is not None else None
    for state, (row, col) in LAYOUT.items():
        label = f"[{state.value}]"
        for i, ch in enumerate(label):
            if col + i < WIDTH:
                grid[row][col + i] = ch
        color = STATE_COLORS[state]
        if state is current:
            style = f"bold reverse {color}"
        elif state is previous:
            style = f"underline {color}"
        else:
            style = f"dim {color}"
        styles.append((row, col, len(label), style))
    text = Text()
    if title:
        text.append(title + "\n", style="bold")
    for r, line in enumerate(grid):
        row_text = Text("".join(line).rstrip())
        for row, col, length, style in styles:
            if row == r:
                row_text.stylize(style, col, col + length)
        text.append_text(row_text)
        text.append("\n")
    if current is not None:
        text.append(f"\n{current.value}: ", style=f"bold {STATE_COLORS[current]}")
        text.append(MEANINGS[current] + "\n")
    if last is not None:
        t, old, new, cause = last
        text.append(f"last: {old.value} -> {new.value} on {cause} at t={t:.3f}\n",
                    style="italic")
    if current is not None:
        moves = [row for row in TRANSITIONS if row.state is current]
        if moves:
            text.append("from here:\n", style="bold")
        for move in moves:
            sends = f", send {move.sends}" if move.sends else ""
            text.append(f"  {move.trigger.value} -> {move.next.value}{sends}\n")
    return text


class StateDiagram(Panel):
    """The diagram of the selected connection."""

    def show(self, current: State | None, last: tuple[float, State, State, str] | None,
             title: str = "") -> None:
        self.put(render_diagram(current, last, title))
