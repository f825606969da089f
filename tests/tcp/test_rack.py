"""RACK-TLP (RFC 8985): loss marking by time, the reordering window, the reordering
timer and the tail loss probe -- the records alone, then the engine with a
handcrafted peer; ``rack=off`` falls back to the RFC 6675 rules and the RTO."""

from __future__ import annotations

import pytest
from fixtures import Harness, Out, plain

from tcplab.tcp import seq as sq
from tcplab.tcp.events import Retransmitted, TimerArmed
from tcplab.tcp.rack import Rack
from tcplab.tcp.segment import ACK, NOP, SACK_PERMITTED, Mss, Sack

MSS = 1460
SACK_PEER = (Mss(1460), SACK_PERMITTED)


# ---------------------------------------------------------------------- the records
def _three_sent() -> Rack:
    rack = Rack()
    for i, t in enumerate((0.000, 0.001, 0.002)):
        rack.sent(1000 + i * 100, 1100 + i * 100, t)
    return rack


def _sack(rack: Rack, start: int, end: int, now: float) -> None:
    rack.sacked(start, end, now, None)
    rack.end_ack()


def test_a_segment_sent_before_a_delivered_one_is_lost_once_rtt_has_passed() -> None:
    rack = _three_sent()
    _sack(rack, 1200, 1300, 0.050)  # the third, sent at 2 ms: RACK.rtt = 48 ms
    assert rack.rtt == pytest.approx(0.048)
    # no reordering window: the first (sent at 0) is due at 48 ms, the second at 49 ms
    newly, wait = rack.detect(0.050, 1300, 0.0)
    assert newly == 2 and wait == 0.0
    assert [r.lost for r in rack.segs] == [True, True, False]
    assert rack.lost_bytes == 200
    assert rack.first_lost() is rack.segs[0]


def test_the_reordering_window_delays_the_verdict_and_gives_the_timer_its_deadline() -> None:
    rack = _three_sent()
    _sack(rack, 1200, 1300, 0.050)
    # with 10 ms of reordering window the first is due at 58 ms, the second at 59 ms
    newly, wait = rack.detect(0.050, 1300, 0.010)
    assert newly == 0 and wait == pytest.approx(0.009)
    newly, wait = rack.detect(0.058, 1300, 0.010)
    assert newly == 1 and wait == pytest.approx(0.001)
    newly, wait = rack.detect(0.059, 1300, 0.010)
    assert newly == 1 and wait == 0.0


def test_the_reordering_window_is_a_quarter_of_min_rtt_until_dupthresh_sacks() -> None:
    rack = Rack()
    for i in range(5):
        rack.sent(i * 100, i * 100 + 100, 0.0)
    _sack(rack, 100, 200, 0.040)
    assert rack.min_rtt == pytest.approx(0.040)
    assert rack.reo_wnd(False, 0.050) == pytest.approx(0.010)   # RFC 8985 §6.2 step 4
    assert rack.reo_wnd(False, 0.005) == pytest.approx(0.005)   # never above SRTT
    assert rack.reo_wnd(True, 0.050) == 0.0                     # in recovery: none
    _sack(rack, 200, 400, 0.041)
    assert rack.segs_sacked == 3
    assert rack.reo_wnd(False, 0.050) == 0.0                    # DupThresh SACKed


def test_reordering_seen_keeps_the_window_open_even_in_recovery() -> None:
    rack = Rack()
    for i in range(4):
        rack.sent(i * 100, i * 100 + 100, 0.0)
    _sack(rack, 200, 400, 0.040)
    assert not rack.reordering_seen
    # the first segment, never retransmitted, arrives after later ones: reordering
    rack.acked(100, 0.045, None)
    rack.end_ack()
    assert rack.reordering_seen
    assert rack.reo_wnd(True, 0.050) == pytest.approx(0.010)


def test_a_lost_retransmission_is_marked_lost_again() -> None:
    rack = _three_sent()
    _sack(rack, 1100, 1300, 0.050)
    rack.detect(0.050, 1300, 0.0)
    assert rack.segs[0].lost
    rack.sent(1000, 1100, 0.060)  # the retransmission
    assert not rack.segs[0].lost and rack.segs[0].retrans and rack.lost_bytes == 0
    rack.sent(1300, 1400, 0.061)  # new data after it, delivered; the retransmission is not
    _sack(rack, 1300, 1400, 0.110)
    newly, _ = rack.detect(0.110, 1400, 0.0)
    assert newly == 1 and rack.segs[0].lost


def test_an_ack_too_fast_for_a_retransmission_teaches_no_rtt() -> None:
    rack = _three_sent()
    _sack(rack, 1100, 1200, 0.050)          # min_rtt 49 ms
    rack.sent(1000, 1100, 0.100)            # a (spurious) retransmission of the first
    rack.acked(1100, 0.101, None)           # 1 ms later: it answers the original
    rack.end_ack()
    assert rack.rtt == pytest.approx(0.049)
    assert rack.xmit_ts == pytest.approx(0.001)


def test_retransmitting_part_of_a_record_splits_it() -> None:
    rack = Rack()
    rack.sent(0, 300, 0.0)
    rack.sent(100, 200, 0.5)
    assert [(r.start, r.end, r.xmit, r.retrans) for r in rack.segs] == [
        (0, 100, 0.0, False), (100, 200, 0.5, True), (200, 300, 0.0, False)]


def test_records_follow_sequence_numbers_across_the_wrap() -> None:
    rack = Rack()
    start = 0xFFFFFF00
    for i in range(4):
        rack.sent(sq.add(start, i * 100), sq.add(start, i * 100 + 100), i * 0.001)
    _sack(rack, sq.add(start, 300), sq.add(start, 400), 0.050)
    newly, _ = rack.detect(0.050, sq.add(start, 400), 0.0)
    assert newly == 3
    rack.acked(sq.add(start, 200), 0.06, None)
    rack.end_ack()
    assert [r.start for r in rack.segs] == [sq.add(start, 200), sq.add(start, 300)]
    assert rack.lost_bytes == 100


# ---------------------------------------------------------------------- the engine
def _sender(**cfg: object) -> Harness:
    """Established at t=0.01 with a SACK-capable peer (RTT 10 ms), immediate ACKs."""
    h = Harness(config=plain(**cfg), peer_options=SACK_PEER)
    h.established()
    return h


def _write(h: Harness, segments: int, t: float) -> Out:
    h.at(t)
    out = h.call("send", bytes(MSS * segments))
    assert len(out.segs) == segments
    return out


def _dupack(h: Harness, *blocks: tuple[int, int]) -> Out:
    """A duplicate ACK of SND.UNA with SACK blocks in segment numbers (1 = first)."""
    opts = (NOP, NOP, Sack(tuple((h.l(1 + (a - 1) * MSS), h.l(1 + b * MSS))
                                 for a, b in blocks)))
    return h.send(ACK, h.r(1), h.conn.snd_una, options=opts)


def _why(outs: list[Out]) -> list[tuple[int, str]]:
    """(segment number, why) of every retransmission in ``outs``."""
    return [(sq.sub(e.seq, sq.add(outs[0].segs[0].seq, 0)) // MSS + 1, e.why)
            for out in outs for e in out.of(Retransmitted)]


def test_one_sacked_segment_finds_a_loss_after_the_reordering_window() -> None:
    """With DupThresh, one duplicate ACK would find nothing; RACK marks the first
    segment lost once a quarter RTT has passed since the second was delivered."""
    h = _sender()
    first = _write(h, 2, 1.0)
    h.at(1.015)
    out = _dupack(h, (2, 2))
    assert out.of(Retransmitted) == []
    deadline = h.conn.status().timers["rack"]
    # sent at 1.0, due RACK.rtt (15 ms) plus min_RTT/4 later (before the probe timeout)
    assert deadline == pytest.approx(1.0 + 0.015 + 0.015 / 4)
    fired = h.fire()
    assert h.now == pytest.approx(deadline)
    assert _why([first, fired]) == [(1, "sack")]
    assert fired.segs[0].seq == first.segs[0].seq


def test_rack_off_waits_for_dupthresh() -> None:
    h = _sender(rack=False)
    _write(h, 2, 1.0)
    h.at(1.02)
    out = _dupack(h, (2, 2))
    assert out.of(Retransmitted) == []
    assert "rack" not in h.conn.status().timers
    assert set(h.conn.status().timers) == {"rtx"}


def test_three_sacked_segments_find_the_loss_at_once() -> None:
    h = _sender()
    first = _write(h, 4, 1.0)
    h.at(1.02)
    _dupack(h, (2, 2))
    _dupack(h, (2, 3))
    out = _dupack(h, (2, 4))
    assert _why([first, out]) == [(1, "sack")]


def test_a_lost_retransmission_is_resent_without_a_timeout() -> None:
    h = _sender()
    h.at(1.0)
    first = h.call("send", bytes(MSS * 20))
    assert len(first.segs) == 10  # the initial window; the rest waits
    h.at(1.02)
    outs = [first]
    for last in (2, 3, 4):
        outs.append(_dupack(h, (2, last)))
    assert _why(outs) == [(1, "sack")]  # this retransmission is lost too
    # later segments are SACKed one by one; PRR lets new data out meanwhile
    t, last = 1.021, 4
    while not any(s.payload and sq.gt(s.seq, first.segs[-1].seq) for o in outs for s in o.segs):
        last += 1
        assert last <= 10, "PRR let new data out during recovery"
        h.at(t)
        outs.append(_dupack(h, (2, last)))
        t += 0.001
    # one RTT after the new data left, its SACK shows the retransmission (sent before
    # it) lost: RACK marks it again (RFC 8985 §6.2 step 5) and it goes once more
    resent: list[Retransmitted] = []
    while not resent:
        last += 1
        assert last <= 20
        h.at(t + 0.02)
        out = _dupack(h, (2, last))
        resent = [e for e in out.of(Retransmitted) if e.seq == first.segs[0].seq]
        t += 0.001
    assert resent[0].why == "sack"
    assert all(e.why != "rto" for o in h.journal for e in o.of(Retransmitted))


def _tail(h: Harness) -> tuple[Out, Out]:
    """Three segments at t=1; the peer ACKs two of them at once; the third is lost."""
    first = _write(h, 3, 1.0)
    h.at(1.02)
    ack = h.send(ACK, h.r(1), h.l(1 + 2 * MSS))
    return first, ack


def test_a_tail_loss_is_repaired_by_a_probe_not_by_the_rto() -> None:
    h = _sender()
    first, _ = _tail(h)
    timers = h.conn.status().timers
    assert set(timers) == {"tlp"}  # the probe timeout stands in for the RTO
    # one segment in flight: 2*SRTT (floored at 10 ms) plus the worst-case delayed ACK
    srtt = h.conn.rtt.srtt
    assert srtt is not None
    assert timers["tlp"] == pytest.approx(1.02 + max(2 * srtt, 0.01) + 0.2)
    probe = h.fire()
    assert probe.of(Retransmitted) == [Retransmitted(first.segs[2].seq, MSS, "tlp")]
    assert h.now < 1.0 + h.conn.config.rto_min  # long before any RTO
    assert [e.name for e in probe.of(TimerArmed)] == ["rtx"]  # RFC 8985 §7.3
    h.at(h.now + 0.02)
    done = h.send(ACK, h.r(1), h.l(1 + 3 * MSS))
    assert h.conn.snd_una == h.conn.snd_max and not h.conn.status().timers
    assert done.of(Retransmitted) == []
    # the probe repaired a real loss: one congestion response (RFC 8985 §7.4.2)
    assert h.conn.cc.cwnd == h.conn.cc.ssthresh


def test_rack_off_leaves_a_tail_loss_to_the_rto() -> None:
    h = _sender(rack=False)
    first, _ = _tail(h)
    assert set(h.conn.status().timers) == {"rtx"}
    out = h.fire()
    assert h.now >= 1.02 + h.conn.config.rto_min
    assert out.of(Retransmitted)[0].why == "rto"
    assert out.of(Retransmitted)[0].seq == first.segs[2].seq


def test_a_probe_sends_new_data_when_there_is_some() -> None:
    h = _sender(nagle=True)
    first, _ = _tail(h)
    h.at(1.03)
    held = h.call("send", b"x" * 10)  # Nagle holds it: data is unacknowledged
    held.nothing()
    probe = h.fire()
    assert probe.of(Retransmitted) == []
    assert [s.payload for s in probe.segs] == [b"x" * 10]
    assert probe.segs[0].seq == sq.add(first.segs[2].seq, MSS)


def test_no_probe_without_sack() -> None:
    h = Harness(config=plain(), peer_options=(Mss(1460),))
    h.established()
    _tail(h)
    assert set(h.conn.status().timers) == {"rtx"}


def test_a_segment_left_behind_a_cumulatively_acked_retransmission_is_lost() -> None:
    """Segments 1 and 5 of 5 are lost; SACKs of 2-4 have 1 resent.  The ACK of that
    retransmission covers 1-4 and leaves no SACKed byte, but it delivers a copy sent
    after segment 5: RACK marks 5 lost at once (RFC 8985 §6.2 step 5) instead of
    leaving it to the RTO (the stall seen under 5% random loss)."""
    h = _sender()
    first = _write(h, 5, 1.0)
    h.at(1.02)
    out = _dupack(h, (2, 4))
    assert _why([first, out]) == [(1, "sack")]
    assert h.conn.board.sacked_bytes == 3 * MSS
    h.at(1.04)
    ack = h.send(ACK, h.r(1), h.l(1 + 4 * MSS))  # the retransmission arrived; 5 did not
    assert h.conn.board.sacked_bytes == 0
    resent = ack.of(Retransmitted)
    assert resent == [Retransmitted(first.segs[4].seq, MSS, "sack")]
    assert "rto" not in [e.why for o in h.journal for e in o.of(Retransmitted)]


# ------------------------------------------- RFC 8985 §6.2 step 3: reordering, in order
def test_a_delayed_ack_arriving_with_a_sack_is_not_reordering() -> None:
    """The peer holds its ACK of segment 1 (delayed ACK); segment 2 is lost, so when 3
    arrives the one ACK covers 1 and SACKs 3.  Deliveries go in sequence order, the
    cumulative ACK first (RFC 8985 §6.2 step 3): segment 1 was delivered in order, no
    reordering is seen, and the reordering window closes in recovery (step 4)."""
    h = _sender()
    _write(h, 4, 1.0)
    h.at(1.02)
    opts = (NOP, NOP, Sack(((h.l(1 + 2 * MSS), h.l(1 + 3 * MSS)),)))
    h.send(ACK, h.r(1), h.l(1 + MSS), options=opts)
    rack = h.conn.tx.loss.rack
    assert rack.fack == h.l(1 + 3 * MSS)
    assert not rack.reordering_seen
    assert rack.reo_wnd(True, h.conn.rtt.srtt) == 0.0


def test_sack_blocks_are_delivered_in_sequence_order_not_as_listed() -> None:
    """One ACK brings two new SACK blocks, the newest first as RFC 2018 §4 has the
    receiver list them: segments 3 and 5 arrived (in that order), 2 and 4 did not.
    Nothing arrived out of order, so no reordering is seen."""
    h = _sender()
    _write(h, 6, 1.0)
    h.at(1.02)
    _dupack(h, (5, 5), (3, 3))
    rack = h.conn.tx.loss.rack
    assert rack.fack == h.l(1 + 5 * MSS)
    assert not rack.reordering_seen


def test_a_segment_delivered_below_a_later_delivery_is_still_reordering() -> None:
    """The same rule still finds real reordering: segment 3 is SACKed by one ACK, and
    the next ACK cumulatively acknowledges 1 and 2, never retransmitted."""
    h = _sender()
    _write(h, 4, 1.0)
    h.at(1.02)
    _dupack(h, (3, 3))
    assert not h.conn.tx.loss.rack.reordering_seen
    h.at(1.021)
    h.send(ACK, h.r(1), h.l(1 + 2 * MSS))
    assert h.conn.tx.loss.rack.reordering_seen


# ------------------------------------------------------ a probe during SACK recovery
def test_a_lost_retransmission_with_nothing_after_it_is_probed_not_left_to_the_rto() -> None:
    """Four segments, all there is; the first is lost and 2-4 are SACKed, so recovery
    resends it -- and that copy is lost too.  Nothing sent after it can be delivered,
    so RACK has nothing to judge by: without a probe in recovery, only the RTO (1 s)
    is left.  After 2*SRTT without an ACK the probe resends the highest unSACKed
    segment (not the SACKed last one); its ACK ends the recovery."""
    h = _sender()
    first = _write(h, 4, 1.0)
    h.at(1.02)
    outs = [_dupack(h, (2, 2)), _dupack(h, (2, 3)), _dupack(h, (2, 4))]
    assert _why([first, *outs]) == [(1, "sack")]
    assert h.conn.tx.loss.mode == "sack"
    timers = h.conn.status().timers
    assert set(timers) == {"tlp"}
    srtt = h.conn.rtt.srtt
    assert srtt is not None
    assert timers["tlp"] == pytest.approx(1.02 + max(2 * srtt, 0.01))
    probe = h.fire()
    assert probe.of(Retransmitted) == [Retransmitted(first.segs[0].seq, MSS, "tlp")]
    assert [e.name for e in probe.of(TimerArmed)] == ["rtx"]  # RFC 8985 §7.3
    h.at(h.now + 0.02)
    h.send(ACK, h.r(1), h.l(1 + 4 * MSS))
    assert h.conn.snd_una == h.conn.snd_max and not h.conn.tx.loss.mode
    cc = h.conn.cc
    assert cc.cwnd == cc.ssthresh  # one reduction for the episode, not a second
    assert "rto" not in [e.why for o in h.journal for e in o.of(Retransmitted)]


def test_a_probe_of_new_data_does_not_take_a_place_in_cwnd() -> None:
    """cwnd 2 in congestion avoidance (as after a recovery at the 2-segment floor):
    segments 1 and 2 go, 2 is lost and the peer holds its ACK of 1 (delayed ACK), so
    the probe timeout fires first and the probe sends segment 3 -- beyond cwnd, as
    RFC 8985 §7.3 has it: "at most one additional packet in flight beyond the
    congestion window".  When the ACK of 1 arrives, cwnd still has room for one
    segment beside 2: segment 4 goes.  (Counted inside cwnd, the probe left no room;
    with 2 and the probe lost too, only the RTO was left.)"""
    h = _sender()
    cc = h.conn.cc
    cc.cwnd = cc.ssthresh = 2 * MSS
    first = _write_some(h, 2, 10, 1.0)
    probe = h.fire()
    assert probe.of(Retransmitted) == []
    assert [s.seq for s in probe.segs] == [sq.add(first.segs[0].seq, 2 * MSS)]
    h.at(h.now + 0.02)
    out = h.send(ACK, h.r(1), h.l(1 + MSS))  # the delayed ACK of segment 1
    assert [s.seq for s in out.segs] == [sq.add(first.segs[0].seq, 3 * MSS)]
    assert set(h.conn.status().timers) == {"rtx"}  # one probe at a time (§7.3)


def _write_some(h: Harness, sent: int, written: int, t: float) -> Out:
    h.at(t)
    out = h.call("send", bytes(MSS * written))
    assert len(out.segs) == sent
    return out


def test_a_probe_when_everything_is_sacked_resends_snd_una() -> None:
    """The peer SACKed all that is outstanding without ACKing it (it may renege,
    RFC 2018 §8): the probe resends the first segment, not the SACKed last one."""
    h = _sender()
    first = _write(h, 2, 1.0)
    h.at(1.02)
    _dupack(h, (1, 2))
    probe = h.fire()
    assert probe.of(Retransmitted) == [Retransmitted(first.segs[0].seq, MSS, "tlp")]
