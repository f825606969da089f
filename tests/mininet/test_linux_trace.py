"""The sock:inet_sock_set_state tracepoint through a private tracefs instance (root)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tcplab.backends.mininet.linux.diag import SockDiag
from tcplab.backends.mininet.linux.host import KernelHost, StateSeen
from tcplab.backends.mininet.linux.trace import StateTrace, open_trace, parse_line
from tcplab.tcp.states import State

LINE = ("  python3-123 [001] ..s1. 4242.125000: inet_sock_set_state: family=AF_INET "
        "protocol=IPPROTO_TCP sport=80 dport=40000 saddr=10.0.0.2 daddr=10.0.0.1 "
        "saddrv6=::ffff:10.0.0.2 daddrv6=::ffff:10.0.0.1 oldstate=TCP_FIN_WAIT1 "
        "newstate=TCP_CLOSING")


def test_a_line_reads_as_a_change_in_rfc_spelling() -> None:
    change = parse_line(LINE)
    assert change is not None
    assert (change.t, change.local, change.remote) == (4242.125, ("10.0.0.2", 80),
                                                      ("10.0.0.1", 40000))
    assert (change.old, change.new) == (State.FIN_WAIT_1, State.CLOSING)
    assert parse_line(LINE.replace("AF_INET ", "AF_INET6 ")) is None


def test_every_change_of_a_short_connection_is_seen_in_order() -> None:
    trace = open_trace(f"tcplab-test-{os.getpid()}", {"127.0.0.1"})
    assert isinstance(trace, StateTrace), trace
    try:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        server, _ = listener.accept()
        client.close()
        time.sleep(0.05)
        server.close()
        listener.close()
        deadline = time.monotonic() + 5
        seen: list[tuple[int, State, State]] = []
        while time.monotonic() < deadline and (port, State.LAST_ACK, State.CLOSED) not in seen:
            seen += [(c.local[1], c.old, c.new) for c in trace.read()
                     if port in (c.local[1], c.remote[1])]
            time.sleep(0.01)
        # the server side: SYN-RECEIVED lasts microseconds on loopback, too short to poll
        server_side = [(o, n) for p, o, n in seen if p == port]
        assert server_side[:4] == [(State.CLOSED, State.LISTEN),
                                   (State.LISTEN, State.SYN_RECEIVED),
                                   (State.SYN_RECEIVED, State.ESTABLISHED),
                                   (State.ESTABLISHED, State.CLOSE_WAIT)]
        assert (State.LAST_ACK, State.CLOSED) in server_side
    finally:
        trace.close()
    assert not trace.instance.exists()


def test_a_kernel_host_with_the_trace_sees_every_state() -> None:
    trace = open_trace(f"tcplab-test-host-{os.getpid()}", {"127.0.0.1"})
    assert isinstance(trace, StateTrace), trace
    diag = SockDiag()
    host = KernelHost({"127.0.0.1"}, diag, trace)
    seen: list[StateSeen] = []

    def run(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 5
        while not done():
            assert time.monotonic() < deadline
            seen.extend(o for o in host.poll(time.monotonic()) if isinstance(o, StateSeen))
            time.sleep(0.005)

    try:
        lsid = host.listen(0, time.monotonic())
        port = host.socket(lsid).local[1]
        csid = host.connect("127.0.0.1", port, time.monotonic(), None)
        run(lambda: any(s.listener == lsid and s.state is State.ESTABLISHED
                        for s in host.sockets()))
        child = next(s.id for s in host.sockets() if s.listener == lsid)
        host.close(csid, time.monotonic())
        run(lambda: host.socket(child).state is State.CLOSE_WAIT)
        host.close(child, time.monotonic())
        run(lambda: host.socket(csid).state is State.TIME_WAIT)
        assert host.exact
        # SYN-RECEIVED lasts microseconds here: only the tracepoint shows it
        assert host.socket(child).history == (State.LISTEN, State.SYN_RECEIVED,
                                              State.ESTABLISHED, State.CLOSE_WAIT,
                                              State.LAST_ACK, State.CLOSED)
        assert host.socket(csid).history == (State.CLOSED, State.SYN_SENT, State.ESTABLISHED,
                                             State.FIN_WAIT_1, State.FIN_WAIT_2,
                                             State.TIME_WAIT)
        times = [s.t for s in seen]
        assert times == sorted(times)  # the kernel's own times, in order
    finally:
        trace.close()
        diag.close()
        host.app.abort(lsid)


def test_clean_removes_the_instance_of_a_dead_agent_and_nothing_else(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tcplab.backends.mininet import clean as clean_module
    from tcplab.backends.mininet.clean import clean
    from tcplab.backends.mininet.linux.trace import TRACEFS, ensure_tracefs, instance_name

    assert ensure_tracefs() is None

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = TRACEFS / "instances" / instance_name(dead.pid)
    live = TRACEFS / "instances" / instance_name(os.getpid())
    stale.mkdir()
    live.mkdir()
    try:
        said: list[str] = []
        # no runtime directory and no nft tables seen: nothing of a running lab is touched
        monkeypatch.setattr(clean_module, "nft_tables", lambda: [])
        clean(base=Path("/nonexistent-tcplab-runtime"), say=said.append)
        assert f"removed tracefs instance {stale.name}" in said
        assert not stale.exists() and live.exists()
    finally:
        for path in (stale, live):
            if path.exists():
                path.rmdir()
