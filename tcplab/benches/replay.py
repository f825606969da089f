"""The replay benchmark: how fast the dashboard seeks in a long recording, and what its
history costs in memory.

Theory of operation
-------------------
* **The recording is real, then long.**  A lossy transfer runs on the simulated network
  (2 % loss, 10 ms links) and its events are recorded; the lines are then repeated,
  each copy later in time than the last, until the file holds ``events`` events (a
  million for the full figure).  Every line is a real event of a real run, so parsing
  and folding cost what they cost in a real recording.
* **Memory** (``replay_MB_per_Mevent``) is the growth of a fresh process's resident
  set while the dashboard's :class:`~tcplab.lab.timeline.Timeline` loads the file
  (index arrays, checkpoints, the fold), in MB per million events.
* **A seek** (``replay_seek_p95_ms``) is what the dashboard does when the cursor jumps
  to a random event: the fold at that point (:meth:`Timeline.snapshot`), the selected
  connection's ladder and the log before it (:mod:`tcplab.tui.history`).  The p95 of
  ``seeks`` random jumps, in milliseconds.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import codec
from tcplab.lab.lab import Lab
from tcplab.lab.timeline import Timeline
from tcplab.lab.topology import load_topology
from tcplab.tui import history

BASE_LINES = ("link h1 s1 delay=10ms loss=2%", "listen h2:80", "connect h1 h2:80 as c1",
              "wait 0.2", "send c1 --bytes 2000000", "wait 30", "close c1", "wait 1",
              "close c1'", "wait 1")


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def base_events() -> list[dict[str, object]]:
    """The events of one real lossy transfer, as recorded."""
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    out: list[dict[str, object]] = []
    lab.bus.subscribe(lambda e: out.append(codec.record(e)))
    lab.start()
    for line in BASE_LINES:
        assert lab.execute(line).ok, line
    lab.stop()
    return out


def write_recording(path: Path, events: int) -> None:
    """A schema-2 recording of ``events`` real events (see the module docstring)."""
    base = base_events()
    span = float(base[-1]["t"]) + 1.0  # type: ignore[arg-type]
    header = {"kind": "header", "schema": 2, "backend": "sim", "seed": 1, "clock": "virtual",
              "hosts": [{"name": "h1", "ip": "10.0.0.1", "kernel": False},
                        {"name": "h2", "ip": "10.0.0.2", "kernel": False}]}
    with open(path, "wb") as fh:
        fh.write((json.dumps(header) + "\n").encode())
        written, copy = 0, 0
        while written < events:
            shift = copy * span
            for ev in base[: events - written]:
                fh.write(codec.dumps({**ev, "t": float(ev["t"]) + shift}))  # type: ignore[arg-type]
            written += min(len(base), events - written)
            copy += 1


def memory_of_load(path: Path) -> int:
    """Bytes the resident set grows by while a fresh process loads ``path`` (in this
    process, memory freed by earlier benchmarks would be reused and hide the growth)."""
    code = ("import gc, sys; from tcplab.benches.replay import _rss; "
            "from tcplab.lab.timeline import Timeline; gc.collect(); b = _rss(); "
            "t = Timeline.load(sys.argv[1]); gc.collect(); print(_rss() - b)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=600, check=True)
    return int(done.stdout.strip())


def replay_benchmarks(quick: bool) -> dict[str, float]:
    events, seeks = (100_000, 30) if quick else (1_000_000, 200)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        write_recording(path, events)
        grown = memory_of_load(path)
        timeline = Timeline.load(path)
        try:
            rng = random.Random(1)
            keys = sorted(timeline.conn_events)
            times: list[float] = []
            for _ in range(seeks):
                n = rng.randrange(1, len(timeline) + 1)
                started = time.perf_counter()
                snap = timeline.snapshot(n)
                row = snap.rows.get(keys[rng.randrange(len(keys))])
                history.ladder(timeline, row, n)
                history.log_lines(timeline, n)
                times.append(time.perf_counter() - started)
        finally:
            timeline.close()
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
    return {"replay_seek_p95_ms": p95 * 1000,
            "replay_MB_per_Mevent": grown / 1e6 / (events / 1e6)}
