"""The socket layer a script's syscalls talk to: fds, listeners, blocking calls.

Theory of operation
-------------------
:class:`SocketCalls` plays the kernel's socket layer for the runner: one ``sys_NAME``
method per supported syscall, taking the parsed argument expressions.  A method
returns the call's result, raises :class:`SysErr` for ``-1 ERRNO``, or returns a
*poll* function when a blocking call cannot finish at once: the runner keeps it
pending and calls it again after every engine step until it returns a value.

Addresses: the engine is 192.168.0.1, the script's side 192.0.2.1.  ``connect``
goes to port 8080 unless the sockaddr names another; an unbound socket gets an
ephemeral port from 40000 up; ``bind(fd, ..., ...)`` binds 8080.  Closing a listener
resets the connections nobody accepted, as Linux does.
"""

from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tcplab.pkt import parse as ps
from tcplab.pkt import sockopts as so
from tcplab.pkt.compare import Settings
from tcplab.pkt.errors import Failure
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection, TcpError
from tcplab.tcp.states import SYNCHRONIZED, State

LOCAL_IP = "192.168.0.1"
REMOTE_IP = "192.0.2.1"
DEFAULT_PORT = 8080
EPHEMERAL_START = 40000

Poll = Callable[[], int | None]   # a blocked call: None while still blocked


class SysErr(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(errno_mod.errorcode.get(code, str(code)))
        self.code = code


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


def _describe_result(value: int, code: int | None) -> str:
    if code is None:
        return f"returned {value}"
    return f"returned -1 {errno_mod.errorcode.get(code, code)} ({os.strerror(code)})"


_ARG_COUNTS = {"socket": 3, "bind": 3, "listen": 2, "accept": 3, "connect": 3, "write": 3,
               "send": 4, "read": 3, "recv": 4, "close": 1, "shutdown": 2,
               "setsockopt": 5, "getsockopt": 5, "sendmsg": 3}


class SocketCalls:
    """The syscalls (see the module docstring); mixed into the runner, whose clock,
    settings and connection list it shares."""

    now: float
    st: Settings
    conns: list[Connection]
    sockets: dict[int, Socket]
    target: Socket | None
    errors: dict[int, int]          # id(conn) -> pending SO_ERROR
    next_port: int

    def args(self, call: ps.Syscall) -> tuple[ps.Expr, ...]:
        want = _ARG_COUNTS.get(call.name)
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

    def new_fd(self, config: Config, want: int = -1) -> Socket:
        """A socket on the fd the script's line expects (packetdrill maps the script's
        fd numbers onto the real ones, so a script may call its first socket 4), or
        on the lowest free fd from 3 up."""
        fd = want if want >= 0 and want not in self.sockets else 3
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
        sock = self.new_fd(self.st.config(), call.result)
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
            new = self.new_fd(child.config, call.result)
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
                  count: ps.Expr, urgent: bool = False) -> int | Poll:
        sock = self.sock(call, fd)
        conn = self.connected(sock)
        total = ps.const_int(count, call.lineno)
        done = 0

        def poll() -> int | None:
            nonlocal done
            try:
                if done < total:
                    data = bytes(total - done)
                    # MSG_OOB: RFC 9293 §3.8.5 urgent data
                    done += conn.send(data, self.now, urgent=urgent)
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
        return self.sys_write(call, fd, buf, count, _send_flags(call, flags))

    def sys_sendmsg(self, call: ps.Syscall, fd: ps.Expr, msg: ps.Expr,
                    flags: ps.Expr) -> int | Poll:
        """``sendmsg(fd, {msg_name(...)=..., msg_iov(N)=[{..., LEN}, ...], msg_flags=0},
        flags)``: a plain gather write of the iovec's total length."""
        urgent = _send_flags(call, flags)
        ln = call.lineno
        if not isinstance(msg, ps.Struct):
            raise ps.ScriptError(ln, "sendmsg() takes a struct msghdr {...}")
        total: int | None = None
        for key, value in msg.fields:
            if key == "msg_iov":
                total = _iovec_length(value, ln)
            elif (key, value) in (("msg_name", ...), ("msg_flags", ...), ("msg_flags", 0)):
                continue
            elif key in ("msg_control", "msg_name", "msg_flags"):
                raise ps.Unsupported(ln, f"sendmsg() with {key} is not supported "
                                         f"(only a plain iovec)")
            else:
                raise ps.ScriptError(ln, f"unexpected msghdr field {key}")
        if total is None:
            raise ps.ScriptError(ln, "sendmsg() needs msg_iov(N)=[{..., LEN}, ...]")
        return self.sys_write(call, fd, ..., total, urgent)

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
            # MSG_OOB reads Linux's out-of-band byte, which RFC 9293 urgent data is not
            raise ps.Unsupported(call.lineno, "recv() flags (MSG_OOB, MSG_PEEK...) are not "
                                              "supported")
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
        elif opt == "TCP_MAXSEG" and conn is not None and conn.state in SYNCHRONIZED:
            actual = conn.status().mss   # Linux: the MSS in use once connected
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


def _send_flags(call: ps.Syscall, flags: ps.Expr) -> bool:
    """True for MSG_OOB (urgent data); other flags are not supported."""
    value = ps.const_int(flags, call.lineno) if flags is not ... else 0
    oob = ps.CONSTANTS["MSG_OOB"]
    if value & ~oob:
        raise ps.Unsupported(call.lineno, f"{call.name}() flags other than 0 and MSG_OOB are "
                                          f"not supported")
    return bool(value & oob)


def _iovec_length(value: ps.Expr, lineno: int) -> int:
    """The total length of ``[{..., 100}, {..., 40}]`` (iov_base is not checked)."""
    if not isinstance(value, ps.Array):
        raise ps.ScriptError(lineno, "msg_iov must be an array [{..., LEN}, ...]")
    total = 0
    for item in value.items:
        if not isinstance(item, ps.Struct) or len(item.fields) != 2:
            raise ps.ScriptError(lineno, "each iovec must be {..., LEN}")
        (_, base), (_, length) = item.fields
        if base is not ...:
            raise ps.Unsupported(lineno, "iovec contents are not supported (write ...)")
        total += ps.const_int(length, lineno)
    return total
