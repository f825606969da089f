"""Point-to-point links: two independent directions, each with its own impairments.

A frame handed to :meth:`LinkDirection.send` goes through these stages, in order,
each decided at send time from the direction's current :class:`LinkParams`:

1. **up/down** - a down direction drops it ("link down").
2. **filters** - the first matching :class:`FrameFilter` holds it (kept until
   :meth:`LinkDirection.release`) or drops it ("filter").
3. **queue and bandwidth** - with ``bw`` set, frames are serialised one after the
   other at ``bw`` bits/s; a frame that finds ``queue`` frames still waiting or
   being serialised is dropped ("queue full"), as a tail-drop qdisc would.
4. **loss** - random loss and, independently, the Gilbert–Elliott burst model
   if configured ("link loss"). A lost frame has already used its share of the bandwidth: it
   is lost on the wire, not in the queue.
5. **duplication** - the copy arrives right after the original.
6. **delay and jitter** - arrival = end of serialisation + delay ± jitter (uniform,
   like netem without a distribution table), then clamped to no earlier than the
   previous arrival so that jitter alone never reorders, as netem behaves when a
   rate is set.
7. **reorder** - a reordered frame skips the clamp and waits one more link delay
   (at least :data:`REORDER_EXTRA_MIN`), so frames sent after it overtake it.

Random numbers are drawn only for impairments that are switched on, so a clean
link consumes none of the run's shared ``random.Random`` and adding one does not
perturb what happens elsewhere.

Frames in flight when the direction goes down are dropped ("link down") when they
would have arrived, even if it comes back up in between: the cable was pulled.
Because arrival times are fixed at send time, a parameter change affects only
frames sent after it.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tcplab.netem.clock import Scheduler

# The smallest extra delay of a reordered frame, so reordering is visible on a
# zero-delay link too.
REORDER_EXTRA_MIN = 0.001

FilterAction = Literal["hold", "drop"]
DeliverFn = Callable[[bytes], None]
DropFn = Callable[[bytes, str], None]


@dataclass(frozen=True)
class GilbertElliott:
    """Two-state burst-loss model (netem ``loss gemodel``), evaluated once per frame.

    The channel is *good* or *bad*; a frame is lost with the current state's loss
    probability, then the state moves good->bad with probability ``p`` or
    bad->good with probability ``r``. Mean burst length is ``1/r`` frames.
    """

    p: float
    r: float
    loss_bad: float = 1.0
    loss_good: float = 0.0


@dataclass(frozen=True)
class LinkParams:
    """Impairments of one link direction. Times in seconds, fractions in [0, 1]."""

    delay: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0
    burst: GilbertElliott | None = None
    dup: float = 0.0
    reorder: float = 0.0
    bw: float | None = None  # bits/s; None means unlimited
    queue: int = 1000  # packets, Mininet's netem limit
    up: bool = True

    def __post_init__(self) -> None:
        for name in ("delay", "jitter"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a time >= 0 seconds, not {value!r}")
        fractions = {"loss": self.loss, "dup": self.dup, "reorder": self.reorder}
        if self.burst is not None:
            fractions.update(
                {
                    "burst p": self.burst.p,
                    "burst r": self.burst.r,
                    "burst loss_bad": self.burst.loss_bad,
                    "burst loss_good": self.burst.loss_good,
                }
            )
        for name, value in fractions.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0% and 100%, not {value!r}")
        if self.bw is not None and not (math.isfinite(self.bw) and self.bw > 0):
            raise ValueError(f"bw must be a rate > 0 bits/s, not {self.bw!r}")
        if self.queue < 1:
            raise ValueError(f"queue must be at least 1 packet, not {self.queue!r}")


_PARAM_NAMES = frozenset(f.name for f in dataclasses.fields(LinkParams))


@dataclass(eq=False)
class FrameFilter:
    """Holds or drops the frames ``pred`` accepts; ``remaining`` None means forever."""

    pred: Callable[[bytes], bool]
    action: FilterAction
    remaining: int | None
    matched: int = 0


@dataclass
class DirectionStats:
    """Running totals for one direction; the dashboard differentiates bytes for rates."""

    sent_frames: int = 0
    sent_bytes: int = 0
    delivered_frames: int = 0
    delivered_bytes: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


class LinkDirection:
    """One direction of a link: impairs frames and schedules their delivery."""

    def __init__(
        self,
        name: str,
        scheduler: Scheduler,
        rng: random.Random,
        params: LinkParams,
        deliver: DeliverFn,
        on_drop: DropFn,
    ) -> None:
        self.name = name
        self.params = params
        self.stats = DirectionStats()
        self._scheduler = scheduler
        self._rng = rng
        self._deliver = deliver
        self._on_drop = on_drop
        self._filters: list[FrameFilter] = []
        self._held: deque[bytes] = deque()
        # Serialisation end times of frames not yet fully on the wire.
        self._queue: deque[float] = deque()
        self._wire_free = -math.inf
        self._last_arrival = -math.inf
        self._burst_bad = False
        # Bumped on every up->down so frames in flight across an outage are lost.
        self._epoch = 0

    def set(self, **changes: Any) -> None:
        """Change parameters live, e.g. ``set(loss=0.05, delay=0.02)``."""
        new = dataclasses.replace(self.params, **_checked_names(changes))
        if self.params.up and not new.up:
            self._epoch += 1
        if new.burst is None:
            self._burst_bad = False
        self.params = new

    def queue_length(self, now: float) -> int:
        """Frames waiting for or being serialised at time ``now``."""
        queue = self._queue
        while queue and queue[0] <= now:
            queue.popleft()
        return len(queue)

    # -- the frame path -------------------------------------------------------

    def send(self, frame: bytes, now: float) -> None:
        """Offer ``frame`` to this direction at time ``now``."""
        stats = self.stats
        stats.sent_frames += 1
        stats.sent_bytes += len(frame)
        params = self.params
        if not params.up:
            self._drop(frame, "link down")
            return
        if self._filters and self._apply_filters(frame):
            return
        if self.queue_length(now) >= params.queue:
            self._drop(frame, "queue full")
            return
        on_wire = self._serialise(len(frame), now)
        if self._lost():
            self._drop(frame, "link loss")
            return
        rng = self._rng
        arrival = self._propagate(on_wire)
        duplicate = bool(params.dup) and rng.random() < params.dup
        if params.reorder and rng.random() < params.reorder:
            arrival += max(params.delay, REORDER_EXTRA_MIN)
        else:
            arrival = max(arrival, self._last_arrival)
            self._last_arrival = arrival
        self._schedule(frame, arrival)
        if duplicate:
            self._schedule(frame, arrival)

    def _serialise(self, size: int, now: float) -> float:
        """Queue ``size`` bytes for the wire; return when the last bit is sent."""
        start = max(now, self._wire_free)
        bw = self.params.bw
        end = start + size * 8 / bw if bw is not None else start
        self._wire_free = end
        if end > now:
            self._queue.append(end)
        return end

    def _propagate(self, on_wire: float) -> float:
        """Arrival time of a frame fully on the wire at ``on_wire``, before FIFO clamping."""
        params = self.params
        arrival = on_wire + params.delay
        if params.jitter:
            arrival = max(on_wire, arrival + self._rng.uniform(-params.jitter, params.jitter))
        return arrival

    def _lost(self) -> bool:
        params = self.params
        rng = self._rng
        if params.loss and rng.random() < params.loss:
            return True
        model = params.burst
        if model is None:
            return False
        loss = model.loss_bad if self._burst_bad else model.loss_good
        lost = bool(loss) and rng.random() < loss
        flip = model.r if self._burst_bad else model.p
        if flip and rng.random() < flip:
            self._burst_bad = not self._burst_bad
        return lost

    def _schedule(self, frame: bytes, t: float) -> None:
        epoch = self._epoch
        self._scheduler.call_at(t, lambda: self._arrive(frame, epoch))

    def _arrive(self, frame: bytes, epoch: int) -> None:
        if epoch != self._epoch or not self.params.up:
            self._drop(frame, "link down")
            return
        self.stats.delivered_frames += 1
        self.stats.delivered_bytes += len(frame)
        self._deliver(frame)

    def _drop(self, frame: bytes, reason: str) -> None:
        dropped = self.stats.dropped
        dropped[reason] = dropped.get(reason, 0) + 1
        self._on_drop(frame, reason)

    # -- filters and held frames ----------------------------------------------

    def add_filter(
        self, pred: Callable[[bytes], bool], action: FilterAction, count: int | None = None
    ) -> FrameFilter:
        """Hold or drop the next ``count`` frames (None: all) that ``pred`` accepts.

        Filters are tried in the order they were added; the first match wins and
        a filter whose count runs out is removed.
        """
        if action not in ("hold", "drop"):
            raise ValueError(f"filter action must be 'hold' or 'drop', not {action!r}")
        if count is not None and count < 1:
            raise ValueError(f"filter count must be at least 1, not {count!r}")
        flt = FrameFilter(pred, action, count)
        self._filters.append(flt)
        return flt

    def remove_filter(self, flt: FrameFilter) -> None:
        """Stop applying ``flt``; frames it already holds stay held."""
        if flt in self._filters:
            self._filters.remove(flt)

    @property
    def filters(self) -> tuple[FrameFilter, ...]:
        return tuple(self._filters)

    @property
    def held(self) -> tuple[bytes, ...]:
        """Frames held by filters, oldest first."""
        return tuple(self._held)

    def release(self, count: int | None = None) -> int:
        """Let the oldest ``count`` held frames (None: all) go; returns how many.

        Released frames start from the release time: they are serialised and
        delayed like any frame (jitter included, FIFO kept) but skip the filters,
        the queue limit, loss, duplication and reordering - the user asked for
        exactly these frames to arrive. A down direction still drops them.
        """
        n = len(self._held) if count is None else min(count, len(self._held))
        now = self._scheduler.now
        for _ in range(n):
            frame = self._held.popleft()
            if not self.params.up:
                self._drop(frame, "link down")
                continue
            arrival = self._propagate(self._serialise(len(frame), now))
            arrival = max(arrival, self._last_arrival)
            self._last_arrival = arrival
            self._schedule(frame, arrival)
        return n

    def end_holds(self) -> int:
        """Stop every hold filter and let all held frames go; returns how many."""
        for flt in self.filters:
            if flt.action == "hold":
                self.remove_filter(flt)
        return self.release()

    def drop_held(self, count: int | None = None) -> int:
        """Drop the oldest ``count`` held frames (None: all) as "filter"; returns how many."""
        n = len(self._held) if count is None else min(count, len(self._held))
        for _ in range(n):
            self._drop(self._held.popleft(), "filter")
        return n

    def _apply_filters(self, frame: bytes) -> bool:
        """Hold or drop ``frame`` if a filter wants it; True when it was taken."""
        for flt in self._filters:
            if not flt.pred(frame):
                continue
            flt.matched += 1
            if flt.remaining is not None:
                flt.remaining -= 1
                if flt.remaining == 0:
                    self._filters.remove(flt)
            if flt.action == "hold":
                self._held.append(frame)
            else:
                self._drop(frame, "filter")
            return True
        return False


class Link:
    """A cable between two interfaces: ``forward`` carries a->b, ``reverse`` b->a."""

    def __init__(
        self,
        name: str,
        a: str,
        b: str,
        a_ifname: str,
        b_ifname: str,
        forward: LinkDirection,
        reverse: LinkDirection,
    ) -> None:
        self.name = name
        self.a = a
        self.b = b
        self.a_ifname = a_ifname
        self.b_ifname = b_ifname
        self.forward = forward
        self.reverse = reverse

    def direction(self, src: str, dst: str) -> LinkDirection:
        """The direction carrying frames from node ``src`` to node ``dst``."""
        if (src, dst) == (self.a, self.b):
            return self.forward
        if (src, dst) == (self.b, self.a):
            return self.reverse
        raise ValueError(f"link {self.name} does not go from {src} to {dst}")

    def set(self, **changes: Any) -> None:
        """Change parameters of both directions; nothing changes if either rejects them."""
        # Validate once up front so a bad value never leaves the directions disagreeing.
        dataclasses.replace(self.forward.params, **_checked_names(changes))
        self.forward.set(**changes)
        self.reverse.set(**changes)


def _checked_names(changes: dict[str, Any]) -> dict[str, Any]:
    for key in sorted(changes):
        if key not in _PARAM_NAMES:
            raise ValueError(f"unknown link parameter {key!r}")
    return changes
