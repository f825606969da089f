"""Loss recovery over many seeds on the simulated link (tcplab.pair): goodput, RTO
firings, tail loss probes, recovery episodes and spurious retransmissions.

    PYTHONPATH=. .venv/bin/python scripts/loss_sweep.py [--seeds 20] [--loss 0.05]
        [--delay 0] [--bytes 6000000] [--rto-min 1] [--delayed-ack 0.04] [--trace]

``--delay`` is the one-way propagation delay in each direction (0: like the Mininet
bench's link, whose round trip is only serialisation and queueing; 0.01: the
``loss5_ratio`` bench's 20 ms).  Data segments are lost with ``--loss``; ACKs never.

A retransmission is *spurious* when every byte it carries was already on its way to
the receiver in an earlier copy that the link did not lose (the link draws the loss
when a segment is sent, so that is known at once).  ``--trace`` prints the sender's
state at every RTO firing.  ``--delayed-ack 0`` makes both ends acknowledge every
segment at once (what the delayed ACKs of RFC 5681 §4.2 cost).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from tcplab.bench import mathis_bound, path_rtt
from tcplab.pair import Impairment, Pair, _Direction, _Side
from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.events import Retransmitted, TimerFired
from tcplab.tcp.recovery import LossRecovery
from tcplab.tcp.segment import Segment


@dataclass
class Run:
    seed: int
    mbps: float
    rtos: int
    tlps: int
    episodes: int
    retrans: int
    spurious: int
    lost: int
    data_segs: int
    mss: int


_episodes = 0


@contextmanager
def _count_episodes() -> Iterator[None]:
    """Count recovery entries (the client is the only sender of data)."""
    global _episodes
    orig = LossRecovery.enter_recovery

    def wrapped(self: LossRecovery, now: float) -> None:
        global _episodes
        _episodes += 1
        orig(self, now)

    orig_rto = LossRecovery.on_rto

    def rto(self: LossRecovery, now: float) -> object:
        if _tracing and self.tcb.syn_acked:
            _trace(self, now)
        return orig_rto(self, now)

    LossRecovery.enter_recovery = wrapped  # type: ignore[method-assign]
    LossRecovery.on_rto = rto  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        LossRecovery.enter_recovery = orig  # type: ignore[method-assign]
        LossRecovery.on_rto = orig_rto  # type: ignore[method-assign]


_tracing = False


def _trace(tx: LossRecovery, now: float) -> None:
    """The sender's state as the RTO fires (before it acts)."""
    t = tx.tcb
    mss = t.snd_mss
    segs = [f"{sq.sub(r.start, t.snd_una) // mss}{'r' if r.retrans else ''}"
            f"{'S' if r.sacked else ''}{'L' if r.lost else ''}" for r in tx.rack.segs]
    print(f"    RTO at {now:8.3f}: flight={sq.sub(t.snd_max, t.snd_una) / mss:.1f} "
          f"cwnd={tx.cc.cwnd / mss:.1f} ssthresh={tx.cc.ssthresh / mss:.1f} "
          f"recovery={tx.mode or '-'} after_rto={tx.rto_recover is not None} "
          f"rto_count={tx.rto_count} srtt={tx.rtt.srtt} segs={' '.join(segs[:10])}")


class _Measured(Pair):
    def __init__(self, *args: object, trace: bool = False, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.trace = trace
        self.rtos = self.tlps = self.retrans = self.spurious = 0
        self.got = bytearray(self._nbytes + 2)  # a copy delivered or on its way
        self.iss: int | None = None

    def _transmit(self, d: _Direction, to_server: bool, segs: list[Segment]) -> None:
        if not to_server:
            super()._transmit(d, to_server, segs)
            return
        cc = self.client.conn
        assert cc is not None
        for seg in segs:  # one at a time, so each one's fate is known
            lost_before = d.stats.lost
            super()._transmit(d, to_server, [seg])
            if not seg.payload:
                continue
            if self.iss is None:
                self.iss = cc.tcb.iss
            off = sq.sub(seg.seq, sq.add(self.iss, 1))
            end = off + len(seg.payload)
            chunk = self.got[off:end]
            if chunk.count(0) == 0:
                self.spurious += 1
            if d.stats.lost == lost_before:
                self.got[off:end] = b"\x01" * (end - off)

    def _drain(self, side: _Side, conn: Connection) -> None:  # type: ignore[override]
        if conn is self.client.conn:
            for ev in conn.tcb.events:
                if isinstance(ev, TimerFired):
                    if ev.name == "rtx" and conn.tcb.snd_una != conn.tcb.snd_max:
                        self.rtos += 1
                    elif ev.name == "tlp":
                        self.tlps += 1
                elif isinstance(ev, Retransmitted):
                    self.retrans += 1
        Pair._drain(side, conn)


def run(seed: int, nbytes: int, loss: float, delay: float, cfg: Config,
        trace: bool, reorder: float = 0.0) -> Run:
    global _episodes, _tracing
    _episodes = 0
    _tracing = trace
    pair = _Measured(nbytes, seed=seed, config=cfg, trace=trace,
                     c2s=Impairment(loss=loss, delay=delay, bandwidth=10e6,
                                    reorder=reorder),
                     s2c=Impairment(delay=delay, bandwidth=10e6))
    res = pair.run()
    if not res.intact:
        raise SystemExit(f"seed {seed}: data corrupted or not delivered ({res.stall})")
    return Run(seed, res.goodput * 8 / 1e6, pair.rtos, pair.tlps, _episodes, pair.retrans,
               pair.spurious, res.c2s.lost, res.c2s.data_segments, res.mss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--bytes", type=int, default=6_000_000)
    ap.add_argument("--rto-min", type=float, default=1.0)
    ap.add_argument("--delayed-ack", type=float, default=Config().delayed_ack,
                    help="the delayed-ACK timeout in seconds (0: ACK every segment)")
    ap.add_argument("--reorder", type=float, default=0.0,
                    help="fraction of data segments held back 5 ms (reordered)")
    ap.add_argument("--no-rack", action="store_true")
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="only the summary")
    a = ap.parse_args()
    cfg = replace(Config(), rto_min=a.rto_min, rack=not a.no_rack, delayed_ack=a.delayed_ack,
                  isn_secret=b"loss-sweep")
    runs: list[Run] = []
    with _count_episodes():
        for seed in range(a.first, a.first + a.seeds):
            r = run(seed, a.bytes, a.loss, a.delay, cfg, a.trace, a.reorder)
            runs.append(r)
            if not a.quiet:
                print(f"seed {seed:3d}: {r.mbps:6.3f} Mbit/s  rto {r.rtos:2d}  tlp {r.tlps:3d}  "
                      f"episodes {r.episodes:4d}  retrans {r.retrans:4d}  "
                      f"spurious {r.spurious:3d}  lost {r.lost:4d}/{r.data_segs}", flush=True)
    g = [r.mbps for r in runs]
    print(f"loss {a.loss:g} reorder {a.reorder:g} delay {a.delay:g} bytes {a.bytes} "
          f"rto_min {a.rto_min:g} seeds {a.first}..{a.first + a.seeds - 1}:")
    print(f"  goodput Mbit/s mean {statistics.mean(g):.3f} median {statistics.median(g):.3f} "
          f"min {min(g):.3f} max {max(g):.3f}")
    if a.delay > 0 and a.loss > 0:  # the loss bench's figure, over these seeds
        rtt = path_rtt(runs[0].mss, 2 * a.delay)
        q = [r.mbps * 1e6 / 8 / mathis_bound(r.mss, rtt, a.loss, 10e6 / 8) for r in runs]
        print(f"  of the Mathis bound (RTT {rtt * 1e3:.2f} ms) mean {statistics.mean(q):.3f} "
              f"median {statistics.median(q):.3f} min {min(q):.3f}")
    print(f"  RTO firings (SYN's too) total {sum(r.rtos for r in runs)} "
          f"(runs with any: {sum(1 for r in runs if r.rtos)})  "
          f"TLP {sum(r.tlps for r in runs)}  episodes {sum(r.episodes for r in runs)}  "
          f"retrans {sum(r.retrans for r in runs)}  "
          f"spurious {sum(r.spurious for r in runs)}  lost {sum(r.lost for r in runs)}")


if __name__ == "__main__":
    main()
