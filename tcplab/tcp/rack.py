"""RACK-TLP loss detection (RFC 8985): which segments in flight are lost, judged by time.

Theory of operation
-------------------
The sender records every segment it transmits (:meth:`Rack.sent`): its sequence range
and the time of its latest transmission, in sequence order from SND.UNA.  A
retransmission updates the records it covers (splitting one where it starts or ends
inside it), so each record always holds the time of the copy most recently sent.

Each ACK delivers some records, cumulatively (:meth:`Rack.acked`) or by SACK
(:meth:`Rack.sacked`).  Of those, the one sent last sets RACK.xmit_ts / RACK.end_seq
and its round-trip time RACK.rtt (RFC 8985 §6.2 step 2); a delivery of a record
never retransmitted below the highest such delivery so far (RACK.fack) is
reordering (step 3).  A record not yet delivered that was sent before RACK.xmit_ts
is lost once RACK.rtt plus the reordering window has passed since its own
transmission (step 5, :meth:`Rack.detect`); one whose time has not come yet gives
the reordering timer its deadline.  A retransmission that is lost again is found the
same way, because its record carries the retransmission's time -- the case the
duplicate-ACK rules only ever found by a retransmission timeout.

The reordering window is zero in loss recovery and once DupThresh segments are
SACKed, until reordering has been seen; otherwise it is a quarter of the minimum
RTT, at most SRTT (§6.2 step 4).  D-SACK driven growth of the window (§6.2 step 4,
reo_wnd_mult) is not done: tcplab's receiver sends no D-SACK.

The Tail Loss Probe state (§7) lives here too (``tlp_end``: the probe outstanding);
the sender decides when to arm the probe timeout and what to send.

The object holds no clock and does no I/O: every method takes ``now``.
"""

from __future__ import annotations

from bisect import bisect_right

from tcplab.tcp import seq as sq

DUP_THRESH = 3       # RFC 8985 §6.2 step 4 (as RFC 5681)
_MASK, _HALF = sq.MASK, sq.HALF
_EPSILON = 1e-9      # seconds: "now" within float rounding of a deadline is the deadline


class Sent:
    """One transmitted segment's record: its range and latest transmission."""

    __slots__ = ("end", "lost", "retrans", "sacked", "start", "xmit")

    def __init__(self, start: int, end: int, xmit: float, retrans: bool) -> None:
        self.start = start
        self.end = end
        self.xmit = xmit          # time of the latest (re)transmission
        self.retrans = retrans    # ever retransmitted
        self.lost = False         # marked lost and not retransmitted since
        self.sacked = False

    @property
    def length(self) -> int:
        """Sequence numbers the segment takes."""
        return sq.sub(self.end, self.start)

    def split(self, at: int) -> Sent:
        """Cut this record at ``at``; returns the upper part (same history)."""
        upper = Sent(at, self.end, self.xmit, self.retrans)
        upper.lost, upper.sacked = self.lost, self.sacked
        self.end = at
        return upper


def sent_after(t1: float, seq1: int, t2: float, seq2: int) -> bool:
    """RFC 8985 §6.2 RACK_sent_after: (t1, seq1) was sent after (t2, seq2)."""
    return t1 > t2 or (t1 == t2 and sq.gt(seq1, seq2))


class Rack:
    """Per-connection RACK state and the transmission records (see the module docstring)."""

    __slots__ = (
        "_new_end",
        "_new_rtt",
        "_new_xmit",
        "end_seq",
        "fack",
        "lost_bytes",
        "min_rtt",
        "reordering_seen",
        "rtt",
        "segs",
        "segs_sacked",
        "tlp_end",
        "tlp_extra",
        "tlp_retrans",
        "tlp_tsval",
        "xmit_ts",
    )

    def __init__(self) -> None:
        self.segs: list[Sent] = []        # in sequence order, all above SND.UNA
        self.xmit_ts: float | None = None  # RACK.xmit_ts
        self.end_seq = 0                   # RACK.end_seq
        self.rtt = 0.0                     # RACK.rtt
        self.min_rtt: float | None = None  # RACK.min_RTT (over the connection's life)
        self.fack: int | None = None       # RACK.fack
        self.reordering_seen = False
        self.segs_sacked = 0               # RACK.segs_sacked
        self.lost_bytes = 0                # marked lost and not sent again since
        # Tail Loss Probe (§7): the probe outstanding, if any
        self.tlp_end: int | None = None
        self.tlp_extra = 0     # new data the probe sent beyond cwnd (§7.3)
        self.tlp_retrans = False
        self.tlp_tsval = 0
        self._new_xmit: float | None = None  # the latest delivery within one ACK
        self._new_end = 0
        self._new_rtt = 0.0

    # -- transmissions ----------------------------------------------------------------
    def _index(self, seq: int) -> int:
        """Index of the record holding ``seq`` (or the first after it)."""
        segs = self.segs
        base = segs[0].start
        i = bisect_right(segs, sq.sub(seq, base), key=lambda r: sq.sub(r.start, base))
        return max(i - 1, 0)

    def sent(self, start: int, end: int, now: float) -> None:
        """A segment covering [start, end) went out at ``now`` (new or retransmitted)."""
        segs = self.segs
        if not segs or ((start - segs[-1].end) & _MASK) < _HALF:  # at or past the end
            segs.append(Sent(start, end, now, False))
            return
        if sq.lt(start, segs[0].start):
            start = segs[0].start
        i = self._index(start)
        if sq.gt(start, segs[i].start) and sq.lt(start, segs[i].end):
            segs.insert(i + 1, segs[i].split(start))
            i += 1
        while i < len(segs) and sq.lt(segs[i].start, end):
            rec = segs[i]
            if sq.gt(rec.end, end):
                segs.insert(i + 1, rec.split(end))
            if rec.lost:
                rec.lost = False
                self.lost_bytes -= rec.length
            rec.xmit = now
            rec.retrans = True
            i += 1
        last = segs[-1].end
        if sq.gt(end, last):  # a resend that runs past everything sent before
            segs.append(Sent(last, end, now, False))

    def on_timeout(self) -> None:
        """A retransmission timeout: everything is sent again from SND.UNA, so no
        record waits as 'lost' any more (RFC 8985 §6.3: RTO recovery resends all)."""
        for rec in self.segs:
            rec.lost = False
        self.lost_bytes = 0
        self.tlp_end = None

    # -- deliveries ---------------------------------------------------------------------
    def _deliver(self, rec: Sent, now: float, echo: int | None) -> None:
        """RFC 8985 §6.2 steps 2 and 3 for one record newly ACKed or SACKed.  ``echo``:
        the ACK's echoed timestamp on the sender's millisecond clock, if any."""
        rtt = now - rec.xmit
        if rec.retrans and (
                (echo is not None and sq.lt(echo, int(rec.xmit * 1000) & 0xFFFFFFFF))
                or (self.min_rtt is not None and rtt < self.min_rtt)):
            return  # the ACK may be for an earlier copy: no time can be learned from it
        if not rec.retrans:
            if self.min_rtt is None or rtt < self.min_rtt:
                self.min_rtt = rtt
            if self.fack is not None and sq.lt(rec.end, self.fack):
                self.reordering_seen = True  # delivered below a later delivery, never resent
            else:
                self.fack = rec.end
        if self._new_xmit is None or sent_after(rec.xmit, rec.end, self._new_xmit,
                                                self._new_end):
            self._new_xmit, self._new_end, self._new_rtt = rec.xmit, rec.end, rtt

    def end_ack(self) -> None:
        """After all deliveries of one ACK (:meth:`acked`, :meth:`sacked`): the latest
        one sets RACK.xmit_ts/end_seq/rtt."""
        t = self._new_xmit
        if t is None:
            return
        self._new_xmit = None  # ready for the next ACK
        if self.xmit_ts is None or sent_after(t, self._new_end, self.xmit_ts, self.end_seq):
            self.xmit_ts, self.end_seq = t, self._new_end
            self.rtt = self._new_rtt

    def acked(self, una: int, now: float, echo: int | None) -> None:
        """Drop the records the cumulative ACK ``una`` covers, delivering them.

        On the per-segment path, so written out: of the records never retransmitted,
        sent in sequence order, the last one alone can set RACK.xmit_ts and min_RTT;
        each is still checked for reordering (below RACK.fack)."""
        segs = self.segs
        fack = self.fack
        plain: Sent | None = None
        k = 0
        for rec in segs:
            if ((una - rec.end) & _MASK) >= _HALF:  # rec.end > una: ACKed up to una only
                if ((rec.start - una) & _MASK) >= _HALF:
                    if rec.lost:
                        self.lost_bytes -= sq.sub(una, rec.start)
                    rec.start = una  # a partial ACK of one segment: keep the rest
                break
            k += 1
            if rec.lost:
                self.lost_bytes -= rec.length
            if rec.sacked:
                self.segs_sacked -= 1
            elif rec.retrans:
                self._deliver(rec, now, echo)
            else:
                if fack is not None and ((rec.end - fack) & _MASK) >= _HALF:
                    self.reordering_seen = True  # below a later delivery, never resent
                plain = rec
        if k:
            del segs[:k]
        if plain is not None:
            self._deliver(plain, now, echo)

    def sacked_blocks(self, blocks: tuple[tuple[int, int], ...], base: int, now: float,
                      echo: int | None) -> None:
        """An ACK's SACK blocks are delivered, after its cumulative ACK and in ascending
        sequence order (RFC 8985 §6.2 step 3; the receiver lists the newest block first,
        RFC 2018 §4), so that only a segment delivered below an earlier delivery counts
        as reordering.  (Taken first, the SACK of a later segment made a delayed
        in-order one look reordered and kept the reordering window open for good.)"""
        if len(blocks) > 1:
            blocks = tuple(sorted(blocks, key=lambda b: ((b[0] - base + _HALF) & _MASK)))
        for start, end in blocks:
            self.sacked(start, end, now, echo)

    def sacked(self, start: int, end: int, now: float, echo: int | None) -> None:
        """Records inside one SACK block [start, end) are delivered."""
        segs = self.segs
        if not segs or not sq.lt(start, segs[-1].end) or not sq.gt(end, segs[0].start):
            return
        i = self._index(start)
        while i < len(segs) and sq.lt(segs[i].start, end):
            rec = segs[i]
            if sq.lt(rec.start, start):  # only its upper part is SACKed: split there
                segs.insert(i + 1, rec.split(start))
                i += 1
                continue
            if sq.gt(rec.end, end):
                segs.insert(i + 1, rec.split(end))
            if not rec.sacked:
                rec.sacked = True
                self.segs_sacked += 1
                if rec.lost:
                    rec.lost = False
                    self.lost_bytes -= rec.length
                self._deliver(rec, now, echo)
            i += 1

    # -- loss detection -----------------------------------------------------------------
    def reo_wnd(self, in_recovery: bool, srtt: float | None) -> float:
        """RFC 8985 §6.2 step 4: the reordering window."""
        if not self.reordering_seen and (in_recovery or self.segs_sacked >= DUP_THRESH):
            return 0.0
        if self.min_rtt is None:
            return 0.0
        wnd = self.min_rtt / 4
        return min(wnd, srtt) if srtt is not None else wnd

    def behind(self) -> bool:
        """Some record still outstanding may have been sent before RACK.xmit_ts: the
        oldest one, or (once a record was resent, which reorders the sending times)
        any.  Cheap enough for every ACK; when False, :meth:`detect` finds nothing.

        SACK blocks are not the only sign: a cumulative ACK of a retransmission
        delivers a copy sent after segments above the new SND.UNA, which are lost if
        no SACK covers them -- with no SACKed byte left to say so (RFC 8985 §6.2)."""
        segs = self.segs
        if not segs or self.xmit_ts is None:
            return False
        first = segs[0]
        return first.retrans or sent_after(self.xmit_ts, self.end_seq, first.xmit, first.end)

    def detect(self, now: float, limit: int, reo_wnd: float) -> tuple[int, float]:
        """RFC 8985 §6.2 step 5 over the records starting below ``limit`` (SND.NXT):
        returns (records newly marked lost, seconds until the next one may be)."""
        if self.xmit_ts is None:
            return 0, 0.0
        rack_t, rack_end, window = self.xmit_ts, self.end_seq, self.rtt + reo_wnd
        newly = 0
        timeout = 0.0
        for rec in self.segs:
            if not sq.lt(rec.start, limit):
                break
            if rec.sacked or rec.lost or not sent_after(rack_t, rack_end, rec.xmit, rec.end):
                continue
            remaining = rec.xmit + window - now
            if remaining <= _EPSILON:
                rec.lost = True
                self.lost_bytes += rec.length
                newly += 1
            elif remaining > timeout:
                timeout = remaining
        return newly, timeout

    def first_lost(self) -> Sent | None:
        """The lowest record marked lost and not sent again (RFC 6675 NextSeg rule 1)."""
        if self.lost_bytes <= 0:
            return None
        for rec in self.segs:
            if rec.lost:
                return rec
        return None

    @property
    def last(self) -> Sent | None:
        """The segment sent most recently, or None."""
        return self.segs[-1] if self.segs else None
