"""Typed values as JSON lines: the agent protocol's codec of events, segments and frames.

Theory of operation
-------------------
Events cross the wire as typed values: :func:`event_to_wire` turns any host or
lab event into plain JSON (a segment with structured options, ``Delivered`` data in
base64, states by name) and :func:`event_from_wire` rebuilds the typed object, so the
dashboard cannot tell a Mininet event from a simulated one.  One exception keeps the
hot path light (protocol version 2): the segment of a ``SegmentSent`` or
``SegmentReceived`` carries its payload's length and first :data:`PREVIEW_BYTES`
bytes only, and comes back with the rest as zeros (:func:`light_segment`).  What the
lab does with a segment's payload -- its length, its preview in the dashboard and in
``events.jsonl`` -- is the same; the bytes themselves reach the lab once, in
``Delivered``.  Segments anywhere else (a dropped or held frame's) cross whole.

The codec of each event class is compiled once from the dataclass field types, which
keeps the per-segment cost to a dict build and one ``json.dumps``; decoding checks
every type and range, so a malformed message is a :class:`ProtocolError` with a
one-line reason, never a crash.  The events the agent pushes most (segments,
deliveries, timers) travel many to a line as positional records instead
(:mod:`.batch`), with the same checks.

:mod:`.protocol` (framing, requests, the lab's client) re-exports what it needs of
this module, so callers import from there.
"""

from __future__ import annotations

import binascii
import dataclasses
import json
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from tcplab.lab.events import LAB_EVENTS, LabEvent
from tcplab.stack.events import ALL_EVENTS as HOST_EVENTS
from tcplab.stack.events import (
    PREVIEW_BYTES,
    SegmentReceived,
    SegmentSent,
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

VERSION = 2


class ProtocolError(ValueError):
    """A message that breaks the protocol; the text is one line for the peer."""


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


# UTF-8 on the wire, so no \u escapes to compute; the per-segment path uses this.
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))


def encode(msg: dict[str, Any]) -> bytes:
    """One message as a protocol line."""
    text = _ENCODER.encode(msg) + "\n"
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: escape it the ASCII way
        return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def b64(data: bytes | bytearray) -> str:
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


def option_to_wire(opt: Option) -> list[Any]:
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


def option_from_wire(raw: Any) -> Option:
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


def segment_to_wire(seg: Segment, light: bool = False) -> dict[str, Any]:
    """``light``: the payload as ``len`` and ``head`` (its first PREVIEW_BYTES bytes)."""
    out: dict[str, Any] = {
        "src_port": seg.src_port, "dst_port": seg.dst_port, "seq": seg.seq, "ack": seg.ack,
        "flags": seg.flags, "window": seg.window, "urgent": seg.urgent,
        "options": [option_to_wire(o) for o in seg.options]}
    if light:
        out["len"] = len(seg.payload)
        out["head"] = b64(seg.payload[:PREVIEW_BYTES])
    else:
        out["payload"] = b64(seg.payload)
    return out


def light_segment(seg: Segment) -> Segment:
    """``seg`` as the lab gets it from a light segment: length and head kept, the rest
    of the payload zeros."""
    n = len(seg.payload)
    if n <= PREVIEW_BYTES:
        return seg
    return dataclasses.replace(seg, payload=seg.payload[:PREVIEW_BYTES] + bytes(n - PREVIEW_BYTES))


_HEADER_KEYS = ("src_port", "dst_port", "seq", "ack", "flags", "window", "urgent", "options")
_SEG_KEYS = frozenset((*_HEADER_KEYS, "payload"))
_LIGHT_KEYS = frozenset((*_HEADER_KEYS, "len", "head"))


def _light_payload(n: Any, head: bytes) -> bytes:
    if type(n) is not int or not 0 <= n <= _U16 or len(head) != min(n, PREVIEW_BYTES):
        raise ProtocolError(f"a light segment's len must be 0..{_U16} and its head its first "
                            f"min(len, {PREVIEW_BYTES}) bytes")
    return head + bytes(n - len(head))


def segment_from_wire(raw: Any, light: bool = False) -> Segment:
    keys = _LIGHT_KEYS if light else _SEG_KEYS
    if not isinstance(raw, dict) or raw.keys() != keys:
        raise ProtocolError(f"a segment must have exactly the keys {', '.join(sorted(keys))}")
    payload = (_light_payload(raw["len"], unb64(raw["head"], "head")) if light
               else unb64(raw["payload"], "payload"))
    options = raw["options"]
    if not isinstance(options, list):
        raise ProtocolError("segment options must be a list")
    return Segment(
        src_port=_uint(raw["src_port"], _U16, "src_port"),
        dst_port=_uint(raw["dst_port"], _U16, "dst_port"),
        seq=_uint(raw["seq"], _U32, "seq"), ack=_uint(raw["ack"], _U32, "ack"),
        flags=_uint(raw["flags"], 0xFFF, "flags"), window=_uint(raw["window"], _U16, "window"),
        options=tuple(option_from_wire(o) for o in options),
        payload=payload, urgent=_uint(raw["urgent"], _U16, "urgent"))


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


_LIGHT_CODEC: tuple[Enc, Dec] = (lambda seg: segment_to_wire(seg, light=True),
                                 lambda value, what: segment_from_wire(value, light=True))


def _dataclass_codec(cls: type) -> tuple[Callable[[Any], dict[str, Any]],
                                         Callable[[Any], Any]]:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    light = cls in (SegmentSent, SegmentReceived)
    codecs = {name: _LIGHT_CODEC if light and name == "segment" else _codec(hints[name])
              for name in names}
    encs = [(name, codecs[name][0]) for name in names]
    decs = [(name, codecs[name][1]) for name in names]
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


def event_line(event: LabEvent) -> bytes:
    """The pushed line ``{"v":VERSION,"event":...}`` for ``event``, newline included."""
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
    if not isinstance(ifname, str) or direction not in FRAME_DIRS:
        raise ProtocolError(f"frame ifname must be a string and dir one of "
                            f"{', '.join(FRAME_DIRS)}")
    if type(t) not in (int, float):
        raise ProtocolError("frame t must be a number")
    return CapturedFrame(ifname, direction, float(t), unb64(raw["data"]))
