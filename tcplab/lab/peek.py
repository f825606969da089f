"""Looking inside a frame on the wire: is it TCP, between whom, with which flags.

The network (not a host) needs this to describe what it dropped or held and to
match ``hold``/``drop`` filters.  It never raises: anything that is not a good
IPv4/TCP frame is described as what it is.
"""

from __future__ import annotations

import socket
from typing import NamedTuple

from tcplab.stack import ethernet, ipv4
from tcplab.tcp.codec import decode
from tcplab.tcp.segment import Segment, describe


class TcpFrame(NamedTuple):
    """A TCP segment found in a frame, with its ``(ip, port)`` source and destination."""

    src: tuple[str, int]
    dst: tuple[str, int]
    segment: Segment


def tcp_of(frame: bytes) -> TcpFrame | None:
    """The TCP segment a frame carries, or None."""
    eth = ethernet.parse(frame)
    if isinstance(eth, str) or eth[2] != ethernet.ETHERTYPE_IPV4:
        return None
    packet = memoryview(frame)[ethernet.ETH_HEADER_LEN:]
    ip = ipv4.parse(packet)
    if isinstance(ip, str) or ip.proto != ipv4.PROTO_TCP:
        return None
    seg = decode(packet[ip.header_len: ip.total_len], ip.src, ip.dst)
    if not isinstance(seg, Segment):
        return None
    return TcpFrame((socket.inet_ntoa(ip.src), seg.src_port),
                    (socket.inet_ntoa(ip.dst), seg.dst_port), seg)


def summary(frame: bytes) -> str:
    """One line: ``10.0.0.1:40000>10.0.0.2:80 S. 0:0(0) ack 1 win 65535 <...>`` or the
    kind of frame that is not TCP."""
    tcp = tcp_of(frame)
    if tcp is not None:
        (sip, sport), (dip, dport) = tcp.src, tcp.dst
        return f"{sip}:{sport}>{dip}:{dport} {describe(tcp.segment)}"
    eth = ethernet.parse(frame)
    if isinstance(eth, str):
        return eth
    if eth[2] == ethernet.ETHERTYPE_ARP:
        return "ARP"
    if eth[2] == ethernet.ETHERTYPE_IPV4:
        return "IPv4 (not TCP)"
    return f"ethertype 0x{eth[2]:04x}"
