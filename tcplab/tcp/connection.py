"""One TCP connection: the TCB and RFC 9293 §3.10 event processing.

Theory of operation
-------------------
A :class:`Connection` is driven from outside.  User calls (``listen``, ``connect``,
``send``, ``recv``, ``shutdown``, ``close``, ``abort``), arriving segments
(``receive``) and timers (``handle_timer``) each take ``now`` and end by running
the output routine, which turns the TCB into segments in ``segments_to_send()``.
State moves go through ``_goto`` (:mod:`tcplab.tcp.arrival`), which looks the move up in
:data:`tcplab.tcp.states.TABLE` and raises if it is not there, so the table and the
engine cannot disagree.

Sending lives in :mod:`tcplab.tcp.sender` (windows, Nagle, congestion, SACK recovery,
retransmission) and the receive side in :mod:`tcplab.tcp.arrival` (SEGMENT ARRIVES,
ICMP errors, TIME-WAIT giving way); this module keeps the user calls, the timers and
the life cycle around them.
"""

from __future__ import annotations

import errno as E
from dataclasses import replace

from tcplab.tcp import seq as sq
from tcplab.tcp.arrival import Arrival, reset_for
from tcplab.tcp.config import Config
from tcplab.tcp.events import (
    Event,
    TimerFired,
)
from tcplab.tcp.isn import cookie_ts_options, cookie_tsval, initial_sequence, timestamp_offset
from tcplab.tcp.kinds import Shutdown, Timer, Why
from tcplab.tcp.segment import (
    RST,
    SACK_PERMITTED,
    SYN,
    Mss,
    Option,
    Segment,
    Timestamps,
    WScale,
)
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.status import Address, Status, TcpError

__all__ = ["Address", "Connection", "Status", "TcpError", "reset_for"]

S = State
T = Trigger
# RFC 9293 §3.10.5: ABORT sends a RST in these states only
_RST_ON_ABORT = frozenset({S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2,
                           S.CLOSE_WAIT})
_CLOSED_FOR_SEND = frozenset({S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK, S.TIME_WAIT})


class Connection(Arrival):
    """A TCP connection (see the module docstring)."""

    __slots__ = ("_iss_above",)

    def __init__(self, local: Address, config: Config | None = None) -> None:
        cfg = config if config is not None else Config()
        cfg.validate()
        super().__init__(cfg)
        self.local = local
        self.remote: Address | None = None
        self.passive = False
        self.error: int | None = None
        self._iss_above: int | None = None  # see spawn()

    # ------------------------------------------------------------------ plumbing
    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    def segments_to_send(self) -> list[Segment]:
        """Drain the segments produced so far, in the order they were made."""
        out = self._out
        self._out = []
        return out

    def get_timer(self) -> float | None:
        """The earliest timer deadline, or None when no timer runs."""
        return min(self._timers.values()) if self._timers else None

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now`` (each reported as TimerFired), then send."""
        resend: Why | None = None  # a timeout's go-back-N pass follows (Sender._on_rto)
        for name, deadline in sorted(self._timers.items(), key=lambda kv: kv[1]):
            if deadline > now or self._timers.get(name) != deadline:
                continue
            del self._timers[name]
            self._events.append(TimerFired(name))
            match name:
                case Timer.TIME_WAIT:
                    self._goto(T.TIME_WAIT_TIMEOUT)
                case Timer.RTX:
                    resend = self._on_rto(now) or resend
                case Timer.PERSIST:
                    self._on_persist(now)
                case Timer.TLP:
                    self._on_tlp(now)
                case Timer.RACK:
                    self._on_rack_timer(now)
                case Timer.DELACK:
                    self._ack_now = True
                case Timer.KEEPALIVE:
                    self._on_keepalive(now)
        self._output(now, resend)

    # ------------------------------------------------------------------ user calls
    def _setup(self, remote: Address, now: float) -> None:
        self.remote = remote
        self._ka_heard = now
        self.iss = initial_sequence(self.config.isn_secret, self.local, remote, now)
        if self._iss_above is not None and not sq.gt(self.iss, self._iss_above):
            # RFC 1122 §4.2.2.13 (1): a new incarnation starts above all the old one sent
            self.iss = sq.add(self._iss_above, 65537)
        self._ts_offset = timestamp_offset(self.config.isn_secret, self.local, remote)
        self._reset_send_space(self.iss)

    def listen(self, now: float) -> None:
        """Passive OPEN (RFC 9293 §3.10.1): wait for SYNs."""
        if self._state is not S.CLOSED:
            raise TcpError(E.EISCONN, "connection already exists")
        self.passive = True
        self._goto(T.PASSIVE_OPEN)

    def spawn(self, remote: Address, iss_above: int | None = None) -> Connection:
        """A child for a SYN from ``remote``; ``iss_above``: the SND.MAX of the
        incarnation in TIME-WAIT this SYN replaces (:meth:`takes_new_syn`)."""
        if self._state is not S.LISTEN:
            raise TcpError(E.EINVAL, "not listening")
        child = Connection(self.local, replace(self.config))
        # the child is the listener's: it enters LISTEN by the passive OPEN row, unseen
        # (nobody watched it in CLOSED), so the first move it reports is LISTEN's
        child._goto(T.PASSIVE_OPEN, report=False)
        child.passive = True
        child.remote = remote
        child._iss_above = iss_above
        return child

    # -- SYN cookies (RFC 4987 §3.6) ----------------------------------------------------
    def syn_ack_for_cookie(self, seg: Segment, cookie: int, now: float) -> Segment:
        """The SYN,ACK that answers ``seg`` with a SYN cookie as ISN (RFC 4987 §3.6).
        This connection is a throwaway child of a listener (:meth:`spawn`): nothing of
        it is kept.  With timestamps, TSval's low bits carry the peer's window scale and
        SACK (:func:`tcplab.tcp.isn.cookie_tsval`), as Linux does."""
        assert self.remote is not None
        if seg.timestamps() is None or not self.config.timestamps:
            # no TSval to carry window scale and SACK back: offer neither, or the two
            # ends would disagree about them (Linux clears the options the same way)
            seg = replace(seg, options=tuple(o for o in seg.options if isinstance(o, Mss)))
        self._setup((self.remote[0], seg.src_port), now)
        self._reset_send_space(cookie)
        self.irs = seg.seq
        self.rcv_nxt = sq.add(seg.seq, 1)
        self._negotiate(seg, now)
        self._send_syn(now, ack=True)
        syn_ack = self._out.pop()
        wscale = self.snd_wscale if self.snd_wscale_offered else None
        syn_ack.options = tuple(
            Timestamps(cookie_tsval(o.val, wscale, self.sack_ok), o.ecr)
            if isinstance(o, Timestamps) else o for o in syn_ack.options)
        return syn_ack

    def open_from_cookie(self, ack: Segment, mss: int, now: float) -> None:
        """A listener's child made from the ACK that returned a valid SYN cookie carrying
        ``mss``: the SYN is rebuilt from the cookie (and the TSecr's option bits), the
        connection passes SYN-RECEIVED as if it had waited there, and the ACK is
        processed as usual, data and all."""
        assert self.remote is not None
        opts: list[Option] = [Mss(mss)]
        ts = ack.timestamps()
        if ts is not None:
            wscale, sack = cookie_ts_options(ts.ecr)
            opts.append(Timestamps(ts.val, 0))
            if wscale is not None:
                opts.append(WScale(wscale))
            if sack:
                opts.append(SACK_PERMITTED)
        syn = Segment(ack.src_port, ack.dst_port, sq.add(ack.seq, -1), 0, SYN, ack.window,
                      tuple(opts))
        self._setup((self.remote[0], ack.src_port), now)
        self._reset_send_space(sq.add(ack.ack, -1))
        self.irs = syn.seq
        self.rcv_nxt = ack.seq
        self._negotiate(syn, now)
        self.rcv_adv = sq.add(self.rcv_nxt, min(self.rcv_window(), 0xFFFF))  # as offered
        self.snd_nxt = self.snd_max = sq.add(self.iss, 1)
        self._goto(T.RCV_SYN, "from a SYN cookie (RFC 4987)")
        self.receive(ack, now)

    def connect(self, remote: Address, now: float) -> None:
        """Active OPEN (RFC 9293 §3.10.1): send a SYN to ``remote``."""
        if self._state is not S.CLOSED:
            raise TcpError(E.EISCONN if self._state is not S.SYN_SENT else E.EALREADY,
                           "connection already exists")
        self._setup(remote, now)
        self._goto(T.ACTIVE_OPEN)
        self._send_syn(now, ack=False)
        self._output(now)

    def send(self, data: bytes, now: float, urgent: bool = False) -> int:
        """Queue ``data``; returns the bytes taken.  ``urgent``: the data is urgent (RFC
        9293 §3.8.5, MSG_OOB): SND.UP moves to just after its last byte taken, every
        segment below it carries URG and the urgent pointer, and Nagle holds none of it
        back (as Linux).  Urgent data stays in the stream, in order (RFC 6093)."""
        st = self._state
        if st in (S.CLOSED, S.LISTEN):
            raise TcpError(self.error or E.ENOTCONN, "connection does not exist")
        if st in _CLOSED_FOR_SEND or self._fin_queued:
            raise TcpError(E.EPIPE, "connection closing")
        n = self._queue_data(data)
        if n == 0 and data:
            raise TcpError(E.EAGAIN, "send buffer full")
        if urgent and n:
            self.snd_up = self._data_end()
        if st not in (S.SYN_SENT, S.SYN_RECEIVED):
            self._output(now)
        return n

    def settings_changed(self, now: float) -> None:
        """The application changed ``config`` (a socket option): act on it now -- arm
        or stop the keep-alive timer (a first one counts from now, as Linux does), send
        what Nagle no longer holds back."""
        self.config.validate()
        if self.config.keepalive and Timer.KEEPALIVE not in self._timers:
            self._ka_heard = max(self._ka_heard, now)
        if self._state not in (S.CLOSED, S.LISTEN):
            self._output(now)

    def recv(self, max_bytes: int, now: float) -> bytes:
        """Take up to ``max_bytes`` in-order bytes.  b"" at end of stream (or after
        shutdown of the read side); TcpError EAGAIN when nothing is there yet."""
        if self._rcvq:
            data = bytes(self._rcvq[:max_bytes])
            del self._rcvq[:max_bytes]
            self._maybe_window_update()
            self._output(now)
            return data
        if self._eof or self._rd_shut:
            return b""
        if self._state is S.CLOSED:
            if self.error:
                raise TcpError(self.error, "connection failed")
            raise TcpError(E.ENOTCONN, "connection does not exist")
        if self._state is S.LISTEN:
            raise TcpError(E.ENOTCONN, "socket is listening")
        raise TcpError(E.EAGAIN, "no data yet")

    def shutdown(self, how: Shutdown | str, now: float) -> None:
        """Close one direction or both (RFC 9293 §3.10.4 for the write side: a FIN
        after the queued data; the read side drops what arrives unread)."""
        try:
            how = Shutdown(how)
        except ValueError:
            raise TcpError(E.EINVAL, f"bad shutdown direction {how!r}") from None
        if self._state in (S.CLOSED, S.LISTEN, S.SYN_SENT):
            raise TcpError(E.ENOTCONN, "not connected")
        if how is not Shutdown.WR:
            self._rd_shut = True
            self._rcvq.clear()
        if how is not Shutdown.RD:
            self._close_send(now, "shutdown(SHUT_WR)")
        self._output(now)

    def close(self, now: float) -> None:
        """CLOSE (RFC 9293 §3.10.4): a FIN after the queued data; with unread data a
        RST instead (RFC 1122 §4.2.2.13)."""
        st = self._state
        if st in (S.LISTEN, S.SYN_SENT):
            self._goto(T.CLOSE)
            return
        if st is S.CLOSED:
            raise TcpError(self.error or E.ENOTCONN, "connection does not exist")
        if self._rcvq and not self._rd_shut and st in _RST_ON_ABORT:
            # RFC 1122 §4.2.2.13: closing with unread data resets the connection
            self._rst_and_close(now, "close with unread data")
            return
        self._rcvq.clear()
        self._rd_shut = True
        self._app_closed = True
        self._close_send(now, "")
        self._output(now)

    def _close_send(self, now: float, detail: str) -> None:
        if self._fin_queued or self._close_deferred is not None:
            return
        if self._state is S.SYN_RECEIVED and self._sndq:
            # RFC 9293 §3.10.4: with data queued, CLOSE waits for ESTABLISHED
            self._close_deferred = detail
            return
        if self._state in (S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT):
            self._fin_queued = True
            self._goto(T.CLOSE, detail)

    def abort(self, now: float) -> None:
        """ABORT (RFC 9293 §3.10.5): a RST where the state calls for one, then CLOSED."""
        st = self._state
        if st is S.CLOSED:
            raise TcpError(self.error or E.ENOTCONN, "connection does not exist")
        if st in _RST_ON_ABORT:
            self._rst_and_close(now, "")
        else:
            self._goto(T.ABORT)

    def _rst_and_close(self, now: float, detail: str) -> None:
        # RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>
        self._out.append(Segment(self.local[1], self._rport, self.snd_max, 0, RST, 0))
        self._rcvq.clear()
        self._goto(T.ABORT, detail)

    def status(self) -> Status:
        """A snapshot of the TCB and counters (what the dashboard's TCB view shows)."""
        return Status(
            state=self._state, local=self.local, remote=self.remote, iss=self.iss,
            irs=self.irs, snd_una=self.snd_una, snd_nxt=self.snd_nxt, snd_wnd=self.snd_wnd,
            rcv_nxt=self.rcv_nxt, rcv_wnd=self.rcv_window(), send_queue=self.send_queue,
            recv_queue=len(self._rcvq), cwnd=self.cc.cwnd, ssthresh=min(self.cc.ssthresh, 1 << 30),
            srtt=self.rtt.srtt, rttvar=self.rtt.rttvar, rto=self.rtt.current(),
            in_flight=self.in_flight, retransmits=self.retransmits, dup_acks=self.cc.dup_acks,
            sacked_bytes=self.board.sacked_bytes, mss=self.snd_mss,
            snd_wscale=self.snd_wscale, rcv_wscale=self.rcv_wscale, sack=self.sack_ok,
            timestamps=self.ts_ok, timers=dict(self._timers), error=self.error,
            snd_max=self.snd_max, urgent_pending=self.urgent_pending,
        )

    @property
    def readable(self) -> int:
        """Bytes ``recv`` can return now."""
        return len(self._rcvq)

    def _small_segment_ok(self, n: int, avail: int) -> bool:
        # Nagle does not hold back urgent data (Linux's tcp_nagle_test: urgent mode)
        if self.snd_up is not None and sq.gt(self.snd_up, self.snd_nxt):
            return True
        return super()._small_segment_ok(n, avail)

    def _on_rto_give_up(self, reason: str) -> None:
        self._fail(E.ETIMEDOUT, reason)
        self._goto(T.TIMEOUT, reason)

    def _on_keepalive_give_up(self, probes: int) -> None:
        self._fail(E.ETIMEDOUT, f"keep-alive: {probes} probes unanswered")
        self._goto(T.KEEPALIVE_TIMEOUT, f"{probes} probes unanswered")
