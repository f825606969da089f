"""Sequence-number arithmetic modulo 2**32 (RFC 9293 §3.4).

Sequence numbers wrap, so "less than" means "less than by fewer than 2**31".
These helpers are on the per-segment path: they stay tiny and branch-free.
"""

MOD = 1 << 32
MASK = MOD - 1
HALF = 1 << 31


def add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32."""
    return (a + n) & MASK


def sub(a: int, b: int) -> int:
    """Signed distance ``a - b`` in the range [-2**31, 2**31)."""
    return ((a - b + HALF) & MASK) - HALF


def lt(a: int, b: int) -> bool:
    """``a`` is before ``b`` in sequence space (RFC 9293 §3.4, mod 2**32)."""
    return ((a - b) & MASK) >= HALF


def le(a: int, b: int) -> bool:
    """``a`` is ``b`` or before it."""
    return a == b or lt(a, b)


def gt(a: int, b: int) -> bool:
    """``a`` is after ``b``."""
    return lt(b, a)


def ge(a: int, b: int) -> bool:
    """``a`` is ``b`` or after it."""
    return a == b or lt(b, a)


def between(lo: int, x: int, hi: int) -> bool:
    """``lo <= x < hi`` on the sequence circle."""
    return ((x - lo) & MASK) < ((hi - lo) & MASK)


def smax(a: int, b: int) -> int:
    """The later of ``a`` and ``b``."""
    return b if lt(a, b) else a

