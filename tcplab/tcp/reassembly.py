"""Receive-side reassembly and SACK block generation (RFC 9293 §3.10.7.4, RFC 2018 §4).

Out-of-order data waits here, merged into non-overlapping blocks, until the hole
before it fills.  Each block remembers when it last grew, because RFC 2018 §4 wants
the first SACK block to be the one holding the most recent segment and the rest in
order of recency.
"""

from __future__ import annotations

from tcplab.tcp import seq as sq


class _Block:
    __slots__ = ("data", "stamp", "start")

    def __init__(self, start: int, data: bytearray, stamp: int) -> None:
        self.start = start
        self.data = data
        self.stamp = stamp

    @property
    def end(self) -> int:
        return sq.add(self.start, len(self.data))


class Reassembly:
    """Out-of-order data kept until the hole before it fills (RFC 9293 §3.10.7.4)."""
    __slots__ = ("_blocks", "_clock", "buffered", "fin_seq")

    def __init__(self) -> None:
        self._blocks: list[_Block] = []  # sorted by start; never overlapping or touching
        self._clock = 0
        self.fin_seq: int | None = None  # a FIN that arrived beyond RCV.NXT
        self.buffered = 0  # bytes held, kept current: read on every segment sent

    def __len__(self) -> int:
        return len(self._blocks)

    def _recount(self) -> None:
        self.buffered = sum(len(b.data) for b in self._blocks)

    def insert(self, start: int, data: bytes) -> None:
        """Store bytes ``[start, start+len)`` that lie beyond RCV.NXT."""
        if not data:
            return
        self._clock += 1
        end = sq.add(start, len(data))
        merged = bytearray(data)
        kept: list[_Block] = []
        for block in self._blocks:
            b_start, b_end = block.start, block.end
            if sq.lt(b_end, start) or sq.lt(end, b_start):
                kept.append(block)
                continue
            # overlapping or touching: take the union; bytes already held win
            if sq.lt(b_start, start):
                merged = block.data[: sq.sub(start, b_start)] + merged
                start = b_start
            if sq.gt(b_end, end):
                merged = merged + block.data[sq.sub(end, b_start):]
                end = b_end
            lo = sq.sub(b_start, start)
            merged[lo: lo + len(block.data)] = block.data
        kept.append(_Block(start, merged, self._clock))
        base = kept[0].start
        kept.sort(key=lambda b: sq.sub(b.start, base))
        self._blocks = kept
        self._recount()

    def pop_ready(self, rcv_nxt: int) -> bytes:
        """Remove and return the bytes that now continue at ``rcv_nxt``, if any."""
        if not self._blocks:
            return b""
        out = bytearray()
        while self._blocks:
            block = self._blocks[0]
            if sq.gt(block.start, rcv_nxt):
                break
            self._blocks.pop(0)
            skip = sq.sub(rcv_nxt, block.start)
            if skip < len(block.data):
                out += block.data[skip:]
                rcv_nxt = sq.add(rcv_nxt, len(block.data) - skip)
        self._recount()
        return bytes(out)

    def sack_blocks(self, limit: int) -> tuple[tuple[int, int], ...]:
        """Up to ``limit`` blocks, most recently changed first (RFC 2018 §4)."""
        if not self._blocks:
            return ()
        ordered = sorted(self._blocks, key=lambda b: -b.stamp)
        return tuple((b.start, b.end) for b in ordered[:limit])
