"""Proofs for rows of docs/conformance.md (RFC 9293 Appendix B) that no other test shows.

Engine-level tests drive one Connection with the handcrafted peer of ``fixtures``; the
host-level ones (addresses, IP and ICMP) drive :class:`~tcplab.stack.host.Host` objects
frame by frame.  They live in this one file: pytest cannot collect two test modules
with the same basename in directories without ``__init__.py``.
"""

from __future__ import annotations

import errno
import random
from typing import Any

import pytest
from fixtures import (
    ACK,
    FIN,
    FULL_OPTIONS,
    LOCAL,
    REMOTE,
    RST,
    SYN,
    Harness,
    check,
    make,
    plain,
)

from tcplab.backends.mininet.agent import agent_host
from tcplab.stack import ethernet, ipv4
from tcplab.stack.arp import OP_REPLY, OP_REQUEST, build_arp, parse_arp
from tcplab.stack.events import ConnectionFailed as SocketErrorEvent
from tcplab.stack.events import SegmentDropped, SegmentReceived, SoftError, StateChanged
from tcplab.stack.host import Host
from tcplab.stack.sockets import HostError
from tcplab.tcp import seq as sq
from tcplab.tcp.codec import decode, encode, internet_checksum, ip_to_bytes
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.events import DeliveryTrouble, IcmpReported, Retransmitted
from tcplab.tcp.isn import initial_sequence
from tcplab.tcp.segment import NOP, Mss, Segment, Timestamps
from tcplab.tcp.states import State

S = State
MSS = 1460
MAC_A = ethernet.mac_to_bytes("02:00:00:00:00:01")
MAC_PEER = ethernet.mac_to_bytes("02:00:00:00:00:99")


def _isn(local: tuple[str, int] = LOCAL, remote: tuple[str, int] = REMOTE,
         secret: bytes = b"key-1", now: float = 0.0) -> int:
    """The ISN a fresh connection puts on its SYN."""
    conn = Connection(local, Config(isn_secret=secret))
    conn.connect(remote, now)
    [syn] = conn.segments_to_send()
    assert syn.flags == SYN
    return syn.seq


# ---------------------------------------------------------------- ISN (RFC 6528)
def test_isn_follows_a_4_microsecond_clock() -> None:
    """MUST-8 (RFC 9293 §3.4.1): for one four-tuple the ISN advances one per 4 µs."""
    base = _isn(now=10.0)
    ticks = [(_isn(now=10.0 + dt) - base) % (1 << 32) for dt in (0.25, 1.0, 4 * 3600)]
    assert ticks == [62_500, 250_000, (4 * 3600 * 250_000) % (1 << 32)]  # M wraps in 4.77 h


def test_isn_offset_is_a_keyed_function_of_the_four_tuple() -> None:
    """SHLD-1 (RFC 9293 §3.4.1, RFC 6528 §3): ISN = M + F(addresses, ports, secret key)."""
    base = _isn()
    assert _isn() == base                                 # F is a function of its inputs
    others = [_isn(local=("10.0.0.9", 4000)), _isn(local=(LOCAL[0], 4001)),
              _isn(remote=("10.0.0.9", 5000)), _isn(remote=(REMOTE[0], 5001)),
              _isn(secret=b"key-2")]
    assert len({base, *others}) == 6                      # every input changes F
    # M, the clock, is one for all four-tuples: F keeps their ISNs apart at any time
    far = (LOCAL, ("10.0.0.9", 5001))
    assert sq.sub(_isn(*far, now=3.0), _isn(now=3.0)) == sq.sub(_isn(*far), base)


def _host_isn(host: Host) -> int:
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    sid = host.connect("10.0.0.2", 80, 5.0, lport=4000)
    return host.socket(sid).status.iss


def test_a_real_hosts_isn_key_is_not_derived_from_the_lab_seed() -> None:
    """MUST-9 (RFC 9293 §3.4.1, RFC 6528 §3): a Mininet agent's key is from os.urandom;
    simulated hosts take theirs from the run's seed, so that a seed replays a run."""
    seeded = [_host_isn(Host("h1", rng=random.Random(7))) for _ in range(2)]
    assert seeded[0] == seeded[1]
    real = [_host_isn(agent_host("h1", None, random.Random(7))) for _ in range(2)]
    assert real[0] != real[1] and seeded[0] not in real


# ---------------------------------------------------------------- congestion control
def test_slow_start_then_congestion_avoidance() -> None:
    """MUST-19 (RFC 9293 §3.8.2, RFC 5681 §3.1): slow start, RTO response, cong. avoidance."""
    h = make(S.ESTABLISHED)
    out = h.call("send", b"x" * 60 * MSS)
    assert len(out.segs) == 10                            # IW = 10 segments (RFC 6928)
    for k in range(1, 4):                                 # slow start: each ACK of one
        out = h.send(ACK, h.r(1), h.l(1 + k * MSS))       # segment lets two new ones out
        assert len(out.segs) == 2
    assert h.conn.status().cwnd == 13 * MSS
    out = h.fire()                                        # RTO: ssthresh = flight / 2
    assert [(s.seq, len(s.payload)) for s in out.segs] == [(h.l(1 + 3 * MSS), MSS)]
    st = h.conn.status()
    assert (st.cwnd, st.ssthresh) == (MSS, 13 * MSS // 2)
    cwnds = []
    for _ in range(13):
        h.send(ACK, h.r(1), sq.add(h.conn.snd_una, MSS))
        cwnds.append(h.conn.status().cwnd)
        assert h.conn.in_flight <= cwnds[-1]
    # +SMSS per ACK while cwnd < ssthresh (9490, RFC 5681 eq. 2), then +SMSS once a
    # cwnd's worth of bytes is ACKed (RFC 5681 §3.1's recommended byte counting)
    assert cwnds == [2920, 4380, 5840, 7300, 8760] + [10220] * 7 + [11680]


# ---------------------------------------------------------------- keep-alives
def _keepalive(**changes: Any) -> Harness:
    h = Harness(config=plain(keepalive=True, keepalive_idle=10.0, keepalive_interval=2.0,
                             keepalive_probes=3, **changes))
    h.established()
    return h


def test_keepalives_are_off_by_default_and_two_hours_when_on() -> None:
    """MAY-5, MUST-25, MUST-27, MUST-28 (RFC 9293 §3.8.4): off unless asked; the idle
    time is a setting that defaults to two hours."""
    cfg = Config()
    assert cfg.keepalive is False and cfg.keepalive_idle == 7200.0
    h = make(S.ESTABLISHED)
    assert h.conn.get_timer() is None                    # idle, and no keep-alive timer
    h.conn.config.keepalive = True
    h.step(lambda: h.conn.settings_changed(h.now))
    assert h.conn.get_timer() == h.now + 7200.0


def test_a_keepalive_probe_carries_no_data_and_an_answer_restarts_the_wait() -> None:
    """MUST-26, SHLD-12 (RFC 9293 §3.8.4): a probe (SND.NXT-1, no data) only after the
    whole idle time with nothing heard; the peer's answer starts it over."""
    h = _keepalive()
    start = h.now
    out = h.fire()
    assert h.now == start + 10.0
    check(out.only(), ACK, h.l(0), h.r(1))             # SEG.SEQ = SND.NXT - 1, no data
    h.send(ACK, h.r(1), h.l(1)).nothing()              # the answer
    assert h.conn.get_timer() == h.now + 10.0
    h.at(h.now + 5.0).send(ACK, h.r(1), h.l(1), b"hi")  # heard again at +5 ...
    out = h.fire()                                     # ... so the timer's first firing
    assert out.segs == [] and h.state is S.ESTABLISHED  # is early, and waits for the rest
    assert h.conn.get_timer() == h.now + 5.0


def test_no_keepalive_while_data_is_outstanding() -> None:
    """MUST-26 (RFC 9293 §3.8.4): with unacknowledged data, retransmission does the job."""
    h = _keepalive()
    h.call("send", b"waiting")
    assert h.conn.get_timer() == h.now + 1.0           # the RTO, not the keep-alive
    h.send(ACK, h.r(1), h.l(8)).nothing()
    assert h.conn.get_timer() == h.now + 10.0          # back to the keep-alive


def test_no_keepalive_while_data_waits_for_a_zero_window() -> None:
    """MUST-26: data waiting behind a zero window is not idleness; only window probes go."""
    h = _keepalive()
    h.send(ACK, h.r(1), h.l(1), window=0).nothing()
    h.call("send", b"waits")
    sent = []
    while h.now < 60.0:
        out = h.fire()
        sent += [(s.seq, len(s.payload)) for s in out.segs]
        assert "keepalive" not in h.conn.tcb.timers
    assert sent and all(seg == (h.l(1), 1) for seg in sent)  # zero-window probes only


def test_one_unanswered_probe_is_no_proof_of_death() -> None:
    """MUST-29 (RFC 9293 §3.8.4): only after all probes and their intervals go unanswered
    does the connection give up (ETIMEDOUT); one is never enough."""
    h = _keepalive()
    sent = [len(h.fire().segs) for _ in range(3)]
    assert sent == [1, 1, 1] and h.state is S.ESTABLISHED
    out = h.fire()
    check(out.only(), RST | ACK, h.l(1), h.r(1))        # as Linux: tell the peer
    assert h.state is S.CLOSED and h.conn.error == errno.ETIMEDOUT
    with pytest.raises(ValueError, match="keepalive_probes"):
        plain(keepalive_probes=1).validate()


def test_keepalives_switch_on_per_connection() -> None:
    """MUST-24 (RFC 9293 §3.8.4): the application turns them on for one connection."""
    host = Host("a", rng=random.Random(3), config=Config(keepalive_idle=30.0))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    plain_sid = host.connect("10.0.0.7", 80, 0.0)
    probed = host.connect("10.0.0.8", 80, 0.0, tcp={"keepalive": True})
    assert host.socket(plain_sid).status and host.socket(probed).state is not S.CLOSED
    assert [c.config.keepalive for c in (host._table.get(plain_sid).conn,
                                         host._table.get(probed).conn)] == [False, True]


# ---------------------------------------------------------------- IP TTL and Diffserv
def test_ttl_and_diffserv_are_the_connections_and_change_on_the_fly() -> None:
    """MUST-48, MUST-49, SHLD-21, SHLD-22 (RFC 9293 §3.9.1.9, §3.9.2): the application
    sets a connection's TTL and Diffserv field, also while it runs; IP gets them as set."""
    a, b, sid, _child, _last = _established_pair()

    def sent(text: bytes, now: float) -> bytes:
        a.send(sid, text, now)
        [frame] = [f for _, f in a.frames_to_send() if f[12:14] == b"\x08\x00"]
        b.receive_frame("eth0", frame, now)
        b.handle_timer(now + 0.2)                        # its delayed ACK
        _settle(a, b, now + 0.2)
        return frame[ethernet.ETH_HEADER_LEN:]

    before = sent(b"before", 1.0)
    assert (before[8], before[1]) == (64, 0)            # TTL and Diffserv byte: defaults
    a.set_ip_options(sid, ttl=7, tos=10 << 2)            # DSCP 10, AF11
    after = sent(b"after", 2.0)
    assert (after[8], after[1]) == (7, 10 << 2)
    assert internet_checksum(after[:20]) == 0            # the header still checks
    for bad in ({"ttl": 0}, {"ttl": 256}, {"tos": 1}):   # ECN bits are not the app's
        with pytest.raises(HostError) as err:
            a.set_ip_options(sid, **bad)
        assert err.value.errno == errno.EINVAL
    again = sent(b"again", 3.0)                          # a refused value changed nothing
    assert (again[8], again[1]) == (7, 10 << 2)


# ---------------------------------------------------------------- ICMP errors
def _quoted_syn(host: Host, dst: str) -> tuple[int, bytes]:
    """Open a connection to ``dst``: its socket id and the SYN as an ICMP error quotes it."""
    sid = host.connect(dst, 80, 0.0)
    [(_, ip, syn)] = _wire(host, 0.0)
    return sid, ipv4.build(ip.src, ip.dst, ipv4.PROTO_TCP, encode(syn, ip.src, ip.dst), 1)


def test_a_hard_icmp_error_ends_only_the_opening_it_quotes() -> None:
    """MUST-54 (RFC 9293 §3.9.2.2): the error reaches the connection whose segment it
    quotes; port unreachable, a hard error (SHLD-26), ends that opening."""
    host = Host("a", rng=random.Random(3))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    first, _ = _quoted_syn(host, "10.0.0.7")
    second, quoted = _quoted_syn(host, "10.0.0.8")
    _inject(host, "eth0", "10.0.0.8", "10.0.0.1", ipv4.PROTO_ICMP, _icmp(3, 3, quoted), 0.5)
    assert host.socket(second).state is S.CLOSED
    assert host.socket(second).status.error == errno.ECONNREFUSED
    assert host.socket(first).state is S.SYN_SENT
    closed = [e for e in iter(host.next_event, None) if isinstance(e, StateChanged)
              and e.sid == second and e.new is S.CLOSED]
    assert [e.cause for e in closed] == [
        "rcv ICMP error (ICMP destination unreachable (port unreachable) from 10.0.0.8)"]


def test_a_hard_icmp_error_for_an_unaccepted_child_is_silent() -> None:
    """As for a RST in SYN-RECEIVED: the child goes, the listener goes on, and nobody is
    told of a connection nobody accepted."""
    host = Host("a", rng=random.Random(3))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    lst = host.listen(80, now=0.0)
    syn = Segment(4000, 80, 1, 0, SYN, 1000, (Mss(1460),))
    _inject(host, "eth0", "10.0.0.9", "10.0.0.1", ipv4.PROTO_TCP,
            _tcp("10.0.0.9", "10.0.0.1", syn), 0.0)
    [(_, ip, synack)] = _wire(host, 0.0)
    quoted = ipv4.build(ip.src, ip.dst, ipv4.PROTO_TCP, encode(synack, ip.src, ip.dst), 1)
    _inject(host, "eth0", "10.0.0.9", "10.0.0.1", ipv4.PROTO_ICMP, _icmp(3, 3, quoted), 0.5)
    [child] = [s for s in host.sockets() if s.kind == "connection"]
    assert child.state is S.CLOSED and host.socket(lst).state is S.LISTEN
    assert not any(isinstance(e, SocketErrorEvent) for e in iter(host.next_event, None))


@pytest.mark.parametrize(("icmp_type", "code"), [(3, 1), (3, 0), (11, 0), (12, 0), (3, 3),
                                                 (3, 4)])
def test_other_icmp_errors_are_told_to_the_application(icmp_type: int, code: int) -> None:
    """SHLD-25 (RFC 9293 §3.9.2.2): soft errors -- and, once synchronized, hard ones too
    (RFC 5927 §7.2) -- become a soft error event; the connection goes on."""
    a, _b, sid, _child, _last = _established_pair()
    a.send(sid, b"in flight", 1.0)
    [(_, ip, seg)] = [p for p in _wire(a, 1.0) if p[2].payload]
    quoted = ipv4.build(ip.src, ip.dst, ipv4.PROTO_TCP, encode(seg, ip.src, ip.dst), 1)
    _inject(a, "eth0", "10.0.0.254", "10.0.0.1", ipv4.PROTO_ICMP,
            _icmp(icmp_type, code, quoted), 1.0)
    soft = [e for e in iter(a.next_event, None) if isinstance(e, SoftError)]
    assert [(e.sid, e.retransmissions) for e in soft] == [(sid, 0)]
    assert soft[0].reason.startswith(f"ICMP {ipv4.ICMP_ERRORS[icmp_type]}")
    assert a.socket(sid).state is S.ESTABLISHED and a.socket(sid).status.error is None


def test_after_a_timeout_all_that_was_sent_is_still_in_flight_for_icmp() -> None:
    """RFC 5927 §4.1 with go-back-N: SND.NXT went back to SND.UNA, but an error about the
    third segment sent before the timeout still belongs to the connection."""
    h = make(S.ESTABLISHED)
    h.call("send", b"x" * 3 * MSS)
    h.fire()                                             # RTO: SND.NXT back
    third = h.l(1 + 2 * MSS)
    assert sq.lt(h.conn.snd_nxt, third) and sq.lt(third, h.conn.snd_max)
    out = h.step(lambda: h.conn.icmp_error(third, False, errno.EHOSTUNREACH, "host unreachable"))
    assert out.result is True and out.of(IcmpReported) == [IcmpReported("host unreachable")]
    out = h.step(lambda: h.conn.icmp_error(h.conn.snd_max, False, errno.EHOSTUNREACH, "x"))
    assert out.result is False                           # beyond what was ever sent


def test_an_icmp_error_for_sequence_space_not_in_flight_is_ignored() -> None:
    """RFC 5927 §4.1: a blind attacker cannot end or disturb a connection with ICMP."""
    a, _b, sid, _child, last = _established_pair()   # ``last`` acknowledges: nothing in flight
    _inject(a, "eth0", "10.0.0.254", "10.0.0.1", ipv4.PROTO_ICMP, _icmp(3, 3, last), 1.0)
    events = list(iter(a.next_event, None))
    assert not any(isinstance(e, SoftError) for e in events)
    assert any(isinstance(e, SegmentDropped) and "RFC 5927" in e.reason for e in events)
    assert a.socket(sid).state is S.ESTABLISHED


# ---------------------------------------------------------------- TIME-WAIT and a new SYN
@pytest.mark.parametrize(("timestamps", "newer"), [(True, True), (True, False),
                                                   (False, True), (False, False)])
def test_time_wait_gives_way_only_to_a_newer_syn(timestamps: bool, newer: bool) -> None:
    """SHLD-4 (RFC 9293 §3.6.1, RFC 6191 §2): in TIME-WAIT a SYN opens a new incarnation
    when its timestamp is newer (timestamps on) or its sequence number is (off)."""
    h = make(S.TIME_WAIT, config=plain(timestamps=timestamps),
             peer_options=FULL_OPTIONS if timestamps else (Mss(1460),))
    assert h.conn.ts_ok is timestamps
    opts: tuple[Any, ...] = ()
    seq = (h.conn.rcv_nxt + (100_000 if newer or timestamps else -100_000)) % 2**32
    if timestamps:
        val = (h.conn.ts_recent + (1 if newer else 0)) % 2**32
        opts = (Mss(1460), NOP, NOP, Timestamps(val, 0))
    syn = h.seg(SYN, seq, options=opts)
    out = h.step(lambda: h.conn.takes_new_syn(syn, timestamps))
    assert out.result is newer and out.segs == []
    assert h.state is (S.CLOSED if newer else S.TIME_WAIT)
    for flags in (SYN | ACK, ACK, RST, FIN | ACK):       # only a bare SYN, ever
        assert make(S.TIME_WAIT).conn.takes_new_syn(h.seg(flags, seq, options=opts),
                                                    True) is False


def test_without_timestamps_in_the_new_incarnation_sequence_numbers_decide() -> None:
    """SHLD-4 (RFC 6191 §2): if the listener would not use timestamps, the SYN's sequence
    number, not its timestamp, tells a new incarnation from an old duplicate."""
    for seq_newer in (True, False):
        h = make(S.TIME_WAIT, config=plain(timestamps=True), peer_options=FULL_OPTIONS)
        seq = (h.conn.rcv_nxt + (100_000 if seq_newer else -100_000)) % 2**32
        newer_ts = (Mss(1460), NOP, NOP, Timestamps((h.conn.ts_recent + 5) % 2**32, 0))
        syn = h.seg(SYN, seq, options=newer_ts)
        assert h.conn.takes_new_syn(syn, False) is seq_newer


def test_a_new_incarnation_starts_above_the_old_sequence_space() -> None:
    """RFC 1122 §4.2.2.13 (1): the new ISS is above the old incarnation's SND.MAX."""
    old_max = _isn(now=0.0) + 2**31 - 10                 # far ahead of the clock's ISN
    child = Connection(LOCAL, Config(isn_secret=b"key-1"))
    child.listen(0.0)
    new = child.spawn(REMOTE, iss_above=old_max)
    new.receive(Segment(REMOTE[1], LOCAL[1], 7, 0, SYN, 1000, (Mss(1460),)), 0.0)
    [synack] = new.segments_to_send()
    assert synack.seq == (old_max + 65537) % 2**32


def test_a_client_reconnects_while_the_server_lingers_in_time_wait() -> None:
    """SHLD-4: the server closed first and is in TIME-WAIT; the client opens again from
    the same port; the server's listener takes the SYN at once."""
    rng = random.Random(5)
    a, b = Host("a", rng=rng), Host("b", rng=rng)
    a.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    b.add_interface("eth0", MAC_PEER, "10.0.0.2", 24)
    b.listen(80, now=0.0)
    old = a.connect("10.0.0.2", 80, 0.0, lport=5000)
    _settle(a, b, 0.0)
    [served] = [s.id for s in b.sockets() if s.kind == "connection"]
    # 200 kB in no time: more sequence space than the ISN clock covers by t=0.5 s
    b.send(served, b"x" * 200_000, 0.0)
    _settle(a, b, 0.0)
    b.close(served, 0.1)
    _settle(a, b, 0.1)
    a.close(old, 0.2)
    _settle(a, b, 0.2)
    assert (a.socket(old).state, b.socket(served).state) == (S.CLOSED, S.TIME_WAIT)
    old_max = b.socket(served).status.snd_nxt
    clock_isn = initial_sequence(b.config.isn_secret, ("10.0.0.2", 80), ("10.0.0.1", 5000),
                                 0.5)
    assert not sq.gt(clock_isn, old_max)                 # the clock alone would reuse space
    new = a.connect("10.0.0.2", 80, 0.5, lport=5000)
    _settle(a, b, 0.5)
    assert a.socket(new).state is S.ESTABLISHED
    assert b.socket(served).state is S.CLOSED           # TIME-WAIT gave way early
    [again] = [s for s in b.sockets() if s.kind == "connection" and s.id != served]
    assert again.state is S.ESTABLISHED and again.remote == ("10.0.0.1", 5000)
    assert sq.gt(again.status.iss, old_max)              # RFC 1122 §4.2.2.13 (1)
    events = [e for e in iter(b.next_event, None) if getattr(e, "sid", None) == served]
    closing = [e for e in events if isinstance(e, StateChanged) and e.new is S.CLOSED]
    assert len(closing) == 1 and "RFC 6191" in closing[0].cause
    # the old socket saw the SYN that ended it, just before it closed
    before = events[events.index(closing[0]) - 1]
    assert isinstance(before, SegmentReceived) and before.segment.flags == SYN


# ---------------------------------------------------------------- R1 and R2
def _timeouts_until_closed(h: Harness) -> list[list[DeliveryTrouble]]:
    """Fire the retransmission timer until the connection gives up: the soft errors of
    each firing."""
    seen = []
    while h.state is not S.CLOSED:
        seen.append(h.fire().of(DeliveryTrouble))
    return seen


@pytest.mark.parametrize(("what", "setup"), [
    ("SYN", lambda h: h.syn_sent()),
    ("SYN,ACK", lambda h: h.syn_received()),
    ("data", lambda h: (h.established(), h.call("send", b"abc"))),
    ("FIN", lambda h: (h.established(), h.call("close"))),
])
def test_r1_reports_delivery_trouble_once_and_r2_closes(what: str, setup: Any) -> None:
    """MUST-20, MUST-22, SHLD-9, SHLD-10 (RFC 9293 §3.8.3): at R1 (3 retransmissions by
    default) the application hears of the trouble once, for SYNs too; at R2 it ends."""
    h = Harness(config=plain(retries=6, syn_retries=6))
    setup(h)
    seen = _timeouts_until_closed(h)
    assert [len(e) for e in seen] == [0, 0, 1, 0, 0, 0, 0]   # 3rd timeout; gone at the 7th
    assert seen[2] == [DeliveryTrouble(3, what)]
    assert h.conn.error == errno.ETIMEDOUT


def test_r1_is_configurable_and_at_least_one() -> None:
    """SHLD-10 (RFC 9293 §3.8.3): R1 is a setting; 3 by default, never below one."""
    assert Config().r1 == 3
    h = Harness(config=plain(r1=1, retries=2))
    h.established()
    h.call("send", b"abc")
    assert [len(e) for e in _timeouts_until_closed(h)] == [1, 0, 0]
    with pytest.raises(ValueError, match="r1"):
        plain(r1=0).validate()
    h = Harness(config=plain(retries=2))                 # R2 below R1: told at R2's eve
    h.established()
    h.call("send", b"abc")
    assert [len(e) for e in _timeouts_until_closed(h)] == [0, 1, 0]


def test_at_r1_the_host_asks_arp_again_and_tells_the_application() -> None:
    """MUST-20 (negative advice to IP), MUST-47, SHLD-9 (RFC 9293 §3.8.3, §3.9.1.8): the
    host turns R1 into a soft error event and re-resolves the next hop."""
    host = Host("a", rng=random.Random(3), config=Config(rto_initial=1.0))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    sid = host.connect("10.0.0.2", 80, 0.0)
    assert len(_wire(host, 0.0)) == 1                    # ARP answered, the SYN went
    arp_requests = []
    now = 0.0
    for _ in range(3):                                   # three timeouts: 1, 2, 4 s
        now = host.get_timer() or now
        host.handle_timer(now)
        frames = host.frames_to_send()
        arp_requests.append(sum(f[12:14] == b"\x08\x06" for _, f in frames))
        _answer_arp(host, frames, now)
    assert arp_requests == [0, 0, 1]                     # only after R1: ARP again
    soft = [e for e in iter(host.next_event, None) if isinstance(e, SoftError)]
    assert [(e.sid, e.retransmissions) for e in soft] == [(sid, 3)]
    assert "SYN" in soft[0].reason and "R1" in soft[0].reason
    assert host.socket(sid).state is S.SYN_SENT          # the connection goes on


def _answer_arp(host: Host, frames: list[tuple[str, bytes]], now: float) -> None:
    for ifname, frame in frames:
        if frame[12:14] != b"\x08\x06":
            continue
        arp = parse_arp(frame[ethernet.ETH_HEADER_LEN:])
        assert not isinstance(arp, str)
        reply = build_arp(OP_REPLY, MAC_PEER, arp.tpa, arp.sha, arp.spa)
        host.receive_frame(ifname, ethernet.build(arp.sha, MAC_PEER, ethernet.ETHERTYPE_ARP,
                                                  reply), now)


# ---------------------------------------------------------------- shrinking peer window
def test_shrunk_window_stops_new_data_but_in_window_data_is_retransmitted() -> None:
    """MUST-34, SHLD-15, SHLD-16 (RFC 9293 §3.8.6): robust against a shrunk peer window."""
    h = make(S.ESTABLISHED)
    out = h.call("send", b"x" * 20 * MSS)
    assert len(out.segs) == 10                            # cwnd-limited; 10 more wait
    # the peer ACKs one segment and moves its right edge left, below SND.NXT: cwnd would
    # let two more segments go, but the usable window is negative
    h.send(ACK, h.r(1), h.l(1 + MSS), window=2 * MSS).nothing()
    h.send(ACK, h.r(1), h.l(1 + 3 * MSS), window=2 * MSS).nothing()
    assert h.state is S.ESTABLISHED
    out = h.fire()                                        # RTO: the oldest, inside the window
    assert [(s.seq, len(s.payload)) for s in out.segs] == [(h.l(1 + 3 * MSS), MSS)]
    out = h.send(ACK, h.r(1), h.l(1 + 4 * MSS), window=2 * MSS)
    # go back N, as usual, within SND.UNA..SND.UNA+SND.WND (cwnd is 2 segments now)
    assert [(s.seq, len(s.payload)) for s in out.segs] == [(h.l(1 + 4 * MSS), MSS),
                                                           (h.l(1 + 5 * MSS), MSS)]
    assert [e.seq for e in out.of(Retransmitted)] == [h.l(1 + 4 * MSS), h.l(1 + 5 * MSS)]
    # once the peer has everything and opens up again, new data follows
    out = h.send(ACK, h.r(1), h.l(1 + 10 * MSS), window=65535)
    assert [s.seq for s in out.segs] == [h.l(1 + k * MSS) for k in (10, 11, 12)]
    assert out.of(Retransmitted) == []


# ---------------------------------------------------------------- receive window
def test_receiver_sws_avoidance_keeps_the_right_edge_until_it_can_move_far() -> None:
    """MUST-39 (RFC 9293 §3.8.6.2.2): the window opens only by min(RCV.BUFF/2, Eff.snd.MSS)."""
    h = Harness(config=plain(rcvbuf=4000))
    h.established(active=False)
    out = h.send(ACK, h.r(1), h.l(1), b"a" * 1000)
    check(out.only(), ACK, h.l(1), h.r(1001), window=3000)
    h.call("recv", 1000).nothing()                        # 1000 bytes free: too little to tell
    out = h.send(ACK, h.r(1001), h.l(1), b"b" * 1000)
    # 2000 free would move the edge 1000 right (< 1460): it stays at r(1)+4000
    check(out.only(), ACK, h.l(1), h.r(2001), window=2000)
    out = h.call("recv", 1000)                            # now 2000 >= 1460: open it
    check(out.only(), ACK, h.l(1), h.r(2001), window=4000)


def test_receive_window_may_stay_closed_indefinitely() -> None:
    """MAY-8 (RFC 9293 §3.8.6.1): a full receiver answers probes with a zero window for hours."""
    h = Harness(config=plain(rcvbuf=2000))
    h.established(active=False)
    h.send(ACK, h.r(1), h.l(1), b"a" * 1460)
    out = h.send(ACK, h.r(1461), h.l(1), b"b" * 540)
    check(out.only(), ACK, h.l(1), h.r(2001), window=0)
    for t in (1.0, 60.0, 3600.0, 7 * 3600.0):
        out = h.at(t).send(ACK, h.r(2001), h.l(1), b"c")  # the peer's window probe
        check(out.only(), ACK, h.l(1), h.r(2001), window=0)
        assert h.conn.get_timer() is None                 # nothing of ours gives up
    assert h.state is S.ESTABLISHED
    assert h.conn.readable == 2000


def test_a_rst_carrying_data_resets_also_at_a_zero_window() -> None:
    """SHLD-2 (RFC 9293 §3.5.3, §3.10.7.4): a RST with data (a diagnostic) is a RST; its
    sequence number alone decides, so it is acceptable at a zero window too."""
    for zero_window in (False, True):
        h = Harness(config=plain(rcvbuf=1460))
        h.established(active=False)
        if zero_window:
            out = h.send(ACK, h.r(1), h.l(1), b"a" * 1460)
            check(out.only(), ACK, h.l(1), h.r(1461), window=0)
        at = h.r(1461) if zero_window else h.r(1)
        out = h.send(RST | ACK, at, h.l(1), b"connection refused by policy")
        assert out.segs == [] and h.state is S.CLOSED


# ---------------------------------------------------------------- hosts: addresses, ICMP
def _wire(host: Host, now: float) -> list[tuple[str, ipv4.Ipv4Header, Segment]]:
    """Drain ``host``'s frames, answering each ARP request as if its target existed;
    return the TCP packets sent as (interface, IP header, segment)."""
    sent: list[tuple[str, ipv4.Ipv4Header, Segment]] = []
    while frames := host.frames_to_send():
        for ifname, frame in frames:
            head = ethernet.parse(frame)
            assert not isinstance(head, str)
            body = frame[ethernet.ETH_HEADER_LEN:]
            if head[2] == ethernet.ETHERTYPE_ARP:
                arp = parse_arp(body)
                assert not isinstance(arp, str) and arp.op == OP_REQUEST
                reply = build_arp(OP_REPLY, MAC_PEER, arp.tpa, arp.sha, arp.spa)
                host.receive_frame(ifname, ethernet.build(arp.sha, MAC_PEER,
                                                          ethernet.ETHERTYPE_ARP, reply), now)
                continue
            ip = ipv4.parse(body)
            assert isinstance(ip, ipv4.Ipv4Header) and ip.proto == ipv4.PROTO_TCP
            seg = decode(body[ip.header_len:ip.total_len], ip.src, ip.dst)
            assert isinstance(seg, Segment)
            sent.append((ifname, ip, seg))
    return sent


def _inject(host: Host, ifname: str, src: str, dst: str, proto: int, payload: bytes,
            now: float, mac: bytes = MAC_A) -> None:
    packet = ipv4.build(ip_to_bytes(src), ip_to_bytes(dst), proto, payload, 7, df=False)
    host.receive_frame(ifname, ethernet.build(mac, MAC_PEER, ethernet.ETHERTYPE_IPV4, packet),
                       now)


def _tcp(src: str, dst: str, seg: Segment) -> bytes:
    return encode(seg, ip_to_bytes(src), ip_to_bytes(dst))


def _multihomed() -> Host:
    host = Host("a", rng=random.Random(3))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    host.add_interface("eth1", "02:00:00:00:01:01", "10.0.1.1", 24)
    return host


def test_ip_picks_the_local_address_of_an_active_open() -> None:
    """MUST-44 (RFC 9293 §3.9.1.1): no local address given: IP's route picks it before the SYN."""
    host = _multihomed()
    host.gateway = "10.0.1.254"
    for dst, ifname, src in (("10.0.0.9", "eth0", "10.0.0.1"), ("10.0.1.9", "eth1", "10.0.1.1"),
                             ("192.168.7.7", "eth1", "10.0.1.1")):
        host.connect(dst, 80, 0.0)
        [(out_if, ip, seg)] = _wire(host, 0.0)
        assert seg.flags == SYN
        assert (out_if, ip.src, ip.dst) == (ifname, ip_to_bytes(src), ip_to_bytes(dst))


def test_a_connection_keeps_its_local_address() -> None:
    """MUST-45 (RFC 9293 §3.9.1.1): once a segment went or came, the local address stays."""
    host = _multihomed()
    host.gateway = "10.0.0.254"
    host.connect("192.168.5.5", 80, 0.0)
    [(out_if, ip, _)] = _wire(host, 0.0)
    assert (out_if, ip.src) == ("eth0", ip_to_bytes("10.0.0.1"))
    host.add_interface("eth2", "02:00:00:00:02:01", "192.168.5.1", 24)  # a better route
    host.handle_timer(1.0)                                 # the SYN is retransmitted
    [(out_if, ip, seg)] = _wire(host, 1.0)
    assert seg.flags == SYN
    assert (out_if, ip.src) == ("eth2", ip_to_bytes("10.0.0.1"))
    # passive: the address the SYN was sent to, even when it came in on another interface
    host.listen(80, now=1.0)
    _inject(host, "eth0", "10.0.0.9", "10.0.1.1", ipv4.PROTO_TCP,
            _tcp("10.0.0.9", "10.0.1.1", Segment(4000, 80, 1, 0, SYN, 100, (Mss(1460),))), 1.0)
    [(_, ip, seg)] = _wire(host, 1.0)
    assert seg.flags == SYN | ACK and ip.src == ip_to_bytes("10.0.1.1")


@pytest.mark.parametrize(("dst", "mac"), [
    ("255.255.255.255", ethernet.BROADCAST),
    ("10.0.0.255", ethernet.BROADCAST),
    ("224.0.0.1", bytes.fromhex("01005e000001")),
    ("224.0.0.1", MAC_A),
])
def test_syn_to_broadcast_or_multicast_is_silently_discarded(dst: str, mac: bytes) -> None:
    """MUST-57 (RFC 9293 §3.9.2.3): a SYN to a broadcast or multicast address is dropped."""
    host = Host("a", rng=random.Random(3))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    host.listen(80)
    syn = Segment(4000, 80, 1, 0, SYN, 100, (Mss(1460),))
    _inject(host, "eth0", "10.0.0.9", dst, ipv4.PROTO_TCP, _tcp("10.0.0.9", dst, syn), 0.0,
            mac=mac)
    assert host.frames_to_send() == []
    assert [s.kind for s in host.sockets()] == ["listener"]


@pytest.mark.parametrize("src", ["255.255.255.255", "10.0.0.255", "224.0.0.1", "0.0.0.0",
                                 "127.0.0.1", "240.0.0.1"])
def test_syn_from_an_invalid_source_is_ignored(src: str) -> None:
    """MUST-63 (RFC 9293 §3.9.2.3, RFC 1122 §3.2.1.3): no peer can have such an address."""
    host = Host("a", rng=random.Random(3))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    host.listen(80)
    syn = Segment(4000, 80, 1, 0, SYN, 100, (Mss(1460),))
    _inject(host, "eth0", src, "10.0.0.1", ipv4.PROTO_TCP, _tcp(src, "10.0.0.1", syn), 0.0)
    assert host.frames_to_send() == []
    assert [s.kind for s in host.sockets()] == ["listener"]
    assert host.drops["bad source address"] == 1
    # the same SYN from an ordinary address opens a connection
    _inject(host, "eth0", "10.0.0.9", "10.0.0.1", ipv4.PROTO_TCP,
            _tcp("10.0.0.9", "10.0.0.1", syn), 0.0)
    assert [s.kind for s in host.sockets()] == ["listener", "connection"]


@pytest.mark.parametrize("dst", ["255.255.255.255", "10.0.0.255", "224.0.0.1", "0.0.0.0",
                                 "239.1.2.3"])
def test_open_to_a_broadcast_or_multicast_address_is_refused(dst: str) -> None:
    """MUST-46 (RFC 9293 §3.9.1.1): an active OPEN names one remote host."""
    host = Host("a", rng=random.Random(3))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    with pytest.raises(HostError) as err:
        host.connect(dst, 80, 0.0)
    assert err.value.errno == errno.ENETUNREACH and dst in str(err.value)
    assert host.sockets() == [] and host.frames_to_send() == []
    host.connect("10.0.0.254", 80, 0.0)        # the highest host of the /24 is fine
    assert len(host.sockets()) == 1


def test_listen_on_a_port_whose_active_open_is_still_opening() -> None:
    """MUST-42 (RFC 9293 §3.9.1.1): a LISTEN while a connection with that local port is in
    SYN-SENT (or SYN-RECEIVED) is allowed and leaves that connection alone."""
    host = Host("a", rng=random.Random(3))
    host.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    sid = host.connect("10.0.0.9", 80, 0.0, lport=8080)
    assert host.socket(sid).state is S.SYN_SENT
    lst = host.listen(8080, now=0.1)
    assert host.socket(sid).state is S.SYN_SENT and host.socket(lst).state is S.LISTEN
    host.close(lst, 0.2)
    # simultaneous open: the peer's SYN crosses ours, the connection is in SYN-RECEIVED
    syn = Segment(80, 8080, 1000, 0, SYN, 1000, (Mss(1460),))
    _inject(host, "eth0", "10.0.0.9", "10.0.0.1", ipv4.PROTO_TCP,
            _tcp("10.0.0.9", "10.0.0.1", syn), 0.3)
    assert host.socket(sid).state is S.SYN_RECEIVED
    lst = host.listen(8080, now=0.4)
    assert host.socket(sid).state is S.SYN_RECEIVED and host.socket(lst).state is S.LISTEN
    # once that connection is synchronized, the port is in use for a LISTEN
    a, _b, active, _child, _last = _established_pair()
    port = a.socket(active).local[1]
    with pytest.raises(HostError) as err:
        a.listen(port, now=1.0)
    assert err.value.errno == errno.EADDRINUSE


def _established_pair() -> tuple[Host, Host, int, int, bytes]:
    """Two hosts on one wire with an established connection; also an IP packet a sent."""
    rng = random.Random(5)
    a, b = Host("a", rng=rng), Host("b", rng=rng)
    a.add_interface("eth0", MAC_A, "10.0.0.1", 24)
    b.add_interface("eth0", MAC_PEER, "10.0.0.2", 24)
    b.listen(80, now=0.0)
    sid = a.connect("10.0.0.2", 80, 0.0)
    last = _settle(a, b, 0.0)
    [child] = [s.id for s in b.sockets() if s.kind == "connection"]
    assert a.socket(sid).state is S.ESTABLISHED and last
    return a, b, sid, child, last


def _settle(a: Host, b: Host, now: float) -> bytes:
    """Deliver frames both ways until quiet; the last IP packet ``a`` sent."""
    last = b""
    while True:
        moved = False
        for src, dst in ((a, b), (b, a)):
            for _, frame in src.frames_to_send():
                moved = True
                if src is a and frame[12:14] == b"\x08\x00":
                    last = frame[ethernet.ETH_HEADER_LEN:]
                dst.receive_frame("eth0", frame, now)
        if not moved:
            return last


def _icmp(icmp_type: int, code: int, quoted: bytes) -> bytes:
    body = bytes([icmp_type, code, 0, 0]) + bytes(4) + quoted[:28]
    return body[:2] + internet_checksum(body).to_bytes(2, "big") + body[4:]


@pytest.mark.parametrize(("icmp_type", "code"), [
    (4, 0),                       # Source Quench: MUST-55
    (3, 0), (3, 1), (3, 5),       # Destination Unreachable, soft codes: MUST-56
    (11, 0), (11, 1),             # Time Exceeded
    (12, 0),                      # Parameter Problem
])
def test_source_quench_and_soft_icmp_errors_leave_the_connection_alone(
        icmp_type: int, code: int) -> None:
    """MUST-55, MUST-56 (RFC 9293 §3.9.2.2): Source Quench ignored; soft errors never abort."""
    a, b, sid, child, last = _established_pair()
    cwnd = a.socket(sid).status.cwnd
    _inject(a, "eth0", "10.0.0.254", "10.0.0.1", ipv4.PROTO_ICMP,
            _icmp(icmp_type, code, last), 1.0)
    assert a.frames_to_send() == []                       # silent
    info = a.socket(sid)
    assert (info.state, info.status.cwnd, info.status.error) == (S.ESTABLISHED, cwnd, None)
    a.send(sid, b"still here", 1.0)
    _settle(a, b, 1.0)
    assert b.socket(child).bytes_delivered == len(b"still here")
