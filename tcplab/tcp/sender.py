"""The sending part of a connection: option negotiation, windows, Nagle, congestion
control, zero-window probes, keep-alives and the output routine.  It owns its loss
recovery and retransmission timeout (``loss``, :mod:`tcplab.tcp.recovery`), which
decides what goes again and sends it through this sender's ``send_*`` methods.  The
variables it shares with the receiving part are in the :class:`~tcplab.tcp.tcb.Tcb`.

Theory of operation
-------------------
Sequence space: the SYN takes ISS, data starts at ISS+1 and the FIN, once the user
closes, takes the number after the last data byte.  ``sndq`` holds every byte the
user wrote that is not yet acknowledged; its first byte has number ``sndq_seq``.
SND.NXT is the next number to send; SND.MAX the highest ever sent (they differ after
a retransmission timeout, when sending goes back to SND.UNA: RFC 6298 §5.4, "go back N").

:meth:`Sender.output` runs after every input.  It sends, in this order: segments presumed
lost during loss recovery (RFC 6675 NextSeg; which ones and how fast is
:mod:`tcplab.tcp.recovery`: RACK-TLP, PRR), new data the windows allow (RFC 5681, Nagle
and sender-side silly-window avoidance, RFC 9293 §3.7.4 and §3.8.6.2.1), the FIN, and
finally a bare ACK if one is owed and nothing else carried it.  It then sets the
retransmission (or, RFC 8985, tail loss probe) and persist timers to match what is
outstanding, and the keep-alive timer while nothing is.

The receiving part (:class:`tcplab.tcp.arrival.Arrival`) and the connection call in
through the public methods: :meth:`Sender.process_ack` for every acceptable ACK, the
handshake's :meth:`Sender.send_syn`, :meth:`Sender.negotiate` and
:meth:`Sender.ack_of_syn`, :meth:`Sender.close_send`, the timers' ``on_*`` methods and
:meth:`Sender.output`.  The sender never calls the receiving part.
"""

from __future__ import annotations

import errno as E

from tcplab.tcp import seq as sq
from tcplab.tcp.congestion import DUP_THRESH, NewReno
from tcplab.tcp.events import Retransmitted
from tcplab.tcp.kinds import (
    FAST_RECOVERY,
    KEEPALIVE,
    PERSIST,
    RACK,
    RTX,
    SACK_RECOVERY,
    TLP,
    Why,
)
from tcplab.tcp.recovery import SENDING_STATES, LossRecovery
from tcplab.tcp.segment import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    Segment,
    Timestamps,
)
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.tcb import Tcb

S = State
T = Trigger
_MASK, _HALF = sq.MASK, sq.HALF  # the per-segment paths below do sequence arithmetic inline
_SENDING = SENDING_STATES
_NO_ACK = frozenset({S.CLOSED, S.LISTEN, S.SYN_SENT})
SWS_OVERRIDE = 0.2  # seconds (RFC 1122 §4.2.3.4: 0.1-1.0 s)


# states in which an idle connection is probed (those whose give-up row is TIMEOUT)
_KEEPALIVE = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})


class Sender:
    """The send side's algorithms and the output routine (see the module docstring).
    ``loss`` is its loss recovery, which resends through this sender."""

    __slots__ = ("_ka_probes", "_ka_sent", "_persist_backoff", "_probing", "_pto_restart",
                 "loss", "tcb")

    def __init__(self, tcb: Tcb) -> None:
        self.tcb = tcb
        self.loss = LossRecovery(tcb, self)
        self._probing = False   # probing a zero window (persist timer)
        self._persist_backoff = 0
        self._ka_probes = 0      # keep-alive probes unanswered so far
        self._ka_sent = 0.0      # when the last of them went
        self._pto_restart = False  # new data went out or was ACKed: restart the PTO

    # -- timers run by the loss recovery -------------------------------------------------
    def on_rto(self, now: float) -> Why | None:
        """The retransmission timer fired (:meth:`LossRecovery.on_rto`); returns the
        reason the output pass that follows resends for, if it does."""
        t = self.tcb
        if t.snd_una == t.snd_max:
            return None
        if t.snd_wnd == 0 and t.syn_acked and t.state in _SENDING:
            # the peer shrank its window to zero under data in flight: probe it like any
            # zero window (RFC 9293 §3.8.6.1, MUST-35) instead of timing out
            self._probing = True
            self.on_persist(now)
            return None
        return self.loss.on_rto(now)

    def on_tlp(self, now: float) -> None:
        """The probe timeout fired (RFC 8985 §7.3, :meth:`LossRecovery.on_tlp`)."""
        self.loss.on_tlp(now)

    def on_rack_timer(self, now: float) -> None:
        """The reordering timer fired (RFC 8985 §6.3)."""
        self.loss.on_rack_timer(now)

    # -- handshake -------------------------------------------------------------------
    def send_syn(self, now: float, ack: bool, retransmit: bool = False) -> None:
        """Send our SYN (``ack``: a SYN,ACK), first or again (``retransmit``)."""
        t = self.tcb
        loss = self.loss
        ecr = t.ts_recent if (ack and t.ts_ok) else 0
        window = min(t.rcv_window(), 0xFFFF)  # never scaled in a SYN (RFC 7323 §2.2)
        flags = SYN | ACK if ack else SYN
        seg = Segment(t.local[1], t.rport, t.iss, t.rcv_nxt if ack else 0,
                      flags, window, t.syn_options(now, ack, ecr))
        if retransmit:
            loss.retransmits += 1
            t.emit(Retransmitted(t.iss, 1, Why.RTO))
        else:
            loss.timing = (sq.add(t.iss, 1), now)
        t.snd_nxt = sq.add(t.iss, 1)
        t.snd_max = sq.smax(t.snd_max, t.snd_nxt)
        t.rcv_adv = sq.add(t.rcv_nxt, window)
        t.after_emit(seg, now)
        if RTX not in t.timers:
            loss.rtx_since = now
            t.arm(RTX, now + loss.rtt.current())

    def negotiate(self, seg: Segment, now: float) -> None:
        """Read the peer's SYN options (RFC 9293 §3.7.1, RFC 7323, RFC 2018); congestion
        control starts from the MSS they give."""
        t = self.tcb
        t.negotiate(seg)
        self.loss.cc = NewReno(t.snd_mss, t.config.initial_window)

    def ack_of_syn(self, seg: Segment, now: float) -> None:
        """``seg`` acknowledges our SYN: SND.UNA moves, the first RTT sample."""
        t = self.tcb
        loss = self.loss
        t.syn_acked = True
        t.ka_heard = now
        t.snd_una = seg.ack
        if sq.lt(t.snd_nxt, t.snd_una):
            t.snd_nxt = t.snd_una
        if loss.rto_count:
            # RFC 6298 §5.7: a SYN was lost, so start data with a conservative RTO
            loss.rtt.rto = max(loss.rtt.rto, min(3 * t.config.rto_initial,
                                                 t.config.rto_max))
            loss.rtt.backoff = 0
        else:
            loss.sample_rtt(seg, seg.timestamps() if t.ts_ok else None, now)
        loss.rto_count = 0
        if t.snd_una == t.snd_max:
            t.cancel(RTX)
            loss.rtx_since = None

    # -- receiving ACKs --------------------------------------------------------------
    def update_window(self, seg: Segment, force: bool = False, syn: bool = False) -> None:
        """RFC 9293 §3.10.7.4 fifth step: SND.WL1/SND.WL2 guard against old segments.
        ``syn``: the window came on a SYN, which is never scaled (RFC 7323 §2.2)."""
        t = self.tcb
        s0, wl1 = seg.seq, t.snd_wl1
        # SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and SND.WL2 <= SEG.ACK
        if not (force or ((wl1 - s0) & _MASK) >= _HALF
                or (wl1 == s0 and ((seg.ack - t.snd_wl2) & _MASK) <= _HALF)):
            return
        unscaled = syn or bool(seg.flags & SYN)
        wnd = seg.window if unscaled else seg.window << t.snd_wscale
        t.snd_wnd = wnd
        t.snd_wl1 = s0
        t.snd_wl2 = seg.ack
        if wnd > t.max_snd_wnd:
            t.max_snd_wnd = wnd
        if wnd > 0:
            # an open window ends probing and any SWS override wait (re-armed by the
            # output routine if still needed)
            self._probing = False
            self._persist_backoff = 0
            if PERSIST in t.timers:
                t.cancel(PERSIST)

    def process_ack(self, seg: Segment, ts: Timestamps | None, now: float,
                     syn: bool = False) -> bool:
        """RFC 9293 §3.10.7.4 fifth step for synchronized states.  False = drop the rest."""
        t = self.tcb
        loss = self.loss
        ack = seg.ack
        snd_una, snd_max = t.snd_una, t.snd_max
        if ((snd_max - ack) & _MASK) >= _HALF:  # ack > SND.MAX
            t.ack_now = True  # ACK of something not yet sent: re-ACK, drop
            t.drop("ACK of unsent data")
            return False
        if ((ack - snd_una + t.max_snd_wnd) & _MASK) >= _HALF:  # ack < SND.UNA - MAX.SND.WND
            t.challenge_ack(now)  # RFC 5961 §5.2: too old to be acceptable
            t.drop("ACK too old: challenge ACK")
            return False
        t.ka_heard = now
        if self._ka_probes:  # a probe answered: the wait starts over (re-armed on output)
            self._ka_probes = 0
            t.cancel(KEEPALIVE)
        sack_ok = t.sack_ok
        rack_on = sack_ok and t.config.rack  # (loss.rack_on, on the per-ACK path)
        board = loss.board
        sacked_before = board.sacked_bytes
        rack = loss.rack
        echo = None
        if rack_on and ts is not None and ts.ecr:  # self._echo_ms(ts)
            echo = (ts.ecr - t.ts_offset) & 0xFFFFFFFF
        blocks = seg.sack_blocks() if sack_ok else ()
        for start, end in blocks:
            board.add(start, end, snd_una, snd_max)
        cc = loss.cc
        timers = t.timers
        delivered = 0
        if ((snd_una - ack) & _MASK) >= _HALF:  # ack > SND.UNA
            acked = ((ack - snd_una + _HALF) & _MASK) - _HALF
            delivered = acked
            sndq = t.sndq
            data_acked = min(max(((ack - t.sndq_seq + _HALF) & _MASK) - _HALF, 0),
                             len(sndq))
            if data_acked:
                del sndq[:data_acked]
                t.sndq_seq = (t.sndq_seq + data_acked) & _MASK
            t.snd_una = ack
            if ((t.snd_nxt - ack) & _MASK) >= _HALF:  # SND.NXT < ack
                t.snd_nxt = ack
            if board.sacked_bytes:
                board.advance(ack)
            if rack_on:
                rack.acked(ack, now, echo)
            loss.sample_rtt(seg, ts, now)
            loss.rto_count = 0
            if loss.rto_recover is not None and sq.ge(ack, loss.rto_recover):
                loss.rto_recover = None
            if loss.mode:
                if sq.ge(ack, cc.recover):
                    loss.exit_recovery()
                elif loss.mode is FAST_RECOVERY:
                    cc.on_partial_ack(acked)  # RFC 6582 §3.2 step 5
                    loss.retransmit_head(now, Why.FAST)
            else:
                cc.on_ack(acked, ((t.snd_nxt - ack + _HALF) & _MASK) - _HALF)
            if ack == t.snd_max:  # (a fast retransmit above may have sent new data)
                # RFC 6298 §5.2
                for name in (RTX, TLP, RACK):
                    if name in timers:
                        t.cancel(name)
                loss.rtx_since = None
            else:
                loss.rtx_since = now
                self._pto_restart = True
                if not (rack_on and loss.pto_allowed()):
                    t.arm(RTX, now + loss.rtt.current())  # RFC 6298 §5.3
        elif (ack == t.snd_una and not seg.payload and not seg.flags & (SYN | FIN)
              and t.snd_max != t.snd_una and t.snd_wnd and not self._probing
              and (seg.window << t.snd_wscale) == t.snd_wnd):
            # (answers to zero-window probes are not duplicates: nothing was lost)
            # a duplicate ACK (RFC 5681 §2)
            cc.dup_acks += 1
            if loss.mode is FAST_RECOVERY:
                cc.on_dup_ack_in_recovery()
            elif not loss.mode and not rack_on and (
                    cc.dup_acks >= DUP_THRESH
                    or (t.sack_ok and loss.is_lost(t.snd_una))):
                # with RACK-TLP, time decides instead (below; RFC 8985 §6.2 step 4
                # gives the same answer once DupThresh segments are SACKed)
                loss.enter_recovery(now)
        if rack_on:
            rack.sacked_blocks(blocks, t.snd_una, now, echo)  # after the cumulative ACK
            rack.end_ack()
            if rack.tlp_end is not None:
                loss.tlp_ack(ack, ts)
            if board.sacked_bytes or rack.lost_bytes or rack.behind():
                loss.rack_detect(now)
            elif RACK in timers:
                t.cancel(RACK)  # nothing delivered out of order: nothing to judge
        if loss.mode is SACK_RECOVERY:
            delivered += board.sacked_bytes - sacked_before  # RFC 6937 DeliveredData
            if delivered:
                self._pto_restart = True  # the ACK clock runs: no probe in recovery yet
            loss.prr_update(delivered)
        self.update_window(seg, syn=syn)
        return True

    # -- timers ----------------------------------------------------------------------
    def on_persist(self, now: float) -> None:
        """RFC 9293 §3.8.6.1: probe a zero window with one octet; RFC 1122 §4.2.2.17:
        never give up while the peer answers.  With an open window, this is the SWS
        override: send what the window allows now (RFC 1122 §4.2.3.4)."""
        t = self.tcb
        loss = self.loss
        if t.snd_wnd != 0:
            n = min(sq.sub(t.data_end(), t.snd_nxt), t.snd_mss,
                    sq.sub(sq.add(t.snd_una, t.snd_wnd), t.snd_nxt),
                    loss.cc.cwnd - t.in_flight)
            if n > 0 and t.state in _SENDING and t.snd_una == t.snd_max:
                self.send_data_segment(t.snd_nxt, n, now, None)
            return
        if t.state not in _SENDING:
            return
        self._probing = True
        if t.snd_una != t.snd_max:
            self.send_data_segment(t.snd_una, 1, now, Why.PROBE)
        elif sq.lt(t.snd_nxt, t.data_end()):
            self.send_data_segment(t.snd_nxt, 1, now, None)
        else:
            self._probing = False  # nothing left to probe for: no timer
            return
        if loss.rtt.current() * (1 << self._persist_backoff) < t.config.rto_max:
            self._persist_backoff += 1  # RFC 1122 §4.2.2.17: exponential, capped
        t.arm(PERSIST, now + min(loss.rtt.current() * (1 << self._persist_backoff),
                                       t.config.rto_max))

    # -- output ----------------------------------------------------------------------
    def send_data_segment(self, seq: int, n: int, now: float, why: Why | None,
                          reason: Why = Why.RTO) -> int:
        """Send up to ``n`` bytes from ``seq``; returns how many went (SACK blocks riding
        along take room from the payload: RFC 9293 §3.7.1, the MSS counts options).
        ``why``: resending a hole for that reason (SND.NXT stays, no FIN rides along);
        None: a regular send from SND.NXT, which after a timeout or for a tail loss
        probe may be below SND.MAX -- then ``reason`` is what the event says."""
        t = self.tcb
        opts, extra = t.options(now)
        if extra:
            n = max(min(n, t.snd_mss - extra), 1)
        sndq = t.sndq
        off = ((seq - t.sndq_seq + _HALF) & _MASK) - _HALF
        payload = bytes(sndq[off: off + n])
        flags = ACK
        if off + len(payload) == len(sndq):  # up to the end of the data (_data_end())
            flags |= PSH
            if t.fin_queued and why is None:
                flags |= FIN  # piggyback the FIN on the last data segment
        seg = t.build(seq, flags, payload, now, opts)
        t.after_emit(seg, now)
        self._account(seq, seg.seg_len, now, why, reason)
        return len(payload)

    def send_fin(self, seq: int, now: float, why: Why | None,
                 reason: Why = Why.RTO) -> None:
        """Send the FIN, numbered ``seq`` (``why``, ``reason``: as for data)."""
        t = self.tcb
        seg = t.build(seq, ACK | FIN, b"", now)
        t.after_emit(seg, now)
        self._account(seq, 1, now, why, reason)

    def _account(self, seq: int, length: int, now: float, why: Why | None,
                 reason: Why) -> None:
        t = self.tcb
        loss = self.loss
        end = (seq + length) & _MASK
        snd_max = t.snd_max
        if ((seq - snd_max) & _MASK) >= _HALF:  # seq < SND.MAX
            loss.retransmits += 1
            loss.timing = None  # Karn
            t.emit(Retransmitted(seq, length, reason if why is None else why))
        else:
            self._pto_restart = True  # RFC 8985 §7.2: new data restarts the probe timeout
            if loss.timing is None:
                loss.timing = (end, now)
        if loss.mode is SACK_RECOVERY:
            loss.prr.sent(length)  # RFC 6937 prr_out
        if t.sack_ok and t.config.rack:  # loss.rack_on
            loss.rack.sent(seq, end, now)
        # a regular send moves SND.NXT (to max(SND.NXT, end)); resending a hole does not
        if why is None and ((t.snd_nxt - end) & _MASK) >= _HALF:
            t.snd_nxt = end
        if ((snd_max - end) & _MASK) >= _HALF:  # SND.MAX = max(SND.MAX, end)
            t.snd_max = end

    def output(self, now: float, resend: Why | None = None) -> None:
        """Send what the state and windows allow, then set the timers.  ``resend``: the
        pass follows a timeout (:meth:`on_rto`) and what it sends below SND.MAX is a
        retransmission for that reason."""
        t = self.tcb
        st = t._state  # (the state property, read directly: after every input)
        if st in _SENDING:
            self._send_what_we_can(now, resend)  # (sends; no state moves)
        if t.ack_now and st not in _NO_ACK:
            # at SND.MAX: after a timeout SND.NXT went back, but the peer's RCV.NXT may
            # already be past it, and an ACK below RCV.NXT would be dropped unread
            t.after_emit(t.build(t.snd_max, ACK, b"", now), now)
        if st is not S.CLOSED:
            self._set_send_timers(now)
            if t.config.keepalive or KEEPALIVE in t.timers:
                self._keepalive_timer()

    def _send_what_we_can(self, now: float, resend: Why | None) -> None:
        t = self.tcb
        loss = self.loss
        board = loss.board
        rack = loss.rack
        rack_on = t.sack_ok and t.config.rack  # loss.rack_on
        if (not t.fin_queued and loss.mode is not SACK_RECOVERY
                and not board.sacked_bytes and not (rack_on and rack.lost_bytes)
                and t.snd_nxt == (t.sndq_seq + len(t.sndq)) & _MASK):
            return  # nothing to send (the common case of a pass after an input)
        mss = t.snd_mss
        cc = loss.cc
        reason = resend or Why.RTO  # what a regular send below SND.MAX is resending for
        while True:
            if loss.mode is SACK_RECOVERY:
                pipe = loss.pipe()
                cwnd_room = cc.cwnd - pipe
                if cwnd_room < mss:
                    return  # RFC 6675 §5 step (C): a segment only while cwnd - pipe >= SMSS
                if loss.send_lost(now, Why.SACK):  # NextSeg rule 1
                    continue
            else:
                cwnd_room = cc.cwnd - (((t.snd_nxt - t.snd_una + _HALF) & _MASK) - _HALF)
                left = 0  # bytes out of flight without a cumulative ACK: SACKed ones
                if board.sacked_bytes:  # (behind SND.NXT, after a timeout)
                    left = board.sacked_bytes - board.sacked_above(t.snd_nxt)
                    self._skip_sacked()
                if cc.dup_acks and not loss.mode:
                    # RFC 3042 §2 limited transmit: one new segment per duplicate ACK, two
                    # at most; a SACKed segment's room is that same allowance (cwnd - pipe,
                    # RFC 6675 §5 step 3), not a second one
                    left = max(left, min(cc.dup_acks, 2) * mss)
                cwnd_room += left
                if rack_on and rack.tlp_end is not None:
                    # RFC 8985 §7.3: the probe is one packet beyond cwnd; new data it sent
                    # does not hold the place of the segment a delayed ACK lets out
                    cwnd_room += rack.tlp_extra
                if rack_on and rack.lost_bytes:
                    # resending after a timeout: a resent segment RACK found lost again
                    # is not in flight, and goes before the rest (RFC 8985 §6.3)
                    cwnd_room += rack.lost_bytes
                    if cwnd_room >= mss and loss.send_lost(now, Why.RACK):
                        continue
            snd_nxt = t.snd_nxt
            data_end = (t.sndq_seq + len(t.sndq)) & _MASK  # t.data_end()
            avail = ((data_end - snd_nxt + _HALF) & _MASK) - _HALF
            if avail > 0:
                wnd_room = ((t.snd_una + t.snd_wnd - snd_nxt + _HALF) & _MASK) - _HALF
                n = min(avail, mss, cwnd_room, wnd_room)
                if board.sacked_bytes:
                    n = min(n, self._resend_limit())
                if n > 0 and (n >= mss or self._small_segment_ok(n, avail)):
                    self.send_data_segment(snd_nxt, n, now, None, reason)  # rule 2
                    continue
                if n <= 0 and cwnd_room < mss:
                    return
            elif (t.fin_queued and snd_nxt == data_end
                    and (t.snd_max == data_end or resend is not None)):
                self.send_fin(data_end, now, None, reason)
                return
            if loss.mode is SACK_RECOVERY and loss.send_rule3(now):
                continue
            return

    def _skip_sacked(self) -> None:
        """Going back after a timeout, step over what the peer has SACKed: RFC 6675
        §5.1 keeps the scoreboard across a timeout, so only the holes are sent again."""
        t = self.tcb
        loss = self.loss
        if not sq.lt(t.snd_nxt, t.snd_max):
            return
        hole = loss.board.next_hole(t.snd_nxt, 1 << 30)
        highest = loss.board.highest
        if hole is not None:
            if sq.gt(hole[0], t.snd_nxt):
                t.snd_nxt = hole[0]
        elif highest is not None and sq.lt(t.snd_nxt, highest):
            t.snd_nxt = highest

    def _resend_limit(self) -> int:
        """Bytes up to the next SACKed block when resending after a timeout."""
        t = self.tcb
        loss = self.loss
        if loss.board.sacked_bytes and sq.lt(t.snd_nxt, t.snd_max):
            hole = loss.board.next_hole(t.snd_nxt, 1 << 30)
            if hole is not None:
                return max(sq.sub(hole[1], t.snd_nxt), 1)
        return 1 << 30

    def _small_segment_ok(self, n: int, avail: int) -> bool:
        """Nagle (RFC 9293 §3.7.4) and sender SWS avoidance (§3.8.6.2.1)."""
        t = self.tcb
        # Nagle does not hold back urgent data (Linux's tcp_nagle_test: urgent mode)
        if t.snd_up is not None and sq.gt(t.snd_up, t.snd_nxt):
            return True
        if sq.lt(t.snd_nxt, t.snd_max):
            return True  # resending what was sent before: no new small segment is made
        if n == avail:  # everything queued fits
            if not t.config.nagle or t.fin_queued:
                return True
            return t.snd_nxt == t.snd_una  # nothing unacknowledged
        return t.max_snd_wnd > 0 and n >= t.max_snd_wnd // 2

    def _set_send_timers(self, now: float) -> None:
        t = self.tcb
        loss = self.loss
        timers = t.timers
        outstanding = t.snd_max != t.snd_una
        # data waiting: SND.NXT < the end of the data (t.data_end(), written out)
        waiting = ((t.snd_nxt - t.sndq_seq - len(t.sndq)) & _MASK) >= _HALF
        sending = t._state in _SENDING  # (the state property, read directly)
        if (not outstanding and waiting and t.snd_wnd > 0 and sending
                and PERSIST not in timers):
            # data waits, nothing is in flight and the window is open but too small for
            # the SWS rules: RFC 1122 §4.2.3.4 (4) override timeout, 0.1-1 s
            t.arm(PERSIST, now + SWS_OVERRIDE)
            return
        if t.snd_wnd == 0 and sending and (
                self._probing or (not outstanding and waiting)):
            if PERSIST not in t.timers:
                t.arm(PERSIST, now + loss.rtt.current())
            if self._probing:
                t.cancel(RTX)
                t.cancel(TLP)
            return
        if not outstanding:
            if TLP in timers:
                t.cancel(TLP)
        elif loss.pto_allowed():
            # RFC 8985 §7.2: the probe timeout stands in for the RTO (which the probe,
            # once sent, arms again), restarted when new data goes out or is ACKed
            if self._pto_restart or TLP not in timers:
                t.arm(TLP, loss.pto(now))
            if RTX in timers:
                t.cancel(RTX)
            if loss.rtx_since is None:
                loss.rtx_since = now
        else:
            if TLP in timers:
                t.cancel(TLP)
            if RTX not in timers:
                loss.rtx_since = loss.rtx_since if loss.rtx_since is not None else now
                t.arm(RTX, now + loss.rtt.current())
        self._pto_restart = False

    # -- keep-alives (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6) ----------------------------
    def _idle(self) -> bool:
        """Keep-alives may run: on, in a state that has them, and nothing outstanding or
        waiting to go (MUST-26) -- no data, no FIN, no retransmission or probe timer."""
        t = self.tcb
        return (t.config.keepalive and t.state in _KEEPALIVE
                and t.snd_una == t.snd_max and t.snd_nxt == t.data_end()
                and not t.fin_queued and not t.timers.keys() & {RTX, PERSIST})

    def _keepalive_timer(self) -> None:
        """Run the keep-alive timer only while idle.  It is moved earlier at once (a
        shorter idle time) but never later for every segment heard: when it fires
        early, :meth:`on_keepalive` lets it be armed again."""
        t = self.tcb
        cfg = t.config
        if not self._idle():
            if KEEPALIVE in t.timers:
                t.cancel(KEEPALIVE)
            return
        due = (t.ka_heard + cfg.keepalive_idle if not self._ka_probes
               else self._ka_sent + cfg.keepalive_interval)
        armed = t.timers.get(KEEPALIVE)
        if armed is None or armed > due:
            t.arm(KEEPALIVE, due)

    def on_keepalive(self, now: float) -> None:
        """The keep-alive timer fired: probe, or give up after the last probe."""
        t = self.tcb
        cfg = t.config
        if not self._idle() or (
                self._ka_probes == 0 and now < t.ka_heard + cfg.keepalive_idle):
            return  # busy, or heard from the peer meanwhile: armed again if need be
        if self._ka_probes >= cfg.keepalive_probes:
            # like Linux, a RST tells the peer, should the path come back
            t.out.append(Segment(t.local[1], t.rport, t.snd_nxt, t.rcv_nxt,
                                     RST | ACK, 0))
            self._on_keepalive_give_up(self._ka_probes)
            return
        # SEG.SEQ = SND.NXT - 1, no data (SHLD-12): the peer answers with an ACK
        t.after_emit(t.build(sq.add(t.snd_nxt, -1), ACK, b"", now), now)
        self._ka_probes += 1
        self._ka_sent = now

    def _on_keepalive_give_up(self, probes: int) -> None:
        t = self.tcb
        t.fail(E.ETIMEDOUT, f"keep-alive: {probes} probes unanswered")
        t.goto(T.KEEPALIVE_TIMEOUT, f"{probes} probes unanswered")

    # -- closing -----------------------------------------------------------------------
    def close_send(self, now: float, detail: str) -> None:
        """CLOSE of the sending half (RFC 9293 §3.10.4): a FIN after the queued data,
        sent by the next output pass; in SYN-RECEIVED with data queued, the CLOSE waits
        for ESTABLISHED."""
        t = self.tcb
        if t.fin_queued or t.close_deferred is not None:
            return
        if t.state is S.SYN_RECEIVED and t.sndq:
            # RFC 9293 §3.10.4: with data queued, CLOSE waits for ESTABLISHED
            t.close_deferred = detail
            return
        if t.state in (S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT):
            t.fin_queued = True
            t.goto(T.CLOSE, detail)
