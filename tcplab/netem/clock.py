"""A discrete-event scheduler on a virtual clock.

Everything in the simulated network happens because an entry in one heap came
due: a frame reaching the end of a link, a host's retransmission timer. Entries
are ordered by ``(time, seq)`` where ``seq`` is a counter incremented on every
:meth:`Scheduler.call_at`, so two events at the same instant always run in the
order they were scheduled, never in an order that depends on hashing or on the
wall clock. That is what makes a seeded run repeatable.

The clock does not move by itself. A virtual-time driver calls
:meth:`Scheduler.run_until_idle` (as fast as possible); a real-time driver calls
:meth:`Scheduler.run_until` with the elapsed wall time, as often as it likes.

Stopping between entries: whoever watches the run (the lab's breakpoints) sets
:attr:`Scheduler.stop` while an entry runs; the run in progress returns right after
that entry, with the clock still at its instant -- even when more entries are due at
the same instant, so something that lasts zero time (CLOSING over zero-delay links)
can still be seen.  :meth:`Scheduler.run` also takes a budget of entries, so a
driver can run a long stretch a slice at a time.  Both cost one test per entry.

An instant that never ends: entries that keep scheduling more entries at the same time
(two peers answering each other's ACKs over a zero-delay link, say) would hold the clock
at one instant forever.  After :data:`INSTANT_LIMIT` entries at one instant the scheduler
sets :attr:`Scheduler.stop` and :attr:`Scheduler.stuck` (a one-line notice, also handed
to :attr:`Scheduler.on_stuck`), so the run stops instead of hanging; each later run at
that instant stops again after one entry.  Long before that, after
:data:`INSTANT_CROWDED` entries (seconds of wall time), :attr:`Scheduler.on_crowded`
hears why the clock is not moving, once per instant, so a headless run does not sit
silent until the limit.

Cancelling is lazy: a cancelled entry stays in the heap and is skipped when it
surfaces; the heap is rebuilt when cancelled entries outnumber live ones, so a
host that re-arms its timer on every segment cannot grow it without bound.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

# Rebuilding a tiny heap is not worth it; below this many dead entries we wait.
_COMPACT_MIN = 64
# Entries at one instant after which the run is taken to be stuck there (a busy instant
# of a big lab runs a few thousand)
INSTANT_LIMIT = 1_000_000
INSTANT_CROWDED = 100_000  # entries at one instant after which a notice says so


class Handle:
    """A scheduled call; :meth:`cancel` it before it runs to stop it."""

    __slots__ = ("_fn", "_scheduler", "time")

    def __init__(self, scheduler: Scheduler, time: float, fn: Callable[[], object]) -> None:
        self._scheduler = scheduler
        self._fn: Callable[[], object] | None = fn
        self.time = time

    @property
    def active(self) -> bool:
        """True until the call has run or has been cancelled."""
        return self._fn is not None

    def cancel(self) -> None:
        """Stop the call from running; harmless if it already ran or was cancelled."""
        if self._fn is not None:
            self._fn = None
            self._scheduler._note_cancelled()


class TimerEntry:
    """One scheduler entry kept at a node's next timer.  :meth:`set` after every call
    into the node moves the entry -- or leaves it, when the deadline did not change;
    when it comes due, ``fire`` runs."""

    __slots__ = ("_fire", "_handle", "_scheduler", "deadline")

    def __init__(self, scheduler: Scheduler, fire: Callable[[], object]) -> None:
        self._scheduler = scheduler
        self._fire = fire
        self._handle: Handle | None = None
        self.deadline: float | None = None

    def set(self, deadline: float | None) -> None:
        if deadline == self.deadline and (deadline is None or self._handle is not None):
            return
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.deadline = deadline
        if deadline is not None:
            self._handle = self._scheduler.call_at(deadline, self._due)

    def _due(self) -> None:
        self._handle = None
        self.deadline = None
        self._fire()


class Scheduler:
    """A virtual clock plus a heap of calls due at given times."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = 0
        self._heap: list[tuple[float, int, Handle]] = []
        self._cancelled = 0
        # called while the clock still reads an instant that is about to end
        self.on_instant_end: Callable[[], object] | None = None
        # set (by an observer, while an entry runs) to end the run after that entry;
        # whoever drives the run clears it
        self.stop = False
        self.instant_limit = INSTANT_LIMIT
        self.instant_crowded = INSTANT_CROWDED
        self._at_instant = 0                       # entries run at the current instant
        self.stuck: str | None = None              # the notice, while stuck at an instant
        self.on_stuck: Callable[[str], object] | None = None
        self.on_crowded: Callable[[str], object] | None = None

    @property
    def now(self) -> float:
        """The current virtual time in seconds."""
        return self._now

    def call_at(self, t: float, fn: Callable[[], object]) -> Handle:
        """Run ``fn()`` at time ``t``; a time already past runs at :attr:`now`."""
        if math.isnan(t):
            raise ValueError("cannot schedule a call at time NaN")
        if t < self._now:
            t = self._now
        handle = Handle(self, t, fn)
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, handle))
        return handle

    def next_time(self) -> float | None:
        """When the earliest pending call is due, or None when nothing is pending."""
        heap = self._heap
        while heap and heap[0][2]._fn is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        return heap[0][0] if heap else None

    def run_until(self, t: float) -> bool:
        """Run every call due at or before ``t``, in order, and leave :attr:`now` at ``t``.

        Returns False when :attr:`stop` ended the run early: :attr:`now` is then the
        time of the entry that set it, and entries due by ``t`` may remain.
        """
        if t < self._now:
            raise ValueError(f"cannot run the clock backwards from {self._now} to {t}")
        self._run_due(t, -1)
        if self.stop:
            return False
        self.settle(t)
        return True

    def run_until_idle(self, limit: float) -> bool:
        """Run calls until none are pending or the next one is after ``limit``.

        Returns True when the scheduler went idle (:attr:`now` is then the time of
        the last call run) and False when ``limit`` stopped it (:attr:`now` is then
        ``limit``, as after :meth:`run_until`) or :attr:`stop` did (:attr:`now` is then
        the stopping entry's time). The limit guards against runs that never go
        quiet, such as a keepalive timer that re-arms forever.
        """
        if limit < self._now:
            raise ValueError(f"cannot run the clock backwards from {self._now} to {limit}")
        self._run_due(limit, -1)
        if self.stop:
            return False
        if self.next_time() is None:
            return True
        self.settle(limit)
        return False

    def run(self, t: float, budget: int) -> int:
        """Run at most ``budget`` calls due at or before ``t``; how many ran.

        Fewer than ``budget`` without :attr:`stop` set means nothing is left due by
        ``t``; the clock then stands at the last call's time (:meth:`settle` moves it
        on to ``t``).
        """
        if t < self._now:
            raise ValueError(f"cannot run the clock backwards from {self._now} to {t}")
        return self._run_due(t, budget) if budget > 0 else 0

    def settle(self, t: float) -> None:
        """Move the clock on to ``t`` once every call due by ``t`` has run."""
        if t > self._now:
            if self.on_instant_end is not None:
                self.on_instant_end()
            self._now = t
            self._at_instant = 0
            self.stuck = None

    def _run_due(self, t: float, budget: int) -> int:
        """Run calls due by ``t``: at most ``budget`` of them (-1: no limit), ending
        early after a call that set :attr:`stop`.  Returns how many ran."""
        heap = self._heap
        pop = heapq.heappop
        left = budget
        while left and heap and heap[0][0] <= t:
            time, _, handle = pop(heap)
            fn = handle._fn
            if fn is None:
                self._cancelled -= 1
                continue
            handle._fn = None
            if time != self._now:
                if self.on_instant_end is not None:
                    self.on_instant_end()
                self._now = time
                self._at_instant = 0
                self.stuck = None
            fn()
            left -= 1
            self._at_instant += 1
            if self._at_instant > self.instant_limit:
                self._stuck()
            elif self._at_instant == self.instant_crowded and self.on_crowded is not None:
                # what to do first: a one-line display may show no more
                self.on_crowded(
                    f"the clock is stuck at t={self._now:.6f} after {self._at_instant} "
                    f"events: give the links delay= or bw= (a transfer over links with "
                    f"neither takes no time), unless something answers itself forever (an "
                    f"ACK storm); the run stops after {self.instant_limit}")
            if self.stop:
                break
        return budget - left

    def _stuck(self) -> None:
        self.stop = True
        if self.stuck is None:
            self.stuck = (f"{self._at_instant} events at t={self._now:.6f} and the clock "
                          f"never moved on (something answers itself forever, such as an "
                          f"ACK storm, or a transfer over links with neither delay nor "
                          f"bandwidth limit, where it takes no time: give them delay= or "
                          f"bw=): the run stopped there")
            if self.on_stuck is not None:
                self.on_stuck(self.stuck)

    def _note_cancelled(self) -> None:
        self._cancelled += 1
        if self._cancelled > _COMPACT_MIN and self._cancelled * 2 > len(self._heap):
            # In place: a run in progress holds a reference to this list.
            self._heap[:] = [entry for entry in self._heap if entry[2]._fn is not None]
            heapq.heapify(self._heap)
            self._cancelled = 0
