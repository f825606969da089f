"""The urgent mechanism (RFC 9293 §3.8.5, §3.10.7.4 sixth step; RFC 6093): sending
marks SND.UP and every segment below it carries URG; receiving moves RCV.UP, tells the
application once per run and counts what is left to read; the data stays in order."""

from __future__ import annotations

from dataclasses import replace

from fixtures import ACK, PSH, Harness, check, make, plain

from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.segment import URG, Segment
from tcplab.tcp.states import State

S = State


# ---------------------------------------------------------------- sending
def test_urgent_send_sets_urg_and_points_after_the_last_urgent_octet() -> None:
    # MUST-30, MUST-62: SEG.UP = SND.UP - SEG.SEQ, the octet just after the urgent data
    h = make(S.ESTABLISHED)
    out = h.step(lambda: h.conn.send(b"abc", h.now, urgent=True))
    seg = out.only()
    check(seg, ACK | PSH | URG, h.l(1), h.r(1), b"abc")
    assert seg.urgent == 3
    assert out.result == 3


def test_urgent_mode_ends_when_the_urgent_data_is_acknowledged() -> None:
    h = make(S.ESTABLISHED)
    h.step(lambda: h.conn.send(b"abc", h.now, urgent=True))
    h.send(ACK, h.r(1), h.l(4))
    out = h.call("send", b"plain")
    seg = out.only()
    assert not seg.flags & URG and seg.urgent == 0


def test_nagle_does_not_hold_back_urgent_data() -> None:
    h = make(S.ESTABLISHED, config=plain(nagle=True))
    h.call("send", b"a").only()        # one small segment in flight ...
    h.call("send", b"b").nothing()     # ... so Nagle holds the next small one
    seg = h.step(lambda: h.conn.send(b"!", h.now, urgent=True)).only()
    check(seg, ACK | PSH | URG, h.l(2), h.r(1), b"b!")
    assert seg.urgent == 2


def _pair(cfg: Config) -> tuple[Connection, Connection, list[tuple[Connection, Segment]]]:
    a = Connection(("10.0.0.1", 1000), cfg)
    listener = Connection(("10.0.0.2", 2000), replace(cfg))
    listener.listen(0.0)
    b = listener.spawn(("10.0.0.1", 1000))
    a.connect(("10.0.0.2", 2000), 0.0)
    wire = [(b, s) for s in a.segments_to_send()]
    _run(a, b, wire, 0.0)
    assert (a.state, b.state) == (S.ESTABLISHED, S.ESTABLISHED)
    return a, b, wire


def _run(a: Connection, b: Connection, wire: list[tuple[Connection, Segment]],
         now: float) -> list[Segment]:
    """Deliver everything at ``now`` (at most 10,000 segments); what went a -> b."""
    seen: list[Segment] = []
    for _ in range(10_000):
        if not wire:
            break
        dst, seg = wire.pop(0)
        if dst is b:
            seen.append(seg)
        dst.receive(seg, now)
        other = a if dst is b else b
        wire.extend((other, s) for s in dst.segments_to_send())
    return seen


def test_a_run_of_urgent_data_longer_than_the_pointer_reaches() -> None:
    # MUST-31: 200,000 urgent octets.  Segments more than 64 KiB below the mark say
    # 0xFFFF; as the data flows the pointer advances and reaches the exact end.
    a, b, wire = _pair(Config(delayed_ack=0.0))
    data = bytes(range(256)) * 800
    assert a.send(data[:200_000], 0.0, urgent=True) == 200_000
    received = bytearray()
    now = 0.0
    seen: list[Segment] = []
    while len(received) < 200_000 and now < 60:
        wire.extend((b, s) for s in a.segments_to_send())
        seen += _run(a, b, wire, now)
        received += b.recv(1 << 20, now)
        wire.extend((a, s) for s in b.segments_to_send())
        _run(a, b, wire, now)
        now += 0.05
        deadline = a.get_timer()
        if deadline is not None and deadline <= now:
            a.handle_timer(now)
    assert bytes(received) == data[:200_000]  # in order, nothing taken out of the stream
    assert all(s.flags & URG for s in seen if s.payload)
    assert {s.urgent for s in seen[:3] if s.payload} == {0xFFFF}
    assert b.rcv_up == (a.iss + 200_001) & 0xFFFFFFFF
    assert b.urgent_signals == 1
    assert b.urgent_pending == 0


# ---------------------------------------------------------------- receiving
def test_urgent_data_is_signalled_once_and_counted_until_read() -> None:
    # MUST-32 (the application hears of it), MUST-33 (how much is left to read)
    h = make(S.ESTABLISHED)
    h.deliver(Segment(5000, 4000, h.r(1), h.l(1), ACK | PSH | URG, 65535, (), b"ab!", 3))
    assert (h.conn.urgent_signals, h.conn.urgent_pending) == (1, 3)
    assert h.conn.status().urgent_pending == 3
    assert h.call("recv", 2).result == b"ab"
    assert h.conn.urgent_pending == 1
    # the same run again (a retransmission, or more urgent data before it is read):
    # no second signal
    h.deliver(Segment(5000, 4000, h.r(4), h.l(1), ACK | PSH | URG, 65535, (), b"?", 1))
    assert h.conn.urgent_signals == 1 and h.conn.urgent_pending == 2
    assert h.call("recv", 10).result == b"!?"
    assert h.conn.urgent_pending == 0
    # a new run after the old one was read: a new signal
    h.deliver(Segment(5000, 4000, h.r(5), h.l(1), ACK | PSH | URG, 65535, (), b"x", 1))
    assert (h.conn.urgent_signals, h.conn.urgent_pending) == (2, 1)


def test_urgent_pointer_ahead_of_the_data_counts_what_is_still_to_come() -> None:
    h = make(S.ESTABLISHED)
    h.deliver(Segment(5000, 4000, h.r(1), h.l(1), ACK | URG, 65535, (), b"", 500))
    assert h.conn.urgent_pending == 500 and h.conn.urgent_signals == 1


def test_urg_is_processed_at_a_zero_window() -> None:
    # MUST-66: RST and URG are processed even when the receive window is zero
    h = Harness(config=plain(rcvbuf=1000))
    h.established(active=False)
    h.send(ACK | PSH, h.r(1), h.l(1), b"x" * 1000)
    assert h.conn.rcv_window() == 0
    out = h.deliver(Segment(5000, 4000, h.r(1001), h.l(1), ACK | PSH | URG, 65535, (),
                            b"!", 1))
    check(out.only(), ACK, h.l(1), h.r(1001))  # the octet itself is not taken ...
    assert h.conn.urgent_signals == 1          # ... but the urgent pointer is
    assert h.conn.urgent_pending == 1001


def test_urg_after_the_peers_fin_is_ignored() -> None:
    # §3.10.7.4 sixth step, CLOSE-WAIT and later: "This should not occur ... ignore"
    h = make(S.CLOSE_WAIT)
    h.deliver(Segment(5000, 4000, h.r(2), h.l(1), ACK | URG, 65535, (), b"", 10))
    assert h.conn.urgent_signals == 0 and h.conn.urgent_pending == 0
