"""Commands that move the clock -- ``wait`` and ``step`` -- run a slice at a time.

Theory of operation
-------------------
Over zero-delay links a whole transfer can happen at one virtual instant, so "run
until t" can take minutes of CPU without the clock moving.  A :class:`ClockRun`
therefore never runs to its end in one call: :meth:`ClockRun.slice` runs the
scheduler for at most a wall-time budget, a chunk of :data:`CHUNK` entries at a time
(the wall clock is read once per chunk, not per entry), and returns the command's
result once it is over.  The dashboard calls it from a timer and draws in between;
:meth:`tcplab.lab.lab.Lab.execute` calls it until it is done.

A run ends in one of four ways, and its ``command`` event says which: it got where it
was going ("waited 1 s"); a breakpoint fired (the scheduler's ``stop`` flag ended the
chunk right after the entry that fired it, wherever that was in its instant); the user
interrupted it (:meth:`ClockRun.interrupt`, Esc); or, for a wait, the clock was paused.

Re-executing (:mod:`tcplab.lab.rerun`) must stop an interrupted run at the very same
entry, which may be in the middle of an instant.  Under virtual time the message of
an interrupted run therefore ends with ``after N scheduler entries``, and a re-run is
given that count as a :class:`Hint`.  Under real time the clock is driven by the
recording's times instead (``SimBackend.drive``), and the hint only says that the
wait ended by interruption.

``step`` runs the scheduler one entry at a time and skips entries that publish
nothing (a frame crossing a switch): each step is one entry that did something, and
its message describes what (:func:`describe_events`).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tcplab.lab import commands as C
from tcplab.lab import events as L
from tcplab.lab import units
from tcplab.stack import events as H
from tcplab.tcp.segment import describe

if TYPE_CHECKING:
    from tcplab.lab.lab import Lab, Result
    from tcplab.netem.clock import Scheduler

CHUNK = 256  # scheduler entries between two looks at the wall clock: about a millisecond
# a step gives up after this many entries in a row that published nothing (a silent
# timer re-arming forever would otherwise keep it running)
SILENT_LIMIT = 100_000

INTERRUPTED = re.compile(r"interrupted at t=\S+(?: after (\d+) scheduler entries)?$")


@dataclass(frozen=True, slots=True)
class Hint:
    """How a recorded run ended, where the run's own inputs cannot tell: it was
    interrupted -- under virtual time after ``entries`` scheduler entries."""

    entries: int | None


def hint_of(message: str) -> Hint | None:
    """The hint a recorded ``command`` event's message carries, if any."""
    match = INTERRUPTED.search(message)
    if match is None:
        return None
    return Hint(int(match[1]) if match[1] is not None else None)


class ClockRun:
    """One ``wait`` or ``step`` in progress (see the module docstring)."""

    def __init__(self, lab: Lab, cmd: C.Wait | C.Step, line: str, line_no: int | None,
                 hint: Hint | None = None) -> None:
        self.lab = lab
        self.cmd = cmd
        self.line = line
        self.line_no = line_no
        self.hint = hint
        self.scheduler: Scheduler | None = getattr(lab.backend, "scheduler", None)
        self.start_t = lab.now()
        self.until = math.inf
        self.left: int | None = None     # step N: entries that did something, still to run
        self.ran = 0                     # scheduler entries run
        self.published = 0               # events published meanwhile (the lab counts)
        self.seen: list[L.LabEvent] | None = None  # step N: what the current entry published
        self.last = ""                   # step N: what the last entry did
        self.silent = 0                  # step N: entries in a row that published nothing
        self.real = False                # a wait on the real clock: driven by catch_up

    def start(self) -> Result | None:
        """Check the command can run; its result at once when it cannot, else None."""
        from tcplab.lab.lab import LabError, Result

        backend = self.lab.backend
        paused = bool(getattr(backend, "paused", False))
        cmd = self.cmd
        if isinstance(cmd, C.Wait):
            if paused:
                return Result(True, f"the clock is paused: {cmd.seconds:g} s did not pass "
                                    f"(resume first)")
            self.until = self.start_t + cmd.seconds
            self.real = not backend.virtual
        else:
            if self.scheduler is None:
                raise LabError("step needs the simulated backend: Mininet hosts run on the "
                               "wall clock and cannot be stopped between events")
            if not paused and not backend.virtual:
                # a virtual clock moves only by wait and step: no need to stop it first
                raise LabError("step works while the clock is paused: pause first")
            if cmd.seconds is not None:
                self.until = self.start_t + cmd.seconds
            else:
                self.left = cmd.count or 1
        if self.scheduler is not None:
            self.scheduler.stop = False
        return None

    # -- running ------------------------------------------------------------------------
    def slice(self, budget: float) -> Result | None:
        """Run for at most ``budget`` wall seconds; the result once the run is over."""
        if self.real:
            return self._real_slice()
        sched = self.scheduler
        assert sched is not None
        deadline = time.perf_counter() + budget
        cap = self.hint.entries if self.hint is not None else None
        while True:
            n = 1 if self.left is not None else CHUNK
            if cap is not None:
                if self.ran >= cap:
                    return self._interrupted()
                n = min(n, cap - self.ran)
            if self.left is not None:
                self.seen = []
            ran = sched.run(self.until, n)
            self.ran += ran
            if self.left is not None and ran:
                done = [e for e in self.seen or () if e.kind != "tcb.sample"]
                if done:
                    self.left -= 1
                    self.last = describe_events(done)
                    self.silent = 0
                else:
                    self.silent += 1
            self.seen = None
            if sched.stop:
                return self._stopped()
            if self.left == 0 or self.silent >= SILENT_LIMIT:
                return self._done()
            if ran < n:  # nothing more is due by self.until
                if self.until != math.inf:
                    sched.settle(self.until)
                return self._done(idle=self.until == math.inf)
            if time.perf_counter() >= deadline:
                return None

    def _real_slice(self) -> Result | None:
        backend = self.lab.backend
        backend.catch_up()
        if self.scheduler is not None and self.scheduler.stop:
            return self._stopped()
        if self.hint is not None:
            return self._interrupted()
        # re-executing: the script drove the clock to where the recorded wait ended
        if getattr(backend, "driven_to", None) is not None or backend.now() >= self.until:
            return self._done()
        return None

    def interrupt(self) -> Result:
        """End the run where it is (the dashboard's Esc)."""
        return self._interrupted()

    # -- endings ------------------------------------------------------------------------
    def _done(self, idle: bool = False) -> Result:
        from tcplab.lab.lab import Result

        cmd = self.cmd
        now = self.lab.now()
        if isinstance(cmd, C.Wait):
            return Result(True, f"waited {units.format_number(cmd.seconds)} s")
        if cmd.seconds is not None:
            return Result(True, f"ran the clock {units.format_duration(cmd.seconds)} to "
                                f"t={now:.6f} ({self.published} events)")
        wanted = cmd.count or 1
        did = wanted - (self.left or 0)
        if idle:
            tail = "; then nothing was left to run"
        elif self.silent >= SILENT_LIMIT:
            tail = f"; then {SILENT_LIMIT} entries published nothing: stopped at t={now:.6f}"
        else:
            tail = ""
        if did == 0:
            if idle:
                return Result(True, "nothing to run: no frame is in flight and no timer is "
                                    "armed")
            return Result(True, tail.removeprefix("; then "))
        if wanted == 1:
            return Result(True, self.last + tail)
        return Result(True, f"{did} events to t={now:.6f}; the last: {self.last}{tail}")

    def _stopped(self) -> Result:
        from tcplab.lab.lab import Result

        hits = self.lab.flush_hits()
        now = self.lab.now()
        if not hits:  # the flag without a hit: someone else stopped the scheduler
            stuck = getattr(self.scheduler, "stuck", None)  # an instant that never ends
            return Result(stuck is None, stuck or f"stopped at t={now:.6f}")
        first = hits[0]
        more = f" (and {len(hits) - 1} more)" if len(hits) > 1 else ""
        did = f"; the last event: {self.last}" if self.left is not None and self.last else ""
        return Result(True, f"stopped at t={now:.6f} by breakpoint {first.breakpoint.number} "
                            f"({first.breakpoint.spec}){more}: {first.detail}{did}")

    def _interrupted(self) -> Result:
        from tcplab.lab.lab import Result

        now = self.lab.now()
        if self.real:
            return Result(True, f"interrupted at t={now:.6f}")
        return Result(True, f"interrupted at t={now:.6f} after {self.ran} scheduler entries")

    def observe(self, event: L.LabEvent) -> None:
        """Every event published while this run is the lab's current one."""
        self.published += 1
        if self.seen is not None:
            self.seen.append(event)


# -------------------------------------------------------------------- what a step did

def _addr(a: tuple[str, int] | None) -> str:
    return f"{a[0]}:{a[1]}" if a is not None else "*:*"


def _phrase(e: Any) -> str | None:
    if isinstance(e, H.SegmentReceived):
        return f"{e.host} received {_addr(e.src)}>{_addr(e.dst)} {describe(e.segment)}"
    if isinstance(e, H.SegmentSent):
        return f"{e.host} sent {_addr(e.src)}>{_addr(e.dst)} {describe(e.segment)}"
    if isinstance(e, H.StateChanged):
        return f"{e.host} socket {e.sid} {e.old} -> {e.new} ({e.cause})"
    if isinstance(e, H.TimerFired):
        return f"{e.host} socket {e.sid}: the {e.name} timer fired"
    if isinstance(e, H.Delivered):
        return f"{e.host} socket {e.sid} delivered {len(e.data)} bytes"
    if isinstance(e, H.SegmentDropped):
        return f"{e.host} dropped a segment ({e.reason}): {e.summary}"
    if isinstance(e, L.LinkDropped):
        return f"link {e.direction} dropped ({e.reason}): {e.summary}"
    if isinstance(e, L.LinkHeld):
        return f"link {e.direction} holding: {e.summary}"
    return None


# the first event says what the entry was; these are worth naming after it
_NOTABLE = (H.StateChanged, L.LinkDropped, H.SegmentDropped, H.Delivered)


def describe_events(events: list[L.LabEvent]) -> str:
    """One line for what one scheduler entry published, e.g. ``t=0.120 h2 received
    10.0.0.1:40000>10.0.0.2:80 F. 1:1(0) ack 1; h2 socket 2 ESTABLISHED -> CLOSE-WAIT
    (rcv FIN) (+3 more events)``."""
    first = events[0]
    lead = _phrase(first) or f"{first.host or 'the network'}: {first.kind}"
    parts = [lead]
    shown = 1
    for e in events[1:]:
        if isinstance(e, _NOTABLE) and (text := _phrase(e)) is not None:
            parts.append(text)
            shown += 1
    more = len(events) - shown
    tail = f" (+{more} more event{'s' if more > 1 else ''})" if more else ""
    return f"t={first.t:.3f} " + "; ".join(parts) + tail
