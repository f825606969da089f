"""A hostile or broken peer: ACK storms, TIME-WAIT's answers, text in a crossing SYN,
a receive queue that must stay within rcvbuf (RFC 9293 §3.10.7, RFC 5961, RFC 7323)."""

from __future__ import annotations

from dataclasses import replace

from fixtures import ACK, FIN, FULL_OPTIONS, PSH, SYN, Harness, check, make, plain
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.events import DataReceived
from tcplab.tcp.isn import check_cookie, cookie_ts_options, cookie_tsval, make_cookie
from tcplab.tcp.segment import Segment
from tcplab.tcp.states import State, Trigger

S = State
MSL = 30.0


# ---------------------------------------------------------------- TIME-WAIT's first check
def test_time_wait_acks_a_bare_ack_past_rcv_nxt_and_restarts_2msl() -> None:
    h = make(S.TIME_WAIT)
    h.at(h.now + 10)
    out = h.send(ACK, h.r(3), h.l(2))  # one past RCV.NXT: not acceptable in TIME-WAIT
    check(out.only(), ACK, h.l(2), h.r(2))
    assert h.state is S.TIME_WAIT
    assert h.conn.status().timers == {"time-wait": h.now + 2 * MSL}


def test_time_wait_bare_ack_at_rcv_nxt_is_absorbed() -> None:
    h = make(S.TIME_WAIT)
    entered = h.conn.status().timers["time-wait"]
    h.at(h.now + 10).send(ACK, h.r(2), h.l(2)).nothing()
    assert h.conn.status().timers == {"time-wait": entered}


def test_time_wait_old_segment_without_ack_is_acked_without_restart() -> None:
    h = make(S.TIME_WAIT)
    entered = h.conn.status().timers["time-wait"]
    out = h.at(h.now + 10).send(PSH, h.r(0), 0, b"x")
    check(out.only(), ACK, h.l(2), h.r(2))
    assert h.conn.status().timers == {"time-wait": entered}


# ---------------------------------------------------------------- text in a crossing SYN
def test_simultaneous_open_syn_text_is_delivered_after_the_handshake() -> None:
    # RFC 9293 §3.10.7.3: "queue them for processing after the ESTABLISHED state"
    h = Harness()
    h.syn_sent()
    out = h.send(SYN, h.r(0), payload=b"early", options=h.syn_options())
    check(out.only(), SYN | ACK, h.l(0), h.r(1))  # acknowledges the SYN only
    assert out.of(DataReceived) == []
    assert h.state is S.SYN_RECEIVED
    out = h.send(ACK, h.r(6), h.l(1))
    assert out.changes == [(S.SYN_RECEIVED, S.ESTABLISHED, Trigger.RCV_ACK_OF_SYN)]
    check(out.only(), ACK, h.l(1), h.r(6))
    assert out.of(DataReceived) == [DataReceived(5)]
    assert h.call("recv", 100).result == b"early"


# ---------------------------------------------------------------- ACK storm
def _pair(cfg: Config) -> tuple[Connection, Connection, list[tuple[str, Segment]]]:
    """Two engines connected back to back, established at t=0 with zero delay."""
    a = Connection(("10.0.0.1", 1000), cfg)
    b = Connection(("10.0.0.2", 2000), replace(cfg))
    b.listen(0.0)
    b = b.spawn(("10.0.0.1", 1000))
    a.connect(("10.0.0.2", 2000), 0.0)
    wire: list[tuple[str, Segment]] = [("b", s) for s in a.segments_to_send()]
    _run(a, b, wire, 0.0, 100)
    assert a.state is S.ESTABLISHED and b.state is S.ESTABLISHED
    return a, b, wire


def _run(a: Connection, b: Connection, wire: list[tuple[str, Segment]], now: float,
         bound: int) -> int:
    """Deliver segments at one instant until none is left or ``bound`` were delivered."""
    delivered = 0
    while wire and delivered < bound:
        to, seg = wire.pop(0)
        dst = b if to == "b" else a
        dst.receive(seg, now)
        delivered += 1
        wire.extend(("a" if to == "b" else "b", s) for s in dst.segments_to_send())
    return delivered


def test_an_injected_segment_does_not_start_an_ack_storm() -> None:
    # One in-window segment B never sent puts A's RCV.NXT past B's SND.MAX.  Without a
    # rate limit each then answers every ACK of the other ("ACK of unsent data" /
    # "out of window") forever at one instant; with it, the exchange dies out at once.
    a, b, wire = _pair(Config(delayed_ack=0.0))
    forged = Segment(2000, 1000, b.snd_max, a.snd_max, ACK | PSH, 65535, (), b"forged")
    a.receive(forged, 0.5)
    wire.extend(("b", s) for s in a.segments_to_send())
    delivered = _run(a, b, wire, 0.5, 10_000)
    assert delivered < 10, f"{delivered} segments at one instant: an ACK storm"
    assert not wire
    # a second round later is bounded too: one ACK per side per 500 ms at most
    b.send(b"x", 2.0)
    wire.extend(("a", s) for s in b.segments_to_send())
    assert _run(a, b, wire, 2.0, 10_000) < 10


def test_fin_out_of_window_is_always_acked() -> None:
    h = make(S.ESTABLISHED)
    far = sq.add(h.r(1), 1 << 20)
    for _ in range(3):
        check(h.send(ACK | FIN, far, h.l(1)).only(), ACK, h.l(1), h.r(1))


# ---------------------------------------------------------------- the receive buffer
def test_a_peer_leaving_one_byte_unsent_cannot_grow_the_queue_past_rcvbuf() -> None:
    # Rounding the advertised right edge up to the window-scale unit (RFC 7323 §2.4, so
    # the edge never moves left) must not let data beyond rcvbuf in: a peer that always
    # stops one byte short of the edge would otherwise gain up to a unit per ACK.
    rcvbuf = 65536
    h = Harness(config=plain(rcvbuf=rcvbuf), peer_options=FULL_OPTIONS)
    out = h.established(active=False)
    shift = h.conn.rcv_wscale
    assert shift > 0
    nxt = h.r(1)
    edge = sq.add(nxt, 65535)  # the SYN,ACK's window, unscaled
    for _ in range(2000):
        room = sq.sub(edge, nxt) - 1
        payload = b"z" * max(min(room, 1400), 1)
        out = h.send(ACK | PSH, nxt, h.l(1), payload)
        if out.segs:
            last = out.segs[-1]
            edge = sq.add(last.ack, last.window << shift)
            nxt = last.ack
        buffered = len(h.conn.tcb.rcvq) + h.conn.tcb.ooo.buffered
        assert buffered <= rcvbuf, f"{buffered} bytes buffered, rcvbuf {rcvbuf}"
    assert h.conn.readable == rcvbuf  # it did fill, to the byte
    assert h.call("recv", 1 << 20).result == b"z" * rcvbuf


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 70_000), st.integers(1, 1400), st.booleans()),
                min_size=1, max_size=120))
def test_the_receive_queue_never_holds_more_than_rcvbuf(
        arrivals: list[tuple[int, int, bool]]) -> None:
    # whatever lands where (in order, out of order, past the edge), and whatever the
    # application reads in between, buffered data stays within rcvbuf
    rcvbuf = 20000
    h = Harness(config=plain(rcvbuf=rcvbuf), peer_options=FULL_OPTIONS)
    h.established(active=False)
    for offset, length, read in arrivals:
        h.send(ACK | PSH, sq.add(h.conn.rcv_nxt, offset % 25000), h.l(1), b"q" * length)
        assert len(h.conn.tcb.rcvq) + h.conn.tcb.ooo.buffered <= rcvbuf
        if read and h.conn.readable:
            h.call("recv", 3000)


# ---------------------------------------------------------------- the ISN key
def test_an_engine_built_without_a_key_takes_a_random_one() -> None:
    # RFC 6528 §3 / MUST-9: a public constant key would make every keyless engine's ISNs
    # computable from outside; each Config draws its own from os.urandom
    first, second = Config(), Config()
    assert len(first.isn_secret) == 16 and first.isn_secret != second.isn_secret
    isns = set()
    for cfg in (first, second):
        conn = Connection(("10.0.0.1", 1000), cfg)
        conn.connect(("10.0.0.2", 80), 0.0)
        isns.add(conn.iss)
    assert len(isns) == 2
    # a child keeps its listener's key (replace() copies it)
    listener = Connection(("10.0.0.1", 80), first)
    listener.listen(0.0)
    assert listener.spawn(("10.0.0.2", 5000)).config.isn_secret == first.isn_secret


# ---------------------------------------------------------------- SYN cookies (RFC 4987)
def test_a_cookie_carries_the_mss_and_checks_only_for_its_segment_and_time() -> None:
    key, local, remote = b"k" * 16, ("10.0.0.2", 80), ("10.0.0.1", 40000)
    cookie = make_cookie(key, local, remote, 1234, 1460, 100.0)
    assert check_cookie(key, local, remote, 1234, cookie, 100.0) == 1460
    assert check_cookie(key, local, remote, 1234, cookie, 100.0 + 2 * 64) == 1460
    assert check_cookie(key, local, remote, 1234, cookie, 100.0 + 3 * 64) is None  # too old
    assert check_cookie(key, local, remote, 1234, cookie, 100.0 + 32 * 64) is None  # wrapped
    assert check_cookie(key, local, remote, 1235, cookie, 100.0) is None   # another SYN
    assert check_cookie(key, local, ("10.0.0.1", 40001), 1234, cookie, 100.0) is None
    assert check_cookie(b"x" * 16, local, remote, 1234, cookie, 100.0) is None
    assert check_cookie(key, local, remote, 1234, cookie ^ 1, 100.0) is None
    # the MSS is rounded down to an entry of the table, never up
    assert check_cookie(key, local, remote, 1, make_cookie(key, local, remote, 1, 1400, 0.0),
                        0.0) == 1400
    assert check_cookie(key, local, remote, 1, make_cookie(key, local, remote, 1, 1399, 0.0),
                        0.0) == 1300


@given(st.integers(0, 0xFFFFFFFF), st.one_of(st.none(), st.integers(0, 14)), st.booleans())
def test_options_in_the_tsval_come_back_and_never_run_ahead(tsval: int, wscale: int | None,
                                                            sack: bool) -> None:
    value = cookie_tsval(tsval, wscale, sack)
    assert sq.le(value, tsval) and sq.sub(tsval, value) < 64
    assert cookie_ts_options(value) == (wscale, sack)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 60_000),
       st.one_of(st.integers(-2000, 100), st.integers(-(1 << 20), 1 << 20)),
       st.integers(0, 1400), st.booleans(), st.booleans())
def test_no_forged_segment_starts_an_endless_exchange(seq_off: int, ack_off: int, length: int,
                                                      to_a: bool, fin: bool) -> None:
    # whatever one forged segment says, the two ends fall quiet at that instant
    a, b, wire = _pair(Config(delayed_ack=0.0))
    victim, other = (a, b) if to_a else (b, a)
    flags = ACK | PSH | (FIN if fin else 0)
    forged = Segment(other.local[1], victim.local[1], sq.add(victim.rcv_nxt, seq_off),
                     sq.add(victim.snd_max, ack_off), flags, 65535, (), b"f" * length)
    victim.receive(forged, 0.5)
    wire.extend(("a" if victim is b else "b", s) for s in victim.segments_to_send())
    assert _run(a, b, wire, 0.5, 10_000) < 40
