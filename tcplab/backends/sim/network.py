"""The simulated network: nodes, the links between their interfaces, and the glue.

Nodes are sans-I/O: they never send or sleep by themselves. The network calls
into a node when something happens to it (a frame arrives, its timer fires, or
the lab :meth:`SimNetwork.kick`\\ s it after a socket call) and, right after each
call, does the same two things:

* drains ``frames_to_send()`` and pushes each frame into the link direction
  leaving that interface (a frame for an interface with no link is lost, like
  one sent by an unplugged NIC);
* asks ``get_timer()`` and keeps exactly one scheduler entry per node at that
  time, cancelling and re-arming only when the answer changed.

Every frame movement is reported to the ``on_frame`` observers: "sent" when a
node hands it to a link, then either "delivered" (just before the receiving node
sees it) or "dropped" with the reason. Observers are called in the order they
were added, synchronously, at the scheduler's current time; the recorder and
the event stream are built on them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal, Protocol

from tcplab.backends.sim.switch import DEFAULT_AGING, LearningSwitch
from tcplab.netem.clock import Scheduler, TimerEntry
from tcplab.netem.link import Link, LinkDirection, LinkParams

FrameEvent = Literal["sent", "delivered", "dropped"]
FrameObserver = Callable[[Link, LinkDirection, bytes, FrameEvent, str | None, float], None]


class Node(Protocol):
    """What the network needs from a host or a switch."""

    def receive_frame(self, ifname: str, frame: bytes, now: float) -> None: ...

    def frames_to_send(self) -> list[tuple[str, bytes]]: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


class _Slot:
    """A node plus its one pending timer entry."""

    __slots__ = ("name", "node", "timer")

    def __init__(self, name: str, node: Node, timer: TimerEntry) -> None:
        self.name = name
        self.node = node
        self.timer = timer


class SimNetwork:
    """Nodes and links on one scheduler, with one seeded RNG for every impairment."""

    def __init__(self, scheduler: Scheduler, rng: random.Random) -> None:
        self.scheduler = scheduler
        self.rng = rng
        self.on_frame: list[FrameObserver] = []
        self._slots: dict[str, _Slot] = {}
        self._links: list[Link] = []
        # (node, ifname) -> the direction leaving that interface.
        self._egress: dict[tuple[str, str], LinkDirection] = {}
        self._link_of: dict[LinkDirection, Link] = {}

    # -- building -------------------------------------------------------------

    def add_host(self, name: str, node: Node) -> None:
        """Attach ``node`` under ``name``; its pending timer, if any, is armed now."""
        if name in self._slots:
            raise ValueError(f"there is already a node named {name}")
        slot = _Slot(name, node, TimerEntry(self.scheduler, lambda: self._fire(slot)))
        self._slots[name] = slot
        self._after_call(slot)

    def add_switch(self, name: str, aging: float = DEFAULT_AGING) -> LearningSwitch:
        switch = LearningSwitch(name, aging)
        self.add_host(name, switch)
        return switch

    def add_link(
        self, a: str, b: str, a_ifname: str, b_ifname: str, params: LinkParams | None = None
    ) -> Link:
        """Cable interface ``a_ifname`` of ``a`` to ``b_ifname`` of ``b``.

        ``params`` (default: a perfect link) is given to both directions, which
        can then be changed independently. The link is named ``a-b``; at most
        one link joins a pair of nodes.
        """
        for node in (a, b):
            if node not in self._slots:
                raise ValueError(f"unknown node {node}")
        if a == b:
            raise ValueError(f"cannot link {a} to itself")
        for node, ifname in ((a, a_ifname), (b, b_ifname)):
            if (node, ifname) in self._egress:
                raise ValueError(f"interface {ifname} of {node} is already linked")
        if self.find_link(a, b) is not None:
            raise ValueError(f"{a} and {b} are already linked")
        params = params or LinkParams()
        forward = self._direction(a, b, b_ifname, params)
        reverse = self._direction(b, a, a_ifname, params)
        link = Link(f"{a}-{b}", a, b, a_ifname, b_ifname, forward, reverse)
        self._links.append(link)
        self._egress[(a, a_ifname)] = forward
        self._egress[(b, b_ifname)] = reverse
        self._link_of[forward] = link
        self._link_of[reverse] = link
        for node, ifname in ((a, a_ifname), (b, b_ifname)):
            target = self._slots[node].node
            if isinstance(target, LearningSwitch):
                target.add_port(ifname)
        return link

    def _direction(self, src: str, dst: str, dst_ifname: str, params: LinkParams) -> LinkDirection:
        slot = self._slots[dst]

        def deliver(frame: bytes) -> None:
            now = self.scheduler.now
            self._notify(direction, frame, "delivered", None)
            slot.node.receive_frame(dst_ifname, frame, now)
            self._after_call(slot)

        def on_drop(frame: bytes, reason: str) -> None:
            self._notify(direction, frame, "dropped", reason)

        direction = LinkDirection(
            f"{src}>{dst}", self.scheduler, self.rng, params, deliver, on_drop
        )
        return direction

    # -- looking up -----------------------------------------------------------

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(self._links)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(self._slots)

    def node(self, name: str) -> Node:
        return self._slot(name).node

    def find_link(self, a: str, b: str) -> Link | None:
        """The link between nodes ``a`` and ``b`` in either order, if any."""
        for link in self._links:
            if {link.a, link.b} == {a, b}:
                return link
        return None

    def link(self, a: str, b: str) -> Link:
        """Like :meth:`find_link` but a missing link is an error."""
        link = self.find_link(a, b)
        if link is None:
            for name in (a, b):
                self._slot(name)
            raise ValueError(f"there is no link between {a} and {b}")
        return link

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            raise ValueError(f"unknown node {name}")
        return slot

    # -- running --------------------------------------------------------------

    def kick(self, name: str) -> None:
        """Tell the network the lab just called into ``name``: drain it and re-arm its timer."""
        self._after_call(self._slot(name))

    def run_until(self, t: float) -> None:
        self.scheduler.run_until(t)

    def _after_call(self, slot: _Slot) -> None:
        now = self.scheduler.now
        for ifname, frame in slot.node.frames_to_send():
            direction = self._egress.get((slot.name, ifname))
            if direction is None:
                continue
            self._notify(direction, frame, "sent", None)
            direction.send(frame, now)
        slot.timer.set(slot.node.get_timer())

    def _fire(self, slot: _Slot) -> None:
        slot.node.handle_timer(self.scheduler.now)
        self._after_call(slot)

    def _notify(
        self, direction: LinkDirection, frame: bytes, event: FrameEvent, reason: str | None
    ) -> None:
        link = self._link_of[direction]
        now = self.scheduler.now
        for observer in self.on_frame:
            observer(link, direction, frame, event, reason, now)
