"""Hosts wired back to back by a tiny loop: handshakes, data, teardown, RSTs, backlog,
ports, user errors, malformed input, timers and the event stream."""

from __future__ import annotations

import errno
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.lab import codec
from tcplab.stack import ethernet, ipv4
from tcplab.stack.events import (
    ALL_EVENTS,
    ConnectionFailed,
    Delivered,
    HostEvent,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
)
from tcplab.stack.host import EPHEMERAL_HIGH, EPHEMERAL_LOW, Host, HostError
from tcplab.tcp.codec import encode, ip_to_bytes
from tcplab.tcp.config import Config
from tcplab.tcp.segment import ACK, FIN, RST, SYN, Segment
from tcplab.tcp.states import State

MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
IP1, IP2 = "10.0.0.1", "10.0.0.2"


class Net:
    """Two hosts on one wire, a virtual clock, and every event they emitted."""

    def __init__(self, seed: int = 1, **kw: object) -> None:
        rng = random.Random(seed)
        self.h1 = Host("h1", rng=rng, **kw)  # type: ignore[arg-type]
        self.h2 = Host("h2", rng=rng, **kw)  # type: ignore[arg-type]
        self.h1.add_interface("eth0", MAC1, IP1, 24)
        self.h2.add_interface("eth0", MAC2, IP2, 24)
        self.now = 0.0
        self.events: list[HostEvent] = []
        self.frames = 0
        self.drop_next: set[str] = set()  # host names whose next TCP frame is lost

    def settle(self) -> None:
        """Deliver frames (no delay) until both hosts are quiet."""
        moved = True
        while moved:
            moved = False
            for src, dst in ((self.h1, self.h2), (self.h2, self.h1)):
                for _, frame in src.frames_to_send():
                    moved = True
                    self.frames += 1
                    if src.name in self.drop_next and frame[12:14] == b"\x08\x00":
                        self.drop_next.discard(src.name)
                        continue
                    dst.receive_frame("eth0", frame, self.now)
            for h in (self.h1, self.h2):
                while (ev := h.next_event()) is not None:
                    self.events.append(ev)

    def run(self, until: float) -> None:
        self.settle()
        while True:
            deadlines = [t for t in (self.h1.get_timer(), self.h2.get_timer()) if t is not None]
            if not deadlines or min(deadlines) > until:
                self.now = max(self.now, until)
                return
            self.now = max(self.now, min(deadlines))
            for h in (self.h1, self.h2):
                t = h.get_timer()
                if t is not None and t <= self.now:
                    h.handle_timer(self.now)
            self.settle()

    def of(self, kind: type, host: str | None = None) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind) and host in (None, e.host)]

    def states(self, host: str, sid: int) -> list[State]:
        return [e.new for e in self.of(StateChanged, host) if e.sid == sid]


def _established() -> tuple[Net, int, int]:
    net = Net()
    net.h2.listen(80, now=0.0)
    c = net.h1.connect(IP2, 80, 0.0)
    net.run(0.5)
    [child] = [s for s in net.h2.sockets() if s.kind == "connection"]
    return net, c, child.id


def test_handshake_data_and_close() -> None:
    net, c, s = _established()
    assert net.h1.socket(c).state is State.ESTABLISHED
    info = net.h2.socket(s)
    assert info.state is State.ESTABLISHED and info.listener == 1 and info.accepted
    assert info.local == (IP2, 80) and info.remote == net.h1.socket(c).local
    # The three segments of the handshake, seen from both sides.
    assert [e.segment.flags for e in net.of(SegmentSent, "h1")] == [SYN, ACK]
    assert [e.segment.flags for e in net.of(SegmentSent, "h2")] == [SYN | ACK]
    assert [e.sid for e in net.of(SegmentReceived, "h2")][:1] == [s]

    data = bytes(range(256)) * 400
    assert net.h1.send(c, data, net.now) == len(data)
    net.run(2.0)
    got = b"".join(e.data for e in net.of(Delivered, "h2"))
    assert got == data
    assert net.h2.socket(s).bytes_delivered == len(data)
    assert net.h1.socket(c).bytes_sent == len(data)

    net.h1.close(c, net.now)
    net.run(3.0)
    assert net.h2.socket(s).state is State.CLOSE_WAIT
    net.h2.close(s, net.now)
    net.run(4.0)
    assert net.h2.socket(s).state is State.CLOSED
    assert net.h1.socket(c).state is State.TIME_WAIT
    net.run(100.0)  # 2*MSL = 60 s
    assert net.h1.socket(c).history == (
        State.CLOSED, State.SYN_SENT, State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2,
        State.TIME_WAIT, State.CLOSED)
    assert net.states("h2", s) == [State.SYN_RECEIVED, State.ESTABLISHED, State.CLOSE_WAIT,
                                   State.LAST_ACK, State.CLOSED]
    assert net.h1.get_timer() is None and net.h2.get_timer() is None
    # Gone from the demux table: a new segment for that four-tuple is answered by RST.
    assert net.h1._demux == {} and net.h2._listeners.keys() == {80}


def test_state_changed_carries_the_cause() -> None:
    net, c, _ = _established()
    first = net.of(StateChanged, "h1")[:2]
    assert [(e.old, e.new, e.cause) for e in first] == [
        (State.CLOSED, State.SYN_SENT, "active OPEN"),
        (State.SYN_SENT, State.ESTABLISHED, "rcv SYN,ACK")]
    assert first[0].local == net.h1.socket(c).local and first[0].remote == (IP2, 80)


def test_every_event_is_json_ready() -> None:
    net, c, _ = _established()
    net.h1.send(c, b"hello\x00world", net.now)
    net.drop_next.add("h1")
    net.h1.send(c, b"lost once", net.now + 0.001)
    net.run(5.0)
    net.h1.abort(c, net.now)
    net.run(6.0)
    kinds = set()
    for ev in net.events:
        d = codec.record(ev)
        json.dumps(d)
        assert d["kind"] == ev.kind and d["host"] == ev.host
        kinds.add(ev.kind)
    assert {"segment.sent", "segment.received", "state.changed", "timer.armed",
            "data.delivered", "segment.retransmitted", "socket.error"} <= kinds
    assert len({cls.kind for cls in ALL_EVENTS}) == len(ALL_EVENTS)
    # The drop set after the first send takes "hello\x00world" (its frame is still
    # queued), so it goes twice: first sent, then resent by the RTO after the tail loss
    # probe (RFC 8985 §7.3) carried "lost once".  The first copy is the one checked.
    sent, _again = [codec.record(e) for e in net.of(SegmentSent, "h1")
                    if e.segment.payload == b"hello\x00world"]
    assert sent["segment"]["len"] == 11 and sent["segment"]["ascii"] == "hello.world"


def test_syn_rto_counts_from_connect_even_while_arp_resolves() -> None:
    # A 300 ms one-way delay: ARP takes 0.6 s, so the first SYN reaches the wire at 0.6
    # and its retransmission at 1.0 s, 0.4 s later.  That is the RTO, not a probe: the
    # engine hands the SYN to IP at connect and starts the timer then (RFC 6298 §2.1,
    # §5.1: 1 s; Linux does the same, its SYN waiting in the neighbour queue), and no
    # tail loss probe is armed before ESTABLISHED (RFC 8985 §7.2 probes data only).
    delay = 0.3
    h1 = Host("h1", rng=random.Random(1))
    h2 = Host("h2", rng=random.Random(2))
    h1.add_interface("eth0", MAC1, IP1, 24)
    h2.add_interface("eth0", MAC2, IP2, 24)
    h2.listen(80, now=0.0)
    c = h1.connect(IP2, 80, 0.0)
    wire: list[tuple[float, Host, bytes]] = []
    events: list[HostEvent] = []
    now = 0.0
    while now < 1.1:
        for src, dst in ((h1, h2), (h2, h1)):
            wire += [(now + delay, dst, frame) for _, frame in src.frames_to_send()]
            while (ev := src.next_event()) is not None:
                events.append(ev)
        due = [t for t in (h1.get_timer(), h2.get_timer()) if t is not None]
        now = min(due + [t for t, _, _ in wire])
        for t, dst, frame in [w for w in wire if w[0] <= now]:
            wire.remove((t, dst, frame))
            dst.receive_frame("eth0", frame, now)
        for h in (h1, h2):
            deadline = h.get_timer()
            if deadline is not None and deadline <= now:
                h.handle_timer(now)
    syns = [e.t for e in events if isinstance(e, SegmentSent) and e.host == "h1"
            and e.segment.flags == SYN]
    assert syns == [pytest.approx(0.6), pytest.approx(1.0)]
    armed = {(e.name, e.deadline) for e in events
             if e.kind == "timer.armed" and e.host == "h1" and e.sid == c}
    assert armed == {("rtx", 1.0), ("rtx", 3.0)}


def test_simultaneous_open_with_fixed_ports() -> None:
    net = Net()
    a = net.h1.connect(IP2, 6000, 0.0, lport=5000)
    b = net.h2.connect(IP1, 5000, 0.0, lport=6000)
    net.run(5.0)
    assert net.h1.socket(a).state is State.ESTABLISHED
    assert net.h2.socket(b).state is State.ESTABLISHED
    assert State.SYN_RECEIVED in net.h1.socket(a).history


def test_rst_to_a_closed_port_refuses_the_connection() -> None:
    net = Net()
    c = net.h1.connect(IP2, 81, 0.0)
    net.run(1.0)
    assert net.h1.socket(c).state is State.CLOSED
    [err] = net.of(ConnectionFailed, "h1")
    assert err.errno == errno.ECONNREFUSED
    [drop] = net.of(SegmentDropped, "h2")
    assert drop.reason == "no socket" and drop.sid is None
    syn = net.of(SegmentSent, "h1")[0].segment
    [rst] = [e for e in net.of(SegmentSent, "h2")]
    # RFC 9293 §3.10.7.1, no ACK in the offending segment: <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
    assert rst.sid is None
    assert (rst.segment.flags, rst.segment.seq, rst.segment.ack) == (
        RST | ACK, 0, (syn.seq + 1) & 0xFFFFFFFF)


def _inject(host: Host, seg: Segment, src: str = IP1, src_mac: str = MAC1) -> None:
    s, d = ip_to_bytes(src), ip_to_bytes(host.interfaces()[0].ip)
    packet = ipv4.build(s, d, ipv4.PROTO_TCP, encode(seg, s, d), ident=1)
    host.receive_frame("eth0", ethernet.build(ethernet.mac_to_bytes(host.interfaces()[0].mac),
                                              ethernet.mac_to_bytes(src_mac),
                                              ethernet.ETHERTYPE_IPV4, packet), 0.0)


def _sent(host: Host) -> list[SegmentSent]:
    return [e for e in iter(host.next_event, None) if isinstance(e, SegmentSent)]


def _h2_knowing_h1() -> Host:
    net = Net()
    net.h1.connect(IP2, 9, 0.0)   # h1's ARP request teaches h2 h1's MAC
    net.settle()
    while net.h2.next_event() is not None:
        pass
    return net.h2


def test_rst_rules_for_ack_and_rst_segments() -> None:
    h2 = _h2_knowing_h1()
    before = h2.drops["no socket"]
    _inject(h2, Segment(4000, 99, 1000, 5555, ACK | FIN, 100))
    [rst] = _sent(h2)
    assert (rst.segment.flags, rst.segment.seq, rst.segment.ack) == (RST, 5555, 0)
    assert rst.dst == (IP1, 4000) and rst.src == (IP2, 99)
    _inject(h2, Segment(4000, 99, 1000, 5555, RST | ACK, 100))
    assert _sent(h2) == []  # never a RST for a RST
    assert h2.drops["no socket"] == before + 2


def test_listener_answers_non_syn_segments_per_rfc() -> None:
    h2 = _h2_knowing_h1()
    lsid = h2.listen(80)
    _inject(h2, Segment(4000, 80, 1, 777, ACK, 100))
    [rst] = _sent(h2)
    assert (rst.segment.flags, rst.segment.seq) == (RST, 777)
    _inject(h2, Segment(4000, 80, 1, 0, RST, 100))
    _inject(h2, Segment(4000, 80, 1, 0, FIN, 100))
    assert _sent(h2) == []
    assert h2.drops["ack in listen"] == 1 and h2.drops["rst in listen"] == 1
    assert h2.drops["no syn in listen"] == 1
    assert [s.id for s in h2.sockets()] == [lsid]  # no child was made


def test_backlog_overflow_drops_syns() -> None:
    h2 = _h2_knowing_h1()
    lsid = h2.listen(80, backlog=2, tcp={"syncookies": False})  # (on: test_host_hardening)
    for port in (4001, 4002, 4003):
        _inject(h2, Segment(port, 80, 1000, 0, SYN, 65535))
    events = list(iter(h2.next_event, None))
    drops = [e for e in events if isinstance(e, SegmentDropped)]
    assert [(d.reason, d.sid) for d in drops] == [("backlog full", lsid)]
    children = [s for s in h2.sockets() if s.listener == lsid]
    assert [s.remote for s in children] == [(IP1, 4001), (IP1, 4002)]
    assert all(s.state is State.SYN_RECEIVED for s in children)
    synacks = [e for e in events if isinstance(e, SegmentSent)]
    assert [e.segment.flags for e in synacks] == [SYN | ACK, SYN | ACK]


def test_accept_queue_without_auto_accept() -> None:
    net = Net(auto_accept=False)
    lsid = net.h2.listen(80, backlog=1, now=0.0)
    assert net.h2.accept(lsid) is None
    c1 = net.h1.connect(IP2, 80, 0.0)
    net.h1.send(c1, b"early", 0.0)
    net.run(0.5)
    c2 = net.h1.connect(IP2, 80, net.now)
    net.run(0.7)
    # The first child fills the accept queue: the second SYN is dropped.
    assert [d.reason for d in net.of(SegmentDropped, "h2")] == ["backlog full"]
    assert net.of(Delivered, "h2") == []   # nobody accepted it: nothing read yet
    child = net.h2.accept(lsid)
    assert child is not None and net.h2.socket(child).remote == net.h1.socket(c1).local
    net.settle()
    # Accepting makes it the application's: auto-read hands over what was buffered.
    assert [(e.sid, e.data) for e in net.of(Delivered, "h2")] == [(child, b"early")]
    assert net.h2.socket(child).bytes_delivered == 5
    assert net.h2.accept(lsid) is None
    net.run(2.0)  # c2's SYN is retransmitted and now fits
    assert net.h1.socket(c2).state is State.ESTABLISHED
    with pytest.raises(HostError, match="is not listening"):
        net.h2.accept(child)


def test_closing_a_listener_resets_unaccepted_children() -> None:
    net = Net(auto_accept=False)
    lsid = net.h2.listen(80, now=0.0)
    c = net.h1.connect(IP2, 80, 0.0)
    net.run(0.5)
    net.h2.close(lsid, net.now)
    net.run(1.0)
    assert net.h2.socket(lsid).state is State.CLOSED
    assert net.h1.socket(c).state is State.CLOSED
    assert [e.errno for e in net.of(ConnectionFailed, "h1")] == [errno.ECONNRESET]


def test_ephemeral_ports_are_sequential_and_skip_ports_in_use() -> None:
    net = Net()
    h1 = net.h1
    first = h1.socket(h1.connect(IP2, 80, 0.0)).local[1]
    assert EPHEMERAL_LOW <= first <= EPHEMERAL_HIGH
    nxt = first + 1 if first < EPHEMERAL_HIGH else EPHEMERAL_LOW
    skip = nxt + 1 if nxt < EPHEMERAL_HIGH else EPHEMERAL_LOW
    h1.connect(IP2, 80, 0.0, lport=nxt)
    assert h1.socket(h1.connect(IP2, 80, 0.0)).local[1] == skip
    with pytest.raises(HostError, match=f"port {nxt} in use"):
        h1.connect(IP2, 81, 0.0, lport=nxt)
    # Different seeds start in different places.
    starts = {Host("x", rng=random.Random(seed))._ports._next for seed in range(5)}
    assert len(starts) > 1


def test_user_errors_are_clear() -> None:
    net, c, _ = _established()
    h1 = net.h1
    cases = [
        (lambda: h1.send(7, b"x", 1.0), errno.EBADF, "no such socket 7"),
        (lambda: h1.connect("10.0.0.300", 80, 1.0), errno.EINVAL, "not an IPv4 address"),
        (lambda: h1.connect(IP2, 0, 1.0), errno.EINVAL, "port 0 out of range"),
        (lambda: h1.connect(IP1, 80, 1.0), errno.EINVAL, "own address"),
        (lambda: h1.listen(70000), errno.EINVAL, "port 70000 out of range"),
        (lambda: h1.listen(80, backlog=0), errno.EINVAL, "backlog 0"),
        (lambda: h1.shutdown(c, "up", 1.0), errno.EINVAL, "not rd, wr or rdwr"),
        (lambda: h1.accept(c), errno.EINVAL, "accepts automatically"),
        (lambda: h1.add_interface("eth0", MAC1, "10.0.1.1", 24), errno.EEXIST, "eth0"),
        (lambda: h1.add_interface("eth1", "zz", "10.0.1.1", 24), errno.EINVAL, "MAC"),
        (lambda: h1.add_interface("eth1", "03:00:00:00:00:01", "10.0.1.1", 24), errno.EINVAL,
         "unicast"),
        (lambda: h1.add_interface("eth1", MAC1, IP1, 24), errno.EADDRINUSE, "already"),
        (lambda: h1.add_interface("eth1", MAC1, "10.0.1.1", 33), errno.EINVAL, "prefix"),
        (lambda: h1.add_interface("eth1", MAC1, "10.0.1.1", 24, mtu=60), errno.EINVAL, "MTU"),
        (lambda: h1.receive_frame("eth9", b"", 1.0), errno.ENODEV, "no interface eth9"),
    ]
    for call, code, text in cases:
        with pytest.raises(HostError, match=text) as info:
            call()
        assert info.value.errno == code
        assert "\n" not in str(info.value)
    lsid = net.h2.listen(8080)
    with pytest.raises(HostError, match=f"socket {lsid} is listening"):
        net.h2.send(lsid, b"x", 1.0)
    with pytest.raises(HostError, match="port 8080 in use"):
        net.h2.listen(8080)
    net.h1.abort(c, net.now)
    net.run(net.now + 1)
    with pytest.raises(HostError, match="connection is closed"):
        net.h1.send(c, b"x", net.now)
    with pytest.raises(HostError, match="connection is closed"):
        net.h1.close(c, net.now)
    with pytest.raises(HostError, match="bad TCP config"):
        Host("bad", rng=random.Random(0), config=Config(mss=10))


def test_malformed_tcp_is_counted_not_raised() -> None:
    h2 = _h2_knowing_h1()
    h2.listen(80)
    s, d = ip_to_bytes(IP1), ip_to_bytes(IP2)
    good = encode(Segment(4000, 80, 1, 0, SYN, 100), s, d)
    bad_sum = good[:16] + bytes([good[16] ^ 0xFF]) + good[17:]
    for payload in (bad_sum, good[:12], good[:12] + b"\xf0" + good[13:]):
        packet = ipv4.build(s, d, ipv4.PROTO_TCP, payload, ident=1)
        h2.receive_frame("eth0", ethernet.build(ethernet.mac_to_bytes(MAC2),
                                                ethernet.mac_to_bytes(MAC1),
                                                ethernet.ETHERTYPE_IPV4, packet), 0.0)
    drops = [e for e in iter(h2.next_event, None) if isinstance(e, SegmentDropped)]
    assert [d.reason for d in drops] == ["bad checksum", "truncated", "bad data offset"]
    assert all(d.segment is None and "10.0.0.1>10.0.0.2" in d.summary for d in drops)
    assert h2.frames_to_send() == []


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=120))
def test_random_frames_never_raise(noise: bytes) -> None:
    h2 = Host("h2", rng=random.Random(0))
    h2.add_interface("eth0", MAC2, IP2, 24)
    h2.listen(80)
    mac2 = ethernet.mac_to_bytes(MAC2)
    for ethertype in (ethernet.ETHERTYPE_IPV4, ethernet.ETHERTYPE_ARP):
        h2.receive_frame("eth0", ethernet.build(mac2, bytes(6), ethertype, noise), 0.0)
    # An IPv4 header that is valid around random TCP bytes reaches the TCP decoder.
    s, d = ip_to_bytes(IP1), ip_to_bytes(IP2)
    packet = ipv4.build(s, d, ipv4.PROTO_TCP, noise, ident=1)
    h2.receive_frame("eth0", ethernet.build(mac2, bytes(6), ethernet.ETHERTYPE_IPV4, packet), 0.0)
    events = list(iter(h2.next_event, None))
    assert sum(h2.drops.values()) >= 2 or any(e.kind == "segment.received" for e in events)


def test_retransmission_after_loss_is_reported() -> None:
    net, c, s = _established()
    net.drop_next.add("h1")
    net.h1.send(c, b"x" * 100, net.now)
    net.run(net.now + 5.0)
    assert net.h2.socket(s).bytes_delivered == 100
    retx = [e for e in net.events if e.kind == "segment.retransmitted" and e.host == "h1"]
    assert retx and retx[0].length == 100  # type: ignore[union-attr]


def test_many_connections_keep_timers_consistent() -> None:
    net = Net()
    net.h2.listen(80, backlog=256, now=0.0)  # all 199 SYNs arrive before any ACK
    sids = [net.h1.connect(IP2, 80, 0.0)]
    net.run(0.1)  # ARP resolved: the next SYNs need no queueing
    sids += [net.h1.connect(IP2, 80, net.now) for _ in range(199)]
    net.run(0.5)
    assert all(net.h1.socket(x).state is State.ESTABLISHED for x in sids)
    def check(host: Host) -> None:
        live = [t for r in host._socks.values() if (t := r.conn.get_timer()) is not None]
        assert live and host.get_timer() == min(live)
        assert len(host._timers) <= 4 * len(live) + 256

    for x in sids[::2]:
        net.h1.close(x, net.now)
    check(net.h1)  # FIN retransmission timers
    net.run(1.0)
    for info in net.h2.sockets():
        if info.state is State.CLOSE_WAIT:
            net.h2.close(info.id, net.now)
    net.settle()
    check(net.h1)  # TIME-WAIT timers
    net.run(200.0)  # 2*MSL passes; the other half stay open with no timer
    assert sum(net.h1.socket(x).state is State.CLOSED for x in sids) == 100
    assert net.h1.get_timer() is None and net.h2.get_timer() is None


def test_explicit_recv_and_half_close_without_auto_read() -> None:
    net = Net(auto_read=False)
    net.h2.listen(80, now=0.0)
    c = net.h1.connect(IP2, 80, 0.0)
    net.run(0.5)
    [s] = [x.id for x in net.h2.sockets() if x.kind == "connection"]
    with pytest.raises(HostError, match="no data yet") as info:
        net.h2.recv(s, 100, net.now)
    assert info.value.errno == errno.EAGAIN
    net.h1.send(c, b"request", net.now)
    net.h1.shutdown(c, "wr", net.now)
    net.run(1.0)
    assert net.h2.socket(s).state is State.CLOSE_WAIT
    assert net.of(Delivered) == []  # nothing read until the application asks
    assert net.h2.recv(s, 4, net.now) == b"requ"
    assert net.h2.recv(s, 100, net.now) == b"est"
    assert net.h2.recv(s, 100, net.now) == b""  # end of stream
    net.h2.send(s, b"reply after the peer's FIN", net.now)
    net.run(2.0)
    assert net.h1.recv(c, 100, net.now) == b"reply after the peer's FIN"
    net.settle()
    assert [e.data for e in net.of(Delivered, "h2")] == [b"requ", b"est"]
    assert net.h2.socket(s).bytes_delivered == 7


def test_abort_sends_rst_and_peer_sees_reset() -> None:
    net, c, s = _established()
    net.h1.abort(c, net.now)
    net.run(net.now + 1)
    assert net.of(SegmentSent, "h1")[-1].segment.flags & RST
    assert net.h2.socket(s).state is State.CLOSED
    assert [(e.errno, e.reason) for e in net.of(ConnectionFailed, "h2")] == [
        (errno.ECONNRESET, "connection reset by peer")]


def test_same_seed_same_trace() -> None:
    def trace(seed: int) -> list[str]:
        net = Net(seed=seed)
        net.h2.listen(80, now=0.0)
        c = net.h1.connect(IP2, 80, 0.0)
        net.run(0.3)
        net.h1.send(c, b"abc" * 5000, net.now)
        net.drop_next.add("h1")
        net.run(3.0)
        net.h1.close(c, net.now)
        net.run(5.0)
        return [json.dumps(codec.record(e), sort_keys=True) for e in net.events]

    assert trace(7) == trace(7)
    assert trace(7) != trace(8)  # the ISN secret and ports come from the seed
