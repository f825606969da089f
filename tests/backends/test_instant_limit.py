"""An instant that never ends (entries scheduling entries at the same time, as two peers
answering each other over a zero-delay link would) stops the run with a notice instead
of hanging it (tcplab.netem.clock.INSTANT_LIMIT)."""

from __future__ import annotations

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import commands as C
from tcplab.lab.events import LabEvent, Notice
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.netem.clock import Scheduler
from tcplab.stack import ethernet, ipv4
from tcplab.stack import events as H
from tcplab.tcp.codec import encode, ip_to_bytes
from tcplab.tcp.segment import ACK, PSH, Segment
from tcplab.tcp.states import State


def _forever(sched: Scheduler, count: list[int]) -> None:
    count[0] += 1
    sched.call_at(sched.now, lambda: _forever(sched, count))


def test_the_scheduler_stops_an_instant_that_never_ends() -> None:
    sched = Scheduler()
    sched.instant_limit = 1000
    notices: list[str] = []
    sched.on_stuck = notices.append
    count = [0]
    sched.call_at(0.5, lambda: _forever(sched, count))
    sched.call_at(2.0, lambda: None)
    assert sched.run_until_idle(10.0) is False
    assert sched.stop and sched.now == 0.5 and count[0] == 1001
    assert sched.stuck is not None and "never moved on" in sched.stuck
    assert notices == [sched.stuck]  # reported once
    sched.stop = False
    assert sched.run_until(1.0) is False and count[0] == 1002  # still stuck: one more
    assert notices == [sched.stuck]


def test_a_crowded_instant_says_so_once_and_runs_on_to_the_limit() -> None:
    sched = Scheduler()
    sched.instant_limit, sched.instant_crowded = 1000, 100
    said: list[str] = []
    sched.on_crowded = said.append
    count = [0]
    sched.call_at(0.5, lambda: _forever(sched, count))
    assert sched.run_until_idle(10.0) is False
    assert count[0] == 1001 and sched.stuck is not None  # it ran on to the limit
    assert len(said) == 1
    assert said[0].startswith("the clock is stuck at t=0.500000 after 100 events: give "
                              "the links delay= or bw=")
    assert said[0].endswith("stops after 1000")


def test_a_busy_instant_below_the_limit_runs_on() -> None:
    sched = Scheduler()
    sched.instant_limit = 1000
    done: list[float] = []
    for _ in range(999):
        sched.call_at(1.0, lambda: None)
    sched.call_at(3.0, lambda: done.append(sched.now))
    assert sched.run_until_idle(10.0) is True
    assert done == [3.0] and sched.stuck is None and not sched.stop


def test_a_lab_wait_reports_the_stuck_instant_and_returns() -> None:
    backend = SimBackend(1, virtual=True)
    lab = Lab(load_topology("pair"), backend)
    events: list[LabEvent] = []
    lab.bus.subscribe(events.append)
    lab.start()
    backend.scheduler.instant_limit = 5000
    count = [0]
    backend.scheduler.call_at(0.25, lambda: _forever(backend.scheduler, count))
    result = lab.execute("wait 1")
    assert not result.ok and "never moved on" in result.message
    assert lab.now() == 0.25
    assert [e.text for e in events if isinstance(e, Notice)] == [result.message]
    lab.stop()


def test_a_bulk_transfer_at_one_instant_is_stopped_with_a_hint_to_give_the_link_time() -> None:
    # links with neither delay nor a bandwidth limit: the whole transfer is one instant
    backend = SimBackend(1, virtual=True)
    lab = Lab(load_topology("pair"), backend)
    lab.start()
    events: list[LabEvent] = []
    lab.bus.subscribe(events.append)
    backend.scheduler.instant_limit, backend.scheduler.instant_crowded = 5000, 1000
    for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 100ms",
                 "send c1 --bytes 1000000000"):
        assert lab.execute(line).ok, line
    result = lab.execute("wait 1")
    assert not result.ok and "never moved on" in result.message
    assert "give them delay= or bw=" in result.message
    # the run said so early on, before it was stopped
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert len(notices) == 2 and notices[1] == result.message, notices
    assert notices[0].startswith("the clock is stuck at t=0.100000 after 1000 events")
    lab.stop()


def test_an_injected_segment_does_not_start_an_ack_storm_on_a_zero_delay_link() -> None:
    # One in-window segment h1 never sent puts h2's RCV.NXT past h1's SND.MAX.  Without
    # the engine's rate limit each side answers every ACK of the other, forever, at one
    # virtual instant; here the clock must move on and the exchange die out.  (Bounded:
    # a storm would trip a low instant limit and fail, not hang.)
    backend = SimBackend(1, virtual=True)
    lab = Lab(load_topology("pair"), backend)
    events: list[LabEvent] = []
    lab.bus.subscribe(events.append)
    lab.start()
    backend.scheduler.instant_limit = 20_000
    for line in ("listen h2:80", "connect h1:5000 h2:80 as c1 timestamps=off", "wait 0.5"):
        assert lab.execute(line).ok
    _host, info, _ = lab.socket_info(C.ConnName("c1"))
    assert info is not None and info.state is State.ESTABLISHED
    st = info.status
    seg = Segment(5000, 80, st.snd_max, st.rcv_nxt, ACK | PSH, 1000, (), b"forged!")
    assert not st.timestamps  # (PAWS would drop the forged segment)
    src, dst = ip_to_bytes("10.0.0.1"), ip_to_bytes("10.0.0.2")
    packet = ipv4.build(src, dst, ipv4.PROTO_TCP, encode(seg, src, dst), ident=7)
    frame = ethernet.build(ethernet.mac_to_bytes("00:00:00:00:00:02"),
                           ethernet.mac_to_bytes("00:00:00:00:00:01"),
                           ethernet.ETHERTYPE_IPV4, packet)
    before = len(events)
    backend.net.node("h2").receive_frame("h2-eth0", frame, lab.now())
    backend.net.kick("h2")
    result = lab.execute("wait 2")
    assert result.ok, result.message
    sent = [e for e in events[before:] if isinstance(e, H.SegmentSent)]
    assert len(sent) < 20, f"{len(sent)} segments after one forged one: an ACK storm"
    assert lab.now() > 1.0
    lab.stop()
