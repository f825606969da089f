"""Breakpoints: stop the simulated clock right after an event of interest.

Theory of operation
-------------------
``break c1 CLOSING``, ``break any TIME-WAIT``, ``break send FIN`` and ``break drop``
each add a numbered :class:`Breakpoint` to the lab's :class:`Breakpoints`.  The lab
hands every event of its stream to :meth:`Breakpoints.observe` (only while there are
breakpoints, so a lab without any pays nothing).  A match is only *noted*: the hit is
queued and ``on_hit`` raises the scheduler's ``stop`` flag, so the run in progress
returns right after the scheduler entry that produced the event -- with the clock at
that instant, even in the middle of it.  Whoever drives the clock (a wait, a step,
the real-time catch-up) then publishes the queued hits as ``break.hit`` events with
:meth:`Breakpoints.take`; publishing from inside the subscriber would put the
``break.hit`` in the stream before the event that caused it.

Connection names are resolved when a state change is seen, not when the breakpoint is
set: ``break c1' TIME-WAIT`` may be typed before ``c1`` exists, and ``c1'`` only
exists once ``listen`` accepted it.  Only state changes into the watched state pay for
that look-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tcplab.lab import commands as C
from tcplab.lab.events import LabEvent, LinkDropped
from tcplab.stack import events as H
from tcplab.tcp.segment import describe
from tcplab.tcp.states import State

# (host, socket id) of a connection reference now; raises when it names nothing (yet)
Resolver = Callable[[C.ConnRef], tuple[str, int]]


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """One ``break`` command kept under its number (numbers are never reused in a run)."""

    number: int
    cmd: C.Break

    @property
    def spec(self) -> str:
        """The ``break`` line, canonical."""
        return self.cmd.to_line()


@dataclass(frozen=True, slots=True)
class Hit:
    """A breakpoint that matched an event; ``detail`` says what happened, in one line."""

    breakpoint: Breakpoint
    host: str
    sid: int | None
    detail: str


def _addr(a: tuple[str, int] | None) -> str:
    return f"{a[0]}:{a[1]}" if a is not None else "*:*"


class Breakpoints:
    """The lab's numbered breakpoints (see the module docstring)."""

    def __init__(self, resolve: Resolver, on_hit: Callable[[], None]) -> None:
        self._resolve = resolve
        self._on_hit = on_hit
        self._all: dict[int, Breakpoint] = {}
        self._next = 1
        # indexed by what they watch, so an event only meets the breakpoints it may fire
        self._state: dict[State, list[Breakpoint]] = {}
        self._send: list[Breakpoint] = []
        self._drop: list[Breakpoint] = []
        self._hits: list[Hit] = []

    def __bool__(self) -> bool:
        return bool(self._all)

    def __iter__(self) -> Iterator[Breakpoint]:
        return iter(self._all.values())

    # -- the commands -------------------------------------------------------------
    def add(self, cmd: C.Break) -> Breakpoint:
        """Number ``cmd`` (the next number) and start watching for it; the new
        breakpoint."""
        bp = Breakpoint(self._next, cmd)
        self._next += 1
        self._all[bp.number] = bp
        self._reindex()
        return bp

    def remove(self, number: int | None) -> list[Breakpoint]:
        """Remove breakpoint ``number`` (None: all); the ones removed.  Numbers are never
        reused, so "breakpoint 3" means the same one all through a run."""
        if number is None:
            gone = list(self._all.values())
            self._all.clear()
        else:
            bp = self._all.pop(number, None)
            gone = [] if bp is None else [bp]
        self._reindex()
        return gone

    def command(self, cmd: C.Break | C.Breaks | C.Unbreak, stoppable: bool) -> str:
        """Carry out ``break``, ``breaks`` or ``unbreak``; the message.  ``stoppable``:
        the backend's clock can stop between events (the simulated network's)."""
        from tcplab.lab.lab import LabError

        if isinstance(cmd, C.Breaks):
            return self.listing()
        if isinstance(cmd, C.Unbreak):
            gone = self.remove(cmd.number)
            if cmd.number is None:
                return f"removed {len(gone)} breakpoint{'s' if len(gone) != 1 else ''}"
            if not gone:
                raise LabError(f"no breakpoint {cmd.number} (breaks lists them)")
            return f"removed breakpoint {cmd.number} ({gone[0].spec})"
        if not stoppable:
            raise LabError("break needs the simulated backend: Mininet hosts run on the "
                           "wall clock and cannot be stopped between events")
        bp = self.add(cmd)
        note = ""
        if cmd.conn is not None:
            try:
                self._resolve(cmd.conn)
            except LabError:
                note = f" ({cmd.conn} names no connection yet)"
        return f"breakpoint {bp.number}: {bp.spec}{note}"

    def listing(self) -> str:
        """The ``breaks`` command's message: ``1: break c1 CLOSING; 2: break drop`` in
        number order, or ``no breakpoints``."""
        if not self._all:
            return "no breakpoints"
        return "; ".join(f"{bp.number}: {bp.spec}" for bp in self._all.values())

    def _reindex(self) -> None:
        self._state = {}
        self._send = []
        self._drop = []
        for bp in self._all.values():
            cmd = bp.cmd
            if cmd.on is C.BreakOn.SEND:
                self._send.append(bp)
            elif cmd.on is C.BreakOn.DROP:
                self._drop.append(bp)
            elif cmd.state is not None:
                self._state.setdefault(cmd.state, []).append(bp)

    # -- watching the stream ------------------------------------------------------
    def observe(self, event: LabEvent) -> None:
        """Note every breakpoint ``event`` fires (called for every event of the run)."""
        if isinstance(event, H.StateChanged):
            watching = self._state.get(event.new)
            if watching:
                for bp in watching:
                    if bp.cmd.conn is None or self._is(bp.cmd.conn, event.host, event.sid):
                        self._hit(bp, event.host, event.sid,
                                  f"{event.host} {_addr(event.local)}>{_addr(event.remote)} "
                                  f"{event.old} -> {event.new} ({event.cause})")
        elif isinstance(event, H.SegmentSent):
            if self._send:
                seg = event.segment
                for bp in self._send:
                    kind = bp.cmd.kind or C.SegmentKind.ANY
                    if kind.matches(seg.flags, len(seg.payload)):
                        self._hit(bp, event.host, event.sid,
                                  f"{event.host} sent {_addr(event.src)}>{_addr(event.dst)} "
                                  f"{describe(seg)}")
        elif isinstance(event, LinkDropped):
            for bp in self._drop:
                self._hit(bp, "", None,
                          f"link {event.direction} dropped ({event.reason}): {event.summary}")

    def _is(self, ref: C.ConnRef, host: str, sid: int) -> bool:
        try:
            return self._resolve(ref) == (host, sid)
        except Exception:  # LabError, HostError: the name means nothing yet
            return False

    def _hit(self, bp: Breakpoint, host: str, sid: int | None, detail: str) -> None:
        self._hits.append(Hit(bp, host, sid, detail))
        self._on_hit()

    def take(self) -> list[Hit]:
        """The hits noted since the last call, oldest first."""
        hits, self._hits = self._hits, []
        return hits
