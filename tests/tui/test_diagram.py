"""The state diagram: RFC 9293 Figure 5 drawn from the transition table, with the
current state, the last move and the segment behind it."""

from __future__ import annotations

from rich.text import Text
from test_widgets import Run, styles_of

from tcplab.tcp.states import MEANINGS, TABLE, TRANSITIONS, State, Trigger
from tcplab.tui import history
from tcplab.tui.widgets.diagram import (
    DiagramView,
    render_diagram,
    render_exits,
    render_figure,
    render_info,
)
from tcplab.tui.widgets.diagram_layout import HEADS, HEAVY, is_main, label_of, layout, tiers


def grid(text: Text) -> list[str]:
    return text.plain.split("\n")


def test_every_row_of_the_table_is_one_labelled_arrow() -> None:
    lay = layout()
    drawn = [row for edge in lay.edges + lay.exits for row in edge.rows]
    assert sorted(drawn, key=TRANSITIONS.index) == list(TRANSITIONS)
    assert len(set(map(id, drawn))) == len(TRANSITIONS)  # each row once
    figure = grid(render_figure(None, None))
    for edge in lay.edges:
        hx, hy, hd = edge.head
        assert figure[hy][hx] == HEADS[hd], edge
        # the head points into the target box
        dx, dy = {"▲": (0, -1), "▼": (0, 1), "▶": (1, 0), "◀": (-1, 0)}[HEADS[hd]]
        target = [b for b in lay.boxes if b.state is edge.dst and b.inside(hx + dx, hy + dy)]
        assert target, f"{edge.src} -> {edge.dst} does not end at its box"
        # it leaves its own box through a tee on the border
        px, py, tee = edge.port
        source = next(b for b in lay.boxes if b.state is edge.src and not b.bottom)
        assert source.inside(px, py) and figure[py][px] == tee
        # its label stands in the figure, beside it
        assert edge.label_at is not None, edge.label
        lx, ly = edge.label_at
        assert figure[ly][lx:lx + len(edge.label)] == edge.label
    for edge in lay.exits:
        assert all(not is_main(row) and row.next is State.CLOSED for row in edge.rows)
    exits = render_exits(None, None).plain
    for row in TRANSITIONS:
        if not is_main(row):
            line = next(ln for ln in exits.splitlines() if f" {row.state.value} " in ln)
            assert "──▶ CLOSED" in line and label_of(row) in line


def test_the_figure_fits_100_columns_and_keeps_figure_5s_order() -> None:
    lay = layout()
    assert lay.width <= 96
    assert all(len(line) <= 96 for line in grid(render_figure(State.CLOSED, None)))
    tier = tiers()
    order = [State.CLOSED, State.LISTEN, State.SYN_RECEIVED, State.ESTABLISHED,
             State.FIN_WAIT_1, State.FIN_WAIT_2, State.TIME_WAIT]
    assert [tier[s] for s in order] == sorted(tier[s] for s in order)
    assert tier[State.FIN_WAIT_1] == tier[State.CLOSE_WAIT]
    assert tier[State.FIN_WAIT_2] == tier[State.CLOSING] == tier[State.LAST_ACK]
    boxes = {(b.state, b.bottom): b for b in lay.boxes}
    assert len(boxes) == len(State) + 1  # CLOSED twice: where connections start and end
    for a in lay.boxes:
        for b in lay.boxes:
            if a is not b:
                assert not any(a.inside(x, y) for x in range(b.x, b.x + b.w)
                               for y in range(b.y, b.y + b.h)), (a.state, b.state)
    # labels never sit on a line or a box
    for edge in lay.edges:
        assert edge.label_at is not None
        lx, ly = edge.label_at
        for x in range(lx, lx + len(edge.label)):
            assert not any(b.inside(x, ly) for b in lay.boxes)
            assert all((x, ly) not in e.cells for e in lay.edges)


def test_current_state_and_last_move_are_marked_without_colour() -> None:
    last = TABLE[(State.FIN_WAIT_1, Trigger.RCV_FIN)]
    text = render_figure(State.CLOSING, last)
    lines = grid(text)
    box = layout().box_of(State.CLOSING)
    # a double border around the current state, its name reversed
    assert lines[box.y][box.x] == "╔" and lines[box.y + 2][box.x + box.w - 1] == "╝"
    assert any("reverse" in s for s in styles_of(text, "CLOSING"))
    other = layout().box_of(State.LISTEN)
    assert lines[other.y][other.x] == "┌"
    # the move just taken: heavy lines and its label reversed
    edge = next(e for e in layout().edges if last in e.rows)
    heavy = [lines[y][x] for (x, y) in edge.cells]
    assert sum(ch in HEAVY.values() for ch in heavy) >= len(heavy) - 2  # bar crossings
    lx, ly = edge.label_at or (0, 0)
    start = sum(len(line) + 1 for line in lines[:ly]) + lx
    assert any(span.start <= start < span.end and "reverse" in str(span.style)
               for span in text.spans)
    untaken = next(e for e in layout().edges if last not in e.rows)
    assert all(lines[y][x] not in HEAVY.values() for (x, y) in untaken.cells)


def test_an_exit_taken_is_marked_in_the_list() -> None:
    reset = TABLE[(State.ESTABLISHED, Trigger.RCV_RST)]
    exits = render_exits(State.CLOSED, reset)
    line = next(ln for ln in exits.plain.splitlines() if "ESTABLISHED" in ln)
    assert "━━▶ CLOSED" in line

    def reversed_at(state: str) -> bool:
        plain = exits.plain
        start = plain.index(f" {state} ")
        at = plain.index("rcv RST", start)
        return any(sp.start <= at < sp.end and "reverse" in str(sp.style) for sp in exits.spans)

    assert reversed_at("ESTABLISHED") and not reversed_at("SYN-SENT")


def test_info_names_the_move_its_segment_and_the_path() -> None:
    run = Run("link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1",
              "wait 200ms", "close c1", "wait 5ms")
    row = run.timeline.head.rows[run.key("c1")]
    seg = history.cause_of(run.timeline, row, run.n)
    assert seg is not None and seg.outbound and seg.flags == "F."  # the CLOSE sent a FIN
    view = DiagramView("c1", State(row.state), row.path, seg)
    info = render_info(view).plain
    assert f"now FIN-WAIT-1  {MEANINGS[State.FIN_WAIT_1]}" in info
    assert "last move: ESTABLISHED → FIN-WAIT-1  CLOSE / snd FIN" in info
    assert "segment sent: flags F. seq 1 ack 1 len 0 win" in info
    assert "path: CLOSED → SYN-SENT → ESTABLISHED → FIN-WAIT-1" in info
    # the peer's last move was made by a segment it received: the ACK of its SYN
    peer = run.timeline.head.rows[run.key("c1'")]
    got = history.cause_of(run.timeline, peer, run.n)
    assert peer.state == "ESTABLISHED" and got is not None
    assert (got.outbound, got.flags, got.seq, got.ack) == (False, ".", 1, 1)
    whole = render_diagram(DiagramView("c1'", State.ESTABLISHED, peer.path, got)).plain
    assert "segment received: flags . seq 1 ack 1 len 0" in whole
    assert "rcv ACK of SYN" in whole and "to CLOSED from any state" in whole


def test_info_without_a_connection_and_for_an_unknown_cause() -> None:
    assert "select a connection" in render_info(DiagramView()).plain
    odd = DiagramView("x", State.ESTABLISHED, ((1.0, "ESTABLISHED", "ESTABLISHED", "bench"),))
    assert odd.last is None and "bench" in render_info(odd).plain
    refused = DiagramView("x", State.CLOSED,
                          ((1.0, "SYN-SENT", "CLOSED", "rcv RST (connection refused)"),))
    assert refused.last is TABLE[(State.SYN_SENT, Trigger.RCV_RST)]
