"""What the dashboard may ask of a running lab: one narrow door.

Theory of operation
-------------------
The dashboard (:mod:`tcplab.tui`) draws from the event stream's
:class:`~tcplab.lab.timeline.Timeline` and changes the lab only by submitting
command-language lines.  :class:`LabPort` is everything else it may use: subscribe to
events, run a ``wait`` a slice at a time so it never freezes, ask what kind of clock
the run has, and check a form's line before running it.  :class:`~tcplab.lab.lab.Lab`
is the one implementation; the dashboard never sees the backend, the hosts or their
sockets (``tests/test_layering.py`` keeps ``tui`` from importing :mod:`tcplab.lab.lab`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tcplab.lab import commands as C
from tcplab.lab.events import LabEvent
from tcplab.lab.timeline import Timeline
from tcplab.tcp.states import State

if TYPE_CHECKING:
    from tcplab.lab.lab import Lab, Result


class LabPort(Protocol):
    """Everything the dashboard may ask of a running lab besides the event stream (see the
    module docstring); :class:`~tcplab.lab.lab.Lab` implements it."""

    @property
    def virtual(self) -> bool:
        """A virtual clock, moved only by ``wait``/``step``; else the wall clock."""
        ...

    @property
    def paused(self) -> bool:
        """The clock is paused (``pause``, or a breakpoint fired)."""
        ...

    @property
    def waiting(self) -> bool:
        """A ``wait`` or ``step`` is running: drive it with :meth:`run_slice`."""
        ...

    def subscribe(self, callback: Callable[[LabEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with every event from now on; returns the unsubscribe."""
        ...

    def keep_timeline(self, header: dict[str, Any] | None = None) -> Timeline:
        """Start keeping the event stream, indexed, and return it (the same Timeline on
        every call); ``header`` is the recording header it starts with."""
        ...

    def now(self) -> float:
        """The run's clock in seconds."""
        ...

    def execute(self, command: str | C.Command, line_no: int | None = None) -> Result:
        """Run one command-language line (or parsed command) to its end, a ``wait`` too;
        the Result is also published as a ``command`` event.  Errors come back in the
        Result."""
        ...

    def begin(self, command: str | C.Command, line_no: int | None = None) -> Result | None:
        """Start one command without blocking: its Result, or None for a ``wait``/``step``
        that has to run (drive it with :meth:`run_slice`)."""
        ...

    def start_wait(self, seconds: float) -> None:
        """Start ``wait SECONDS`` without blocking (see :meth:`begin`)."""
        ...

    def run_slice(self, budget: float) -> bool:
        """Run the ``wait`` or ``step`` in progress for at most ``budget`` wall seconds;
        True once it has ended or when none runs."""
        ...

    def interrupt(self) -> None:
        """End the running ``wait`` or ``step`` where it is (Esc); nothing running:
        nothing happens."""
        ...

    @property
    def last_result(self) -> Result | None:
        """The Result of the last command that ended (a wait run by slices, too)."""
        ...

    def sync(self) -> None:
        """Under real time, bring the network up to the wall clock before drawing."""
        ...

    def precheck(self, cmd: C.Command) -> str | None:
        """Why ``cmd`` would fail here (an unknown host, no such link, a closed
        connection), without changing anything; None when nothing is seen wrong."""
        ...


def precheck(lab: Lab, cmd: C.Command) -> str | None:
    """:meth:`LabPort.precheck` for :class:`~tcplab.lab.lab.Lab`."""
    hosts = set(lab.host_names) | set(lab.backend.ips.values())
    nodes = hosts | set(getattr(lab.topo, "switches", ()))
    if isinstance(cmd, C.Listen) and cmd.endpoint.host not in hosts:
        return f"unknown host {cmd.endpoint.host!r}"
    if isinstance(cmd, C.Connect):
        for h in (cmd.local_host, cmd.remote.host):
            if h not in hosts:
                return f"unknown host {h!r}"
    if isinstance(cmd, C.Link):
        for n in (cmd.a, cmd.b):
            if n not in nodes:
                return f"unknown node {n!r}"
        if lab.backend.find_link(cmd.a, cmd.b) is None:
            return f"no link between {cmd.a} and {cmd.b}"
    conn = getattr(cmd, "conn", None)
    if conn is not None:
        from tcplab.lab.lab import LabError

        try:
            _, info, _ = lab.socket_info(conn)
        except LabError as exc:  # an unknown name or four-tuple
            return str(exc)
        if info is None or info.state is State.CLOSED:
            return f"{conn} is closed"
    return None
