"""Retransmission timeout estimation (RFC 6298)."""

from __future__ import annotations

ALPHA = 1 / 8  # RFC 6298 §2.3
BETA = 1 / 4
K = 4
G = 0.001  # clock granularity: the engine's timestamps tick in milliseconds


class RttEstimator:
    """SRTT, RTTVAR and the RTO with its backoff (RFC 6298)."""
    __slots__ = ("backoff", "rto", "rto_max", "rto_min", "rttvar", "srtt")

    def __init__(self, initial: float, minimum: float, maximum: float) -> None:
        self.srtt: float | None = None
        self.rttvar: float | None = None
        self.rto_min = minimum
        self.rto_max = maximum
        self.rto = min(max(initial, 0.0), maximum)  # RFC 6298 §2.1
        self.backoff = 0

    def sample(self, r: float) -> None:
        """Feed one RTT measurement (never from a retransmitted segment: Karn's rule)."""
        if r < 0:
            return
        if self.srtt is None or self.rttvar is None:
            self.srtt = r  # RFC 6298 §2.2
            self.rttvar = r / 2
        else:
            self.rttvar = (1 - BETA) * self.rttvar + BETA * abs(self.srtt - r)  # §2.3
            self.srtt = (1 - ALPHA) * self.srtt + ALPHA * r
        rto = self.srtt + max(G, K * self.rttvar)
        self.rto = min(max(rto, self.rto_min), self.rto_max)  # §2.4, §2.5
        self.backoff = 0

    def current(self) -> float:
        """The RTO with exponential backoff applied (RFC 6298 §5.5)."""
        return min(self.rto * (1 << self.backoff), self.rto_max)

    def back_off(self) -> None:
        """Double the RTO for the next retransmission, up to rto_max (RFC 6298 §5.5)."""
        if self.rto * (1 << self.backoff) < self.rto_max:
            self.backoff += 1
