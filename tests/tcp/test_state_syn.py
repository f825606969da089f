"""SYN-SENT and SYN-RECEIVED: both handshakes, simultaneous open, every kind of segment in
each state (RFC 9293 §3.10.7.3 and §3.10.7.4), SYN retransmission and giving up."""

from __future__ import annotations

import errno

import pytest
from fixtures import ACK, FIN, PSH, REMOTE, RST, SYN, Harness, check, make, plain

from tcplab.tcp.events import (
    ConnectionFailed,
    ConnectionReset,
    DataReceived,
    Retransmitted,
    SegmentDropped,
)
from tcplab.tcp.segment import NOP, Mss, WScale
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.status import TcpError

S, T = State, Trigger


# ---------------------------------------------------------------- SYN-SENT
def test_active_handshake() -> None:
    h = make(S.SYN_SENT)
    h.at(0.05)
    out = h.send(SYN | ACK, h.r(0), h.l(1), options=h.syn_options())
    check(out.only(), ACK, h.l(1), h.r(1), window=65535)
    assert out.changes == [(S.SYN_SENT, S.ESTABLISHED, T.RCV_SYN_ACK)]
    st = h.conn.status()
    assert (st.snd_una, st.snd_nxt, st.rcv_nxt) == (h.l(1), h.l(1), h.r(1))
    assert st.snd_wnd == 65535
    assert st.timers == {}  # the SYN is acknowledged: no retransmission timer
    assert st.srtt == pytest.approx(0.05)  # RFC 6298 §2.2: the first sample


def test_syn_sent_syn_ack_with_text_delivers_it_and_acknowledges_it() -> None:
    h = make(S.SYN_SENT)
    out = h.send(SYN | ACK, h.r(0), h.l(1), b"hello", options=h.syn_options())
    check(out.only(), ACK, h.l(1), h.r(6))
    assert out.of(DataReceived) == [DataReceived(5)]
    assert h.call("recv", 10).result == b"hello"


@pytest.mark.parametrize("ack_offset", [0, 2, -1000])
def test_syn_sent_unacceptable_ack_gets_rst_and_nothing_else(ack_offset: int) -> None:
    # §3.10.7.3 first: SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>
    for flags in (SYN | ACK, ACK, FIN | ACK, ACK | PSH):
        h = make(S.SYN_SENT)
        out = h.send(flags, h.r(0), h.l(ack_offset), b"x" if flags & PSH else b"")
        check(out.only(), RST, h.l(ack_offset))
        assert h.state is S.SYN_SENT
        assert out.changes == []


def test_syn_sent_rst_with_unacceptable_ack_is_ignored() -> None:
    h = make(S.SYN_SENT)
    h.send(RST | ACK, h.r(0), h.l(2)).nothing()
    assert h.state is S.SYN_SENT


def test_syn_sent_rst_with_acceptable_ack_is_connection_refused() -> None:
    # §3.10.7.3 second: "signal to the user 'error: connection reset', drop the segment,
    # enter CLOSED state"; RFC 5961 §3.2: acceptable when it acknowledges the SYN
    h = make(S.SYN_SENT)
    out = h.send(RST | ACK, 0, h.l(1))
    out.nothing()
    assert out.changes == [(S.SYN_SENT, S.CLOSED, T.RCV_RST)]
    assert ConnectionReset(refused=True) in out.events
    assert [e.errno for e in out.of(ConnectionFailed)] == [errno.ECONNREFUSED]
    assert h.conn.get_timer() is None
    with pytest.raises(TcpError) as err:
        h.call("send", b"x")
    assert err.value.errno == errno.ECONNREFUSED


def test_syn_sent_rst_without_ack_is_dropped() -> None:
    h = make(S.SYN_SENT)
    out = h.send(RST, h.r(0))
    out.nothing()
    assert h.state is S.SYN_SENT
    assert out.of(SegmentDropped)


@pytest.mark.parametrize(("flags", "payload"), [
    (ACK, b""), (FIN | ACK, b""), (ACK | PSH, b"data"), (FIN, b""), (PSH, b"data"),
])
def test_syn_sent_without_syn_is_dropped(flags: int, payload: bytes) -> None:
    # §3.10.7.3 fifth: "If neither of the SYN or RST bits is set, then drop the segment"
    h = make(S.SYN_SENT)
    out = h.send(flags, h.r(0), h.l(1) if flags & ACK else 0, payload)
    out.nothing()
    assert h.state is S.SYN_SENT
    assert out.of(SegmentDropped)


def test_simultaneous_open() -> None:
    # RFC 9293 §3.5 Figure 8
    h = make(S.SYN_SENT)
    out = h.send(SYN, h.r(0), options=h.syn_options())
    check(out.only(), SYN | ACK, h.l(0), h.r(1))
    assert out.changes == [(S.SYN_SENT, S.SYN_RECEIVED, T.RCV_SYN)]
    out = h.send(SYN | ACK, h.r(0), h.l(1), options=h.syn_options())
    out.nothing()
    assert out.changes == [(S.SYN_RECEIVED, S.ESTABLISHED, T.RCV_ACK_OF_SYN)]
    assert h.conn.rcv_nxt == h.r(1)
    assert h.conn.snd_una == h.l(1)


@pytest.mark.parametrize("active", [True, False])
def test_syn_received_plain_ack_of_syn_establishes(active: bool) -> None:
    h = Harness()
    h.syn_received(active=active)
    out = h.send(ACK, h.r(1), h.l(1))
    out.nothing()
    assert out.changes == [(S.SYN_RECEIVED, S.ESTABLISHED, T.RCV_ACK_OF_SYN)]


def test_simultaneous_open_reset_is_connection_refused() -> None:
    # §3.10.7.4 second, SYN-RECEIVED from an active OPEN: "the connection was refused"
    h = Harness()
    h.syn_received(active=True)
    out = h.send(RST, h.r(1))
    assert out.changes == [(S.SYN_RECEIVED, S.CLOSED, T.RCV_RST)]
    assert ConnectionReset(refused=True) in out.events
    assert [e.errno for e in out.of(ConnectionFailed)] == [errno.ECONNREFUSED]


def test_syn_retransmission_backs_off_then_gives_up() -> None:
    h = make(S.SYN_SENT)
    syn = h.journal[-1].only()
    deadlines = []
    while h.state is S.SYN_SENT:
        deadline = h.conn.get_timer()
        assert deadline is not None
        deadlines.append(deadline)
        out = h.fire()
        if h.state is S.SYN_SENT:
            assert out.only() == syn  # the same SYN again
            assert out.of(Retransmitted) == [Retransmitted(h.l(0), 1, "rto")]
    # RFC 6298 §2.1, §5.5: 1 s, doubling, capped at rto_max (60 s); 7 retries, then give
    # up at 183 s: RFC 9293 §3.8.3 (MUST-23) wants at least 3 minutes for a SYN
    assert deadlines == [1, 3, 7, 15, 31, 63, 123, 183]
    assert out.changes == [(S.SYN_SENT, S.CLOSED, T.TIMEOUT)]
    out.nothing()
    assert [e.errno for e in out.of(ConnectionFailed)] == [errno.ETIMEDOUT]
    with pytest.raises(TcpError) as err:
        h.call("recv", 1)
    assert err.value.errno == errno.ETIMEDOUT


def test_no_timer_survives_giving_up() -> None:
    h = make(S.SYN_SENT, config=plain(syn_retries=0))
    h.fire()
    assert h.state is S.CLOSED
    assert h.conn.get_timer() is None


def test_lost_syn_means_data_starts_with_a_three_second_rto() -> None:
    # RFC 6298 §5.7
    h = make(S.SYN_SENT)
    h.fire()
    h.at(1.5).send(SYN | ACK, h.r(0), h.l(1), options=h.syn_options())
    out = h.call("send", b"abc")
    check(out.only(), ACK | PSH, h.l(1), h.r(1), b"abc")
    assert h.conn.status().timers == {"rtx": 4.5}


def test_syn_sent_send_is_queued_until_established() -> None:
    # §3.10.2 SYN-SENT: "Queue the data for transmission after entering ESTABLISHED"
    h = make(S.SYN_SENT)
    out = h.call("send", b"hi")
    assert out.result == 2
    out.nothing()
    out = h.send(SYN | ACK, h.r(0), h.l(1), options=h.syn_options())
    check(out.only(), ACK | PSH, h.l(1), h.r(1), b"hi")


@pytest.mark.parametrize("call", ["close", "abort"])
def test_syn_sent_close_and_abort_go_to_closed_without_rst(call: str) -> None:
    # §3.10.4, §3.10.5 SYN-SENT: delete the TCB, nothing is sent
    h = make(S.SYN_SENT)
    out = h.call(call)
    out.nothing()
    assert out.changes == [(S.SYN_SENT, S.CLOSED, Trigger(call.upper()))]
    assert h.conn.get_timer() is None


@pytest.mark.parametrize(("call", "args", "code"), [
    ("connect", (REMOTE,), errno.EALREADY),
    ("listen", (), errno.EISCONN),
    ("shutdown", ("wr",), errno.ENOTCONN),
    ("recv", (1,), errno.EAGAIN),
])
def test_syn_sent_wrong_user_calls(call: str, args: tuple[object, ...], code: int) -> None:
    h = make(S.SYN_SENT)
    with pytest.raises(TcpError) as err:
        h.call(call, *args)
    assert err.value.errno == code
    assert h.state is S.SYN_SENT


# ---------------------------------------------------------------- SYN-RECEIVED
def test_passive_handshake() -> None:
    h = make(S.SYN_RECEIVED)
    out = h.at(0.02).send(ACK, h.r(1), h.l(1))
    out.nothing()
    assert out.changes == [(S.SYN_RECEIVED, S.ESTABLISHED, T.RCV_ACK_OF_SYN)]
    st = h.conn.status()
    assert (st.snd_una, st.snd_nxt, st.rcv_nxt) == (h.l(1), h.l(1), h.r(1))
    assert st.timers == {}
    assert st.snd_wnd == 65535


@pytest.mark.parametrize("ack_offset", [0, 2, 100])
def test_syn_received_unacceptable_ack_gets_rst(ack_offset: int) -> None:
    # §3.10.7.4 fifth, SYN-RECEIVED: "form a reset segment <SEQ=SEG.ACK><CTL=RST>"
    h = make(S.SYN_RECEIVED)
    out = h.send(ACK, h.r(1), h.l(ack_offset))
    check(out.only(), RST, h.l(ack_offset))
    assert h.state is S.SYN_RECEIVED


def test_syn_received_retransmitted_syn_is_out_of_window_and_acked() -> None:
    # the peer's SYN again (SEG.SEQ = IRS) fails §3.10.7.4 first: <SEQ=SND.NXT><ACK=RCV.NXT>
    h = make(S.SYN_RECEIVED)
    out = h.send(SYN, h.r(0), options=h.syn_options())
    check(out.only(), ACK, h.l(1), h.r(1))
    assert h.state is S.SYN_RECEIVED


def test_syn_received_in_window_syn_returns_a_passive_child_to_listen() -> None:
    # RFC 9293 §3.10.7.4 fourth, SYN-RECEIVED from a passive OPEN: "return this connection
    # to the LISTEN state"; here the child goes and the listener stays
    h = make(S.SYN_RECEIVED)
    out = h.send(SYN, h.r(10), options=h.syn_options())
    out.nothing()
    assert out.changes == [(S.SYN_RECEIVED, S.CLOSED, T.RCV_SYN)]
    assert out.of(ConnectionReset) == []
    assert h.listener is not None and h.listener.state is S.LISTEN


def test_syn_received_passive_syn_ack_is_out_of_window() -> None:
    h = make(S.SYN_RECEIVED)
    out = h.send(SYN | ACK, h.r(0), h.l(1), options=h.syn_options())
    check(out.only(), ACK, h.l(1), h.r(1))
    assert h.state is S.SYN_RECEIVED


def test_syn_received_simultaneous_open_syn_in_window_gets_challenge_ack() -> None:
    # active SYN-RECEIVED handles SYN "per the directions for synchronized states" (RFC 5961 §4)
    h = Harness()
    h.syn_received(active=True)
    out = h.send(SYN, h.r(10), options=h.syn_options())
    check(out.only(), ACK, h.l(1), h.r(1))
    assert h.state is S.SYN_RECEIVED


def test_syn_received_fin_with_ack_establishes_then_closes_the_peer_side() -> None:
    h = make(S.SYN_RECEIVED)
    out = h.send(FIN | ACK, h.r(1), h.l(1))
    check(out.only(), ACK, h.l(1), h.r(2))
    assert out.changes == [(S.SYN_RECEIVED, S.ESTABLISHED, T.RCV_ACK_OF_SYN),
                           (S.ESTABLISHED, S.CLOSE_WAIT, T.RCV_FIN)]


@pytest.mark.parametrize(("flags", "payload"), [(FIN, b""), (PSH, b"data"), (0, b"")])
def test_syn_received_segment_without_ack_is_dropped(flags: int, payload: bytes) -> None:
    # §3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return"
    h = make(S.SYN_RECEIVED)
    out = h.send(flags, h.r(1), 0, payload)
    out.nothing()
    assert h.state is S.SYN_RECEIVED
    assert h.conn.rcv_nxt == h.r(1)


def test_syn_received_exact_rst_from_passive_open_is_not_reported() -> None:
    # §3.10.7.4 second: passive: return to LISTEN; "The user need not be informed"
    h = make(S.SYN_RECEIVED)
    out = h.send(RST, h.r(1))
    out.nothing()
    assert out.changes == [(S.SYN_RECEIVED, S.CLOSED, T.RCV_RST)]
    assert out.of(ConnectionReset) == []
    assert out.of(ConnectionFailed) == []
    assert h.conn.get_timer() is None


def test_syn_received_in_window_rst_gets_challenge_ack() -> None:
    # RFC 5961 §3.2
    h = make(S.SYN_RECEIVED)
    out = h.send(RST, h.r(100))
    check(out.only(), ACK, h.l(1), h.r(1))
    assert h.state is S.SYN_RECEIVED


def test_syn_received_out_of_window_rst_is_ignored() -> None:
    h = make(S.SYN_RECEIVED)
    h.send(RST, h.r(1 << 20)).nothing()
    h.send(RST, h.r(0)).nothing()
    assert h.state is S.SYN_RECEIVED


def test_syn_received_data_with_ack_establishes_and_is_delivered() -> None:
    h = make(S.SYN_RECEIVED)
    out = h.send(ACK | PSH, h.r(1), h.l(1), b"GET /")
    check(out.only(), ACK, h.l(1), h.r(6))
    assert out.changes == [(S.SYN_RECEIVED, S.ESTABLISHED, T.RCV_ACK_OF_SYN)]
    assert h.call("recv", 100).result == b"GET /"


def test_syn_received_out_of_window_data_is_acked_and_dropped() -> None:
    h = make(S.SYN_RECEIVED)
    out = h.send(ACK | PSH, h.r(70000), h.l(1), b"far")
    check(out.only(), ACK, h.l(1), h.r(1))
    assert h.state is S.SYN_RECEIVED


def test_syn_ack_retransmission_backs_off_then_gives_up() -> None:
    h = make(S.SYN_RECEIVED, config=plain(syn_retries=2))
    synack = h.journal[-1].only()
    assert h.fire().only() == synack
    assert h.now == 1.0
    assert h.fire().only() == synack
    assert h.now == 3.0
    out = h.fire()
    assert h.now == 7.0
    out.nothing()
    assert out.changes == [(S.SYN_RECEIVED, S.CLOSED, T.TIMEOUT)]


def test_syn_received_close_sends_fin() -> None:
    # §3.10.4 SYN-RECEIVED: no data pending: send FIN, enter FIN-WAIT-1
    h = make(S.SYN_RECEIVED)
    out = h.call("close")
    check(out.only(), FIN | ACK, h.l(1), h.r(1))
    assert out.changes == [(S.SYN_RECEIVED, S.FIN_WAIT_1, T.CLOSE)]


def test_syn_received_close_with_queued_data_waits_for_established() -> None:
    h = make(S.SYN_RECEIVED)
    h.call("send", b"data").nothing()
    h.call("close").nothing()
    assert h.state is S.SYN_RECEIVED


def test_syn_received_send_is_queued_until_established() -> None:
    h = make(S.SYN_RECEIVED)
    out = h.call("send", b"hi")
    assert out.result == 2
    out.nothing()
    out = h.send(ACK, h.r(1), h.l(1))
    check(out.only(), ACK | PSH, h.l(1), h.r(1), b"hi")


def test_syn_received_abort_sends_rst_at_snd_nxt() -> None:
    # §3.10.5 SYN-RECEIVED: <SEQ=SND.NXT><CTL=RST>
    h = make(S.SYN_RECEIVED)
    out = h.call("abort")
    check(out.only(), RST, h.l(1))
    assert out.changes == [(S.SYN_RECEIVED, S.CLOSED, T.ABORT)]
    assert h.conn.get_timer() is None


def test_closed_in_syn_received_takes_the_window_from_the_ack_of_its_syn() -> None:
    # The ACK of our SYN reaches us in FIN-WAIT-1: it still sets SND.WND, SND.WL1 and
    # SND.WL2 (RFC 9293 §3.10.7.4 fifth step), so a lost FIN is retransmitted by the
    # timer rather than the window looking closed forever (the peer's ISS here is in the
    # upper half of the sequence space, where a zero SND.WL1 compares as newer)
    h = Harness()
    h.syn_received()
    h.call("close")
    assert h.state is S.FIN_WAIT_1
    h.now = 0.01
    h.send(ACK, h.r(1), h.l(1))  # acknowledges the SYN only: the FIN was lost
    assert h.conn.snd_wnd > 0
    out = h.fire()
    assert [s.flags & FIN for s in out.segs] == [FIN]


def test_simultaneous_open_syn_ack_window_is_not_scaled() -> None:
    # RFC 7323 §2.2: the window of a SYN is never scaled, also when its SYN,ACK is taken
    # as the ACK of our SYN in SYN-RECEIVED
    h = Harness(config=plain(), peer_options=(Mss(1460), NOP, WScale(7)))
    h.syn_received(active=True)
    assert h.conn.snd_wscale == 7
    h.send(SYN | ACK, h.r(0), h.l(1), window=1000, options=h.syn_options())
    assert h.state is S.ESTABLISHED
    assert h.conn.snd_wnd == 1000
