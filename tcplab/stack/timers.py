"""The deadlines of a host's connections, in one heap.

Theory of operation
-------------------
Each connection has at most one deadline that matters: its engine's next timer
(``SocketRecord.timer``).  The heap holds ``(deadline, tie, sid)`` entries; an entry is
valid only while it equals its socket's current deadline, so a changed or cancelled
deadline just leaves a stale entry behind, skipped when it surfaces (lazy
invalidation).  When stale entries outnumber live ones four to one the heap is rebuilt,
so ``next`` stays O(1) amortised with thousands of connections.  A socket freed by the
host (:data:`tcplab.stack.host.CLOSED_KEPT`) leaves only stale entries.
"""

from __future__ import annotations

import heapq

from tcplab.stack.sockets import SocketRecord


class SocketTimers:
    """See the module docstring."""

    __slots__ = ("_heap", "_socks", "_tie", "timed")

    def __init__(self, socks: dict[int, SocketRecord]) -> None:
        self._socks = socks
        self._heap: list[tuple[float, int, int]] = []
        self._tie = 0
        self.timed = 0  # sockets with a deadline, to judge when the heap is mostly stale

    def __len__(self) -> int:
        return len(self._heap)

    def set(self, rec: SocketRecord, deadline: float | None) -> None:
        """``rec``'s deadline is now ``deadline`` (None: no timer)."""
        if deadline == rec.timer:
            return
        if rec.timer is None:
            self.timed += 1
        elif deadline is None:
            self.timed -= 1
        rec.timer = deadline
        if deadline is None:
            return
        self._tie += 1
        heapq.heappush(self._heap, (deadline, self._tie, rec.sid))
        if len(self._heap) > 4 * self.timed + 256:
            self._heap = [(r.timer, i, r.sid) for i, r in enumerate(self._socks.values())
                          if r.timer is not None]
            heapq.heapify(self._heap)

    def next(self) -> float | None:
        """The earliest valid deadline."""
        heap = self._heap
        while heap:
            deadline, _, sid = heap[0]
            rec = self._socks.get(sid)
            if rec is not None and rec.timer == deadline and not rec.finished:
                return deadline
            heapq.heappop(heap)
        return None

    def due(self, now: float) -> list[SocketRecord]:
        """The sockets whose deadline is at or before ``now``, their timers cleared.
        Collected first: a timer re-armed at or before ``now`` waits for the next call."""
        out: list[SocketRecord] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, sid = heapq.heappop(heap)
            rec = self._socks.get(sid)
            if rec is not None and rec.timer == deadline and not rec.finished:
                self.set(rec, None)
                out.append(rec)
        return out
