"""IPv4 for a host that does not route: header codec, ICMP echo, route lookup.

Theory of operation
-------------------
:func:`parse` checks a received packet in the order RFC 1122 §3.2.1 lists --
version, header length, total length, checksum -- and returns the header and the
payload trimmed to the total length (Ethernet may pad short frames), or a drop
reason: ``"malformed ip"``, ``"bad ip checksum"``, ``"fragment"``.  It never raises.
Options are skipped, not interpreted (RFC 1122 §3.2.1.8 lets a host ignore the ones
it does not implement).

Reassembly is not implemented: every packet we send has DF set and fits the MTU
(the MSS is derived from it), so a fragment can only come from a misbehaving peer
and is dropped with the reason ``"fragment"``.

:func:`echo_reply` answers an ICMP echo request (RFC 1122 §3.2.2.6) so ``ping``
works against a stack host.  :func:`route` picks the outgoing interface: the
longest directly connected prefix holding the destination, else the default
gateway (itself on a connected prefix), else nothing.
"""

from __future__ import annotations

import errno
import struct
from typing import NamedTuple

from tcplab.tcp.codec import internet_checksum

IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
IPV4_HEADER_LEN = IPV4_HEADER.size  # 20

PROTO_ICMP = 1
PROTO_TCP = 6

DEFAULT_TTL = 64  # RFC 1700 / Linux ip_default_ttl
FLAG_DF = 0x4000
FLAG_MF = 0x2000
FRAG_OFFSET_MASK = 0x1FFF

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
_ICMP_HEADER = struct.Struct("!BBH")


class Ipv4Header(NamedTuple):
    """The IPv4 header fields the stack reads (RFC 791)."""
    src: bytes
    dst: bytes
    proto: int
    ttl: int
    ident: int
    header_len: int
    total_len: int


def parse(data: bytes | memoryview) -> Ipv4Header | str:
    """The header of a received packet (payload is ``data[header_len:total_len]``),
    or the reason it is dropped."""
    n = len(data)
    if n < IPV4_HEADER_LEN:
        return "malformed ip"
    (ver_ihl, _tos, total_len, ident, frag, ttl, proto, _csum, src,
     dst) = IPV4_HEADER.unpack_from(data)
    header_len = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or header_len < IPV4_HEADER_LEN or header_len > n:
        return "malformed ip"
    if total_len < header_len or total_len > n:
        return "malformed ip"
    # A correct header, checksum field included, sums to 0xFFFF (RFC 1071 §1), so
    # computing the checksum over it gives 0.
    if internet_checksum(data[:header_len]):
        return "bad ip checksum"
    if frag & (FLAG_MF | FRAG_OFFSET_MASK):
        return "fragment"
    return Ipv4Header(src, dst, proto, ttl, ident, header_len, total_len)


def build(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int, *,
          ttl: int = DEFAULT_TTL, df: bool = True, tos: int = 0) -> bytes:
    """A packet with a 20-byte header and a correct header checksum; ``tos`` is the
    Diffserv byte (DSCP << 2; the ECN bits stay 0)."""
    total = IPV4_HEADER_LEN + len(payload)
    frag = FLAG_DF if df else 0
    csum = internet_checksum(IPV4_HEADER.pack(0x45, tos, total, ident, frag, ttl, proto, 0,
                                              src, dst))
    return IPV4_HEADER.pack(0x45, tos, total, ident, frag, ttl, proto, csum, src, dst) + payload


def echo_reply(icmp: bytes | memoryview) -> bytes | str | None:
    """The reply to an ICMP echo request, None for any other ICMP message, or a drop
    reason.  Identifier, sequence and data are echoed unchanged (RFC 792)."""
    if len(icmp) < _ICMP_HEADER.size + 4:
        return "malformed icmp"
    icmp_type, _code, _csum = _ICMP_HEADER.unpack_from(icmp)
    if icmp_type != ICMP_ECHO_REQUEST:
        return None
    if internet_checksum(icmp):
        return "bad icmp checksum"
    rest = bytes(icmp[4:])
    csum = internet_checksum(_ICMP_HEADER.pack(ICMP_ECHO_REPLY, 0, 0) + rest)
    return _ICMP_HEADER.pack(ICMP_ECHO_REPLY, 0, csum) + rest


class IcmpError(NamedTuple):
    """An ICMP error about a TCP segment we sent: the quoted addresses, ports and
    sequence number (RFC 792: the IP header and the first 8 bytes of its payload)."""

    type: int
    code: int
    src: bytes          # our address, as quoted
    dst: bytes
    sport: int
    dport: int
    seq: int


ICMP_ERRORS = {3: "destination unreachable", 4: "source quench", 11: "time exceeded",
               12: "parameter problem"}


# RFC 9293 §3.9.2.2: Destination Unreachable codes 2-4 are hard errors (SHLD-26) -- but
# "fragmentation needed" is path MTU discovery's news, which ends no connection (as in
# Linux); tcplab does no PMTUD, so it is reported like a soft error
_HARD_UNREACHABLE = {2: errno.ENOPROTOOPT, 3: errno.ECONNREFUSED}
_UNREACHABLE_CODES = {0: "network unreachable", 1: "host unreachable",
                      2: "protocol unreachable", 3: "port unreachable",
                      4: "fragmentation needed", 5: "source route failed",
                      13: "administratively prohibited"}


def icmp_meaning(err: IcmpError) -> tuple[bool, int, str]:
    """Whether ``err`` is a hard error, the errno it stands for, and its code in words."""
    hard = err.type == 3 and err.code in _HARD_UNREACHABLE
    code = (_HARD_UNREACHABLE[err.code] if hard
            else errno.EHOSTUNREACH if err.type != 12 else errno.EPROTO)
    words = (_UNREACHABLE_CODES.get(err.code, f"code {err.code}") if err.type == 3
             else f"code {err.code}")
    return hard, code, words


def icmp_error(icmp: bytes | memoryview) -> IcmpError | str | None:
    """The TCP error an ICMP message reports; None when it is not an error message
    about TCP; a drop reason when it is malformed."""
    if len(icmp) < 8 or icmp[0] not in ICMP_ERRORS:
        return None
    if internet_checksum(icmp):
        return "bad icmp checksum"
    inner = icmp[8:]
    if len(inner) < IPV4_HEADER_LEN or inner[0] >> 4 != 4:
        return "malformed icmp"
    ihl = (inner[0] & 0x0F) * 4
    if ihl < IPV4_HEADER_LEN or len(inner) < ihl + 8:
        return "malformed icmp"
    if inner[9] != PROTO_TCP or struct.unpack_from("!H", inner, 6)[0] & FRAG_OFFSET_MASK:
        return None  # not TCP, or a later fragment: no TCP header quoted
    sport, dport, seq = struct.unpack_from("!HHI", inner, ihl)
    return IcmpError(icmp[0], icmp[1], bytes(inner[12:16]), bytes(inner[16:20]), sport,
                     dport, seq)


def echo_request(ident: int, seq: int, data: bytes) -> bytes:
    """An ICMP echo request (for tests and for a lab-level ping)."""
    body = struct.pack("!HH", ident, seq) + data
    csum = internet_checksum(_ICMP_HEADER.pack(ICMP_ECHO_REQUEST, 0, 0) + body)
    return _ICMP_HEADER.pack(ICMP_ECHO_REQUEST, 0, csum) + body


class Prefix(NamedTuple):
    """A directly connected network: ``network`` and ``mask`` as integers."""

    network: int
    mask: int
    prefix_len: int
    ifname: str


def special(ip: bytes) -> str | None:
    """Why ``ip`` can be no single remote host's address (RFC 1122 §3.2.1.3), or None:
    "this network" 0/8, loopback 127/8, or 224/3 (multicast, reserved, and the limited
    broadcast 255.255.255.255).  Directed broadcasts depend on the interface."""
    first = ip[0]
    if first == 0:
        return "an unspecified address"
    if first == 127:
        return "a loopback address"
    if first >= 224:
        return "a broadcast address" if ip == b"\xff\xff\xff\xff" else (
            "a multicast address" if first < 240 else "a reserved address")
    return None


def broadcast_of(p: Prefix) -> bytes | None:
    """The directed broadcast address of ``p``; None for a /31 or /32 (RFC 3021)."""
    if p.prefix_len >= 31:
        return None
    return (p.network | (~p.mask & 0xFFFFFFFF)).to_bytes(4, "big")


def prefix_of(ip: bytes, prefix_len: int, ifname: str) -> Prefix:
    """The routing prefix ``ip``/``prefix_len`` on ``ifname``."""
    mask = (0xFFFFFFFF << (32 - prefix_len)) & 0xFFFFFFFF
    return Prefix(int.from_bytes(ip, "big") & mask, mask, prefix_len, ifname)


def route(prefixes: list[Prefix], gateway: bytes | None,
          dst: bytes) -> tuple[str, bytes] | None:
    """``(ifname, next hop)`` for ``dst``; ``prefixes`` must be sorted longest first."""
    addr = int.from_bytes(dst, "big")
    for p in prefixes:
        if addr & p.mask == p.network:
            return p.ifname, dst
    if gateway is None:
        return None
    gw = int.from_bytes(gateway, "big")
    for p in prefixes:
        if gw & p.mask == p.network:
            return p.ifname, gateway
    return None
