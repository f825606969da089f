"""A kernel host's application (real Linux sockets on loopback) and its sock_diag rows."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable

import pytest

from tcplab.backends.mininet.linux.diag import KernelSocket, SockDiag
from tcplab.backends.mininet.linux.sockets import KernelApp
from tcplab.stack.sockets import HostError
from tcplab.tcp.states import State


def until(app: KernelApp, done: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not done():
        assert time.monotonic() < deadline, "the sockets did not get there in time"
        app.poll()
        time.sleep(0.002)


@pytest.fixture
def diag() -> SockDiag:
    d = SockDiag()
    yield d
    d.close()


def rows_of(diag: SockDiag, port: int) -> list[KernelSocket]:
    return [r for r in diag.dump() if port in (r.local[1], (r.remote or ("", 0))[1])]


def pair(app: KernelApp) -> tuple[int, int, int]:
    """A listener on an ephemeral port and a connection to it: (listener, client, port)."""
    lsid = app.listen(0)
    port = app.conns[lsid].local[1]
    csid = app.connect("127.0.0.1", port)
    until(app, lambda: len(app.conns) == 3)
    return lsid, csid, port


def test_a_pattern_transfer_arrives_whole_and_close_leaves_time_wait(diag: SockDiag) -> None:
    app = KernelApp()
    lsid, csid, port = pair(app)
    server = next(c for c in app.conns.values() if c.listener == lsid)
    assert server.remote == app.conns[csid].local
    app.write_pattern(csid, 300_000)
    app.close(csid)  # after the bytes, as a program's write() then close()
    until(app, lambda: server.delivered == 300_000 and server.eof)
    app.close(server.sid)
    until(app, lambda: any(r.state is State.TIME_WAIT for r in rows_of(diag, port)))
    tw = next(r for r in rows_of(diag, port) if r.state is State.TIME_WAIT)
    assert tw.local == app.conns[csid].local  # the side that closed first waits
    assert tw.cwnd is None                    # a TIME-WAIT socket has no TCP_INFO
    assert app.conns[csid].sent == 300_000


def test_rows_carry_tcp_info_in_bytes_and_seconds(diag: SockDiag) -> None:
    app = KernelApp()
    lsid, csid, port = pair(app)
    app.write(csid, b"x" * 5000)
    until(app, lambda: any(c.delivered == 5000 for c in app.conns.values()))
    client = next(r for r in rows_of(diag, port) if r.local == app.conns[csid].local)
    assert client.state is State.ESTABLISHED
    assert client.mss is not None and client.cwnd == client.mss * (client.cwnd // client.mss)
    assert client.cwnd >= client.mss * 10     # RFC 6928's initial window, at least
    assert client.rto is not None and 0.2 <= client.rto <= 1.5
    listener = next(r for r in rows_of(diag, port) if r.state is State.LISTEN)
    assert listener.remote is None and listener.cwnd is None
    for sid in (csid, lsid):
        app.abort(sid)


def test_abort_sends_a_reset_the_peer_sees() -> None:
    app = KernelApp()
    lsid, csid, _ = pair(app)
    server = next(c for c in app.conns.values() if c.listener == lsid)
    app.abort(csid)
    until(app, lambda: server.error == errno.ECONNRESET or server.eof)
    assert server.error == errno.ECONNRESET   # a RST, not a FIN
    app.close(server.sid)
    app.close(lsid)


def test_mistakes_are_refused_with_the_reason() -> None:
    app = KernelApp()
    lsid, csid, _ = pair(app)
    with pytest.raises(HostError, match="listening, it cannot send"):
        app.write(lsid, b"x")
    # a namespace-wide switch on one socket: only when the namespace already agrees
    # (this test runs in the root namespace: it never writes a sysctl)
    with pytest.raises(HostError, match=r"sack=off: on Linux a namespace-wide setting "
                                        r"\(net.ipv4.tcp_sack\)"):
        app.connect("127.0.0.1", 9, tcp={"sack": False})
    with pytest.raises(HostError, match="bogus: Linux has no such switch"):
        app.set_tcp({"bogus": True})
    app.set_tcp({"nagle": False})
    assert app.tcp == {"nagle": False}
    app.close(csid)
    with pytest.raises(HostError, match="already closed"):
        app.close(csid)
    with pytest.raises(HostError, match="no such socket"):
        app.shutdown(99)
    app.close(lsid)


def test_a_refused_connect_reports_the_error() -> None:
    app = KernelApp()
    lsid = app.listen(0)
    port = app.conns[lsid].local[1]
    app.close(lsid)  # nobody listens there any more
    csid = app.connect("127.0.0.1", port)
    until(app, lambda: app.conns[csid].sock is None)
    assert app.conns[csid].error == errno.ECONNREFUSED
