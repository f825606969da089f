"""Run one parsed script against the engine under a virtual clock.

Theory of operation
-------------------
The runner owns time (``now``, seconds from 0) and plays the part of both the
kernel's socket layer (:mod:`tcplab.pkt.sockets`: fds, listeners, accept queues,
O_NONBLOCK, SO_ERROR, blocking calls) and the remote host (inbound segments).
Events run in script order; for each one the runner first fires every engine timer
due *strictly before* the event's time, then:

* an outbound line takes the oldest segment the engine has emitted, firing
  timers up to the line's time (the end of its range; without limit for ``*``)
  plus the tolerance if nothing is queued yet ("sent nothing" when still empty),
  and compares it (:mod:`tcplab.pkt.compare`) and its emission time.  When the line
  expects more payload than that segment has, the full-sized segments emitted with
  it are taken as one, as Linux's TSO hands them to packetdrill (:meth:`coalesce`);
* an inbound packet first requires that the engine emitted nothing unlisted ("sent an
  extra segment"), then is injected;
* a syscall line performs the call, a ``%{ }%`` block checks TCP_INFO
  (:mod:`tcplab.pkt.tcpinfo`) of the connection inbound packets go to, and a shell
  command is only logged: none of them reads a segment, so, as in packetdrill, what
  the engine sent waits for the outbound lines after them.

After each engine call the runner drains segments and events from every
connection (each segment also feeds the connection's :class:`Wire` ledger, which
counts segments for TCP_INFO) and retries a blocked syscall.  A blocking call that
cannot finish at once stays pending while later lines run; the next syscall line
while it is still pending, or the end of the script, is a failure.  At the end,
timers run only to the last event's time plus the tolerance, so later timers
(TIME-WAIT, delayed ACKs) never produce spurious failures.

SYNs to a listener come from port 50000.  Packets for a port without a live
connection get the RFC 9293 §3.10.7.1 reset from the runner itself.
"""

from __future__ import annotations

import errno as errno_mod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tcplab.pkt import parse as ps
from tcplab.pkt.compare import Numbering, SettingError, Settings, UnsupportedSetting, differences
from tcplab.pkt.compare import render as render_segment
from tcplab.pkt.errors import Failure
from tcplab.pkt.snippet import SnippetFailed, run_snippet
from tcplab.pkt.sockets import (
    DEFAULT_PORT,
    EPHEMERAL_START,
    REMOTE_IP,
    Poll,
    Socket,
    SocketCalls,
    SysErr,
)
from tcplab.pkt.tcpinfo import Wire, tcp_info
from tcplab.tcp import segment as sg
from tcplab.tcp import seq as sq
from tcplab.tcp.connection import Connection, TcpError, reset_for
from tcplab.tcp.events import (
    ConnectionFailed,
    ConnectionReset,
    Event,
    StateChanged,
    TimerFired,
)
from tcplab.tcp.states import State

__all__ = ["Failure", "Log", "Outcome", "run_script"]

PASSIVE_REMOTE_PORT = 50000
_EPS = 1e-9
_MAX_TIMER_FIRES = 100_000   # an engine that never clears a timer must not hang us
_ANY_TIME_LIMIT = 3600.0     # how far a '*' line lets the engine's timers run

Status = Literal["PASS", "FAIL", "SKIP"]
Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    reason: str = ""


@dataclass(slots=True)
class _Blocked:
    call: ps.Syscall
    start: float
    end: float
    poll: Poll


def run_script(script: ps.Script, settings: Settings, log: Log | None = None) -> Outcome:
    """Run a parsed script; never raises for script or engine problems."""
    st = settings.copy()
    try:
        for opt in script.options:
            try:
                st.apply(opt.name, opt.value)
            except UnsupportedSetting as err:
                raise ps.Unsupported(opt.lineno, str(err)) from None
            except SettingError as err:
                raise ps.ScriptError(opt.lineno, str(err)) from None
        _Runner(st, log or (lambda _line: None)).run(script)
    except ps.Unsupported as err:
        return Outcome("SKIP", str(err))
    except ps.ScriptError as err:
        return Outcome("FAIL", str(err))
    except Failure as err:
        return Outcome("FAIL", str(err))
    return Outcome("PASS")


class _Runner(SocketCalls):
    def __init__(self, settings: Settings, log: Log) -> None:
        self.st = settings
        self.log = log
        self.now = 0.0
        self.last = 0.0                 # base of relative times
        self.nb = Numbering()
        self.conns: list[Connection] = []
        self.wires: dict[int, Wire] = {}        # id(conn) -> what its segments showed
        self.pending: deque[tuple[float, sg.Segment]] = deque()
        self.sockets: dict[int, Socket] = {}
        self.target: Socket | None = None
        self.parent: dict[int, Socket] = {}     # id(child) -> its listening socket
        self.errors: dict[int, int] = {}        # id(conn) -> pending SO_ERROR
        self.blocked: _Blocked | None = None
        self.next_port = EPHEMERAL_START
        self.line: ps.Event | None = None       # the line being run, for engine errors

    # --- the main loop ---------------------------------------------------------------

    def run(self, script: ps.Script) -> None:
        try:
            for ev in script.events:
                self.line = ev
                self.step(ev)
            self.finish(script)
        except (TcpError, AssertionError, ValueError, TypeError, KeyError,
                IndexError, AttributeError, NotImplementedError) as err:
            where = f"line {self.line.lineno}: " if self.line else ""
            raise Failure(f"{where}engine raised {type(err).__name__}: {err}") from None

    def step(self, ev: ps.Event) -> None:
        base = self.last if ev.time.relative else 0.0
        start = base + ev.time.start
        end = base + (ev.time.end if ev.time.end is not None else ev.time.start)
        if isinstance(ev, ps.Packet) and not ev.inbound:
            self.expect_outbound(ev, start, end)
            return
        self.advance(start, inclusive=False, until_sent=isinstance(ev, ps.Packet))
        if isinstance(ev, ps.Packet):
            # the peer answers what it has seen: the engine's segments sent before it
            # must be listed before it.  Syscalls, %{ }% checks and shell commands read
            # no segment; as in packetdrill, what was sent waits for the outbound lines
            self.check_nothing_pending(ev)
        self.now = max(self.now, start)
        self.last = start
        self.log(f"{self.now:8.3f} line {ev.lineno}: {ev.text}")
        if isinstance(ev, ps.Command):
            self.log(f"{'':8} ignored (shell commands are not run): {ev.text}")
        elif isinstance(ev, ps.Packet):
            self.deliver(ev)
            self.settle()
        elif isinstance(ev, ps.PyBlock):
            self.check_tcp_info(ev)
        else:
            self.syscall(ev, start, end)

    def slack(self, interval: float) -> float:
        """How far an event may stray from its time: the tolerance, or the
        --tolerance_percent share of the interval since the previous event."""
        return max(self.st.tolerance, self.st.tolerance_percent / 100 * max(interval, 0.0))

    def finish(self, script: ps.Script) -> None:
        self.line = None
        if self.blocked is not None:
            b = self.blocked
            raise Failure(f"line {b.call.lineno}: expected `{b.call.text}`, "
                          f"actual: the call was still blocked at the end of the script")
        self.advance(self.now + self.st.tolerance, inclusive=True)
        if self.pending:
            t, seg = self.pending[0]
            last = script.events[-1].lineno if script.events else 0
            raise Failure(f"after line {last}: expected nothing more, actual: sent an extra "
                          f"segment: `{render_segment(seg, self.nb)}` at {t:.3f} s")

    def expect_outbound(self, pkt: ps.Packet, start: float, end: float) -> None:
        tol = self.slack(end - self.last)
        any_time = pkt.time.any_time
        self.advance(self.now + _ANY_TIME_LIMIT if any_time else end + tol, inclusive=True)
        if not self.pending:
            raise Failure(f"line {pkt.lineno}: expected `{pkt.text}`, actual: sent nothing")
        t, seg = self.pending.popleft()
        seg, parts = self.coalesce(seg, t, pkt.length)
        self.nb.learn_ts(pkt, seg)
        self.log(f"{t:8.3f} line {pkt.lineno}: {pkt.text}")
        if parts > 1:
            self.log(f"{'':8} {parts} segments taken as one, as Linux's TSO sends them")
        shown = f"`{render_segment(seg, self.nb)}` at {t:.3f} s"
        diffs = differences(pkt, seg, self.nb, self.st)
        if diffs:
            raise Failure(f"line {pkt.lineno}: expected `{pkt.text}`, actual: {shown} "
                          f"({'; '.join(diffs)})")
        if not any_time and not start - tol - _EPS <= t <= end + tol + _EPS:
            window = f"{start:.3f}" if end == start else f"{start:.3f}...{end:.3f}"
            how = "early" if t < start else "late"
            raise Failure(f"line {pkt.lineno}: expected `{pkt.text}` at {window} s, actual: "
                          f"{shown} ({how} by more than {tol * 1000:g} ms)")
        self.last = t

    def coalesce(self, seg: sg.Segment, t: float, want: int) -> tuple[sg.Segment, int]:
        """Linux hands packetdrill one TSO/GSO packet where the engine sends several
        full-sized segments at one instant: when a line expects more payload than
        ``seg`` has, take the contiguous segments that follow as part of it.  All but
        the last must be full (the connection's MSS, less at most 40 bytes of options)
        and as long as the first, so a segment split in two is still caught."""
        size = len(seg.payload)
        conn = next((c for c in self.conns if c.local[1] == seg.src_port), None)
        if want <= size or conn is None or size < conn.status().mss - 40 \
                or seg.flags & (sg.SYN | sg.RST | sg.FIN):
            return seg, 1
        payload, flags, parts = seg.payload, seg.flags, 1
        while len(payload) < want and self.pending:
            t2, nxt = self.pending[0]
            if abs(t2 - t) > _EPS or nxt.seq != sq.add(seg.seq, len(payload)) \
                    or not nxt.payload or len(nxt.payload) > size or nxt.ack != seg.ack \
                    or nxt.flags & (sg.SYN | sg.RST) or len(payload) % size:
                break
            self.pending.popleft()
            payload += nxt.payload
            flags |= nxt.flags
            parts += 1
        return sg.Segment(seg.src_port, seg.dst_port, seg.seq, seg.ack, flags, seg.window,
                          seg.options, payload), parts

    def current(self, ev: ps.Event) -> Connection:
        """The connection a %{ }% block reads: the one inbound packets go to."""
        sock = self.target
        if sock is not None and sock.listener is not None:
            children = [c for c in self.conns if self.parent.get(id(c)) is sock]
            return children[-1] if children else sock.listener
        if sock is None or sock.conn is None:
            raise Failure(f"line {ev.lineno}: expected `{ev.text}`, actual: no socket to "
                          f"read TCP_INFO from")
        return sock.conn

    def check_tcp_info(self, ev: ps.PyBlock) -> None:
        conn = self.current(ev)
        values = tcp_info(conn, self.wire(conn))
        try:
            run_snippet(ev.snippet, values)
        except SnippetFailed as err:
            raise Failure(str(err)) from None
        self.log(f"{'':8} TCP_INFO checks hold")

    def wire(self, conn: Connection) -> Wire:
        return self.wires.setdefault(id(conn), Wire())

    def check_nothing_pending(self, ev: ps.Event) -> None:
        if self.pending:
            t, seg = self.pending[0]
            raise Failure(f"line {ev.lineno}: expected `{ev.text}`, actual: sent an extra "
                          f"segment: `{render_segment(seg, self.nb)}` at {t:.3f} s")

    # --- time ------------------------------------------------------------------------

    def advance(self, limit: float, inclusive: bool, until_sent: bool = True) -> None:
        """Fire timers due before ``limit`` (or at it), in order; with ``until_sent``
        stop as soon as a segment waits (an outbound line takes the first one)."""
        for _ in range(_MAX_TIMER_FIRES):
            if self.pending and until_sent:
                return
            due = [d for d in (c.get_timer() for c in self.conns) if d is not None]
            if not due:
                return
            t = min(due)
            if t > limit + _EPS or (not inclusive and t >= limit - _EPS):
                return
            self.now = max(self.now, t)
            for conn in list(self.conns):
                deadline = conn.get_timer()
                if deadline is not None and deadline <= self.now + _EPS:
                    conn.handle_timer(max(self.now, deadline))
            self.settle()
        raise Failure(f"engine timers keep firing at {self.now:.3f} s without end")

    def settle(self) -> None:
        """Drain every connection, then retry a blocked call."""
        for conn in list(self.conns):
            for seg in conn.segments_to_send():
                self.nb.saw(seg)
                self.wire(conn).sent(seg)
                self.pending.append((self.now, seg))
                self.log(f"{self.now:8.3f}   engine: {render_segment(seg, self.nb)}")
            while (event := conn.next_event()) is not None:
                self.note(conn, event)
        b = self.blocked
        if b is None:
            return
        try:
            value = b.poll()
            code = None
        except SysErr as err:
            value, code = -1, err.code
        if value is None:
            return
        self.blocked = None
        self.log(f"{self.now:8.3f} line {b.call.lineno} returned {value}")
        self.check_result(b.call, value, code)
        tol = self.slack(b.end - b.start)
        if b.call.time.end is not None and not (
                b.start - tol - _EPS <= self.now <= b.end + tol + _EPS):
            raise Failure(f"line {b.call.lineno}: expected `{b.call.text}`, actual: returned "
                          f"at {self.now:.3f} s, outside {b.start:.3f}...{b.end:.3f} s")
        self.last = max(self.last, self.now)

    def note(self, conn: Connection, event: Event) -> None:
        if isinstance(event, ConnectionReset):
            self.errors[id(conn)] = (errno_mod.ECONNREFUSED if event.refused
                                     else errno_mod.ECONNRESET)
        elif isinstance(event, ConnectionFailed):
            self.errors[id(conn)] = event.errno
        elif isinstance(event, TimerFired) and event.name == "rtx":
            self.wire(conn).timed_out(conn.status().snd_max)
        elif isinstance(event, StateChanged) and event.new is State.ESTABLISHED:
            listener = self.parent.get(id(conn))
            if listener is not None and conn in listener.children:
                listener.children.remove(conn)
                listener.accept_queue.append(conn)
        if not isinstance(event, StateChanged):
            return
        self.log(f"{self.now:8.3f}   state {event.old} -> {event.new} ({event.cause})")

    # --- the network side ------------------------------------------------------------

    def deliver(self, pkt: ps.Packet) -> None:
        sock = self.target
        conn: Connection | None = None
        if sock is not None and sock.listener is not None:
            remote = (REMOTE_IP, PASSIVE_REMOTE_PORT)
            live = [c for c in self.conns if self.parent.get(id(c)) is sock
                    and c.state is not State.CLOSED]
            if live:
                conn = live[-1]
            elif sock.listener.state is State.LISTEN:
                conn = sock.listener
                if pkt.flags & (sg.SYN | sg.ACK | sg.RST) == sg.SYN:
                    conn = sock.listener.spawn(remote)
                    self.conns.append(conn)
                    self.parent[id(conn)] = sock
                    sock.children.append(conn)
        elif sock is not None and sock.conn is not None and sock.conn.state is not State.CLOSED:
            conn = sock.conn
        if conn is None:
            local = sock.port if sock is not None and sock.port else DEFAULT_PORT
            self.reset_closed_port(self.nb.inbound(pkt, PASSIVE_REMOTE_PORT, local))
            return
        remote_port = conn.remote[1] if conn.remote else PASSIVE_REMOTE_PORT
        seg = self.nb.inbound(pkt, remote_port, conn.local[1])
        self.wire(conn).received(seg)
        conn.receive(seg, self.now)

    def reset_closed_port(self, seg: sg.Segment) -> None:
        """RFC 9293 §3.10.7.1: a segment to a port with no connection gets a RST."""
        rst = reset_for(seg)
        if rst is not None:
            self.pending.append((self.now, rst))
            self.log(f"{self.now:8.3f}   no socket: {render_segment(rst, self.nb)}")

    # --- syscalls --------------------------------------------------------------------

    def syscall(self, call: ps.Syscall, start: float, end: float) -> None:
        if self.blocked is not None:
            b = self.blocked
            raise Failure(f"line {call.lineno}: expected `{call.text}`, actual: the call at "
                          f"line {b.call.lineno} is still blocked")
        handler = getattr(self, f"sys_{call.name}")
        try:
            result = handler(call, *self.args(call))
        except (SysErr, TcpError) as err:
            self.settle()
            self.check_result(call, -1, err.code if isinstance(err, SysErr) else err.errno)
            return
        if callable(result):
            self.blocked = _Blocked(call, start, end, result)
            self.settle()
            return
        self.settle()
        self.check_result(call, result, None)

