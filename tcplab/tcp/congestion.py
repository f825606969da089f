"""Congestion control: slow start, congestion avoidance, fast retransmit and
NewReno fast recovery (RFC 5681, RFC 6582), initial window per RFC 6928.

The engine owns the sequence space; this object only keeps cwnd/ssthresh and the
recovery point and answers "how much may be in flight".  SACK-based loss recovery
(RFC 6675) uses the same object: during recovery the engine chooses *what* to send
(holes first) and this object says *how much*.
"""

from __future__ import annotations

DUP_THRESH = 3  # RFC 5681 §3.2


class NewReno:
    """cwnd and ssthresh under RFC 5681 slow start and congestion avoidance,
    with RFC 6582 NewReno fast recovery."""
    __slots__ = ("acked_bytes", "cwnd", "dup_acks", "in_recovery", "mss", "recover",
                 "ssthresh")

    def __init__(self, mss: int, initial_window: int) -> None:
        self.mss = mss
        # RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)) for IW 10
        self.cwnd = min(initial_window * mss, max(2 * mss, 14600)) if initial_window >= 4 \
            else initial_window * mss
        self.ssthresh = 1 << 30  # RFC 5681 §3.1: arbitrarily high
        self.dup_acks = 0
        self.in_recovery = False
        self.recover = 0
        self.acked_bytes = 0  # bytes ACKed in congestion avoidance since cwnd last grew

    def on_ack(self, acked: int, flight_before: int) -> None:
        """New data acknowledged outside recovery (RFC 5681 §3.1)."""
        self.dup_acks = 0
        if self.cwnd < self.ssthresh:
            self.cwnd += min(acked, self.mss)  # slow start, RFC 5681 eq. 2 (L=1*SMSS)
        else:
            # congestion avoidance by byte counting, the way RFC 5681 §3.1 recommends
            # (RFC 3465 §2.1): one SMSS each time a cwnd's worth of bytes is ACKed, so
            # delayed ACKs do not halve the growth as eq. 3 per ACK would
            self.acked_bytes += acked
            if self.acked_bytes >= self.cwnd:
                self.acked_bytes -= self.cwnd
                self.cwnd += self.mss

    def halved(self, flight: int) -> int:
        """ssthresh after a loss in fast recovery: max(FlightSize/2, 2*SMSS) (RFC 5681
        eq. 4, an upper bound: "no more than"), rounded down to whole segments.  cwnd
        starts again from it, and a part of a segment in cwnd never lets one out (no
        byte goes past cwnd, RFC 5681 §3.1, and sender SWS avoidance holds back a part
        segment, RFC 9293 §3.8.6.2.1), while byte counting waits for it to be ACKed
        too (RFC 3465 §2.1): at 2.5 segments, two go per round trip and cwnd grows
        every 1.25 round trips.  (Linux counts cwnd in segments: halving rounds down.)"""
        return max(flight // (2 * self.mss) * self.mss, 2 * self.mss)

    def enter_recovery(self, flight: int, recover: int) -> None:
        """Third duplicate ACK: RFC 5681 §3.2 step 2-3, RFC 6582 §3.2 step 2."""
        self.ssthresh = self.halved(flight)
        self.cwnd = self.ssthresh + DUP_THRESH * self.mss
        self.in_recovery = True
        self.recover = recover
        self.acked_bytes = 0

    def on_dup_ack_in_recovery(self) -> None:
        """A duplicate ACK during fast recovery inflates cwnd by one segment."""
        self.cwnd += self.mss  # RFC 6582 §3.2 step 3

    def on_partial_ack(self, acked: int) -> None:
        """RFC 6582 §3.2 step 5: deflate by the amount acked, add back one MSS."""
        self.cwnd = max(self.cwnd - acked + (self.mss if acked >= self.mss else 0), self.mss)

    def exit_recovery(self, flight: int) -> None:
        """Full ACK: RFC 6582 §3.2 step 4 (option 1, bounded by flight + MSS)."""
        self.cwnd = min(self.ssthresh, max(flight, self.mss) + self.mss)
        self.in_recovery = False
        self.dup_acks = 0

    def on_timeout(self, flight: int) -> None:
        """RTO: RFC 5681 §3.1 eq. 4 and cwnd = 1 MSS (loss window)."""
        self.ssthresh = max(flight // 2, 2 * self.mss)
        self.cwnd = self.mss
        self.in_recovery = False
        self.dup_acks = 0
        self.acked_bytes = 0
