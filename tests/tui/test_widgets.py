"""The dashboard's pure render functions: diagram, ladder, plots, stream, table cells.

They take plain values (states, a ConnectionView, samples) and return rich Text, so
they are checked here without an app: what is drawn, in which style, and where.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.text import Text

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.backend import LinkState
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.tcp.segment import ACK, FIN, PSH, SYN, Segment
from tcplab.tcp.states import MEANINGS, TRANSITIONS, State
from tcplab.tui.model import ConnectionView, DashboardModel, SegmentRecord
from tcplab.tui.widgets.colors import STATE_COLORS
from tcplab.tui.widgets.diagram import LAYOUT, WIDTH, render_diagram
from tcplab.tui.widgets.ladder import render_ladder
from tcplab.tui.widgets.links import compact_params
from tcplab.tui.widgets.plot import Canvas, render_cwnd, render_time_sequence
from tcplab.tui.widgets.sockets import COLUMNS, socket_row
from tcplab.tui.widgets.stream import render_stream

ISS, IRS = 1000, 5000
A, B = ("10.0.0.1", 40000), ("10.0.0.2", 80)


def styles_of(text: Text, needle: str) -> list[str]:
    """The styles applied over the first occurrence of ``needle``."""
    start = text.plain.index(needle)
    end = start + len(needle)
    return [str(span.style) for span in text.spans if span.start <= start and span.end >= end]


def lines(text: Text) -> list[str]:
    return text.plain.splitlines()


# ------------------------------------------------------------------------- diagram

def test_diagram_has_every_state_in_its_own_place() -> None:
    assert set(LAYOUT) == set(State)
    cells: set[tuple[int, int]] = set()
    for state, (row, col) in LAYOUT.items():
        label = f"[{state.value}]"
        assert col + len(label) <= WIDTH, state
        span = {(row, c) for c in range(col, col + len(label) + 1)}
        assert not span & cells, f"{state} overlaps another box"
        cells |= span
    plain = render_diagram(None, None).plain
    for state in State:
        assert f"[{state.value}]" in plain


def test_diagram_highlights_the_current_state_and_underlines_the_previous() -> None:
    last = (1.5, State.FIN_WAIT_1, State.CLOSING, "rcv FIN")
    text = render_diagram(State.CLOSING, last, "c1  socket 1")
    assert lines(text)[0] == "c1  socket 1"
    assert f"bold reverse {STATE_COLORS[State.CLOSING]}" in styles_of(text, "[CLOSING]")
    assert any("underline" in s for s in styles_of(text, "[FIN-WAIT-1]"))
    assert any(s.startswith("dim") for s in styles_of(text, "[LISTEN]"))
    assert f"CLOSING: {MEANINGS[State.CLOSING]}" in text.plain
    assert "last: FIN-WAIT-1 -> CLOSING on rcv FIN at t=1.500" in text.plain


def test_diagram_lists_the_moves_of_the_transition_table() -> None:
    text = render_diagram(State.TIME_WAIT, None)
    moves = [t for t in TRANSITIONS if t.state is State.TIME_WAIT]
    assert moves
    after = text.plain.split("from here:\n", 1)[1]
    for move in moves:
        assert f"{move.trigger.value} -> {move.next.value}" in after
    assert "last:" not in text.plain


def test_diagram_without_a_connection_shows_only_the_boxes() -> None:
    text = render_diagram(None, None)
    assert "from here" not in text.plain and ":" not in text.plain.replace("[", "")
    assert not any("reverse" in str(span.style) for span in text.spans)


# -------------------------------------------------------------------------- ladder

def seg(seq: int, ack: int, flags: int, payload: bytes = b"", window: int = 1000) -> Segment:
    return Segment(A[1], B[1], seq, ack, flags, window, payload=payload)


def view_with(records: list[SegmentRecord]) -> ConnectionView:
    view = ConnectionView("h1", 1, A, B)
    view.segments.extend(records)
    return view


HANDSHAKE = [
    SegmentRecord(0.0, True, seg(ISS, 0, SYN)),
    SegmentRecord(0.01, False, seg(IRS, ISS + 1, SYN | ACK)),
    SegmentRecord(0.01, True, seg(ISS + 1, IRS + 1, ACK)),
]


def test_ladder_numbers_relative_to_each_isn_and_shows_direction() -> None:
    view = view_with([*HANDSHAKE,
                      SegmentRecord(0.2, True, seg(ISS + 1, IRS + 1, PSH | ACK, b"abc")),
                      SegmentRecord(0.21, False, seg(IRS + 1, ISS + 4, ACK))])
    out = lines(render_ladder(view, "h2 10.0.0.2:80"))
    assert out[0].split() == ["t", "h1", "10.0.0.1:40000", "h2", "10.0.0.2:80"]
    assert out[1].strip().startswith("0.000  S 0:0(0) win 1000") and out[1].endswith(">")
    assert "<" in out[2] and "S. 0:0(0) ack 1" in out[2]
    assert "P. 1:4(3) ack 1" in out[4] and out[4].endswith("->")
    assert "<" in out[5] and ". 1:1(0) ack 4" in out[5]


def test_ladder_marks_drops_and_retransmissions() -> None:
    fin = seg(ISS + 1, IRS + 1, FIN | ACK)
    view = view_with([*HANDSHAKE, SegmentRecord(0.3, True, fin, dropped="loss"),
                      SegmentRecord(1.3, True, replace(fin), retransmission=True)])
    text = render_ladder(view, "peer")
    dropped, resent = lines(text)[4:6]
    assert dropped.endswith("x loss") and "(rtx)" not in dropped
    assert resent.endswith("(rtx) ---------->")
    assert styles_of(text, "x loss") == ["red"]


def test_ladder_keeps_the_last_segments_only() -> None:
    many = [SegmentRecord(i / 10, True, seg(ISS + 1 + i, IRS + 1, ACK, b"x")) for i in range(50)]
    out = lines(render_ladder(view_with([*HANDSHAKE, *many]), "peer", limit=10))
    assert len(out) == 11
    assert "50:51(1)" in out[-1]


def test_ladder_of_a_silent_connection() -> None:
    assert "(no segments yet)" in render_ladder(view_with([]), "peer").plain


def test_ladder_of_a_lost_fin_marks_only_the_resent_fin_as_retransmission() -> None:
    """The lab publishes Retransmission before the SegmentSent of the resent segment;
    the original (dropped) FIN must stay unmarked."""
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.start()
    model = DashboardModel()
    lab.bus.subscribe(model)
    for line in ("link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1",
                 "wait 200ms", "drop h1>h2 FIN count=1", "close c1", "wait 2"):
        assert lab.execute(line).ok, line
    view = model.conns[("h1", 1)]
    fins = [r for r in view.segments if r.outbound and r.segment.flags & FIN]
    assert [(bool(r.dropped), r.retransmission) for r in fins] == [(True, False),
                                                                   (False, True)]
    out = [ln for ln in lines(render_ladder(view, "h2")) if " F. " in ln]
    assert "(rtx)" not in out[0] and out[0].endswith("x filter")
    assert "(rtx)" in out[1]


# --------------------------------------------------------------------------- plots

def test_canvas_dots_land_in_the_right_braille_cells() -> None:
    canvas = Canvas(4, 2)
    canvas.dot(0.0, 0.0, "data")    # bottom-left: dot 7 of the bottom-left cell
    canvas.dot(1.0, 1.0, "window")  # top-right: dot 4 of the top-right cell
    rows = lines(canvas.render())
    assert rows[1][0] == chr(0x2800 + 0x40)
    assert rows[0][3] == chr(0x2800 + 0x08)
    assert rows[0][:3] == "   " and rows[1][1:] == "   "


def test_canvas_cell_takes_the_colour_of_its_most_important_dot() -> None:
    canvas = Canvas(4, 2)
    canvas.dot(0.0, 0.0, "drop")
    canvas.dot(0.0, 0.0, "data")  # a plain data dot does not hide a drop
    canvas.dot(1.0, 0.0, "data")
    canvas.dot(1.0, 0.0, "rtx")
    text = canvas.render()
    styles = [str(s.style) for s in text.spans]
    assert styles.count("bold red") == 1 and styles.count("dark_orange") == 1


def test_time_sequence_plots_data_acks_and_window() -> None:
    recs = [*HANDSHAKE]
    for i in range(10):
        recs.append(SegmentRecord(0.1 + i / 10, True, seg(ISS + 1 + 100 * i, IRS + 1, ACK,
                                                           b"x" * 100)))
        recs.append(SegmentRecord(0.15 + i / 10, False,
                                  seg(IRS + 1, ISS + 1 + 100 * (i + 1), ACK, window=500)))
    recs[5].dropped = "loss"
    text = render_time_sequence(view_with(recs), 0, 60, 14)
    first = lines(text)[0]
    assert first == "seq (bytes, max 1501) vs time 0.100..1.050 s"  # last ack 1001 + 500
    assert len(lines(text)) == 1 + 11 + 1
    used = {str(s.style) for s in text.spans}
    assert {"white", "green", "blue", "bold red"} <= used
    assert "data" in lines(text)[-1] and "window" in lines(text)[-1]


def test_time_sequence_scales_the_window_by_the_shift() -> None:
    recs = [*HANDSHAKE, SegmentRecord(0.2, True, seg(ISS + 1, IRS + 1, ACK, b"x" * 10)),
            SegmentRecord(0.3, False, seg(IRS + 1, ISS + 11, ACK, window=100))]
    # the ACK line at 11, the window 100 << 5 above it
    assert "max 3211" in render_time_sequence(view_with(recs), 5, 40, 10).plain


def test_time_sequence_before_any_data() -> None:
    assert render_time_sequence(view_with([]), 0, 40, 10).plain == "(no data yet)"
    only_syn = view_with(HANDSHAKE[:1])
    assert render_time_sequence(only_syn, 0, 40, 10).plain == "(no data segments yet)"


def test_cwnd_plot() -> None:
    assert "collecting" in render_cwnd([(0.0, 10, 1 << 30, 0)], 40, 10).plain
    samples = [(t / 10, 1000 * (t + 1), 1 << 30, 500 * t) for t in range(20)]
    text = render_cwnd(samples, 40, 10)
    # an "infinite" initial ssthresh is not drawn, so it must not stretch the axis either
    # (else cwnd hugs the bottom row until the first loss)
    assert lines(text)[0] == "bytes (max 20000) vs time 0.000..1.900 s"
    used = {str(s.style) for s in text.spans}
    assert "yellow" in used and "magenta" in used
    assert "cyan" not in used  # ssthresh still "infinite": not drawn
    with_ssthresh = render_cwnd([(0.0, 1000, 5000, 0), (1.0, 2000, 5000, 0)], 40, 10)
    assert "cyan" in {str(s.style) for s in with_ssthresh.spans}


# -------------------------------------------------------------------------- stream

def test_stream_as_text_and_as_hex() -> None:
    view = ConnectionView("h2", 2, B, A)
    view.delivered += b"GET /\x00\n"
    view.delivered_total = 7
    text = render_stream([("h2 socket 2", view)], as_hex=False).plain
    assert "h2 socket 2: 7 bytes delivered to the application" in text
    assert "GET /.\n" in text
    hexed = render_stream([("h2 socket 2", view)], as_hex=True).plain
    assert "000000  47 45 54 20 2f 00 0a" in hexed and "GET /.." in hexed


def test_stream_shows_the_tail_of_a_long_stream() -> None:
    view = ConnectionView("h2", 2, B, A)
    view.delivered += b"a" * 1000 + b"b" * 3000
    view.delivered_total = 100_000
    text = render_stream([("x", view)], as_hex=False).plain
    assert "(last 2048 shown)" in text
    assert "a" not in text.split("\n", 1)[1]
    assert "select a connection" in render_stream([], as_hex=False).plain


# ------------------------------------------------------------------- table cells

def link_state(**kw: object) -> LinkState:
    base = {"link": "h1-s1", "src": "h1", "dst": "s1", "delay": 0.0, "jitter": 0.0,
            "loss": 0.0, "bw": None, "dup": 0.0, "reorder": 0.0, "queue": 1000, "up": True}
    return LinkState(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "shown"), [
    ({}, "clean"), ({"up": False, "loss": 0.5}, "DOWN"),
    ({"delay": 0.02, "jitter": 0.005, "loss": 0.05, "bw": 10e6},
     "20ms ±5ms 5% loss 10Mbit")])
def test_compact_link_params(kw: dict[str, object], shown: str) -> None:
    assert compact_params(link_state(**kw)) == shown


def test_socket_rows_are_relative_and_count_timers_down() -> None:
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.start()
    for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5", 'send c1 "hello"',
                 "wait 0.5", "close c1", "close c1'", "wait 0.5"):
        assert lab.execute(line).ok, line
    infos = {(h, i.id): i for h, i in lab.sockets()}
    listener = socket_row("", "h2", infos[("h2", 1)], lab.now())
    assert str(listener[4]) == "LISTEN" and listener[3] == "*" and listener[5:] == ("",) * 8
    row = socket_row("c1", "h1", infos[("h1", 1)], lab.now())
    assert row[:4] == ("c1", "h1", f"10.0.0.1:{infos[('h1', 1)].local[1]}", "10.0.0.2:80")
    assert str(row[4]) == "TIME-WAIT"
    cells = dict(zip(COLUMNS, row, strict=True))
    assert cells["una/nxt"] == "7/7"  # SYN + 5 bytes + FIN, relative to the ISS
    deadline = infos[("h1", 1)].status.timers["time-wait"]
    assert cells["timers"] == f"time-wait {deadline - lab.now():.1f}s"
    later = dict(zip(COLUMNS, socket_row("c1", "h1", infos[("h1", 1)], lab.now() + 10),
                     strict=True))
    assert later["timers"] == f"time-wait {deadline - lab.now() - 10:.1f}s"
