"""The agent control protocol, version 1: framing, validation, typed values on the wire.

Theory of operation
-------------------
One JSON object per line (UTF-8, ``"\\n"``-terminated, at most :data:`MAX_LINE` bytes)
in both directions of a unix stream socket.  The lab sends requests
``{"v":1,"id":N,"op":...,args}``; the agent answers each with ``ok`` true or false
and pushes ``{"v":1,"event":...}`` and ``{"v":1,"frame":...}`` lines at any time.
The agent side uses :class:`LineBuffer`, :func:`parse_request` and :func:`encode`;
the lab side uses :class:`AgentClient`.

Events cross the wire *whole*: :func:`event_to_wire` turns any host or lab event
into plain JSON (a segment with structured options and its full payload in base64,
``Delivered`` data in base64, states by name) and :func:`event_from_wire` rebuilds
the very same typed object, so the dashboard cannot tell a Mininet event from a
simulated one.  The codec of each event class is compiled once from the dataclass
field types, which keeps the per-segment cost to a dict build and one
``json.dumps``; decoding checks every type and range, so a malformed message is a
:class:`ProtocolError` with a one-line reason, never a crash.
"""

from __future__ import annotations

import binascii
import dataclasses
import json
import os
import select
import socket
import stat
import time
import types
import typing
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from tcplab.lab.events import LAB_EVENTS, LabEvent
from tcplab.stack.events import ALL_EVENTS as HOST_EVENTS
from tcplab.stack.events import (
    Delivered,
    SegmentReceived,
    SegmentSent,
    TimerArmed,
    TimerCancelled,
    TimerFired,
)
from tcplab.stack.sockets import SocketInfo
from tcplab.tcp.segment import (
    Eol,
    Mss,
    Nop,
    Option,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    UnknownOption,
    WScale,
)

VERSION = 1
MAX_LINE = 16 << 20
HELLO = "tcplab-agent"

# op -> {arg: allowed JSON types}.  A type tuple with None makes the arg optional.
_STR: tuple[type | None, ...] = (str,)
_INT: tuple[type | None, ...] = (int,)
OPS: dict[str, dict[str, tuple[type | None, ...]]] = {
    "listen": {"port": _INT},
    "connect": {"ip": _STR, "port": _INT, "lport": (int, None)},
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
               "ips": (list, None)},
    "release": {"ifname": (str, None)},
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


class CapturedFrame(NamedTuple):
    ifname: str
    dir: str        # "out" or "in"
    t: float
    data: bytes


# ----------------------------------------------------------------------------- framing

# UTF-8 on the wire, so no \u escapes to compute; the per-segment path uses this.
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))


def encode(msg: dict[str, Any]) -> bytes:
    """One message as a protocol line."""
    text = _ENCODER.encode(msg) + "\n"
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: escape it the ASCII way
        return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


class LineBuffer:
    """Splits a byte stream into lines; a line longer than ``limit`` comes out as None
    (its bytes are discarded up to the next newline)."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | None]:
        out: list[bytes | None] = []
        buf = self._buf
        buf += data
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            if self._skipping:
                self._skipping = False
            elif end - start > self.limit:
                out.append(None)
            else:
                out.append(bytes(buf[start:end]))
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
        msg = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("not a JSON line") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a message must be a JSON object")
    return msg


def _check_version(msg: dict[str, Any]) -> None:
    if msg.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {msg.get('v')!r} (this is {VERSION})")


def decode_line(line: bytes) -> dict[str, Any]:
    """A line as a version-1 message object."""
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


def b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def unb64(text: Any, what: str = "data") -> bytes:
    if not isinstance(text, str):
        raise ProtocolError(f"{what} must be a base64 string")
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ProtocolError(f"{what} is not valid base64") from None


# ----------------------------------------------------------------------------- segments

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


def _option_to_wire(opt: Option) -> list[Any]:
    if isinstance(opt, Mss):
        return ["mss", opt.value]
    if isinstance(opt, WScale):
        return ["wscale", opt.shift]
    if isinstance(opt, Timestamps):
        return ["ts", opt.val, opt.ecr]
    if isinstance(opt, Sack):
        return ["sack", [list(b) for b in opt.blocks]]
    if isinstance(opt, UnknownOption):
        return ["unknown", opt.kind, b64(opt.data)]
    if isinstance(opt, Nop):
        return ["nop"]
    if isinstance(opt, Eol):
        return ["eol"]
    return ["sackOK"]


def _uint(value: Any, top: int, what: str) -> int:
    if type(value) is not int or not 0 <= value <= top:
        raise ProtocolError(f"{what} must be an integer 0..{top}")
    return value


def _option_from_wire(raw: Any) -> Option:
    if not isinstance(raw, list) or not raw or not isinstance(raw[0], str):
        raise ProtocolError("an option must be a list starting with its name")
    name, args = raw[0], raw[1:]
    want = {"nop": 0, "eol": 0, "sackOK": 0, "mss": 1, "wscale": 1, "ts": 2, "sack": 1,
            "unknown": 2}.get(name)
    if want is None:
        raise ProtocolError(f"unknown option {name!r}")
    if len(args) != want:
        raise ProtocolError(f"option {name} takes {want} values")
    if name == "nop":
        return Nop()
    if name == "eol":
        return Eol()
    if name == "sackOK":
        return SackPermitted()
    if name == "mss":
        return Mss(_uint(args[0], _U16, "mss"))
    if name == "wscale":
        return WScale(_uint(args[0], 255, "wscale"))
    if name == "ts":
        return Timestamps(_uint(args[0], _U32, "TS val"), _uint(args[1], _U32, "TS ecr"))
    if name == "sack":
        blocks = args[0]
        if not isinstance(blocks, list) or not all(
                isinstance(b, list) and len(b) == 2 for b in blocks):
            raise ProtocolError("sack blocks must be [[left, right], ...]")
        return Sack(tuple((_uint(a, _U32, "sack edge"), _uint(b, _U32, "sack edge"))
                          for a, b in blocks))
    return UnknownOption(_uint(args[0], 255, "option kind"), unb64(args[1], "option data"))


def segment_to_wire(seg: Segment) -> dict[str, Any]:
    return {"src_port": seg.src_port, "dst_port": seg.dst_port, "seq": seg.seq,
            "ack": seg.ack, "flags": seg.flags, "window": seg.window, "urgent": seg.urgent,
            "options": [_option_to_wire(o) for o in seg.options],
            "payload": b64(seg.payload)}


_SEG_KEYS = frozenset(("src_port", "dst_port", "seq", "ack", "flags", "window", "urgent",
                       "options", "payload"))


def segment_from_wire(raw: Any) -> Segment:
    if not isinstance(raw, dict) or raw.keys() != _SEG_KEYS:
        raise ProtocolError(f"a segment must have exactly the keys {', '.join(sorted(_SEG_KEYS))}")
    options = raw["options"]
    if not isinstance(options, list):
        raise ProtocolError("segment options must be a list")
    return Segment(
        src_port=_uint(raw["src_port"], _U16, "src_port"),
        dst_port=_uint(raw["dst_port"], _U16, "dst_port"),
        seq=_uint(raw["seq"], _U32, "seq"), ack=_uint(raw["ack"], _U32, "ack"),
        flags=_uint(raw["flags"], 0xFFF, "flags"), window=_uint(raw["window"], _U16, "window"),
        options=tuple(_option_from_wire(o) for o in options),
        payload=unb64(raw["payload"], "payload"), urgent=_uint(raw["urgent"], _U16, "urgent"))


# ----------------------------------------------------------------------------- typed values
# A codec turns one field's value into plain JSON and back, checking the way back.

Enc = Callable[[Any], Any] | None          # None: the value is already plain
Dec = Callable[[Any, str], Any]


def _dec_simple(t: type) -> Dec:
    def dec(value: Any, what: str) -> Any:
        if type(value) is bool and t is not bool:
            raise ProtocolError(f"{what} must be {t.__name__}")
        if t is float and type(value) is int:
            return float(value)
        if not isinstance(value, t):
            raise ProtocolError(f"{what} must be {t.__name__}")
        return value
    return dec


def _codec(hint: Any) -> tuple[Enc, Dec]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is type(None) or hint is None:
        def dec_none(value: Any, what: str) -> Any:
            if value is not None:
                raise ProtocolError(f"{what} must be null")
            return None
        return None, dec_none
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"no wire form for {hint}")
        enc, dec = _codec(inner[0])

        def dec_opt(value: Any, what: str) -> Any:
            return None if value is None else dec(value, what)
        return (None if enc is None else lambda v: None if v is None else enc(v)), dec_opt
    if hint is Segment:
        return segment_to_wire, lambda value, what: segment_from_wire(value)
    if hint is bytes:
        return b64, lambda value, what: unb64(value, what)
    if isinstance(hint, type) and issubclass(hint, Enum):
        enum_cls = hint

        def dec_enum(value: Any, what: str) -> Any:
            try:
                return enum_cls(value)
            except ValueError:
                raise ProtocolError(f"{what}: {value!r} is not a {enum_cls.__name__}") from None
        return (lambda v: v.value), dec_enum
    if origin is tuple:
        return _tuple_codec(args)
    if origin is dict:
        key_dec = _codec(args[0])[1]
        val_dec = _codec(args[1])[1]

        def dec_dict(value: Any, what: str) -> Any:
            if not isinstance(value, dict):
                raise ProtocolError(f"{what} must be an object")
            return {key_dec(k, what): val_dec(v, what) for k, v in value.items()}
        return dict, dec_dict
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        to_wire, from_wire = _dataclass_codec(hint)
        return to_wire, lambda value, what: from_wire(value)
    if hint in (int, float, str, bool):
        return None, _dec_simple(hint)
    raise TypeError(f"no wire form for {hint}")


def _tuple_codec(args: tuple[Any, ...]) -> tuple[Enc, Dec]:
    if len(args) == 2 and args[1] is Ellipsis:
        enc, dec = _codec(args[0])

        def dec_var(value: Any, what: str) -> Any:
            if not isinstance(value, list):
                raise ProtocolError(f"{what} must be a list")
            return tuple(dec(v, what) for v in value)
        return (list if enc is None else lambda v: [enc(x) for x in v]), dec_var
    codecs = [_codec(a) for a in args]
    if any(enc is not None for enc, _ in codecs):
        raise TypeError("fixed tuples of plain values only")
    decs = [dec for _, dec in codecs]

    def dec_fixed(value: Any, what: str) -> Any:
        if not isinstance(value, list) or len(value) != len(decs):
            raise ProtocolError(f"{what} must be a list of {len(decs)}")
        return tuple(dec(v, what) for dec, v in zip(decs, value, strict=True))
    return list, dec_fixed


def _dataclass_codec(cls: type) -> tuple[Callable[[Any], dict[str, Any]],
                                         Callable[[Any], Any]]:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    encs = [(name, _codec(hints[name])[0]) for name in names]
    decs = [(name, _codec(hints[name])[1]) for name in names]
    keys = frozenset(names)
    label = cls.__name__

    def to_wire(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, enc in encs:
            value = getattr(obj, name)
            out[name] = value if enc is None else enc(value)
        return out

    def from_wire(raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise ProtocolError(f"{label} must be an object")
        if raw.keys() != keys:
            missing = sorted(keys - raw.keys())
            extra = sorted(raw.keys() - keys)
            what = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"
            raise ProtocolError(f"{label}: {what}")
        return cls(**{name: dec(raw[name], f"{label}.{name}") for name, dec in decs})
    return to_wire, from_wire


_EVENT_CLASSES: dict[str, type] = {
    **{cls.kind: cls for cls in HOST_EVENTS}, **{cls.kind: cls for cls in LAB_EVENTS}}
_EVENT_CODECS = {kind: _dataclass_codec(cls) for kind, cls in _EVENT_CLASSES.items()}
_ENCODERS = {cls: _EVENT_CODECS[kind][0] for kind, cls in _EVENT_CLASSES.items()}
_socket_to_wire, _socket_from_wire = _dataclass_codec(SocketInfo)


def event_to_wire(event: LabEvent) -> dict[str, Any]:
    """Any host or lab event as plain JSON, with its ``kind``."""
    out = _ENCODERS[type(event)](event)
    out["kind"] = event.kind
    return out


def event_from_wire(raw: Any) -> LabEvent:
    """The typed event :func:`event_to_wire` made; raises ProtocolError when malformed."""
    if not isinstance(raw, dict):
        raise ProtocolError("an event must be an object")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in _EVENT_CODECS:
        raise ProtocolError(f"unknown event kind {kind!r}")
    fields = {k: v for k, v in raw.items() if k != "kind"}
    event: LabEvent = _EVENT_CODECS[kind][1](fields)
    return event


# The per-segment events get their line built directly: same JSON as the generic
# path (a test checks it), a few times cheaper than a dict plus the encoder.
_QUOTED: dict[str, str] = {}


def _q(text: str) -> str:
    quoted = _QUOTED.get(text)
    if quoted is None:
        if len(_QUOTED) > 4096:
            _QUOTED.clear()
        quoted = _QUOTED[text] = json.dumps(text)
    return quoted


def _segment_json(seg: Segment) -> str:
    opts = seg.options
    if not opts:
        text = "[]"
    elif len(opts) == 3 and type(opts[2]) is Timestamps and type(opts[0]) is type(opts[1]) is Nop:
        text = f'[["nop"],["nop"],["ts",{opts[2].val},{opts[2].ecr}]]'
    else:
        text = _ENCODER.encode([_option_to_wire(o) for o in opts])
    return (f'{{"src_port":{seg.src_port},"dst_port":{seg.dst_port},"seq":{seg.seq},'
            f'"ack":{seg.ack},"flags":{seg.flags},"window":{seg.window},'
            f'"urgent":{seg.urgent},"options":{text},"payload":"{b64(seg.payload)}"}}')


def event_line(event: LabEvent) -> bytes:
    """The pushed line ``{"v":1,"event":...}`` for ``event``, newline included."""
    cls = type(event)
    if cls is SegmentSent or cls is SegmentReceived:
        assert isinstance(event, SegmentSent | SegmentReceived)
        src, dst = event.src, event.dst
        sid = "null" if event.sid is None else event.sid
        return (f'{{"v":1,"event":{{"kind":"{cls.kind}","t":{event.t!r},'
                f'"host":{_q(event.host)},"sid":{sid},"src":[{_q(src[0])},{src[1]}],'
                f'"dst":[{_q(dst[0])},{dst[1]}],"segment":{_segment_json(event.segment)},'
                f'"ifname":{_q(event.ifname)}}}}}\n').encode()
    if cls is Delivered:
        assert isinstance(event, Delivered)
        return (f'{{"v":1,"event":{{"kind":"data.delivered","t":{event.t!r},'
                f'"host":{_q(event.host)},"sid":{event.sid},"data":"{b64(event.data)}"}}}}\n'
                ).encode()
    if cls is TimerArmed or cls is TimerCancelled or cls is TimerFired:
        assert isinstance(event, TimerArmed | TimerCancelled | TimerFired)
        deadline = "null" if event.deadline is None else repr(event.deadline)
        return (f'{{"v":1,"event":{{"kind":"{cls.kind}","t":{event.t!r},'
                f'"host":{_q(event.host)},"sid":{event.sid},"name":{_q(event.name)},'
                f'"deadline":{deadline}}}}}\n').encode()
    return encode({"v": VERSION, "event": event_to_wire(event)})


def socket_to_wire(info: SocketInfo) -> dict[str, Any]:
    return _socket_to_wire(info)


def socket_from_wire(raw: Any) -> SocketInfo:
    info: SocketInfo = _socket_from_wire(raw)
    return info


def frame_to_wire(ifname: str, direction: str, t: float, data: bytes) -> dict[str, Any]:
    return {"ifname": ifname, "dir": direction, "t": t, "data": b64(data)}


def frame_from_wire(raw: Any) -> CapturedFrame:
    if not isinstance(raw, dict) or raw.keys() != {"ifname", "dir", "t", "data"}:
        raise ProtocolError("a frame must have exactly ifname, dir, t and data")
    ifname, direction, t = raw["ifname"], raw["dir"], raw["t"]
    if not isinstance(ifname, str) or direction not in ("in", "out"):
        raise ProtocolError("frame ifname must be a string and dir 'in' or 'out'")
    if type(t) not in (int, float):
        raise ProtocolError("frame t must be a number")
    return CapturedFrame(ifname, direction, float(t), unb64(raw["data"]))


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
        """Pushed messages (``{"v":1,"event":...}`` or ``"frame"``) received so far,
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
            data = self._sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self.closed = True
            raise AgentGone("the agent closed the connection")
        self._ready.extend(self._lines.feed(data))
        return True

    def _take(self, line: bytes | None) -> dict[str, Any] | None:
        """A reply is returned; a pushed message is kept for drain()."""
        if line is None:
            return None
        try:
            msg = decode_line(line)
        except ProtocolError:
            return None
        if "event" in msg or "frame" in msg:
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
