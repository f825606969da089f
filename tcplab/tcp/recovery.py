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
for the RTO while nothing is in recovery and sends one probe (new data, or the last
segment again), which makes the receiver's ACK and SACK tell RACK what is missing.
Only when the probe goes unanswered does the RTO fire (:meth:`LossRecovery.on_rto`).

With ``rack`` off (or without SACK) the RFC 6675 IsLost / DupThresh rules decide
instead, and a tail loss waits for the RTO, as before RFC 8985.
"""

from __future__ import annotations

import errno as E
from abc import ABC, abstractmethod

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


class LossRecovery(ABC):
    """Loss detection and recovery (see the module docstring) and the sender's own
    state; the base of :class:`tcplab.tcp.sender.Sender`, which owns the output
    routine (the two modules are one part, split for size)."""

    __slots__ = ("_high_rxt", "_ka_probes", "_ka_sent", "_persist_backoff", "_probing",
                 "_pto_restart", "_recovery", "_rto_count", "_rto_recover", "_rtx_since",
                 "_timing", "_ts_floor", "board", "cc", "prr", "rack", "retransmits", "rtt",
                 "tcb")

    @abstractmethod
    def _send_data_segment(self, seq: int, n: int, now: float, why: Why | None,
                           reason: Why = Why.RTO) -> int: ...

    @abstractmethod
    def _send_fin(self, seq: int, now: float, why: Why | None,
                  reason: Why = Why.RTO) -> None: ...

    @abstractmethod
    def send_syn(self, now: float, ack: bool, retransmit: bool = False) -> None:
        """Send our SYN (``ack``: a SYN,ACK), first or again (``retransmit``)."""

    @abstractmethod
    def on_persist(self, now: float) -> None:
        """The persist timer fired (zero-window probe or SWS override)."""

    def __init__(self, tcb: Tcb) -> None:
        self.tcb = tcb
        config = tcb.config
        self.cc = NewReno(tcb.snd_mss, config.initial_window)
        self.rtt = RttEstimator(config.rto_initial, config.rto_min, config.rto_max)
        self.board = Scoreboard()
        self.rack = Rack()
        self.prr = Prr()
        self.retransmits = 0
        self._rto_count = 0
        self._rtx_since: float | None = None
        self._timing: tuple[int, float] | None = None  # (end seq, send time) for Karn
        self._recovery = NO_RECOVERY
        self._high_rxt = 0
        self._probing = False
        self._ts_floor: int | None = None  # echoes below this predate our last timeout
        self._persist_backoff = 0
        self._ka_probes = 0      # keep-alive probes unanswered so far
        self._ka_sent = 0.0      # when the last of them went
        self._rto_recover: int | None = None  # SND.MAX at the last timeout, until ACKed
        self._pto_restart = False  # new data went out or was ACKed: restart the PTO

    @property
    def _rack_on(self) -> bool:
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

    def _enter_recovery(self, now: float) -> None:
        t = self.tcb
        cc = self.cc
        cc.enter_recovery(t.in_flight, t.snd_max)
        self.rack.tlp_end = None  # a probe episode ends with recovery (RFC 8985 §7.4)
        if t.sack_ok and (self.board.sacked_bytes or self._rack_on):
            self._recovery = SACK_RECOVERY
            self._high_rxt = t.snd_una
            # RFC 6937: PRR paces the recovery from here (it replaces RFC 6675 §5
            # step 4.2, cwnd = ssthresh)
            self.prr.start(t.in_flight)
            if not self._rack_on:
                # RFC 6675 §5 step 4.3: the first segment presumed lost goes at once
                self._high_rxt = sq.add(t.snd_una, self._retransmit_head(now, Why.SACK))
        else:
            self._recovery = FAST_RECOVERY
            self._retransmit_head(now, Why.FAST)  # RFC 5681 §3.2 step 2

    def _exit_recovery(self) -> None:
        t = self.tcb
        cc = self.cc
        if self._recovery is SACK_RECOVERY:
            cc.exit_recovery(t.in_flight)
            cc.cwnd = cc.ssthresh  # RFC 6937 §3: at the end of recovery
        else:
            cc.exit_recovery(t.in_flight)
        self._recovery = NO_RECOVERY

    def _prr_update(self, delivered: int) -> None:
        """RFC 6937: cwnd = pipe + sndcnt after each ACK in SACK recovery."""
        t = self.tcb
        pipe = self._pipe()
        cc = self.cc
        cc.cwnd = pipe + self.prr.sndcnt(delivered, pipe, cc.ssthresh, t.snd_mss)

    def _retransmit_head(self, now: float, why: Why) -> int:
        """Resend the first unacknowledged segment; returns the data bytes resent."""
        t = self.tcb
        n = min(t.snd_mss, sq.sub(t.data_end(), t.snd_una))
        if n > 0:
            return self._send_data_segment(t.snd_una, n, now, why)
        if t.fin_queued and sq.lt(t.snd_una, t.snd_max):
            self._send_fin(t.snd_una, now, why)
        return 0

    def _is_lost(self, seq: int) -> bool:
        """RFC 6675 §4 IsLost: more than (DupThresh - 1) * SMSS bytes SACKed above."""
        t = self.tcb
        return self.board.sacked_above(seq) > (DUP_THRESH - 1) * t.snd_mss

    def _pipe(self) -> int:
        """RFC 6675 §4 'pipe': bytes in flight that are neither SACKed nor lost and not
        yet retransmitted (a retransmitted hole counts once more).  With RACK, "lost" is
        what RACK marked lost (RFC 8985 §6.2) and not yet sent again."""
        t = self.tcb
        board = self.board
        if self._rack_on:
            return max(0, t.in_flight - board.sacked_bytes + board.sacked_above(t.snd_nxt)
                       - self.rack.lost_bytes)
        lost = 0
        pos = sq.smax(self._high_rxt, t.snd_una)
        hole = board.next_hole(pos, 1 << 30)
        while hole is not None and self._is_lost(hole[0]):
            lost += sq.sub(hole[1], hole[0])
            hole = board.next_hole(hole[1], 1 << 30)
        return max(0, t.in_flight - board.sacked_bytes - lost)

    def _send_lost(self, now: float, why: Why) -> bool:
        """Retransmit the first segment presumed lost (RFC 6675 NextSeg rule 1: by
        RACK's marks, or by IsLost without RACK); False when there is none."""
        t = self.tcb
        if self._rack_on:
            rec = self.rack.first_lost()
            if rec is None:
                return False
            start, end = rec.start, rec.end
            self._resend(start, end, now, why)
            return not rec.lost  # (False if nothing could be sent: never loop on it)
        else:
            hole = self.board.next_hole(sq.smax(self._high_rxt, t.snd_una), t.snd_mss)
            if hole is None or not sq.lt(hole[0], t.snd_nxt) or not self._is_lost(hole[0]):
                return False
            start, end = hole
        self._resend(start, end, now, why)
        return True

    def _send_rule3(self, now: float) -> bool:
        """RFC 6675 NextSeg rule 3: nothing is lost by the rules and no new data can go,
        so resend the first unSACKed segment above HighRxt below the highest SACKed byte."""
        t = self.tcb
        hole = self.board.next_hole(sq.smax(self._high_rxt, t.snd_una), t.snd_mss)
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
            end = sq.add(start, self._send_data_segment(start, n, now, why))
        elif t.fin_queued and start == data_end:
            self._send_fin(start, now, why)
        if sq.gt(end, self._high_rxt):
            self._high_rxt = end

    # -- RACK-TLP (RFC 8985) ---------------------------------------------------------
    def _rack_detect(self, now: float) -> None:
        """RFC 8985 §6.2 step 5 and the reordering timer (§6.3); losses found outside
        recovery start fast recovery (§6.2 step 6), except while a timeout's
        go-back-N resending runs, which sends what RACK marks lost first anyway."""
        t = self.tcb
        rack = self.rack
        if not (self.board.sacked_bytes or rack.lost_bytes or rack.behind()):
            t.cancel(RACK)  # nothing delivered out of order: nothing to judge
            return
        in_rec = bool(self._recovery) or self._rto_recover is not None
        newly, wait = rack.detect(now, t.snd_nxt, rack.reo_wnd(in_rec, self.rtt.srtt))
        if wait > 0:
            t.arm(RACK, now + wait)
        else:
            t.cancel(RACK)
        if newly and not in_rec:
            self._enter_recovery(now)

    def on_rack_timer(self, now: float) -> None:
        """The reordering window of a segment sent before a delivered one has passed."""
        was = self._recovery
        self._rack_detect(now)
        if self._recovery is SACK_RECOVERY and not was:
            self._prr_update(0)

    def _pto_allowed(self) -> bool:
        """RFC 8985 §7.2: a probe timeout may be armed instead of the RTO: RACK-TLP on,
        not in recovery of either kind, no probe outstanding, the window open."""
        t = self.tcb
        return (t.sack_ok and t.config.rack  # self._rack_on
                and not self._recovery and self._rto_recover is None
                and self.rack.tlp_end is None and t.snd_wnd > 0 and not self._probing
                and t.syn_acked and t._state in SENDING_STATES)  # (property, directly)

    def _pto(self, now: float) -> float:
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
        if not self._pto_allowed() or t.snd_una == t.snd_max:
            return  # things changed: the output routine arms what is needed
        rack = self.rack
        data_end = t.data_end()
        avail = sq.sub(data_end, t.snd_nxt)
        wnd_room = sq.sub(sq.add(t.snd_una, t.snd_wnd), t.snd_nxt)
        if avail > 0 and wnd_room > 0:
            self._send_data_segment(t.snd_nxt, min(avail, t.snd_mss, wnd_room), now, None)
            rack.tlp_retrans = False
        elif t.fin_queued and t.snd_max == data_end:
            self._send_fin(data_end, now, None)
            rack.tlp_retrans = False
        else:
            last = rack.last
            if last is None:
                return
            start = sq.smax(last.start, t.snd_una)
            if start == data_end:
                self._send_fin(start, now, Why.TLP)
            else:  # sent as a regular send from there (the FIN may ride along)
                self._send_data_segment(start, sq.sub(data_end, start), now, None, Why.TLP)
            rack.tlp_retrans = True
            rack.tlp_tsval = t.ts_val(now) - t.ts_offset
        rack.tlp_end = t.snd_max
        t.cancel(TLP)
        self._rtx_since = self._rtx_since if self._rtx_since is not None else now
        t.arm(RTX, now + self.rtt.current())

    def _tlp_ack(self, ack: int, ts: Timestamps | None) -> None:
        """RFC 8985 §7.4: the probe is answered.  A retransmitted probe that repaired a
        loss (the ACK does not echo the original's timestamp: RFC 3522's test, as
        tcplab's receiver sends no D-SACK) calls for a congestion response."""
        t = self.tcb
        rack = self.rack
        if rack.tlp_end is None or sq.lt(ack, rack.tlp_end):
            return
        if rack.tlp_retrans:
            echo = self._echo_ms(ts)
            if echo is None or not sq.lt(echo, rack.tlp_tsval & 0xFFFFFFFF):
                cc = self.cc
                cc.ssthresh = max(cc.cwnd // 2, 2 * t.snd_mss)
                cc.cwnd = cc.ssthresh
        rack.tlp_end = None

    # -- the retransmission timeout (RFC 6298) -------------------------------------
    def _sample_rtt(self, seg: Segment, ts: Timestamps | None, now: float) -> None:
        """``ts``: the segment's timestamps option when timestamps are in use."""
        t = self.tcb
        floor = self._ts_floor
        if ts is not None and ts.ecr and (floor is None or sq.ge(ts.ecr, floor)):
            # RFC 7323 §4.1: the echoed timestamp times the segment it answers.  An echo
            # older than our last timeout answers a duplicate the receiver did not time
            # (RFC 7323 §4.3 R3 keeps TS.Recent), so it would measure the whole backoff.
            # ((t.ts_val(now) - TSecr) mod 2**32 ms, written out)
            self.rtt.sample(((t.ts_offset + int(now * 1000) - ts.ecr) & 0xFFFFFFFF)
                            / 1000)
            self._timing = None
        elif self._timing is not None and sq.ge(seg.ack, self._timing[0]):
            self.rtt.sample(now - self._timing[1])
            self._timing = None

    def on_rto(self, now: float) -> Why | None:
        """RFC 6298 §5.4-5.6 and RFC 5681 §3.1 on retransmission timeout.  Returns
        Why.RTO when the output pass that follows resends (go-back-N from SND.UNA, and
        a FIN already sent goes again), else None."""
        t = self.tcb
        if t.snd_una == t.snd_max:
            return None
        if t.snd_wnd == 0 and t.syn_acked and t.state in SENDING_STATES:
            # the peer shrank its window to zero under data in flight: probe it like any
            # zero window (RFC 9293 §3.8.6.1, MUST-35) instead of timing out
            self._probing = True
            self.on_persist(now)
            return None
        self._rto_count += 1
        handshake = t.state in (S.SYN_SENT, S.SYN_RECEIVED)
        limit = t.config.syn_retries if handshake else t.config.retries
        ut = t.config.user_timeout
        if self._rto_count > limit or (ut is not None and self._rtx_since is not None
                                       and now - self._rtx_since >= ut):
            self._on_rto_give_up("retransmissions gave up" if self._rto_count > limit
                                 else "user timeout")
            return None
        if self._rto_count == min(t.config.r1, limit):
            # RFC 9293 §3.8.3 (MUST-20, SHLD-9): at R1, tell the application and IP --
            # before R2 even when the retry limit is set below R1
            what = ("SYN" if t.state is S.SYN_SENT else "SYN,ACK") if not t.syn_acked \
                else "data" if sq.lt(t.snd_una, t.data_end()) else "FIN"
            t.emit(DeliveryTrouble(self._rto_count, what))
        self.rtt.back_off()
        self._timing = None  # Karn's rule: no sample from a retransmitted segment
        self._ts_floor = t.ts_val(now)
        if not t.syn_acked:
            self.send_syn(now, ack=t.state is not S.SYN_SENT, retransmit=True)
            t.arm(RTX, now + self.rtt.current())
            return Why.RTO  # a FIN queued behind the SYN goes again too
        if self._rto_count == 1:
            self.cc.on_timeout(t.in_flight)
        else:
            # RFC 5681 §3.1: ssthresh is held while the same segment times out again
            self.cc.cwnd = t.snd_mss
            self.cc.in_recovery = False
        # RFC 6675 §5.1: the SACK scoreboard survives the timeout (reneging is rare;
        # forgetting it would resend everything the peer already holds)
        self._recovery = NO_RECOVERY
        if self._rack_on:
            self.rack.on_timeout()
            t.cancel(RACK)
            t.cancel(TLP)
        self._rto_recover = t.snd_max
        t.snd_nxt = t.snd_una
        t.arm(RTX, now + self.rtt.current())
        return Why.RTO

    def _on_rto_give_up(self, reason: str) -> None:
        t = self.tcb
        t.fail(E.ETIMEDOUT, reason)
        t.goto(T.TIMEOUT, reason)
