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
    """The application on one backend host, as the lab calls it: the simulated network's
    :class:`~tcplab.lab.app.HostApp` or a Mininet agent.  Every call raises HostError for
    a user mistake (an unknown socket, a port in use, a closing socket), and changes
    nothing then; ``now`` is the run's clock."""

    def listen(self, port: int, now: float, tcp: dict[str, bool] | None = None) -> int:
        """A listening socket on ``port``; returns its socket id.  ``tcp``: per-socket TCP
        feature switches (and the application's ``read``)."""
        ...

    def connect(self, remote_ip: str, rport: int, now: float, lport: int | None,
                tcp: dict[str, bool] | None = None) -> int:
        """An active OPEN to ``remote_ip:rport`` from ``lport`` (None: an ephemeral port);
        returns the new socket's id."""
        ...

    def set_tcp(self, tcp: dict[str, bool]) -> None:
        """Feature switches (``sack``, ``timestamps``, ...) for the sockets opened from
        now on."""
        ...

    def write(self, sid: int, data: bytes, now: float) -> None:
        """Queue all of ``data`` on the socket; the application keeps writing what does
        not fit yet as the send buffer drains."""
        ...

    def write_pattern(self, sid: int, count: int, now: float) -> None:
        """Queue ``count`` bytes of the test pattern
        (:func:`~tcplab.lab.app.pattern_bytes`), made as the socket takes them."""
        ...

    def shutdown(self, sid: int, now: float) -> None:
        """Send a FIN (shut down writing) after every byte queued before it."""
        ...

    def close(self, sid: int, now: float) -> None:
        """Close the socket after every byte queued before it."""
        ...

    def abort(self, sid: int, now: float) -> None:
        """Abort the socket at once; bytes still queued are dropped."""
        ...

    def socket(self, sid: int) -> SocketInfo:
        """The table row of socket ``sid``."""
        ...

    def sockets(self) -> list[SocketInfo]:
        """The table rows of every socket the host still knows."""
        ...


class Backend(Protocol):
    """A network of hosts and links the lab runs on (see the module docstring).  ``name``
    is the backend's short name (``sim``, ``mininet``), ``mechanism`` says how link
    impairments are applied, ``virtual`` tells a deterministic virtual clock from the wall
    clock, and ``ips`` maps each host to its IPv4 address once started."""

    name: str
    mechanism: str          # how link impairments are applied, for the user
    virtual: bool           # a virtual clock (deterministic) or the wall clock
    ips: dict[str, str]     # host name -> IPv4 address

    def start(self, topo: TopologySpec, publish: Callable[[LabEvent], None]) -> None:
        """Build ``topo``'s hosts and links and start the run's clock; from now on every
        event goes to ``publish``."""
        ...

    def stop(self) -> None:
        """Take the network down; no event is published after it."""
        ...

    def now(self) -> float:
        """The run's clock, in seconds since :meth:`start`."""
        ...

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: a virtual clock runs every event due on the way at once;
        a real one waits them out, publishing events as they come."""
        ...

    def catch_up(self) -> None:
        """Under real time, run (or publish) everything due by the wall clock; a virtual
        clock does not move here."""
        ...

    def pause(self) -> None:
        """Stop the clock (``pause``); a backend whose clock cannot stop raises
        LabError."""
        ...

    def resume(self) -> None:
        """Let a paused clock run again from where it stopped (``resume``); a backend
        whose clock never pauses raises LabError."""
        ...

    def end_instant(self) -> None:
        """The clock leaves its current instant: the hosts publish their TCB samples (so a
        command's effect is sampled before its result is published)."""
        ...

    def app(self, host: str) -> HostApi:
        """The application on ``host``, to call (KeyError or LabError for an unknown host
        or one without a stack)."""
        ...

    def kick(self, host: str) -> None:
        """The lab has just called into ``host``: send what the call produced and publish
        its events before the command's result."""
        ...

    def find_link(self, a: str, b: str) -> str | None:
        """The name of the link between nodes ``a`` and ``b`` (either order), or None."""
        ...

    def link_names(self) -> list[str]:
        """Every link's name, in topology order."""
        ...

    def link_states(self, link: str) -> tuple[LinkState, LinkState]:
        """The two directions of ``link`` as they are now: (a to b, b to a)."""
        ...

    def set_link(self, link: str, direction: tuple[str, str] | None,
                 changes: dict[str, Any]) -> None:
        """Change ``link``'s parameters (the :class:`LinkState` field names) in one
        direction ``(src, dst)``, or in both when ``direction`` is None; takes effect for
        frames that enter the link from now on."""
        ...

    def add_filter(self, spec: FilterSpec) -> None:
        """Start holding or dropping the segments ``spec`` describes (``hold``/``drop``);
        a node with no link to put it on is a ValueError."""
        ...

    def release(self, src: str | None, dst: str | None) -> int:
        """End the holds from ``src`` toward ``dst`` (every hold when either is None),
        letting held segments go on; returns how many holds ended."""
        ...

    def add_tap(self, tap: Callable[[str, bytes, float], None]) -> None:
        """Call ``tap(link, frame, t)`` for every frame as it enters a link."""
        ...

    def add_host_tap(self, tap: HostFrameTap) -> None:
        """Call ``tap`` for every frame a host's interface sends or receives."""
        ...

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
