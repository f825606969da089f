"""Proportional Rate Reduction (RFC 6937): how much may be sent on each ACK during
loss recovery.

Theory of operation
-------------------
Entering recovery halves the congestion window (ssthresh), but cutting cwnd at once
stops all sending for half a round trip, and RFC 6675's pipe can make a burst when
many segments are found lost together.  PRR spreads the reduction: while more than
ssthresh is in flight, each ACK lets out data in proportion to what it delivered
(``prr_delivered * ssthresh / RecoverFS``); once pipe has fallen below ssthresh,
slow-start reduction bound (PRR-SSRB) lets it grow back to ssthresh by at most one
segment more than was delivered.  The engine sets cwnd = pipe + sndcnt after each
ACK in recovery; every byte it sends then is counted (``prr_out``).  At the end of
recovery cwnd = ssthresh (RFC 6937 §3).
"""

from __future__ import annotations


class Prr:
    """RFC 6937 Proportional Rate Reduction's counters for one recovery."""
    __slots__ = ("delivered", "out", "recover_fs")

    def __init__(self) -> None:
        self.delivered = 0   # prr_delivered
        self.out = 0         # prr_out
        self.recover_fs = 0  # RecoverFS

    def start(self, flight: int) -> None:
        """Recovery begins with ``flight`` bytes outstanding (RFC 6937 §3, RecoverFS)."""
        self.delivered = 0
        self.out = 0
        self.recover_fs = max(flight, 1)

    def sent(self, nbytes: int) -> None:
        """Count bytes sent during recovery (prr_out)."""
        self.out += nbytes

    def sndcnt(self, delivered: int, pipe: int, ssthresh: int, mss: int) -> int:
        """Bytes that may go now, after an ACK that delivered ``delivered`` bytes
        (newly ACKed plus newly SACKed) with ``pipe`` bytes left in flight."""
        self.delivered += delivered
        if pipe > ssthresh:
            # proportional part: ceil(prr_delivered * ssthresh / RecoverFS) - prr_out
            cnt = -(-self.delivered * ssthresh // self.recover_fs) - self.out
        else:
            # PRR-SSRB: grow back to ssthresh, at most one MSS beyond what was delivered
            limit = max(self.delivered - self.out, delivered) + mss
            cnt = min(ssthresh - pipe, limit)
        cnt = max(cnt, 0)
        if self.out == 0 or pipe == 0:
            # the fast retransmit goes at once, and a pipe drained to nothing must not
            # wait for a timeout (as Linux does)
            cnt = max(cnt, mss)
        return cnt
