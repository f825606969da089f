"""What the lab needs from a backend (the simulated network, Mininet, ...).

Theory of operation
-------------------
The lab resolves names and judges expectations; a backend owns the hosts and links.
The lab talks to it only through :class:`Backend`:

* time: ``now()``, ``advance(seconds)`` (virtual clocks jump; real ones are driven by
  ``catch_up()`` from the wall clock), ``pause()``/``resume()``;
* hosts: ``app(host)`` gives a :class:`HostApi` -- the application on that host
  (listen, connect, write, shutdown, close, abort, socket tables);
* links: ``link_names()``, ``find_link(a, b)``, ``set_link(...)`` and the current
  parameters of each direction as a :class:`LinkState`;
* segment filters for teardown races: ``add_filter(spec)`` and ``release(...)``,
  declarative (:class:`FilterSpec`) so that a backend in other processes can apply
  them where the frames are;
* captures: ``add_tap`` sees every frame as it enters a link (named by the link),
  ``add_host_tap`` every frame a host's interface sent or received (a
  :data:`HostFrameTap`), for the recorder's pcapng files;
* re-execution: ``replica()`` gives a fresh backend of the same kind (a
  :class:`Rerun`) for ``rewind``, or None when the backend cannot re-run a run.

Everything observable comes back as events through the ``publish`` callable given
to ``start``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tcplab.lab.commands import SegmentKind
from tcplab.lab.events import LabEvent
from tcplab.lab.topology import TopologySpec
from tcplab.stack.sockets import SocketInfo

FrameDirection = Literal["sent", "received"]
# (host, its interface, "sent" or "received", frame, t): "sent" as the host put it on
# the wire, before the link may lose it; "received" as it reached the host, after.
HostFrameTap = Callable[[str, str, FrameDirection, bytes, float], None]


@dataclass(frozen=True, slots=True)
class LinkState:
    """One direction of a link as it is now.  Times in s, fractions 0..1, bw in bit/s."""

    link: str        # "h1-s1"
    src: str
    dst: str
    delay: float
    jitter: float
    loss: float
    bw: float | None
    dup: float
    reorder: float
    queue: int
    up: bool
    burst: tuple[float, float] | None = None  # Gilbert-Elliott (p, r)
    delivered_bytes: int = 0  # so far, for live throughput (0 where not measured)


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """Hold or drop segments of ``kind`` going from node ``src`` toward node ``dst``.
    ``ips`` narrows it to TCP between two host addresses when src/dst are hosts that
    are not neighbours (the filter then sits on the first link leaving ``src``)."""

    src: str
    dst: str
    kind: SegmentKind
    action: str                  # "hold" or "drop"
    count: int | None            # None: until released
    ips: tuple[str, str] | None = None


class HostApi(Protocol):
    def listen(self, port: int, now: float, tcp: dict[str, bool] | None = None) -> int: ...
    def connect(self, remote_ip: str, rport: int, now: float, lport: int | None,
                tcp: dict[str, bool] | None = None) -> int: ...
    def set_tcp(self, tcp: dict[str, bool]) -> None: ...
    def write(self, sid: int, data: bytes, now: float) -> None: ...
    def write_pattern(self, sid: int, count: int, now: float) -> None: ...
    def shutdown(self, sid: int, now: float) -> None: ...
    def close(self, sid: int, now: float) -> None: ...
    def abort(self, sid: int, now: float) -> None: ...
    def socket(self, sid: int) -> SocketInfo: ...
    def sockets(self) -> list[SocketInfo]: ...


class Backend(Protocol):
    name: str
    mechanism: str          # how link impairments are applied, for the user
    virtual: bool           # a virtual clock (deterministic) or the wall clock
    ips: dict[str, str]     # host name -> IPv4 address

    def start(self, topo: TopologySpec, publish: Callable[[LabEvent], None]) -> None: ...
    def stop(self) -> None: ...
    def now(self) -> float: ...
    def advance(self, seconds: float) -> None: ...
    def catch_up(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def end_instant(self) -> None: ...
    def app(self, host: str) -> HostApi: ...
    def kick(self, host: str) -> None: ...
    def find_link(self, a: str, b: str) -> str | None: ...
    def link_names(self) -> list[str]: ...
    def link_states(self, link: str) -> tuple[LinkState, LinkState]: ...
    def set_link(self, link: str, direction: tuple[str, str] | None,
                 changes: dict[str, Any]) -> None: ...
    def add_filter(self, spec: FilterSpec) -> None: ...
    def release(self, src: str | None, dst: str | None) -> int: ...
    def add_tap(self, tap: Callable[[str, bytes, float], None]) -> None: ...
    def add_host_tap(self, tap: HostFrameTap) -> None: ...
    def replica(self) -> Rerun | None:
        """A new backend of the same kind, seed and settings, not started, to re-execute
        this run on (``rewind``); None when this backend cannot re-run one (Mininet's
        hosts follow the wall clock)."""
        ...


class Rerun(Backend, Protocol):
    """A backend that can re-execute a recorded run (:mod:`tcplab.lab.rerun`)."""

    def drive(self, t: float | None) -> None:
        """Under real time, let ``catch_up`` run to ``t`` (where the recorded run's wall
        clock had taken it) instead of to the wall clock; None hands the clock back."""
        ...

    def adopt_taps(self, old: Backend) -> None:
        """Take over the capture taps of the backend this one replaces."""
        ...
