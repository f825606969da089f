"""The simulated backend: a whole topology in this process, on one scheduler.

Theory of operation
-------------------
Each topology host becomes a :class:`~tcplab.stack.host.Host` wrapped in a
:class:`~tcplab.lab.app.HostApp`; switches become learning bridges; links get the
topology's TCLink parameters.  Everything runs on one :class:`Scheduler` and one
``random.Random(seed)``, so a run is a pure function of topology, seed and commands.

The clock is the scheduler's: under ``virtual`` time :meth:`advance` jumps straight
through the events; under ``real`` time the lab calls :meth:`advance` with the wall
clock's progress and the scheduler catches up to it.  :meth:`pause` freezes the
simulated clock (the dashboard's pause key) without losing any frame in flight; it
never moves the clock itself, and under virtual time nothing but ``advance`` (and the
lab's wait and step, which run the scheduler) ever does.  :meth:`drive` replaces the
wall clock with a script, for re-executing a real-time run (:mod:`tcplab.lab.rerun`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from tcplab.backends.sim.network import FrameEvent, SimNetwork
from tcplab.lab.app import HostApp
from tcplab.lab.backend import Backend, FilterSpec, FrameDirection, HostFrameTap, LinkState
from tcplab.lab.events import LabEvent, LinkDropped, LinkHeld, Notice
from tcplab.lab.peek import summary, tcp_of
from tcplab.lab.topology import LinkParams as TopoLinkParams
from tcplab.lab.topology import TopologySpec
from tcplab.netem.clock import Scheduler
from tcplab.netem.link import GilbertElliott, Link, LinkDirection, LinkParams
from tcplab.stack.host import Host
from tcplab.tcp.config import Config

FrameTap = Callable[[str, bytes, float], None]  # (link name, frame, t)


def sim_params(p: TopoLinkParams) -> LinkParams:
    return LinkParams(delay=p.delay, jitter=p.jitter, loss=p.loss, bw=p.bw,
                      queue=p.max_queue or 1000)


def _state(name: str, src: str, dst: str, d: LinkDirection) -> LinkState:
    p = d.params
    burst = (p.burst.p, p.burst.r) if p.burst is not None else None
    return LinkState(name, src, dst, p.delay, p.jitter, p.loss, p.bw, p.dup, p.reorder,
                     p.queue, p.up, burst, d.stats.delivered_bytes)


def params_dict(params: LinkParams) -> dict[str, Any]:
    return {f.name: getattr(params, f.name) for f in fields(params)}


class SimBackend:
    """In-process hosts and links (see the module docstring)."""

    name = "sim"
    mechanism = "simulated links (in-process)"

    def __init__(self, seed: int = 0, *, virtual: bool = True,
                 config: Config | None = None) -> None:
        self.seed = seed
        self.virtual = virtual
        self.config = config
        self.rng = random.Random(seed)
        self.scheduler = Scheduler()
        self.net = SimNetwork(self.scheduler, self.rng)
        self.apps: dict[str, HostApp] = {}
        self.ips: dict[str, str] = {}
        self.kernel_hosts: set[str] = set()
        self.taps: list[FrameTap] = []
        self.host_taps: list[HostFrameTap] = []
        self._publish: Callable[[LabEvent], None] = lambda e: None
        self.paused = False
        self._wall0 = time.monotonic()
        self._virt0 = 0.0
        self.driven_to: float | None = None  # see drive()

    # -- lifecycle ---------------------------------------------------------------
    def start(self, topo: TopologySpec, publish: Callable[[LabEvent], None]) -> None:
        self._publish = publish
        for spec in topo.hosts:
            host = Host(spec.name, config=self.config, rng=self.rng)
            iface = f"{spec.name}-eth0"
            links = [ln for ln in topo.links if spec.name in (ln.a, ln.b)]
            if links:
                first = links[0]
                iface = first.intf_a if first.a == spec.name else first.intf_b
            host.add_interface(iface, spec.mac, spec.ip, spec.prefix_len)
            app = HostApp(host, publish)
            self.apps[spec.name] = app
            self.ips[spec.name] = spec.ip
            if spec.kernel:
                self.kernel_hosts.add(spec.name)
        for sw in topo.switches:
            self.net.add_switch(sw)
        for name, app in self.apps.items():
            self.net.add_host(name, app)
        for ln in topo.links:
            link = self.net.add_link(ln.a, ln.b, ln.intf_a, ln.intf_b, sim_params(ln.ab))
            if ln.ba != ln.ab:
                link.direction(ln.b, ln.a).set(**params_dict(sim_params(ln.ba)))
        self.net.on_frame.append(self._on_frame)
        self.scheduler.on_instant_end = self.end_instant
        self.scheduler.on_stuck = lambda text: publish(Notice(self.scheduler.now, "", text))
        self.scheduler.on_crowded = self.scheduler.on_stuck
        self._wall0 = time.monotonic()

    def stop(self) -> None:
        self.end_instant()
        self.net.on_frame.clear()
        self.scheduler.on_instant_end = None

    def end_instant(self) -> None:
        """The clock leaves its instant: every host publishes its TCB samples."""
        now = self.scheduler.now
        for app in self.apps.values():
            app.end_instant(now)

    # -- time --------------------------------------------------------------------
    def now(self) -> float:
        return self.scheduler.now

    def advance(self, seconds: float) -> None:
        """Run the network ``seconds`` forward (virtual time: at once)."""
        if not self.paused:
            self.scheduler.run_until(self.scheduler.now + max(seconds, 0.0))

    def catch_up(self) -> None:
        """Real time: run everything due by the wall clock (or by :meth:`drive`'s
        script).  A virtual clock never moves here."""
        if self.paused or self.virtual:
            return
        target = self.driven_to
        if target is None:
            target = self._virt0 + (time.monotonic() - self._wall0)
        if target > self.scheduler.now:
            self.scheduler.run_until(target)

    def drive(self, t: float | None) -> None:
        """Re-executing a real-time run: :meth:`catch_up` runs to ``t`` -- where the
        recorded run's wall clock had taken it -- instead of to the wall clock's time.
        ``None`` hands the clock back to the wall clock, from where it stands."""
        self.driven_to = t
        if t is None:
            self._wall0 = time.monotonic()
            self._virt0 = self.scheduler.now

    def replica(self) -> SimBackend:
        return SimBackend(self.seed, virtual=self.virtual, config=self.config)

    def adopt_taps(self, old: Backend) -> None:
        if isinstance(old, SimBackend):
            self.taps = old.taps
            self.host_taps = old.host_taps

    def next_time(self) -> float | None:
        return self.scheduler.next_time()

    def pause(self) -> None:
        # No catch_up here: the lab brings a real clock up to date before every
        # command, and under virtual time catching up to the wall clock would jump
        # the clock (and expire every TIME-WAIT) by however long the lab has been open.
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._wall0 = time.monotonic()
            self._virt0 = self.scheduler.now

    # -- hosts -------------------------------------------------------------------
    def app(self, host: str) -> HostApp:
        return self.apps[host]

    def kick(self, host: str) -> None:
        self.net.kick(host)

    # -- links -------------------------------------------------------------------
    def find_link(self, a: str, b: str) -> str | None:
        link = self.net.find_link(a, b)
        return link.name if link is not None else None

    def link_names(self) -> list[str]:
        return [link.name for link in self.net.links]

    def _link(self, name: str) -> Link:
        for link in self.net.links:
            if link.name == name:
                return link
        raise KeyError(name)

    def link_states(self, link: str) -> tuple[LinkState, LinkState]:
        ln = self._link(link)
        return (_state(ln.name, ln.a, ln.b, ln.forward),
                _state(ln.name, ln.b, ln.a, ln.reverse))

    def set_link(self, link: str, direction: tuple[str, str] | None,
                 changes: dict[str, Any]) -> None:
        ln = self._link(link)
        if "burst" in changes and changes["burst"] is not None:
            p, r = changes["burst"]
            changes = {**changes, "burst": GilbertElliott(p, r)}
        if direction is None:
            ln.set(**changes)
        else:
            ln.direction(*direction).set(**changes)

    def _egress(self, host: str) -> LinkDirection | None:
        """The direction leaving a host's (first) interface."""
        for link in self.net.links:
            if link.a == host:
                return link.forward
            if link.b == host:
                return link.reverse
        return None

    def _direction(self, src: str, dst: str) -> LinkDirection | None:
        link = self.net.find_link(src, dst)
        if link is not None:
            return link.direction(src, dst)
        return self._egress(src)

    def add_filter(self, spec: FilterSpec) -> None:
        direction = self._direction(spec.src, spec.dst)
        if direction is None:
            raise ValueError(f"{spec.src} has no link")
        label = f"{spec.src}>{spec.dst}"

        def pred(frame: bytes) -> bool:
            tcp = tcp_of(frame)
            if tcp is None:
                return False
            if spec.ips is not None and (tcp.src[0], tcp.dst[0]) != spec.ips:
                return False
            if not spec.kind.matches(tcp.segment.flags, len(tcp.segment.payload)):
                return False
            if spec.action == "hold":
                self._publish(LinkHeld(self.scheduler.now, "", label, summary(frame)))
            return True

        direction.add_filter(pred, "hold" if spec.action == "hold" else "drop", spec.count)

    def release(self, src: str | None, dst: str | None) -> int:
        if src is None or dst is None:
            dirs = [d for link in self.net.links for d in (link.forward, link.reverse)]
        else:
            one = self._direction(src, dst)
            dirs = [one] if one is not None else []
        return sum(direction.end_holds() for direction in dirs)

    def add_tap(self, tap: FrameTap) -> None:
        self.taps.append(tap)

    def add_host_tap(self, tap: HostFrameTap) -> None:
        self.host_taps.append(tap)

    # -- observation -------------------------------------------------------------
    def _on_frame(self, link: Link, direction: LinkDirection, frame: bytes,
                  event: FrameEvent, reason: str | None, t: float) -> None:
        if self.host_taps and event != "dropped":
            self._host_frame(link, direction, frame, event, t)
        if event == "sent":
            for tap in self.taps:
                tap(link.name, frame, t)
        elif event == "dropped":
            tcp = tcp_of(frame)
            self._publish(LinkDropped(t, "", link.name, direction.name, reason or "?",
                                      summary(frame), tcp.segment if tcp else None))

    def _host_frame(self, link: Link, direction: LinkDirection, frame: bytes,
                    event: FrameEvent, t: float) -> None:
        """A host's own view: what it hands to a link ("sent", before the link may lose
        it) and what a link hands to it ("delivered", after); switches have no file."""
        forward = direction is link.forward
        if event == "sent":
            node, ifname = (link.a, link.a_ifname) if forward else (link.b, link.b_ifname)
        else:
            node, ifname = (link.b, link.b_ifname) if forward else (link.a, link.a_ifname)
        if node in self.apps:
            what: FrameDirection = "sent" if event == "sent" else "received"
            for tap in self.host_taps:
                tap(node, ifname, what, frame, t)
