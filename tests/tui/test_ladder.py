"""The ladder pane: two time lanes, one line per segment at any width, drops ending in
a cross at the link, held segments marked, and a tail that changes in place."""

from __future__ import annotations

import asyncio
import re

import pytest
from rich.text import Text
from test_snapshots_panes import make_app, run
from test_widgets import Run, segments
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tcplab.tui.history import Marker, SegRecord, flights
from tcplab.tui.widgets.history_log import HistoryLog
from tcplab.tui.widgets.ladder import Ladder, labels, ladder_header, ladder_rows

LOSSY = ("link h1 s1 delay=10ms loss=5%", "listen h2:80", "connect h1 h2:80 as c1",
         "wait 200ms", "send c1 --bytes 30000", "wait 5", "close c1", "close c1'", "wait 1")


@pytest.fixture(scope="module")
def lossy() -> Run:
    return Run(*LOSSY)


@pytest.mark.parametrize("width", [200, 100, 60])
def test_one_line_per_segment_at_any_width(lossy: Run, width: int) -> None:
    own, peer = lossy.ladder("c1"), lossy.ladder("c1'")
    drawn = ladder_rows(own, peer, width, left_host="h1")
    assert len(drawn) == len(segments(own))
    assert all(len(line.plain) == width for line in drawn)
    # every line keeps its flags and sequence numbers, whatever the width
    for line, rec in zip(drawn, segments(own), strict=True):
        assert f"{rec.flags} {rec.seq}" in line.plain
    assert len(ladder_header("h1 10.0.0.1:40000", "h2 10.0.0.2:80", "all", width).plain) == width


def test_arrows_slant_from_send_time_to_arrival_time(lossy: Run) -> None:
    own, peer = lossy.ladder("c1"), lossy.ladder("c1'")
    drawn = [t.plain for t in ladder_rows(own, peer, 100, left_host="h1")]
    timed = flights(own, peer)
    for line, f in zip(drawn, timed, strict=True):
        left, right = line[:8].strip(), line[-8:].strip()
        lane = line.split("│")[1]
        if f.rec.dropped:
            continue
        if f.rec.outbound:  # sent here (left) at f.sent, arrived there at f.arrived
            assert lane.endswith("▶") and lane.startswith("‾")
            assert float(left) == round(f.sent, 3) and float(right) == round(f.arrived or 0, 3)
            assert float(right) >= float(left)
        else:  # sent there (right) at f.sent, arrived here at f.arrived
            assert lane.startswith("◀") and lane.endswith("‾")
            assert float(right) == round(f.sent, 3) and float(left) >= float(right)


def test_drops_end_in_a_cross_at_the_link_that_lost_them(lossy: Run) -> None:
    own, peer = lossy.ladder("c1"), lossy.ladder("c1'")
    drawn = ladder_rows(own, peer, 100, left_host="h1")
    lost = [(line.plain, rec) for line, rec in zip(drawn, segments(own), strict=True)
            if rec.dropped]
    assert lost, "a 5% loss lost nothing?"
    for plain, rec in lost:
        lane = plain.split("│")[1]
        assert "✕" in lane and rec.link and rec.link in lane and "link loss" in lane
        cross = lane.index("✕")
        if rec.outbound:  # from the left lane; h1>s1 is the first hop, s1>h2 a later one
            assert plain.rstrip().endswith("…")  # it never arrived
            assert (cross < len(lane) // 2) == rec.link.startswith("h1>")
        else:  # the peer's, lost on its way here: nothing arrived on the left
            assert plain.startswith("       …")
            assert (cross > len(lane) // 2) == (not rec.link.endswith(">h1"))


def test_held_segments_are_marked() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 200ms", "hold h1>h2 DATA",
              'send c1 "abc"', "wait 100ms", "release all", "wait 100ms")
    own, peer = run.ladder("c1"), run.ladder("c1'")
    for width in (200, 100):
        line = next(t.plain for t in ladder_rows(own, peer, width) if "P. 1:4(3)" in t.plain)
        assert " held " in line and "‖" in line
        # held for 100 ms: it arrived 0.1 s after it left
        assert float(line[-8:]) - float(line[:8]) == pytest.approx(0.1)
    held = SegRecord(1.0, True, "P.", 1, 1, 100, 10, held=True)
    assert all("held" in lbl or lbl.endswith(" H") or lbl == "P." for lbl in labels(held))


def test_a_segment_the_peer_sent_still_held_shows_on_both_sides() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5", "hold h2>h1 FIN",
              "close c1'", "wait 2")
    own, peer = run.ladder("c1"), run.ladder("c1'")
    for mine, theirs, left_time in ((own, peer, True), (peer, own, False)):
        fin = [t.plain for t in ladder_rows(mine, theirs, 100) if "F. " in t.plain]
        assert len(fin) >= 1 and all(" held" in line and "‖" in line for line in fin), fin
        # it left c1' at 0.5 and has not reached c1: "…" on c1's lane
        assert fin[0].strip().startswith("…" if left_time else "0.500"), fin[0]
        assert fin[0].rstrip().endswith("0.500" if left_time else "…"), fin[0]


@pytest.mark.parametrize("width", [94, 96, 100, 60, 40])
def test_the_header_names_both_lanes_whole_at_any_width(width: int) -> None:
    head = ladder_header("h1 10.0.0.1:41128", "h2 10.0.0.2:80", "all", width, "CLOSED",
                         "CLOSED").plain
    assert len(head) == width
    lname, rname = re.split(r"  +", head[head.index("┌") + 1:head.index("┐")])
    # each whole: with or without its state, its address or host:port alone
    assert lname in ("h1 10.0.0.1:41128 (CLOSED)", "h1 10.0.0.1:41128", "h1:41128 (CLOSED)",
                     "h1:41128"), lname
    assert rname in ("h2 10.0.0.2:80 (CLOSED)", "h2 10.0.0.2:80", "h2:80 (CLOSED)",
                     "h2:80"), rname


def test_the_peers_retransmission_is_marked_on_both_sides() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5", "hold h2>h1 FIN",
              "close c1'", "wait 1", "release all", "wait 0.1")
    own, peer = run.ladder("c1"), run.ladder("c1'")
    for mine, theirs in ((own, peer), (peer, own)):
        fins = [t.plain for t in ladder_rows(mine, theirs, 120) if "F. 1:1(0)" in t.plain]
        assert len(fins) >= 2 and " rtx" not in fins[0], fins
        assert all(" rtx" in line for line in fins[1:]), fins


def test_a_segment_released_to_a_closed_socket_arrives_and_its_answer_shows() -> None:
    run = Run("listen h2:80", "connect h1 h2:80 as c3", "wait 0.5", "hold h1>h2 FIN",
              "close c3", "abort c3'", "wait 0.1", "release all", "wait 0.1")
    own, peer = run.ladder("c3"), run.ladder("c3'")
    lines = [t.plain for t in ladder_rows(own, peer, 100)]
    fin = next(line for line in lines if "F. 1:1(0)" in line)
    # it reached h2 at 0.6, where the listener dropped it ...
    assert "(ack in listen)" in fin and fin.rstrip().endswith("0.600"), fin
    # ... and h2 answered with a RST, which found no socket at h1
    rst = lines[-1]
    assert rst.startswith("   0.600") and "R 1:1(0)" in rst and "(no socket)" in rst, lines
    assert "…" not in "".join(lines)
    theirs = [t.plain for t in ladder_rows(peer, own, 100)]
    assert any("F. 1:1(0)" in line and "(ack in listen)" in line for line in theirs), theirs


def test_a_held_segment_overtaken_by_its_copy_arrives_after_its_release() -> None:
    """scenarios/rst-race.scn's second act: h2's FIN is held and sent again, h1's RST
    is held; h1, aborted, answers each FIN with a RST that looks like the held one."""
    run = Run("link h1 s1 delay=20ms", "link h2 s1 delay=20ms", "listen h2:80",
              "connect h1 h2:80 as c2", "wait 1", "hold h1>h2 RST count=1",
              "hold h2>h1 FIN count=1", "close c2'", "abort c2", "wait 400ms",
              "release all", "wait 1")
    own, peer = run.ladder("c2"), run.ladder("c2'")
    for mine, theirs in ((own, peer), (peer, own)):
        trips = {(f.rec.flags, f.rec.held, f.rec.retransmission, round(f.sent, 3)):
                 round(f.arrived or 0, 3) for f in flights(mine, theirs)
                 if f.rec.flags in ("F.", "R")}
        # the copy sent at 1.358 goes straight through; the held FIN only after the
        # release at 1.4, and each arrives 40 ms after it was let go
        assert trips[("F.", False, True, 1.358)] == 1.398, trips
        assert trips[("F.", True, False, 1.0)] == 1.44, trips
        # the held RST, and h1's two answers to the FINs (sent for no socket)
        assert trips[("R", True, False, 1.0)] == 1.44, trips
        assert trips[("R", False, False, 1.398)] == 1.438, trips
        assert trips[("R", False, False, 1.44)] == 1.48, trips


def test_segments_alike_that_no_hold_kept_pair_in_the_order_sent() -> None:
    # a slow link: full data segments take 26 ms, the FIN 3 ms; the FIN goes twice
    own: list[SegRecord | Marker] = [SegRecord(t, True, ".", 1 + i * 1448, 1, 100, 1448)
                                     for i, t in enumerate((80.0, 80.02, 80.04))]
    peer: list[SegRecord | Marker] = [SegRecord(r.t + 0.026, False, ".", r.seq, 1, 100, 1448)
                                      for r in own if isinstance(r, SegRecord)]
    fin = SegRecord(80.1053, True, "F.", 4345, 1, 100, 0)
    again = SegRecord(82.3125, True, "F.", 4345, 1, 100, 0, retransmission=True)
    own += [fin, again]
    peer += [SegRecord(80.1084, False, "F.", 4345, 1, 100, 0),
             SegRecord(82.3156, False, "F.", 4345, 1, 100, 0)]
    trips = {f.sent: f.arrived for f in flights(own, peer) if f.rec.flags == "F."}
    assert trips == {80.1053: 80.1084, 82.3125: 82.3156}


def test_labels_shorten_detail_by_detail() -> None:
    rec = SegRecord(1.0, True, "P.", 1, 1, 2048, 1460, retransmission=True)
    assert labels(rec) == ["P. 1:1461(1460) ack 1 win 2048 rtx", "P. 1:1461(1460) ack 1 rtx",
                           "P. 1:1461(1460) a1 rtx", "P. 1(1460) rtx", "P."]
    syn = SegRecord(0.0, True, "S", 0, 0, 65535, 0)
    assert labels(syn)[0] == "S 0:0(0) win 65535"  # no ACK flag: no ack number


class LadderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Ladder(id="ladder")


def test_a_changed_tail_is_redrawn_in_place() -> None:
    """A segment in flight gets its arrival time later: only the lines from it on are
    drawn again, the lines before stay the very same strips."""

    async def go() -> None:
        app = LadderApp()
        async with app.run_test(size=(80, 20)) as pilot:
            ladder = app.query_one(Ladder)
            first = [Text(f"line {i}") for i in range(50)]
            ladder.show("c1", [*first, Text("in flight …")])
            await pilot.pause()
            kept = ladder.lines[10]
            ladder.show("c1", [*first, Text("in flight 0.123"), Text("next")])
            await pilot.pause()
            assert [s.text for s in ladder.lines[-3:]] == ["line 49", "in flight 0.123", "next"]
            assert len(ladder.lines) == 52 and ladder.lines[10] is kept
            # another connection: everything is drawn again
            ladder.show("c2", [Text("other")])
            await pilot.pause()
            assert [s.text for s in ladder.lines] == ["other"]

    asyncio.run(go())


def test_the_ladder_and_log_tabs_show_their_lines_at_once() -> None:
    """Key 2 from the table: the pane is drawn as it appears, one line per segment as
    wide as the pane (Textual gives a pane shown while the diagram scrolls no Resize;
    the ladder must not wait for one)."""
    async def go() -> None:
        app = make_app()
        async with app.run_test(size=(100, 30)) as pilot:
            run(app, "link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1",
                "wait 1", 'send c1 "hi"', "wait 1")
            await pilot.pause()
            table = app.query_one("#sockets", DataTable)
            table.move_cursor(row=table.get_row_index("h1/1"))
            table.focus()
            await pilot.pause()
            await pilot.press("2")
            await pilot.pause(0.3)
            ladder = app.query_one("#ladder", Ladder)
            texts = [strip.text for strip in ladder.lines]
            assert len(texts) == 5  # SYN, SYN-ACK, ACK, data, its ACK
            width = ladder.scrollable_content_region.width
            assert all(len(t.rstrip()) <= width for t in texts) and "P. 1:3(2)" in texts[3]
            # the log (the same kind of pane) too
            table.focus()
            await pilot.pause()
            await pilot.press("6")
            await pilot.pause(0.3)
            log = app.query_one("#log", HistoryLog)
            assert len(log.lines) > 5 and any("ESTABLISHED" in s.text for s in log.lines)

    asyncio.run(go())
