"""The agent control protocol, version 3: framing, requests and replies, the lab's client.

Theory of operation
-------------------
One JSON object per line (UTF-8, ``"\\n"``-terminated, at most :data:`MAX_LINE` bytes)
in both directions of a unix stream socket.  The lab sends requests
``{"v":3,"id":N,"op":...,args}``; the agent answers each with ``ok`` true or false
and pushes ``{"v":3,"events":[...]}`` and ``{"v":3,"frame":...}`` lines at any time.
The agent side uses :class:`LineBuffer`, :func:`parse_request`, :class:`EventBatch` and
:func:`encode`; the lab side uses :class:`AgentClient` and :func:`events_from_line`.
A request is checked against :data:`OPS` (op known, every argument of the right JSON
type) before the agent sees it.

Events cross as the event codec writes them (:mod:`tcplab.lab.codec`): each one the
object it is in ``events.jsonl``, so a Mininet host's events are the simulated host's,
and the lab reads them back with the same checks as a recording, a whole line at once
against a schema (:mod:`tcplab.lab.codec_lines`).  A segment's record
holds its payload's length and first bytes only, the rest comes back as zeros (all the
lab does with a segment's payload is show its length and preview); the bytes reach the
lab once, in the ``data`` a delivery's record carries on this channel
(:func:`tcplab.lab.codec.wire_record`).  The agent collects the
events between two writes to its clients into one line (a bulk transfer makes about
five per data segment); a frame line ends the collection first, so the stream's order
is the lines' order.  A malformed record becomes a one-line reason (the lab shows it as
a Notice) and the rest of the line still counts.

Deliveries to one socket at one instant are merged into one ``Delivered``, standing
where the last of them stood (after every segment that carried them): an application
that reads at time *t* reads all that arrived by *t*, and an agent handles every frame
that came since its last turn at one ``now``.

Frames (``{"ifname", "dir", "t", "data"}``, the bytes in base64) and the sockets a
``socket``/``sockets`` request describes (:func:`socket_to_wire`) are not events; they
have their own forms here.
"""

from __future__ import annotations

import binascii
import os
import select
import socket
import stat
import time
from collections import deque
from typing import Any, NamedTuple

import msgspec

from tcplab.lab import codec
from tcplab.lab.codec_lines import from_line as events_from_line
from tcplab.lab.codec_lines import from_records as events_from_records
from tcplab.lab.events import LabEvent
from tcplab.stack.events import Delivered
from tcplab.stack.sockets import SocketInfo

__all__ = [
    "FRAME_DIRS", "HELLO", "MAX_LINE", "OPS", "VERSION", "AgentClient", "AgentError",
    "AgentGone", "CapturedFrame", "EventBatch", "LineBuffer", "ProtocolError", "Request",
    "RequestError", "b64", "decode_line", "encode", "events_from_line", "events_from_records",
    "frame_from_wire",
    "frame_to_wire", "parse_request", "reply_error", "reply_ok", "socket_from_wire",
    "socket_to_wire", "unb64", "unlink_socket",
]


VERSION = 3

_EVENTS_LINE = b'{"v":%d,"events":[' % VERSION   # how EventBatch.line begins
MAX_LINE = 16 << 20
HELLO = "tcplab-agent"

# op -> {arg: allowed JSON types}.  A type tuple with None makes the arg optional.
_STR: tuple[type | None, ...] = (str,)
_INT: tuple[type | None, ...] = (int,)
OPS: dict[str, dict[str, tuple[type | None, ...]]] = {
    "listen": {"port": _INT, "tcp": (dict, None)},
    "connect": {"ip": _STR, "port": _INT, "lport": (int, None), "tcp": (dict, None)},
    "set_tcp": {"tcp": (dict,)},
    "write": {"sid": _INT, "data": _STR},
    "write_pattern": {"sid": _INT, "count": _INT},
    "shutdown": {"sid": _INT},
    "close": {"sid": _INT},
    "abort": {"sid": _INT},
    "socket": {"sid": _INT},
    "sockets": {},
    "command": {"line": _STR},
    "impair": {"ifname": _STR, "where": _STR, "changes": (dict,)},
    "filter": {"ifname": _STR, "kind": _STR, "action": _STR, "count": (int, None),
               "ips": (list, None), "where": (str, None)},
    "release": {"ifname": (str, None), "where": (str, None)},
    "capture": {"on": (bool,)},
    "ping": {},
    "quit": {},
}


class ProtocolError(ValueError):
    """A message that breaks the protocol; the text is one line for the peer."""


class AgentError(Exception):
    """An agent answered ``ok: false`` (or went away); ``errno`` as the agent sent it."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class AgentGone(AgentError):
    """The connection to the agent closed or timed out."""


class Request(NamedTuple):
    id: int
    op: str
    args: dict[str, Any]


class RequestError(ProtocolError):
    """A bad request; ``id`` is the request's id when it could be read."""

    def __init__(self, message: str, req_id: int | None) -> None:
        super().__init__(message)
        self.id = req_id


# ----------------------------------------------------------------------------- framing

class LineBuffer:
    """Splits a byte stream into lines; a line longer than ``limit`` comes out as None
    (its bytes are discarded up to the next newline)."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes | memoryview) -> list[bytes | None]:
        out: list[bytes | None] = []
        buf = self._buf
        buf += data
        start = 0
        with memoryview(buf) as view:  # a line is copied once, not sliced then copied
            while (end := buf.find(b"\n", start)) >= 0:
                if self._skipping:
                    self._skipping = False
                elif end - start > self.limit:
                    out.append(None)
                else:
                    out.append(bytes(view[start:end]))
                start = end + 1
        del buf[:start]
        if len(buf) > self.limit:
            if not self._skipping:
                out.append(None)
            self._skipping = True
            buf.clear()
        return out


def _load(line: bytes) -> dict[str, Any]:
    try:
        msg = codec.decode(line)
    except ValueError:  # msgspec's DecodeError is one
        raise ProtocolError("not a JSON line") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a message must be a JSON object")
    return msg


def _check_version(msg: dict[str, Any]) -> None:
    if msg.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {msg.get('v')!r} (this is {VERSION})")


def decode_line(line: bytes) -> dict[str, Any]:
    """A line as a message object of this version."""
    msg = _load(line)
    _check_version(msg)
    return msg


def parse_request(line: bytes | None) -> Request:
    """A checked request (op known, args of the right types); raises RequestError."""
    if line is None:
        raise RequestError(f"line longer than {MAX_LINE} bytes", None)
    try:
        msg = _load(line)
    except ProtocolError as exc:
        raise RequestError(str(exc), None) from None
    raw_id = msg.get("id")
    req_id = raw_id if type(raw_id) is int else None
    try:
        _check_version(msg)
    except ProtocolError as exc:
        raise RequestError(str(exc), req_id) from None
    if req_id is None:
        raise RequestError("a request needs an integer id", None)
    op = msg.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise RequestError(f"unknown op {op!r} (ops: {', '.join(OPS)})", req_id)
    spec = OPS[op]
    args: dict[str, Any] = {}
    for key, value in msg.items():
        if key in ("v", "id", "op"):
            continue
        if key not in spec:
            raise RequestError(f"{op}: unknown argument {key!r}", req_id)
        if not _is(value, spec[key]):
            names = " or ".join("null" if t is None else t.__name__ for t in spec[key])
            raise RequestError(f"{op}: {key} must be {names}", req_id)
        args[key] = value
    for key, types_ in spec.items():
        if key not in args:
            if None not in types_:
                raise RequestError(f"{op}: missing argument {key!r}", req_id)
            args[key] = None
    return Request(req_id, op, args)


def _is(value: Any, allowed: tuple[type | None, ...]) -> bool:
    if value is None:
        return None in allowed
    if type(value) is bool:     # JSON true is not a number
        return bool in allowed
    return any(t is not None and isinstance(value, t) for t in allowed)


def reply_ok(req_id: int, **result: Any) -> dict[str, Any]:
    return {"v": VERSION, "id": req_id, "ok": True, **result}


def reply_error(req_id: int | None, error: str, errno: int | None = None) -> dict[str, Any]:
    return {"v": VERSION, "id": req_id, "ok": False,
            "error": " ".join(error.split()) or "error", "errno": errno}


# ----------------------------------------------------------------------------- lines

def encode(msg: dict[str, Any]) -> bytes:
    """One message as a protocol line, newline included."""
    return codec.dumps(msg)


def b64(data: bytes | bytearray) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def unb64(text: Any, what: str = "data") -> bytes:
    if not isinstance(text, str):
        raise ProtocolError(f"{what} must be a base64 string")
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ProtocolError(f"{what} is not valid base64") from None


class _Merging:
    """Deliveries to one socket at one instant, kept as their parts until the line is
    made: joining once costs the bytes once, where adding each part to the whole so far
    cost the whole again for every segment of a burst."""

    __slots__ = ("first", "parts")

    def __init__(self, first: Delivered) -> None:
        self.first = first
        self.parts = [first.data]

    def event(self) -> Delivered:
        first = self.first
        if len(self.parts) == 1:
            return first
        return Delivered(first.t, first.host, first.sid, b"".join(self.parts))


class EventBatch:
    """The events published since the last :meth:`line` (agent side)."""

    __slots__ = ("_delivered", "_events")

    def __init__(self) -> None:
        # None where a delivery was merged into a later one
        self._events: list[LabEvent | _Merging | None] = []
        self._delivered: dict[int, int] = {}       # sid -> index of its delivery now

    def __bool__(self) -> bool:
        return bool(self._events)

    def add(self, event: LabEvent) -> None:
        events = self._events
        if type(event) is Delivered:
            at = self._delivered.get(event.sid)
            held = events[at] if at is not None else None
            if isinstance(held, _Merging) and held.first.t == event.t:
                # the merged delivery moves to the end: after the segments that carried it
                events[at] = None  # type: ignore[index]
                held.parts.append(event.data)
                merging = held
            else:
                merging = _Merging(event)
            self._delivered[event.sid] = len(events)
            events.append(merging)
            return
        events.append(event)

    def line(self) -> bytes:
        """The protocol line of what was collected (newline included); starts anew."""
        record = codec.wire_record
        line = codec.dumps({"v": VERSION, "events": [
            record(e.event() if isinstance(e, _Merging) else e)
            for e in self._events if e is not None]})
        self._events.clear()
        self._delivered.clear()
        return line


class CapturedFrame(NamedTuple):
    ifname: str
    dir: str        # one of FRAME_DIRS
    t: float
    data: bytes


# Where an agent saw a frame.  Between the host and the wire may sit the agent's own
# link model (an *engaged* egress or ingress, where the kernel has no netem), and a
# frame is then seen twice: by the host ("host-out"/"host-in": the host's capture) and
# at the wire ("wire-out"/"wire-in": the link's capture).  Without one the two are the
# same moment, and one message "out"/"in" serves both captures.
FRAME_DIRS = ("out", "in", "host-out", "host-in", "wire-out", "wire-in")


def frame_to_wire(ifname: str, direction: str, t: float, data: bytes) -> dict[str, Any]:
    return {"ifname": ifname, "dir": direction, "t": t, "data": b64(data)}


def frame_from_wire(raw: Any) -> CapturedFrame:
    if not isinstance(raw, dict) or raw.keys() != {"ifname", "dir", "t", "data"}:
        raise ProtocolError("a frame must have exactly ifname, dir, t and data")
    ifname, direction, t = raw["ifname"], raw["dir"], raw["t"]
    if not isinstance(ifname, str) or direction not in FRAME_DIRS:
        raise ProtocolError(f"frame ifname must be a string and dir one of "
                            f"{', '.join(FRAME_DIRS)}")
    if type(t) not in (int, float):
        raise ProtocolError("frame t must be a number")
    return CapturedFrame(ifname, direction, float(t), unb64(raw["data"]))


def socket_to_wire(info: SocketInfo) -> Any:
    """A socket's description (its dataclasses as plain JSON)."""
    return msgspec.to_builtins(info)


def socket_from_wire(raw: Any) -> SocketInfo:
    try:
        return msgspec.convert(raw, SocketInfo)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"a socket: {exc}") from None


# ----------------------------------------------------------------------------- lab side

class AgentClient:
    """A blocking client of one agent.  Replies are matched by id; pushed lines that
    arrive meanwhile are kept for :meth:`drain`.  ``fileno()`` is for ``select``."""

    def __init__(self, sock: socket.socket, hello: dict[str, Any],
                 lines: LineBuffer, early: list[bytes | None]) -> None:
        self.hello = hello
        self._sock = sock
        self._lines = lines
        self._ready: deque[bytes | None] = deque(early)
        self._pushed: list[dict[str, Any]] = []
        self._next_id = 1
        self.closed = False
        # recv(1 MiB) would map and fault in a fresh MiB for every read (a few times the
        # cost of the copy); one buffer is read into instead
        self._buf = bytearray(1 << 20)

    @classmethod
    def connect(cls, path: str, timeout: float = 5.0) -> AgentClient:
        """Connect (retrying while the agent is still starting) and read its hello."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                sock.close()
                if time.monotonic() >= deadline:
                    raise AgentGone(f"no agent at {path}: {exc.strerror}") from None
                time.sleep(0.01)
        lines = LineBuffer()
        pending: list[bytes | None] = []
        try:
            while not pending:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([sock], [], [], left)[0]:
                    raise AgentGone(f"agent at {path} sent no hello")
                data = sock.recv(1 << 16)
                if not data:
                    raise AgentGone(f"agent at {path} closed the connection")
                pending = lines.feed(data)
            first = pending.pop(0)
            hello = decode_line(first) if first is not None else {}
            if hello.get("hello") != HELLO:
                raise AgentGone(f"{path} is not a tcplab agent")
        except (AgentGone, ProtocolError) as exc:
            sock.close()
            raise AgentGone(str(exc)) from None
        return cls(sock, hello, lines, pending)

    def fileno(self) -> int:
        return self._sock.fileno()

    def request(self, op: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        """Send one request and wait for its reply; ``ok: false`` raises AgentError."""
        if self.closed:
            raise AgentGone("the agent connection is closed")
        req_id = self._next_id
        self._next_id += 1
        try:
            self._sock.sendall(encode({"v": VERSION, "id": req_id, "op": op, **args}))
        except OSError as exc:
            self.closed = True
            raise AgentGone(f"agent connection lost: {exc.strerror or exc}") from None
        deadline = time.monotonic() + timeout
        while True:
            while self._ready:
                msg = self._take(self._ready.popleft())
                if msg is not None and "id" in msg and msg.get("id") in (req_id, None):
                    if msg.get("ok") is True:
                        return msg
                    errno = msg.get("errno")
                    raise AgentError(str(msg.get("error", "error")),
                                     errno if type(errno) is int else None)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AgentGone(f"no reply to {op} within {timeout:g} s")
            self._read(left)

    def drain(self) -> list[dict[str, Any]]:
        """Pushed messages (``{"events_line": bytes}``, or ``{"v":3,"frame":...}`` and any
        other pushed object as parsed) received so far,
        reading what the socket has without waiting."""
        try:
            for _ in range(64):  # bounded: a busy agent must not keep us here forever
                if self.closed or not self._read(0):
                    break
        except AgentGone:
            pass  # ``closed`` tells the caller; what arrived before still counts
        while self._ready:
            self._take(self._ready.popleft())
        out, self._pushed = self._pushed, []
        return out

    def close(self) -> None:
        self.closed = True
        self._sock.close()

    def _read(self, timeout: float) -> bool:
        """Read once; False when nothing came (timeout) or the agent hung up."""
        if not select.select([self._sock], [], [], timeout)[0]:
            return False
        try:
            n = self._sock.recv_into(self._buf)
        except OSError:
            n = 0
        if not n:
            self.closed = True
            raise AgentGone("the agent closed the connection")
        with memoryview(self._buf) as view:
            self._ready.extend(self._lines.feed(view[:n]))
        return True

    def _take(self, line: bytes | None) -> dict[str, Any] | None:
        """A reply is returned; a pushed message is kept for drain().  An agent's events
        line stays bytes (``{"events_line": line}``), read by :func:`events_from_line`."""
        if line is None:
            return None
        if line.startswith(_EVENTS_LINE):
            self._pushed.append({"events_line": line})
            return None
        try:
            msg = decode_line(line)
        except ProtocolError:
            return None
        if "events" in msg or "frame" in msg:
            self._pushed.append(msg)
            return None
        return msg


def unlink_socket(path: str) -> None:
    """Remove a stale control socket file; anything else at the path is left alone."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
