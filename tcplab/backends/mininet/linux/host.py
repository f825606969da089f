"""A kernel host as the lab sees a host: sockets with numbers, states, histories, TCBs.

:class:`KernelHost` puts :class:`~.sockets.KernelApp` (the program), :class:`~.diag.SockDiag`
(what the kernel holds) and, where it works, :class:`~.trace.StateTrace` (every state
change) together, and reports in the terms of tcplab's own hosts: a
:class:`~tcplab.stack.sockets.SocketInfo` per socket (``socket``/``sockets``) and
*observations* (:data:`Observation`) that the agent publishes as events.

Numbering.  A socket the program made (listen, connect) or accepted has its number
from the start.  A connection the kernel made for a listener is numbered when it is
first seen -- in SYN-RECEIVED from the tracepoint, or in a dump -- and keeps that number
when the program accepts it, and after the program closed it (FIN-WAIT, TIME-WAIT: the
kernel still holds it, matched by its four-tuple).  It is finished when the kernel lets
go of it.

States.  With the tracepoint, every change is reported with the kernel's time; without
it, a dump every :data:`POLL` seconds finds the changes, and one shorter than that is
missed.  Linux moves a socket to TIME-WAIT by replacing it with a small "timewait"
socket: the tracepoint says FIN-WAIT-2 (or CLOSING) -> CLOSED, and the dump that follows
shows the TIME-WAIT socket, so such a CLOSED is reported as TIME-WAIT; the TIME-WAIT ->
CLOSED at the end is found by the dump, when the socket is gone (at the time of the RST
that killed it, when one did; one can kill it before any dump sees it).  A connection a
listener is making is a request, not a socket, until the ACK: the tracepoint reports
its SYN-RECEIVED only then, so it is taken from the SYN's arrival instead.

Times.  Every time is the kernel's: the tracepoint's, and each segment's as the packet
socket stamps it (:mod:`.sniff`), so a move and the segment that made it are in order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from tcplab.backends.mininet.linux.diag import Address, KernelSocket, SockDiag
from tcplab.backends.mininet.linux.sockets import KernelApp, KernelConn
from tcplab.backends.mininet.linux.trace import Change, StateTrace
from tcplab.backends.mininet.linux.wireview import Variables, WireView
from tcplab.stack.sockets import HostError, SocketInfo
from tcplab.tcp.segment import ACK, FIN, RST, SYN, Segment
from tcplab.tcp.states import State
from tcplab.tcp.status import Status

# Linux before a loss sets one: what tcplab's engine starts from (RFC 5681 §3.1,
# "arbitrarily high"), so both stacks' rows read "inf"
NO_THRESHOLD = 1 << 30
TIMER_SLACK = 0.05  # seconds
POLL = 0.1  # seconds between two sock_diag dumps (the "at least every 100 ms")
STAMP_SKEW = 0.0002  # seconds: a packet's stamp against the tracepoint's clock
_MAY_WAIT = (State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSING)  # -> CLOSED may be TIME-WAIT


@dataclass(frozen=True, slots=True)
class StateSeen:
    t: float
    sid: int
    local: Address
    remote: Address | None
    old: State
    new: State


@dataclass(frozen=True, slots=True)
class TcbSeen:
    t: float
    sid: int
    row: KernelSocket | None  # the last dump's (None before one saw the socket)
    wire: Variables
    timers: tuple[tuple[str, float], ...]  # (name, deadline) of the one Linux runs


@dataclass(frozen=True, slots=True)
class BytesRead:
    t: float
    sid: int
    data: bytes


Observation = StateSeen | TcbSeen | BytesRead


@dataclass(slots=True)
class _Row:
    sid: int
    kind: str
    local: Address
    remote: Address | None
    listener: int | None
    accepted: bool
    state: State = State.CLOSED
    history: list[State] = field(default_factory=lambda: [State.CLOSED])
    seen: KernelSocket | None = None     # the last dump's row with TCP_INFO
    timers: tuple[tuple[str, float], ...] = ()
    read: int = 0                        # bytes reported read so far
    moved: float = float("-inf")         # when it last changed state
    fin_at: float | None = None          # when its last FIN arrived
    rst_at: float | None = None          # when its last RST arrived
    dumped_at: float = float("-inf")     # the last dump that showed it
    finished: bool = False


def _timers_moved(old: tuple[tuple[str, float], ...],
                  new: tuple[tuple[str, float], ...]) -> bool:
    """Another timer, or the same one restarted (a dump's countdown is in ms and taken
    a little after ``now``: a deadline that moved less than :data:`TIMER_SLACK` is the
    same)."""
    return len(old) != len(new) or any(
        a != b or abs(x - y) > TIMER_SLACK for (a, x), (b, y) in zip(old, new, strict=True))


class KernelHost:
    """A Linux host's sockets, run and watched (see the module docstring)."""

    def __init__(self, addresses: set[str], diag: SockDiag,
                 trace: StateTrace | None = None, epoch: float = 0.0,
                 drain: Callable[[], None] = lambda: None) -> None:
        self.addresses = addresses
        # reads the segments already seen on the interfaces (:meth:`segment`): before the
        # trace, so a move comes after the segment that made it (a SYN before the
        # SYN-RECEIVED the tracepoint reports only at the ACK)
        self.drain = drain
        self.epoch = epoch  # time.monotonic() at t=0: the tracepoint's times become ours
        self.diag = diag
        self.trace = trace
        self.rows: dict[int, _Row] = {}
        self._by_key: dict[tuple[Address, Address | None], int] = {}
        self._next_sid = 1
        self._out: list[Observation] = []
        self._last_dump = float("-inf")
        self._closing: dict[int, float] = {}  # traced "-> CLOSED" the next dump decides
        self.wire: dict[int, WireView] = {}
        self._last_rx: dict[int, float] = {}  # sid -> when its last segment arrived
        self._tcb_changed: set[int] = set()  # sids whose sample is due at the next poll
        self.app = KernelApp(new_sid=self._sid_for)

    def sid_of(self, local: Address, remote: Address, syn: bool = False) -> int | None:
        """The socket a segment between ``local`` and ``remote`` belongs to, if known.  A
        SYN to (or SYN,ACK from) one of our listeners numbers its connection on sight."""
        sid = self._by_key.get((local, remote))
        if sid is None and syn:
            sid = self._child(local, remote)
        return sid

    def segment(self, sid: int, sent: bool, segment: Segment, t: float) -> None:
        """A segment of connection ``sid`` seen on the interface at ``t`` (sent by Linux
        or received): its sequence variables (:mod:`.wireview`) follow."""
        view = self.wire.get(sid)
        if view is None:
            view = self.wire[sid] = WireView()
        if view.sent(segment) if sent else view.received(segment):
            self._tcb_changed.add(sid)
        if sent:
            return
        self._last_rx[sid] = t
        row = self.rows.get(sid)
        if row is not None:
            if segment.flags & FIN:
                row.fin_at = t
            if segment.flags & RST:
                row.rst_at = t
        if row is not None and row.state is State.LISTEN and segment.flags & SYN \
                and not segment.flags & ACK:
            # Linux keeps a SYN-RECEIVED connection as a request, not a socket: the
            # tracepoint reports it only when the ACK makes it one.  It is SYN-RECEIVED
            # from the SYN on (RFC 9293 §3.5).
            self._move(row, State.SYN_RECEIVED, t)

    @property
    def exact(self) -> bool:
        """State changes come from the tracepoint (else from polling)."""
        return self.trace is not None

    @property
    def idle(self) -> bool:
        """No socket of ours is open or followed: polling would find nothing to do."""
        return (not any(c.sock is not None for c in self.app.conns.values())
                and all(row.finished for row in self.rows.values()))

    # -- the lab's calls ---------------------------------------------------------------
    def listen(self, port: int, now: float, tcp: dict[str, bool] | None = None) -> int:
        sid = self.app.listen(port, tcp)
        self._opened(sid, State.LISTEN, now)
        return sid

    def connect(self, remote_ip: str, rport: int, now: float, lport: int | None,
                tcp: dict[str, bool] | None = None) -> int:
        sid = self.app.connect(remote_ip, rport, lport, tcp)
        self._opened(sid, State.SYN_SENT, now)
        return sid

    def set_tcp(self, tcp: dict[str, bool]) -> None:
        self.app.set_tcp(tcp)

    def write(self, sid: int, data: bytes, now: float) -> None:
        self.app.write(sid, data)
        self._work(now)

    def write_pattern(self, sid: int, count: int, now: float) -> None:
        self.app.write_pattern(sid, count)
        self._work(now)

    def shutdown(self, sid: int, now: float) -> None:
        self.app.shutdown(sid)
        self._work(now)

    def close(self, sid: int, now: float) -> None:
        self.app.close(sid)
        self._work(now)

    def abort(self, sid: int, now: float) -> None:
        self.app.abort(sid)
        self._work(now, dump=True)

    def socket(self, sid: int) -> SocketInfo:
        row = self.rows.get(sid)
        if row is None:
            raise HostError(9, f"socket {sid}: no such socket")  # EBADF
        return self._info(row)

    def sockets(self) -> list[SocketInfo]:
        return [self._info(r) for r in self.rows.values() if not r.finished]

    # -- watching ----------------------------------------------------------------------
    def poll(self, now: float, dump: bool = False) -> list[Observation]:
        """Do what the sockets allow, read the tracepoint, dump when due (or asked);
        what was observed since the last call (lab calls included), in order."""
        self._work(now, dump)
        for sid in sorted(self._tcb_changed):
            row = self.rows.get(sid)
            if row is not None and not row.finished:
                self._out.append(TcbSeen(now, sid, row.seen, self._wire(sid), row.timers))
        self._tcb_changed.clear()
        out, self._out = self._out, []
        return out

    def _wire(self, sid: int) -> Variables:
        view = self.wire.get(sid)
        return view.now if view is not None else Variables()

    def _work(self, now: float, dump: bool = False) -> None:
        self.app.poll()
        for conn in self.app.conns.values():
            row = self.rows.get(conn.sid)
            if row is not None and conn.fresh:
                self._out.append(BytesRead(now, conn.sid, bytes(conn.fresh)))
                row.read += len(conn.fresh)
                conn.fresh.clear()
        self.drain()
        changes = self.trace.read() if self.trace is not None else []
        for change in changes:
            self._traced(change)
        # A dump only follows sockets of ours (and numbers a listener's children): with
        # none open it would change nothing, and pyroute2 spends ~2 ms of CPU on each, 10
        # a second, taken from the stack hosts on a 2-core machine
        if (dump or changes or now - self._last_dump >= POLL) and not self.idle:
            self._dump(now)

    def _traced(self, change: Change) -> None:
        if change.new is State.LISTEN or change.old is State.CLOSED:
            return  # our own listen/connect: reported when they were made
        sid = self._by_key.get((change.local, change.remote))
        if sid is None and change.old is State.LISTEN:
            sid = self._child(change.local, change.remote)
        if sid is None:
            return  # not a socket of ours (another program in this namespace)
        if change.new is State.CLOSED and change.old in _MAY_WAIT:
            # a timewait socket may have taken its place: the dump tells (module docstring)
            self._closing[sid] = change.t - self.epoch
            return
        self._move(self.rows[sid], change.new, change.t - self.epoch)

    def _dump(self, now: float) -> None:
        self._last_dump = now
        found: dict[int, KernelSocket] = {}
        dumped = self.diag.dump()
        if self.trace is not None:
            # Linux writes a move's trace line before the move shows, so a TIME-WAIT the
            # dump shows has its traced time now (``now`` is when the work began)
            for change in self.trace.read():
                self._traced(change)
        for ks in dumped:
            if ks.local[0] not in self.addresses and ks.local[0] != "0.0.0.0":
                continue
            sid = self._by_key.get(ks.key)
            if sid is None and ks.remote is not None:
                sid = self._child(ks.local, ks.remote)
            if sid is not None:
                found[sid] = ks
        for sid, row in list(self.rows.items()):
            if row.finished:
                continue
            seen = found.get(sid)
            # a move to TIME-WAIT the tracepoint did not time was made by the last
            # segment received (a FIN, or the ACK of ours)
            closed = t = self._closing.pop(sid, None)
            if t is None:
                t = (self._last_rx.get(sid, now) if seen is not None
                     and seen.state is State.TIME_WAIT else now)
            if seen is None:
                conn = self.app.conns.get(sid)
                if conn is None or conn.sock is None or row.state is State.TIME_WAIT:
                    self._gone(row, closed, t)
                continue
            row.dumped_at = now
            # With the tracepoint a dump only tells what it cannot: a TIME-WAIT socket
            # replacing the traced one (a dump is older than the trace read after it)
            if seen.state is not row.state and (self.trace is None
                                                or seen.state is State.TIME_WAIT):
                self._move(row, seen.state, t)
            # a TIME-WAIT or request socket has no TCP_INFO: its TCB stays as last seen
            info = dataclasses.replace(seen, timer=None, expires=None)
            if info.cwnd is not None and info != row.seen:
                row.seen = info
                self._tcb_changed.add(sid)
            timers = (((seen.timer, now + seen.expires),)
                      if seen.timer is not None and seen.expires is not None else ())
            if _timers_moved(row.timers, timers):
                row.timers = timers
                self._tcb_changed.add(sid)

    def _gone(self, row: _Row, closed: float | None, t: float) -> None:
        """The dump no longer shows ``row``'s socket: it is CLOSED (at ``t``).  But a RST
        can kill a TIME-WAIT socket before any dump saw it (Linux's ``tcp_rfc1337`` is 0:
        RFC 1337's TIME-WAIT assassination), when the peer answers our last ACK with
        one.  It was TIME-WAIT if a FIN came after our close: from that FIN on, or from
        the traced move to CLOSED that followed it (the ACK of our FIN, in CLOSING).  The
        RST ended it if it came after that, and no dump has shown the socket since (a RST
        Linux ignored, as with ``tcp_rfc1337`` 1, leaves it to the end of TIME-WAIT)."""
        rst, fin = row.rst_at, row.fin_at
        if rst is None or rst <= row.dumped_at:
            self._move(row, State.CLOSED, t)  # no RST, or one the socket outlived
            return
        if row.state in _MAY_WAIT and fin is not None:
            since = fin if closed is None else max(closed, fin)
            # (a RST that resets the socket itself comes microseconds before its traced
            # move; the packet's stamp and the trace's clock may differ by as much)
            if rst > since + STAMP_SKEW:
                self._move(row, State.TIME_WAIT, since)
        # the RST ended it, unless the traced move to CLOSED came after it
        self._move(row, State.CLOSED, rst if closed is None else max(rst, closed))

    # -- rows ----------------------------------------------------------------------------
    def _sid_for(self, local: Address, remote: Address | None) -> int:
        """The number of a socket the program just made or accepted."""
        sid = self._by_key.get((local, remote))
        if sid is None and remote is not None:
            sid = self._child(local, remote)  # accepted before any dump saw it
        if sid is None:
            sid = self._next_sid
            self._next_sid += 1
        return sid

    def _opened(self, sid: int, state: State, now: float) -> None:
        conn = self.app.conns[sid]
        row = self.rows.get(sid)
        if row is None:
            row = self._row(conn)
        self._move(row, state, now)

    def _row(self, conn: KernelConn) -> _Row:
        row = _Row(conn.sid, conn.kind, conn.local, conn.remote, conn.listener,
                   accepted=True)
        self.rows[conn.sid] = row
        self._by_key[(conn.local, conn.remote)] = conn.sid
        return row

    def _child(self, local: Address, remote: Address) -> int | None:
        """A connection the kernel made for one of our listeners, numbered on sight."""
        listener = next((r for r in self.rows.values() if r.kind == "listener"
                         and not r.finished and r.local[1] == local[1]), None)
        if listener is None:
            return None
        sid = self._next_sid
        self._next_sid += 1
        # as in RFC 9293, a listener's connection starts from LISTEN
        self.rows[sid] = _Row(sid, "connection", local, remote, listener.sid, accepted=False,
                              state=State.LISTEN, history=[State.LISTEN])
        self._by_key[(local, remote)] = sid
        return sid

    def _move(self, row: _Row, new: State, t: float) -> None:
        conn = self.app.conns.get(row.sid)
        if conn is not None and not row.accepted:
            row.accepted = True  # the program took it
        if new is row.state:
            return
        # a dump's time can be a little after a change the tracepoint reports next
        t = row.moved = max(t, row.moved)
        self._out.append(StateSeen(t, row.sid, row.local, row.remote, row.state, new))
        row.state = new
        row.history.append(new)
        if new is State.CLOSED:
            row.finished = True
            self._by_key.pop((row.local, row.remote), None)
            self.wire.pop(row.sid, None)
            self._last_rx.pop(row.sid, None)

    def _info(self, row: _Row) -> SocketInfo:
        conn = self.app.conns.get(row.sid)
        ks = row.seen
        w = self._wire(row.sid)
        status = Status(
            state=row.state, local=row.local, remote=row.remote, iss=w.iss, irs=w.irs,
            snd_una=w.snd_una, snd_nxt=w.snd_nxt, snd_wnd=w.snd_wnd, rcv_nxt=w.rcv_nxt,
            rcv_wnd=w.rcv_wnd,
            send_queue=ks.sendq if ks else 0, recv_queue=ks.recvq if ks else 0,
            cwnd=(ks.cwnd or 0) if ks else 0,
            ssthresh=(NO_THRESHOLD if ks.ssthresh is None else ks.ssthresh) if ks else 0,
            srtt=ks.srtt if ks else None, rttvar=ks.rttvar if ks else None,
            rto=(ks.rto or 0.0) if ks else 0.0,
            in_flight=((ks.unacked or 0) * (ks.mss or 0)) if ks else 0,
            retransmits=(ks.retransmits or 0) if ks else 0, dup_acks=0, sacked_bytes=0,
            mss=(ks.mss or 0) if ks else 0, snd_wscale=0, rcv_wscale=0, sack=False,
            timestamps=False, error=(conn.error or None) if conn else None)
        return SocketInfo(id=row.sid, kind=row.kind, local=row.local, remote=row.remote,
                          state=row.state, listener=row.listener, accepted=row.accepted,
                          history=tuple(row.history), status=status,
                          bytes_delivered=conn.delivered if conn else row.read,
                          bytes_sent=conn.sent if conn else 0)
