"""ESTABLISHED: each kind of segment, data both ways, acknowledgment policy (delayed ACK,
out-of-order data and SACK), PAWS, option negotiation (window scale, MSS), retransmission
with RTO backoff and Karn's rule, and the user calls."""

from __future__ import annotations

import errno

import pytest
from fixtures import (
    ACK,
    FIN,
    FULL_OPTIONS,
    MSS_ONLY,
    PSH,
    REMOTE,
    RST,
    SYN,
    Harness,
    check,
    make,
    plain,
)

from tcplab.tcp.config import Config
from tcplab.tcp.events import (
    ConnectionFailed,
    ConnectionReset,
    DataReceived,
    EndOfStream,
    Retransmitted,
    SegmentDropped,
)
from tcplab.tcp.kinds import Shutdown
from tcplab.tcp.segment import NOP, Mss, Timestamps, WScale
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.status import TcpError

S, T = State, Trigger


def established(**kwargs: object) -> Harness:
    return make(S.ESTABLISHED, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- one segment each
@pytest.mark.parametrize("flags", [SYN, SYN | ACK])
def test_syn_gets_a_challenge_ack(flags: int) -> None:
    # RFC 9293 §3.10.7.4 fourth / RFC 5961 §4.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    h = established()
    out = h.send(flags, h.r(1), h.l(1), options=MSS_ONLY)
    check(out.only(), ACK, h.l(1), h.r(1))
    assert h.state is S.ESTABLISHED
    assert out.of(SegmentDropped)


def test_ack_of_data_frees_the_send_queue_and_stops_the_timer() -> None:
    h = established()
    h.call("send", b"abcdef")
    out = h.send(ACK, h.r(1), h.l(7))
    out.nothing()
    st = h.conn.status()
    assert (st.snd_una, st.send_queue, st.timers) == (h.l(7), 0, {})


def test_partial_ack_restarts_the_timer() -> None:
    # RFC 6298 §5.3
    h = established(config=plain(nagle=False))
    h.call("send", b"abc")
    h.call("send", b"def")
    h.at(0.5).send(ACK, h.r(1), h.l(4)).nothing()
    assert h.conn.status().timers == {"rtx": 1.5}


def test_ack_of_unsent_data_is_acked_and_dropped() -> None:
    # §3.10.7.4 fifth: "If the ACK acks something not yet sent ... send an ACK, drop"
    h = established()
    out = h.send(ACK | PSH, h.r(1), h.l(100), b"zz")
    check(out.only(), ACK, h.l(1), h.r(1))
    assert h.conn.rcv_nxt == h.r(1)


def test_duplicate_ack_is_ignored() -> None:
    h = established()
    h.send(ACK, h.r(1), h.l(1)).nothing()
    h.send(ACK, h.r(1), h.l(0)).nothing()
    assert h.state is S.ESTABLISHED


def test_fin_moves_to_close_wait_and_is_acked_at_once() -> None:
    h = established(config=Config(timestamps=False))  # delayed ACKs on: a FIN is not delayed
    out = h.send(FIN | ACK, h.r(1), h.l(1))
    check(out.only(), ACK, h.l(1), h.r(2))
    assert out.changes == [(S.ESTABLISHED, S.CLOSE_WAIT, T.RCV_FIN)]
    assert EndOfStream() in out.events
    assert h.call("recv", 10).result == b""


def test_fin_with_data_delivers_the_data_first() -> None:
    h = established()
    out = h.send(FIN | ACK | PSH, h.r(1), h.l(1), b"bye")
    check(out.only(), ACK, h.l(1), h.r(5))
    assert h.call("recv", 10).result == b"bye"
    assert h.call("recv", 10).result == b""


def test_fin_beyond_a_hole_waits_for_the_hole() -> None:
    h = established()
    out = h.send(FIN | ACK, h.r(4), h.l(1), b"def")
    check(out.only(), ACK, h.l(1), h.r(1))
    assert h.state is S.ESTABLISHED
    out = h.send(ACK, h.r(1), h.l(1), b"abc")
    check(out.only(), ACK, h.l(1), h.r(8))
    assert h.state is S.CLOSE_WAIT
    assert h.call("recv", 10).result == b"abcdef"


def test_exact_rst_resets() -> None:
    h = established()
    h.call("send", b"pending")
    out = h.send(RST, h.r(1))
    out.nothing()
    assert out.changes == [(S.ESTABLISHED, S.CLOSED, T.RCV_RST)]
    assert ConnectionReset() in out.events
    assert [e.errno for e in out.of(ConnectionFailed)] == [errno.ECONNRESET]
    assert h.conn.get_timer() is None
    for call, args in (("send", (b"x",)), ("recv", (1,))):
        with pytest.raises(TcpError) as err:
            h.call(call, *args)
        assert err.value.errno == errno.ECONNRESET


def test_in_window_rst_gets_a_challenge_ack_at_most_ten_a_second() -> None:
    # RFC 5961 §3.2 and §7
    h = established()
    for i in range(10):
        check(h.send(RST, h.r(2 + i)).only(), ACK, h.l(1), h.r(1))
    h.send(RST, h.r(50)).nothing()
    check(h.at(1.5).send(RST, h.r(50)).only(), ACK, h.l(1), h.r(1))
    assert h.state is S.ESTABLISHED


@pytest.mark.parametrize("offset", [0, 1 << 20, -5])
def test_out_of_window_rst_is_ignored(offset: int) -> None:
    h = established()
    out = h.send(RST, h.r(1 + offset + (0 if offset else 70000)))
    out.nothing()
    assert h.state is S.ESTABLISHED


def test_data_is_delivered_and_acked() -> None:
    h = established()
    out = h.send(ACK | PSH, h.r(1), h.l(1), b"hello")
    check(out.only(), ACK, h.l(1), h.r(6), window=65535)
    assert out.of(DataReceived) == [DataReceived(5)]
    assert h.call("recv", 3).result == b"hel"
    assert h.call("recv", 3).result == b"lo"


@pytest.mark.parametrize(("seq_offset", "payload"), [
    (70000, b"far"),        # right of the window
    (-10, b"old"),          # a duplicate, entirely before RCV.NXT
])
def test_out_of_window_data_is_acked_and_dropped(seq_offset: int, payload: bytes) -> None:
    # §3.10.7.4 first: not acceptable: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    h = established()
    out = h.send(ACK | PSH, h.r(1 + seq_offset), h.l(1), payload)
    check(out.only(), ACK, h.l(1), h.r(1))
    assert out.of(DataReceived) == []


def test_overlapping_retransmission_delivers_only_new_bytes() -> None:
    h = established()
    h.send(ACK, h.r(1), h.l(1), b"abc")
    out = h.send(ACK, h.r(2), h.l(1), b"bcdef")
    check(out.only(), ACK, h.l(1), h.r(7))
    assert h.call("recv", 10).result == b"abcdef"


def test_data_flows_out_and_is_acked() -> None:
    h = established()
    out = h.call("send", b"x" * 3000)
    assert out.result == 3000
    # Nagle (RFC 9293 §3.7.4): the 80-byte tail waits while data is unacknowledged
    assert [(s.seq, len(s.payload), s.flags) for s in out.segs] == [
        (h.l(1), 1460, ACK), (h.l(1461), 1460, ACK)]
    out = h.send(ACK, h.r(1), h.l(2921))
    check(out.only(), ACK | PSH, h.l(2921), h.r(1), b"x" * 80)
    h.send(ACK, h.r(1), h.l(3001)).nothing()
    assert h.conn.status().send_queue == 0


# ---------------------------------------------------------------- acknowledgment policy
def full(**config: object) -> Harness:
    """Defaults on both ends: window scaling, SACK, timestamps, delayed ACK."""
    return established(config=Config(**config), peer_options=FULL_OPTIONS)  # type: ignore[arg-type]


def test_defaults_negotiate_everything() -> None:
    h = full()
    st = h.conn.status()
    assert (st.sack, st.timestamps, st.snd_wscale, st.rcv_wscale) == (True, True, 7, 7)
    assert st.mss == 1460 - 12  # timestamps ride in every segment (RFC 9293 §3.7.1)
    ack = h.journal[-1].only()
    assert ack.window == 262144 >> 7
    ts = ack.timestamps()
    assert ts is not None and ts.ecr == h.peer_tsval()


def test_delayed_ack_waits_40ms() -> None:
    # RFC 1122 §4.2.3.2
    h = full()
    t0 = h.now
    h.send(ACK | PSH, h.r(1), h.l(1), b"x" * 100).nothing()
    assert h.conn.status().timers == {"delack": pytest.approx(t0 + 0.04)}
    out = h.fire()
    check(out.only(), ACK, h.l(1), h.r(101))
    assert h.conn.status().timers == {}


def test_every_second_full_segment_is_acked_at_once() -> None:
    # RFC 5681 §4.2: an ACK at least for every second full-sized segment
    h = full()
    mss = 1448
    h.send(ACK, h.r(1), h.l(1), b"a" * mss).nothing()
    out = h.send(ACK, h.r(1 + mss), h.l(1), b"b" * mss)
    check(out.only(), ACK, h.l(1), h.r(1 + 2 * mss))
    assert "delack" not in h.conn.status().timers


def test_delayed_ack_zero_acks_every_segment() -> None:
    h = full(delayed_ack=0)
    for i in range(3):
        out = h.send(ACK, h.r(1 + 10 * i), h.l(1), b"z" * 10)
        check(out.only(), ACK, h.l(1), h.r(11 + 10 * i))


def test_data_sent_cancels_a_pending_delayed_ack() -> None:
    h = full()
    h.send(ACK | PSH, h.r(1), h.l(1), b"ping").nothing()
    out = h.call("send", b"pong")
    check(out.only(), ACK | PSH, h.l(1), h.r(5), b"pong")
    assert "delack" not in h.conn.status().timers


def test_out_of_order_data_gets_an_immediate_ack_with_sack_then_reassembly() -> None:
    # RFC 5681 §4.2 / RFC 2018 §4
    h = full()
    out = h.send(ACK, h.r(1001), h.l(1), b"B" * 500)
    seg = out.only()
    check(seg, ACK, h.l(1), h.r(1))
    assert seg.sack_blocks() == ((h.r(1001), h.r(1501)),)
    out = h.send(ACK, h.r(2001), h.l(1), b"D" * 100)
    assert out.only().sack_blocks() == ((h.r(2001), h.r(2101)), (h.r(1001), h.r(1501)))
    out = h.send(ACK, h.r(1), h.l(1), b"A" * 1000)  # fills the first hole: ACK at once
    seg = out.only()
    check(seg, ACK, h.l(1), h.r(1501))
    assert seg.sack_blocks() == ((h.r(2001), h.r(2101)),)
    assert out.of(DataReceived) == [DataReceived(1500)]
    out = h.send(ACK, h.r(1501), h.l(1), b"C" * 500)
    seg = out.only()
    check(seg, ACK, h.l(1), h.r(2101))
    assert seg.sack_blocks() == ()
    assert h.call("recv", 5000).result == b"A" * 1000 + b"B" * 500 + b"C" * 500 + b"D" * 100


def test_paws_drops_an_old_timestamp_and_acks() -> None:
    # RFC 7323 §5.3
    h = full(delayed_ack=0)
    h.at(1.0).send(ACK, h.r(1), h.l(1), b"new")
    old = (NOP, NOP, Timestamps(h.peer_tsval() - 500, h.ts_echo))
    out = h.send(ACK, h.r(4), h.l(1), b"old", options=old)
    check(out.only(), ACK, h.l(1), h.r(4))
    assert out.of(DataReceived) == []
    assert any("PAWS" in e.reason for e in out.of(SegmentDropped))
    assert h.call("recv", 10).result == b"new"


# ---------------------------------------------------------------- negotiation
def test_window_scale_both_offer() -> None:
    # RFC 7323 §2: our SYN,ACK answers the peer's shift with ours; windows scale after
    h = Harness(config=plain(), peer_options=(Mss(1460), NOP, WScale(3)))
    out = h.syn_received()
    assert out.only().wscale() == 7
    assert out.only().window == 65535  # a SYN's window is never scaled (§2.2)
    h.send(ACK, h.r(1), h.l(1), window=1000)
    assert h.conn.status().snd_wnd == 8000
    out = h.send(ACK, h.r(1), h.l(1), b"x")
    # 262143 bytes free, in units of 128 (rounded either way, RFC 7323 §2.4)
    assert abs((out.only().window << 7) - (262144 - 1)) < 128


@pytest.mark.parametrize("active", [True, False])
def test_window_scale_peer_does_not_offer(active: bool) -> None:
    h = Harness(config=plain(), peer_options=MSS_ONLY)
    if active:
        h.established()
    else:
        assert h.syn_received().only().wscale() is None  # only answer what was offered
        h.send(ACK, h.r(1), h.l(1), window=1000)
    st = h.conn.status()
    assert (st.snd_wscale, st.rcv_wscale) == (0, 0)
    out = h.send(ACK, h.r(1), h.l(1), b"x", window=40000)
    assert out.only().window == 65535  # 262143 free, capped at the 16-bit field
    assert h.conn.status().snd_wnd == 40000


@pytest.mark.parametrize(("peer_options", "timestamps", "mss"), [
    ((), False, 536),                                   # RFC 9293 §3.7.1 default
    ((Timestamps(0, 0),), True, 524),                   # minus 12 with timestamps
    ((Mss(1000),), False, 1000),
    ((Mss(1000), NOP, NOP, Timestamps(0, 0)), True, 988),
    ((Mss(9000),), False, 1460),                        # never above our own
])
def test_mss_negotiation(peer_options: tuple[object, ...], timestamps: bool, mss: int) -> None:
    h = Harness(config=plain(timestamps=timestamps, nagle=False),
                peer_options=peer_options)  # type: ignore[arg-type]
    h.established(active=False)
    assert h.conn.status().mss == mss
    out = h.call("send", b"q" * 2000)
    assert [len(s.payload) for s in out.segs][:1] == [mss]


# ---------------------------------------------------------------- retransmission
def test_data_retransmission_backs_off() -> None:
    # RFC 6298 §5.4-5.6: retransmit the earliest, double the RTO
    h = established()
    sent = h.call("send", b"abc").only()
    start = h.now
    times = []
    for _ in range(3):
        out = h.fire()
        times.append(round(h.now - start, 6))
        assert out.only() == sent
        assert out.of(Retransmitted) == [Retransmitted(h.l(1), 3, "rto")]
    assert times == [1.0, 3.0, 7.0]
    h.send(ACK, h.r(1), h.l(4)).nothing()
    assert h.conn.get_timer() is None


def test_karns_rule() -> None:
    # RFC 6298 §3: no RTT sample from a retransmitted segment; the backed-off RTO stays
    h = established()
    srtt = h.conn.status().srtt
    h.call("send", b"abc")
    h.fire()  # retransmitted at +1 s, RTO now 2 s
    h.at(h.now + 0.5).send(ACK, h.r(1), h.l(4))
    st = h.conn.status()
    assert st.srtt == srtt
    assert st.rto == 2.0
    h.call("send", b"def")
    assert h.conn.status().timers == {"rtx": h.now + 2.0}
    h.at(h.now + 0.3).send(ACK, h.r(1), h.l(7))  # a clean sample resets the backoff
    st = h.conn.status()
    assert st.srtt is not None and srtt is not None and st.srtt > srtt
    assert st.rto == 1.0


def test_retransmission_gives_up() -> None:
    h = established(config=plain(retries=2))
    h.call("send", b"abc")
    h.fire()
    h.fire()
    out = h.fire()
    out.nothing()
    assert out.changes == [(S.ESTABLISHED, S.CLOSED, T.TIMEOUT)]
    assert [e.errno for e in out.of(ConnectionFailed)] == [errno.ETIMEDOUT]


def test_user_timeout_gives_up_early() -> None:
    # RFC 9293 §3.8.3
    h = established(config=plain(user_timeout=2.5))
    h.call("send", b"abc")
    h.fire()  # +1
    h.fire()  # +3: past the user timeout
    assert h.state is S.CLOSED
    assert h.conn.error == errno.ETIMEDOUT


# ---------------------------------------------------------------- user calls
def test_abort_sends_rst_at_snd_nxt() -> None:
    # RFC 9293 §3.10.5 ESTABLISHED: <SEQ=SND.NXT><CTL=RST>
    h = established()
    h.call("send", b"abc")
    out = h.call("abort")
    check(out.only(), RST, h.l(4), window=0)
    assert out.changes == [(S.ESTABLISHED, S.CLOSED, T.ABORT)]
    assert h.conn.get_timer() is None


def test_close_with_unread_data_resets() -> None:
    # RFC 1122 §4.2.2.13
    h = established()
    h.send(ACK, h.r(1), h.l(1), b"unread")
    out = h.call("close")
    check(out.only(), RST, h.l(1))
    assert out.changes == [(S.ESTABLISHED, S.CLOSED, T.ABORT)]


def test_close_sends_fin_after_queued_data() -> None:
    h = established()
    h.send(ACK, h.r(1), h.l(1), window=0)
    h.call("send", b"later")
    out = h.call("close")
    out.nothing()
    assert out.changes == [(S.ESTABLISHED, S.FIN_WAIT_1, T.CLOSE)]
    out = h.send(ACK, h.r(1), h.l(1), window=1000)
    check(out.only(), FIN | ACK | PSH, h.l(1), h.r(1), b"later")


def test_shutdown_wr_then_data_is_still_received() -> None:
    h = established()
    out = h.call("shutdown", "wr")
    check(out.only(), FIN | ACK, h.l(1), h.r(1))
    assert out.changes == [(S.ESTABLISHED, S.FIN_WAIT_1, T.CLOSE)]
    out = h.send(ACK, h.r(1), h.l(2), b"still")
    check(out.only(), ACK, h.l(2), h.r(6))
    assert h.state is S.FIN_WAIT_2
    out = h.send(ACK, h.r(6), h.l(2), b" here")
    check(out.only(), ACK, h.l(2), h.r(11))
    assert h.call("recv", 20).result == b"still here"
    with pytest.raises(TcpError) as err:
        h.call("send", b"no")
    assert err.value.errno == errno.EPIPE


def test_shutdown_rd_discards_what_arrives_but_acks_it() -> None:
    h = established()
    h.call("shutdown", "rd").nothing()
    out = h.send(ACK, h.r(1), h.l(1), b"ignored")
    check(out.only(), ACK, h.l(1), h.r(8))
    assert h.call("recv", 10).result == b""
    assert h.state is S.ESTABLISHED


def test_shutdown_rdwr_closes_both_halves() -> None:
    h = established()
    h.send(ACK | PSH, h.r(1), h.l(1), b"unread")
    out = h.call("shutdown", Shutdown.RDWR)
    check(out.only(), FIN | ACK, h.l(1), h.r(7))
    assert out.changes == [(S.ESTABLISHED, S.FIN_WAIT_1, T.CLOSE)]
    assert h.call("recv", 10).result == b""  # what was unread is gone


def test_send_buffer_limits() -> None:
    h = established(config=plain(sndbuf=100))
    h.send(ACK, h.r(1), h.l(1), window=0)
    assert h.call("send", b"x" * 150).result == 100
    with pytest.raises(TcpError) as err:
        h.call("send", b"y")
    assert err.value.errno == errno.EAGAIN


@pytest.mark.parametrize(("call", "args", "code"), [
    ("recv", (1,), errno.EAGAIN),
    ("connect", (REMOTE,), errno.EISCONN),
    ("listen", (), errno.EISCONN),
    ("shutdown", ("both",), errno.EINVAL),
])
def test_established_wrong_user_calls(call: str, args: tuple[object, ...], code: int) -> None:
    h = established()
    with pytest.raises(TcpError) as err:
        h.call(call, *args)
    assert err.value.errno == code
    assert h.state is S.ESTABLISHED


def test_ack_after_a_timeout_carries_a_sequence_number_the_peer_accepts() -> None:
    # After an RTO the engine resends from SND.UNA, but the peer may already hold every
    # byte up to SND.MAX; a bare ACK numbered below the peer's RCV.NXT is "not acceptable"
    # there (RFC 9293 §3.10.7.4 first) and its acknowledgment would be lost.  RFC 9293's
    # SND.NXT never moves back, so the ACK must carry the highest number sent.
    h = established()
    assert len(h.call("send", b"x" * 3 * 1460).segs) == 3
    out = h.fire()  # the peer's ACK of all three was lost: cwnd is 1 MSS, resend the first
    assert [(s.seq, len(s.payload)) for s in out.segs] == [(h.l(1), 1460)]
    out = h.send(ACK | PSH, h.r(1), h.l(1), b"peer data")
    check(out.only(), ACK, h.l(1 + 3 * 1460), h.r(10))


def test_sws_avoidance_has_an_override_timer() -> None:
    # RFC 9293 §3.8.6.2.1 / RFC 1122 §4.2.3.4 (4): pushed data goes when the override
    # timeout (0.1-1.0 s) fires, even into a window smaller than a segment
    h = established(config=plain(nagle=False))
    h.send(ACK, h.r(1), h.l(1), window=380)
    h.call("send", b"q" * 2000).nothing()
    assert h.conn.get_timer() is not None
    out = h.fire()
    assert h.now <= 1.0 + 0.01 + 1e-9
    check(out.segs[0], ACK, h.l(1), h.r(1), b"q" * 380)


def test_sack_blocks_riding_on_data_shrink_the_payload_to_fit_the_mss() -> None:
    # RFC 9293 §3.7.1: the MSS counts the options; SACK blocks on a full data segment
    # must take their room from the payload, or the segment overflows the MTU
    h = full()
    h.send(ACK, h.r(1001), h.l(1), b"B" * 500)          # a hole: our ACKs carry SACK
    out = h.call("send", b"x" * 20000)
    assert out.segs
    for seg in out.segs:
        option_bytes = sum(1 if o == NOP else 10 if isinstance(o, Timestamps)
                           else 2 + 8 * len(seg.sack_blocks()) for o in seg.options)
        assert seg.sack_blocks(), "the data segments carry the SACK block"
        assert len(seg.payload) + option_bytes <= 1460


def test_window_shrunk_to_zero_under_data_in_flight_is_probed_not_timed_out() -> None:
    # RFC 9293 §3.8.6.1 (MUST-35, MUST-37): a window that shrinks to zero while data is
    # in flight is probed like any zero window, and never given up while the peer answers
    h = established(config=plain(retries=2))
    out = h.call("send", b"x" * 3000)
    assert len(out.segs) >= 2
    first = 1 + len(out.segs[0].payload)
    h.send(ACK, h.r(1), h.l(first), window=0)          # shrinks with data out: window 0
    for _ in range(10):
        out = h.fire()
        probes = [s for s in out.segs if s.payload]
        assert len(probes) == 1 and len(probes[0].payload) == 1
        assert probes[0].seq == h.l(first)
        h.send(ACK, h.r(1), h.l(first), window=0)      # the peer answers: still closed
    assert h.state is State.ESTABLISHED
    assert h.now > 60                                  # well past what retries=2 allows
    h.send(ACK, h.r(1), h.l(first), window=64)         # the window opens again
    h.fire()
    assert h.state is State.ESTABLISHED


def test_a_reopened_window_cancels_the_override_timer_and_cwnd_still_rules() -> None:
    # The SWS override timer (RFC 1122 §4.2.3.4) armed for a small window must not fire
    # after the window opened: it would send beyond cwnd (RFC 5681 §3.1)
    h = established()
    h.now = 1.0
    h.send(ACK, h.r(1), h.l(1), window=100)
    h.call("send", b"x" * 50000)
    h.now = 1.1
    h.send(ACK, h.r(1), h.l(1), window=65535)
    assert h.conn.in_flight <= h.conn.cc.cwnd
    assert "persist" not in h.conn.status().timers
    h.fire()
    assert h.conn.in_flight <= h.conn.cc.cwnd
