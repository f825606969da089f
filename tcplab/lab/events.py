"""The lab's one event stream.

Theory of operation
-------------------
Hosts report what their stacks do (:mod:`tcplab.stack.events`: segments sent,
received and dropped, state changes with their cause, timers, data delivered);
the lab adds what only it sees: frames the network dropped or held, link changes,
commands and their results, expectations, notices.  Every event has ``t`` (the
run's clock) and ``host`` ("" when no host is involved) and a ``kind`` string;
:mod:`tcplab.lab.codec` turns any of them into its recorded JSON and back.

:class:`EventBus` fans events out to subscribers (the dashboard, the recorder, the
headless printer, tests) in the order they were published.  Nothing observable
happens in the lab without an event on this bus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from tcplab.stack.events import ALL_EVENTS as HOST_EVENTS
from tcplab.stack.events import Event, HostEvent
from tcplab.tcp.segment import Segment

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class _LabEvent(Event):
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class LinkDropped(_LabEvent):
    """The network lost a frame: "link loss", "queue full", "link down" or "filter"."""

    kind: ClassVar[str] = "link.dropped"
    link: str
    direction: str
    reason: str
    summary: str
    segment: Segment | None = None


@dataclass(frozen=True, slots=True)
class LinkHeld(_LabEvent):
    """A ``hold`` filter kept a frame back on ``direction`` (``src>dst``) until a
    ``release``; ``summary`` is the frame in one line."""

    kind: ClassVar[str] = "link.held"
    direction: str
    summary: str


@dataclass(frozen=True, slots=True)
class LinkChanged(_LabEvent):
    """A link direction's parameters changed (``link`` command), or their starting values
    as the run starts; ``direction`` is ``src>dst`` and ``params`` every parameter of it
    in the ``link`` command's units."""

    kind: ClassVar[str] = "link.changed"
    link: str
    direction: str
    params: str  # "loss=5% delay=20ms jitter=0ms bw=unlimited up"


@dataclass(frozen=True, slots=True)
class CommandDone(_LabEvent):
    """A command ended: its ``line`` as typed, ``ok`` and the ``message`` shown (its
    result, or the error).  Every command ends in exactly one; rewind re-executes
    these."""

    kind: ClassVar[str] = "command"
    line: str
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class Notice(_LabEvent):
    """A line for the user that no other event carries: the run's topology and seed, why a
    backend was chosen, a stuck clock, an agent's bad message."""

    kind: ClassVar[str] = "notice"
    text: str


@dataclass(frozen=True, slots=True)
class HostStatus(_LabEvent):
    """A Mininet host's agent went down (``up`` False, ``reason`` why) or came back after
    a ``restart``."""

    kind: ClassVar[str] = "host.status"
    up: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ConnNamed(_LabEvent):
    """A user named a connection (``connect h1 h2:80 as c1``).  Its other end, ``c1'``,
    is the socket on the peer with the reversed four-tuple whose IRS is this ISS."""

    kind: ClassVar[str] = "conn.named"
    sid: int
    name: str
    local: tuple[str, int]
    remote: tuple[str, int]


@dataclass(frozen=True, slots=True)
class BreakHit(_LabEvent):
    """Breakpoint ``number`` (``spec``: its ``break`` line) fired: the clock stopped
    right after the event it matched.  ``host``/``sid``: the socket involved ("" and
    None for a link's drop); ``detail``: that event, in one line."""

    kind: ClassVar[str] = "break.hit"
    number: int
    spec: str
    sid: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class RunRewound(_LabEvent):
    """``rewind`` re-ran the simulation to time ``to``: the stream's first ``keep``
    events (header not counted) are the new branch's past; drop every later one,
    then go on with this event."""

    kind: ClassVar[str] = "run.rewound"
    to: float
    keep: int


LAB_EVENTS: tuple[type[_LabEvent], ...] = (
    LinkDropped, LinkHeld, LinkChanged, CommandDone, Notice, HostStatus, ConnNamed,
    BreakHit, RunRewound)
LabEvent = (HostEvent | LinkDropped | LinkHeld | LinkChanged | CommandDone | Notice
            | HostStatus | ConnNamed | BreakHit | RunRewound)
EVENT_KINDS: tuple[str, ...] = (*(e.kind for e in HOST_EVENTS), *(e.kind for e in LAB_EVENTS))

Subscriber = Callable[[LabEvent], None]


class EventBus:
    """Publish/subscribe, synchronous and in order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def publish(self, event: LabEvent) -> None:
        """Hand ``event`` to every subscriber, in subscription order, before returning; a
        subscriber added or removed meanwhile takes effect from the next event."""
        for fn in tuple(self._subscribers):
            fn(event)

    def divert(self, fn: Subscriber) -> Callable[[], None]:
        """Until the returned function is called, only ``fn`` gets events (a rewind
        re-runs a stretch its subscribers have already seen); then every subscriber
        gets them again.  Diversions nest."""
        saved = self._subscribers
        self._subscribers = [fn]

        def restore() -> None:
            self._subscribers = saved
        return restore
