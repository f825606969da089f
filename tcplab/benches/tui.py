"""The dashboard's benchmark: how fast the screen follows a busy lab, at what CPU cost.

Theory of operation
-------------------
The issue's bar: with 1000 sockets and 2000 events/s the screen is updated within
100 ms (p95) and the UI process stays under half a core.  :func:`tui_benchmarks`
measures exactly that, headless (``App.run_test``):

* **The lab is real.**  A simulated ``pair`` lab on the real (wall) clock, as
  ``tcplab run`` opens it, with 500 connections h1 -> h2:80 opened (after the dashboard
  subscribed to the lab, as in a session) and established:
  1000 connection sockets and a listener.  So each refresh pays the real price of
  ``Lab.sockets()`` (1000 ``SocketInfo`` snapshots) and of the table; a fake lab
  returning canned rows would hide that.
* **The events are synthetic.**  An asyncio task in the app's own loop publishes
  ``RATE`` events per second on the lab's bus, in batches every ``TICK`` s: segments
  sent and received (with real sids and four-tuples, so the model files them under
  real connections), deliveries, and one state change in a hundred.  A tenth of them
  concern the selected connection, so its ladder and plots have work too.  Real traffic
  would put the simulator's own CPU into the figure; this feed measures the dashboard.
* **Latency** is measured per dirty episode: from the publication of the first event
  that found the model clean, to the end of the refresh that drew it.  That is the
  oldest pending event of each redraw, the worst case.  The refresh is timed by
  wrapping the app's refresh method on the instance before the app mounts (its
  interval timer then calls the wrapper); Textual paints the updated widgets on its
  next frame, which is not included.
* **CPU** is ``time.process_time()`` over wall time while the feed runs: the whole
  process (feed, model, refreshes, Textual's headless compositor).  A real terminal
  adds the cost of writing the frames.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.stack import events as H
from tcplab.stack.sockets import SocketInfo
from tcplab.tcp.segment import ACK, PSH, Segment
from tcplab.tcp.states import State, Trigger
from tcplab.tui.app import TcplabApp

CONNECTIONS = 500          # two sockets each: 1000 sockets
RATE = 2000                # events per second
TICK = 0.005               # the feed publishes a batch this often (s)
SECONDS_QUICK, SECONDS_FULL = 1.5, 5.0
WARMUP = 0.5               # let the first full table build settle before measuring
SIZE = (160, 48)


@dataclass(slots=True)
class TuiRun:
    latencies: list[float] = field(default_factory=list)  # seconds, one per redraw
    cpu: float = 0.0                                      # cores
    events: int = 0

    @property
    def p95_ms(self) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=20)[-1] * 1000


def real_clock_lab(seed: int = 1) -> Lab:
    lab = Lab(load_topology("pair"), SimBackend(seed, virtual=False))
    lab.keep_timeline()  # as tcplab run does: the dashboard draws every event
    lab.start()
    return lab


def open_connections(lab: Lab, connections: int = CONNECTIONS) -> None:
    """``connections`` established connections h1 -> h2:80."""
    if not lab.execute("listen h2:80").ok:
        raise RuntimeError("bench: cannot listen on h2:80")
    for _ in range(connections):
        result = lab.execute("connect h1 h2:80")
        if not result.ok:
            raise RuntimeError(f"bench: {result.message}")
    lab.wait(0.2)  # zero-delay links: every handshake is done by then


class Feed:
    """Synthetic, plausible events about the lab's real connections."""

    def __init__(self, lab: Lab, rng: random.Random) -> None:
        self.lab = lab
        self.rng = rng
        self.conns: list[tuple[str, SocketInfo]] = [
            (host, info) for host, info in lab.sockets()
            if info.kind == "connection" and info.remote is not None]
        self.seq: dict[tuple[str, int], int] = {}
        self.favourite: tuple[str, SocketInfo] | None = None

    def event(self) -> H.HostEvent:
        rng = self.rng
        if self.favourite is not None and rng.random() < 0.1:
            host, info = self.favourite
        else:
            host, info = self.conns[rng.randrange(len(self.conns))]
        assert info.remote is not None
        t = self.lab.now()
        roll = rng.random()
        if roll < 0.01:
            return H.StateChanged(t, host, info.id, State.ESTABLISHED, State.ESTABLISHED,
                                  Trigger.RCV_ACK_OF_SYN, "bench", local=info.local,
                                  remote=info.remote)
        key = (host, info.id)
        seq = self.seq.get(key, info.status.snd_nxt)
        if roll < 0.5:
            seg = Segment(info.local[1], info.remote[1], seq, info.status.rcv_nxt,
                          ACK | PSH, 512, payload=b"x" * 100)
            self.seq[key] = (seq + 100) & 0xFFFFFFFF
            return H.SegmentSent(t, host, info.id, info.local, info.remote, seg, "eth0")
        if roll < 0.9:
            seg = Segment(info.remote[1], info.local[1], info.status.rcv_nxt, seq, ACK, 512)
            return H.SegmentReceived(t, host, info.id, info.remote, info.local, seg, "eth0")
        return H.Delivered(t, host, info.id, b"y" * 100)


async def _drive(app: TcplabApp, feed: Feed, seconds: float, run: TuiRun,
                 pending: list[float]) -> None:
    started = time.perf_counter()
    cpu0 = time.process_time()
    published = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed * RATE) - published
        for _ in range(due):
            if not app.dirty and not pending:
                pending.append(time.perf_counter())
            feed.lab.bus.publish(feed.event())
        published += max(due, 0)
        await asyncio.sleep(TICK)
    wall = time.perf_counter() - started
    run.cpu = (time.process_time() - cpu0) / wall
    run.events = published


def _timed_refresh(app: TcplabApp, run: TuiRun, pending: list[float],
                   measuring: Callable[[], bool]) -> None:
    inner = app._refresh

    def refresh(force: bool = False) -> None:
        had_news = app.dirty and bool(pending)
        inner(force)
        if had_news and not app.dirty:
            if measuring():
                run.latencies.append(time.perf_counter() - pending[0])
            pending.clear()

    # instance attribute: the refresh interval set up in on_mount finds it first
    setattr(app, "_refresh", refresh)  # noqa: B010


async def measure(lab: Lab, seconds: float, seed: int = 1) -> TuiRun:
    """Open the connections on ``lab`` under a dashboard and run the synthetic feed for
    ``seconds``.  The dashboard exists before the connections, as in a session, so its
    model has seen every socket's handshake (and flashed its state)."""
    run = TuiRun()
    pending: list[float] = []
    phase = {"measuring": False}
    app = TcplabApp(lab, seed=seed)
    _timed_refresh(app, run, pending, lambda: phase["measuring"])
    open_connections(lab)
    feed = Feed(lab, random.Random(seed))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if app.selected is not None:
            host, sid = app.selected
            feed.favourite = next(((h, i) for h, i in feed.conns if (h, i.id) == (host, sid)),
                                  None)
        await _drive(app, feed, WARMUP, TuiRun(), pending)
        phase["measuring"] = True
        await _drive(app, feed, seconds, run, pending)
        phase["measuring"] = False
        # let the last redraw finish before the app is torn down under it
        await pilot.pause(0.3)
    return run


def tui_benchmarks(quick: bool) -> dict[str, float]:
    """``tui_p95_ms``: p95 latency from an event to the refresh that drew it (ms);
    ``tui_cpu``: the process's CPU use while the feed runs (cores)."""
    lab = real_clock_lab()
    try:
        run = asyncio.run(measure(lab, SECONDS_QUICK if quick else SECONDS_FULL))
    finally:
        lab.stop()
    return {"tui_p95_ms": run.p95_ms, "tui_cpu": run.cpu}
