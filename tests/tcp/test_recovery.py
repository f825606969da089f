"""Loss recovery as a whole: RFC 6675 NextSeg rule 3, and a lossy bulk transfer whose
losses RACK-TLP repairs without retransmission timeouts."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from fixtures import Harness, plain
from test_rack import MSS, SACK_PEER, _dupack

from tcplab.pair import Impairment, Pair
from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.events import Retransmitted, TimerFired
from tcplab.tcp.segment import ACK


def test_nextseg_rule_3_resends_a_hole_not_yet_lost_by_the_rules() -> None:
    """Eight segments, all there is to send; the 1st and the 6th are lost.  Only two
    segments are SACKed above the 6th, so IsLost (RFC 6675 §4) never calls it lost
    and there is no new data: rule 3 resends it instead of waiting for the RTO."""
    h = Harness(config=plain(rack=False), peer_options=SACK_PEER)
    h.established()
    h.at(1.0)
    first = h.call("send", bytes(MSS * 8))
    una = first.segs[0].seq
    h.at(1.02)
    for blocks in (((2, 2),), ((2, 3),), ((2, 4),), ((2, 5),), ((2, 5), (7, 7)),
                   ((2, 5), (7, 8))):
        _dupack(h, *blocks)
    assert h.conn.board.sacked_above(sq.add(una, 5 * MSS)) == 2 * MSS
    assert not h.conn.tx.loss.is_lost(sq.add(una, 5 * MSS))
    h.at(1.04)  # the 1st segment's retransmission arrives: up to the 6th is ACKed
    h.send(ACK, h.r(1), sq.add(una, 5 * MSS))
    resent = [(sq.sub(e.seq, una) // MSS + 1, e.why)
              for out in h.journal for e in out.of(Retransmitted)]
    assert resent == [(1, "sack"), (6, "sack")]
    assert not any(out.of(TimerFired) for out in h.journal)


class _Counting(Pair):
    """A Pair that counts the client's retransmissions by their reason."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.why: Counter[str] = Counter()

    def _drain(self, side: object, conn: Connection) -> None:  # type: ignore[override]
        if conn is self.client.conn:
            self.why.update(ev.why for ev in conn.tcb.events if isinstance(ev, Retransmitted))
        Pair._drain(side, conn)  # type: ignore[arg-type]


def _lossy(rack: bool, seed: int) -> Counter[str]:
    pair = _Counting(6_000_000, seed=seed, config=replace(Config(), rack=rack),
                     c2s=Impairment(loss=0.05, delay=0.01, bandwidth=10e6),
                     s2c=Impairment(delay=0.01, bandwidth=10e6))
    result = pair.run()
    assert result.intact and result.completed
    return pair.why


def test_a_lossy_transfer_needs_far_fewer_timeouts_with_rack_tlp() -> None:
    """6 MB at 5 % loss of data segments, 20 ms RTT, 10 Mbit/s: without RACK-TLP,
    lost retransmissions and tail losses are found only by the RTO; with it, by
    time (RACK) and by probes (TLP)."""
    with_rack: Counter[str] = Counter()
    without: Counter[str] = Counter()
    for seed in (1, 2, 3):
        with_rack += _lossy(True, seed)
        without += _lossy(False, seed)
    assert without["rto"] >= 30
    assert with_rack["rto"] * 10 <= without["rto"]
    assert with_rack["sack"] > 0


# --------------------------- limited transmit and the ssthresh it must not inflate
def _full_window(h: Harness) -> int:
    """Twenty segments queued at t=1 with the initial window (10) in flight; returns
    SND.UNA.  The peer's duplicate ACKs then SACK segments 2, 3, ... (1 is lost)."""
    h.established()
    h.at(1.0)
    out = h.call("send", bytes(MSS * 20))
    assert len(out.segs) == 10 and h.conn.cc.cwnd == 10 * MSS
    h.at(1.02)
    return out.segs[0].seq


def test_limited_transmit_is_not_granted_twice_for_one_sacked_segment() -> None:
    """RFC 3042 §2: each of the first two duplicate ACKs lets one new segment out,
    at most two beyond cwnd.  A SACKed segment counted out of flight is the same
    allowance; the two together let two segments per duplicate ACK out."""
    h = Harness(config=plain(rack=False), peer_options=SACK_PEER)
    _full_window(h)
    assert len(_dupack(h, (2, 2)).segs) == 1
    assert len(_dupack(h, (2, 3)).segs) == 1
    assert sq.sub(h.conn.snd_max, h.conn.snd_una) == 12 * MSS  # cwnd + 2 segments


def test_ssthresh_leaves_out_what_limited_transmit_sent() -> None:
    """RFC 5681 §3.2 step 2: at the third duplicate ACK ssthresh is half the flight
    *without* the segments limited transmit sent beyond cwnd: 10/2, not 12/2."""
    h = Harness(config=plain(rack=False), peer_options=SACK_PEER)
    una = _full_window(h)
    for last in (2, 3, 4):
        out = _dupack(h, (2, last))
    assert [e.seq for e in out.of(Retransmitted)] == [una]
    assert h.conn.cc.ssthresh == 5 * MSS


def test_ssthresh_halves_cwnd_when_rack_finds_the_loss() -> None:
    """The same with RACK: SACKs clock new segments out while the reordering window
    runs, but ssthresh is half of cwnd, not of the flight those grew."""
    h = Harness(config=plain(), peer_options=SACK_PEER)
    _full_window(h)
    _dupack(h, (2, 2))
    h.fire()  # the reordering timer: segment 1 is lost
    assert h.conn.tx.loss.mode == "sack"
    assert h.conn.cc.ssthresh == 5 * MSS


def test_ssthresh_is_a_whole_number_of_segments() -> None:
    """cwnd 11 segments when the loss is found: half is 5.5, and half a segment of
    cwnd would never let a segment out (only whole ones go, none past cwnd) while byte
    counting waited for it too; ssthresh = 5 segments, at most half (RFC 5681 eq. 4)."""
    h = Harness(config=plain(rack=False), peer_options=SACK_PEER)
    una = _full_window(h)
    out = h.send(ACK, h.r(1), sq.add(una, MSS))  # slow start: cwnd 11, two more go
    assert len(out.segs) == 2 and h.conn.cc.cwnd == 11 * MSS
    for last in (3, 4, 5):  # segment 2 is lost
        out = _dupack(h, (3, last))
    assert [e.seq for e in out.of(Retransmitted)] == [sq.add(una, MSS)]
    assert h.conn.cc.ssthresh == 5 * MSS
