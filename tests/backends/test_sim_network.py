"""The scheduler, the learning switch and the network that wires nodes to links."""

from __future__ import annotations

import functools
import random

import pytest

from tcplab.backends.sim.network import FrameEvent, SimNetwork
from tcplab.backends.sim.switch import LearningSwitch
from tcplab.netem.clock import Scheduler
from tcplab.netem.link import Link, LinkDirection, LinkParams

BROADCAST = b"\xff" * 6


def mac(n: int) -> bytes:
    return bytes([0, 0, 0, 0, 0, n])


def eth(dst: bytes, src: bytes, tag: bytes = b"") -> bytes:
    return dst + src + b"\x88\xb5" + tag.ljust(46, b"\0")


# -- scheduler ----------------------------------------------------------------


def test_scheduler_runs_in_time_then_insertion_order() -> None:
    s = Scheduler()
    ran: list[str] = []
    s.call_at(2.0, lambda: ran.append("c"))
    s.call_at(1.0, lambda: ran.append("a"))
    s.call_at(1.0, lambda: ran.append("b"))
    s.call_at(1.0, lambda: s.call_at(1.5, lambda: ran.append("nested")))
    assert s.next_time() == 1.0
    s.run_until(1.7)
    assert ran == ["a", "b", "nested"]
    assert s.now == 1.7
    s.run_until(5.0)
    assert ran == ["a", "b", "nested", "c"]
    assert s.next_time() is None


def test_scheduler_time_is_that_of_the_running_call() -> None:
    s = Scheduler()
    seen: list[float] = []
    s.call_at(0.25, lambda: seen.append(s.now))
    s.call_at(0.5, lambda: s.call_at(0.1, lambda: seen.append(s.now)))  # past: runs now
    s.run_until(1.0)
    assert seen == [0.25, 0.5]


def test_scheduler_cancel() -> None:
    s = Scheduler()
    ran: list[int] = []
    h = s.call_at(1.0, lambda: ran.append(1))
    s.call_at(2.0, lambda: ran.append(2))
    assert h.active
    h.cancel()
    h.cancel()
    assert not h.active
    assert s.next_time() == 2.0
    s.run_until(3.0)
    assert ran == [2]


def test_scheduler_rejects_going_backwards_and_nan() -> None:
    s = Scheduler()
    s.run_until(1.0)
    with pytest.raises(ValueError, match="backwards"):
        s.run_until(0.5)
    with pytest.raises(ValueError, match="NaN"):
        s.call_at(float("nan"), lambda: None)


def test_run_until_idle_reports_idle_or_limit() -> None:
    s = Scheduler()
    s.call_at(0.3, lambda: None)
    assert s.run_until_idle(limit=10.0) is True
    assert s.now == 0.3

    def forever() -> None:
        s.call_at(s.now + 1.0, forever)

    s.call_at(1.0, forever)
    assert s.run_until_idle(limit=5.5) is False
    assert s.now == 5.5
    assert s.next_time() == 6.0


def test_scheduler_compaction_keeps_order() -> None:
    s = Scheduler()
    ran: list[int] = []
    handles = [s.call_at(i * 0.001, functools.partial(ran.append, i)) for i in range(1000)]
    for i, h in enumerate(handles):
        if i % 10:
            h.cancel()
    assert len(s._heap) < 1000  # dead entries were swept
    s.run_until(2.0)
    assert ran == list(range(0, 1000, 10))


# -- learning switch ----------------------------------------------------------


def make_switch(aging: float = 300.0) -> LearningSwitch:
    sw = LearningSwitch("s1", aging)
    for p in ("s1-eth1", "s1-eth2", "s1-eth3"):
        sw.add_port(p)
    return sw


def test_switch_floods_unknown_then_forwards_learned() -> None:
    sw = make_switch()
    f = eth(mac(2), mac(1))
    sw.receive_frame("s1-eth1", f, 0.0)
    assert sw.frames_to_send() == [("s1-eth2", f), ("s1-eth3", f)]
    assert sw.frames_to_send() == []
    back = eth(mac(1), mac(2))
    sw.receive_frame("s1-eth2", back, 0.1)
    assert sw.frames_to_send() == [("s1-eth1", back)]
    sw.receive_frame("s1-eth1", f, 0.2)
    assert sw.frames_to_send() == [("s1-eth2", f)]
    assert sw.mac_table(0.2) == [(mac(1), "s1-eth1"), (mac(2), "s1-eth2")]


def test_switch_floods_broadcast_and_multicast_but_not_back() -> None:
    sw = make_switch()
    sw.receive_frame("s1-eth1", eth(mac(2), mac(1)), 0.0)
    sw.receive_frame("s1-eth2", eth(mac(1), mac(2)), 0.0)
    sw.frames_to_send()
    for dst in (BROADCAST, bytes.fromhex("01005e000001")):
        f = eth(dst, mac(2))
        sw.receive_frame("s1-eth2", f, 0.0)
        assert sw.frames_to_send() == [("s1-eth1", f), ("s1-eth3", f)]


def test_switch_never_sends_out_of_the_ingress_port() -> None:
    sw = make_switch()
    sw.receive_frame("s1-eth1", eth(BROADCAST, mac(1)), 0.0)
    sw.receive_frame("s1-eth1", eth(BROADCAST, mac(5)), 0.0)
    sw.frames_to_send()
    sw.receive_frame("s1-eth1", eth(mac(5), mac(1)), 0.0)  # both behind the same port
    assert sw.frames_to_send() == []


def test_switch_moves_a_mac_and_ages_entries_out() -> None:
    sw = make_switch(aging=10.0)
    sw.receive_frame("s1-eth1", eth(BROADCAST, mac(1)), 0.0)
    sw.receive_frame("s1-eth3", eth(BROADCAST, mac(1)), 1.0)  # the host moved
    assert sw.lookup(mac(1), 1.0) == "s1-eth3"
    assert sw.lookup(mac(1), 10.9) == "s1-eth3"
    assert sw.lookup(mac(1), 11.0) is None
    sw.frames_to_send()
    f = eth(mac(1), mac(2))
    sw.receive_frame("s1-eth2", f, 11.0)
    assert sw.frames_to_send() == [("s1-eth1", f), ("s1-eth3", f)]


def test_switch_does_not_learn_group_sources_and_ignores_runts() -> None:
    sw = make_switch()
    sw.receive_frame("s1-eth1", eth(BROADCAST, BROADCAST), 0.0)
    assert sw.mac_table(0.0) == []
    sw.frames_to_send()
    sw.receive_frame("s1-eth1", b"\x00" * 10, 0.0)
    assert sw.frames_to_send() == []
    with pytest.raises(ValueError, match="already has a port"):
        sw.add_port("s1-eth1")
    assert sw.get_timer() is None


# -- the network --------------------------------------------------------------


class FakeHost:
    """Answers a "ping" frame for its address with a "pong"; sends what the test queues."""

    def __init__(self, name: str, addr: bytes, ifname: str) -> None:
        self.name = name
        self.addr = addr
        self.ifname = ifname
        self.received: list[tuple[float, str, bytes]] = []
        self.timers: list[float] = []
        self.fired: list[float] = []
        self._out: list[tuple[str, bytes]] = []

    def queue(self, dst: bytes, tag: bytes) -> None:
        self._out.append((self.ifname, eth(dst, self.addr, tag)))

    def receive_frame(self, ifname: str, frame: bytes, now: float) -> None:
        self.received.append((now, ifname, frame))
        if frame[:6] == self.addr and frame[14:18] == b"ping":
            reply = frame[6:12] + self.addr + frame[12:14] + b"pong" + frame[18:]
            self._out.append((ifname, reply))

    def frames_to_send(self) -> list[tuple[str, bytes]]:
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        return self.timers[0] if self.timers else None

    def handle_timer(self, now: float) -> None:
        self.fired.append(now)
        while self.timers and self.timers[0] <= now:
            self.timers.pop(0)
        self.queue(BROADCAST, b"tick")


Event = tuple[float, str, str, FrameEvent, str | None, bytes]


def star(seed: int = 1, params: LinkParams | None = None) -> tuple[SimNetwork, list[FakeHost]]:
    net = SimNetwork(Scheduler(), random.Random(seed))
    hosts = [FakeHost(f"h{i}", mac(i), f"h{i}-eth0") for i in (1, 2, 3)]
    net.add_switch("s1")
    for i, h in enumerate(hosts, 1):
        net.add_host(h.name, h)
        net.add_link(h.name, "s1", h.ifname, f"s1-eth{i}", params)
    return net, hosts


def record(net: SimNetwork) -> list[Event]:
    log: list[Event] = []

    def observe(
        link: Link, d: LinkDirection, f: bytes, ev: FrameEvent, reason: str | None, t: float
    ) -> None:
        log.append((t, link.name, d.name, ev, reason, f[6:12] + f[14:22]))

    net.on_frame.append(observe)
    return log


def test_frames_cross_the_switch_and_echo_back() -> None:
    net, (h1, h2, h3) = star(params=LinkParams(delay=0.001))
    log = record(net)
    h1.queue(mac(2), b"ping")
    net.kick("h1")
    net.run_until(1.0)
    # Unknown destination: flooded to h2 and h3; h2 echoes, the switch knows h1 by then.
    assert [(t, f[14:18]) for t, _, f in h2.received] == [(0.002, b"ping")]
    assert [(t, f[14:18]) for t, _, f in h3.received] == [(0.002, b"ping")]
    assert [(t, ifn, f[6:12], f[14:18]) for t, ifn, f in h1.received] == [
        (0.004, "h1-eth0", mac(2), b"pong")
    ]
    assert [(t, ln, dn, ev) for t, ln, dn, ev, _, _ in log] == [
        (0.0, "h1-s1", "h1>s1", "sent"),
        (0.001, "h1-s1", "h1>s1", "delivered"),
        (0.001, "h2-s1", "s1>h2", "sent"),
        (0.001, "h3-s1", "s1>h3", "sent"),
        (0.002, "h2-s1", "s1>h2", "delivered"),
        (0.002, "h2-s1", "h2>s1", "sent"),
        (0.002, "h3-s1", "s1>h3", "delivered"),
        (0.003, "h2-s1", "h2>s1", "delivered"),
        (0.003, "h1-s1", "s1>h1", "sent"),
        (0.004, "h1-s1", "s1>h1", "delivered"),
    ]


def test_drops_reach_observers_with_their_reason() -> None:
    net, (h1, h2, _) = star()
    log = record(net)
    net.link("s1", "h1").direction("h1", "s1").set(up=False)
    h1.queue(mac(2), b"lost")
    net.kick("h1")
    net.run_until(1.0)
    assert h2.received == []
    assert [(ev, reason) for _, _, _, ev, reason, _ in log] == [
        ("sent", None),
        ("dropped", "link down"),
    ]


def test_one_timer_entry_per_host_rescheduled_on_change() -> None:
    net, (h1, _, _) = star()
    h1.timers = [0.5]
    net.kick("h1")
    h1.timers = [0.2, 0.5]  # the host re-armed earlier: the network must follow
    net.kick("h1")
    net.kick("h1")  # unchanged: nothing new is scheduled
    live = [e for e in net.scheduler._heap if e[2].active]
    assert len(live) == 1
    net.run_until(1.0)
    assert h1.fired == [0.2, 0.5]
    h1.timers = [2.0]
    net.kick("h1")
    h1.timers = []  # cancelled
    net.kick("h1")
    net.run_until(3.0)
    assert h1.fired == [0.2, 0.5]


def test_timer_armed_when_the_host_is_added_and_its_frames_sent() -> None:
    net = SimNetwork(Scheduler(), random.Random(0))
    a, b = FakeHost("a", mac(1), "a-eth0"), FakeHost("b", mac(2), "b-eth0")
    a.timers = [0.1]
    net.add_host("a", a)
    net.add_host("b", b)
    net.add_link("a", "b", "a-eth0", "b-eth0", LinkParams(delay=0.01))
    net.run_until(1.0)
    assert a.fired == [0.1]
    assert [f[14:18] for _, _, f in b.received] == [b"tick"]
    assert b.received[0][0] == pytest.approx(0.11)


def test_frame_for_an_unlinked_interface_vanishes() -> None:
    net, (h1, h2, h3) = star()
    log = record(net)
    h1._out.append(("h1-eth9", eth(mac(2), mac(1))))
    net.kick("h1")
    net.run_until(1.0)
    assert log == [] and h2.received == [] and h3.received == []


def test_building_mistakes_are_clear_errors() -> None:
    net, (h1, _, _) = star()
    with pytest.raises(ValueError, match="already a node named h1"):
        net.add_host("h1", h1)
    with pytest.raises(ValueError, match="unknown node h9"):
        net.add_link("h1", "h9", "h1-eth1", "h9-eth0")
    with pytest.raises(ValueError, match="interface h1-eth0 of h1 is already linked"):
        net.add_link("h1", "h2", "h1-eth0", "h2-eth1")
    with pytest.raises(ValueError, match="already linked"):
        net.add_link("s1", "h1", "s1-eth9", "h1-eth1")
    with pytest.raises(ValueError, match="to itself"):
        net.add_link("h1", "h1", "h1-eth1", "h1-eth2")
    with pytest.raises(ValueError, match="no link between h1 and h2"):
        net.link("h1", "h2")
    with pytest.raises(ValueError, match="unknown node h7"):
        net.link("h1", "h7")
    with pytest.raises(ValueError, match="unknown node h7"):
        net.kick("h7")
    assert [link.name for link in net.links] == ["h1-s1", "h2-s1", "h3-s1"]
    assert net.node_names == ("s1", "h1", "h2", "h3")
    assert net.node("h1") is h1


def _ping_pong_trace(seed: int) -> list[Event]:
    params = LinkParams(delay=0.002, jitter=0.001, loss=0.1, dup=0.05, reorder=0.05)
    net, hosts = star(seed, params)
    log = record(net)

    def socket_call(k: int) -> None:
        src = hosts[k % 3]
        src.queue(hosts[(k + 1) % 3].addr, b"ping%04d" % k)
        net.kick(src.name)

    for k in range(40):
        net.scheduler.call_at(k * 0.001, functools.partial(socket_call, k))
    net.scheduler.run_until_idle(limit=10.0)
    return log


def test_same_seed_gives_the_same_trace() -> None:
    first = _ping_pong_trace(9)
    assert any(ev == "dropped" for _, _, _, ev, _, _ in first)
    assert any(f[6:10] == b"pong" for *_, f in first)
    assert first == _ping_pong_trace(9)
    assert first != _ping_pong_trace(10)
