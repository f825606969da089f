"""``tcplab bench``: how fast and how well tcplab's TCP engine moves data.

Theory of operation
-------------------
Every figure comes from a registered benchmark (:data:`REGISTRY`): a function that
takes the run options and returns values for the metrics it declared.  ``main`` runs
them in order, prints a table or, with ``--json``, exactly one JSON object whose
keys are the metric names plus ``python`` and ``cpu``.  Adding a figure later (a
dashboard frame time, a Mininet throughput...) is one more :func:`benchmark`-decorated
function; the table, the JSON and the tests pick it up.

Each figure is the median of :data:`RUNS` runs (``--quick``: one run of smaller
sizes, for tests).  The engine figures are CPU time on this machine; the
loss figures are virtual time and so do not depend on the machine at all:

* ``bulk_MBps`` -- two engines in one process on a :class:`~tcplab.pair.Pair` with a
  perfect, zero-delay link, 64 MiB client to server, with default configs: payload
  bytes (10^6) per second of process CPU time, harness included.  The run is one
  thread doing nothing but compute, so on an idle machine this equals wall-clock
  goodput; CPU time keeps the figure steady when other work shares the cores.
* ``us_per_segment`` -- engine CPU per full-size data segment sent and acknowledged:
  the two connections are wired directly to each other (no link, no heap), so this
  is the engines' own cost for one data segment, its share of the ACKs and the
  application's send and recv copies.
* ``loss1_ratio`` / ``loss5_ratio`` -- goodput over a 10 Mbit/s link with 20 ms of
  propagation and 1 % / 5 % random loss of data segments (ACKs are not lost), divided
  by the Mathis et al. bound MSS/RTT * 1.22/sqrt(p), capped at the link rate.  Near 1
  means the engine recovers from loss as well as the classic Reno model says it can.
  The run keeps the bound's assumptions: the receiver acknowledges every segment
  (C = 1.22 is derived for one ACK per segment), and RTT is the path's round trip for
  a full segment and its ACK, serialisation included (21.2 ms).
* ``loss1_ratio_delack`` / ``loss5_ratio_delack`` -- the same with the receiver's
  default delayed ACKs (RFC 5681 §4.2, 40 ms): in a window of an odd number of
  segments the last one waits at the receiver for the next round trip's first, so an
  odd window of W segments carries W - 1 per round trip.
* ``sack_gain_5`` -- goodput with SACK over goodput without, at 5 % loss, same seeds.

The replay figures (:mod:`tcplab.benches.replay`): ``replay_seek_p95_ms``, a random
seek of the dashboard in a recording of a million events (``--quick``: 100,000), and
``replay_MB_per_Mevent``, the memory its history takes per million events.

The Mininet figures need root and Mininet (:mod:`tcplab.backends.mininet.bench` says
how each is taken); they are wall-clock figures of real namespaces and processes:

* ``mininet_MBps`` -- goodput h1 -> h2, two stack hosts on a LinuxBridge, no
  impairment, through the lab and its event stream; ``linux_MBps`` -- Linux's own TCP
  between two kernel hosts on the same bridge, the reference.
* ``mn_loss1_vs_linux`` / ``mn_loss5_vs_linux`` -- loss recovery beside Linux: across
  one 10 Mbit/s (htb) Mininet link losing 1 % / 5 % of the data frames, tcplab's stack
  hosts' goodput over Linux's (kernel hosts on the same link, the same run), 6 MB per
  transfer, default settings on both sides.
* ``start_2_s`` / ``start_20_s`` -- ``tcplab run`` start-up: building the lab until
  every agent is ready, for 2 and 20 stack hosts.

A benchmark that cannot run here (not root, no Mininet, or ``--quick``, which has no
time for building labs) raises :class:`Unavailable`: its keys are left out of the
JSON and the table says why in one line.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NoReturn

from tcplab.pair import CLIENT_ADDR, SERVER_ADDR, Impairment, Pair, run_transfer
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.states import State

__all__ = ["REGISTRY", "Metric", "Options", "Unavailable", "benchmark", "main", "run_all"]

RUNS = 3
MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool = False

    @property
    def runs(self) -> int:
        return 1 if self.quick else RUNS


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    unit: str
    what: str
    digits: int = 2


BenchFn = Callable[[Options], dict[str, float]]


class Unavailable(Exception):
    """A benchmark that cannot run here; the message is the one-line reason."""


@dataclass(frozen=True, slots=True)
class _Entry:
    metrics: tuple[Metric, ...]
    fn: BenchFn


REGISTRY: list[_Entry] = []


def benchmark(*metrics: Metric) -> Callable[[BenchFn], BenchFn]:
    """Register a benchmark that returns a value for each of ``metrics``."""
    def register(fn: BenchFn) -> BenchFn:
        REGISTRY.append(_Entry(metrics, fn))
        return fn
    return register


def _median(runs: int, fn: Callable[[int], float]) -> float:
    """The median of ``fn(run)`` for run = 1..runs (the run number seeds the run)."""
    return statistics.median(fn(run) for run in range(1, runs + 1))


# ---------------------------------------------------------------------- engine speed
@benchmark(Metric("bulk_MBps", "MB/s", "bulk over an in-memory link (64 MiB; 4 with --quick), "
                 "per CPU second", 1))
def bench_bulk(opts: Options) -> dict[str, float]:
    nbytes = 4 * MiB if opts.quick else 64 * MiB

    def once(seed: int) -> float:
        pair = Pair(nbytes, seed=seed)
        start = time.process_time()
        result = pair.run()
        cpu = time.process_time() - start
        if not result.intact:
            raise RuntimeError("bulk transfer corrupted data")
        return nbytes / 1e6 / cpu

    return {"bulk_MBps": _median(opts.runs, once)}


def _connected(cfg: Config) -> tuple[Connection, Connection]:
    """A client and server that finished the three-way handshake at time 0."""
    listener = Connection(SERVER_ADDR, cfg)
    listener.listen(0.0)
    client = Connection(CLIENT_ADDR, cfg)
    client.connect(SERVER_ADDR, 0.0)
    syn = client.segments_to_send()[0]
    server = listener.spawn((CLIENT_ADDR[0], syn.src_port))
    server.receive(syn, 0.0)
    for seg in server.segments_to_send():
        client.receive(seg, 0.0)
    for seg in client.segments_to_send():
        server.receive(seg, 0.0)
    if client.state is not State.ESTABLISHED or server.state is not State.ESTABLISHED:
        raise RuntimeError("handshake failed")
    return client, server


def _engine_cpu(nbytes: int) -> tuple[float, int]:
    """CPU seconds to move ``nbytes`` between two directly wired engines, and the number
    of full-size data segments that took."""
    client, server = _connected(Config())
    chunk = bytes(client.config.sndbuf)
    mss = client.snd_mss
    full = 0
    written = received = 0
    now = 1e-6
    start = time.process_time()
    while received < nbytes:
        free = min(client.config.sndbuf - client.send_queue, nbytes - written)
        if free > 0:
            written += client.send(chunk[:free], now)
        moved = False
        for seg in client.segments_to_send():
            moved = True
            if len(seg.payload) == mss:
                full += 1
            server.receive(seg, now)
        if server.readable:
            received += len(server.recv(server.readable, now))
        for seg in server.segments_to_send():
            moved = True
            client.receive(seg, now)
        if not moved:
            # only a timer (a delayed ACK) can make progress: jump to it
            timers = [t for t in (client.get_timer(), server.get_timer()) if t is not None]
            now = max(now, min(timers))
            client.handle_timer(now)
            server.handle_timer(now)
        now += 1e-6  # a tiny RTT keeps the RTO estimator's arithmetic ordinary
    return time.process_time() - start, full


@benchmark(Metric("us_per_segment", "µs", "engine CPU per full-size data segment + ACKs", 1))
def bench_engine(opts: Options) -> dict[str, float]:
    nbytes = 2 * MiB if opts.quick else 16 * MiB

    def once(_run: int) -> float:
        cpu, full = _engine_cpu(nbytes)
        return cpu / full * 1e6

    return {"us_per_segment": _median(opts.runs, once)}


# ---------------------------------------------------------------------- loss recovery
RTT = 0.020
LINK_BPS = 10e6
HEADERS = 52  # IPv4 + TCP headers with the timestamp option, on data and ACKs alike


def lossy_goodput(nbytes: int, loss: float, sack: bool, seed: int,
                   delayed_ack: bool = True) -> tuple[float, int]:
    """Goodput (bytes per virtual second) and effective MSS over the lossy 10 Mbit/s
    link; without ``delayed_ack`` the receiver acknowledges every segment at once."""
    cfg = replace(Config(), sack=sack)
    receiver = cfg if delayed_ack else replace(cfg, delayed_ack=0.0)
    data = Impairment(loss=loss, delay=RTT / 2, bandwidth=LINK_BPS)
    acks = Impairment(delay=RTT / 2, bandwidth=LINK_BPS)
    result = run_transfer(nbytes, seed=seed, config=cfg, server_config=receiver,
                          c2s=data, s2c=acks)
    if not result.intact:
        raise RuntimeError(f"lossy transfer (p={loss}, seed={seed}) corrupted data")
    return result.goodput, result.mss


def mathis_bound(mss: int, rtt: float, loss: float, link_bytes_per_s: float) -> float:
    """Mathis, Semke, Mahdavi, Ott (1997): MSS/RTT * C/sqrt(p), C = sqrt(3/2) ~ 1.22."""
    return min(mss / rtt * 1.22 / math.sqrt(loss), link_bytes_per_s)


def path_rtt(mss: int, propagation: float = RTT) -> float:
    """The link's round trip for a full segment and its ACK: the propagation both
    ways plus the time each takes to serialise at the link rate (1.2 ms here)."""
    return propagation + (mss + 2 * HEADERS) * 8 / LINK_BPS


def _loss_ratio(nbytes: int, loss: float, runs: int, delayed_ack: bool) -> float:
    def once(seed: int) -> float:
        goodput, mss = lossy_goodput(nbytes, loss, True, seed, delayed_ack)
        return goodput / mathis_bound(mss, path_rtt(mss), loss, LINK_BPS / 8)
    return _median(runs, once)


@benchmark(
    Metric("loss1_ratio", "", "goodput / Mathis bound, 1% loss, 20 ms, 10 Mbit/s, "
           "an ACK per segment"),
    Metric("loss5_ratio", "", "goodput / Mathis bound, 5% loss, 20 ms, 10 Mbit/s, "
           "an ACK per segment"),
    Metric("loss1_ratio_delack", "", "the same at 1% loss, the receiver delaying ACKs"),
    Metric("loss5_ratio_delack", "", "the same at 5% loss, the receiver delaying ACKs"),
    Metric("sack_gain_5", "x", "goodput with SACK / without, 5% loss"),
)
def bench_loss(opts: Options) -> dict[str, float]:
    # Enough segments for ~100 loss events per run, so one unlucky burst moves little.
    size1, size5 = (1 * MiB, 1 * MiB) if opts.quick else (16 * MiB, 4 * MiB)

    def gain(seed: int) -> float:
        with_sack, _ = lossy_goodput(size5, 0.05, True, seed)
        without, _ = lossy_goodput(size5, 0.05, False, seed)
        return with_sack / without

    return {
        "loss1_ratio": _loss_ratio(size1, 0.01, opts.runs, delayed_ack=False),
        "loss5_ratio": _loss_ratio(size5, 0.05, opts.runs, delayed_ack=False),
        "loss1_ratio_delack": _loss_ratio(size1, 0.01, opts.runs, delayed_ack=True),
        "loss5_ratio_delack": _loss_ratio(size5, 0.05, opts.runs, delayed_ack=True),
        "sack_gain_5": _median(opts.runs, gain),
    }


# ---------------------------------------------------------------------- Mininet
MININET_BYTES = 64 * MiB       # per stack transfer: ~250 round trips of a full window, so
                               # slow start and the command round trip weigh little
LINUX_BYTES = 256 * MiB        # Linux is ~40 times faster: still ~0.5 s, well past slow start
LAB_SIZES = (2, 20)
LOSS_BYTES = 6_000_000         # per transfer in the Mininet loss benchmark
LOSS_PERCENTS = (1, 5)


@benchmark(
    Metric("tui_p95_ms", "ms", "dashboard: event to redraw, p95, 1000 sockets, 2000 events/s", 1),
    Metric("tui_cpu", "cores", "dashboard process CPU under that feed", 2),
)
def bench_tui(opts: Options) -> dict[str, float]:
    from tcplab.benches.tui import tui_benchmarks

    return tui_benchmarks(opts.quick)


@benchmark(
    Metric("replay_seek_p95_ms", "ms",
           "replay: a random seek in a 1M-event recording (fold, ladder, log), p95", 1),
    Metric("replay_MB_per_Mevent", "MB", "replay: dashboard memory per million events", 1),
)
def bench_replay(opts: Options) -> dict[str, float]:
    from tcplab.benches.replay import replay_benchmarks

    return replay_benchmarks(opts.quick)


@benchmark(
    Metric("mininet_MBps", "MB/s", "goodput between two stack hosts on a LinuxBridge", 1),
    Metric("linux_MBps", "MB/s", "Linux TCP on the same bridge (the reference)", 1),
    *(Metric(f"start_{n}_s", "s", f"lab start until all agents are ready, {n} hosts")
      for n in LAB_SIZES),
    *(Metric(f"mn_loss{p}_vs_linux", "x",
             f"goodput / Linux's, same 10 Mbit/s Mininet link, {p}% data loss")
      for p in LOSS_PERCENTS),
)
def bench_mininet(opts: Options) -> dict[str, float]:
    if opts.quick:
        raise Unavailable("not measured with --quick (building a lab takes seconds)")
    from tcplab.cli.run import mininet_unusable

    why = mininet_unusable()
    if why is not None:
        raise Unavailable(f"Mininet unavailable: {why}")
    out = mininet_figures(MININET_BYTES, LINUX_BYTES, opts.runs)
    out.update(mininet_loss_figures(LOSS_BYTES, opts.runs))
    return out


def mininet_figures(nbytes: int, linux_bytes: int, runs: int) -> dict[str, float]:
    """The Mininet figures with the given transfer sizes (tests use small ones)."""
    from tcplab.backends.mininet import bench as M
    from tcplab.backends.mininet.backend import MininetError

    def start(hosts: int) -> Callable[[int], float]:
        return lambda _run: M.start_time(hosts)

    try:
        out = M.goodput(nbytes, linux_bytes, runs)
        for n in LAB_SIZES:
            out[f"start_{n}_s"] = _median(runs, start(n))
    except (M.BenchError, MininetError) as exc:
        raise Unavailable(f"Mininet benchmark failed: {exc}") from None
    return out


def mininet_loss_figures(nbytes: int, runs: int) -> dict[str, float]:
    """``mn_lossP_vs_linux`` with the given transfer size (tests use small ones)."""
    from tcplab.backends.mininet import bench as M
    from tcplab.backends.mininet.backend import MininetError

    try:
        return M.loss_goodput(nbytes, LOSS_PERCENTS, runs)
    except (M.BenchError, MininetError) as exc:
        raise Unavailable(f"Mininet benchmark failed: {exc}") from None


# ---------------------------------------------------------------------- driver
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def run_all(opts: Options, progress: Callable[[str], None] | None = None,
            skipped: dict[str, str] | None = None) -> dict[str, object]:
    """Every registered benchmark, then ``python`` and ``cpu``, as one flat dict.  A
    benchmark that raised :class:`Unavailable` has no keys; ``skipped`` (when given)
    gets its metrics' keys, joined by ", ", mapped to the reason."""
    out: dict[str, object] = {}
    for entry in REGISTRY:
        keys = ", ".join(m.key for m in entry.metrics)
        if progress is not None:
            progress(keys)
        try:
            values = entry.fn(opts)
        except Unavailable as exc:
            if skipped is not None:
                skipped[keys] = str(exc)
            continue
        for m in entry.metrics:
            out[m.key] = values[m.key]
    out["python"] = platform.python_version()
    out["cpu"] = cpu_model()
    return out


def _table(results: dict[str, object], skipped: dict[str, str]) -> str:
    rows = [(m.key, f"{results[m.key]:.{m.digits}f}", m.unit, m.what)
            for entry in REGISTRY for m in entry.metrics if m.key in results]
    rows += [("python", str(results["python"]), "", ""), ("cpu", str(results["cpu"]), "", "")]
    w0 = max(len(r[0]) for r in rows)
    w1 = max((len(r[1]) for r in rows[:-2]), default=0)
    lines = []
    for key, value, unit, what in rows:
        lines.append(f"{key:<{w0}}  {value:>{w1}} {unit:<5} {what}".rstrip())
    lines[-2:-2] = [f"{keys}: {why}" for keys, why in skipped.items()]
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: list[str]) -> int:
    """Entry point of ``tcplab bench``; returns the exit status."""
    parser = _Parser(
        prog="tcplab bench",
        description="Measure tcplab's TCP engine: speed, and goodput under loss.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true",
                        help="one run of small sizes (seconds, for tests)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # the parser already printed a one-line error or the help
        return int(exc.code or 0)
    opts = Options(quick=args.quick)
    progress = None if args.json else (lambda what: print(f"running {what}...",
                                                          file=sys.stderr, flush=True))
    skipped: dict[str, str] = {}
    results = run_all(opts, progress, skipped)
    if args.json:
        print(json.dumps(results))
    else:
        print(_table(results, skipped))
    return 0
