"""Run one parsed script against the engine under a virtual clock.

Theory of operation
-------------------
The runner owns time (``now``, seconds from 0) and plays the part of both the
kernel's socket layer (fds, listeners, accept queues, O_NONBLOCK, SO_ERROR,
blocking calls) and the remote host (inbound segments).  Events run in script
order; for each one the runner first fires every engine timer due *strictly
before* the event's time, then:

* an outbound line takes the oldest segment the engine has emitted, firing
  timers up to the line's time plus the tolerance if nothing is queued yet
  ("sent nothing" when still empty), and compares it (:mod:`tcplab.pkt.compare`)
  and its emission time;
* any other line first requires that the engine emitted nothing unlisted ("sent an
  extra segment"), then injects the packet or performs the syscall.

After each engine call the runner drains segments and events from every
connection and retries a blocked syscall.  A blocking call that cannot finish at
once stays pending while later lines run; the next syscall line while it is still
pending, or the end of the script, is a failure.  At the end, timers run only to
the last event's time plus the tolerance, so later timers (TIME-WAIT, delayed ACKs)
never produce spurious failures.

Addresses: the engine is 192.168.0.1, the script's side 192.0.2.1.  ``connect``
goes to port 8080 unless the sockaddr names another; an unbound socket gets an
ephemeral port from 40000 up; ``bind(fd, ..., ...)`` binds 8080.  SYNs to a
listener come from port 50000.  Packets for a port without a live connection get
the RFC 9293 §3.10.7.1 reset from the runner itself.
"""

from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tcplab.pkt import parse as ps
from tcplab.pkt import sockopts as so
from tcplab.pkt.compare import Numbering, SettingError, Settings, UnsupportedSetting, differences
from tcplab.pkt.compare import render as render_segment
from tcplab.tcp import segment as sg
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection, TcpError, reset_for
from tcplab.tcp.events import ConnectionFailed, ConnectionReset, Event, StateChanged
from tcplab.tcp.states import SYNCHRONIZED, State

LOCAL_IP = "192.168.0.1"
REMOTE_IP = "192.0.2.1"
DEFAULT_PORT = 8080
PASSIVE_REMOTE_PORT = 50000
EPHEMERAL_START = 40000
_EPS = 1e-9
_MAX_TIMER_FIRES = 100_000   # an engine that never clears a timer must not hang us

Status = Literal["PASS", "FAIL", "SKIP"]
Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    reason: str = ""


class Failure(Exception):
    """The script and the engine disagree; the message is the FAIL reason."""


class SysErr(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(errno_mod.errorcode.get(code, str(code)))
        self.code = code


Poll = Callable[[], int | None]   # a blocked call: None while still blocked


@dataclass(eq=False, slots=True)
class Socket:
    fd: int
    config: Config
    nonblocking: bool = False
    port: int | None = None
    conn: Connection | None = None            # connected / accepted socket
    listener: Connection | None = None        # listening socket
    children: list[Connection] = field(default_factory=list)   # spawned, not accepted
    accept_queue: deque[Connection] = field(default_factory=deque)


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


def _describe_result(value: int, code: int | None) -> str:
    if code is None:
        return f"returned {value}"
    return f"returned -1 {errno_mod.errorcode.get(code, code)} ({os.strerror(code)})"


class _Runner:
    def __init__(self, settings: Settings, log: Log) -> None:
        self.st = settings
        self.log = log
        self.now = 0.0
        self.last = 0.0                 # base of relative times
        self.nb = Numbering()
        self.conns: list[Connection] = []
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
        self.advance(start, inclusive=False)
        self.check_nothing_pending(ev)
        self.now = max(self.now, start)
        self.last = start
        self.log(f"{self.now:8.3f} line {ev.lineno}: {ev.text}")
        if isinstance(ev, ps.Command):
            self.log(f"{'':8} ignored (shell commands are not run): {ev.text}")
        elif isinstance(ev, ps.Packet):
            self.deliver(ev)
            self.settle()
        else:
            self.syscall(ev, start, end)

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
        tol = self.st.tolerance
        self.advance(end + tol, inclusive=True)
        if not self.pending:
            raise Failure(f"line {pkt.lineno}: expected `{pkt.text}`, actual: sent nothing")
        t, seg = self.pending.popleft()
        self.nb.learn_ts(pkt, seg)
        self.log(f"{t:8.3f} line {pkt.lineno}: {pkt.text}")
        shown = f"`{render_segment(seg, self.nb)}` at {t:.3f} s"
        diffs = differences(pkt, seg, self.nb, self.st)
        if diffs:
            raise Failure(f"line {pkt.lineno}: expected `{pkt.text}`, actual: {shown} "
                          f"({'; '.join(diffs)})")
        if t < start - tol - _EPS:
            window = f"{start:.3f}" if end == start else f"{start:.3f}...{end:.3f}"
            raise Failure(f"line {pkt.lineno}: expected `{pkt.text}` at {window} s, actual: "
                          f"{shown} (early by more than {tol * 1000:g} ms)")
        self.last = t

    def check_nothing_pending(self, ev: ps.Event) -> None:
        if self.pending:
            t, seg = self.pending[0]
            raise Failure(f"line {ev.lineno}: expected `{ev.text}`, actual: sent an extra "
                          f"segment: `{render_segment(seg, self.nb)}` at {t:.3f} s")

    # --- time ------------------------------------------------------------------------

    def advance(self, limit: float, inclusive: bool) -> None:
        """Fire timers due before ``limit`` (or at it) until the engine emits something."""
        for _ in range(_MAX_TIMER_FIRES):
            if self.pending:
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
        if b.call.time.end is not None and not (
                b.start - self.st.tolerance - _EPS <= self.now
                <= b.end + self.st.tolerance + _EPS):
            raise Failure(f"line {b.call.lineno}: expected `{b.call.text}`, actual: returned "
                          f"at {self.now:.3f} s, outside {b.start:.3f}...{b.end:.3f} s")
        self.last = max(self.last, self.now)

    def note(self, conn: Connection, event: Event) -> None:
        if isinstance(event, ConnectionReset):
            self.errors[id(conn)] = (errno_mod.ECONNREFUSED if event.refused
                                     else errno_mod.ECONNRESET)
        elif isinstance(event, ConnectionFailed):
            self.errors[id(conn)] = event.errno
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
        conn.receive(self.nb.inbound(pkt, remote_port, conn.local[1]), self.now)

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

    def args(self, call: ps.Syscall) -> tuple[ps.Expr, ...]:
        counts = {"socket": 3, "bind": 3, "listen": 2, "accept": 3, "connect": 3, "write": 3,
                  "send": 4, "read": 3, "recv": 4, "close": 1, "shutdown": 2,
                  "setsockopt": 5, "getsockopt": 5}
        want = counts.get(call.name)
        if want is not None and len(call.args) != want:
            raise ps.ScriptError(call.lineno, f"{call.name}() takes {want} arguments")
        return call.args

    def check_result(self, call: ps.Syscall, value: int, code: int | None) -> None:
        want_code = errno_mod.__dict__.get(call.errno) if call.errno else None
        if call.errno and not isinstance(want_code, int):
            raise ps.ScriptError(call.lineno, f"unknown errno {call.errno}")
        if value != call.result or code != want_code:
            raise Failure(f"line {call.lineno}: expected `{call.text}`, actual: "
                          f"{_describe_result(value, code)}")

    def sock(self, call: ps.Syscall, expr: ps.Expr) -> Socket:
        fd = ps.const_int(expr, call.lineno)
        if fd not in self.sockets:
            raise SysErr(errno_mod.EBADF)
        return self.sockets[fd]

    def new_fd(self, config: Config) -> Socket:
        fd = 3
        while fd in self.sockets:
            fd += 1
        sock = Socket(fd, dataclasses.replace(config))
        self.sockets[fd] = sock
        return sock

    def new_conn(self, sock: Socket) -> Connection:
        if sock.port is None:
            sock.port = self.next_port
            self.next_port += 1
        conn = Connection((LOCAL_IP, sock.port), dataclasses.replace(sock.config))
        self.conns.append(conn)
        self.target = sock
        return conn

    def error_of(self, conn: Connection, default: int) -> int:
        return self.errors.pop(id(conn), default)

    def sys_socket(self, call: ps.Syscall, domain: ps.Expr, kind: ps.Expr,
                   proto: ps.Expr) -> int:
        ln = call.lineno
        if domain is not ... and ps.const_int(domain, ln) != ps.CONSTANTS["AF_INET"]:
            raise ps.Unsupported(ln, "only AF_INET sockets are supported (no IPv6 yet)")
        flags = ps.const_int(kind, ln) if kind is not ... else ps.CONSTANTS["SOCK_STREAM"]
        nonblock = ps.CONSTANTS["SOCK_NONBLOCK"]
        if flags & ~nonblock != ps.CONSTANTS["SOCK_STREAM"]:
            raise ps.Unsupported(ln, "only SOCK_STREAM sockets are supported")
        if proto is not ... and ps.const_int(proto, ln) not in (0, ps.CONSTANTS["IPPROTO_TCP"]):
            raise ps.Unsupported(ln, "only IPPROTO_TCP is supported")
        sock = self.new_fd(self.st.config())
        sock.nonblocking = bool(flags & nonblock)
        return sock.fd

    def sys_bind(self, call: ps.Syscall, fd: ps.Expr, addr: ps.Expr, _len: ps.Expr) -> int:
        sock = self.sock(call, fd)
        if sock.port is not None:
            raise SysErr(errno_mod.EINVAL)
        sock.port = _sockaddr(addr, call.lineno)[1] if addr is not ... else DEFAULT_PORT
        return 0

    def sys_listen(self, call: ps.Syscall, fd: ps.Expr, _backlog: ps.Expr) -> int:
        sock = self.sock(call, fd)
        if sock.conn is not None:
            raise SysErr(errno_mod.EINVAL)
        if sock.listener is None:
            sock.listener = self.new_conn(sock)
            sock.listener.listen(self.now)
        return 0

    def sys_accept(self, call: ps.Syscall, fd: ps.Expr, _addr: ps.Expr,
                   _len: ps.Expr) -> int | Poll:
        sock = self.sock(call, fd)
        if sock.listener is None:
            raise SysErr(errno_mod.EINVAL)

        def poll() -> int | None:
            if not sock.accept_queue:
                return None
            child = sock.accept_queue.popleft()
            new = self.new_fd(child.config)
            new.port, new.conn = child.local[1], child
            return new.fd
        return self.now_or_block(sock, poll)

    def now_or_block(self, sock: Socket, poll: Poll) -> int | Poll:
        result = poll()
        if result is not None:
            return result
        if sock.nonblocking:
            raise SysErr(errno_mod.EAGAIN)
        return poll

    def sys_connect(self, call: ps.Syscall, fd: ps.Expr, addr: ps.Expr,
                    _len: ps.Expr) -> int | Poll:
        sock = self.sock(call, fd)
        if sock.listener is not None:
            raise SysErr(errno_mod.EISCONN)
        conn = sock.conn
        if conn is not None:
            if conn.state in (State.SYN_SENT, State.SYN_RECEIVED):
                raise SysErr(errno_mod.EALREADY)
            if conn.state is State.CLOSED and id(conn) in self.errors:
                raise SysErr(self.error_of(conn, errno_mod.ECONNREFUSED))
            raise SysErr(errno_mod.EISCONN)
        remote = _sockaddr(addr, call.lineno) if addr is not ... else (REMOTE_IP, DEFAULT_PORT)
        conn = sock.conn = self.new_conn(sock)
        conn.connect(remote, self.now)
        if sock.nonblocking:
            raise SysErr(errno_mod.EINPROGRESS)

        def poll() -> int | None:
            if conn.state in SYNCHRONIZED:
                return 0
            if conn.state is State.CLOSED:
                raise SysErr(self.error_of(conn, errno_mod.ECONNREFUSED))
            return None
        return poll

    def connected(self, sock: Socket) -> Connection:
        if sock.conn is None:
            raise SysErr(errno_mod.ENOTCONN)
        return sock.conn

    def sys_write(self, call: ps.Syscall, fd: ps.Expr, _buf: ps.Expr,
                  count: ps.Expr) -> int | Poll:
        sock = self.sock(call, fd)
        conn = self.connected(sock)
        total = ps.const_int(count, call.lineno)
        done = 0

        def poll() -> int | None:
            nonlocal done
            try:
                done += conn.send(bytes(total - done), self.now) if done < total else 0
            except TcpError as err:
                if done:
                    return done
                raise SysErr(err.errno) from None
            return done if done == total else None
        result = poll()
        if result is not None:
            return result
        if sock.nonblocking:
            if done:
                return done
            raise SysErr(errno_mod.EAGAIN)
        return poll

    def sys_send(self, call: ps.Syscall, fd: ps.Expr, buf: ps.Expr, count: ps.Expr,
                 flags: ps.Expr) -> int | Poll:
        if flags is not ... and ps.const_int(flags, call.lineno) != 0:
            raise ps.Unsupported(call.lineno, "send() flags are not supported")
        return self.sys_write(call, fd, buf, count)

    def sys_read(self, call: ps.Syscall, fd: ps.Expr, _buf: ps.Expr,
                 count: ps.Expr) -> int | Poll:
        sock = self.sock(call, fd)
        conn = self.connected(sock)
        size = ps.const_int(count, call.lineno)

        def poll() -> int | None:
            try:
                return len(conn.recv(size, self.now))
            except TcpError as err:
                if err.errno == errno_mod.EAGAIN:
                    return None
                raise SysErr(err.errno) from None
        return self.now_or_block(sock, poll)

    def sys_recv(self, call: ps.Syscall, fd: ps.Expr, buf: ps.Expr, count: ps.Expr,
                 flags: ps.Expr) -> int | Poll:
        if flags is not ... and ps.const_int(flags, call.lineno) != 0:
            raise ps.Unsupported(call.lineno, "recv() flags are not supported")
        return self.sys_read(call, fd, buf, count)

    def sys_close(self, call: ps.Syscall, fd: ps.Expr) -> int:
        sock = self.sock(call, fd)
        del self.sockets[sock.fd]
        if sock.listener is not None:
            # Like Linux, closing a listener resets the connections nobody accepted.
            for child in [*sock.children, *sock.accept_queue]:
                if child.state is not State.CLOSED:
                    child.abort(self.now)
            sock.children.clear()
            sock.accept_queue.clear()
            sock.listener.close(self.now)
        elif sock.conn is not None and sock.conn.state is not State.CLOSED:
            sock.conn.close(self.now)
        return 0

    def sys_shutdown(self, call: ps.Syscall, fd: ps.Expr, how: ps.Expr) -> int:
        conn = self.connected(self.sock(call, fd))
        names = {0: "rd", 1: "wr", 2: "rdwr"}
        value = ps.const_int(how, call.lineno)
        if value not in names:
            raise SysErr(errno_mod.EINVAL)
        try:
            conn.shutdown(names[value], self.now)
        except TcpError as err:
            raise SysErr(err.errno) from None
        return 0

    def sys_setsockopt(self, call: ps.Syscall, fd: ps.Expr, level: ps.Expr, name: ps.Expr,
                       value: ps.Expr, _len: ps.Expr) -> int:
        sock = self.sock(call, fd)
        opt = so.option_name(call, level, name)
        configs = [sock.config, *(c.config for c in (sock.conn, sock.listener) if c)]
        conns = [c for c in (sock.conn, sock.listener) if c is not None]
        try:
            so.set_option(opt, so.int_arg(value, call.lineno), configs, conns, self.now)
        except ValueError:
            raise SysErr(errno_mod.EINVAL) from None
        return 0

    def sys_getsockopt(self, call: ps.Syscall, fd: ps.Expr, level: ps.Expr, name: ps.Expr,
                       value: ps.Expr, _len: ps.Expr) -> int:
        sock = self.sock(call, fd)
        opt = so.option_name(call, level, name)
        conn = sock.conn or sock.listener
        if opt == "SO_ERROR":
            actual = self.error_of(conn, 0) if conn else 0
        else:
            actual = so.option_value(opt, sock.config)
        inner = value.items[0] if isinstance(value, ps.Array) and value.items else value
        if inner is ...:
            return 0
        if isinstance(inner, ps.Name) and inner.name in errno_mod.__dict__:
            want = errno_mod.__dict__[inner.name]
        else:
            want = ps.const_int(inner, call.lineno)
        if actual != want:
            shown = errno_mod.errorcode.get(actual, actual) if opt == "SO_ERROR" else actual
            raise Failure(f"line {call.lineno}: expected `{call.text}`, actual: {opt} is "
                          f"[{shown}]")
        return 0

    def sys_fcntl(self, call: ps.Syscall, fd: ps.Expr, cmd: ps.Expr, *rest: ps.Expr) -> int:
        sock = self.sock(call, fd)
        command = ps.const_int(cmd, call.lineno)
        nonblock = ps.CONSTANTS["O_NONBLOCK"]
        if command == ps.CONSTANTS["F_GETFL"] and not rest:
            return ps.CONSTANTS["O_RDWR"] | (nonblock if sock.nonblocking else 0)
        if command == ps.CONSTANTS["F_SETFL"] and len(rest) == 1:
            sock.nonblocking = bool(ps.const_int(rest[0], call.lineno) & nonblock)
            return 0
        raise ps.Unsupported(call.lineno, "only fcntl F_GETFL and F_SETFL are supported")


def _sockaddr(expr: ps.Expr, lineno: int) -> tuple[str, int]:
    """``{sa_family=AF_INET, sin_port=htons(N), sin_addr=inet_addr("a.b.c.d")}``."""
    if not isinstance(expr, ps.Struct):
        raise ps.ScriptError(lineno, "expected ... or a sockaddr {...}")
    ip, port = REMOTE_IP, DEFAULT_PORT
    for key, value in expr.fields:
        if key == "sa_family" and value != ps.Name("AF_INET"):
            raise ps.Unsupported(lineno, "only AF_INET addresses are supported")
        if key == "sin_port" and isinstance(value, ps.Call) and value.func == "htons" \
                and len(value.args) == 1:
            port = ps.const_int(value.args[0], lineno)
        elif key == "sin_addr" and isinstance(value, ps.Call) and value.func == "inet_addr" \
                and len(value.args) == 1 and isinstance(value.args[0], ps.Str):
            ip = value.args[0].value
        elif key not in ("sa_family", "sin_port", "sin_addr"):
            raise ps.ScriptError(lineno, f"unexpected sockaddr field {key}")
    return ip, port
