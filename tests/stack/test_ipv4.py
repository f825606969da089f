"""IPv4: header checks, ICMP echo, routing, and what a host does with odd packets."""

import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcplab.stack import ethernet, ipv4
from tcplab.stack.arp import OP_REPLY, OP_REQUEST, build_arp
from tcplab.stack.events import FrameDropped
from tcplab.stack.host import Host, HostError
from tcplab.tcp.codec import internet_checksum, ip_to_bytes

A = ip_to_bytes("10.0.0.1")
B = ip_to_bytes("10.0.0.2")
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def _reseal(packet: bytes) -> bytes:
    """The packet with its header checksum recomputed after an edit."""
    ihl = (packet[0] & 0xF) * 4
    head = packet[:10] + b"\0\0" + packet[12:ihl]
    return head[:10] + internet_checksum(head).to_bytes(2, "big") + head[12:] + packet[ihl:]


def test_build_then_parse() -> None:
    pkt = ipv4.build(A, B, ipv4.PROTO_TCP, b"x" * 30, ident=7)
    h = ipv4.parse(pkt)
    assert h == ipv4.Ipv4Header(A, B, ipv4.PROTO_TCP, 64, 7, 20, 50)
    assert struct.unpack_from("!H", pkt, 6)[0] == ipv4.FLAG_DF
    assert internet_checksum(pkt[:20]) == 0


def test_padding_is_trimmed_by_total_length() -> None:
    pkt = ipv4.build(A, B, ipv4.PROTO_TCP, b"abc", ident=1)
    h = ipv4.parse(pkt + bytes(20))
    assert isinstance(h, ipv4.Ipv4Header)
    assert (pkt + bytes(20))[h.header_len:h.total_len] == b"abc"


def test_checks_in_order() -> None:
    good = ipv4.build(A, B, ipv4.PROTO_TCP, b"data", ident=1)
    assert ipv4.parse(good[:19]) == "malformed ip"
    assert ipv4.parse(_reseal(b"\x65" + good[1:])) == "malformed ip"           # version 6
    assert ipv4.parse(_reseal(b"\x44" + good[1:])) == "malformed ip"           # IHL 4
    assert ipv4.parse(_reseal(b"\x4f" + good[1:])) == "malformed ip"           # IHL past end
    assert ipv4.parse(_reseal(good[:2] + b"\x00\x13" + good[4:])) == "malformed ip"  # < IHL
    assert ipv4.parse(_reseal(good[:2] + b"\x00\xff" + good[4:])) == "malformed ip"  # > data
    corrupt = good[:8] + bytes([good[8] ^ 1]) + good[9:]                       # TTL flipped
    assert ipv4.parse(corrupt) == "bad ip checksum"
    more_frags = _reseal(good[:6] + b"\x20\x00" + good[8:])
    assert ipv4.parse(more_frags) == "fragment"
    offset = _reseal(good[:6] + b"\x00\x10" + good[8:])
    assert ipv4.parse(offset) == "fragment"


def test_options_are_skipped() -> None:
    base = ipv4.build(A, B, ipv4.PROTO_TCP, b"pay", ident=1)
    with_opts = _reseal(b"\x46" + base[1:2] + (27).to_bytes(2, "big") + base[4:20]
                        + b"\x01\x01\x01\x00" + b"pay")
    h = ipv4.parse(with_opts)
    assert isinstance(h, ipv4.Ipv4Header) and h.header_len == 24
    assert with_opts[h.header_len:h.total_len] == b"pay"


@given(st.binary(max_size=80))
def test_parse_never_raises(data: bytes) -> None:
    assert isinstance(ipv4.parse(data), ipv4.Ipv4Header | str)


def test_echo_reply() -> None:
    req = ipv4.echo_request(0x1234, 7, b"ping payload")
    reply = ipv4.echo_reply(req)
    assert isinstance(reply, bytes)
    assert reply[0] == ipv4.ICMP_ECHO_REPLY and reply[4:] == req[4:]
    assert internet_checksum(reply) == 0
    assert ipv4.echo_reply(req[:7]) == "malformed icmp"
    assert ipv4.echo_reply(req[:-1] + b"?") == "bad icmp checksum"
    unreachable = bytes([3, 1, 0, 0]) + bytes(4)
    assert ipv4.echo_reply(unreachable) is None


def test_route_longest_prefix_then_gateway() -> None:
    prefixes = sorted([ipv4.prefix_of(ip_to_bytes("10.0.0.1"), 16, "wide"),
                       ipv4.prefix_of(ip_to_bytes("10.0.5.1"), 24, "narrow")],
                      key=lambda p: -p.prefix_len)
    assert ipv4.route(prefixes, None, ip_to_bytes("10.0.5.9")) == ("narrow",
                                                                   ip_to_bytes("10.0.5.9"))
    assert ipv4.route(prefixes, None, ip_to_bytes("10.0.6.9")) == ("wide",
                                                                   ip_to_bytes("10.0.6.9"))
    assert ipv4.route(prefixes, None, ip_to_bytes("8.8.8.8")) is None
    gw = ip_to_bytes("10.0.5.254")
    assert ipv4.route(prefixes, gw, ip_to_bytes("8.8.8.8")) == ("narrow", gw)
    assert ipv4.route(prefixes, ip_to_bytes("192.168.1.1"), ip_to_bytes("8.8.8.8")) is None


# --- a host's IP layer ------------------------------------------------------------------

def _host() -> Host:
    host = Host("h2", rng=random.Random(3))
    host.add_interface("eth0", ethernet.mac_str(MAC_B), "10.0.0.2", 24)
    # Teach it h1's MAC so replies leave at once.
    req = build_arp(OP_REQUEST, MAC_A, A, bytes(6), B)
    host.receive_frame("eth0", ethernet.build(ethernet.BROADCAST, MAC_A,
                                              ethernet.ETHERTYPE_ARP, req), 0.0)
    host.frames_to_send()
    return host


def _frame(packet: bytes, dst_mac: bytes = MAC_B) -> bytes:
    return ethernet.build(dst_mac, MAC_A, ethernet.ETHERTYPE_IPV4, packet)


def _drops(host: Host) -> list[str]:
    return [e.reason for e in iter(host.next_event, None) if isinstance(e, FrameDropped)]


def test_ping_gets_an_echo_reply() -> None:
    host = _host()
    req = ipv4.echo_request(99, 1, b"abcdefgh")
    host.receive_frame("eth0", _frame(ipv4.build(A, B, ipv4.PROTO_ICMP, req, 5, df=False)), 1.0)
    [(ifname, frame)] = host.frames_to_send()
    assert ifname == "eth0"
    assert ethernet.parse(frame) == (MAC_A, MAC_B, ethernet.ETHERTYPE_IPV4)
    h = ipv4.parse(frame[14:])
    assert isinstance(h, ipv4.Ipv4Header)
    assert (h.src, h.dst, h.proto, h.ttl) == (B, A, ipv4.PROTO_ICMP, 64)
    icmp = frame[14 + h.header_len:]
    assert icmp[0] == ipv4.ICMP_ECHO_REPLY and icmp[4:] == req[4:]


def _icmp_error(icmp_type: int, code: int, quoted: bytes) -> bytes:
    body = bytes([icmp_type, code, 0, 0]) + bytes(4) + quoted
    return body[:2] + internet_checksum(body).to_bytes(2, "big") + body[4:]


@pytest.mark.parametrize(("packet", "reason"), [
    (ipv4.build(A, ip_to_bytes("10.0.0.3"), ipv4.PROTO_TCP, bytes(20), 1), "not for us"),
    (ipv4.build(A, B, 17, bytes(8), 1), "not tcp"),
    (ipv4.build(A, B, ipv4.PROTO_ICMP, bytes([3, 1, 0, 0]) + bytes(4), 1),
     "bad icmp checksum"),
    (ipv4.build(A, B, ipv4.PROTO_ICMP, _icmp_error(3, 1, bytes(4)), 1), "malformed icmp"),
    (ipv4.build(A, B, ipv4.PROTO_ICMP, _icmp_error(3, 3, ipv4.build(B, A, 17, bytes(8), 9)),
                1), "not tcp"),
    (ipv4.build(A, B, ipv4.PROTO_ICMP, _icmp_error(3, 3, ipv4.build(
        B, A, ipv4.PROTO_TCP, bytes(20), 9)), 1), "icmp error for no connection"),
    (ipv4.build(A, B, ipv4.PROTO_ICMP, b"\x08\x00", 1), "malformed icmp"),
    (ipv4.build(A, B, ipv4.PROTO_TCP, bytes(20), 1)[:-25], "malformed ip"),
])
def test_packets_dropped_with_reasons(packet: bytes, reason: str) -> None:
    host = _host()
    host.receive_frame("eth0", _frame(packet), 1.0)
    assert host.frames_to_send() == []
    assert _drops(host) == [reason]
    assert host.drops[reason] == 1


def test_frames_for_other_macs_and_ethertypes_are_dropped() -> None:
    host = _host()
    pkt = ipv4.build(A, B, ipv4.PROTO_ICMP, ipv4.echo_request(1, 1, b""), 1)
    host.receive_frame("eth0", _frame(pkt, dst_mac=bytes.fromhex("020000000099")), 1.0)
    host.receive_frame("eth0", _frame(pkt, dst_mac=bytes.fromhex("333300000001")), 1.0)
    host.receive_frame("eth0", ethernet.build(MAC_B, MAC_A, 0x86DD, bytes(40)), 1.0)
    host.receive_frame("eth0", b"\x01\x02", 1.0)
    assert host.frames_to_send() == []
    assert _drops(host) == ["not for us", "not for us", "unknown ethertype", "truncated frame"]


def test_mss_follows_the_mtu() -> None:
    host = Host("h1", rng=random.Random(1))
    host.add_interface("eth0", "02:00:00:00:00:01", "10.0.0.1", 24, mtu=1000)
    host.connect("10.0.0.2", 80, 0.0)
    # The SYN waits for ARP; the reply releases it.
    reply = build_arp(OP_REPLY, MAC_B, B, bytes.fromhex("020000000001"), A)
    host.receive_frame("eth0", ethernet.build(bytes.fromhex("020000000001"), MAC_B,
                                              ethernet.ETHERTYPE_ARP, reply), 0.1)
    sent = [e for e in iter(host.next_event, None) if e.kind == "segment.sent"]
    assert sent[0].segment.mss() == 960  # type: ignore[union-attr]
    _arp_request, (_, frame) = host.frames_to_send()
    h = ipv4.parse(frame[14:])
    assert isinstance(h, ipv4.Ipv4Header) and h.ttl == 64 and h.proto == ipv4.PROTO_TCP
    assert struct.unpack_from("!H", frame, 14 + 6)[0] == ipv4.FLAG_DF


def test_gateway_is_the_next_hop_off_link() -> None:
    host = Host("h1", rng=random.Random(1))
    host.add_interface("eth0", "02:00:00:00:00:01", "10.0.0.1", 24)
    with pytest.raises(HostError, match=r"no route from h1 to 192\.168\.7\.7"):
        host.connect("192.168.7.7", 80, 0.0)
    host.gateway = "10.0.0.254"
    assert host.gateway == "10.0.0.254"
    host.connect("192.168.7.7", 80, 0.0)
    [(_, frame)] = host.frames_to_send()
    assert ethernet.parse(frame)[2] == ethernet.ETHERTYPE_ARP  # type: ignore[index]
    assert frame[14 + 24:14 + 28] == ip_to_bytes("10.0.0.254")  # ARP target = gateway
