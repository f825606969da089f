"""Initial sequence numbers (RFC 6528) and timestamp offsets (RFC 7323 §5.4).

ISN = M + F(local, remote, secret): M is a 4-microsecond clock taken from ``now``
(RFC 6528 §3), F a keyed hash of the connection's four-tuple, so ISNs advance with
time for one four-tuple yet cannot be guessed across four-tuples.
"""

from __future__ import annotations

import hashlib

MASK = 0xFFFFFFFF


def _keyed(secret: bytes, label: bytes, local: tuple[str, int], remote: tuple[str, int]) -> int:
    text = f"{local[0]}:{local[1]}>{remote[0]}:{remote[1]}".encode()
    digest = hashlib.blake2s(label + text, key=secret[:32] or b"\0").digest()
    return int.from_bytes(digest[:4], "big")


def initial_sequence(secret: bytes, local: tuple[str, int], remote: tuple[str, int],
                     now: float) -> int:
    """RFC 6528 §3: a keyed hash of the four-tuple plus a 4 µs clock."""
    return (_keyed(secret, b"isn", local, remote) + int(now * 250_000)) & MASK


def timestamp_offset(secret: bytes, local: tuple[str, int], remote: tuple[str, int]) -> int:
    """RFC 7323 §5.4: a per-connection random offset for TSval."""
    return _keyed(secret, b"ts", local, remote)


# -- SYN cookies (RFC 4987 §3.6) ----------------------------------------------------------
# A listener whose SYN queue is full answers a SYN without remembering it: its SYN,ACK's
# ISN is the cookie, and the ACK that comes back (SEG.ACK - 1) gives it back.  Layout:
#   bits 31-27  a 64-second period counter (mod 32): cookies older than two periods fail
#   bits 26-24  an index into COOKIE_MSS, the largest entry not above the peer's MSS
#   bits 23-0   a keyed hash of the four-tuple, the peer's ISN and the period
# Window scale and SACK have no room there; as Linux does, they ride in the low six bits
# of the SYN,ACK's TSval (echoed back in TSecr), so only a peer using timestamps keeps them.
COOKIE_MSS = (88, 536, 1200, 1300, 1400, 1440, 1460, 8960)
COOKIE_PERIOD = 64.0   # seconds
COOKIE_MAX_AGE = 2     # periods
TS_OPTION_BITS = 6     # TSval bits taken by the options
_NO_WSCALE = 0xF


def _cookie_hash(secret: bytes, local: tuple[str, int], remote: tuple[str, int],
                 peer_isn: int, period: int) -> int:
    # the whole period number, not only the 5 bits the cookie shows: a cookie 32 periods
    # old must not pass for a fresh one
    label = b"cookie" + peer_isn.to_bytes(4, "big") + period.to_bytes(8, "big", signed=True)
    return _keyed(secret, label, local, remote) & 0xFFFFFF


def make_cookie(secret: bytes, local: tuple[str, int], remote: tuple[str, int],
                peer_isn: int, peer_mss: int, now: float) -> int:
    """The ISN of a SYN,ACK that keeps no state: see the layout above."""
    index = max(i for i, m in enumerate(COOKIE_MSS) if m <= peer_mss or i == 0)
    period = int(now // COOKIE_PERIOD)
    return (((period & 31) << 27) | (index << 24)
            | _cookie_hash(secret, local, remote, peer_isn, period))


def check_cookie(secret: bytes, local: tuple[str, int], remote: tuple[str, int],
                 peer_isn: int, cookie: int, now: float) -> int | None:
    """The MSS the cookie carries, or None when it is not one we made lately."""
    now_period = int(now // COOKIE_PERIOD)
    made = (cookie >> 27) & 31
    age = (now_period - made) & 31
    if age > COOKIE_MAX_AGE:
        return None
    period = now_period - age
    if cookie & 0xFFFFFF != _cookie_hash(secret, local, remote, peer_isn, period):
        return None
    return COOKIE_MSS[(cookie >> 24) & 7]


def cookie_tsval(tsval: int, wscale: int | None, sack: bool) -> int:
    """TSval with window scale (4 bits, 0xF: none) and SACK (1 bit) in its low bits,
    never above ``tsval`` (timestamps must not run ahead of the clock)."""
    bits = (wscale if wscale is not None else _NO_WSCALE) | (int(sack) << 4)
    value = (tsval & ~((1 << TS_OPTION_BITS) - 1)) | bits
    if value > tsval:
        value -= 1 << TS_OPTION_BITS
    return value & MASK


def cookie_ts_options(tsecr: int) -> tuple[int | None, bool]:
    """(window scale or None, SACK permitted) from the TSecr of the cookie's ACK."""
    wscale = tsecr & 0xF
    return (None if wscale == _NO_WSCALE else min(wscale, 14)), bool(tsecr & 0x10)
