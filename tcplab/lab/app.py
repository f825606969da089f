"""The application on a host: what a user's ``send``/``close`` means on a real socket.

Theory of operation
-------------------
A :class:`~tcplab.stack.host.Host` is a kernel: ``send`` takes what fits in the socket's
buffer and no more.  A lab user who types ``send c1 --bytes 1000000`` then ``close c1``
means what a program doing a blocking ``write`` then ``close`` means: all the bytes,
then the FIN.  :class:`HostApp` is that program.  It keeps the bytes that did not fit
yet and writes more each time the host did something (an ACK freed buffer space); a
``close`` or ``shutdown`` given while bytes wait is carried out once they are written.

HostApp also speaks the simulated network's node protocol, so the network drives it
exactly like a bare host, and after every call it drains the host's events into the
lab's event stream.  The Mininet agent wraps its host the same way.
"""

from __future__ import annotations

import errno as E
import os
import stat
from collections import deque
from collections.abc import Callable
from typing import cast

from tcplab.stack.events import ConnectionFailed, HostEvent
from tcplab.stack.host import Host
from tcplab.stack.sockets import HostError, SocketInfo

SEND_FILE_LIMIT = 64 << 20  # bytes one ``send --file`` takes


def read_send_file(path: str) -> bytes:
    """The bytes ``send --file PATH`` sends: a regular file of at most
    :data:`SEND_FILE_LIMIT` bytes (a FIFO would block the open and a device never
    ends).  ValueError says why not, in one line."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ValueError(f"{path}: not a regular file")
        with open(path, "rb") as fh:
            data = fh.read(SEND_FILE_LIMIT + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > SEND_FILE_LIMIT:
        raise ValueError(f"{path}: more than the {SEND_FILE_LIMIT >> 20} MiB a send takes")
    return data

_PATTERN = bytes(range(32, 127)) * 4  # printable, so the stream view stays readable


def pattern_bytes(offset: int, count: int) -> bytes:
    """``count`` bytes of the repeating test pattern, starting at stream ``offset``."""
    period = 95
    start = offset % period
    reps = (start + count) // len(_PATTERN) + 2
    return (_PATTERN * reps)[start: start + count]


_CHUNK = 65536   # bytes offered to the host per call


def _split_read(tcp: dict[str, bool] | None) -> tuple[dict[str, bool] | None, bool | None]:
    """The TCP features of ``tcp``, and its ``read`` switch (None when not given)."""
    if not tcp or "read" not in tcp:
        return tcp, None
    features = {key: on for key, on in tcp.items() if key != "read"}
    return features or None, tcp["read"]


class _Outbox:
    """What the application still has to write into one socket: ``buf`` now, then
    ``queue`` in order -- bytes, or a count of test-pattern bytes, which are made a
    chunk at a time (so a ``send --bytes`` of gigabytes never sits in memory)."""

    __slots__ = ("buf", "queue", "size", "urgent")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.queue: deque[bytes | int] = deque()
        self.size = 0                  # bytes in buf and queue
        self.urgent = 0                # of them, the first ones up to the last urgent byte

    def __len__(self) -> int:
        return self.size


class HostApp:
    """A host with a simple application on top (see the module docstring)."""

    def __init__(self, host: Host, publish: Callable[[HostEvent], None]) -> None:
        self.host = host
        self._publish = publish
        self._pending: dict[int, _Outbox] = {}
        self._then: dict[int, list[str]] = {}   # closes waiting for pending bytes
        self._pattern_sent: dict[int, int] = {}   # pattern bytes made so far, per socket

    @property
    def name(self) -> str:
        """The host's name (``h1``), as the topology and the event stream spell it."""
        return self.host.name

    # -- the node protocol -------------------------------------------------------
    def receive_frame(self, ifname: str, frame: bytes, now: float) -> None:
        """Node protocol: the host takes one frame from interface ``ifname``, then the
        application writes what the host can now take and the host's events are
        published."""
        self.host.receive_frame(ifname, frame, now)
        self._after(now)

    def receive_frames(self, ifname: str, frames: list[bytes], now: float) -> None:
        """Frames that arrived together: the application runs once, after all of them
        (as a program woken by a burst of packets does)."""
        receive = self.host.receive_frame
        for frame in frames:
            receive(ifname, frame, now)
        self._after(now)

    def frames_to_send(self) -> list[tuple[str, bytes]]:
        """Node protocol: the frames the host produced since the last call, as ``(ifname,
        frame)``, for the network to put on the links."""
        return self.host.frames_to_send()

    def get_timer(self) -> float | None:
        """Node protocol: the host's earliest deadline (a TCP or ARP timer), or None when
        it has nothing to wait for."""
        return self.host.get_timer()

    def handle_timer(self, now: float) -> None:
        """Node protocol: run the host's timers due at ``now``, then let the application
        write into the buffer space that freed."""
        self.host.handle_timer(now)
        self._after(now)

    def end_instant(self, now: float) -> None:
        """The clock is leaving ``now``: publish this instant's TCB samples."""
        self.host.sample_tcbs(now)
        self._drain()

    # -- application calls (raise HostError on a user mistake) ---------------------
    # ``read=off`` among the switches is the application's, not TCP's: it stops reading
    def listen(self, port: int, now: float, tcp: dict[str, bool] | None = None) -> int:
        """A passive OPEN on ``port`` (RFC 9293 §3.10.1); returns the listener's socket
        id.  ``tcp`` holds TCP feature switches for this socket and may hold the
        application's ``read`` switch.  Raises HostError (a port in use, say)."""
        features, read = _split_read(tcp)
        try:
            sid = self.host.listen(port, now=now, tcp=features)
            if read is not None:
                self.host.set_reading(read, now, sid)
            return sid
        finally:
            self._after(now)

    def connect(self, remote_ip: str, rport: int, now: float, lport: int | None,
                tcp: dict[str, bool] | None = None) -> int:
        """An active OPEN toward ``remote_ip:rport`` from ``lport`` (None: an ephemeral
        port); returns the new socket's id.  ``tcp`` as for :meth:`listen`.  Raises
        HostError."""
        features, read = _split_read(tcp)
        try:
            sid = self.host.connect(remote_ip, rport, now, lport=lport, tcp=features)
            if read is not None:
                self.host.set_reading(read, now, sid)
            return sid
        finally:
            self._after(now)

    def set_tcp(self, tcp: dict[str, bool]) -> None:
        """``tcp HOST sack=off ...``: the TCP features of the sockets the host opens from
        now on; sockets already open keep theirs."""
        self.host.set_tcp(**tcp)

    def set_reading(self, on: bool, now: float) -> None:
        """``tcp HOST read=off|on``: the application stops (or resumes) reading every
        socket of the host, and the sockets it opens from now on."""
        try:
            self.host.set_reading(on, now)
        finally:
            self._after(now)

    def write(self, sid: int, data: bytes, now: float, urgent: bool = False) -> None:
        """Queue all of ``data`` for the socket, writing what fits now; ``urgent``: as
        urgent data (every write up to its end goes with MSG_OOB, so the urgent pointer
        ends after its last byte)."""
        box = self._outbox(sid, now)
        if data:
            box.queue.append(bytes(data))
            box.size += len(data)
            if urgent:
                box.urgent = box.size
        self._after(now)

    def write_pattern(self, sid: int, count: int, now: float) -> None:
        """Queue ``count`` bytes of the test pattern, made as the socket takes them."""
        box = self._outbox(sid, now)
        if count:
            queue = box.queue
            if queue and isinstance(queue[-1], int):
                queue[-1] += count
            else:
                queue.append(count)
            box.size += count
        self._after(now)

    def _outbox(self, sid: int, now: float) -> _Outbox:
        info = self.host.socket(sid)
        if info.kind == "listener":
            raise HostError(E.EINVAL, f"socket {sid}: listening, it cannot send")
        if sid in self._then:
            raise HostError(E.EPIPE, f"socket {sid}: closing")
        box = self._pending.get(sid)
        if box is None:
            # a quick check of the state: a closed socket fails at once, not later
            self.host.send(sid, b"", now)
            box = self._pending[sid] = _Outbox()
        return box

    def _refill(self, sid: int, box: _Outbox) -> None:
        """Move the next queued bytes (at most a chunk of pattern) into ``box.buf``."""
        head = box.queue[0]
        if isinstance(head, bytes):
            box.buf += head
            box.queue.popleft()
            return
        count = min(head, _CHUNK)
        offset = self._pattern_sent.get(sid, 0)
        box.buf += pattern_bytes(offset, count)
        self._pattern_sent[sid] = offset + count
        if count == head:
            box.queue.popleft()
        else:
            box.queue[0] = head - count

    def shutdown(self, sid: int, now: float) -> None:
        """Shut down the sending side (a FIN) once every byte queued before it is written;
        raises HostError at once for an unknown socket."""
        self._after_writes(sid, "shutdown", now)

    def close(self, sid: int, now: float) -> None:
        """Close the socket (a FIN, RFC 9293 §3.10.4) once every byte queued before it is
        written; raises HostError at once for an unknown socket."""
        self._after_writes(sid, "close", now)

    def abort(self, sid: int, now: float) -> None:
        """Abort the socket now (RFC 9293 §3.10.5: a RST where the state calls for one):
        the bytes still queued and any close waiting for them are dropped."""
        self._pending.pop(sid, None)
        self._then.pop(sid, None)
        try:
            self.host.abort(sid, now)
        finally:
            self._after(now)

    def pending(self, sid: int) -> int:
        """Bytes the application still has to write into the socket."""
        box = self._pending.get(sid)
        return 0 if box is None else len(box)

    def sockets(self) -> list[SocketInfo]:
        """A table row for every socket the host still knows (listeners, connections,
        TIME-WAIT)."""
        return self.host.sockets()

    def socket(self, sid: int) -> SocketInfo:
        """The table row of socket ``sid``; HostError for an id the host does not know."""
        return self.host.socket(sid)

    # -- internals -------------------------------------------------------------
    def _after_writes(self, sid: int, what: str, now: float) -> None:
        self.host.socket(sid)  # raises for an unknown socket
        if self._pending.get(sid):
            self._then.setdefault(sid, []).append(what)
            return
        try:
            self._do(sid, what, now)
        finally:
            self._after(now)

    def _do(self, sid: int, what: str, now: float) -> None:
        if what == "close":
            self.host.close(sid, now)
        else:
            self.host.shutdown(sid, "wr", now)

    def _after(self, now: float) -> None:
        for sid in list(self._pending):
            box = self._pending[sid]
            buf = box.buf
            try:
                while box.size:
                    if not buf:
                        self._refill(sid, box)
                    # A view, not a copy: the host often takes a few KB of the 64 KiB
                    # offered, and it only slices what it takes into its own buffer.
                    urgent = min(box.urgent, _CHUNK)
                    with memoryview(buf) as view, view[:urgent or _CHUNK] as chunk:
                        n = self.host.send(sid, cast(bytes, chunk), now, urgent=bool(urgent))
                    if n <= 0:
                        break
                    del buf[:n]
                    box.size -= n
                    box.urgent = max(box.urgent - n, 0)
            except HostError as exc:
                if exc.errno == E.EAGAIN:
                    continue
                # the connection went away under the writer: report, forget the rest
                self._pending.pop(sid, None)
                self._then.pop(sid, None)
                self._publish(ConnectionFailed(now, self.host.name, sid, exc.errno,
                                               f"{len(box)} bytes not sent: {exc}"))
                continue
            if not box:
                del self._pending[sid]
                for what in self._then.pop(sid, []):
                    try:
                        self._do(sid, what, now)
                    except HostError as exc:
                        self._publish(ConnectionFailed(now, self.host.name, sid,
                                                       exc.errno, str(exc)))
        self._drain()

    def _drain(self) -> None:
        host = self.host
        while (event := host.next_event()) is not None:
            self._publish(event)
