"""Segments arriving, and other news from the network: RFC 9293 §3.10.7, §3.9.2.2.

Theory of operation
-------------------
:class:`Arrival` is the receive half of a connection: SEGMENT ARRIVES in every state
(the acceptability test, RST and SYN checks with RFC 5961's challenge ACKs, the ACK,
the urgent pointer, the text and the FIN, in the RFC's order), header prediction for the
common case, reassembly into the receive queue (never past ``rcvbuf``), and the receive
window it offers.  ACKs answering unacceptable segments are rate-limited (one per
``invalid_ack_interval``), so two ends that disagree about the sequence space cannot
answer each other forever.  It also takes
what arrives outside the segment flow: ICMP errors about our segments (RFC 5927 checks
first) and a newer SYN that ends TIME-WAIT (RFC 6191).  Every state move goes through
:meth:`Arrival._goto`, which looks the move up in :data:`tcplab.tcp.states.TABLE`.

User calls, timers and the connection's life cycle are :mod:`tcplab.tcp.connection`;
sending is :mod:`tcplab.tcp.sender`.
"""

from __future__ import annotations

import errno as E
from abc import abstractmethod

from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.events import (
    ConnectionFailed,
    ConnectionReset,
    DataReceived,
    EndOfStream,
    IcmpReported,
    StateChanged,
)
from tcplab.tcp.kinds import PERSIST, RTX, TIME_WAIT
from tcplab.tcp.reassembly import Reassembly
from tcplab.tcp.segment import ACK, FIN, RST, SYN, URG, Segment
from tcplab.tcp.sender import Sender
from tcplab.tcp.states import TABLE, State, Trigger, UndeclaredMove
from tcplab.tcp.status import Address

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


class Arrival(Sender):
    """The receive side of a connection (see the module docstring)."""

    __slots__ = ("_app_closed", "_challenge_count", "_challenge_window", "_close_deferred",
                 "_eof", "_ooo", "_oow_acked", "_rcvq", "_rd_shut", "_syn_text", "error",
                 "irs", "passive", "rcv_up", "urgent_signals")

    passive: bool
    error: int | None

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.irs = 0
        self.rcv_nxt = 0
        self._rcvq = bytearray()        # in order, not yet read by the app
        self._ooo = Reassembly()
        self._rd_shut = False
        self._app_closed = False        # close() was called: nobody reads any more
        self._close_deferred: str | None = None  # a CLOSE waiting for ESTABLISHED
        self._eof = False               # the peer's FIN was reached in order
        self._syn_text = b""            # text of the peer's SYN, held until ESTABLISHED
        self.rcv_up: int | None = None  # RCV.UP: just after the peer's last urgent octet
        self.urgent_signals = 0         # times the application was told of urgent data
        self.ts_recent = 0
        self._ts_recent_valid = False
        self._challenge_window = -1.0
        self._challenge_count = 0
        self._oow_acked: float | None = None  # when an unacceptable segment was last ACKed

    # ------------------------------------------------------------------ the table
    def _goto(self, trigger: Trigger, detail: str = "", report: bool = True) -> None:
        """Take the declared row for ``trigger`` from the current state (the only place
        the state changes); ``report``: emit StateChanged (False only for a listener's
        child, moving before anyone can see it: :meth:`Connection.spawn`)."""
        old = self._state
        row = TABLE.get((old, trigger))
        if row is None:
            raise UndeclaredMove(f"undeclared move: {old} on {trigger}")
        self._state = row.next
        if report:
            self._events.append(StateChanged(old, row.next, trigger, detail))
        if row.next is S.CLOSED:
            for name in list(self._timers):
                self._cancel(name)

    def _fail(self, code: int, reason: str) -> None:
        self.error = code
        self._events.append(ConnectionFailed(code, reason))

    @abstractmethod
    def _setup(self, remote: Address, now: float) -> None: ...

    @abstractmethod
    def _close_send(self, now: float, detail: str) -> None: ...

    # ------------------------------------------------------------------ receive window
    def rcv_window(self) -> int:
        """Free receive space we may offer (before SWS avoidance and scaling)."""
        used = len(self._rcvq) + self._ooo.buffered
        return max(0, self.config.rcvbuf - used)

    def rcv_room(self) -> int:
        """Buffer space from RCV.NXT on: free space and the out-of-order bytes held."""
        return max(0, self.config.rcvbuf - len(self._rcvq))

    def _maybe_window_update(self) -> None:
        # RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): a reopened window is worth a
        # segment of its own only when it grew by min(RCV.BUFF/2, Eff.snd.MSS); like
        # Linux, also only when the offered window had shrunk below half its maximum
        # (otherwise the next ACK carries the update anyway)
        offered = max(sq.sub(self.rcv_adv, self.rcv_nxt), 0)
        limit = min(self.config.rcvbuf, 0xFFFF << self.rcv_wscale)
        grown = min(self.rcv_window(), limit) - offered
        if 2 * offered <= limit and grown >= min(limit // 2, self.snd_mss):
            self._ack_now = True

    # ------------------------------------------------------------------ SEGMENT ARRIVES
    def receive(self, seg: Segment, now: float, output: bool = True) -> None:
        """SEGMENT ARRIVES.  ``output=False``: more segments arrived with this one; the
        answer waits for :meth:`flush` after the last, so that every queued segment is
        processed before an ACK is sent (RFC 9293 §3.10.7.4, MUST-59)."""
        st = self._state
        if st is S.CLOSED:
            reply = reset_for(seg)
            if reply is not None:
                self._out.append(reply)
            self._drop("connection closed")
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
        if self._state is not S.CLOSED:
            self._output(now)

    def icmp_error(self, seq: int, hard: bool, errno: int, reason: str) -> bool:
        """An ICMP error quoting our segment at ``seq`` (RFC 9293 §3.9.2.2).  Taken only
        for sequence space in flight, SND.UNA <= seq < SND.MAX (RFC 5927 §4.1); a hard
        error (``errno``) ends an opening connection, anything else is reported and the
        connection goes on (MUST-56; hard errors once synchronized: RFC 5927 §7.2).
        False: not taken."""
        # SND.MAX, not SND.NXT: after a timeout SND.NXT went back, and what was sent
        # beyond it is still in flight
        if self._state in (S.CLOSED, S.LISTEN, S.TIME_WAIT) or not (
                sq.le(self.snd_una, seq) and sq.lt(seq, self.snd_max)):
            self._drop("ICMP error for sequence space not in flight (RFC 5927)")
            return False
        if hard and self._state in (S.SYN_SENT, S.SYN_RECEIVED):
            if self.passive:  # nobody accepted it: as for a RST, the listener goes on
                self._goto(T.RCV_ICMP, f"{reason}; the listener keeps listening")
            else:
                self._fail(errno, reason)
                self._goto(T.RCV_ICMP, reason)
        else:
            self._events.append(IcmpReported(reason))
        return True

    def _receive_listen(self, seg: Segment, now: float) -> None:
        """RFC 9293 §3.10.7.2."""
        if seg.flags & RST:
            self._drop("RST in LISTEN")
            return
        if seg.flags & ACK:
            self._out.append(Segment(self.local[1], seg.src_port, seg.ack, 0, RST, 0))
            self._drop("ACK in LISTEN")
            return
        if not seg.flags & SYN:
            self._drop("no SYN in LISTEN")
            return
        if self.remote is None:
            self._drop("SYN to a listener: the host spawns a child for it")
            return
        remote = (self.remote[0], seg.src_port)
        self._setup(remote, now)
        self.irs = seg.seq
        self.rcv_nxt = sq.add(seg.seq, 1)
        self._negotiate(seg, now)
        self._goto(T.RCV_SYN)
        self._send_syn(now, ack=True)
        self._syn_text = seg.payload  # RFC 9293 §3.10.7.2: queued for after ESTABLISHED

    def _receive_syn_sent(self, seg: Segment, now: float) -> None:
        """RFC 9293 §3.10.7.3."""
        f = seg.flags
        ack_ok = False
        if f & ACK:
            if sq.le(seg.ack, self.iss) or sq.gt(seg.ack, self.snd_nxt):
                if not f & RST:
                    self._out.append(Segment(self.local[1], self._rport, seg.ack, 0, RST, 0))
                self._drop("unacceptable ACK in SYN-SENT")
                return
            ack_ok = True
        if f & RST:
            if ack_ok:
                self._fail(E.ECONNREFUSED, "connection refused")
                self._events.append(ConnectionReset(refused=True))
                self._goto(T.RCV_RST, "connection refused")
            else:
                self._drop("RST without ACK in SYN-SENT")
            return
        if not f & SYN:
            self._drop("no SYN in SYN-SENT")
            return
        self.irs = seg.seq
        self.rcv_nxt = sq.add(seg.seq, 1)
        self.rcv_adv = sq.add(self.rcv_nxt, min(self.rcv_window(), 0xFFFF))
        self._negotiate(seg, now)
        if ack_ok:
            self._ack_of_syn(seg, now)
            self._goto(T.RCV_SYN_ACK)
            self._ack_now = True
            self._update_window(seg, force=True)
            if seg.payload:
                self._accept_text(sq.add(seg.seq, 1), seg.payload, now)
        else:
            self._goto(T.RCV_SYN, "simultaneous open")
            self._send_syn(now, ack=True, retransmit=False)
            self._syn_text = seg.payload  # §3.10.7.3: queued for after ESTABLISHED

    def _predicted(self, seg: Segment, now: float) -> bool:
        """Header prediction, as BSD's tcp_input does it: in ESTABLISHED the segment at
        RCV.NXT that only ACKs (data or not) passes every check of §3.10.7.4 before the
        fifth step, so it goes straight there, with the same effects.  False: nothing
        was done; the general path takes it."""
        s0 = seg.seq
        rcv_nxt = self.rcv_nxt
        if (seg.flags & _UNPREDICTED != ACK or s0 != rcv_nxt or not self.syn_acked
                or ((self.snd_max - seg.ack) & _MASK) >= _HALF):
            return False  # (ACK of unsent data, ack > SND.MAX: the general path)
        payload = seg.payload
        if payload and ((self.rcv_adv - rcv_nxt + _HALF) & _MASK) - _HALF <= 0:
            return False  # zero window: the general path's rules
        ts = None
        if self.ts_ok:
            ts = seg.timestamps()
            if ts is None or (self._ts_recent_valid
                              and ((ts.val - self.ts_recent) & _MASK) >= _HALF):
                return False  # (PAWS: TSval < TS.Recent)
            # RFC 7323 §4.3: SEG.SEQ <= Last.ACK.sent < SEG.SEQ + max(SEG.LEN, 1)
            if ((self._last_ack_sent - s0) & _MASK) < max(len(payload), 1):
                self.ts_recent = ts.val
                self._ts_recent_valid = True
        if self._process_ack(seg, ts, now) and payload:
            self._accept_text(s0, payload, now)
        return True

    def _receive_synchronized(self, seg: Segment, now: float) -> None:
        """RFC 9293 §3.10.7.4, for SYN-RECEIVED and every synchronized state."""
        f = seg.flags
        st = self._state
        was_syn = False
        if (st is S.SYN_RECEIVED and not self.passive and f & SYN and f & ACK
                and seg.seq == self.irs
                and sq.lt(self.snd_una, seg.ack) and sq.le(seg.ack, self.snd_nxt)):
            # Simultaneous open: the peer's SYN,ACK repeats the SYN we hold.  Taken as the
            # ACK of our SYN (as Linux does) instead of re-ACKing and waiting a round trip.
            seg = Segment(seg.src_port, seg.dst_port, sq.add(seg.seq, 1), seg.ack,
                          f & ~SYN, seg.window, seg.options, seg.payload)
            f = seg.flags
            was_syn = True
        ts = seg.timestamps() if self.ts_ok else None
        # RFC 7323 §5.3 PAWS: an old timestamp means an old duplicate
        if (ts is not None and not f & RST and self._ts_recent_valid
                and sq.lt(ts.val, self.ts_recent)):
            self._drop("PAWS: old timestamp")
            self._ack_unacceptable(seg, now)
            if st is S.TIME_WAIT:
                self._start_time_wait(now)  # as Linux: a PAWS reject restarts 2*MSL
            return
        # first: the sequence number (RFC 9293 §3.10.7.4 table)
        wnd = max(sq.sub(self.rcv_adv, self.rcv_nxt), 0)
        # a RST is judged by its sequence number alone, whatever data it carries (RFC
        # 5961 §3.2; §3.10.7.4: RSTs stay acceptable at a zero window; SHLD-2)
        slen = 0 if f & RST else seg.seg_len
        s0 = seg.seq
        if slen == 0:
            ok = s0 == self.rcv_nxt if wnd == 0 else sq.between(self.rcv_nxt, s0, sq.add(
                self.rcv_nxt, wnd))
        elif wnd == 0:
            ok = False
        else:
            right = sq.add(self.rcv_nxt, wnd)
            ok = (sq.between(self.rcv_nxt, s0, right)
                  or sq.between(self.rcv_nxt, sq.add(s0, slen - 1), right))
        zero_window_ack = False
        if (not ok and st is S.TIME_WAIT and f & FIN and not f & RST
                and sq.add(s0, len(seg.payload)) == sq.add(self.rcv_nxt, -1)):
            # a retransmission of the FIN we hold: re-ACK and restart 2*MSL (RFC 9293
            # §3.10.7.4, TIME-WAIT under the eighth step)
            self._ack_now = True
            self._goto(T.RCV_FIN, "retransmitted FIN")
            self._start_time_wait(now)
            return
        if (st is S.TIME_WAIT and not f & (RST | SYN) and s0 != self.rcv_nxt
                and not (ok and f & FIN)):
            # RFC 9293 §3.10.7.4 first check: in TIME-WAIT the window is closed, so
            # every segment not at RCV.NXT is unacceptable and gets an ACK (the peer
            # lost ours); like Linux and FreeBSD, one that carries an ACK restarts 2*MSL
            self._ack_unacceptable(seg, now)
            if f & ACK:
                self._start_time_wait(now)
            self._drop("TIME-WAIT: not at RCV.NXT")
            return
        if not ok:
            if wnd == 0 and s0 == self.rcv_nxt and f & ACK and not f & (RST | SYN):
                # §3.10.7.4: with RCV.WND = 0 still take valid ACKs (the data is dropped)
                zero_window_ack = True
            else:
                if f & SYN and not f & RST:
                    # as Linux: a SYN anywhere is answered as in the fourth step, with a
                    # challenge ACK under RFC 5961 §7's own limit
                    self._challenge_ack(now)
                elif not f & RST:
                    self._ack_unacceptable(seg, now)
                self._drop("out of window")
                return
        # second: RST (RFC 5961 §3.2: exact match resets, in-window gets a challenge ACK)
        if f & RST:
            if s0 != self.rcv_nxt:
                self._challenge_ack(now)
                self._drop("RST not at RCV.NXT: challenge ACK")
                return
            self._on_reset()
            return
        # fourth: SYN.  A passive open's child goes back to LISTEN (RFC 9293 §3.10.7.4);
        # in a synchronized state it gets a challenge ACK (RFC 5961 §4.2)
        if f & SYN and st is S.SYN_RECEIVED and self.passive:
            self._goto(T.RCV_SYN, "back to LISTEN: the listener keeps listening")
            return
        if f & SYN:
            self._challenge_ack(now)
            self._drop("SYN in synchronized state: challenge ACK")
            return
        # fifth: ACK
        if not f & ACK:
            self._drop("no ACK")
            return
        if ts is not None and sq.le(s0, self._last_ack_sent) and sq.lt(
                self._last_ack_sent, sq.add(s0, max(slen, 1))):
            self.ts_recent = ts.val  # RFC 7323 §4.3
            self._ts_recent_valid = True
        if st is S.SYN_RECEIVED:
            if not (sq.lt(self.snd_una, seg.ack) and sq.le(seg.ack, self.snd_nxt)):
                self._out.append(Segment(self.local[1], self._rport, seg.ack, 0, RST, 0))
                self._drop("unacceptable ACK in SYN-RECEIVED")
                return
            self._ack_of_syn(seg, now)
            self._goto(T.RCV_ACK_OF_SYN)
            self._update_window(seg, force=True, syn=was_syn)
            self._take_syn_text(now)
            if self._close_deferred is not None:
                detail, self._close_deferred = self._close_deferred, None
                self._close_send(now, detail)
        elif (not self.syn_acked and sq.lt(self.snd_una, seg.ack)
              and sq.le(seg.ack, self.snd_nxt)):
            # closed while in SYN-RECEIVED: the ACK of our SYN arrives in FIN-WAIT-1 and
            # must still set the send window (SND.WL1/WL2) from this segment
            self._ack_of_syn(seg, now)
            self._update_window(seg, force=True, syn=was_syn)
            self._take_syn_text(now)
        if sq.gt(seg.ack, self.snd_max):
            # §3.10.7.4 fifth step: an ACK of something not yet sent is answered with an
            # ACK and dropped -- rate-limited, as this is one half of an ACK storm
            self._ack_unacceptable(seg, now)
            self._drop("ACK of unsent data")
            return
        if not self._process_ack(seg, ts, now, syn=was_syn):
            return
        st = self._state
        if st is S.FIN_WAIT_1 and self._fin_acked():
            self._goto(T.RCV_ACK_OF_FIN)
            st = self._state
        elif st is S.CLOSING and self._fin_acked():
            self._goto(T.RCV_ACK_OF_FIN)
            self._start_time_wait(now)
            return
        elif st is S.LAST_ACK and self._fin_acked():
            self._goto(T.RCV_ACK_OF_FIN)
            return
        # sixth: URG, at a zero window too (MUST-66); after the peer's FIN it cannot be new
        if f & URG and st in _ACK_WINDOW_STATES:
            self._urgent_arrived(sq.add(s0, seg.urgent))
        if zero_window_ack:
            self._ack_now = True
            self._drop("zero window: data not accepted")
            return
        # seventh: segment text
        payload = seg.payload
        fin = bool(f & FIN)
        if (payload and self._app_closed and st in (S.FIN_WAIT_1, S.FIN_WAIT_2)
                and sq.gt(sq.add(s0, len(payload)), self.rcv_nxt)):
            # RFC 1122 §4.2.2.13: new data after CLOSE has no reader: reset
            self._out.append(Segment(self.local[1], self._rport, self.snd_max, 0, RST, 0))
            self._fail(E.ECONNRESET, "data arrived after close")
            self._goto(T.RCV_DATA_AFTER_CLOSE)
            return
        if payload and st in _ACK_WINDOW_STATES:
            self._accept_text(s0, payload, now)
        # eighth: FIN
        if fin:
            fin_seq = sq.add(s0, len(payload))
            if st is S.TIME_WAIT:
                self._ack_now = True
                self._goto(T.RCV_FIN, "retransmitted FIN")
                self._start_time_wait(now)
            elif fin_seq == self.rcv_nxt and not self._eof:
                self._on_fin(now)
            elif sq.gt(fin_seq, self.rcv_nxt):
                self._ooo.fin_seq = fin_seq
                self._ack_now = True
            else:
                self._ack_now = True  # a FIN we already have: re-ACK it

    # ------------------------------------------------------------------ urgent data
    def _read_seq(self) -> int:
        """The sequence number of the next octet the application reads."""
        return sq.add(self.rcv_nxt, -len(self._rcvq) - (1 if self._eof else 0))

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
        if self._syn_text:
            text, self._syn_text = self._syn_text, b""
            self._accept_text(sq.add(self.irs, 1), text, now)
            self._ack_now = True  # held for a round trip already: no delayed ACK

    def _accept_text(self, start: int, payload: bytes, now: float) -> None:
        """RFC 9293 §3.10.7.4 seventh step, with reassembly of out-of-order data."""
        rcv_nxt = self.rcv_nxt
        skip = ((rcv_nxt - start + _HALF) & _MASK) - _HALF
        if skip > 0:
            if skip >= len(payload):
                self._ack_now = True  # a duplicate: re-ACK at once (RFC 5681 §4.2)
                return
            payload = payload[skip:]
            start = rcv_nxt
        # Within the window we offered, and never past the buffer: the offered edge is
        # rounded up to the window-scale unit (RFC 7323 §2.4), and a peer stopping one
        # byte short of it every time would otherwise gain up to a unit per ACK
        rcvq = self._rcvq
        buffer_end = (rcv_nxt + self.config.rcvbuf - len(rcvq)) & _MASK
        room = min(((self.rcv_adv - start + _HALF) & _MASK) - _HALF,
                   ((buffer_end - start + _HALF) & _MASK) - _HALF)
        if room <= 0:
            self._ack_now = True
            return
        if len(payload) > room:
            payload = payload[:room]  # trim to the window we offered
        if start != rcv_nxt:
            self._ooo.insert(start, payload)
            self._ack_now = True  # out of order: ACK at once (RFC 5681 §4.2)
            return
        ooo = self._ooo
        filled_hole = len(ooo) > 0
        data = payload + ooo.pop_ready(sq.add(start, len(payload))) if filled_hole \
            else payload
        rcv_nxt = self.rcv_nxt = (rcv_nxt + len(data)) & _MASK
        if not self._rd_shut:
            rcvq += data
            self._events.append(DataReceived(len(rcvq)))
        if filled_hole or ooo.fin_seq is not None:
            self._ack_now = True
        else:
            self._schedule_ack(len(payload), now)
        if ooo.fin_seq is not None and ooo.fin_seq == rcv_nxt:
            ooo.fin_seq = None
            self._on_fin(now)

    def _on_fin(self, now: float) -> None:
        self.rcv_nxt = sq.add(self.rcv_nxt, 1)
        self._eof = True
        self._ack_now = True  # ACK a FIN at once
        self._events.append(EndOfStream())
        st = self._state
        if st is S.ESTABLISHED:
            self._goto(T.RCV_FIN)
        elif st is S.FIN_WAIT_1:
            self._goto(T.RCV_FIN, "simultaneous close")
        elif st is S.FIN_WAIT_2:
            self._goto(T.RCV_FIN)
            self._start_time_wait(now)

    def _start_time_wait(self, now: float) -> None:
        self._cancel(RTX)
        self._cancel(PERSIST)
        self._arm(TIME_WAIT, now + 2 * self.config.msl)

    def _on_reset(self) -> None:
        st = self._state
        if st is S.SYN_RECEIVED:
            if self.passive:
                self._goto(T.RCV_RST, "the listener keeps listening")
            else:
                self._fail(E.ECONNREFUSED, "connection refused")
                self._events.append(ConnectionReset(refused=True))
                self._goto(T.RCV_RST, "connection refused")
            return
        if st is not S.TIME_WAIT and not (self._app_closed and st in (S.CLOSING, S.LAST_ACK)):
            # The application still holds the socket (in CLOSING or LAST-ACK only after
            # shutdown(SHUT_WR)): it hears of the reset as Linux's tcp_reset() tells it,
            # EPIPE in CLOSE-WAIT (it had read the peer's FIN), ECONNRESET elsewhere.
            # TIME-WAIT is a finished connection: nothing is reported, as in Linux,
            # whose TIME-WAIT socket is no longer the application's.
            self._events.append(ConnectionReset())
            if st is S.CLOSE_WAIT:
                self._fail(E.EPIPE, "connection reset by peer after its FIN")
            else:
                self._fail(E.ECONNRESET, "connection reset by peer")
            self._rcvq.clear()
        self._goto(T.RCV_RST)

    def _ack_unacceptable(self, seg: Segment, now: float) -> None:
        """ACK a segment found unacceptable (out of window, PAWS, TIME-WAIT, an ACK of
        unsent data).  Two ends that disagree about the sequence space answer each
        other's ACKs without end (an ACK storm; one injected in-window segment is
        enough), so a segment without text gets at most one such answer per
        ``invalid_ack_interval`` (Linux: tcp_invalid_ratelimit, 500 ms; the idea of RFC
        5961 §7).  A segment with text or a FIN is always answered, as Linux does: an
        ACK loop is made of bare ACKs, and a peer resending data needs the ACK."""
        if (seg.payload or seg.flags & FIN) and not seg.flags & SYN:
            self._ack_now = True
            return
        if self._oow_acked is None or now - self._oow_acked >= self.config.invalid_ack_interval:
            self._oow_acked = now
            self._ack_now = True

    def _challenge_ack(self, now: float) -> None:
        """RFC 5961 §7: at most ``challenge_ack_limit`` challenge ACKs per second."""
        if now - self._challenge_window >= 1.0:
            self._challenge_window = now
            self._challenge_count = 0
        if self._challenge_count < self.config.challenge_ack_limit:
            self._challenge_count += 1
            self._ack_now = True

    def takes_new_syn(self, seg: Segment, new_timestamps: bool) -> bool:
        """In TIME-WAIT, whether ``seg`` is a SYN opening a new incarnation of this
        connection (RFC 9293 §3.10.7.4 fourth step, RFC 6191 §2): newer by its timestamp
        when both incarnations use timestamps (``new_timestamps``: the listener would
        agree to them), else by its sequence number.  If so, TIME-WAIT ends here
        (-> CLOSED) and the SYN is for the listener.  A pure query when it answers False."""
        if self._state is not S.TIME_WAIT or seg.flags & (SYN | ACK | RST | FIN) != SYN:
            return False
        ts = seg.timestamps() if self.ts_ok and new_timestamps else None
        newer = (sq.gt(ts.val, self.ts_recent) if ts is not None
                 else sq.gt(seg.seq, self.rcv_nxt))
        if newer:
            self._goto(T.RCV_SYN, "a new incarnation (RFC 6191)")
        return newer

    def _sack_blocks(self, limit: int) -> tuple[tuple[int, int], ...]:
        return self._ooo.sack_blocks(limit)
