"""Segments arriving, and other news from the network: RFC 9293 §3.10.7, §3.9.2.2.

Theory of operation
-------------------
:class:`Arrival` is the receiving part of a connection: SEGMENT ARRIVES in every state
(the acceptability test, RST and SYN checks with RFC 5961's challenge ACKs, the ACK,
the urgent pointer, the text and the FIN, in the RFC's order), header prediction for the
common case, reassembly into the receive queue (never past ``rcvbuf``), and the receive
window it offers.  ACKs answering unacceptable segments are rate-limited (one per
``invalid_ack_interval``), so two ends that disagree about the sequence space cannot
answer each other forever.  It also takes
what arrives outside the segment flow: ICMP errors about our segments (RFC 5927 checks
first) and a newer SYN that ends TIME-WAIT (RFC 6191).  Every state move goes through
:meth:`tcplab.tcp.tcb.Tcb.goto`, which looks the move up in
:data:`tcplab.tcp.states.TABLE`.

It shares the connection's :class:`~tcplab.tcp.tcb.Tcb` with the sending part
(:class:`tcplab.tcp.sender.Sender`), and hands it every acceptable ACK
(:meth:`~tcplab.tcp.sender.Sender.process_ack`) and the handshake's options; after each
segment (or batch: :meth:`Arrival.flush`) the sender's output routine sends what is
owed.  User calls, timers and the connection's life cycle are
:mod:`tcplab.tcp.connection`.
"""

from __future__ import annotations

import errno as E

from tcplab.tcp import seq as sq
from tcplab.tcp.events import (
    ConnectionReset,
    DataReceived,
    EndOfStream,
    IcmpReported,
)
from tcplab.tcp.kinds import PERSIST, RTX, TIME_WAIT
from tcplab.tcp.segment import ACK, FIN, RST, SYN, URG, Segment
from tcplab.tcp.sender import Sender
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.tcb import Tcb

S = State
T = Trigger
_ACK_WINDOW_STATES = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2})
_UNPREDICTED = SYN | FIN | RST | URG | ACK  # of these, a predicted segment has ACK only
_MASK, _HALF = sq.MASK, sq.HALF  # the per-segment paths do sequence arithmetic inline


def reset_for(seg: Segment) -> Segment | None:
    """The RST that answers ``seg`` when no connection wants it (RFC 9293 §3.10.7.1)."""
    if seg.flags & RST:
        return None
    if seg.flags & ACK:
        return Segment(seg.dst_port, seg.src_port, seg.ack, 0, RST, 0)
    return Segment(seg.dst_port, seg.src_port, 0, sq.add(seg.seq, seg.seg_len), RST | ACK, 0)


class Arrival:
    """The receive side of a connection (see the module docstring)."""

    __slots__ = ("_oow_acked", "_syn_text", "rcv_up", "tcb", "tx", "urgent_signals")

    def __init__(self, tcb: Tcb, tx: Sender) -> None:
        self.tcb = tcb
        self.tx = tx  # the sending part: ACKs go to it, and it sends what is owed
        self._syn_text = b""            # text of the peer's SYN, held until ESTABLISHED
        self.rcv_up: int | None = None  # RCV.UP: just after the peer's last urgent octet
        self.urgent_signals = 0         # times the application was told of urgent data
        self._oow_acked: float | None = None  # when an unacceptable segment was last ACKed

    # ------------------------------------------------------------------ receive window
    def maybe_window_update(self) -> None:
        """After the application read: ask for an ACK when the window reopened enough
        to be worth a segment of its own."""
        t = self.tcb
        # RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): a reopened window is worth a
        # segment of its own only when it grew by min(RCV.BUFF/2, Eff.snd.MSS); like
        # Linux, also only when the offered window had shrunk below half its maximum
        # (otherwise the next ACK carries the update anyway)
        offered = max(sq.sub(t.rcv_adv, t.rcv_nxt), 0)
        limit = min(t.config.rcvbuf, 0xFFFF << t.rcv_wscale)
        grown = min(t.rcv_window(), limit) - offered
        if 2 * offered <= limit and grown >= min(limit // 2, t.snd_mss):
            t.ack_now = True

    # ------------------------------------------------------------------ SEGMENT ARRIVES
    def receive(self, seg: Segment, now: float, output: bool = True) -> None:
        """SEGMENT ARRIVES.  ``output=False``: more segments arrived with this one; the
        answer waits for :meth:`flush` after the last, so that every queued segment is
        processed before an ACK is sent (RFC 9293 §3.10.7.4, MUST-59)."""
        t = self.tcb
        st = t._state  # (the state property, read directly: once per segment)
        if st is S.CLOSED:
            reply = reset_for(seg)
            if reply is not None:
                t.out.append(reply)
            t.drop("connection closed")
            return
        if st is S.LISTEN:
            self._receive_listen(seg, now)
        elif st is S.SYN_SENT:
            self._receive_syn_sent(seg, now)
        elif not (st is S.ESTABLISHED and self._predicted(seg, now)):
            self._receive_synchronized(seg, now)
        if output:
            self.flush(now)

    def flush(self, now: float) -> None:
        """Send what the segments received so far call for (see :meth:`receive`)."""
        t = self.tcb
        if t._state is not S.CLOSED:  # (per segment: the property, read directly)
            self.tx.output(now)

    def icmp_error(self, seq: int, hard: bool, errno: int, reason: str) -> bool:
        """An ICMP error quoting our segment at ``seq`` (RFC 9293 §3.9.2.2).  Taken only
        for sequence space in flight, SND.UNA <= seq < SND.MAX (RFC 5927 §4.1); a hard
        error (``errno``) ends an opening connection, anything else is reported and the
        connection goes on (MUST-56; hard errors once synchronized: RFC 5927 §7.2).
        False: not taken."""
        t = self.tcb
        # SND.MAX, not SND.NXT: after a timeout SND.NXT went back, and what was sent
        # beyond it is still in flight
        if t.state in (S.CLOSED, S.LISTEN, S.TIME_WAIT) or not (
                sq.le(t.snd_una, seq) and sq.lt(seq, t.snd_max)):
            t.drop("ICMP error for sequence space not in flight (RFC 5927)")
            return False
        if hard and t.state in (S.SYN_SENT, S.SYN_RECEIVED):
            if t.passive:  # nobody accepted it: as for a RST, the listener goes on
                t.goto(T.RCV_ICMP, f"{reason}; the listener keeps listening")
            else:
                t.fail(errno, reason)
                t.goto(T.RCV_ICMP, reason)
        else:
            t.events.append(IcmpReported(reason))
        return True

    def _receive_listen(self, seg: Segment, now: float) -> None:
        """RFC 9293 §3.10.7.2."""
        t = self.tcb
        if seg.flags & RST:
            t.drop("RST in LISTEN")
            return
        if seg.flags & ACK:
            t.out.append(Segment(t.local[1], seg.src_port, seg.ack, 0, RST, 0))
            t.drop("ACK in LISTEN")
            return
        if not seg.flags & SYN:
            t.drop("no SYN in LISTEN")
            return
        if t.remote is None:
            t.drop("SYN to a listener: the host spawns a child for it")
            return
        remote = (t.remote[0], seg.src_port)
        t.setup(remote, now)
        t.irs = seg.seq
        t.rcv_nxt = sq.add(seg.seq, 1)
        self.tx.negotiate(seg, now)
        t.goto(T.RCV_SYN)
        self.tx.send_syn(now, ack=True)
        self._syn_text = seg.payload  # RFC 9293 §3.10.7.2: queued for after ESTABLISHED

    def _receive_syn_sent(self, seg: Segment, now: float) -> None:
        """RFC 9293 §3.10.7.3."""
        t = self.tcb
        f = seg.flags
        ack_ok = False
        if f & ACK:
            if sq.le(seg.ack, t.iss) or sq.gt(seg.ack, t.snd_nxt):
                if not f & RST:
                    t.out.append(Segment(t.local[1], t.rport, seg.ack, 0, RST, 0))
                t.drop("unacceptable ACK in SYN-SENT")
                return
            ack_ok = True
        if f & RST:
            if ack_ok:
                t.fail(E.ECONNREFUSED, "connection refused")
                t.events.append(ConnectionReset(refused=True))
                t.goto(T.RCV_RST, "connection refused")
            else:
                t.drop("RST without ACK in SYN-SENT")
            return
        if not f & SYN:
            t.drop("no SYN in SYN-SENT")
            return
        t.irs = seg.seq
        t.rcv_nxt = sq.add(seg.seq, 1)
        t.rcv_adv = sq.add(t.rcv_nxt, min(t.rcv_window(), 0xFFFF))
        self.tx.negotiate(seg, now)
        if ack_ok:
            self.tx.ack_of_syn(seg, now)
            t.goto(T.RCV_SYN_ACK)
            t.ack_now = True
            self.tx.update_window(seg, force=True)
            if seg.payload:
                self._accept_text(sq.add(seg.seq, 1), seg.payload, now)
        else:
            t.goto(T.RCV_SYN, "simultaneous open")
            self.tx.send_syn(now, ack=True, retransmit=False)
            self._syn_text = seg.payload  # §3.10.7.3: queued for after ESTABLISHED

    def _predicted(self, seg: Segment, now: float) -> bool:
        """Header prediction, as BSD's tcp_input does it: in ESTABLISHED the segment at
        RCV.NXT that only ACKs (data or not) passes every check of §3.10.7.4 before the
        fifth step, so it goes straight there, with the same effects.  False: nothing
        was done; the general path takes it."""
        t = self.tcb
        s0 = seg.seq
        rcv_nxt = t.rcv_nxt
        if (seg.flags & _UNPREDICTED != ACK or s0 != rcv_nxt or not t.syn_acked
                or ((t.snd_max - seg.ack) & _MASK) >= _HALF):
            return False  # (ACK of unsent data, ack > SND.MAX: the general path)
        payload = seg.payload
        if payload and ((t.rcv_adv - rcv_nxt + _HALF) & _MASK) - _HALF <= 0:
            return False  # zero window: the general path's rules
        ts = None
        if t.ts_ok:
            ts = seg.timestamps()
            if ts is None or (t.ts_recent_valid
                              and ((ts.val - t.ts_recent) & _MASK) >= _HALF):
                return False  # (PAWS: TSval < TS.Recent)
            # RFC 7323 §4.3: SEG.SEQ <= Last.ACK.sent < SEG.SEQ + max(SEG.LEN, 1)
            if ((t.last_ack_sent - s0) & _MASK) < max(len(payload), 1):
                t.ts_recent = ts.val
                t.ts_recent_valid = True
        if self.tx.process_ack(seg, ts, now) and payload:
            self._accept_text(s0, payload, now)
        return True

    def _receive_synchronized(self, seg: Segment, now: float) -> None:
        """RFC 9293 §3.10.7.4, for SYN-RECEIVED and every synchronized state."""
        t = self.tcb
        f = seg.flags
        st = t.state
        was_syn = False
        if (st is S.SYN_RECEIVED and not t.passive and f & SYN and f & ACK
                and seg.seq == t.irs
                and sq.lt(t.snd_una, seg.ack) and sq.le(seg.ack, t.snd_nxt)):
            # Simultaneous open: the peer's SYN,ACK repeats the SYN we hold.  Taken as the
            # ACK of our SYN (as Linux does) instead of re-ACKing and waiting a round trip.
            seg = Segment(seg.src_port, seg.dst_port, sq.add(seg.seq, 1), seg.ack,
                          f & ~SYN, seg.window, seg.options, seg.payload)
            f = seg.flags
            was_syn = True
        ts = seg.timestamps() if t.ts_ok else None
        # RFC 7323 §5.3 PAWS: an old timestamp means an old duplicate
        if (ts is not None and not f & RST and t.ts_recent_valid
                and sq.lt(ts.val, t.ts_recent)):
            t.drop("PAWS: old timestamp")
            self._ack_unacceptable(seg, now)
            if st is S.TIME_WAIT:
                self._start_time_wait(now)  # as Linux: a PAWS reject restarts 2*MSL
            return
        # first: the sequence number (RFC 9293 §3.10.7.4 table)
        wnd = max(sq.sub(t.rcv_adv, t.rcv_nxt), 0)
        # a RST is judged by its sequence number alone, whatever data it carries (RFC
        # 5961 §3.2; §3.10.7.4: RSTs stay acceptable at a zero window; SHLD-2)
        slen = 0 if f & RST else seg.seg_len
        s0 = seg.seq
        if slen == 0:
            ok = s0 == t.rcv_nxt if wnd == 0 else sq.between(t.rcv_nxt, s0, sq.add(
                t.rcv_nxt, wnd))
        elif wnd == 0:
            ok = False
        else:
            right = sq.add(t.rcv_nxt, wnd)
            ok = (sq.between(t.rcv_nxt, s0, right)
                  or sq.between(t.rcv_nxt, sq.add(s0, slen - 1), right))
        zero_window_ack = False
        if (not ok and st is S.TIME_WAIT and f & FIN and not f & RST
                and sq.add(s0, len(seg.payload)) == sq.add(t.rcv_nxt, -1)):
            # a retransmission of the FIN we hold: re-ACK and restart 2*MSL (RFC 9293
            # §3.10.7.4, TIME-WAIT under the eighth step)
            t.ack_now = True
            t.goto(T.RCV_FIN, "retransmitted FIN")
            self._start_time_wait(now)
            return
        if (st is S.TIME_WAIT and not f & (RST | SYN) and s0 != t.rcv_nxt
                and not (ok and f & FIN)):
            # RFC 9293 §3.10.7.4 first check: in TIME-WAIT the window is closed, so
            # every segment not at RCV.NXT is unacceptable and gets an ACK (the peer
            # lost ours); like Linux and FreeBSD, one that carries an ACK restarts 2*MSL
            self._ack_unacceptable(seg, now)
            if f & ACK:
                self._start_time_wait(now)
            t.drop("TIME-WAIT: not at RCV.NXT")
            return
        if not ok:
            if wnd == 0 and s0 == t.rcv_nxt and f & ACK and not f & (RST | SYN):
                # §3.10.7.4: with RCV.WND = 0 still take valid ACKs (the data is dropped)
                zero_window_ack = True
            else:
                if f & SYN and not f & RST:
                    # as Linux: a SYN anywhere is answered as in the fourth step, with a
                    # challenge ACK under RFC 5961 §7's own limit
                    t.challenge_ack(now)
                elif not f & RST:
                    self._ack_unacceptable(seg, now)
                t.drop("out of window")
                return
        # second: RST (RFC 5961 §3.2: exact match resets, in-window gets a challenge ACK)
        if f & RST:
            if s0 != t.rcv_nxt:
                t.challenge_ack(now)
                t.drop("RST not at RCV.NXT: challenge ACK")
                return
            self._on_reset()
            return
        # fourth: SYN.  A passive open's child goes back to LISTEN (RFC 9293 §3.10.7.4);
        # in a synchronized state it gets a challenge ACK (RFC 5961 §4.2)
        if f & SYN and st is S.SYN_RECEIVED and t.passive:
            t.goto(T.RCV_SYN, "back to LISTEN: the listener keeps listening")
            return
        if f & SYN:
            t.challenge_ack(now)
            t.drop("SYN in synchronized state: challenge ACK")
            return
        # fifth: ACK
        if not f & ACK:
            t.drop("no ACK")
            return
        if ts is not None and sq.le(s0, t.last_ack_sent) and sq.lt(
                t.last_ack_sent, sq.add(s0, max(slen, 1))):
            t.ts_recent = ts.val  # RFC 7323 §4.3
            t.ts_recent_valid = True
        if st is S.SYN_RECEIVED:
            if not (sq.lt(t.snd_una, seg.ack) and sq.le(seg.ack, t.snd_nxt)):
                t.out.append(Segment(t.local[1], t.rport, seg.ack, 0, RST, 0))
                t.drop("unacceptable ACK in SYN-RECEIVED")
                return
            self.tx.ack_of_syn(seg, now)
            t.goto(T.RCV_ACK_OF_SYN)
            self.tx.update_window(seg, force=True, syn=was_syn)
            self._take_syn_text(now)
            if t.close_deferred is not None:
                detail, t.close_deferred = t.close_deferred, None
                self.tx.close_send(now, detail)
        elif (not t.syn_acked and sq.lt(t.snd_una, seg.ack)
              and sq.le(seg.ack, t.snd_nxt)):
            # closed while in SYN-RECEIVED: the ACK of our SYN arrives in FIN-WAIT-1 and
            # must still set the send window (SND.WL1/WL2) from this segment
            self.tx.ack_of_syn(seg, now)
            self.tx.update_window(seg, force=True, syn=was_syn)
            self._take_syn_text(now)
        if sq.gt(seg.ack, t.snd_max):
            # §3.10.7.4 fifth step: an ACK of something not yet sent is answered with an
            # ACK and dropped -- rate-limited, as this is one half of an ACK storm
            self._ack_unacceptable(seg, now)
            t.drop("ACK of unsent data")
            return
        if not self.tx.process_ack(seg, ts, now, syn=was_syn):
            return
        st = t.state
        if st is S.FIN_WAIT_1 and t.fin_acked():
            t.goto(T.RCV_ACK_OF_FIN)
            st = t.state
        elif st is S.CLOSING and t.fin_acked():
            t.goto(T.RCV_ACK_OF_FIN)
            self._start_time_wait(now)
            return
        elif st is S.LAST_ACK and t.fin_acked():
            t.goto(T.RCV_ACK_OF_FIN)
            return
        # sixth: URG, at a zero window too (MUST-66); after the peer's FIN it cannot be new
        if f & URG and st in _ACK_WINDOW_STATES:
            self._urgent_arrived(sq.add(s0, seg.urgent))
        if zero_window_ack:
            t.ack_now = True
            t.drop("zero window: data not accepted")
            return
        # seventh: segment text
        payload = seg.payload
        fin = bool(f & FIN)
        if (payload and t.app_closed and st in (S.FIN_WAIT_1, S.FIN_WAIT_2)
                and sq.gt(sq.add(s0, len(payload)), t.rcv_nxt)):
            # RFC 1122 §4.2.2.13: new data after CLOSE has no reader: reset
            t.out.append(Segment(t.local[1], t.rport, t.snd_max, 0, RST, 0))
            t.fail(E.ECONNRESET, "data arrived after close")
            t.goto(T.RCV_DATA_AFTER_CLOSE)
            return
        if payload and st in _ACK_WINDOW_STATES:
            self._accept_text(s0, payload, now)
        # eighth: FIN
        if fin:
            fin_seq = sq.add(s0, len(payload))
            if st is S.TIME_WAIT:
                t.ack_now = True
                t.goto(T.RCV_FIN, "retransmitted FIN")
                self._start_time_wait(now)
            elif fin_seq == t.rcv_nxt and not t.eof:
                self._on_fin(now)
            elif sq.gt(fin_seq, t.rcv_nxt):
                t.ooo.fin_seq = fin_seq
                t.ack_now = True
            else:
                t.ack_now = True  # a FIN we already have: re-ACK it

    # ------------------------------------------------------------------ urgent data
    def _read_seq(self) -> int:
        """The sequence number of the next octet the application reads."""
        t = self.tcb
        return sq.add(t.rcv_nxt, -len(t.rcvq) - (1 if t.eof else 0))

    @property
    def urgent_pending(self) -> int:
        """How many octets up to the urgent mark the application has still to read, 0
        when none (RFC 9293 §3.8.5, MUST-33).  Urgent data stays in the stream, in order
        (RFC 6093's advice), so this is also the distance to the mark."""
        if self.rcv_up is None:
            return 0
        return max(sq.sub(self.rcv_up, self._read_seq()), 0)

    def _urgent_arrived(self, up: int) -> None:
        """RFC 9293 §3.10.7.4 sixth step: RCV.UP <- max(RCV.UP, SEG.UP + SEG.SEQ), and the
        user is signalled when the pointer is ahead of the data read -- once per run of
        urgent data, not again while the run is still being read (MUST-32)."""
        if self.rcv_up is not None and not sq.gt(up, self.rcv_up):
            return
        was_pending = self.urgent_pending
        self.rcv_up = up
        if self.urgent_pending and not was_pending:
            self.urgent_signals += 1

    def _take_syn_text(self, now: float) -> None:
        """The handshake is done: process the text that came in the peer's SYN."""
        t = self.tcb
        if self._syn_text:
            text, self._syn_text = self._syn_text, b""
            self._accept_text(sq.add(t.irs, 1), text, now)
            t.ack_now = True  # held for a round trip already: no delayed ACK

    def _accept_text(self, start: int, payload: bytes, now: float) -> None:
        """RFC 9293 §3.10.7.4 seventh step, with reassembly of out-of-order data."""
        t = self.tcb
        rcv_nxt = t.rcv_nxt
        skip = ((rcv_nxt - start + _HALF) & _MASK) - _HALF
        if skip > 0:
            if skip >= len(payload):
                t.ack_now = True  # a duplicate: re-ACK at once (RFC 5681 §4.2)
                return
            payload = payload[skip:]
            start = rcv_nxt
        # Within the window we offered, and never past the buffer: the offered edge is
        # rounded up to the window-scale unit (RFC 7323 §2.4), and a peer stopping one
        # byte short of it every time would otherwise gain up to a unit per ACK
        rcvq = t.rcvq
        buffer_end = (rcv_nxt + t.config.rcvbuf - len(rcvq)) & _MASK
        room = min(((t.rcv_adv - start + _HALF) & _MASK) - _HALF,
                   ((buffer_end - start + _HALF) & _MASK) - _HALF)
        if room <= 0:
            t.ack_now = True
            return
        if len(payload) > room:
            payload = payload[:room]  # trim to the window we offered
        if start != rcv_nxt:
            t.ooo.insert(start, payload)
            t.ack_now = True  # out of order: ACK at once (RFC 5681 §4.2)
            return
        ooo = t.ooo
        filled_hole = len(ooo) > 0
        data = payload + ooo.pop_ready(sq.add(start, len(payload))) if filled_hole \
            else payload
        rcv_nxt = t.rcv_nxt = (rcv_nxt + len(data)) & _MASK
        if not t.rd_shut:
            rcvq += data
            t.events.append(DataReceived(len(rcvq)))
        if filled_hole or ooo.fin_seq is not None:
            t.ack_now = True
        else:
            t.schedule_ack(len(payload), now)
        if ooo.fin_seq is not None and ooo.fin_seq == rcv_nxt:
            ooo.fin_seq = None
            self._on_fin(now)

    def _on_fin(self, now: float) -> None:
        t = self.tcb
        t.rcv_nxt = sq.add(t.rcv_nxt, 1)
        t.eof = True
        t.ack_now = True  # ACK a FIN at once
        t.events.append(EndOfStream())
        st = t.state
        if st is S.ESTABLISHED:
            t.goto(T.RCV_FIN)
        elif st is S.FIN_WAIT_1:
            t.goto(T.RCV_FIN, "simultaneous close")
        elif st is S.FIN_WAIT_2:
            t.goto(T.RCV_FIN)
            self._start_time_wait(now)

    def _start_time_wait(self, now: float) -> None:
        t = self.tcb
        t.cancel(RTX)
        t.cancel(PERSIST)
        t.arm(TIME_WAIT, now + 2 * t.config.msl)

    def _on_reset(self) -> None:
        t = self.tcb
        st = t.state
        if st is S.SYN_RECEIVED:
            if t.passive:
                t.goto(T.RCV_RST, "the listener keeps listening")
            else:
                t.fail(E.ECONNREFUSED, "connection refused")
                t.events.append(ConnectionReset(refused=True))
                t.goto(T.RCV_RST, "connection refused")
            return
        if st is not S.TIME_WAIT and not (t.app_closed and st in (S.CLOSING, S.LAST_ACK)):
            # The application still holds the socket (in CLOSING or LAST-ACK only after
            # shutdown(SHUT_WR)): it hears of the reset as Linux's tcp_reset() tells it,
            # EPIPE in CLOSE-WAIT (it had read the peer's FIN), ECONNRESET elsewhere.
            # TIME-WAIT is a finished connection: nothing is reported, as in Linux,
            # whose TIME-WAIT socket is no longer the application's.
            t.events.append(ConnectionReset())
            if st is S.CLOSE_WAIT:
                t.fail(E.EPIPE, "connection reset by peer after its FIN")
            else:
                t.fail(E.ECONNRESET, "connection reset by peer")
            t.rcvq.clear()
        t.goto(T.RCV_RST)

    def _ack_unacceptable(self, seg: Segment, now: float) -> None:
        """ACK a segment found unacceptable (out of window, PAWS, TIME-WAIT, an ACK of
        unsent data).  Two ends that disagree about the sequence space answer each
        other's ACKs without end (an ACK storm; one injected in-window segment is
        enough), so a segment without text gets at most one such answer per
        ``invalid_ack_interval`` (Linux: tcp_invalid_ratelimit, 500 ms; the idea of RFC
        5961 §7).  A segment with text or a FIN is always answered, as Linux does: an
        ACK loop is made of bare ACKs, and a peer resending data needs the ACK."""
        t = self.tcb
        if (seg.payload or seg.flags & FIN) and not seg.flags & SYN:
            t.ack_now = True
            return
        if self._oow_acked is None or now - self._oow_acked >= t.config.invalid_ack_interval:
            self._oow_acked = now
            t.ack_now = True

    def takes_new_syn(self, seg: Segment, new_timestamps: bool) -> bool:
        """In TIME-WAIT, whether ``seg`` is a SYN opening a new incarnation of this
        connection (RFC 9293 §3.10.7.4 fourth step, RFC 6191 §2): newer by its timestamp
        when both incarnations use timestamps (``new_timestamps``: the listener would
        agree to them), else by its sequence number.  If so, TIME-WAIT ends here
        (-> CLOSED) and the SYN is for the listener.  A pure query when it answers False."""
        t = self.tcb
        if t.state is not S.TIME_WAIT or seg.flags & (SYN | ACK | RST | FIN) != SYN:
            return False
        ts = seg.timestamps() if t.ts_ok and new_timestamps else None
        newer = (sq.gt(ts.val, t.ts_recent) if ts is not None
                 else sq.gt(seg.seq, t.rcv_nxt))
        if newer:
            t.goto(T.RCV_SYN, "a new incarnation (RFC 6191)")
        return newer
