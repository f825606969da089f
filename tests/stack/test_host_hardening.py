"""The host against a hostile or broken peer, and the urgent report: urgent data
reaches the application's soft-error report (RFC 9293 §3.8.5, §3.9.1.8)."""

from __future__ import annotations

import errno
import random

import pytest
from test_host import IP2, Net

from tcplab.stack.events import Delivered, SegmentSent, SoftError
from tcplab.stack.host import CLOSED_KEPT, Host, HostError
from tcplab.tcp.segment import URG
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
    assert [r.reason for r in reports] == ["urgent data: 1 bytes up to the urgent mark"]
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
        assert len(host._timers) <= 4 * host._timed + 256
    assert dict(net.h1._ports.users) == {} and dict(net.h2._ports.users) == {80: 1}
    assert net.h2.socket(lsid).state is State.LISTEN  # the live listener stays
    with pytest.raises(HostError) as err:
        net.h1.socket(first)
    assert err.value.errno == errno.EBADF and "closed and forgotten" in str(err.value)
    # the most recent closed ones still answer
    assert net.h1.sockets()[-1].state is State.CLOSED
