"""The closing states (FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT):
each kind of segment in every synchronized state, both close orders, simultaneous close,
half-close, FIN retransmission, TIME-WAIT's 2*MSL, and ABORT (RFC 9293 §3.10.4-3.10.8)."""

from __future__ import annotations

import errno

import pytest
from fixtures import (
    ACK,
    BUILDERS,
    FIN,
    PSH,
    RST,
    SYN,
    SYNCHRONIZED_NUMBERS,
    Harness,
    check,
    make,
    plain,
)

from tcplab.tcp.events import (
    ConnectionFailed,
    ConnectionReset,
    DataReceived,
    Retransmitted,
    TimerArmed,
)
from tcplab.tcp.segment import Mss
from tcplab.tcp.states import SYNCHRONIZED, State, Trigger
from tcplab.tcp.status import TcpError

S, T = State, Trigger
SYNC = sorted(SYNCHRONIZED, key=list(State).index)
REPORTS_RESET = {S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT}
MSL = 30.0


def in_state(state: State) -> tuple[Harness, int, int]:
    """A harness in ``state`` and (RCV.NXT, SND.NXT) there."""
    h = make(state)
    peer, ours = SYNCHRONIZED_NUMBERS[state]
    assert (h.conn.rcv_nxt, h.conn.snd_nxt) == (h.r(peer), h.l(ours))
    return h, h.r(peer), h.l(ours)


# ---------------------------------------------------------------- every synchronized state
@pytest.mark.parametrize("state", SYNC)
@pytest.mark.parametrize("flags", [SYN, SYN | ACK])
def test_syn_gets_a_challenge_ack(state: State, flags: int) -> None:
    # RFC 9293 §3.10.7.4 fourth (RFC 5961 §4.2), in every synchronized state
    h, rcv_nxt, snd_nxt = in_state(state)
    out = h.send(flags, rcv_nxt, snd_nxt, options=(Mss(1460),))
    check(out.only(), ACK, snd_nxt, rcv_nxt)
    assert h.state is state


@pytest.mark.parametrize("state", SYNC)
def test_exact_rst_closes(state: State) -> None:
    # §3.10.7.4 second: RST at RCV.NXT; the user hears "connection reset" where it
    # still has a use for the connection
    h, rcv_nxt, _ = in_state(state)
    out = h.send(RST, rcv_nxt)
    out.nothing()
    assert out.changes == [(state, S.CLOSED, T.RCV_RST)]
    reported = state in REPORTS_RESET
    assert (ConnectionReset() in out.events) == reported
    want = errno.EPIPE if state is S.CLOSE_WAIT else errno.ECONNRESET  # as Linux
    assert [e.errno for e in out.of(ConnectionFailed)] == ([want] if reported else [])
    assert h.conn.get_timer() is None


@pytest.mark.parametrize("closing", [True, False])
def test_rst_after_shutdown_reports_econnreset(closing: bool) -> None:
    # CLOSING or LAST-ACK reached by shutdown(SHUT_WR): the application still holds the
    # socket, so a RST there is its ECONNRESET (Linux's tcp_reset), SO_ERROR included
    h = Harness()
    h.established()
    if closing:
        check(h.call("shutdown", "wr").only(), FIN | ACK, h.l(1), h.r(1))
        check(h.send(FIN | ACK, h.r(1), h.l(1)).only(), ACK, h.l(2), h.r(2))
        assert h.state is S.CLOSING
    else:
        check(h.send(FIN | ACK, h.r(1), h.l(1)).only(), ACK, h.l(1), h.r(2))
        check(h.call("shutdown", "wr").only(), FIN | ACK, h.l(1), h.r(2))
        assert h.state is S.LAST_ACK
    out = h.send(RST, h.r(2))
    assert out.changes[-1][1] is S.CLOSED
    assert [e.errno for e in out.of(ConnectionFailed)] == [errno.ECONNRESET]
    assert h.conn.error == errno.ECONNRESET
    with pytest.raises(TcpError) as err:
        h.call("send", b"x")
    assert err.value.errno == errno.ECONNRESET


def test_rst_in_time_wait_after_shutdown_reports_nothing() -> None:
    # TIME-WAIT is a finished connection; Linux's application no longer owns it
    h = Harness()
    h.established()
    h.call("shutdown", "wr")
    h.send(ACK, h.r(1), h.l(2))
    h.send(FIN | ACK, h.r(1), h.l(2))
    assert h.state is S.TIME_WAIT
    out = h.send(RST, h.r(2))
    assert out.of(ConnectionFailed) == [] and h.conn.error is None


@pytest.mark.parametrize("state", SYNC)
def test_in_window_rst_gets_a_challenge_ack(state: State) -> None:
    # RFC 5961 §3.2
    h, rcv_nxt, snd_nxt = in_state(state)
    out = h.send(RST | ACK, (rcv_nxt + 1000) & 0xFFFFFFFF, snd_nxt)
    check(out.only(), ACK, snd_nxt, rcv_nxt)
    assert h.state is state


@pytest.mark.parametrize("state", SYNC)
@pytest.mark.parametrize("distance", [-1, 1 << 20])
def test_out_of_window_rst_is_ignored(state: State, distance: int) -> None:
    h, rcv_nxt, _ = in_state(state)
    h.send(RST, (rcv_nxt + distance) & 0xFFFFFFFF).nothing()
    assert h.state is state


@pytest.mark.parametrize("state", SYNC)
def test_out_of_window_data_is_acked(state: State) -> None:
    h, rcv_nxt, snd_nxt = in_state(state)
    out = h.send(ACK | PSH, (rcv_nxt + 100000) & 0xFFFFFFFF, snd_nxt, b"far")
    check(out.only(), ACK, snd_nxt, rcv_nxt)
    assert h.state is state


@pytest.mark.parametrize("state", SYNC)
def test_ack_of_nothing_new_changes_nothing(state: State) -> None:
    h, rcv_nxt, _ = in_state(state)
    una = h.conn.snd_una
    h.send(ACK, rcv_nxt, una).nothing()
    assert h.state is state


@pytest.mark.parametrize("state", [S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT])
def test_retransmitted_fin_after_ours_is_reacked(state: State) -> None:
    h, rcv_nxt, snd_nxt = in_state(state)
    fin_seq = (rcv_nxt - 1) & 0xFFFFFFFF
    out = h.send(FIN | ACK, fin_seq, h.conn.snd_una)
    check(out.only(), ACK, snd_nxt, rcv_nxt)
    assert h.state is state


@pytest.mark.parametrize("state", [S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT])
def test_text_after_the_peers_fin_is_ignored(state: State) -> None:
    # §3.10.7.4 seventh: "This should not occur ... Ignore the segment text."
    h, rcv_nxt, _ = in_state(state)
    out = h.send(ACK | PSH, rcv_nxt, h.conn.snd_una, b"late")
    out.nothing()
    assert out.of(DataReceived) == []
    assert h.conn.rcv_nxt == rcv_nxt


@pytest.mark.parametrize("state", [S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK,
                                   S.TIME_WAIT])
def test_send_after_close_is_epipe(state: State) -> None:
    h = make(state)
    with pytest.raises(TcpError) as err:
        h.call("send", b"x")
    assert err.value.errno == errno.EPIPE


@pytest.mark.parametrize(("state", "rst"), [
    # RFC 9293 §3.10.5
    (S.FIN_WAIT_1, True), (S.FIN_WAIT_2, True), (S.CLOSE_WAIT, True),
    (S.CLOSING, False), (S.LAST_ACK, False), (S.TIME_WAIT, False),
])
def test_abort(state: State, rst: bool) -> None:
    h = make(state)
    snd_nxt = h.conn.snd_nxt
    out = h.call("abort")
    if rst:
        check(out.only(), RST, snd_nxt)
    else:
        out.nothing()
    assert out.changes == [(state, S.CLOSED, T.ABORT)]
    assert h.conn.get_timer() is None


# ---------------------------------------------------------------- FIN-WAIT-1
def test_fin_wait_1_ack_short_of_the_fin_stays() -> None:
    h = make(S.FIN_WAIT_1)
    h.send(ACK, h.r(1), h.l(1)).nothing()
    assert h.state is S.FIN_WAIT_1


def test_fin_wait_1_ack_of_fin_is_silent() -> None:
    h = make(S.FIN_WAIT_1)
    out = h.send(ACK, h.r(1), h.l(2))
    out.nothing()
    assert out.changes == [(S.FIN_WAIT_1, S.FIN_WAIT_2, T.RCV_ACK_OF_FIN)]
    assert h.conn.get_timer() is None


def test_fin_wait_1_fin_acking_ours_goes_straight_to_time_wait() -> None:
    # §3.10.7.4: the ACK first (fifth step), then the FIN (eighth step)
    h = make(S.FIN_WAIT_1)
    out = h.at(5.0).send(FIN | ACK, h.r(1), h.l(2))
    check(out.only(), ACK, h.l(2), h.r(2))
    assert out.changes == [(S.FIN_WAIT_1, S.FIN_WAIT_2, T.RCV_ACK_OF_FIN),
                           (S.FIN_WAIT_2, S.TIME_WAIT, T.RCV_FIN)]
    assert h.conn.status().timers == {"time-wait": 5.0 + 2 * MSL}


def test_simultaneous_close() -> None:
    # RFC 9293 §3.6 Figure 13: FIN-WAIT-1 -> CLOSING -> TIME-WAIT
    h = make(S.FIN_WAIT_1)
    out = h.send(FIN | ACK, h.r(1), h.l(1))
    check(out.only(), ACK, h.l(2), h.r(2))
    assert out.changes == [(S.FIN_WAIT_1, S.CLOSING, T.RCV_FIN)]
    out = h.at(2.0).send(ACK, h.r(2), h.l(2))
    out.nothing()
    assert out.changes == [(S.CLOSING, S.TIME_WAIT, T.RCV_ACK_OF_FIN)]
    assert h.conn.status().timers == {"time-wait": 2.0 + 2 * MSL}


def test_fin_retransmission_backs_off() -> None:
    h = make(S.FIN_WAIT_1)
    fin = h.journal[-1].only()
    start = h.now
    for expected in (1.0, 3.0, 7.0):
        out = h.fire()
        assert round(h.now - start, 6) == expected
        assert out.only() == fin
        assert out.of(Retransmitted) == [Retransmitted(h.l(1), 1, "rto")]
    h.send(ACK, h.r(1), h.l(2)).nothing()
    assert h.state is S.FIN_WAIT_2
    assert h.conn.get_timer() is None


@pytest.mark.parametrize("state", [S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK])
def test_fin_retransmissions_give_up(state: State) -> None:
    h = Harness(config=plain(retries=1))
    BUILDERS[state](h)
    h.fire().only()
    out = h.fire()
    out.nothing()
    assert out.changes == [(state, S.CLOSED, T.TIMEOUT)]
    assert h.conn.error == errno.ETIMEDOUT


def test_fin_wait_after_shutdown_wr_receives_data() -> None:
    h = make(S.ESTABLISHED)
    h.call("shutdown", "wr")
    out = h.send(ACK, h.r(1), h.l(1), b"one")
    check(out.only(), ACK, h.l(2), h.r(4))
    assert h.state is S.FIN_WAIT_1
    h.send(ACK, h.r(4), h.l(2))
    out = h.send(FIN | ACK, h.r(4), h.l(2), b"two")
    check(out.only(), ACK, h.l(2), h.r(8))
    assert h.state is S.TIME_WAIT
    assert h.call("recv", 10).result == b"onetwo"
    assert h.call("recv", 10).result == b""


@pytest.mark.parametrize("state", [S.FIN_WAIT_1, S.FIN_WAIT_2])
def test_data_after_close_resets(state: State) -> None:
    # RFC 1122 §4.2.2.13: "if new data is received after CLOSE is called, its TCP SHOULD
    # send a RST to show that data was lost"
    h = make(state)
    snd_nxt = h.conn.snd_nxt
    out = h.send(ACK | PSH, h.r(1), h.conn.snd_una, b"lost")
    check(out.only(), RST, snd_nxt)
    assert out.changes == [(state, S.CLOSED, T.RCV_DATA_AFTER_CLOSE)]
    assert h.conn.get_timer() is None


# ---------------------------------------------------------------- FIN-WAIT-2
def test_fin_wait_2_fin_enters_time_wait() -> None:
    h = make(S.FIN_WAIT_2)
    out = h.at(3.0).send(FIN | ACK, h.r(1), h.l(2))
    check(out.only(), ACK, h.l(2), h.r(2))
    assert out.changes == [(S.FIN_WAIT_2, S.TIME_WAIT, T.RCV_FIN)]
    assert TimerArmed("time-wait", 3.0 + 2 * MSL) in out.events


# ---------------------------------------------------------------- CLOSE-WAIT
def test_half_close_data_flows_both_ways() -> None:
    # the peer sends then closes; we read, answer, then close: CLOSE-WAIT -> LAST-ACK
    h = make(S.ESTABLISHED)
    h.send(ACK | PSH, h.r(1), h.l(1), b"request")
    out = h.send(FIN | ACK, h.r(8), h.l(1))
    check(out.only(), ACK, h.l(1), h.r(9))
    assert h.state is S.CLOSE_WAIT
    out = h.call("send", b"response")
    check(out.only(), ACK | PSH, h.l(1), h.r(9), b"response")
    assert h.call("recv", 100).result == b"request"
    assert h.call("recv", 100).result == b""
    h.send(ACK, h.r(9), h.l(9)).nothing()
    out = h.call("send", b"more")
    check(out.only(), ACK | PSH, h.l(9), h.r(9), b"more")
    out = h.call("close")
    check(out.only(), FIN | ACK, h.l(13), h.r(9))
    assert out.changes == [(S.CLOSE_WAIT, S.LAST_ACK, T.CLOSE)]
    out = h.send(ACK, h.r(9), h.l(14))
    out.nothing()
    assert out.changes == [(S.LAST_ACK, S.CLOSED, T.RCV_ACK_OF_FIN)]
    assert h.conn.get_timer() is None


def test_close_wait_close_with_unread_data_resets() -> None:
    h = make(S.ESTABLISHED)
    h.send(FIN | ACK | PSH, h.r(1), h.l(1), b"unread")
    assert h.state is S.CLOSE_WAIT
    out = h.call("close")
    check(out.only(), RST, h.l(1))
    assert out.changes == [(S.CLOSE_WAIT, S.CLOSED, T.ABORT)]


def test_close_wait_retransmissions_give_up() -> None:
    h = make(S.CLOSE_WAIT, config=plain(retries=0))
    h.call("send", b"x")
    out = h.fire()
    assert out.changes == [(S.CLOSE_WAIT, S.CLOSED, T.TIMEOUT)]


# ---------------------------------------------------------------- CLOSING / LAST-ACK
def test_closing_keeps_retransmitting_its_fin() -> None:
    h = make(S.CLOSING)
    out = h.fire()
    check(out.only(), FIN | ACK, h.l(1), h.r(2))
    assert h.state is S.CLOSING


def test_last_ack_ack_of_fin_closes() -> None:
    h = make(S.LAST_ACK)
    h.send(ACK, h.r(2), h.l(1)).nothing()
    assert h.state is S.LAST_ACK
    out = h.send(ACK, h.r(2), h.l(2))
    out.nothing()
    assert out.changes == [(S.LAST_ACK, S.CLOSED, T.RCV_ACK_OF_FIN)]
    assert h.conn.get_timer() is None


# ---------------------------------------------------------------- TIME-WAIT
def test_time_wait_expires_to_closed() -> None:
    h = make(S.TIME_WAIT)
    entered = h.now
    assert h.conn.status().timers == {"time-wait": entered + 2 * MSL}
    out = h.fire()
    assert h.now == entered + 2 * MSL
    out.nothing()
    assert out.changes == [(S.TIME_WAIT, S.CLOSED, T.TIME_WAIT_TIMEOUT)]
    assert h.conn.get_timer() is None


def test_time_wait_reacks_a_retransmitted_fin() -> None:
    h = make(S.TIME_WAIT)
    out = h.at(h.now + 10).send(FIN | ACK, h.r(1), h.l(2))
    check(out.only(), ACK, h.l(2), h.r(2))
    assert h.state is S.TIME_WAIT


def test_time_wait_retransmitted_fin_restarts_2msl() -> None:
    # RFC 9293 §3.10.7.4 eighth, TIME-WAIT: "Restart the 2 MSL time-wait timeout"
    h = make(S.TIME_WAIT)
    h.at(h.now + 10)
    out = h.send(FIN | ACK, h.r(1), h.l(2))
    check(out.only(), ACK, h.l(2), h.r(2))
    assert out.changes == [(S.TIME_WAIT, S.TIME_WAIT, T.RCV_FIN)]
    assert h.conn.status().timers == {"time-wait": h.now + 2 * MSL}


def test_time_wait_fin_at_rcv_nxt_restarts_2msl() -> None:
    h = make(S.TIME_WAIT)
    h.at(h.now + 10)
    out = h.send(FIN | ACK, h.r(2), h.l(2))
    check(out.only(), ACK, h.l(2), h.r(2))
    assert out.changes == [(S.TIME_WAIT, S.TIME_WAIT, T.RCV_FIN)]
    assert h.conn.status().timers == {"time-wait": h.now + 2 * MSL}


def test_time_wait_timer_only_in_time_wait() -> None:
    for state in State:
        h = make(state)
        assert ("time-wait" in h.conn.status().timers) == (state is S.TIME_WAIT)
