"""What a host reports: typed, immutable events with a time and the host's name.

Theory of operation
-------------------
Every event is a frozen, slotted dataclass with ``t`` (the ``now`` of the call that
produced it) and ``host``, plus a class-level ``kind`` string ("segment.sent",
"state.changed", ...) that names it in the lab's stream and in recordings.

A connection's own events are the engine's (:mod:`tcplab.tcp.events`) plus their
:class:`Envelope` -- when, on which host, on which socket -- declared once: a host's
``TimerArmed`` *is* a :class:`tcplab.tcp.events.TimerArmed` with ``t``, ``host`` and
``sid`` in front (``StateChanged`` also names the socket's addresses).  The host adds
events of its own for what only it sees: segments on the wire, frames and segments it
refused, bytes the application read, soft errors (with the advice it took), samples
of a connection's TCB.

How an event becomes JSON and back -- for recordings and for the Mininet agents'
control channel alike -- is :mod:`tcplab.lab.codec`, the one codec.

``sid`` is the host's socket id (None when no socket is involved, e.g. a RST sent
for a closed port).  Addresses are ``(dotted ip, port)`` tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tcplab.tcp import events as tev
from tcplab.tcp.segment import Segment

Address = tuple[str, int]


@dataclass(frozen=True)
class Event:
    """``t`` and ``host``, which every event of the stream has.  No slots of its own
    (``__slots__ = ()``), so an engine event's slotted class can be a second base."""

    __slots__ = ()
    kind: ClassVar[str] = ""
    t: float
    host: str


@dataclass(frozen=True)
class Envelope(Event):
    """Where and when an engine event happened: time, host and socket."""

    __slots__ = ()
    sid: int


# ----------------------------------------------------------------------------- the engine's

@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(tev.StateChanged, Envelope):
    """The engine's state change on a socket, with the socket's addresses (``remote``
    None for a listener)."""

    local: Address
    remote: Address | None


@dataclass(frozen=True, slots=True)
class TimerArmed(tev.TimerArmed, Envelope):
    """A connection armed a timer (the engine's event, with where and when)."""
    pass


@dataclass(frozen=True, slots=True)
class TimerCancelled(tev.TimerCancelled, Envelope):
    """A connection stopped a timer before it fired."""
    pass


@dataclass(frozen=True, slots=True)
class TimerFired(tev.TimerFired, Envelope):
    """A connection's timer fired."""
    pass


@dataclass(frozen=True, slots=True)
class Retransmitted(tev.Retransmitted, Envelope):
    """A connection sent a segment again (``why``: a :class:`tcplab.tcp.kinds.Why`)."""
    pass


@dataclass(frozen=True, slots=True)
class ConnectionFailed(tev.ConnectionFailed, Envelope):
    """A connection ended with an error, or the application's pending data could not
    be written (``errno`` numeric; recordings add its name)."""


# ----------------------------------------------------------------------------- the host's own

@dataclass(frozen=True, slots=True)
class SegmentSent(Event):
    """A TCP segment left the host (``sid``: None for a RST no socket owns)."""
    kind: ClassVar[str] = "segment.sent"
    sid: int | None
    src: Address
    dst: Address
    segment: Segment
    ifname: str


@dataclass(frozen=True, slots=True)
class SegmentReceived(Event):
    """A TCP segment reached the host (``sid``: None when no socket took it)."""
    kind: ClassVar[str] = "segment.received"
    sid: int | None
    src: Address
    dst: Address
    segment: Segment
    ifname: str


@dataclass(frozen=True, slots=True)
class SegmentDropped(Event):
    """A TCP segment not accepted: malformed, no socket, backlog full, or refused by
    the engine's RFC 9293 checks (its ``SegmentDropped``).  ``segment`` is None when it
    could not be decoded."""

    kind: ClassVar[str] = "segment.dropped"
    reason: str
    ifname: str
    summary: str
    sid: int | None
    segment: Segment | None


@dataclass(frozen=True, slots=True)
class FrameDropped(Event):
    """Anything below TCP: arp timeout, bad ip checksum, not for us, no route..."""

    kind: ClassVar[str] = "frame.dropped"
    reason: str
    ifname: str


@dataclass(frozen=True, slots=True)
class Delivered(Envelope):
    """Bytes handed to the application (auto-read or an explicit ``recv``)."""

    kind: ClassVar[str] = "data.delivered"
    data: bytes


@dataclass(frozen=True, slots=True)
class SoftError(Envelope):
    """Trouble on a connection that goes on (RFC 9293 §3.9.1.8): the same segment timed
    out R1 times (the engine's ``DeliveryTrouble``, §3.8.3; the host asked ARP again),
    or an ICMP error about it did not end it (``IcmpReported``, §3.9.2.2;
    ``retransmissions`` is 0)."""

    kind: ClassVar[str] = "socket.soft_error"
    retransmissions: int
    reason: str


@dataclass(frozen=True, slots=True)
class TcbSampled(Envelope):
    """A connection's TCB as the sockets table shows it, published at the end of an
    instant in which any of it changed (at most once per connection per instant).

    The RFC 9293 §3.3.1 send and receive variables (absolute, with ``iss``/``irs`` to
    make them relative), the congestion state of RFC 5681 (``flight`` is FlightSize),
    the RFC 6298 estimators in seconds (``srtt``/``rttvar`` None before a sample), the
    queues in bytes and every running timer as (name, deadline) pairs."""

    kind: ClassVar[str] = "tcb.sample"
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


HostEvent = (SegmentSent | SegmentReceived | SegmentDropped | FrameDropped | StateChanged
             | TimerArmed | TimerCancelled | TimerFired | Delivered | Retransmitted
             | ConnectionFailed | SoftError | TcbSampled)

ALL_EVENTS: tuple[type[Event], ...] = (
    SegmentSent, SegmentReceived, SegmentDropped, FrameDropped, StateChanged, TimerArmed,
    TimerCancelled, TimerFired, Delivered, Retransmitted, ConnectionFailed, SoftError,
    TcbSampled,
)
