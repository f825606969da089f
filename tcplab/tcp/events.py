"""What a connection tells its owner.  Drained with ``Connection.next_event()``.

The events a host publishes as they are carry ``kind``, the name they have in the
lab's event stream and in recordings: a host's event is the engine's event plus where
and when (:class:`tcplab.stack.events.Envelope`: time, host, socket), not a second
declaration.  The others (``DataReceived``, ``EndOfStream``, ``ConnectionReset``,
``DeliveryTrouble``, ``IcmpReported``, ``SegmentDropped``) the host turns into events
of its own, with what only it knows (the bytes read, the interface, the ARP advice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tcplab.tcp.states import State, Trigger


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The connection took a row of the transition table."""
    kind: ClassVar[str] = "state.changed"
    old: State
    new: State
    trigger: Trigger
    detail: str = ""  # e.g. "shutdown(SHUT_WR)" or "retransmissions gave up"

    @property
    def cause(self) -> str:
        """The trigger, with the detail in parentheses when there is one."""
        return f"{self.trigger} ({self.detail})" if self.detail else str(self.trigger)


@dataclass(frozen=True, slots=True)
class DataReceived:
    """In-order bytes became readable; ``available`` is what ``recv`` can return now."""

    available: int


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The peer's FIN was reached in order: after the buffered bytes, ``recv`` gives b""."""


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """A RST ended the connection; ``refused`` when it answered our SYN."""

    refused: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The connection ended with an error (``errno`` name such as ETIMEDOUT)."""

    kind: ClassVar[str] = "socket.error"
    errno: int
    reason: str


@dataclass(frozen=True, slots=True)
class Retransmitted:
    """A segment was sent again.  ``why`` is "rto", "fast", "sack" or "probe"."""

    kind: ClassVar[str] = "segment.retransmitted"
    seq: int
    length: int
    why: str


@dataclass(frozen=True, slots=True)
class DeliveryTrouble:
    """A soft error: the same segment (``what``: "SYN", "SYN,ACK", "data" or "FIN")
    timed out ``retransmissions`` times, threshold R1 (RFC 9293 §3.8.3).  The
    connection goes on; it gives up only at R2."""

    retransmissions: int
    what: str


@dataclass(frozen=True, slots=True)
class IcmpReported:
    """An ICMP error about a segment in flight that did not end the connection (a soft
    error, or a hard one once synchronized: RFC 9293 §3.9.2.2, RFC 5927 §7.2)."""

    reason: str


@dataclass(frozen=True, slots=True)
class TimerArmed:
    """A timer started (``name``: a :class:`tcplab.tcp.kinds.Timer` value)."""
    kind: ClassVar[str] = "timer.armed"
    name: str  # "rtx", "persist", "delack", "time-wait", "keepalive"
    deadline: float


@dataclass(frozen=True, slots=True)
class TimerCancelled:
    """A timer stopped before its deadline."""
    kind: ClassVar[str] = "timer.cancelled"
    name: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer reached its deadline."""
    kind: ClassVar[str] = "timer.fired"
    name: str


@dataclass(frozen=True, slots=True)
class SegmentDropped:
    """A received segment was not accepted (RFC 9293 §3.10.7 checks)."""

    reason: str


Event = (StateChanged | DataReceived | EndOfStream | ConnectionReset | ConnectionFailed
         | Retransmitted | DeliveryTrouble | IcmpReported | TimerArmed | TimerCancelled
         | TimerFired | SegmentDropped)
