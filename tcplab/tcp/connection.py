"""One TCP connection: the TCB and RFC 9293 §3.10 event processing.

Theory of operation
-------------------
A :class:`Connection` is driven from outside.  User calls (``listen``, ``connect``,
``send``, ``recv``, ``shutdown``, ``close``, ``abort``), arriving segments
(``receive``) and timers (``handle_timer``) each take ``now`` and end by running
the output routine, which turns the TCB into segments in ``segments_to_send()``.
State moves go through :meth:`Tcb.goto <tcplab.tcp.tcb.Tcb.goto>`, which looks the
move up in :data:`tcplab.tcp.states.TABLE` and raises if it is not there, so the table
and the engine cannot disagree.

A connection is composed of three parts around one :class:`~tcplab.tcp.tcb.Tcb`
(``conn.tcb``, the variables): the sending part ``conn.tx``
(:class:`~tcplab.tcp.sender.Sender`: windows, Nagle, congestion, loss recovery,
retransmission), the receiving part ``conn.rx`` (:class:`~tcplab.tcp.arrival.Arrival`:
SEGMENT ARRIVES, ICMP errors, TIME-WAIT giving way), and this class, which keeps the
user calls, the timers and the life cycle around them.  The TCB's variables read as
attributes of the connection (``conn.snd_una``, ``conn.cc``...), read-only.
"""

from __future__ import annotations

import errno as E
from dataclasses import replace
from operator import attrgetter
from typing import Generic, TypeVar, overload

from tcplab.tcp import seq as sq
from tcplab.tcp.arrival import Arrival, reset_for
from tcplab.tcp.config import Config
from tcplab.tcp.congestion import NewReno
from tcplab.tcp.events import (
    Event,
    TimerFired,
)
from tcplab.tcp.isn import cookie_ts_options, cookie_tsval
from tcplab.tcp.kinds import Shutdown, Timer, Why
from tcplab.tcp.prr import Prr
from tcplab.tcp.rack import Rack
from tcplab.tcp.rto import RttEstimator
from tcplab.tcp.scoreboard import Scoreboard
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
from tcplab.tcp.sender import Sender
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.status import Address, Status, TcpError
from tcplab.tcp.tcb import Tcb

__all__ = ["Address", "Connection", "Status", "TcpError", "reset_for"]

S = State
T = Trigger
# RFC 9293 §3.10.5: ABORT sends a RST in these states only
_RST_ON_ABORT = frozenset({S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2,
                           S.CLOSE_WAIT})
_CLOSED_FOR_SEND = frozenset({S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK, S.TIME_WAIT})
V = TypeVar("V")


class _View(Generic[V]):
    """A read-only attribute of a Connection that is a field of one of its parts
    (``part``: "tcb", "tx" or "rx"), so that ``conn.snd_una`` and the like read as they
    always have.  Nothing outside the engine writes them."""

    __slots__ = ("_get", "_part")

    def __init__(self, part: str) -> None:
        self._part = part
        self._get = attrgetter(part)

    def __set_name__(self, owner: type, name: str) -> None:
        self._get = attrgetter(f"{self._part}.{name}")

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _View[V]: ...

    @overload
    def __get__(self, obj: Connection, owner: type | None = None) -> V: ...

    def __get__(self, obj: Connection | None, owner: type | None = None) -> V | _View[V]:
        if obj is None:
            return self
        value: V = self._get(obj)
        return value


class _Field(_View[V]):
    """A :class:`_View` that may also be set: the host binds a listener's child to the
    address a SYN was sent to and gives it its interface's config."""

    __slots__ = ("_name",)

    def __set_name__(self, owner: type, name: str) -> None:
        super().__set_name__(owner, name)
        self._name = name

    def __set__(self, obj: Connection, value: V) -> None:
        setattr(getattr(obj, self._part), self._name, value)


class Connection:
    """A TCP connection (see the module docstring)."""

    __slots__ = ("rx", "tcb", "tx")

    # The parts' variables, read-only through the connection (RFC 9293 §3.3.1 names)
    config: _Field[Config] = _Field("tcb")
    local: _Field[Address] = _Field("tcb")
    remote: _View[Address | None] = _View("tcb")
    passive: _View[bool] = _View("tcb")
    error: _View[int | None] = _View("tcb")
    iss: _View[int] = _View("tcb")
    irs: _View[int] = _View("tcb")
    snd_una: _View[int] = _View("tcb")
    snd_nxt: _View[int] = _View("tcb")
    snd_max: _View[int] = _View("tcb")
    snd_wnd: _View[int] = _View("tcb")
    snd_wl1: _View[int] = _View("tcb")
    snd_wl2: _View[int] = _View("tcb")
    max_snd_wnd: _View[int] = _View("tcb")
    snd_mss: _View[int] = _View("tcb")
    snd_up: _View[int | None] = _View("tcb")
    snd_wscale: _View[int] = _View("tcb")
    snd_wscale_offered: _View[bool] = _View("tcb")
    rcv_wscale: _View[int] = _View("tcb")
    rcv_nxt: _View[int] = _View("tcb")
    rcv_adv: _View[int] = _View("tcb")
    sack_ok: _View[bool] = _View("tcb")
    ts_ok: _View[bool] = _View("tcb")
    ts_recent: _View[int] = _View("tcb")
    syn_acked: _View[bool] = _View("tcb")
    in_flight: _View[int] = _View("tcb")
    cc: _View[NewReno] = _View("tx.loss")
    rtt: _View[RttEstimator] = _View("tx.loss")
    board: _View[Scoreboard] = _View("tx.loss")
    rack: _View[Rack] = _View("tx.loss")
    prr: _View[Prr] = _View("tx.loss")
    retransmits: _View[int] = _View("tx.loss")
    rcv_up: _View[int | None] = _View("rx")
    urgent_signals: _View[int] = _View("rx")
    urgent_pending: _View[int] = _View("rx")

    def __init__(self, local: Address, config: Config | None = None) -> None:
        cfg = config if config is not None else Config()
        cfg.validate()
        self.tcb = Tcb(cfg, local)
        self.tx = Sender(self.tcb)
        self.rx = Arrival(self.tcb, self.tx)

    # ------------------------------------------------------------------ plumbing
    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or None."""
        t = self.tcb
        return t.events.popleft() if t.events else None

    def segments_to_send(self) -> list[Segment]:
        """Drain the segments produced so far, in the order they were made."""
        t = self.tcb
        out = t.out
        t.out = []
        return out

    def get_timer(self) -> float | None:
        """The earliest timer deadline, or None when no timer runs."""
        t = self.tcb
        return min(t.timers.values()) if t.timers else None

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now`` (each reported as TimerFired), then send."""
        t = self.tcb
        resend: Why | None = None  # a timeout's go-back-N pass follows (Sender.on_rto)
        for name, deadline in sorted(t.timers.items(), key=lambda kv: kv[1]):
            if deadline > now or t.timers.get(name) != deadline:
                continue
            del t.timers[name]
            t.events.append(TimerFired(name))
            match name:
                case Timer.TIME_WAIT:
                    t.goto(T.TIME_WAIT_TIMEOUT)
                case Timer.RTX:
                    resend = self.tx.on_rto(now) or resend
                case Timer.PERSIST:
                    self.tx.on_persist(now)
                case Timer.TLP:
                    self.tx.on_tlp(now)
                case Timer.RACK:
                    self.tx.on_rack_timer(now)
                case Timer.DELACK:
                    t.ack_now = True
                case Timer.KEEPALIVE:
                    self.tx.on_keepalive(now)
        self.tx.output(now, resend)

    # ------------------------------------------------------------------ user calls
    def listen(self, now: float) -> None:
        """Passive OPEN (RFC 9293 §3.10.1): wait for SYNs."""
        t = self.tcb
        if t.state is not S.CLOSED:
            raise TcpError(E.EISCONN, "connection already exists")
        t.passive = True
        t.goto(T.PASSIVE_OPEN)

    def spawn(self, remote: Address, iss_above: int | None = None) -> Connection:
        """A child for a SYN from ``remote``; ``iss_above``: the SND.MAX of the
        incarnation in TIME-WAIT this SYN replaces (:meth:`takes_new_syn`)."""
        t = self.tcb
        if t.state is not S.LISTEN:
            raise TcpError(E.EINVAL, "not listening")
        child = Connection(t.local, replace(t.config))
        # the child is the listener's: it enters LISTEN by the passive OPEN row, unseen
        # (nobody watched it in CLOSED), so the first move it reports is LISTEN's
        c = child.tcb
        c.goto(T.PASSIVE_OPEN, report=False)
        c.passive = True
        c.remote = remote
        c.iss_above = iss_above
        return child

    # -- SYN cookies (RFC 4987 §3.6) ----------------------------------------------------
    def syn_ack_for_cookie(self, seg: Segment, cookie: int, now: float) -> Segment:
        """The SYN,ACK that answers ``seg`` with a SYN cookie as ISN (RFC 4987 §3.6).
        This connection is a throwaway child of a listener (:meth:`spawn`): nothing of
        it is kept.  With timestamps, TSval's low bits carry the peer's window scale and
        SACK (:func:`tcplab.tcp.isn.cookie_tsval`), as Linux does."""
        t = self.tcb
        assert t.remote is not None
        if seg.timestamps() is None or not t.config.timestamps:
            # no TSval to carry window scale and SACK back: offer neither, or the two
            # ends would disagree about them (Linux clears the options the same way)
            seg = replace(seg, options=tuple(o for o in seg.options if isinstance(o, Mss)))
        t.setup((t.remote[0], seg.src_port), now)
        t.reset_send_space(cookie)
        t.irs = seg.seq
        t.rcv_nxt = sq.add(seg.seq, 1)
        self.tx.negotiate(seg, now)
        self.tx.send_syn(now, ack=True)
        syn_ack = t.out.pop()
        wscale = t.snd_wscale if t.snd_wscale_offered else None
        syn_ack.options = tuple(
            Timestamps(cookie_tsval(o.val, wscale, t.sack_ok), o.ecr)
            if isinstance(o, Timestamps) else o for o in syn_ack.options)
        return syn_ack

    def open_from_cookie(self, ack: Segment, mss: int, now: float) -> None:
        """A listener's child made from the ACK that returned a valid SYN cookie carrying
        ``mss``: the SYN is rebuilt from the cookie (and the TSecr's option bits), the
        connection passes SYN-RECEIVED as if it had waited there, and the ACK is
        processed as usual, data and all."""
        t = self.tcb
        assert t.remote is not None
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
        t.setup((t.remote[0], ack.src_port), now)
        t.reset_send_space(sq.add(ack.ack, -1))
        t.irs = syn.seq
        t.rcv_nxt = ack.seq
        self.tx.negotiate(syn, now)
        t.rcv_adv = sq.add(t.rcv_nxt, min(t.rcv_window(), 0xFFFF))  # as offered
        t.snd_nxt = t.snd_max = sq.add(t.iss, 1)
        t.goto(T.RCV_SYN, "from a SYN cookie (RFC 4987)")
        self.rx.receive(ack, now)

    def connect(self, remote: Address, now: float) -> None:
        """Active OPEN (RFC 9293 §3.10.1): send a SYN to ``remote``."""
        t = self.tcb
        if t.state is not S.CLOSED:
            raise TcpError(E.EISCONN if t.state is not S.SYN_SENT else E.EALREADY,
                           "connection already exists")
        t.setup(remote, now)
        t.goto(T.ACTIVE_OPEN)
        self.tx.send_syn(now, ack=False)
        self.tx.output(now)

    def send(self, data: bytes, now: float, urgent: bool = False) -> int:
        """Queue ``data``; returns the bytes taken.  ``urgent``: the data is urgent (RFC
        9293 §3.8.5, MSG_OOB): SND.UP moves to just after its last byte taken, every
        segment below it carries URG and the urgent pointer, and Nagle holds none of it
        back (as Linux).  Urgent data stays in the stream, in order (RFC 6093)."""
        t = self.tcb
        st = t.state
        if st in (S.CLOSED, S.LISTEN):
            raise TcpError(t.error or E.ENOTCONN, "connection does not exist")
        if st in _CLOSED_FOR_SEND or t.fin_queued:
            raise TcpError(E.EPIPE, "connection closing")
        n = t.queue_data(data)
        if n == 0 and data:
            raise TcpError(E.EAGAIN, "send buffer full")
        if urgent and n:
            t.snd_up = t.data_end()
        if st not in (S.SYN_SENT, S.SYN_RECEIVED):
            self.tx.output(now)
        return n

    def settings_changed(self, now: float) -> None:
        """The application changed ``config`` (a socket option): act on it now -- arm
        or stop the keep-alive timer (a first one counts from now, as Linux does), send
        what Nagle no longer holds back."""
        t = self.tcb
        t.config.validate()
        if t.config.keepalive and Timer.KEEPALIVE not in t.timers:
            t.ka_heard = max(t.ka_heard, now)
        if t.state not in (S.CLOSED, S.LISTEN):
            self.tx.output(now)

    def recv(self, max_bytes: int, now: float) -> bytes:
        """Take up to ``max_bytes`` in-order bytes.  b"" at end of stream (or after
        shutdown of the read side); TcpError EAGAIN when nothing is there yet."""
        t = self.tcb
        if t.rcvq:
            data = bytes(t.rcvq[:max_bytes])
            del t.rcvq[:max_bytes]
            self.rx.maybe_window_update()
            self.tx.output(now)
            return data
        if t.eof or t.rd_shut:
            return b""
        if t.state is S.CLOSED:
            if t.error:
                raise TcpError(t.error, "connection failed")
            raise TcpError(E.ENOTCONN, "connection does not exist")
        if t.state is S.LISTEN:
            raise TcpError(E.ENOTCONN, "socket is listening")
        raise TcpError(E.EAGAIN, "no data yet")

    def shutdown(self, how: Shutdown | str, now: float) -> None:
        """Close one direction or both (RFC 9293 §3.10.4 for the write side: a FIN
        after the queued data; the read side drops what arrives unread)."""
        t = self.tcb
        try:
            how = Shutdown(how)
        except ValueError:
            raise TcpError(E.EINVAL, f"bad shutdown direction {how!r}") from None
        if t.state in (S.CLOSED, S.LISTEN, S.SYN_SENT):
            raise TcpError(E.ENOTCONN, "not connected")
        if how is not Shutdown.WR:
            t.rd_shut = True
            t.rcvq.clear()
        if how is not Shutdown.RD:
            self.tx.close_send(now, "shutdown(SHUT_WR)")
        self.tx.output(now)

    def close(self, now: float) -> None:
        """CLOSE (RFC 9293 §3.10.4): a FIN after the queued data; with unread data a
        RST instead (RFC 1122 §4.2.2.13)."""
        t = self.tcb
        st = t.state
        if st in (S.LISTEN, S.SYN_SENT):
            t.goto(T.CLOSE)
            return
        if st is S.CLOSED:
            raise TcpError(t.error or E.ENOTCONN, "connection does not exist")
        if t.rcvq and not t.rd_shut and st in _RST_ON_ABORT:
            # RFC 1122 §4.2.2.13: closing with unread data resets the connection
            self._rst_and_close(now, "close with unread data")
            return
        t.rcvq.clear()
        t.rd_shut = True
        t.app_closed = True
        self.tx.close_send(now, "")
        self.tx.output(now)

    def abort(self, now: float) -> None:
        """ABORT (RFC 9293 §3.10.5): a RST where the state calls for one, then CLOSED."""
        t = self.tcb
        st = t.state
        if st is S.CLOSED:
            raise TcpError(t.error or E.ENOTCONN, "connection does not exist")
        if st in _RST_ON_ABORT:
            self._rst_and_close(now, "")
        else:
            t.goto(T.ABORT)

    def _rst_and_close(self, now: float, detail: str) -> None:
        t = self.tcb
        # RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>
        t.out.append(Segment(t.local[1], t.rport, t.snd_max, 0, RST, 0))
        t.rcvq.clear()
        t.goto(T.ABORT, detail)

    def status(self) -> Status:
        """A snapshot of the TCB and counters (what the dashboard's TCB view shows)."""
        t, loss = self.tcb, self.tx.loss
        cc, rtt = loss.cc, loss.rtt
        return Status(
            state=t.state, local=t.local, remote=t.remote, iss=t.iss,
            irs=t.irs, snd_una=t.snd_una, snd_nxt=t.snd_nxt, snd_wnd=t.snd_wnd,
            rcv_nxt=t.rcv_nxt, rcv_wnd=t.rcv_window(), send_queue=t.send_queue,
            recv_queue=len(t.rcvq), cwnd=cc.cwnd, ssthresh=min(cc.ssthresh, 1 << 30),
            srtt=rtt.srtt, rttvar=rtt.rttvar, rto=rtt.current(),
            in_flight=t.in_flight, retransmits=loss.retransmits, dup_acks=cc.dup_acks,
            sacked_bytes=loss.board.sacked_bytes, mss=t.snd_mss,
            snd_wscale=t.snd_wscale, rcv_wscale=t.rcv_wscale, sack=t.sack_ok,
            timestamps=t.ts_ok, timers=dict(t.timers), error=t.error,
            snd_max=t.snd_max, urgent_pending=self.rx.urgent_pending,
        )

    @property
    def readable(self) -> int:
        """Bytes ``recv`` can return now."""
        return len(self.tcb.rcvq)

    @property
    def state(self) -> State:
        """The RFC 9293 state (§3.3.2).  Read-only: it moves only through a declared row
        of :data:`tcplab.tcp.states.TRANSITIONS` (:meth:`Tcb.goto`)."""
        return self.tcb._state

    @property
    def send_queue(self) -> int:
        """Bytes written and not yet acknowledged."""
        return len(self.tcb.sndq)

    def rcv_window(self) -> int:
        """Free receive space we may offer (before SWS avoidance and scaling)."""
        return self.tcb.rcv_window()

    def rcv_room(self) -> int:
        """Buffer space from RCV.NXT on: free space and the out-of-order bytes held."""
        return self.tcb.rcv_room()

    # ------------------------------------------------------------------ from the network
    def receive(self, seg: Segment, now: float, output: bool = True) -> None:
        """SEGMENT ARRIVES (RFC 9293 §3.10.7).  ``output=False``: more segments arrived
        with this one; the answer waits for :meth:`flush` after the last, so that every
        queued segment is processed before an ACK is sent (MUST-59)."""
        self.rx.receive(seg, now, output)

    def flush(self, now: float) -> None:
        """Send what the segments received so far call for (see :meth:`receive`)."""
        self.rx.flush(now)

    def icmp_error(self, seq: int, hard: bool, errno: int, reason: str) -> bool:
        """An ICMP error quoting our segment at ``seq`` (RFC 9293 §3.9.2.2, RFC 5927);
        False when it is not taken (see :meth:`Arrival.icmp_error`)."""
        return self.rx.icmp_error(seq, hard, errno, reason)

    def takes_new_syn(self, seg: Segment, new_timestamps: bool) -> bool:
        """In TIME-WAIT, whether ``seg`` opens a new incarnation (RFC 6191); if so
        TIME-WAIT ends here (see :meth:`Arrival.takes_new_syn`)."""
        return self.rx.takes_new_syn(seg, new_timestamps)
