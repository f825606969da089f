"""What a host reports: typed, immutable events with a time and the host's name.

Theory of operation
-------------------
Every event is a frozen, slotted dataclass with ``t`` (the ``now`` of the call that
produced it) and ``host``, plus a class-level ``kind`` string ("segment.sent",
"state.changed", ...) that names it in recordings.  ``to_dict()`` gives a JSON-ready
dict of plain types; a :class:`~tcplab.tcp.segment.Segment` becomes its header
fields, its payload length and a short preview, so a recording stays small and
byte-identical across runs with the same seed.

``sid`` is the host's socket id (None when no socket is involved, e.g. a RST sent
for a closed port).  Addresses are ``(dotted ip, port)`` tuples.
"""

from __future__ import annotations

import errno as errno_mod
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, ClassVar

from tcplab.tcp.segment import Segment, flags_str, option_str
from tcplab.tcp.states import State

Address = tuple[str, int]

PREVIEW_BYTES = 16


_PRINTABLE = bytes(b if 32 <= b < 127 else 0x2E for b in range(256))  # others as "."


def preview(data: bytes) -> str:
    """The first bytes as printable ASCII (dots elsewhere), for a glance at a payload."""
    text = bytes(data[:PREVIEW_BYTES]).translate(_PRINTABLE).decode("ascii")
    return text + ("…" if len(data) > PREVIEW_BYTES else "")


def segment_dict(seg: Segment) -> dict[str, Any]:
    return {
        "src_port": seg.src_port,
        "dst_port": seg.dst_port,
        "seq": seg.seq,
        "ack": seg.ack,
        "flags": flags_str(seg.flags),
        "window": seg.window,
        "urgent": seg.urgent,
        "options": [option_str(o) for o in seg.options] if seg.options else [],
        "len": len(seg.payload),
        "hex": seg.payload[:PREVIEW_BYTES].hex(),
        "ascii": preview(seg.payload),
    }


_SIMPLE = (int, float, str, bool, type(None))


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):  # first: State is also a str
        return str(value.value)
    if type(value) in _SIMPLE:
        return value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Segment):
        return segment_dict(value)
    raise TypeError(f"no plain form for {type(value).__name__}")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class _Event:
    kind: ClassVar[str] = ""
    t: float
    host: str

    def to_dict(self) -> dict[str, Any]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        out: dict[str, Any] = {"kind": self.kind}
        simple = _SIMPLE
        for name in names:
            value = getattr(self, name)
            out[name] = value if type(value) in simple else _plain(value)
        return out


def _segment_event(kind: str, t: float, host: str, sid: int | None, src: Address,
                   dst: Address, seg: Segment, ifname: str) -> dict[str, Any]:
    """The most frequent events' recorded form, built directly: the generic ``to_dict``
    costs several times more, and a bulk transfer makes two of these per segment."""
    return {"kind": kind, "t": t, "host": host, "sid": sid, "src": [src[0], src[1]],
            "dst": [dst[0], dst[1]], "segment": segment_dict(seg), "ifname": ifname}


@dataclass(frozen=True, slots=True)
class SegmentSent(_Event):
    kind: ClassVar[str] = "segment.sent"
    sid: int | None
    src: Address
    dst: Address
    segment: Segment
    ifname: str

    def to_dict(self) -> dict[str, Any]:
        return _segment_event(self.kind, self.t, self.host, self.sid, self.src, self.dst,
                              self.segment, self.ifname)


@dataclass(frozen=True, slots=True)
class SegmentReceived(_Event):
    kind: ClassVar[str] = "segment.received"
    sid: int | None
    src: Address
    dst: Address
    segment: Segment
    ifname: str

    def to_dict(self) -> dict[str, Any]:
        return _segment_event(self.kind, self.t, self.host, self.sid, self.src, self.dst,
                              self.segment, self.ifname)


@dataclass(frozen=True, slots=True)
class SegmentDropped(_Event):
    """A TCP segment not accepted: malformed, no socket, backlog full, or refused by
    the engine's RFC 9293 checks.  ``segment`` is None when it could not be decoded."""

    kind: ClassVar[str] = "segment.dropped"
    reason: str
    ifname: str
    summary: str
    sid: int | None
    segment: Segment | None


@dataclass(frozen=True, slots=True)
class FrameDropped(_Event):
    """Anything below TCP: arp timeout, bad ip checksum, not for us, no route..."""

    kind: ClassVar[str] = "frame.dropped"
    reason: str
    ifname: str


@dataclass(frozen=True, slots=True)
class StateChanged(_Event):
    kind: ClassVar[str] = "state.changed"
    sid: int
    local: Address
    remote: Address | None
    old: State
    new: State
    cause: str


@dataclass(frozen=True, slots=True)
class TimerArmed(_Event):
    kind: ClassVar[str] = "timer.armed"
    sid: int
    name: str
    deadline: float


@dataclass(frozen=True, slots=True)
class TimerCancelled(_Event):
    kind: ClassVar[str] = "timer.cancelled"
    sid: int
    name: str
    deadline: None = None


@dataclass(frozen=True, slots=True)
class TimerFired(_Event):
    """``deadline`` is when it fired (the ``now`` of ``handle_timer``)."""

    kind: ClassVar[str] = "timer.fired"
    sid: int
    name: str
    deadline: float


@dataclass(frozen=True, slots=True)
class Delivered(_Event):
    """Bytes handed to the application (auto-read or an explicit ``recv``)."""

    kind: ClassVar[str] = "data.delivered"
    sid: int
    data: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "t": self.t, "host": self.host, "sid": self.sid,
                "len": len(self.data), "hex": self.data[:PREVIEW_BYTES].hex(),
                "ascii": preview(self.data)}


@dataclass(frozen=True, slots=True)
class Retransmission(_Event):
    kind: ClassVar[str] = "segment.retransmitted"
    sid: int
    seq: int
    length: int
    why: str


@dataclass(frozen=True, slots=True)
class SocketError(_Event):
    """A connection ended with an error; ``errno`` is numeric, ``to_dict`` adds its name."""

    kind: ClassVar[str] = "socket.error"
    sid: int
    errno: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "t": self.t, "host": self.host, "sid": self.sid,
                "errno": self.errno, "errname": errno_mod.errorcode.get(self.errno, "?"),
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class SoftError(_Event):
    """Trouble on a connection that goes on (RFC 9293 §3.9.1.8): the same segment timed
    out R1 times (§3.8.3; IP was asked to check the route again), or an ICMP error about
    it did not end it (§3.9.2.2; ``retransmissions`` is 0)."""

    kind: ClassVar[str] = "socket.soft_error"
    sid: int
    retransmissions: int
    reason: str


@dataclass(frozen=True, slots=True)
class TcbSampled(_Event):
    """A connection's TCB as the sockets table shows it, published at the end of an
    instant in which any of it changed (at most once per connection per instant).

    The RFC 9293 §3.3.1 send and receive variables (absolute, with ``iss``/``irs`` to
    make them relative), the congestion state of RFC 5681 (``flight`` is FlightSize),
    the RFC 6298 estimators in seconds (``srtt``/``rttvar`` None before a sample), the
    queues in bytes and every running timer as (name, deadline) pairs."""

    kind: ClassVar[str] = "tcb.sample"
    sid: int
    iss: int
    irs: int
    snd_una: int
    snd_nxt: int
    snd_max: int
    rcv_nxt: int
    snd_wnd: int
    rcv_wnd: int
    cwnd: int
    ssthresh: int
    flight: int
    srtt: float | None
    rttvar: float | None
    rto: float
    sendq: int
    recvq: int
    timers: tuple[tuple[str, float], ...]


# the base other layers (the lab's own events) build on
EventBase = _Event

HostEvent = (SegmentSent | SegmentReceived | SegmentDropped | FrameDropped | StateChanged
             | TimerArmed | TimerCancelled | TimerFired | Delivered | Retransmission
             | SocketError | SoftError | TcbSampled)

ALL_EVENTS: tuple[type[_Event], ...] = (
    SegmentSent, SegmentReceived, SegmentDropped, FrameDropped, StateChanged, TimerArmed,
    TimerCancelled, TimerFired, Delivered, Retransmission, SocketError, SoftError, TcbSampled,
)
