"""The application on a kernel host: real, non-blocking Linux sockets.

:class:`KernelApp` does for Linux's TCP what :class:`~tcplab.lab.app.HostApp` does for
tcplab's: ``send`` queues all the bytes and writes what the socket takes, a ``close`` or
``shutdown`` given while bytes wait is carried out once they are written, and
everything that arrives is read (and counted) at once, so a receive window never
closes because nobody reads.  ``abort`` sets ``SO_LINGER`` to 0 before closing, so
Linux sends a RST.  Listeners accept every connection as it completes.

Each socket gets a small number (its ``sid``) the lab names it by.  A socket keeps its
sid after the program let go of it (``close``: FIN-WAIT, TIME-WAIT), matched by its
four-tuple in :mod:`.diag`'s dumps; that part is the agent's.

:meth:`KernelApp.poll` does the non-blocking work; the agent calls it when a socket
is ready (``fileno`` of each open socket is registered) and after every command.
"""

from __future__ import annotations

import errno as E
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tcplab.lab.app import pattern_bytes
from tcplab.stack.sockets import HostError

Address = tuple[str, int]
_CHUNK = 65536
# what `tcp HOST ...` can switch on a Linux socket, and what it cannot (with why)
_OPTIONS = {"nagle", "keepalive"}
# what Linux has per network namespace (net.ipv4.*): ``tcp HOST x=...`` sets these, as
# (sysctl, value for on, value for off); RACK-TLP is two of them: RACK loss detection
# (tcp_recovery) and the tail loss probe (tcp_early_retrans), as tcplab's rack=off is both
SYSCTLS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "sack": (("tcp_sack", "1", "0"),),
    "timestamps": (("tcp_timestamps", "1", "0"),),
    "wscale": (("tcp_window_scaling", "1", "0"),),
    "rack": (("tcp_recovery", "1", "0"), ("tcp_early_retrans", "3", "0")),
    "syncookies": (("tcp_syncookies", "1", "0"),),
}
PROC_NET = Path("/proc/sys/net/ipv4")


@dataclass(slots=True)
class KernelConn:
    """One socket the application holds or held."""

    sid: int
    sock: socket.socket | None      # None once closed by the application
    kind: str                       # "listener" or "connection"
    local: Address
    remote: Address | None
    listener: int | None = None
    connecting: bool = False
    outbox: bytearray = field(default_factory=bytearray)
    pattern_left: int = 0           # test-pattern bytes still to make
    pattern_sent: int = 0
    then: list[str] = field(default_factory=list)  # shutdown/close after the writes
    delivered: int = 0              # bytes read from it
    fresh: bytearray = field(default_factory=bytearray)  # read and not yet reported
    sent: int = 0                   # bytes the kernel took
    error: int = 0                  # SO_ERROR seen (ECONNRESET, ...)
    eof: bool = False


class KernelApp:
    """A program holding Linux sockets (see the module docstring)."""

    def __init__(self, on_change: Callable[[KernelConn], None] | None = None,
                 new_sid: Callable[[Address, Address | None], int] | None = None) -> None:
        self.conns: dict[int, KernelConn] = {}
        self._next_sid = 1
        self.tcp: dict[str, bool] = {}       # host-wide switches (`tcp h3 nagle=off`)
        self._on_change = on_change or (lambda conn: None)
        # who numbers sockets: the owner may already know an accepted connection (seen
        # in SYN-RECEIVED before the program took it) and give it the same number
        self._new_sid = new_sid or self._count

    def _count(self, local: Address, remote: Address | None) -> int:
        sid = self._next_sid
        self._next_sid += 1
        return sid

    # -- the lab's calls (HostError on a user mistake) -------------------------------
    def listen(self, port: int, tcp: dict[str, bool] | None = None) -> int:
        sock = self._socket(tcp)
        try:
            sock.bind(("0.0.0.0", port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise HostError(exc.errno or E.EINVAL, f"listen :{port}: {exc.strerror}") from None
        return self._add(sock, "listener", sock.getsockname(), None).sid

    def connect(self, remote_ip: str, rport: int, lport: int | None = None,
                tcp: dict[str, bool] | None = None) -> int:
        sock = self._socket(tcp)
        try:
            if lport is not None:
                sock.bind(("0.0.0.0", lport))
            err = sock.connect_ex((remote_ip, rport))
        except OSError as exc:
            sock.close()
            raise HostError(exc.errno or E.EINVAL,
                            f"connect {remote_ip}:{rport}: {exc.strerror}") from None
        if err not in (0, E.EINPROGRESS):
            sock.close()
            raise HostError(err, f"connect {remote_ip}:{rport}: {E.errorcode.get(err, err)}")
        conn = self._add(sock, "connection", sock.getsockname(), (remote_ip, rport))
        conn.connecting = err == E.EINPROGRESS
        return conn.sid

    def set_tcp(self, tcp: dict[str, bool]) -> None:
        """``tcp HOST ...``: socket options as defaults for the sockets made from now on,
        and the namespace's sysctls for what Linux only has per namespace."""
        for name in tcp:
            if name not in _OPTIONS and name not in SYSCTLS:
                raise HostError(E.EINVAL, f"{name}: Linux has no such switch; a kernel "
                                          f"host takes {', '.join(sorted({*_OPTIONS, *SYSCTLS}))}")
        for name, on in tcp.items():
            if name not in SYSCTLS:
                self.tcp[name] = on
            for sysctl, yes, no in SYSCTLS.get(name, ()):
                try:
                    (PROC_NET / sysctl).write_text(yes if on else no)
                except OSError as exc:
                    raise HostError(exc.errno or E.EPERM, f"{name}: cannot set "
                                    f"net.ipv4.{sysctl}: {exc.strerror}") from None

    def write(self, sid: int, data: bytes) -> None:
        conn = self._writable(sid)
        conn.outbox += data
        self._flush(conn)

    def write_pattern(self, sid: int, count: int) -> None:
        conn = self._writable(sid)
        conn.pattern_left += count
        self._flush(conn)

    def shutdown(self, sid: int) -> None:
        self._after_writes(self._open(sid), "shutdown")

    def close(self, sid: int) -> None:
        self._after_writes(self._open(sid), "close")

    def abort(self, sid: int) -> None:
        conn = self._open(sid)
        assert conn.sock is not None
        # SO_LINGER on, 0 s: close() discards the queue and sends a RST (RFC 9293 ABORT)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.outbox.clear()
        conn.pattern_left = 0
        conn.then.clear()
        self._let_go(conn)

    def pending(self, sid: int) -> int:
        conn = self.conns.get(sid)
        return 0 if conn is None else len(conn.outbox) + conn.pattern_left

    # -- the work a ready socket asks for ----------------------------------------------
    def poll(self) -> None:
        """Accept, read, write and finish whatever the sockets allow now."""
        for conn in list(self.conns.values()):
            if conn.sock is None:
                continue
            if conn.kind == "listener":
                self._accept(conn)
                continue
            if conn.connecting:
                err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err == E.EINPROGRESS or (err == 0 and not self._connected(conn)):
                    continue
                conn.connecting = False
                if err:
                    conn.error = err
                    self._let_go(conn)
                    continue
            self._read(conn)
            if conn.sock is not None:
                self._flush(conn)

    def fds(self) -> list[socket.socket]:
        return [c.sock for c in self.conns.values() if c.sock is not None]

    # -- internals -------------------------------------------------------------------
    def _socket(self, tcp: dict[str, bool] | None) -> socket.socket:
        self._check(tcp or {})
        options = {**self.tcp, **(tcp or {})}
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if "nagle" in options:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(not options["nagle"]))
        if "keepalive" in options:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(options["keepalive"]))
        return sock

    @staticmethod
    def _check(tcp: dict[str, bool]) -> None:
        """A socket's own switches: the socket options; a namespace-wide one only when
        the namespace already has that value (so one scenario runs on either stack)."""
        for name, on in tcp.items():
            if name in _OPTIONS:
                continue
            if name not in SYSCTLS:
                raise HostError(E.EINVAL, f"{name}: Linux has no such switch")
            sysctls = SYSCTLS[name]
            try:
                now_on = all((PROC_NET / sysctl).read_text().strip() != no
                             for sysctl, _yes, no in sysctls)
            except OSError:
                now_on = None
            if now_on != on:
                names = " and ".join(f"net.ipv4.{sysctl}" for sysctl, _, _ in sysctls)
                raise HostError(E.EINVAL, f"{name}={'on' if on else 'off'}: on Linux a "
                                f"namespace-wide setting ({names}), not a socket's: set it "
                                f"for the host first with `tcp HOST "
                                f"{name}={'on' if on else 'off'}`")

    def _add(self, sock: socket.socket, kind: str, local: Address,
             remote: Address | None, listener: int | None = None) -> KernelConn:
        where = (str(local[0]), int(local[1]))
        conn = KernelConn(self._new_sid(where, remote), sock, kind, where, remote, listener)
        self.conns[conn.sid] = conn
        self._on_change(conn)
        return conn

    def _open(self, sid: int) -> KernelConn:
        conn = self.conns.get(sid)
        if conn is None:
            raise HostError(E.EBADF, f"socket {sid}: no such socket")
        if conn.sock is None:
            raise HostError(E.EBADF, f"socket {sid}: already closed")
        return conn

    def _writable(self, sid: int) -> KernelConn:
        conn = self._open(sid)
        if conn.kind == "listener":
            raise HostError(E.EINVAL, f"socket {sid}: listening, it cannot send")
        if conn.then:
            raise HostError(E.EPIPE, f"socket {sid}: closing")
        return conn

    @staticmethod
    def _connected(conn: KernelConn) -> bool:
        assert conn.sock is not None
        try:
            conn.sock.getpeername()
        except OSError:
            return False
        return True

    def _accept(self, listener: KernelConn) -> None:
        assert listener.sock is not None
        while True:
            try:
                sock, peer = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # ECONNABORTED and the like: that connection is gone
            sock.setblocking(False)
            self._add(sock, "connection", sock.getsockname(), (str(peer[0]), int(peer[1])),
                      listener.sid)

    def _read(self, conn: KernelConn) -> None:
        sock = conn.sock
        assert sock is not None
        while not conn.eof:
            try:
                data = sock.recv(_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                conn.error = exc.errno or E.EIO
                return
            if not data:
                conn.eof = True
                self._on_change(conn)
                return
            conn.delivered += len(data)
            conn.fresh += data

    def _flush(self, conn: KernelConn) -> None:
        sock = conn.sock
        if sock is None or conn.connecting:
            return
        while conn.outbox or conn.pattern_left:
            if not conn.outbox:
                count = min(conn.pattern_left, _CHUNK)
                conn.outbox += pattern_bytes(conn.pattern_sent, count)
                conn.pattern_sent += count
                conn.pattern_left -= count
            try:
                n = sock.send(conn.outbox)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                conn.error = exc.errno or E.EIO
                conn.outbox.clear()
                conn.pattern_left = 0
                break
            del conn.outbox[:n]
            conn.sent += n
        for what in conn.then:
            self._do(conn, what)
        conn.then.clear()

    def _after_writes(self, conn: KernelConn, what: str) -> None:
        if conn.outbox or conn.pattern_left or conn.connecting:
            conn.then.append(what)
            return
        self._do(conn, what)

    def _do(self, conn: KernelConn, what: str) -> None:
        if conn.sock is None:
            return
        if what == "shutdown":
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                conn.error = exc.errno or E.EIO
            return
        self._let_go(conn)

    def _let_go(self, conn: KernelConn) -> None:
        assert conn.sock is not None
        conn.sock.close()
        conn.sock = None
        self._on_change(conn)
