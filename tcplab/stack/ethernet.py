"""Ethernet II framing and MAC address helpers.

Theory of operation
-------------------
A frame is ``dst(6) src(6) ethertype(2) payload``; the 4-byte FCS never reaches us
(AF_PACKET strips it, the simulated links never add it).  :func:`parse` returns the
three header fields and the payload offset, or a drop reason -- it never raises.

Hosts here are on untagged access ports, so an 802.1Q-tagged frame is dropped with
the reason ``"vlan tagged"`` rather than silently stripped: a tag means a
misconfigured topology, and the lab should say so.  Frames are not padded to the
60-byte minimum on send (veth and the simulated links do not need it); received
padding is harmless because IPv4 trims to its total length.
"""

from __future__ import annotations

import struct

ETH_HEADER = struct.Struct("!6s6sH")
ETH_HEADER_LEN = ETH_HEADER.size

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_VLAN = 0x8100

BROADCAST = b"\xff" * 6
ZERO_MAC = bytes(6)

_HEX = frozenset("0123456789abcdefABCDEF")


def mac_to_bytes(mac: str) -> bytes:
    """``"02:00:00:00:00:01"`` (or with ``-``) to 6 bytes; ValueError with a one-line message."""
    parts = mac.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 and set(p) <= _HEX for p in parts):
        raise ValueError(f"not a MAC address: {mac!r}")
    return bytes(int(p, 16) for p in parts)


def mac_str(mac: bytes) -> str:
    """6 bytes to the usual lower-case colon form."""
    return mac.hex(":")


def is_multicast(mac: bytes) -> bool:
    """The I/G bit: group addresses, broadcast included (IEEE 802-2014 §8.2)."""
    return bool(mac[0] & 1)


def parse(frame: bytes | memoryview) -> tuple[bytes, bytes, int] | str:
    """``(dst, src, ethertype)`` of a frame whose payload starts at ``ETH_HEADER_LEN``,
    or the reason it is dropped."""
    if len(frame) < ETH_HEADER_LEN:
        return "truncated frame"
    dst, src, ethertype = ETH_HEADER.unpack_from(frame)
    if ethertype == ETHERTYPE_VLAN:
        return "vlan tagged"
    return dst, src, ethertype


def build(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    """A frame carrying ``payload``."""
    return ETH_HEADER.pack(dst, src, ethertype) + payload
