"""ARP: the codec, the cache's rules, and a host answering and resolving."""

import random

from hypothesis import given
from hypothesis import strategies as st

from tcplab.stack import ethernet
from tcplab.stack.arp import (
    ARP_LEN,
    OP_REPLY,
    OP_REQUEST,
    ArpCache,
    ArpPacket,
    build_arp,
    parse_arp,
)
from tcplab.stack.events import FrameDropped
from tcplab.stack.host import Host
from tcplab.tcp.codec import ip_to_bytes
from tcplab.tcp.config import Config

MAC1 = bytes.fromhex("020000000001")
MAC2 = bytes.fromhex("020000000002")
IP1 = ip_to_bytes("10.0.0.1")
IP2 = ip_to_bytes("10.0.0.2")
IP9 = ip_to_bytes("10.0.0.9")


def test_codec_round_trip() -> None:
    data = build_arp(OP_REQUEST, MAC1, IP1, bytes(6), IP2)
    assert len(data) == ARP_LEN == 28
    assert parse_arp(data) == ArpPacket(OP_REQUEST, MAC1, IP1, bytes(6), IP2)
    # Ethernet padding after the 28 bytes is ignored.
    assert parse_arp(data + bytes(18)) == ArpPacket(OP_REQUEST, MAC1, IP1, bytes(6), IP2)


def test_codec_rejects() -> None:
    good = build_arp(OP_REPLY, MAC1, IP1, MAC2, IP2)
    assert parse_arp(good[:27]) == "malformed arp"
    assert parse_arp(b"\x00\x06" + good[2:]) == "unsupported arp"   # htype 6 (IEEE 802)
    assert parse_arp(good[:4] + b"\x08\x04" + good[6:]) == "unsupported arp"  # hlen 8
    assert parse_arp(good[:6] + b"\x00\x09" + good[8:]) == "unsupported arp"  # opcode 9


@given(st.binary(max_size=40))
def test_parse_never_raises(data: bytes) -> None:
    assert isinstance(parse_arp(data), ArpPacket | str)


def test_cache_learns_only_when_addressed_or_known() -> None:
    cache: ArpCache[str] = ArpCache(ttl=60.0)
    assert cache.learn(IP2, MAC2, 0.0, create=False) == []
    assert cache.lookup(IP2, 0.0) is None
    cache.learn(IP2, MAC2, 0.0, create=True)
    assert cache.lookup(IP2, 1.0) == MAC2
    # Already known: updated (RFC 826 merge) even when not addressed to us.
    cache.learn(IP2, MAC1, 2.0, create=False)
    assert cache.lookup(IP2, 3.0) == MAC1


def test_cache_entry_expires() -> None:
    cache: ArpCache[str] = ArpCache(ttl=60.0)
    cache.learn(IP2, MAC2, 10.0, create=True)
    assert cache.lookup(IP2, 69.9) == MAC2
    assert cache.entries(69.9) == [(IP2, MAC2, 70.0)]
    assert cache.lookup(IP2, 70.0) is None
    assert cache.entries(70.0) == []


def test_cache_queue_is_bounded_oldest_dropped() -> None:
    cache: ArpCache[str] = ArpCache(queue_limit=3)
    assert cache.resolve("eth0", IP2, "p1", 0.0) == (True, None)
    assert cache.resolve("eth0", IP2, "p2", 0.0) == (False, None)
    assert cache.resolve("eth0", IP2, "p3", 0.0) == (False, None)
    assert cache.resolve("eth0", IP2, "p4", 0.0) == (False, "p1")
    assert cache.learn(IP2, MAC2, 0.5, create=False) == ["p2", "p3", "p4"]
    assert cache.pending() == []
    assert cache.lookup(IP2, 0.5) == MAC2


def test_cache_retries_then_times_out() -> None:
    cache: ArpCache[str] = ArpCache(retry_interval=1.0, attempts=3)
    cache.resolve("eth0", IP2, "p1", 0.0)
    assert cache.get_timer() == 1.0
    assert cache.handle_timer(0.5) == ([], [])
    assert cache.handle_timer(1.0) == ([("eth0", IP2)], [])
    assert cache.handle_timer(2.0) == ([("eth0", IP2)], [])
    assert cache.get_timer() == 3.0
    assert cache.handle_timer(3.0) == ([], ["p1"])
    assert cache.get_timer() is None


def _host() -> Host:
    # A long RTO keeps SYN retransmissions out of the ARP timings under test.
    host = Host("h2", rng=random.Random(1), config=Config(rto_initial=10.0, rto_min=10.0))
    host.add_interface("eth0", ethernet.mac_str(MAC2), "10.0.0.2", 24)
    return host


def test_host_answers_request_for_its_address_and_learns_sender() -> None:
    host = _host()
    req = build_arp(OP_REQUEST, MAC1, IP1, bytes(6), IP2)
    host.receive_frame("eth0", ethernet.build(ethernet.BROADCAST, MAC1,
                                              ethernet.ETHERTYPE_ARP, req), 5.0)
    [(ifname, frame)] = host.frames_to_send()
    assert ifname == "eth0"
    assert ethernet.parse(frame) == (MAC1, MAC2, ethernet.ETHERTYPE_ARP)
    assert parse_arp(frame[14:]) == ArpPacket(OP_REPLY, MAC2, IP2, MAC1, IP1)
    assert host.arp_table(5.0) == [("10.0.0.1", "02:00:00:00:00:01", 65.0)]


def test_host_ignores_request_for_another_address() -> None:
    host = _host()
    req = build_arp(OP_REQUEST, MAC1, IP1, bytes(6), IP9)
    host.receive_frame("eth0", ethernet.build(ethernet.BROADCAST, MAC1,
                                              ethernet.ETHERTYPE_ARP, req), 0.0)
    assert host.frames_to_send() == []
    assert host.arp_table(0.0) == []
    assert host.next_event() is None


def _arp_requests(frames: list[tuple[str, bytes]]) -> list[bytes]:
    out = []
    for _, frame in frames:
        if ethernet.parse(frame) == (ethernet.BROADCAST, MAC2, ethernet.ETHERTYPE_ARP):
            pkt = parse_arp(frame[14:])
            assert isinstance(pkt, ArpPacket) and pkt.op == OP_REQUEST
            out.append(pkt.tpa)
    return out


def test_resolution_queues_then_flushes_on_reply() -> None:
    host = _host()
    host.connect("10.0.0.1", 80, 0.0)
    frames = host.frames_to_send()
    assert _arp_requests(frames) == [IP1]
    assert len(frames) == 1  # the SYN waits
    reply = build_arp(OP_REPLY, MAC1, IP1, MAC2, IP2)
    host.receive_frame("eth0", ethernet.build(MAC2, MAC1, ethernet.ETHERTYPE_ARP, reply), 0.25)
    [(_, syn)] = host.frames_to_send()
    assert ethernet.parse(syn) == (MAC1, MAC2, ethernet.ETHERTYPE_IPV4)
    sent = [e for e in iter(host.next_event, None) if e.kind == "segment.sent"]
    assert [e.t for e in sent] == [0.25]  # stamped when the frame really left


def test_resolution_times_out_after_three_requests() -> None:
    host = _host()
    host.connect("10.0.0.9", 80, 0.0)
    requests = _arp_requests(host.frames_to_send())
    now = 0.0
    while (t := host.get_timer()) is not None and t < 3.5:
        now = t
        host.handle_timer(now)
        requests += _arp_requests(host.frames_to_send())
    assert requests == [IP9, IP9, IP9]
    drops = [e for e in iter(host.next_event, None) if isinstance(e, FrameDropped)]
    assert [(d.reason, d.t) for d in drops] == [("arp timeout", 3.0)]
    assert host.drops["arp timeout"] == 1


def test_expired_entry_is_resolved_again() -> None:
    host = _host()
    req = build_arp(OP_REQUEST, MAC1, IP1, bytes(6), IP2)
    host.receive_frame("eth0", ethernet.build(ethernet.BROADCAST, MAC1,
                                              ethernet.ETHERTYPE_ARP, req), 0.0)
    host.frames_to_send()
    host.connect("10.0.0.1", 80, 59.0)
    assert _arp_requests(host.frames_to_send()) == []   # fresh: the SYN goes straight out
    host.connect("10.0.0.1", 81, 61.0)
    assert _arp_requests(host.frames_to_send()) == [IP1]
