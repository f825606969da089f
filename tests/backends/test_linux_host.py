"""KernelHost on loopback: numbers, states and observations of Linux sockets (polling)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import pytest

from tcplab.backends.mininet.linux.diag import KernelSocket, SockDiag
from tcplab.backends.mininet.linux.host import (
    NO_THRESHOLD,
    BytesRead,
    KernelHost,
    Observation,
    StateSeen,
    TcbSeen,
)
from tcplab.backends.mininet.linux.trace import Change, StateTrace
from tcplab.tcp.segment import ACK, FIN, RST, Segment
from tcplab.tcp.states import State

S = State


@pytest.fixture
def host() -> Iterator[KernelHost]:
    diag = SockDiag()
    yield KernelHost({"127.0.0.1"}, diag)
    diag.close()


def run(host: KernelHost, seen: list[Observation], done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not done():
        assert time.monotonic() < deadline, "not there in time"
        seen += host.poll(time.monotonic(), dump=True)
        time.sleep(0.005)


def states(seen: list[Observation], sid: int) -> list[State]:
    moves = [o for o in seen if isinstance(o, StateSeen) and o.sid == sid]
    return [moves[0].old, *(m.new for m in moves)] if moves else []


def test_a_transfer_and_close_as_the_lab_sees_them(host: KernelHost) -> None:
    seen: list[Observation] = []
    now = time.monotonic
    lsid = host.listen(0, now())
    port = host.socket(lsid).local[1]
    csid = host.connect("127.0.0.1", port, now(), None)
    seen += host.poll(now(), dump=True)
    children = lambda: [s for s in host.sockets() if s.listener == lsid]  # noqa: E731
    run(host, seen, lambda: bool(children()) and children()[0].state is S.ESTABLISHED
        and host.socket(csid).state is S.ESTABLISHED)
    child = children()[0]
    assert child.remote == host.socket(csid).local and child.accepted
    host.write_pattern(csid, 100_000, now())
    host.close(csid, now())
    run(host, seen, lambda: sum(len(o.data) for o in seen if isinstance(o, BytesRead)
                                and o.sid == child.id) == 100_000
        and host.socket(child.id).state is S.CLOSE_WAIT)
    host.close(child.id, now())
    run(host, seen, lambda: host.socket(csid).state is S.TIME_WAIT
        and host.socket(child.id).state is S.CLOSED)
    client = states(seen, csid)
    assert client[0] == S.CLOSED and client[-1] == S.TIME_WAIT
    # a TIME-WAIT socket has no TCP_INFO: its TCB stays as it was last seen
    assert host.socket(csid).status.cwnd > 0 and host.socket(csid).status.srtt is not None
    # the TIME-WAIT socket's 60 s timer, from the dump's idiag_timer and idiag_expires
    seen += host.poll(now(), dump=True)
    waits = [o.timers for o in seen if isinstance(o, TcbSeen) and o.sid == csid and o.timers]
    assert waits and waits[-1][0][0] == "time-wait"
    assert 50 < waits[-1][0][1] - now() <= 60.1
    # no loss on loopback: no threshold yet, shown as tcplab's own "infinite" one
    assert host.socket(csid).status.ssthresh == NO_THRESHOLD == 1 << 30
    assert S.FIN_WAIT_1 in client or S.FIN_WAIT_2 in client  # polling may miss one
    assert states(seen, child.id)[-1] == S.CLOSED
    assert host.socket(csid).history == tuple(client)
    info = host.socket(csid)
    assert info.kind == "connection" and info.bytes_sent == 100_000
    assert [s.id for s in host.sockets()] == [lsid, csid]  # the closed child is gone
    assert host.exact is False


def test_a_refused_connect_ends_closed(host: KernelHost) -> None:
    seen: list[Observation] = []
    lsid = host.listen(0, time.monotonic())
    port = host.socket(lsid).local[1]
    host.close(lsid, time.monotonic())
    csid = host.connect("127.0.0.1", port, time.monotonic(), None)
    run(host, seen, lambda: host.socket(csid).state is S.CLOSED)
    assert states(seen, csid) == [S.CLOSED, S.SYN_SENT, S.CLOSED]
    assert host.socket(csid).status.error == 111  # ECONNREFUSED


class CountingDiag(SockDiag):
    """A SockDiag that counts its dumps."""

    def __init__(self) -> None:
        super().__init__()
        self.dumps = 0

    def dump(self) -> list[KernelSocket]:
        self.dumps += 1
        return super().dump()


def test_idle_without_a_socket_of_ours_and_no_dump_then() -> None:
    diag = CountingDiag()
    try:
        host = KernelHost({"127.0.0.1"}, diag)
        now = time.monotonic()
        for tick in range(5):  # due, even asked, but nothing of ours to follow
            host.poll(now + tick, dump=True)
        assert diag.dumps == 0 and host.idle
        lsid = host.listen(0, now)
        assert not host.idle
        host.poll(now + 10)  # due
        assert diag.dumps == 1
        host.close(lsid, now + 10)
        host.poll(now + 20, dump=True)  # the dump that finds it gone
        assert host.socket(lsid).state is S.CLOSED
        dumps = diag.dumps
        host.poll(now + 30, dump=True)
        assert diag.dumps == dumps and host.idle  # none open again: no more dumps
    finally:
        diag.close()


class ScriptedDiag(SockDiag):
    """A SockDiag whose dumps are what the test says the kernel holds."""

    def __init__(self) -> None:
        self.held: list[KernelSocket] = []

    def dump(self) -> list[KernelSocket]:
        return list(self.held)

    def close(self) -> None:
        pass


class ScriptedTrace(StateTrace):
    """A StateTrace whose reads are the changes the test lays down."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def read(self) -> list[Change]:
        out, self.changes = self.changes, []
        return out


PEER = ("127.0.0.2", 40000)
FIN_IN = Segment(PEER[1], 0, seq=1, ack=1, flags=FIN | ACK, window=100)
RST_IN = Segment(PEER[1], 0, seq=2, ack=0, flags=RST, window=0)

# What arrives (FIN, RST: times) and what the tracepoint says (-> CLOSED: "close" at a
# time) after a dump showed the socket in FIN-WAIT-2, then the moves reported once the
# next dump finds it gone.
TEARDOWNS = {
    # the program closed it: Linux made it a timewait socket in FIN-WAIT-2 at the ACK of
    # our FIN, traced then; the FIN makes it TIME-WAIT unseen, the RST kills it
    "orphan": ([("fin", 5.0), ("rst", 5.02)],
               [(S.FIN_WAIT_2, S.TIME_WAIT, 5.0), (S.TIME_WAIT, S.CLOSED, 5.02)]),
    # the program still holds it: the FIN makes the traced move
    "held": ([("fin", 5.0), ("close", 5.0001), ("rst", 5.02)],
             [(S.FIN_WAIT_2, S.TIME_WAIT, 5.0001), (S.TIME_WAIT, S.CLOSED, 5.02)]),
    # the RST resets FIN-WAIT-2 itself: no TIME-WAIT
    "reset": ([("rst", 5.0), ("close", 5.0001)], [(S.FIN_WAIT_2, S.CLOSED, 5.0001)]),
    # the ACK of our FIN traced after the dump (the socket became an orphan's timewait
    # socket then), and the FIN after it: TIME-WAIT from the FIN
    "late-fin": ([("close", 5.0), ("fin", 5.01), ("rst", 5.03)],
                 [(S.FIN_WAIT_2, S.TIME_WAIT, 5.01), (S.TIME_WAIT, S.CLOSED, 5.03)]),
    # the orphan killed by a RST while it waits for the FIN: no TIME-WAIT
    "orphan-reset": ([("rst", 5.02)], [(S.FIN_WAIT_2, S.CLOSED, 5.02)]),
}


def _to_fin_wait_2(orphan: bool) -> tuple[KernelHost, ScriptedDiag, ScriptedTrace, int,
                                          int]:
    """A listener's connection that a dump has shown in FIN-WAIT-2."""
    diag, trace = ScriptedDiag(), ScriptedTrace()
    host = KernelHost({"127.0.0.1"}, diag, trace)
    lsid = host.listen(0, 0.0)
    local = host.socket(lsid).local
    diag.held = [KernelSocket(1, S.LISTEN, local, None, 0, 0),
                 KernelSocket(2, S.FIN_WAIT_2, local, PEER, 0, 0)]
    steps = [(S.LISTEN, S.SYN_RECEIVED), (S.SYN_RECEIVED, S.ESTABLISHED),
             (S.ESTABLISHED, S.FIN_WAIT_1), (S.FIN_WAIT_1, S.FIN_WAIT_2)]
    if orphan:
        steps.append((S.FIN_WAIT_2, S.CLOSED))
    trace.changes = [Change(1.0 + i / 10, local, PEER, old, new, "")
                     for i, (old, new) in enumerate(steps)]
    seen = host.poll(4.5, dump=True)
    sid = next(o.sid for o in seen if isinstance(o, StateSeen) and o.sid != lsid)
    assert host.socket(sid).state is S.FIN_WAIT_2
    return host, diag, trace, lsid, sid


@pytest.mark.parametrize("case", TEARDOWNS)
def test_a_timewait_socket_a_rst_kills_before_any_dump_still_shows(case: str) -> None:
    """A RST can kill Linux's TIME-WAIT socket before the next dump would have shown it;
    a RST in FIN-WAIT-2 is no TIME-WAIT."""
    arrivals, want = TEARDOWNS[case]
    host, diag, trace, lsid, sid = _to_fin_wait_2(orphan=case.startswith("orphan"))
    try:
        local = host.socket(lsid).local
        diag.held = diag.held[:1]  # the next dump: gone
        for what, t in arrivals:
            if what == "close":
                trace.changes = [Change(t, local, PEER, S.FIN_WAIT_2, S.CLOSED, "")]
            else:
                seg = FIN_IN if what == "fin" else RST_IN
                host.segment(sid, False, dataclasses.replace(seg, dst_port=local[1]), t)
        seen = host.poll(5.1, dump=True)
        moves = [(o.old, o.new, round(o.t, 4)) for o in seen if isinstance(o, StateSeen)]
        assert moves == want
    finally:
        host.app.abort(lsid)


def test_a_rst_the_timewait_socket_outlived_does_not_date_its_end() -> None:
    # as with net.ipv4.tcp_rfc1337=1: dumps still show TIME-WAIT after the RST
    host, diag, _trace, lsid, sid = _to_fin_wait_2(orphan=True)
    try:
        local = host.socket(lsid).local
        host.segment(sid, False, dataclasses.replace(FIN_IN, dst_port=local[1]), 5.0)
        diag.held = [diag.held[0], KernelSocket(2, S.TIME_WAIT, local, PEER, 0, 0)]
        host.poll(5.01, dump=True)
        assert host.socket(sid).state is S.TIME_WAIT
        host.segment(sid, False, dataclasses.replace(RST_IN, dst_port=local[1]), 5.02)
        host.poll(5.1, dump=True)  # still there
        diag.held = diag.held[:1]
        seen = host.poll(64.3, dump=True)
        moves = [(o.old, o.new, round(o.t, 4)) for o in seen if isinstance(o, StateSeen)]
        assert moves == [(S.TIME_WAIT, S.CLOSED, 64.3)]
    finally:
        host.app.abort(lsid)
