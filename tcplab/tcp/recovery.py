"""Loss recovery of the sending half: which segments are lost, what to resend and how
fast -- RFC 6675 SACK recovery with RACK-TLP loss detection (RFC 8985) and
Proportional Rate Reduction (RFC 6937); NewReno (RFC 6582) without SACK.

Theory of operation
-------------------
Outside recovery, every ACK feeds RACK (:mod:`tcplab.tcp.rack`) the segments it
delivered; RACK marks segments lost by time and arms the reordering timer ("rack")
for those whose verdict must wait.  A loss so found starts recovery: ssthresh is
halved, PRR (:mod:`tcplab.tcp.prr`) sets cwnd = pipe + sndcnt after each ACK, and the
output routine sends, in RFC 6675 NextSeg order, the lost segments (rule 1), new data
(rule 2), then unSACKed segments below the highest SACKed one (rule 3).  Recovery ends
when the ACK reaches the recovery point, with cwnd = ssthresh.

Without ACKs there is nothing for RACK to judge: the probe timeout ("tlp") stands in
for the RTO, outside RTO recovery (in SACK recovery too, once no ACK has come for
2*SRTT: a lost retransmission with all sent after it lost) and sends one probe (new
data, or the last unSACKed segment again), which makes the receiver's ACK and SACK
tell RACK what is missing.
Only when the probe goes unanswered does the RTO fire (:meth:`LossRecovery.on_rto`).

With ``rack`` off (or without SACK) the RFC 6675 IsLost / DupThresh rules decide
instead, and a tail loss waits for the RTO, as before RFC 8985.
"""

from __future__ import annotations

import errno as E
from typing import Protocol

from tcplab.tcp import seq as sq
from tcplab.tcp.congestion import DUP_THRESH, NewReno
from tcplab.tcp.events import DeliveryTrouble
from tcplab.tcp.kinds import FAST_RECOVERY, NO_RECOVERY, RACK, RTX, SACK_RECOVERY, TLP, Why
from tcplab.tcp.prr import Prr
from tcplab.tcp.rack import Rack
from tcplab.tcp.rto import RttEstimator
from tcplab.tcp.scoreboard import Scoreboard
from tcplab.tcp.segment import Segment, Timestamps
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.tcb import Tcb

S = State
T = Trigger
SENDING_STATES = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK})
WC_DEL_ACK = 0.2    # RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK time
PTO_NO_RTT = 1.0    # RFC 8985 §7.2: the probe timeout before any RTT sample
PTO_MIN = 0.01      # a floor under 2*SRTT, so a near-zero RTT does not probe at once
                    # (Linux adds 2 ticks, 2-8 ms, for the same reason)


class Transmit(Protocol):
    """What loss recovery asks of the sending part: put a segment on the wire.  The
    sender owns the output routine; recovery decides what goes again and when."""

    def send_data_segment(self, seq: int, n: int, now: float, why: Why | None,
                          reason: Why = Why.RTO) -> int:
        """Send up to ``n`` bytes from ``seq``; returns how many went."""

    def send_fin(self, seq: int, now: float, why: Why | None,
                 reason: Why = Why.RTO) -> None:
        """Send the FIN (numbered ``seq``)."""

    def send_syn(self, now: float, ack: bool, retransmit: bool = False) -> None:
        """Send our SYN (``ack``: a SYN,ACK), first or again (``retransmit``)."""


class LossRecovery:
    """Loss detection and recovery and the retransmission timeout (see the module
    docstring): a part of :class:`tcplab.tcp.sender.Sender`, which owns it, reads its
    variables and gives it the :class:`Transmit` it resends through."""

    __slots__ = ("board", "cc", "high_rxt", "mode", "out", "prr", "rack", "retransmits",
                 "rto_count", "rto_recover", "rtt", "rtx_since", "tcb", "timing",
                 "ts_floor")

    def __init__(self, tcb: Tcb, out: Transmit) -> None:
        self.tcb = tcb
        self.out = out
        config = tcb.config
        self.cc = NewReno(tcb.snd_mss, config.initial_window)
        self.rtt = RttEstimator(config.rto_initial, config.rto_min, config.rto_max)
        self.board = Scoreboard()
        self.rack = Rack()
        self.prr = Prr()
        self.retransmits = 0
        self.rto_count = 0   # timeouts in a row for the same data (RFC 6298 §5.5)
        self.rtx_since: float | None = None  # when the oldest unACKed segment went
        self.timing: tuple[int, float] | None = None  # (end seq, send time) for Karn
        self.mode = NO_RECOVERY
        self.high_rxt = 0     # RFC 6675 HighRxt
        self.ts_floor: int | None = None  # echoes below this predate our last timeout
        self.rto_recover: int | None = None  # SND.MAX at the last timeout, until ACKed

    @property
    def rack_on(self) -> bool:
        """RACK-TLP (RFC 8985) runs: switched on and SACK in use (it needs SACK)."""
        t = self.tcb
        return t.sack_ok and t.config.rack

    # -- recovery (RFC 6675 with RACK's or IsLost's losses, PRR's pace) --------------
    def _echo_ms(self, ts: Timestamps | None) -> int | None:
        """The ACK's echoed timestamp as our millisecond clock, or None."""
        t = self.tcb
        if ts is None or not ts.ecr:
            return None
        return (ts.ecr - t.ts_offset) & 0xFFFFFFFF

    def enter_recovery(self, now: float) -> None:
        """A loss is found: halve ssthresh and start SACK recovery paced by PRR, or
        NewReno's fast recovery without SACK (RFC 6675 §5, RFC 6937, RFC 6582)."""
        t = self.tcb
        cc = self.cc
        # RFC 5681 §3.2 step 2 (RFC 6675 §5 step 4.2): half the flight without what
        # limited transmit -- or a SACKed segment out of flight -- let out beyond cwnd
        cc.enter_recovery(min(t.in_flight, cc.cwnd), t.snd_max)
        self.rack.tlp_end = None  # a probe episode ends with recovery (RFC 8985 §7.4)
        if t.sack_ok and (self.board.sacked_bytes or self.rack_on):
            self.mode = SACK_RECOVERY
            self.high_rxt = t.snd_una
            # RFC 6937: PRR paces the recovery from here (it replaces RFC 6675 §5
            # step 4.2, cwnd = ssthresh)
            self.prr.start(t.in_flight)
            if not self.rack_on:
                # RFC 6675 §5 step 4.3: the first segment presumed lost goes at once
                self.high_rxt = sq.add(t.snd_una, self.retransmit_head(now, Why.SACK))
        else:
            self.mode = FAST_RECOVERY
            self.retransmit_head(now, Why.FAST)  # RFC 5681 §3.2 step 2

    def exit_recovery(self) -> None:
        """The ACK reached the recovery point: recovery ends."""
        t = self.tcb
        cc = self.cc
        if self.mode is SACK_RECOVERY:
            cc.exit_recovery(t.in_flight)
            cc.cwnd = cc.ssthresh  # RFC 6937 §3: at the end of recovery
        else:
            cc.exit_recovery(t.in_flight)
        self.mode = NO_RECOVERY

    def prr_update(self, delivered: int) -> None:
        """RFC 6937: cwnd = pipe + sndcnt after each ACK in SACK recovery."""
        t = self.tcb
        pipe = self.pipe()
        cc = self.cc
        cc.cwnd = pipe + self.prr.sndcnt(delivered, pipe, cc.ssthresh, t.snd_mss)

    def retransmit_head(self, now: float, why: Why) -> int:
        """Resend the first unacknowledged segment; returns the data bytes resent."""
        t = self.tcb
        n = min(t.snd_mss, sq.sub(t.data_end(), t.snd_una))
        if n > 0:
            return self.out.send_data_segment(t.snd_una, n, now, why)
        if t.fin_queued and sq.lt(t.snd_una, t.snd_max):
            self.out.send_fin(t.snd_una, now, why)
        return 0

    def is_lost(self, seq: int) -> bool:
        """RFC 6675 §4 IsLost: more than (DupThresh - 1) * SMSS bytes SACKed above."""
        t = self.tcb
        return self.board.sacked_above(seq) > (DUP_THRESH - 1) * t.snd_mss

    def pipe(self) -> int:
        """RFC 6675 §4 'pipe': bytes in flight that are neither SACKed nor lost and not
        yet retransmitted (a retransmitted hole counts once more).  With RACK, "lost" is
        what RACK marked lost (RFC 8985 §6.2) and not yet sent again."""
        t = self.tcb
        board = self.board
        if self.rack_on:
            return max(0, t.in_flight - board.sacked_bytes + board.sacked_above(t.snd_nxt)
                       - self.rack.lost_bytes)
        lost = 0
        pos = sq.smax(self.high_rxt, t.snd_una)
        hole = board.next_hole(pos, 1 << 30)
        while hole is not None and self.is_lost(hole[0]):
            lost += sq.sub(hole[1], hole[0])
            hole = board.next_hole(hole[1], 1 << 30)
        return max(0, t.in_flight - board.sacked_bytes - lost)

    def send_lost(self, now: float, why: Why) -> bool:
        """Retransmit the first segment presumed lost (RFC 6675 NextSeg rule 1: by
        RACK's marks, or by IsLost without RACK); False when there is none."""
        t = self.tcb
        if self.rack_on:
            rec = self.rack.first_lost()
            if rec is None:
                return False
            start, end = rec.start, rec.end
            self._resend(start, end, now, why)
            return not rec.lost  # (False if nothing could be sent: never loop on it)
        else:
            hole = self.board.next_hole(sq.smax(self.high_rxt, t.snd_una), t.snd_mss)
            if hole is None or not sq.lt(hole[0], t.snd_nxt) or not self.is_lost(hole[0]):
                return False
            start, end = hole
        self._resend(start, end, now, why)
        return True

    def send_rule3(self, now: float) -> bool:
        """RFC 6675 NextSeg rule 3: nothing is lost by the rules and no new data can go,
        so resend the first unSACKed segment above HighRxt below the highest SACKed byte."""
        t = self.tcb
        hole = self.board.next_hole(sq.smax(self.high_rxt, t.snd_una), t.snd_mss)
        if hole is None or not sq.lt(hole[0], t.snd_nxt):
            return False
        self._resend(hole[0], hole[1], now, Why.SACK)
        return True

    def _resend(self, start: int, end: int, now: float, why: Why) -> None:
        """Send [start, end) again (at most one segment); HighRxt follows (RFC 6675 §4)."""
        t = self.tcb
        data_end = t.data_end()
        n = min(sq.sub(end, start), sq.sub(data_end, start), t.snd_mss)
        if n > 0:
            end = sq.add(start, self.out.send_data_segment(start, n, now, why))
        elif t.fin_queued and start == data_end:
            self.out.send_fin(start, now, why)
        if sq.gt(end, self.high_rxt):
            self.high_rxt = end

    # -- RACK-TLP (RFC 8985) ---------------------------------------------------------
    def rack_detect(self, now: float) -> None:
        """RFC 8985 §6.2 step 5 and the reordering timer (§6.3); losses found outside
        recovery start fast recovery (§6.2 step 6), except while a timeout's
        go-back-N resending runs, which sends what RACK marks lost first anyway."""
        t = self.tcb
        rack = self.rack
        if not (self.board.sacked_bytes or rack.lost_bytes or rack.behind()):
            t.cancel(RACK)  # nothing delivered out of order: nothing to judge
            return
        in_rec = bool(self.mode) or self.rto_recover is not None
        newly, wait = rack.detect(now, t.snd_nxt, rack.reo_wnd(in_rec, self.rtt.srtt))
        if wait > 0:
            t.arm(RACK, now + wait)
        else:
            t.cancel(RACK)
        if newly and not in_rec:
            self.enter_recovery(now)

    def on_rack_timer(self, now: float) -> None:
        """The reordering window of a segment sent before a delivered one has passed."""
        was = self.mode
        self.rack_detect(now)
        if self.mode is SACK_RECOVERY and not was:
            self.prr_update(0)

    def pto_allowed(self) -> bool:
        """RFC 8985 §7.2: a probe timeout may be armed instead of the RTO: RACK-TLP on,
        not in RTO recovery, no probe outstanding, the window open.

        Unlike RFC 8985 §7.2, also during SACK recovery.  The RFC leaves recovery out
        because RACK finds lost retransmissions there -- but only from the delivery of
        something sent after them.  When a retransmission and everything sent after it
        are lost (a flight of two at the 2-segment ssthresh floor, one time in 400 at 5%
        loss), no ACK comes back and only the RTO, 1 s at least, is left.  A probe
        after 2*SRTT without an ACK (restarted by every ACK that delivers data in
        recovery, so it fires only once the ACK clock has stopped) brings the SACK that
        lets RACK mark them lost.  It is one segment beyond cwnd at most, once per
        probe timeout, like the PTO of QUIC (RFC 9002 §6.2, which runs in recovery
        too); FreeBSD's RACK stack probes in recovery as well (rack_tlp_in_recovery)."""
        t = self.tcb
        return (t.sack_ok and t.config.rack  # self.rack_on
                and self.mode is not FAST_RECOVERY and self.rto_recover is None
                # (an open window: a zero-window probe runs only while SND.WND = 0)
                and self.rack.tlp_end is None and t.snd_wnd > 0
                and t.syn_acked and t._state in SENDING_STATES)  # (property, directly)

    def pto(self, now: float) -> float:
        """RFC 8985 §7.2: when the probe is due -- 2*SRTT (plus the worst-case delayed
        ACK when one segment is in flight), never later than the RTO would fire."""
        t = self.tcb
        srtt = self.rtt.srtt
        if srtt is None:
            pto = PTO_NO_RTT
        else:
            pto = max(2 * srtt, PTO_MIN)
            if t.in_flight <= t.snd_mss:
                pto += WC_DEL_ACK
        due = now + pto
        segs = self.rack.segs
        if segs:  # the RTO counts from the oldest segment's transmission
            due = min(due, max(segs[0].xmit + self.rtt.current(), now))
        return due

    def on_tlp(self, now: float) -> None:
        """RFC 8985 §7.3: send one probe -- a new segment if the windows allow one
        (cwnd does not count), else the last segment sent again -- then arm the RTO."""
        t = self.tcb
        if not self.pto_allowed() or t.snd_una == t.snd_max:
            return  # things changed: the output routine arms what is needed
        rack = self.rack
        data_end = t.data_end()
        avail = sq.sub(data_end, t.snd_nxt)
        wnd_room = sq.sub(sq.add(t.snd_una, t.snd_wnd), t.snd_nxt)
        rack.tlp_extra = 0
        if avail > 0 and wnd_room > 0:
            rack.tlp_extra = self.out.send_data_segment(
                t.snd_nxt, min(avail, t.snd_mss, wnd_room), now, None)
            rack.tlp_retrans = False
        elif t.fin_queued and t.snd_max == data_end:
            self.out.send_fin(data_end, now, None)
            rack.tlp_retrans = False
        else:
            last = rack.last
            if last is None:
                return
            if last.sacked:
                # the peer SACKed the last segment (in recovery, mostly): sending it
                # again would teach RACK nothing.  Probe with the highest unSACKed one
                # instead, the segment RFC 6675's rescue retransmission picks (§4
                # NextSeg rule 4); all SACKed but not ACKed (the peer reneged): SND.UNA
                rec = next((r for r in reversed(rack.segs) if not r.sacked), rack.segs[0])
                start = sq.smax(rec.start, t.snd_una)
                n = min(sq.sub(rec.end, start), sq.sub(data_end, start), t.snd_mss)
                if n > 0:
                    self.out.send_data_segment(start, n, now, Why.TLP)
                else:
                    self.out.send_fin(start, now, Why.TLP)
            elif (start := sq.smax(last.start, t.snd_una)) == data_end:
                self.out.send_fin(start, now, Why.TLP)
            else:  # sent as a regular send from there (the FIN may ride along)
                self.out.send_data_segment(start, sq.sub(data_end, start), now, None, Why.TLP)
            rack.tlp_retrans = True
            rack.tlp_tsval = t.ts_val(now) - t.ts_offset
        if self.mode:
            # what a probe in recovery repairs belongs to this recovery's one reduction
            # (RFC 6675 §5, RFC 5681 §3.2): no second response when it is ACKed (§7.4)
            rack.tlp_retrans = False
            rack.tlp_extra = 0
        rack.tlp_end = t.snd_max
        t.cancel(TLP)
        self.rtx_since = self.rtx_since if self.rtx_since is not None else now
        t.arm(RTX, now + self.rtt.current())

    def tlp_ack(self, ack: int, ts: Timestamps | None) -> None:
        """RFC 8985 §7.4: the probe is answered.  A retransmitted probe that repaired a
        loss (the ACK does not echo the original's timestamp: RFC 3522's test, as
        tcplab's receiver sends no D-SACK) calls for a congestion response: ssthresh
        and cwnd halved (RFC 5681 §3.1 eq. 4 with cwnd as the flight)."""
        rack = self.rack
        if rack.tlp_end is None or sq.lt(ack, rack.tlp_end):
            return
        if rack.tlp_retrans:
            echo = self._echo_ms(ts)
            if echo is None or not sq.lt(echo, rack.tlp_tsval & 0xFFFFFFFF):
                cc = self.cc
                cc.ssthresh = cc.cwnd = cc.halved(cc.cwnd)
        rack.tlp_end = None

    # -- the retransmission timeout (RFC 6298) -------------------------------------
    def sample_rtt(self, seg: Segment, ts: Timestamps | None, now: float) -> None:
        """``ts``: the segment's timestamps option when timestamps are in use."""
        t = self.tcb
        floor = self.ts_floor
        if ts is not None and ts.ecr and (floor is None or sq.ge(ts.ecr, floor)):
            # RFC 7323 §4.1: the echoed timestamp times the segment it answers.  An echo
            # older than our last timeout answers a duplicate the receiver did not time
            # (RFC 7323 §4.3 R3 keeps TS.Recent), so it would measure the whole backoff.
            # ((t.ts_val(now) - TSecr) mod 2**32 ms, written out)
            self.rtt.sample(((t.ts_offset + int(now * 1000) - ts.ecr) & 0xFFFFFFFF)
                            / 1000)
            self.timing = None
        elif self.timing is not None and sq.ge(seg.ack, self.timing[0]):
            self.rtt.sample(now - self.timing[1])
            self.timing = None

    def on_rto(self, now: float) -> Why | None:
        """RFC 6298 §5.4-5.6 and RFC 5681 §3.1 on retransmission timeout, with
        something outstanding and the window open.  Returns Why.RTO when the output
        pass that follows resends (go-back-N from SND.UNA, and a FIN already sent goes
        again), else None."""
        t = self.tcb
        self.rto_count += 1
        handshake = t.state in (S.SYN_SENT, S.SYN_RECEIVED)
        limit = t.config.syn_retries if handshake else t.config.retries
        ut = t.config.user_timeout
        if self.rto_count > limit or (ut is not None and self.rtx_since is not None
                                       and now - self.rtx_since >= ut):
            self._on_rto_give_up("retransmissions gave up" if self.rto_count > limit
                                 else "user timeout")
            return None
        if self.rto_count == min(t.config.r1, limit):
            # RFC 9293 §3.8.3 (MUST-20, SHLD-9): at R1, tell the application and IP --
            # before R2 even when the retry limit is set below R1
            what = ("SYN" if t.state is S.SYN_SENT else "SYN,ACK") if not t.syn_acked \
                else "data" if sq.lt(t.snd_una, t.data_end()) else "FIN"
            t.emit(DeliveryTrouble(self.rto_count, what))
        self.rtt.back_off()
        self.timing = None  # Karn's rule: no sample from a retransmitted segment
        self.ts_floor = t.ts_val(now)
        if not t.syn_acked:
            self.out.send_syn(now, ack=t.state is not S.SYN_SENT, retransmit=True)
            t.arm(RTX, now + self.rtt.current())
            return Why.RTO  # a FIN queued behind the SYN goes again too
        if self.rto_count == 1:
            self.cc.on_timeout(t.in_flight)
        else:
            # RFC 5681 §3.1: ssthresh is held while the same segment times out again
            self.cc.cwnd = t.snd_mss
            self.cc.in_recovery = False
        # RFC 6675 §5.1: the SACK scoreboard survives the timeout (reneging is rare;
        # forgetting it would resend everything the peer already holds)
        self.mode = NO_RECOVERY
        if self.rack_on:
            self.rack.on_timeout()
            t.cancel(RACK)
            t.cancel(TLP)
        self.rto_recover = t.snd_max
        t.snd_nxt = t.snd_una
        t.arm(RTX, now + self.rtt.current())
        return Why.RTO

    def _on_rto_give_up(self, reason: str) -> None:
        t = self.tcb
        t.fail(E.ETIMEDOUT, reason)
        t.goto(T.TIMEOUT, reason)
