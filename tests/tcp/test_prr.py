"""Proportional Rate Reduction (RFC 6937): the amount sent on each ACK of a recovery."""

from __future__ import annotations

from fixtures import Harness, plain
from test_rack import MSS, SACK_PEER, _dupack

from tcplab.tcp import seq as sq
from tcplab.tcp.prr import Prr
from tcplab.tcp.segment import ACK


def test_while_pipe_is_above_ssthresh_sending_is_proportional_to_delivery() -> None:
    prr = Prr()
    prr.start(20_000)  # RecoverFS; ssthresh is half of it
    # the first ACK: ceil(1000 * 10000 / 20000) = 500, but the fast retransmit goes
    assert prr.sndcnt(1000, 15_000, 10_000, 1000) == 1000
    prr.sent(1000)
    assert prr.sndcnt(1000, 15_000, 10_000, 1000) == 0      # 1000 allowed, 1000 out
    assert prr.sndcnt(1000, 15_000, 10_000, 1000) == 500    # 1500 allowed
    assert prr.sndcnt(1000, 15_000, 10_000, 1000) == 1000   # 2000 allowed
    prr.sent(1000)
    # over the whole reduction: half of what was delivered (8000), as ssthresh/RecoverFS
    # says, less the 2000 already sent
    assert prr.sndcnt(4000, 15_000, 10_000, 1000) == 8000 // 2 - 2000


def test_below_ssthresh_the_slow_start_reduction_bound_limits_the_burst() -> None:
    prr = Prr()
    prr.start(20_000)
    prr.sndcnt(1000, 15_000, 10_000, 1000)
    prr.sent(1000)
    # pipe fell far below ssthresh (many losses): grow back by at most what was
    # delivered plus one segment (PRR-SSRB), not to ssthresh at once
    assert prr.sndcnt(3000, 2000, 10_000, 1000) == max(4000 - 1000, 3000) + 1000
    # and never past ssthresh
    assert prr.sndcnt(5000, 9500, 10_000, 1000) == 500


def test_an_empty_pipe_always_gets_a_segment() -> None:
    prr = Prr()
    prr.start(10_000)
    prr.sndcnt(1000, 8000, 5000, 1000)
    prr.sent(1000)
    assert prr.sndcnt(0, 0, 5000, 1000) == 1000  # rather than waiting for the RTO


def test_the_engine_sends_what_prr_allows_on_each_ack() -> None:
    """Ten segments in flight, the first lost, the other nine SACKed one by one.  The
    first two duplicate ACKs each let one new segment out (limited transmit, RFC 3042:
    the SACKed segment that left the network is the same allowance, not a second
    one); recovery starts at the third SACK (RFC 8985 §6.2: DupThresh segments
    SACKed) with RecoverFS = 12 segments and ssthresh = 10/2 = 5 (the two limited
    transmit segments left out, RFC 5681 §3.2 step 2).  Then, in segments (RFC 6937
    §3, by hand):

    ack  delivered  pipe  rule          allowed            sends
    3    1          8     proportional  ceil(1*5/12)       the retransmission (first)
    4    2          8     proportional  0.83 - 1 out       nothing
    5    3          7     proportional  1.25 - 1           nothing (a quarter segment)
    6    4          6     proportional  1.67 - 1           nothing
    7    5          5     SSRB          5 - 5              nothing
    8    6          4     SSRB          min(5 - 4, 5 + 1)  segment 13
    9    7          4     SSRB          min(5 - 4, 5 + 1)  segment 14
    """
    h = Harness(config=plain(), peer_options=SACK_PEER)
    h.established()
    h.at(1.0)
    first = h.call("send", bytes(MSS * 20))
    assert len(first.segs) == 10
    una = first.segs[0].seq
    sent_per_ack = []
    cwnd = []
    for k, last in enumerate(range(2, 11)):
        h.at(1.02 + k * 0.0001)
        out = _dupack(h, (2, last))
        sent_per_ack.append([sq.sub(s.seq, una) // MSS + 1 for s in out.segs if s.payload])
        cwnd.append(h.conn.cc.cwnd // MSS)
    assert sent_per_ack == [[11], [12], [1], [], [], [], [], [13], [14]]
    assert h.conn.cc.ssthresh == 5 * MSS
    # cwnd = pipe + sndcnt after each ACK of the recovery (in whole segments)
    assert cwnd[2:] == [9, 8, 7, 6, 5, 5, 5]
    # the retransmission arrives: everything up to segment 14 is ACKed, past the
    # recovery point: recovery ends with cwnd = ssthresh (RFC 6937 §3)
    h.at(1.05)
    h.send(ACK, h.r(1), sq.add(una, 14 * MSS))
    assert h.conn.cc.cwnd == h.conn.cc.ssthresh == 5 * MSS
