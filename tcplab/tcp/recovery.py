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
Only when the probe goes unanswered does the RTO fire (:meth:`Sender._on_rto`).

With ``rack`` off (or without SACK) the RFC 6675 IsLost / DupThresh rules decide
instead, and a tail loss waits for the RTO, as before RFC 8985.
"""

from __future__ import annotations

from abc import abstractmethod

from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.congestion import DUP_THRESH
from tcplab.tcp.kinds import FAST_RECOVERY, NO_RECOVERY, RACK, RTX, SACK_RECOVERY, TLP, Why
from tcplab.tcp.prr import Prr
from tcplab.tcp.rack import Rack
from tcplab.tcp.segment import Timestamps
from tcplab.tcp.states import State
from tcplab.tcp.tcb import Tcb

S = State
SENDING_STATES = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK})
WC_DEL_ACK = 0.2    # RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK time
PTO_NO_RTT = 1.0    # RFC 8985 §7.2: the probe timeout before any RTT sample
PTO_MIN = 0.01      # a floor under 2*SRTT, so a near-zero RTT does not probe at once
                    # (Linux adds 2 ticks, 2-8 ms, for the same reason)


class LossRecovery(Tcb):
    """Loss detection and recovery (see the module docstring); the base of
    :class:`tcplab.tcp.sender.Sender`, which owns the output routine."""

    __slots__ = ("_pto_restart", "_rto_recover", "prr", "rack")

    @abstractmethod
    def _send_data_segment(self, seq: int, n: int, now: float, why: Why | None,
                           reason: Why = Why.RTO) -> int: ...

    @abstractmethod
    def _send_fin(self, seq: int, now: float, why: Why | None,
                  reason: Why = Why.RTO) -> None: ...

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.rack = Rack()
        self.prr = Prr()
        self._rto_recover: int | None = None  # SND.MAX at the last timeout, until ACKed
        self._pto_restart = False  # new data went out or was ACKed: restart the PTO

    @property
    def _rack_on(self) -> bool:
        """RACK-TLP (RFC 8985) runs: switched on and SACK in use (it needs SACK)."""
        return self.sack_ok and self.config.rack

    # -- recovery (RFC 6675 with RACK's or IsLost's losses, PRR's pace) --------------
    def _echo_ms(self, ts: Timestamps | None) -> int | None:
        """The ACK's echoed timestamp as our millisecond clock, or None."""
        if ts is None or not ts.ecr:
            return None
        return (ts.ecr - self._ts_offset) & 0xFFFFFFFF

    def _enter_recovery(self, now: float) -> None:
        cc = self.cc
        cc.enter_recovery(self.in_flight, self.snd_max)
        self.rack.tlp_end = None  # a probe episode ends with recovery (RFC 8985 §7.4)
        if self.sack_ok and (self.board.sacked_bytes or self._rack_on):
            self._recovery = SACK_RECOVERY
            self._high_rxt = self.snd_una
            # RFC 6937: PRR paces the recovery from here (it replaces RFC 6675 §5
            # step 4.2, cwnd = ssthresh)
            self.prr.start(self.in_flight)
            if not self._rack_on:
                # RFC 6675 §5 step 4.3: the first segment presumed lost goes at once
                self._high_rxt = sq.add(self.snd_una, self._retransmit_head(now, Why.SACK))
        else:
            self._recovery = FAST_RECOVERY
            self._retransmit_head(now, Why.FAST)  # RFC 5681 §3.2 step 2

    def _exit_recovery(self) -> None:
        cc = self.cc
        if self._recovery is SACK_RECOVERY:
            cc.exit_recovery(self.in_flight)
            cc.cwnd = cc.ssthresh  # RFC 6937 §3: at the end of recovery
        else:
            cc.exit_recovery(self.in_flight)
        self._recovery = NO_RECOVERY

    def _prr_update(self, delivered: int) -> None:
        """RFC 6937: cwnd = pipe + sndcnt after each ACK in SACK recovery."""
        pipe = self._pipe()
        cc = self.cc
        cc.cwnd = pipe + self.prr.sndcnt(delivered, pipe, cc.ssthresh, self.snd_mss)

    def _retransmit_head(self, now: float, why: Why) -> int:
        """Resend the first unacknowledged segment; returns the data bytes resent."""
        n = min(self.snd_mss, sq.sub(self._data_end(), self.snd_una))
        if n > 0:
            return self._send_data_segment(self.snd_una, n, now, why)
        if self._fin_queued and sq.lt(self.snd_una, self.snd_max):
            self._send_fin(self.snd_una, now, why)
        return 0

    def _is_lost(self, seq: int) -> bool:
        """RFC 6675 §4 IsLost: more than (DupThresh - 1) * SMSS bytes SACKed above."""
        return self.board.sacked_above(seq) > (DUP_THRESH - 1) * self.snd_mss

    def _pipe(self) -> int:
        """RFC 6675 §4 'pipe': bytes in flight that are neither SACKed nor lost and not
        yet retransmitted (a retransmitted hole counts once more).  With RACK, "lost" is
        what RACK marked lost (RFC 8985 §6.2) and not yet sent again."""
        board = self.board
        if self._rack_on:
            return max(0, self.in_flight - board.sacked_bytes + board.sacked_above(self.snd_nxt)
                       - self.rack.lost_bytes)
        lost = 0
        pos = sq.smax(self._high_rxt, self.snd_una)
        hole = board.next_hole(pos, 1 << 30)
        while hole is not None and self._is_lost(hole[0]):
            lost += sq.sub(hole[1], hole[0])
            hole = board.next_hole(hole[1], 1 << 30)
        return max(0, self.in_flight - board.sacked_bytes - lost)

    def _send_lost(self, now: float, why: Why) -> bool:
        """Retransmit the first segment presumed lost (RFC 6675 NextSeg rule 1: by
        RACK's marks, or by IsLost without RACK); False when there is none."""
        if self._rack_on:
            rec = self.rack.first_lost()
            if rec is None:
                return False
            start, end = rec.start, rec.end
            self._resend(start, end, now, why)
            return not rec.lost  # (False if nothing could be sent: never loop on it)
        else:
            hole = self.board.next_hole(sq.smax(self._high_rxt, self.snd_una), self.snd_mss)
            if hole is None or not sq.lt(hole[0], self.snd_nxt) or not self._is_lost(hole[0]):
                return False
            start, end = hole
        self._resend(start, end, now, why)
        return True

    def _send_rule3(self, now: float) -> bool:
        """RFC 6675 NextSeg rule 3: nothing is lost by the rules and no new data can go,
        so resend the first unSACKed segment above HighRxt below the highest SACKed byte."""
        hole = self.board.next_hole(sq.smax(self._high_rxt, self.snd_una), self.snd_mss)
        if hole is None or not sq.lt(hole[0], self.snd_nxt):
            return False
        self._resend(hole[0], hole[1], now, Why.SACK)
        return True

    def _resend(self, start: int, end: int, now: float, why: Why) -> None:
        """Send [start, end) again (at most one segment); HighRxt follows (RFC 6675 §4)."""
        data_end = self._data_end()
        n = min(sq.sub(end, start), sq.sub(data_end, start), self.snd_mss)
        if n > 0:
            end = sq.add(start, self._send_data_segment(start, n, now, why))
        elif self._fin_queued and start == data_end:
            self._send_fin(start, now, why)
        if sq.gt(end, self._high_rxt):
            self._high_rxt = end

    # -- RACK-TLP (RFC 8985) ---------------------------------------------------------
    def _rack_detect(self, now: float) -> None:
        """RFC 8985 §6.2 step 5 and the reordering timer (§6.3); losses found outside
        recovery start fast recovery (§6.2 step 6), except while a timeout's
        go-back-N resending runs, which sends what RACK marks lost first anyway."""
        rack = self.rack
        if not (self.board.sacked_bytes or rack.lost_bytes):
            self._cancel(RACK)  # nothing delivered out of order: nothing to judge
            return
        in_rec = bool(self._recovery) or self._rto_recover is not None
        newly, wait = rack.detect(now, self.snd_nxt, rack.reo_wnd(in_rec, self.rtt.srtt))
        if wait > 0:
            self._arm(RACK, now + wait)
        else:
            self._cancel(RACK)
        if newly and not in_rec:
            self._enter_recovery(now)

    def _on_rack_timer(self, now: float) -> None:
        """The reordering window of a segment sent before a delivered one has passed."""
        was = self._recovery
        self._rack_detect(now)
        if self._recovery is SACK_RECOVERY and not was:
            self._prr_update(0)

    def _pto_allowed(self) -> bool:
        """RFC 8985 §7.2: a probe timeout may be armed instead of the RTO: RACK-TLP on,
        not in recovery of either kind, no probe outstanding, the window open."""
        return (self.sack_ok and self.config.rack  # self._rack_on
                and not self._recovery and self._rto_recover is None
                and self.rack.tlp_end is None and self.snd_wnd > 0 and not self._probing
                and self.syn_acked and self._state in SENDING_STATES)

    def _pto(self, now: float) -> float:
        """RFC 8985 §7.2: when the probe is due -- 2*SRTT (plus the worst-case delayed
        ACK when one segment is in flight), never later than the RTO would fire."""
        srtt = self.rtt.srtt
        if srtt is None:
            pto = PTO_NO_RTT
        else:
            pto = max(2 * srtt, PTO_MIN)
            if self.in_flight <= self.snd_mss:
                pto += WC_DEL_ACK
        due = now + pto
        segs = self.rack.segs
        if segs:  # the RTO counts from the oldest segment's transmission
            due = min(due, max(segs[0].xmit + self.rtt.current(), now))
        return due

    def _on_tlp(self, now: float) -> None:
        """RFC 8985 §7.3: send one probe -- a new segment if the windows allow one
        (cwnd does not count), else the last segment sent again -- then arm the RTO."""
        if not self._pto_allowed() or self.snd_una == self.snd_max:
            return  # things changed: the output routine arms what is needed
        rack = self.rack
        data_end = self._data_end()
        avail = sq.sub(data_end, self.snd_nxt)
        wnd_room = sq.sub(sq.add(self.snd_una, self.snd_wnd), self.snd_nxt)
        if avail > 0 and wnd_room > 0:
            self._send_data_segment(self.snd_nxt, min(avail, self.snd_mss, wnd_room), now, None)
            rack.tlp_retrans = False
        elif self._fin_queued and self.snd_max == data_end:
            self._send_fin(data_end, now, None)
            rack.tlp_retrans = False
        else:
            last = rack.last
            if last is None:
                return
            start = sq.smax(last.start, self.snd_una)
            if start == data_end:
                self._send_fin(start, now, Why.TLP)
            else:  # sent as a regular send from there (the FIN may ride along)
                self._send_data_segment(start, sq.sub(data_end, start), now, None, Why.TLP)
            rack.tlp_retrans = True
            rack.tlp_tsval = self._ts_val(now) - self._ts_offset
        rack.tlp_end = self.snd_max
        self._cancel(TLP)
        self._rtx_since = self._rtx_since if self._rtx_since is not None else now
        self._arm(RTX, now + self.rtt.current())

    def _tlp_ack(self, ack: int, ts: Timestamps | None) -> None:
        """RFC 8985 §7.4: the probe is answered.  A retransmitted probe that repaired a
        loss (the ACK does not echo the original's timestamp: RFC 3522's test, as
        tcplab's receiver sends no D-SACK) calls for a congestion response."""
        rack = self.rack
        if rack.tlp_end is None or sq.lt(ack, rack.tlp_end):
            return
        if rack.tlp_retrans:
            echo = self._echo_ms(ts)
            if echo is None or not sq.lt(echo, rack.tlp_tsval & 0xFFFFFFFF):
                cc = self.cc
                cc.ssthresh = max(cc.cwnd // 2, 2 * self.snd_mss)
                cc.cwnd = cc.ssthresh
        rack.tlp_end = None
