"""The host against a hostile or broken peer, and the urgent report: urgent data
reaches the application's soft-error report (RFC 9293 §3.8.5, §3.9.1.8)."""

from __future__ import annotations

import errno
import random

import pytest
from test_host import IP2, MAC2, Net

from tcplab.stack import ethernet, ipv4
from tcplab.stack.events import Delivered, SegmentSent, SoftError
from tcplab.stack.host import CLOSED_KEPT, Host, HostError
from tcplab.tcp.codec import encode, ip_to_bytes
from tcplab.tcp.segment import ACK, SYN, URG, Mss, Segment
from tcplab.tcp.states import State


def _established() -> tuple[Net, int, int]:
    net = Net()
    net.h2.listen(80, now=0.0)
    c = net.h1.connect(IP2, 80, 0.0)
    net.run(0.5)
    [child] = [s for s in net.h2.sockets() if s.kind == "connection"]
    return net, c, child.id


def test_urgent_data_is_reported_to_the_receiving_application() -> None:
    net, c, s = _established()
    assert net.h1.send(c, b"abc", net.now) == 3
    assert net.h1.send(c, b"!", net.now, urgent=True) == 1
    net.run(1.0)
    urgent = [e for e in net.of(SegmentSent, "h1") if e.segment.flags & URG]
    assert urgent and all(e.segment.seq + e.segment.urgent == urgent[0].segment.seq
                          + urgent[0].segment.urgent for e in urgent)
    reports = [e for e in net.of(SoftError, "h2") if e.sid == s]
    # "abc" went first and was read; the urgent octet is the one up to the mark
    assert [r.reason for r in reports] == ["urgent data: 1 byte up to the urgent mark"]
    # in order, in the stream: nothing taken out
    assert b"".join(e.data for e in net.of(Delivered, "h2")) == b"abc!"


def test_a_simulated_hosts_isn_key_comes_from_the_run_seed() -> None:
    # deliberate: a simulated run replays from its seed, ISNs included
    keys = [Host("h", rng=random.Random(seed)).config.isn_secret for seed in (7, 7, 8)]
    assert keys[0] == keys[1] != keys[2]


def test_memory_does_not_grow_with_the_connections_a_host_has_seen() -> None:
    # 300 connections opened, used and closed: the hosts keep a bounded number of
    # records (the last CLOSED_KEPT closed ones), no demux entries, no port counters
    net = Net()
    lsid = net.h2.listen(80, now=0.0)
    for i in range(300):
        c = net.h1.connect(IP2, 80, net.now)
        net.run(net.now + 0.1)
        net.h1.send(c, b"ping", net.now)
        net.h1.close(c, net.now)
        net.run(net.now + 0.2)
        for info in net.h2.sockets():
            if info.kind == "connection" and info.state is State.CLOSE_WAIT:
                net.h2.close(info.id, net.now)
        net.run(net.now + (61.0 if i % 100 == 99 else 0.2))  # 2*MSL now and then
        if i == 0:
            first = c
    net.run(net.now + 61.0)
    for host in (net.h1, net.h2):
        assert len(host._socks) <= CLOSED_KEPT + 1  # + the listener
        assert host._demux == {}
        assert len(host._timers) <= 4 * host._timers.timed + 256
    assert dict(net.h1._ports.users) == {} and dict(net.h2._ports.users) == {80: 1}
    assert net.h2.socket(lsid).state is State.LISTEN  # the live listener stays
    with pytest.raises(HostError) as err:
        net.h1.socket(first)
    assert err.value.errno == errno.EBADF and "closed and forgotten" in str(err.value)
    # the most recent closed ones still answer
    assert net.h1.sockets()[-1].state is State.CLOSED


# ---------------------------------------------------------------- SYN flood
def _spoofed_syn(host: Host, rng: random.Random, now: float) -> None:
    src = ip_to_bytes(f"10.0.0.{rng.randrange(10, 250)}")
    dst = ip_to_bytes(IP2)
    seg = Segment(rng.randrange(1024, 65536), 80, rng.getrandbits(32), 0, SYN, 65535,
                  (Mss(1460),))
    packet = ipv4.build(src, dst, ipv4.PROTO_TCP, encode(seg, src, dst), ident=1)
    frame = ethernet.build(ethernet.mac_to_bytes(MAC2), ethernet.mac_to_bytes("02:00:00:00:00:99"),
                           ethernet.ETHERTYPE_IPV4, packet)
    host.receive_frame("eth0", frame, now)


def _connect_during_flood(cookies: bool) -> tuple[Net, int, int, float | None]:
    """1,000 spoofed SYN/s for 3 s at h2:80 (backlog 128); h1 connects at t=1 s.
    Returns when h1's connection was established (None: not during the flood)."""
    net = Net()
    lsid = net.h2.listen(80, now=0.0, tcp={"syncookies": cookies})
    rng = random.Random(5)
    c = -1
    established = None
    for i in range(3000):
        net.run(i / 1000)
        _spoofed_syn(net.h2, rng, net.now)
        if i == 1000:
            c = net.h1.connect(IP2, 80, net.now)
        net.settle()
        if c > 0 and established is None and net.h1.socket(c).state is State.ESTABLISHED:
            established = net.now
    return net, lsid, c, established


def test_a_client_connects_during_a_syn_flood_thanks_to_syn_cookies() -> None:
    net, lsid, c, established = _connect_during_flood(cookies=True)
    assert established is not None and established - 1.0 < 0.01  # at once
    assert net.h2.cookies["sent"] > 1000 and net.h2.cookies["taken"] == 1
    [child] = [s for s in net.h2.sockets()
               if s.listener == lsid and s.remote == net.h1.socket(c).local]
    assert child.state is State.ESTABLISHED
    st = child.status
    # window scale and SACK came back in the TSecr (timestamps are on by default)
    assert (st.snd_wscale, st.sack, st.timestamps, st.mss) == (7, True, True, 1448)
    net.h1.send(c, b"through the flood", net.now)
    net.run(net.now + 0.1)
    got = b"".join(e.data for e in net.of(Delivered, "h2") if e.sid == child.id)
    assert got == b"through the flood"
    assert len(net.h2._socks) <= 1 + 128 + 1  # the flood's SYNs above the queue left nothing


def test_without_syn_cookies_the_flood_keeps_the_client_out() -> None:
    net, _lsid, c, established = _connect_during_flood(cookies=False)
    assert established is None
    assert net.h1.socket(c).state is State.SYN_SENT
    assert net.h2.drops["backlog full"] > 1000


def test_a_forged_cookie_is_refused() -> None:
    net = Net()
    net.h2.listen(80, now=0.0, backlog=1)
    rng = random.Random(1)
    for _ in range(3):
        _spoofed_syn(net.h2, rng, 0.0)  # the queue fills, then cookies go out
    assert net.h2.cookies["sent"] == 2
    src, dst = ip_to_bytes("10.0.0.7"), ip_to_bytes(IP2)
    ack = Segment(4000, 80, 1001, 123456, ACK, 65535)
    packet = ipv4.build(src, dst, ipv4.PROTO_TCP, encode(ack, src, dst), ident=1)
    net.h2.receive_frame("eth0", ethernet.build(
        ethernet.mac_to_bytes(MAC2), ethernet.mac_to_bytes("02:00:00:00:00:99"),
        ethernet.ETHERTYPE_IPV4, packet), 0.0)
    assert net.h2.cookies["refused"] == 1 and net.h2.cookies["taken"] == 0
    assert net.h2.drops["ack in listen"] == 1  # answered as any ACK to a listener: RST


# ---------------------------------------------------------------- MUST-43
def test_open_takes_an_optional_local_address() -> None:
    # RFC 9293 §3.9.1.1 (MUST-43): an active OPEN may name its source address, a passive
    # one the address it listens on
    net = Net()
    net.h1.add_interface("eth1", "02:00:00:00:01:01", "10.0.1.1", 24)
    net.h2.gateway = "10.0.0.1"  # h2 reaches 10.0.1.0/24 through h1
    net.h2.listen(80, now=0.0)
    c = net.h1.connect(IP2, 80, 0.0, local_ip="10.0.1.1")
    net.run(0.5)
    assert net.h1.socket(c).state is State.ESTABLISHED
    assert net.h1.socket(c).local[0] == "10.0.1.1"
    [child] = [s for s in net.h2.sockets() if s.kind == "connection"]
    assert child.remote == (net.h1.socket(c).local) and child.state is State.ESTABLISHED
    # a listener bound to one address: a SYN to another of the host's is refused
    lsid = net.h1.listen(90, now=net.now, local_ip="10.0.1.1")
    assert net.h1.socket(lsid).local == ("10.0.1.1", 90)
    refused = net.h2.connect("10.0.0.1", 90, net.now)
    taken = net.h2.connect("10.0.1.1", 90, net.now)
    net.run(net.now + 0.5)
    assert net.h2.socket(refused).state is State.CLOSED
    assert net.h2.socket(taken).state is State.ESTABLISHED
    for bad, code in (("10.0.0.99", errno.EADDRNOTAVAIL), ("nonsense", errno.EINVAL)):
        with pytest.raises(HostError) as err:
            net.h1.connect(IP2, 80, net.now, local_ip=bad)
        assert err.value.errno == code
        with pytest.raises(HostError) as err:
            net.h1.listen(91, now=net.now, local_ip=bad)
        assert err.value.errno == code


# ---------------------------------------------------------------- MUST-59
@pytest.mark.parametrize("burst", [True, False])
def test_a_burst_of_segments_is_all_processed_before_one_ack(burst: bool) -> None:
    # RFC 9293 §3.10.7.4 (MUST-59): segments that arrived together are all processed
    # before an ACK is sent, so one ACK acknowledges the four; one at a time, every
    # second full segment is acknowledged (RFC 5681 §4.2)
    net = Net()
    net.h2.listen(80, now=0.0)
    c = net.h1.connect(IP2, 80, 0.0)
    net.run(0.5)
    mss = net.h1.socket(c).status.mss
    net.h1.send(c, b"d" * (4 * mss), net.now)
    frames = net.h1.frames_to_send()
    assert len(frames) == 4
    list(iter(net.h2.next_event, None))
    if burst:
        net.h2.receive_frames(frames, net.now)
    else:
        for ifname, frame in frames:
            net.h2.receive_frame(ifname, frame, net.now)
    acks = [e.segment for e in iter(net.h2.next_event, None) if isinstance(e, SegmentSent)]
    end = net.h1.socket(c).status.snd_nxt
    if burst:
        assert [a.ack for a in acks] == [end]
    else:  # answered as they come: an ACK before all four were in
        assert len(acks) >= 2 and acks[0].ack != end


def test_without_timestamps_a_cookie_connection_offers_no_window_scale_or_sack() -> None:
    # the TSval carries them back; without timestamps the SYN,ACK must not offer them,
    # or the client would scale windows the server does not
    net = Net()
    lsid = net.h2.listen(80, now=0.0, backlog=1)
    _spoofed_syn(net.h2, random.Random(2), 0.0)  # the one place in the SYN queue
    c = net.h1.connect(IP2, 80, 0.0, tcp={"timestamps": False})
    net.run(0.5)
    assert net.h2.cookies["taken"] == 1
    ours = net.h1.socket(c)
    [child] = [s for s in net.h2.sockets()
               if s.listener == lsid and s.remote == ours.local]
    for st in (ours.status, child.status):
        assert (st.snd_wscale, st.rcv_wscale, st.sack, st.timestamps) == (0, 0, False, False)
    data = bytes(range(256)) * 800
    net.h1.send(c, data, net.now)
    net.run(net.now + 5.0)
    got = b"".join(e.data for e in net.of(Delivered, "h2") if e.sid == child.id)
    assert got == data
