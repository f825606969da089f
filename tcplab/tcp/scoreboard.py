"""The sender's SACK scoreboard (RFC 2018, RFC 6675 §4).

Holds the ranges above SND.UNA the peer reported with SACK blocks, merged.  From it
the engine learns which bytes are lost (holes below the highest SACKed byte, once
enough is SACKed above them: RFC 6675 IsLost) and which hole to retransmit next
(NextSeg, rule 1).
"""

from __future__ import annotations

from tcplab.tcp import seq as sq


class Scoreboard:
    """The SACKed ranges above SND.UNA (RFC 6675 §3), merged and ordered."""
    __slots__ = ("_ranges", "sacked_bytes")

    def __init__(self) -> None:
        self._ranges: list[tuple[int, int]] = []  # sorted, merged
        self.sacked_bytes = 0

    def clear(self) -> None:
        """Forget every SACKed range."""
        self._ranges = []
        self.sacked_bytes = 0

    def add(self, start: int, end: int, snd_una: int, snd_max: int) -> bool:
        """Record one SACK block; returns True when it taught us something new.
        Blocks outside (SND.UNA, SND.MAX] are ignored (RFC 2018 §5: a D-SACK or bogus one)."""
        if not sq.lt(start, end) or sq.le(end, snd_una) or sq.gt(end, snd_max):
            return False
        start = sq.smax(start, snd_una)
        before = self.sacked_bytes
        ranges = [*self._ranges, (start, end)]
        ranges.sort(key=lambda r: sq.sub(r[0], snd_una))
        merged: list[tuple[int, int]] = []
        for s, e in ranges:
            if merged and sq.le(s, merged[-1][1]):
                ps, pe = merged[-1]
                merged[-1] = (ps, sq.smax(pe, e))
            else:
                merged.append((s, e))
        self._ranges = merged
        self.sacked_bytes = sum(sq.sub(e, s) for s, e in merged)
        return self.sacked_bytes != before

    def advance(self, snd_una: int) -> None:
        """Forget what the cumulative ACK now covers."""
        kept: list[tuple[int, int]] = []
        for s, e in self._ranges:
            if sq.le(e, snd_una):
                continue
            kept.append((sq.smax(s, snd_una), e))
        self._ranges = kept
        self.sacked_bytes = sum(sq.sub(e, s) for s, e in kept)

    @property
    def highest(self) -> int | None:
        """The end of the highest SACKed range, or None."""
        return self._ranges[-1][1] if self._ranges else None

    def sacked_above(self, seq: int) -> int:
        """SACKed bytes above ``seq``."""
        return sum(sq.sub(e, sq.smax(s, seq)) for s, e in self._ranges if sq.gt(e, seq))

    def next_hole(self, start: int, limit: int) -> tuple[int, int] | None:
        """The first un-SACKed range at or after ``start`` that ends below the highest
        SACKed byte, clipped to ``limit`` bytes (RFC 6675 NextSeg rule 1)."""
        pos = start
        for s, e in self._ranges:
            if sq.lt(pos, s):
                return pos, sq.add(pos, min(sq.sub(s, pos), limit))
            if sq.lt(pos, e):
                pos = e
        return None
