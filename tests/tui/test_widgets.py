"""The dashboard's panes, drawn from the run's event stream, and their pure render functions.

Every pane is drawn from events: the sockets table and the links panel from a
:class:`Snapshot` (a fold of the events), the ladder, the plots and the stream from the
ranges of a :class:`Timeline` that :mod:`tcplab.tui.history` reads.  Runs of the simulated
lab feed a Timeline as the dashboard's does; what the render functions make of them is
checked here without an app: what is drawn, in which style, and where.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import codec
from tcplab.lab import commands as C
from tcplab.lab import timeline as timeline_module
from tcplab.lab.lab import Lab
from tcplab.lab.record import EVENTS_FILE, Recorder
from tcplab.lab.session import RunInputs
from tcplab.lab.snapshot import PATH_LENGTH, Key, Snapshot
from tcplab.lab.timeline import RecordingError, Timeline
from tcplab.lab.topology import load_topology
from tcplab.tcp.states import State
from tcplab.tui import history
from tcplab.tui.history import Marker, SegRecord
from tcplab.tui.widgets.colors import STATE_COLORS, role
from tcplab.tui.widgets.ladder import (
    SEGMENT_FILTERS,
    keep,
    ladder_header,
    ladder_lines,
    ladder_rows,
)
from tcplab.tui.widgets.links import compact_params
from tcplab.tui.widgets.plot import (
    SERIES_STYLE,
    Canvas,
    render_cwnd,
    render_time_sequence,
    tsg_span,
)
from tcplab.tui.widgets.sockets import COLUMNS, UNLIMITED, socket_row
from tcplab.tui.widgets.stream import render_stream

Event = dict[str, Any]
BULK = 2_000_000  # bytes of the lossy transfer: some 1400 data segments and their ACKs


def styles_of(text: Text, needle: str) -> list[str]:
    """The styles applied over the first occurrence of ``needle``."""
    start = text.plain.index(needle)
    end = start + len(needle)
    return [str(span.style) for span in text.spans if span.start <= start and span.end >= end]


def lines(text: Text) -> list[str]:
    return text.plain.splitlines()


def dot_styles(text: Text) -> set[str]:
    """The styles of the braille cells of a plot (not of its legend or axes)."""
    plain = text.plain
    return {str(span.style) for span in text.spans
            if any(0x2801 <= ord(ch) <= 0x28FF for ch in plain[span.start:span.end])}


def legend(text: Text) -> dict[str, str]:
    """word -> style of the square right before it, from a plot's last line."""
    plain = text.plain
    start = plain.rstrip("\n").rindex("\n") + 1
    out: dict[str, str] = {}
    for span in text.spans:
        if span.start >= start and plain[span.start:span.end] == "■":
            rest = plain[span.end:].split("  ", 1)[0]
            assert rest.startswith(" "), "a legend square is not right before its word"
            out[rest.strip()] = str(span.style)
    return out


# ----------------------------------------------------------------------------- runs

class Run:
    """A simulated lab whose events feed a Timeline, as the dashboard's do."""

    def __init__(self, *commands: str, recorder: Recorder | None = None) -> None:
        self.lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
        self.events: list[Event] = []
        self.timeline = Timeline()
        self.lab.bus.subscribe(self.timeline.append)
        self.lab.bus.subscribe(lambda e: self.events.append(codec.record(e)))
        if recorder is not None:
            self.lab.bus.subscribe(recorder.event)
        self.lab.start()
        for line in commands:
            result = self.lab.execute(line)
            assert result.ok, (line, result.message)

    @property
    def n(self) -> int:
        return len(self.timeline)

    def key(self, name: str) -> Key:
        """The socket of ``c1`` or of its other end ``c1'``."""
        head = self.timeline.head
        key = head.names[name.rstrip("'")]
        if not name.endswith("'"):
            return key
        return next(k for k in head.rows if head.name_of(k) == name)

    def ladder(self, name: str, n: int | None = None, limit: int = history.LADDER_LIMIT
               ) -> list[SegRecord | Marker]:
        n = self.n if n is None else n
        row = self.timeline.snapshot(n).rows[self.key(name)]
        return history.ladder(self.timeline, row, n, limit)


def segments(records: list[SegRecord | Marker]) -> list[SegRecord]:
    return [r for r in records if isinstance(r, SegRecord)]


def draw(records: Sequence[SegRecord | Marker], which: str = "all") -> list[Text]:
    """The ladder's lines of some records (segments only, or with markers)."""
    return ladder_lines(list(records), which)


def fold(events: list[Event]) -> Snapshot:
    snap = Snapshot()
    for ev in events:
        snap.apply(ev)
    return snap


def digest(snap: Snapshot) -> dict[str, Any]:
    """Everything a Snapshot shows, comparable with ``==``."""
    return {
        "t": snap.t, "count": snap.count, "names": snap.names, "links": snap.links,
        "held": snap.held, "hosts_down": snap.hosts_down, "last_command": snap.last_command,
        "rows": {key: (row.local, row.remote, row.state, row.changed, row.path, row.tcb,
                       row.timers, row.delivered) for key, row in snap.rows.items()},
    }


@pytest.fixture(scope="module")
def lost_fin() -> Run:
    """c1's FIN is dropped once by the network, then resent by the RTO."""
    return Run("link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1",
               "wait 200ms", "drop h1>h2 FIN count=1", "close c1", "wait 2")


@pytest.fixture(scope="module")
def bulk() -> Run:
    """A lossy transfer of BULK bytes, then both ends close (TIME-WAIT)."""
    return Run("link h1 s1 delay=5ms loss=1%", "listen h2:80", "connect h1 h2:80 as c1",
               "wait 100ms", f"send c1 --bytes {BULK}", "wait 20", "close c1", "close c1'",
               "wait 1")


# --------------------------------------------------------------------------- ladder

def test_ladder_numbers_relative_to_each_isn_and_shows_direction() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms", 'send c1 "abc"',
              "wait 200ms")
    mine = segments(run.ladder("c1"))
    assert [(r.outbound, r.flags, r.seq, r.length) for r in mine] == [
        (True, "S", 0, 0), (False, "S.", 0, 0), (True, ".", 1, 0), (True, "P.", 1, 3),
        (False, ".", 1, 0)]
    assert [r.ack for r in mine[1:]] == [1, 1, 1, 4]
    out = [line.plain for line in draw(mine)]
    assert " S 0:0(0) win " in out[0] and out[0].split("│")[1].endswith("▶")
    assert out[1].split("│")[1].startswith("◀") and " S. 0:0(0) ack 1 win 65535 " in out[1]
    assert out[3].startswith("   0.200 ") and " P. 1:4(3) ack 1 win " in out[3]
    assert "◀" in out[4] and " . 1:1(0) ack 4 win" in out[4]
    # the peer's ladder is the mirror image, relative to the same two ISNs
    theirs = segments(run.ladder("c1'"))
    assert [(not r.outbound, r.flags, r.seq, r.length) for r in theirs] == [
        (r.outbound, r.flags, r.seq, r.length) for r in mine]
    header = ladder_header("h1 10.0.0.1:40000", "h2 10.0.0.2:80", "all").plain
    assert header.split() == ["time", "state", "┌h1", "10.0.0.1:40000", "h2",
                              "10.0.0.2:80┐", "state", "time"]
    assert ladder_header("a", "b", "FIN").plain.endswith("showing FIN (f)")


def test_ladder_shows_state_changes_as_marker_lines() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms", "close c1", "wait 1")
    records = run.ladder("c1")
    markers = [r.text for r in records if isinstance(r, Marker)]
    assert markers == ["CLOSED -> SYN-SENT (active OPEN)",
                       "SYN-SENT -> ESTABLISHED (rcv SYN,ACK)",
                       "ESTABLISHED -> FIN-WAIT-1 (CLOSE)",
                       "FIN-WAIT-1 -> FIN-WAIT-2 (rcv ACK of FIN)"]
    # each lane shows its state where it changes, on the segment's line
    drawn = [t.plain for t in ladder_rows(records, run.ladder("c1'"), 100)]
    lanes = [(line[9:21].strip(), line.split("│")[2][1:13].strip()) for line in drawn]
    assert lanes[:3] == [("SYN-SENT", "SYN-RECEIVED"), ("ESTABLISHED", ""), ("", "ESTABLISHED")]
    assert ("FIN-WAIT-1", "CLOSE-WAIT") in lanes and ("FIN-WAIT-2", "") in lanes
    assert len(drawn) == len(segments(records))  # one line per segment, no marker lines


def test_ladder_filters_segments() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms", 'send c1 "abc"',
              "wait 200ms", "drop h1>h2 FIN", "close c1", "wait 2")
    records = run.ladder("c1")
    shown = {which: [t.plain for t in ladder_lines(records, which)] for which in SEGMENT_FILTERS}
    assert len(shown["all"]) == len(segments(records))
    assert len(shown["SYN"]) == 2 and all(" S" in s for s in shown["SYN"])
    assert len(shown["FIN"]) == 2 and all(" F. " in s for s in shown["FIN"])
    assert len(shown["data"]) == 1 and "P. 1:4(3)" in shown["data"][0]
    assert len(shown["drops"]) == 1 and "✕ filter" in shown["drops"][0]
    assert len(shown["rtx"]) == 1 and " F. 4:4(0) ack 1 win 2048 rtx " in shown["rtx"][0]
    assert keep(records[0], "all") and not keep(records[0], "SYN")  # a marker
    assert keep(segments(records)[0], "nonsense")  # an unknown filter hides nothing


def test_ladder_of_a_lost_fin_marks_only_the_resent_fin_as_retransmission(lost_fin: Run
                                                                         ) -> None:
    """The lab publishes segment.retransmitted before the segment.sent of the resent
    segment; the original (dropped) FIN must stay unmarked, and the resent one -- which
    carries no payload -- marked."""
    records = lost_fin.ladder("c1")
    fins = [r for r in segments(records) if r.outbound and "F" in r.flags]
    assert [(r.dropped, r.retransmission) for r in fins] == [("filter", False), ("", True)]
    assert fins[0].seq == fins[1].seq == 1
    drawn = [t for t in ladder_lines(records) if " F. " in t.plain]
    assert len(drawn) == 2
    assert "rtx" not in drawn[0].plain
    assert "✕ filter" in drawn[0].plain and "F. 1:1(0)" in drawn[0].plain
    assert styles_of(drawn[0], "✕") == [role("error", "bold")]
    assert styles_of(drawn[0], "F. 1:1(0)") == [role("error")]
    assert " F. 1:1(0) ack 1 win 2048 rtx " in drawn[1].plain
    assert drawn[1].plain.split("│")[1].endswith("▶")
    # a SYN or FIN is retransmitted by sequence number too: nothing else is marked
    assert sum(r.retransmission for r in segments(records)) == 1


def test_ladder_marks_drops_and_retransmissions_of_a_lossy_transfer(bulk: Run) -> None:
    key = bulk.key("c1")
    records = segments(bulk.ladder("c1", limit=bulk.n))
    resent = [r for r in records if r.retransmission]
    told = [ev for ev in bulk.timeline.events(bulk.timeline.conn_events[key])
            if ev["kind"] == "segment.retransmitted"]
    assert resent and len(resent) == len(told)
    for rec in resent:  # each was sent before, unmarked: only the resent copy is marked
        first = next(r for r in records if r.outbound and r.seq == rec.seq and r.length)
        assert first is not rec and not first.retransmission
    lost = [r for r in records if r.dropped]
    assert lost and {r.dropped for r in lost} == {"link loss"}
    drawn = draw(resent[:1] + lost[:1])
    assert styles_of(drawn[0], resent[0].label) == [STATE_COLORS[State.CLOSE_WAIT]]
    assert lost[0].label.split(" ack")[0] in drawn[1].plain and "✕" in drawn[1].plain


def test_ladder_shows_a_segment_of_the_peer_dropped_by_the_network_as_inbound() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms", "drop h2>h1 FIN",
              "close c1'", "wait 3")
    mine = [r for r in segments(run.ladder("c1")) if "F" in r.flags]
    assert [(r.outbound, r.dropped, r.seq, r.ack) for r in mine] == [
        (False, "filter", 1, 1), (False, "", 1, 1)]
    line = draw(mine)[0]
    # it never reached this end: no time on its lane, the cross nearer the sender
    lane = line.plain.split("│")[1]
    assert line.plain.startswith("       …") and "filter" in lane and "F. 1:1(0)" in lane
    assert lane.index("✕") > len(lane) // 2
    assert styles_of(line, "✕") == [role("error", "bold")]
    # the peer sent it: its ladder marks the segment it sent, it does not add one
    theirs = [r for r in segments(run.ladder("c1'")) if "F" in r.flags]
    assert [(r.outbound, r.dropped, r.retransmission) for r in theirs] == [
        (True, "filter", False), (True, "", True)]


def test_ladder_marks_held_segments_in_both_directions() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms",
              "hold h1>h2 DATA", 'send c1 "fwd"', "wait 100ms", "release all", "wait 100ms",
              "hold h2>h1 DATA", "send c1' \"back\"", "wait 100ms", "release all",
              "wait 100ms")
    records = run.ladder("c1")
    held = [(r.outbound, r.flags, r.seq, r.length) for r in segments(records) if r.held]
    assert held == [(True, "P.", 1, 3), (False, "P.", 1, 4)]  # nothing else is marked
    notes = [r for r in records if isinstance(r, Marker) and r.text.startswith("held")]
    assert [r.outbound for r in notes] == [True, False]
    drawn = ladder_rows(records, run.ladder("c1'"), 200)
    sent = next(t.plain for t in drawn if "P. 1:4(3)" in t.plain)
    assert " held " in sent and "‖" in sent
    arrived = next(t.plain for t in drawn if "P. 1:5(4)" in t.plain)
    assert arrived.startswith("   0.500 ") and " held " in arrived and "‖" in arrived
    assert arrived.rstrip().endswith("0.400")  # sent at 0.4, held, arrived at 0.5
    # the peer's segment is marked where it arrived (after its release), not on the
    # segment received last before the hold
    assert notes[1].t < next(r.t for r in segments(records) if r.held and not r.outbound)


def test_ladder_numbers_stay_relative_after_thousands_of_segments(bulk: Run) -> None:
    end = ("F.", BULK + 1, 1)
    for n in (bulk.n // 2, bulk.n):
        records = segments(bulk.ladder("c1", n, limit=1000))
        assert len(records) > 500
        assert not any("S" in r.flags for r in records)  # the SYNs are long gone
        mine = [r for r in records if r.outbound]
        theirs = [r for r in records if not r.outbound]
        assert mine and theirs
        assert all(1 <= r.seq <= BULK + 2 and r.ack <= 2 for r in mine)
        assert all(r.seq <= 2 and 1 <= r.ack <= BULK + 2 for r in theirs)
    assert (mine[-1].flags, mine[-1].seq, mine[-1].ack) != end  # the last sent: an ACK
    fin = next(r for r in mine if "F" in r.flags)
    assert (fin.flags, fin.seq, fin.ack) == end
    assert any(f"F. {BULK + 1}:{BULK + 1}(0) ack 1 win" in t.plain
               for t in draw(records))


def test_ladder_without_a_connection_or_before_its_first_segment() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 100ms")
    assert history.ladder(run.timeline, None, run.n) == []
    assert ladder_lines([]) == []
    listener = run.timeline.head.rows[("h2", 1)]
    assert history.ladder(run.timeline, listener, run.n) == [
        Marker(0.0, True, "CLOSED -> LISTEN (passive OPEN)")]
    # before the connect command, c1's socket has no event yet
    first = next(i for i, e in enumerate(run.events) if e.get("sid") == 1 and e["host"] == "h1")
    row = run.timeline.head.rows[run.key("c1")]
    assert history.ladder(run.timeline, row, first) == []


# ---------------------------------------------------------------------------- plots

def test_canvas_dots_land_in_the_right_braille_cells() -> None:
    canvas = Canvas(4, 2)
    canvas.dot(0.0, 0.0, "data")    # bottom-left: dot 7 of the bottom-left cell
    canvas.dot(1.0, 1.0, "rcv window")  # top-right: dot 4 of the top-right cell
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
    canvas.dot(1.0, 1.0, "ack")
    canvas.dot(1.0, 1.0, "rcv window")  # the window line does not hide the ACK line
    styles = [str(s.style) for s in canvas.render().spans]
    assert styles.count("bold red") == 1 and styles.count("dark_orange") == 1
    assert styles.count("green") == 1 and "blue" not in styles


def records_and_samples() -> tuple[list[SegRecord], list[tuple[float, int, int, int, int, int]]]:
    """Ten data segments of 100 bytes (the fourth lost, resent at the end), each ACKed
    with a window of 500."""
    recs = [SegRecord(0.1 + i / 10, True, "P.", 1 + 100 * i, 1, 1000, 100) for i in range(10)]
    recs[3].dropped = "loss"
    recs.append(SegRecord(1.2, True, "P.", 301, 1, 1000, 100, retransmission=True))
    recs.append(SegRecord(1.25, False, ".", 1, 301, 1000, 0, sack=[(401, 1001)]))
    samples = [(0.15 + i / 10, 1000, UNLIMITED, 100, 500, 1 + 100 * (i + 1)) for i in range(10)]
    return recs, samples


def test_time_sequence_plots_data_rtx_drops_sacks_and_the_ack_and_window_lines() -> None:
    recs, samples = records_and_samples()
    text = render_time_sequence(recs, samples, 60, 16)
    assert dot_styles(text) == {"white", "dark_orange", "bold red", "cyan", "green", "blue"}
    rows = lines(text)
    assert len(rows) == 16  # the unit, 12 rows of dots, the axis, its labels, the legend
    assert rows[1].strip().startswith("1.5k┤")  # the window line's top: ACK 1001 + 500
    # without samples: no ACK or window line, and the top is the data's
    bare = render_time_sequence(recs, [], 60, 16)
    assert dot_styles(bare) == {"white", "dark_orange", "bold red", "cyan"}
    assert lines(bare)[1].strip().startswith("1k┤")  # the end of the last segment: 1001


def test_plots_have_axes_with_units_and_a_legend() -> None:
    recs, samples = records_and_samples()
    growing = [(0.1 * t, 1000 * (t + 1), 4000, 500, 3000, 0) for t in range(12)]
    for text, unit, top, times, names in (
            (render_time_sequence(recs, samples, 60, 16), "seq (bytes)", "1.5k",
             ("0.100", "0.387", "0.675", "0.962", "1.250"),
             ["data", "rtx", "drop", "ack", "rcv window", "sack"]),
            (render_cwnd(growing, 60, 16), "bytes", "12k",
             ("0.000", "0.275", "0.550", "0.825", "1.100"),
             ["cwnd", "ssthresh", "flight", "peer wnd"])):
        rows = lines(text)
        assert rows[0].strip() == unit
        assert styles_of(text, unit) == ["bold"]
        labelled = [r.split("┤")[0].strip() for r in rows[1:] if "┤" in r]
        assert labelled[0] == top and labelled[-1] == "0" and len(labelled) == 3
        axis, ticks = rows[-3], rows[-2]
        assert axis.strip().startswith("└") and axis.count("┬") == 5  # 4 intervals
        assert tuple(ticks.split()) == (*times, "s")
        # each tick label is centred on its tick
        for label in times[1:-1]:
            middle = ticks.index(label) + len(label) // 2
            assert axis[middle] == "┬", label
        assert list(legend(text)) == names
        assert legend(text) == {name: SERIES_STYLE[name] for name in names}


def test_time_sequence_zooms_to_a_window_of_time() -> None:
    recs, samples = records_and_samples()
    text = render_time_sequence(recs, samples, 60, 16, window=(0.5, 0.8))
    ticks = lines(text)[-2].split()
    assert ticks[0] == "0.500" and ticks[-2] == "0.800"
    assert "dark_orange" not in dot_styles(text)  # the resend at 1.2 is out of the window
    assert "bold red" not in dot_styles(text)     # so is the drop at 0.4


def test_time_sequence_before_any_data() -> None:
    assert render_time_sequence([], [], 40, 10).plain == "(no data sent yet on this connection)"
    syn = SegRecord(0.0, True, "S", 0, 0, 65535, 0)
    assert "no data sent yet" in render_time_sequence([syn], [(0.0, 1, 2, 3, 4, 0)], 40,
                                                      10).plain


def test_cwnd_plot() -> None:
    assert "waiting for TCB samples" in render_cwnd([(0.0, 10, UNLIMITED, 0, 0, 0)], 40,
                                                    10).plain
    samples = [(t / 10, 1000 * (t + 1), UNLIMITED, 500 * t, 3000, 0) for t in range(20)]
    text = render_cwnd(samples, 40, 10)
    # an "infinite" initial ssthresh is not drawn, so it must not stretch the axis either
    # (else cwnd hugs the bottom row until the first loss)
    assert lines(text)[1].strip().startswith("20k┤")
    assert dot_styles(text) == {"yellow", "magenta", "blue"}  # cwnd, flight, peer wnd
    assert list(legend(text)) == ["cwnd", "flight", "peer wnd"]
    ticks = lines(text)[-2].split()
    assert ticks[0] == "0.000" and ticks[-2] == "1.900"
    finite = render_cwnd([(0.0, 1000, 5000, 0, 100, 0), (1.0, 2000, 5000, 0, 100, 0)], 40, 10)
    assert "cyan" in dot_styles(finite) and "ssthresh" in legend(finite)
    assert lines(finite)[1].strip().startswith("5k┤")
    zoomed = render_cwnd(samples, 40, 10, window=(0.5, 0.5))
    assert "no TCB samples in this time window" in zoomed.plain  # an empty window


def test_plots_of_a_real_lossy_transfer(bulk: Run) -> None:
    row = bulk.timeline.head.rows[bulk.key("c1")]
    samples = history.samples(bulk.timeline, row, bulk.n)
    tcb = row.tcb
    assert samples[-1][1:] == (tcb["cwnd"], tcb["ssthresh"], tcb["flight"], tcb["snd_wnd"],
                               BULK + 2)  # SYN + data + FIN acknowledged
    assert [s[0] for s in samples] == sorted(s[0] for s in samples)
    records = segments(history.ladder(bulk.timeline, row, bulk.n))
    text = render_time_sequence(records, samples, 80, 20)
    assert {"white", "dark_orange", "bold red", "blue"} <= dot_styles(text)
    # the y axis reaches the highest right window edge offered (an ACK plus the window)
    # while data was sent: a little above the 2 MB of data
    span = tsg_span(records)
    assert span is not None
    top = max(una + wnd for t, _c, _s, _f, wnd, una in samples if una and t <= span[1])
    assert top > BULK and lines(text)[1].strip().startswith(f"{top / 1e6:.3g}M┤")
    cwnd = render_cwnd(samples, 80, 20, window=(0.0, 0.7))
    assert {"cyan", "magenta", "blue"} <= dot_styles(cwnd)  # ssthresh after a loss
    assert "ssthresh" in legend(cwnd)
    # halfway through, the plots show only what happened so far
    half = bulk.timeline.count_at(0.3)
    early = history.samples(bulk.timeline, bulk.timeline.snapshot(half).rows[row.key], half)
    assert early and all(s[0] <= 0.3 for s in early) and len(early) < len(samples)


# --------------------------------------------------------------------------- stream

def test_stream_as_text_and_as_hex() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5", 'send c1 "GET /\\x00\\n"',
              "wait 0.5", "send c1' \"HTTP/1.0 200 OK, and more than sixteen bytes\"",
              "wait 0.5")
    head = run.timeline.head
    sides = [(f"{row.host} socket {row.sid}", row.delivered,
              history.deliveries(run.timeline, row.key, run.n))
             for row in (head.rows[run.key("c1'")], head.rows[run.key("c1")])]
    assert [(label, total, len(d)) for label, total, d in sides] == [
        ("h2 socket 2", 7, 1), ("h1 socket 1", 44, 1)]
    text = render_stream(sides, as_hex=False).plain
    assert "h2 socket 2: 7 bytes delivered to the application (h: hex)" in text
    assert "      7 B  GET /..\n" in text
    assert "     44 B  HTTP/1.0 200 OK,…\n" in text  # recordings keep 16 bytes of each
    hexed = render_stream(sides, as_hex=True).plain
    assert "(h: text)" in hexed
    assert "47 45 54 20 2f 00 0a\n" in hexed and "GET" not in hexed
    assert "select a connection" in render_stream([], as_hex=False).plain


def test_stream_before_and_after_a_delivery() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5", "send c1 --bytes 5000",
              "wait 0.5")
    key = run.key("c1'")
    sent = next(i for i, e in enumerate(run.events) if e["kind"] == "data.delivered")
    assert history.deliveries(run.timeline, key, sent) == []
    assert run.timeline.snapshot(sent).rows[key].delivered == 0
    got = history.deliveries(run.timeline, key, run.n)
    assert sum(length for _, length, _, _ in got) == 5000 == run.timeline.head.rows[key].delivered
    assert history.deliveries(run.timeline, key, run.n, limit=1) == got[-1:]


# ------------------------------------------------------------------- links, sockets

@pytest.mark.parametrize(("params", "shown"), [
    ("loss=5% delay=20ms jitter=0ms bw=10mbit up", "20 ms, 5% loss, 10 Mbit/s"),
    ("loss=0% delay=0ms jitter=0ms bw=unlimited queue=1000 up", "clean"),
    ("loss=50% delay=20ms jitter=0ms bw=unlimited down", "DOWN"),
    ("loss=0% delay=1ms jitter=5ms bw=unlimited dup=1% reorder=2% up",
     "1 ms ±5 ms, dup 1%, reorder 2%"),
    ("loss=1.4% delay=100s jitter=0ms bw=1.5kbit queue=5 up",
     "100 s, 1.4% loss, 1.5 kbit/s, queue 5")])
def test_compact_link_params(params: str, shown: str) -> None:
    assert compact_params(params) == shown


def test_links_panel_from_the_link_changed_events() -> None:
    run = Run("link h1 s1 delay=20ms loss=5% bw=10mbit", "link h2 s1 down")
    shown = {d: compact_params(p) for d, (_link, p) in run.timeline.head.links.items()}
    assert shown == {"h1>s1": "20 ms, 5% loss, 10 Mbit/s", "s1>h1": "20 ms, 5% loss, 10 Mbit/s",
                     "h2>s1": "DOWN", "s1>h2": "DOWN"}
    # at the start every link was announced clean
    start = run.timeline.snapshot(4)
    assert {compact_params(p) for _, p in start.links.values()} == {"clean"}


def test_socket_rows_are_relative_and_count_timers_down() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5", 'send c1 "hello"',
              "wait 0.5", "close c1", "close c1'", "wait 0.5")
    snap, now = run.timeline.head, run.lab.now()
    listener = socket_row("", snap.rows[("h2", 1)], now)
    assert listener[:4] == ("", "h2", "0.0.0.0:80", "*")
    assert str(listener[4]) == "LISTEN" and listener[5:] == ("",) * 10
    key = run.key("c1")
    row = snap.rows[key]
    cells = dict(zip(COLUMNS, socket_row("c1", row, now), strict=True))
    assert (cells["name"], cells["host"], cells["local"], cells["remote"]) == (
        "c1", "h1", f"10.0.0.1:{row.local[1]}", "10.0.0.2:80")
    assert str(cells["state"]) == "TIME-WAIT"
    assert cells["una/nxt"] == "7/7"  # SYN + 5 bytes + FIN, relative to the ISS
    assert cells["rcv.nxt"] == "2"    # SYN + FIN, relative to the IRS
    assert cells["ssthresh"] == "inf" and row.tcb["ssthresh"] == UNLIMITED
    assert cells["sendq"] == cells["recvq"] == "0"
    # the countdown is the live socket's deadline, counted down from the cursor
    live = run.lab.socket(*key)
    assert live is not None
    deadline = live.status.timers["time-wait"]
    assert cells["timers"] == f"time-wait {deadline - now:.1f}s"
    later = dict(zip(COLUMNS, socket_row("c1", row, now + 10), strict=True))
    assert later["timers"] == f"time-wait {deadline - now - 10:.1f}s"
    assert dict(zip(COLUMNS, socket_row("c1", row, deadline + 5), strict=True))[
        "timers"] == "time-wait 0.0s"
    # a state change flashes for a second of run time
    assert "reverse" in str(socket_row("c1", row, row.changed + 0.5)[4].style)
    assert "reverse" not in str(socket_row("c1", row, row.changed + 2)[4].style)


def test_socket_row_shows_a_finite_ssthresh(bulk: Run) -> None:
    row = bulk.timeline.head.rows[bulk.key("c1")]
    cells = dict(zip(COLUMNS, socket_row("c1", row, bulk.lab.now()), strict=True))
    assert row.tcb["ssthresh"] < UNLIMITED
    assert cells["ssthresh"] == str(row.tcb["ssthresh"])
    assert cells["una/nxt"] == f"{BULK + 2}/{BULK + 2}"


# ------------------------------------------------------------------------- snapshot

def test_snapshot_fold_agrees_with_the_lab_at_the_end(bulk: Run) -> None:
    snap = fold(bulk.events)
    assert digest(snap) == digest(bulk.timeline.head)
    live = bulk.lab.sockets()
    assert {(host, info.id) for host, info in live} == set(snap.rows)
    for host, info in live:
        row = snap.rows[(host, info.id)]
        assert row.state == info.state.value
        assert row.local == info.local and row.remote == info.remote
        assert row.delivered == info.bytes_delivered
        if info.kind == "listener":
            continue
        status = info.status
        assert {k: row.tcb[k] for k in ("iss", "irs", "snd_una", "snd_nxt", "snd_max",
                                        "rcv_nxt", "cwnd", "ssthresh", "rto")} == {
            "iss": status.iss, "irs": status.irs, "snd_una": status.snd_una,
            "snd_nxt": status.snd_nxt, "snd_max": status.snd_max, "rcv_nxt": status.rcv_nxt,
            "cwnd": status.cwnd, "ssthresh": status.ssthresh, "rto": status.rto}
        assert dict(row.timers) == status.timers
    for name in ("c1", "c1'"):
        host, found, seen = bulk.lab.socket_info(C.ConnName("c1", name.endswith("'")))
        assert found is not None
        row = snap.rows[(host, found.id)]
        assert snap.name_of(row.key) == name
        assert row.state == found.state.value == seen[-1].value
        assert [new for _t, _old, new, _cause in row.path] == [s.value for s in seen[1:]][
            -PATH_LENGTH:]
        assert row.path[0][1] == seen[0].value


def test_snapshot_names_a_connection_and_its_other_end() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 100ms", "connect h2 h1:22")
    snap = run.timeline.head
    c1 = snap.names["c1"]
    assert snap.name_of(c1) == "c1"
    accepted = next(k for k in snap.rows if k[0] == "h2" and snap.rows[k].remote is not None
                    and snap.rows[k].local[1] == 80)
    assert snap.name_of(accepted) == "c1'"
    assert snap.name_of(("h2", 1)) is None       # the listener
    assert snap.name_of(("h9", 1)) is None       # no such socket
    unnamed = next(k for k in snap.rows if k[0] == "h2" and snap.rows[k].remote == (
        "10.0.0.1", 22))
    assert snap.name_of(unnamed) is None          # a connection nobody named
    json_row = snap.socket_json(snap.rows[accepted])
    assert json_row["name"] == "c1'" and json_row["snd_nxt"] == 1 and json_row["rcv_nxt"] == 1


def test_snapshot_clone_is_independent_of_the_original(bulk: Run) -> None:
    half = len(bulk.events) // 2
    original = fold(bulk.events[:half])
    before = digest(original)
    copy = original.clone()
    assert digest(copy) == before
    for ev in bulk.events[half:]:
        copy.apply(ev)
    copy.names["zz"] = ("h1", 99)
    copy.links["h1>s1"] = ("h1-s1", "changed")
    assert digest(original) == before                 # untouched by the copy's events
    assert digest(copy) != before
    assert {k: r.state for k, r in copy.rows.items()} == {
        k: r.state for k, r in bulk.timeline.head.rows.items()}


# ------------------------------------------------------------------------- timeline

def test_timeline_snapshot_equals_a_fresh_fold(bulk: Run,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline_module, "CHECKPOINT_MIN", 64)
    timeline = Timeline()
    for ev in bulk.events:
        timeline.append(ev)
    checkpoints = [n for n, _ in timeline._checkpoints]
    assert len(checkpoints) > 20, "the checkpoints were not forced"
    total = len(bulk.events)
    picks = {0, 1, checkpoints[3] - 1, checkpoints[3], checkpoints[3] + 1, total // 3,
             total // 2 + 7, total - 1, total}
    for n in sorted(picks):
        assert digest(timeline.snapshot(n)) == digest(fold(bulk.events[:n])), n
    # a snapshot is a clone: changing it does not change the checkpoint it came from
    snap = timeline.snapshot(checkpoints[3])
    snap.apply(bulk.events[-1])
    assert digest(timeline.snapshot(checkpoints[3])) == digest(fold(bulk.events[:checkpoints[3]]))
    assert timeline.snapshot(total) is timeline.head


def test_timeline_count_at_and_time_of(lost_fin: Run) -> None:
    timeline, events = lost_fin.timeline, lost_fin.events
    assert len(timeline) == len(events) and timeline.end_time == events[-1]["t"]
    assert timeline.time_of(0) == 0.0
    for n in (1, 10, len(events) // 2, len(events)):
        assert timeline.time_of(n) == events[n - 1]["t"]
    for t in (-1.0, 0.0, 0.2, 0.21, 1.2, 1.5, 99.0):
        assert timeline.count_at(t) == sum(1 for e in events if e["t"] <= t), t
    assert timeline.count_at(99.0) == len(events)
    assert [timeline.event(i) for i in (0, 5, len(events) - 1)] == [
        events[0], events[5], events[-1]]


def test_timeline_cut_forgets_the_later_events() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms", 'send c1 "hi"',
              "wait 1", "close c1", "wait 1")
    timeline, events = run.timeline, run.events
    keep_n = next(i for i, e in enumerate(events) if e["kind"] == "data.delivered")
    timeline.cut(keep_n)
    assert len(timeline) == keep_n and timeline.rewinds == 1
    assert timeline.end_time == events[keep_n - 1]["t"]
    assert timeline.event(keep_n - 1) == events[keep_n - 1]
    for arr in (*timeline.conn_events.values(), *timeline.conn_samples.values(),
                timeline.log, timeline.marks):
        assert all(i < keep_n for i in arr)
    assert len(timeline.mark_kinds) == len(timeline.marks)
    assert history.deliveries(timeline, run.key("c1'"), keep_n) == []
    # a new branch goes on from there
    timeline.append({**events[-1], "t": 9.0})
    assert len(timeline) == keep_n + 1 and timeline.event(keep_n)["t"] == 9.0
    timeline.cut(keep_n + 5)  # nothing to forget
    assert len(timeline) == keep_n + 1 and timeline.rewinds == 1


def test_timeline_rewound_event_cuts_the_stream() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms", "close c1", "wait 1")
    timeline = run.timeline
    keep_n = run.timeline.count_at(0.0)
    timeline.append({"kind": "run.rewound", "t": 0.0, "host": "", "to": 0.0, "keep": keep_n})
    assert len(timeline) == keep_n + 1 and timeline.rewinds == 1
    assert timeline.event(keep_n)["kind"] == "run.rewound"
    assert history.log_lines(timeline, len(timeline))[-1] == (
        "    0.000 rewound to t=0.0: a new branch starts here", "bold cyan")


def test_timeline_cut_head_is_the_fold_of_the_kept_events() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms", 'send c1 "hi"',
              "wait 1", "close c1", "wait 1")
    keep_n = next(i for i, e in enumerate(run.events) if e["kind"] == "data.delivered")
    run.timeline.cut(keep_n)
    assert digest(run.timeline.head) == digest(fold(run.events[:keep_n]))
    assert digest(run.timeline.snapshot(keep_n)) == digest(fold(run.events[:keep_n]))


def test_timeline_load_of_a_recording_equals_the_live_timeline(tmp_path: Path) -> None:
    topo = load_topology("pair")
    header = RunInputs.of(topo, backend="sim", mechanism="simulated", seed=1,
                          virtual=True).header()
    recorder = Recorder(tmp_path, header)
    try:
        run = Run("link h1 s1 delay=5ms", "listen h2:80", "connect h1 h2:80 as c1",
                  "wait 100ms", "hold h1>h2 DATA", 'send c1 "é ü"', "wait 100ms",
                  "release all", "drop h2>h1 FIN", "close c1'", "wait 3", recorder=recorder)
    finally:
        recorder.close()
    live = run.timeline
    for where in (tmp_path, tmp_path / EVENTS_FILE):
        loaded = Timeline.load(where)
        try:
            assert loaded.header == header
            assert len(loaded) == len(live) == len(run.events)
            assert list(loaded.events(range(len(loaded)))) == run.events  # type: ignore[arg-type]
            assert digest(loaded.head) == digest(live.head)
            assert {k: list(v) for k, v in loaded.conn_events.items()} == {
                k: list(v) for k, v in live.conn_events.items()}
            assert {k: list(v) for k, v in loaded.conn_samples.items()} == {
                k: list(v) for k, v in live.conn_samples.items()}
            assert list(loaded.log) == list(live.log)
            assert loaded.mark_times() == live.mark_times()
            half = len(live) // 2
            assert digest(loaded.snapshot(half)) == digest(live.snapshot(half))
            row = live.head.rows[run.key("c1")]
            assert history.ladder(loaded, row, len(loaded)) == history.ladder(live, row,
                                                                             len(live))
            assert history.log_lines(loaded, len(loaded)) == history.log_lines(live, len(live))
        finally:
            loaded.close()


def test_timeline_load_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / EVENTS_FILE).write_text(json.dumps({"kind": "header", "schema": 1}) + "\n"
                                   + json.dumps({"kind": "command", "t": 0.0}) + "\n")
    with pytest.raises(RecordingError) as caught:
        Timeline.load(old)
    message = str(caught.value)
    assert "recording schema 1" in message and "reads schema 2" in message
    assert "record the run again" in message and str(old / EVENTS_FILE) in message
    with pytest.raises(RecordingError, match="cannot read"):
        Timeline.load(tmp_path / "missing")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(RecordingError, match="is empty"):
        Timeline.load(tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"kind": "header", "schema": 2}) + "\n"
                                        + '{"kind": "command"}\n')
    with pytest.raises(RecordingError, match="line 2 is not an event of schema 2"):
        Timeline.load(tmp_path / "bad.jsonl")


def test_timeline_next_mark_steps_between_state_changes(lost_fin: Run) -> None:
    timeline, events = lost_fin.timeline, lost_fin.events
    changes = [i for i, e in enumerate(events) if e["kind"] == "state.changed"]
    assert len(changes) >= 6
    assert timeline.next_mark(0, forward=True) == changes[0] + 1
    assert timeline.next_mark(changes[0] + 1, forward=True) == changes[1] + 1
    assert timeline.next_mark(changes[2], forward=True) == changes[2] + 1  # just before it
    assert timeline.next_mark(changes[-1] + 1, forward=True) is None
    assert timeline.next_mark(changes[2] + 1, forward=False) == changes[1] + 1
    assert timeline.next_mark(len(timeline), forward=False) == changes[-1] + 1
    assert timeline.next_mark(changes[0] + 1, forward=False) is None
    # one connection's only
    key = lost_fin.key("c1")
    mine = [i for i in changes if (events[i]["host"], events[i]["sid"]) == key]
    assert mine != changes
    indices = timeline.conn_events[key]
    assert timeline.next_mark(0, True, indices) == mine[0] + 1
    assert timeline.next_mark(mine[0] + 1, True, indices) == mine[1] + 1
    assert timeline.next_mark(len(timeline), False, indices) == mine[-1] + 1
    # the timeline bar's markers: state changes and drops, at their times
    marks = timeline.mark_times()
    assert (events[changes[0]]["t"], 0) in marks
    drop = next(e for e in events if e["kind"] == "link.dropped")
    assert (drop["t"], 1) in marks


def test_log_lines_of_a_run(lost_fin: Run) -> None:
    log = history.log_lines(lost_fin.timeline, len(lost_fin.timeline))
    assert ("    0.000 > listen h2:80  [ok] h2 listening on port 80 (socket 1)", "") in log
    assert any(text.endswith("ESTABLISHED -> FIN-WAIT-1 (CLOSE)") for text, _ in log)
    dropped = [(text, style) for text, style in log if "dropped (filter)" in text]
    assert len(dropped) == 1 and dropped[0][1] == "red"
    assert dropped[0][0].startswith("    0.200 link h1>s1 dropped (filter) 10.0.0.1:")
    failed = history.log_line({"kind": "command", "t": 1.0, "host": "", "line": "oops",
                               "ok": False, "message": "unknown command"})
    assert failed == ("    1.000 > oops  [error] unknown command", "red")
    # before n: only what had happened
    first_drop = next(i for i, e in enumerate(lost_fin.events) if e["kind"] == "link.dropped")
    assert not any("dropped" in text for text, _ in history.log_lines(lost_fin.timeline,
                                                                       first_drop))


def test_time_sequence_span_ends_with_the_ack_of_all_the_data() -> None:
    data = [SegRecord(0.1, True, "P.", 1, 1, 65535, 1000),
            SegRecord(0.2, True, "P.", 1001, 1, 65535, 1000)]
    partial = SegRecord(0.3, False, ".", 1, 1001, 65535, 0)
    full = SegRecord(0.4, False, ".", 1, 2001, 65535, 0)
    later = SegRecord(0.9, False, ".", 1, 2001, 65535, 0)
    assert tsg_span([*data, partial, full, later]) == (0.1, 0.4)
    assert tsg_span([*data, partial]) == (0.1, 0.2)  # still waiting: the last data sent
