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
