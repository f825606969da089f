"""CLOSED and LISTEN: what a connection with no peer yet does with each kind of segment
(RFC 9293 §3.10.7.1 and §3.10.7.2) and with each user call."""

from __future__ import annotations

import errno

import pytest
from fixtures import ACK, FIN, PSH, REMOTE, RST, SYN, Harness, check, make

from tcplab.tcp.events import SegmentDropped, StateChanged
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.status import TcpError

S = State
PEER_ACK = 0x12345678  # an arbitrary acknowledgment number the peer might carry


# ---------------------------------------------------------------- CLOSED
@pytest.mark.parametrize(("flags", "payload"), [
    (ACK, b""),                 # ACK
    (SYN | ACK, b""),           # SYN-ACK
    (FIN | ACK, b""),           # FIN
    (ACK | PSH, b"hello"),      # data
])
def test_closed_answers_a_segment_with_ack_by_rst_at_its_ack(flags: int, payload: bytes) -> None:
    # §3.10.7.1: "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>"
    h = make(S.CLOSED)
    out = h.send(flags, h.r(0), PEER_ACK, payload)
    check(out.only(), RST, PEER_ACK, window=0)
    assert h.state is S.CLOSED
    assert out.of(SegmentDropped)


@pytest.mark.parametrize(("flags", "payload", "seg_len"), [
    (SYN, b"", 1),              # SYN
    (FIN, b"", 1),              # FIN without ACK
    (PSH, b"hello", 5),         # data without ACK
    (SYN | FIN, b"xy", 4),      # every bit counts in SEG.LEN
])
def test_closed_answers_a_segment_without_ack_by_rst_ack(flags: int, payload: bytes,
                                                         seg_len: int) -> None:
    # §3.10.7.1: "If the ACK bit is off, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
    h = make(S.CLOSED)
    out = h.send(flags, h.r(0), 0, payload)
    check(out.only(), RST | ACK, 0, h.r(seg_len))
    assert h.state is S.CLOSED


def test_closed_ignores_rst() -> None:
    h = make(S.CLOSED)
    h.send(RST, h.r(0)).nothing()
    h.send(RST | ACK, h.r(0), PEER_ACK).nothing()
    assert h.state is S.CLOSED


def test_closed_has_no_window_so_any_sequence_number_gets_the_same_rst() -> None:
    h = make(S.CLOSED)
    out = h.send(ACK, h.r(1 << 30), PEER_ACK)
    check(out.only(), RST, PEER_ACK)


@pytest.mark.parametrize(("call", "args"), [
    ("send", (b"x",)), ("recv", (10,)), ("shutdown", ("wr",)), ("close", ()), ("abort", ()),
])
def test_closed_user_calls_fail_with_enotconn(call: str, args: tuple[object, ...]) -> None:
    # §3.10.2-3.10.5: "error: connection does not exist"
    h = make(S.CLOSED)
    with pytest.raises(TcpError) as err:
        h.call(call, *args)
    assert err.value.errno == errno.ENOTCONN
    assert h.state is S.CLOSED
    assert h.conn.segments_to_send() == []


def test_closed_shutdown_with_a_bad_direction_is_einval() -> None:
    h = make(S.CLOSED)
    with pytest.raises(TcpError) as err:
        h.call("shutdown", "sideways")
    assert err.value.errno == errno.EINVAL


def test_spawn_needs_a_listener() -> None:
    h = make(S.CLOSED)
    with pytest.raises(TcpError) as err:
        h.conn.spawn(REMOTE)
    assert err.value.errno == errno.EINVAL


def test_passive_open_goes_to_listen_silently() -> None:
    h = make(S.CLOSED)
    out = h.call("listen")
    out.nothing()
    assert out.changes == [(S.CLOSED, S.LISTEN, Trigger.PASSIVE_OPEN)]
    assert h.conn.get_timer() is None


def test_active_open_sends_syn_and_arms_the_initial_rto() -> None:
    h = make(S.CLOSED, now=5.0)
    out = h.call("connect", REMOTE)
    check(out.only(), SYN, h.conn.iss, window=65535)
    assert out.changes == [(S.CLOSED, S.SYN_SENT, Trigger.ACTIVE_OPEN)]
    assert h.conn.status().timers == {"rtx": 6.0}  # RFC 6298 §2.1: initial RTO 1 s


# ---------------------------------------------------------------- LISTEN
def test_listen_syn_makes_syn_received_and_answers_syn_ack() -> None:
    h = make(S.LISTEN)
    out = h.send(SYN, h.r(0), options=h.syn_options())
    check(out.only(), SYN | ACK, h.l(0), h.r(1), window=65535)
    assert out.changes == [(S.LISTEN, S.SYN_RECEIVED, Trigger.RCV_SYN)]
    assert h.conn.irs == h.r(0)
    assert h.conn.rcv_nxt == h.r(1)
    assert h.listener is not None and h.listener.state is S.LISTEN  # the listener stays


@pytest.mark.parametrize("peer_iss", [
    1000,
    0xFFFFFFFF,  # the text then starts at sequence number 0
])
def test_listen_syn_with_text_queues_it_until_established(peer_iss: int) -> None:
    # §3.10.7.2 third: text in a SYN "should be queued for processing later"
    h = make(S.LISTEN, peer_iss=peer_iss)
    h.send(SYN, h.r(0), payload=b"early", options=h.syn_options())
    h.send(ACK, h.r(6), h.l(1))
    assert h.state is S.ESTABLISHED
    assert h.call("recv", 100).result == b"early"
    assert h.conn.rcv_nxt == h.r(6)


@pytest.mark.parametrize(("flags", "payload"), [
    (ACK, b""),             # ACK
    (SYN | ACK, b""),       # SYN-ACK: the ACK check comes before the SYN check
    (FIN | ACK, b""),       # FIN
    (ACK | PSH, b"data"),   # data
])
def test_listen_answers_any_ack_by_rst_at_its_ack(flags: int, payload: bytes) -> None:
    # §3.10.7.2 second: "Any acknowledgment is bad ... <SEQ=SEG.ACK><CTL=RST>"
    h = make(S.LISTEN)
    out = h.send(flags, h.r(0), PEER_ACK, payload)
    check(out.only(), RST, PEER_ACK)
    assert h.state is S.LISTEN
    assert out.changes == []


@pytest.mark.parametrize(("flags", "payload"), [
    (RST, b""), (RST | ACK, b""),   # RST: §3.10.7.2 first, ignored
    (FIN, b""), (PSH, b"data"),     # §3.10.7.2 fourth: no SYN and no ACK: dropped
    (0, b""),
])
def test_listen_drops_rst_and_segments_without_syn_or_ack(flags: int, payload: bytes) -> None:
    h = make(S.LISTEN)
    out = h.send(flags, h.r(12345), PEER_ACK if flags & ACK else 0, payload)
    out.nothing()
    assert h.state is S.LISTEN
    assert out.of(SegmentDropped)


def test_listener_leaves_syns_to_its_children_but_still_resets_acks() -> None:
    h = Harness()
    h.call("listen")
    h.send(SYN, h.r(0)).nothing()
    out = h.send(ACK, h.r(0), PEER_ACK)
    check(out.only(), RST, PEER_ACK)
    assert h.state is S.LISTEN


@pytest.mark.parametrize("call", ["close", "abort"])
def test_listen_close_and_abort_go_to_closed_silently(call: str) -> None:
    # §3.10.4 / §3.10.5 LISTEN: delete the TCB, nothing is sent
    h = Harness()
    h.call("listen")
    out = h.call(call)
    out.nothing()
    assert out.changes == [(S.LISTEN, S.CLOSED, Trigger(call.upper()))]
    assert h.conn.get_timer() is None


@pytest.mark.parametrize(("call", "args", "code"), [
    ("send", (b"x",), errno.ENOTCONN),
    ("recv", (10,), errno.ENOTCONN),
    ("shutdown", ("wr",), errno.ENOTCONN),
    ("listen", (), errno.EISCONN),
    ("connect", (REMOTE,), errno.EISCONN),
])
def test_listen_wrong_user_calls(call: str, args: tuple[object, ...], code: int) -> None:
    h = Harness()
    h.call("listen")
    with pytest.raises(TcpError) as err:
        h.call(call, *args)
    assert err.value.errno == code
    assert h.state is S.LISTEN


def test_listen_child_reset_in_syn_received_leaves_the_listener_listening() -> None:
    h = make(S.SYN_RECEIVED)
    out = h.send(RST, h.r(1))
    out.nothing()
    assert out.changes == [(S.SYN_RECEIVED, S.CLOSED, Trigger.RCV_RST)]
    assert h.listener is not None and h.listener.state is S.LISTEN
    assert not any(isinstance(e, StateChanged) and e.new is S.LISTEN for e in out.events)
