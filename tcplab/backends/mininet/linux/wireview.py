"""A Linux connection's sequence variables, read off the segments it sends and receives.

TCP_INFO gives a kernel socket's congestion state but not its RFC 9293 §3.3.1
variables.  The agent sees every segment of the connection on the interface
(:mod:`.sniff`), so it keeps them the way a ladder diagram reads them: ISS and IRS from
the two SYNs, SND.UNA from the highest ACK received, SND.NXT as the highest sequence
number sent (Linux never moves it back for a retransmission), RCV.NXT from the highest
ACK sent, and the two windows from the last segment each way, scaled by the shift the
sender's SYN announced when both SYNs carried the option (RFC 7323 §2.2).  A segment
Linux sent is seen as it reaches the interface, so the view trails the socket by no
more than the interface's queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcplab.tcp import seq
from tcplab.tcp.segment import ACK, SYN, Segment, WScale


@dataclass(frozen=True, slots=True)
class Variables:
    """One moment's values (0 where nothing has shown them yet)."""

    iss: int = 0
    irs: int = 0
    snd_una: int = 0
    snd_nxt: int = 0
    rcv_nxt: int = 0
    snd_wnd: int = 0
    rcv_wnd: int = 0


def _later(old: int | None, new: int) -> int:
    return new if old is None else seq.smax(old, new)


class WireView:
    """The variables of one connection, updated segment by segment."""

    def __init__(self) -> None:
        self.now = Variables()
        self._iss: int | None = None
        self._irs: int | None = None
        self._snd_una: int | None = None
        self._snd_nxt: int | None = None
        self._rcv_nxt: int | None = None
        self._snd_wnd = 0
        self._rcv_wnd = 0
        self._my_shift: int | None = None    # what our SYN announced
        self._peer_shift: int | None = None  # what the peer's SYN announced

    def _shifts(self) -> tuple[int, int]:
        """(ours, the peer's): both 0 unless both SYNs carried the option."""
        if self._my_shift is None or self._peer_shift is None:
            return 0, 0
        return self._my_shift, self._peer_shift

    def sent(self, segment: Segment) -> bool:
        """A segment Linux sent; True when a variable changed."""
        syn = segment.flags & SYN
        if syn and self._iss is None:
            self._iss = self._snd_una = segment.seq
            opt = segment.option(WScale)
            self._my_shift = opt.shift if isinstance(opt, WScale) else None
        self._snd_nxt = _later(self._snd_nxt, seq.add(segment.seq, segment.seg_len))
        if segment.flags & ACK:
            self._rcv_nxt = _later(self._rcv_nxt, segment.ack)
            # a SYN's window is never scaled (RFC 7323 §2.2)
            self._rcv_wnd = segment.window << (0 if syn else self._shifts()[0])
        return self._update()

    def received(self, segment: Segment) -> bool:
        """A segment that reached Linux; True when a variable changed."""
        syn = segment.flags & SYN
        if syn and self._irs is None:
            self._irs = segment.seq
            opt = segment.option(WScale)
            self._peer_shift = opt.shift if isinstance(opt, WScale) else None
        if segment.flags & ACK:
            self._snd_una = _later(self._snd_una, segment.ack)
            self._snd_wnd = segment.window << (0 if syn else self._shifts()[1])
        return self._update()

    def _update(self) -> bool:
        new = Variables(self._iss or 0, self._irs or 0, self._snd_una or 0,
                        self._snd_nxt or 0, self._rcv_nxt or 0, self._snd_wnd,
                        self._rcv_wnd)
        changed = new != self.now
        self.now = new
        return changed
