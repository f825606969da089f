"""What an ideal NewReno sender reaches under random loss, in round trips: the yardstick
for the ``loss1_ratio`` / ``loss5_ratio`` bench beside the Mathis bound.

    PYTHONPATH=. .venv/bin/python scripts/reno_model.py [--rtt 0.0212] [--rounds 300000]

Each round trip the sender sends its whole window (whole segments), each segment lost
with probability p.  A round with no loss grows the window by one segment once a
window's worth is ACKed (byte counting, RFC 3465 §2.1); a round with a loss halves it
(ssthresh = max(W/2, 2) in whole segments, RFC 5681 eq. 4) and is followed by one round
of recovery at the halved window without growth (RFC 6937: cwnd = ssthresh at the end).
There is no timeout, no slow start after the first loss, one ACK per segment (no delayed
ACK) and every round trip lasts ``--rtt``: on the bench's link, 20 ms of propagation
plus the 1.2 ms a full segment and its ACK take at 10 Mbit/s.  The figure printed is
goodput over the Mathis bound MSS/RTT * 1.22/sqrt(p) at the same RTT, as the bench
takes it.
"""

from __future__ import annotations

import argparse
import math
import random


def goodput_segments_per_s(p: float, rtt: float, rounds: int, seed: int = 1) -> float:
    """Segments delivered per second by the model (see the module docstring)."""
    rng = random.Random(seed)
    window = 10
    acked = 0
    delivered = 0
    done = 0
    while done < rounds:
        lost = sum(rng.random() < p for _ in range(window))
        delivered += window - lost
        done += 1
        if lost:
            window = max(window // 2, 2)
            delivered += window - sum(rng.random() < p for _ in range(window))
            done += 1  # the round trip of recovery
            acked = 0
        else:
            acked += window
            if acked >= window:
                acked -= window
                window += 1
    return delivered / done / rtt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rtt", type=float, default=0.0212)
    ap.add_argument("--rounds", type=int, default=300_000)
    a = ap.parse_args()
    for p in (0.01, 0.05):
        bound = 1.22 / math.sqrt(p) / a.rtt  # segments per second, as the bench takes it
        ratio = goodput_segments_per_s(p, a.rtt, a.rounds) / bound
        print(f"loss {p:g}: ideal NewReno / Mathis bound = {ratio:.3f} (RTT {a.rtt:g} s)")


if __name__ == "__main__":
    main()
