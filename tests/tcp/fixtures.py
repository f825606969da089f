"""A handcrafted peer for unit tests of the TCP engine, and builders for every state.

Theory of operation
-------------------
The connection under test ("us") is a real :class:`~tcplab.tcp.connection.Connection`;
the other end is not an engine but this harness, which writes each segment by hand, so
a test says exactly what arrives and then checks exactly what went out.  Every input
(a segment, a user call, a timer) is one *step*: the harness drains the segments and
events the step produced into an :class:`Out` and appends it to ``journal``, which the
table test reads to see which transitions happened and what each one sent.

Numbers are relative: ``h.l(n)`` is our ISS + n and ``h.r(n)`` the peer's ISS + n.
The peer's ISS sits 296 below 2**32, so most scenarios cross the wrap.

The builders (``syn_sent``, ``syn_received``, ``established`` ... ``time_wait``) drive
a fresh connection into a state through the public API only, asserting each step on
the way, so they double as tests of the normal paths.  By default the peer offers only
an MSS (no window scaling, SACK or timestamps) and the engine runs with
``delayed_ack=0`` and no timestamps: windows read 65535 and each segment is answered at
once.  Pass ``peer_options=FULL_OPTIONS`` and/or ``config=Config()`` for the defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.events import Event, StateChanged
from tcplab.tcp.segment import (
    ACK,
    FIN,
    NOP,
    PSH,
    RST,
    SACK_PERMITTED,
    SYN,
    Mss,
    Option,
    Segment,
    Timestamps,
    WScale,
    describe,
)
from tcplab.tcp.states import State, Trigger

LOCAL = ("10.0.0.1", 4000)
REMOTE = ("10.0.0.2", 5000)
PEER_ISS = 0xFFFFFED8  # 2**32 - 296: the peer's numbers wrap early in most tests
PEER_WINDOW = 65535
MSS_ONLY: tuple[Option, ...] = (Mss(1460),)
FULL_OPTIONS: tuple[Option, ...] = (Mss(1460), SACK_PERMITTED, Timestamps(0, 0), NOP, WScale(7))

E = TypeVar("E")


def plain(**changes: Any) -> Config:
    """Immediate ACKs and no timestamps: the simplest segments to assert on."""
    values: dict[str, Any] = {"delayed_ack": 0.0, "timestamps": False}
    values.update(changes)
    return Config(**values)


@dataclass
class Out:
    """What one step produced: the segments sent and the events raised."""

    segs: list[Segment]
    events: list[Event]
    result: Any = None

    def only(self) -> Segment:
        assert len(self.segs) == 1, f"expected one segment, got {self.show()}"
        return self.segs[0]

    def nothing(self) -> None:
        assert self.segs == [], f"expected nothing sent, got {self.show()}"

    def show(self) -> list[str]:
        return [describe(s) for s in self.segs]

    @property
    def changes(self) -> list[tuple[State, State, Trigger]]:
        return [(e.old, e.new, e.trigger) for e in self.events if isinstance(e, StateChanged)]

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]


def check(seg: Segment, flags: int, seq: int, ack: int | None = None, payload: bytes = b"",
          window: int | None = None) -> None:
    """Assert the header fields that matter (the ACK field only when ACK is set)."""
    text = describe(seg)
    assert seg.flags == flags, f"flags of {text}"
    assert seg.seq == seq, f"seq of {text}: want {seq}"
    if flags & ACK:
        assert ack is not None
        assert seg.ack == ack, f"ack of {text}: want {ack}"
    assert seg.payload == payload, f"payload of {text}"
    assert (seg.src_port, seg.dst_port) == (LOCAL[1], REMOTE[1])
    if window is not None:
        assert seg.window == window, f"window of {text}: want {window}"


@dataclass
class Harness:
    """One connection under test and the handcrafted peer talking to it."""

    config: Config = field(default_factory=plain)
    peer_options: tuple[Option, ...] = MSS_ONLY
    peer_iss: int = PEER_ISS
    now: float = 0.0
    journal: list[Out] = field(default_factory=list)
    listener: Connection | None = None

    def __post_init__(self) -> None:
        self.conn = Connection(LOCAL, self.config)
        self.peer_ts = any(isinstance(o, Timestamps) for o in self.peer_options)
        self.ts_echo = 0  # the last TSval we sent, echoed by the peer
        self.peer_shift = next((o.shift for o in self.peer_options if isinstance(o, WScale)), 0)

    # ------------------------------------------------------------------ numbers
    def l(self, n: int) -> int:  # noqa: E743 - "l"ocal and "r"emote read well in asserts
        return sq.add(self.conn.iss, n)

    def r(self, n: int) -> int:
        return sq.add(self.peer_iss, n)

    @property
    def state(self) -> State:
        return self.conn.state

    def peer_tsval(self) -> int:
        return 1000 + int(self.now * 1000)

    # ------------------------------------------------------------------ stepping
    def step(self, action: Callable[[], Any]) -> Out:
        result = action()
        out = Out(self.conn.segments_to_send(), [], result)
        while (ev := self.conn.next_event()) is not None:
            out.events.append(ev)
        for s in out.segs:
            ts = s.timestamps()
            if ts is not None:
                self.ts_echo = ts.val
        self.journal.append(out)
        return out

    def call(self, name: str, *args: Any) -> Out:
        """A user call: ``h.call("send", b"x")`` runs ``conn.send(b"x", now)``."""
        method = getattr(self.conn, name)
        return self.step(lambda: method(*args, self.now))

    def at(self, t: float) -> Harness:
        self.now = t
        return self

    def fire(self) -> Out:
        """Jump to the earliest timer and run it."""
        deadline = self.conn.get_timer()
        assert deadline is not None, "no timer armed"
        self.now = max(self.now, deadline)
        return self.step(lambda: self.conn.handle_timer(self.now))

    def deliver(self, seg: Segment) -> Out:
        return self.step(lambda: self.conn.receive(seg, self.now))

    def seg(self, flags: int, seq: int, ack: int = 0, payload: bytes = b"",
            window: int = PEER_WINDOW, options: tuple[Option, ...] | None = None) -> Segment:
        """A segment from the peer; timestamps are added when they were negotiated."""
        if options is None:
            options = ()
            if self.peer_ts and self.conn.ts_ok and not flags & SYN:
                options = (NOP, NOP, Timestamps(self.peer_tsval(), self.ts_echo))
        return Segment(REMOTE[1], LOCAL[1], seq, ack, flags, window, options, payload)

    def send(self, flags: int, seq: int, ack: int = 0, payload: bytes = b"",
             window: int = PEER_WINDOW, options: tuple[Option, ...] | None = None) -> Out:
        return self.deliver(self.seg(flags, seq, ack, payload, window, options))

    def syn_options(self) -> tuple[Option, ...]:
        return tuple(Timestamps(self.peer_tsval(), self.ts_echo) if isinstance(o, Timestamps)
                     else o for o in self.peer_options)

    # ------------------------------------------------------------------ builders
    def syn_sent(self) -> Out:
        out = self.call("connect", REMOTE)
        assert self.state is State.SYN_SENT
        check(out.only(), SYN, self.conn.iss, window=65535)
        return out

    def listen(self) -> Connection:
        """Make a listener and take its child for REMOTE as the connection under test."""
        self.listener = Connection(LOCAL, self.config)
        self.listener.listen(self.now)
        self.conn = self.listener.spawn(REMOTE)
        assert self.state is State.LISTEN
        return self.conn

    def syn_received(self, active: bool = False) -> Out:
        """Passive: a child gets the peer's SYN.  Active: simultaneous open."""
        if active:
            self.syn_sent()
        else:
            self.listen()
        out = self.send(SYN, self.r(0), options=self.syn_options())
        assert self.state is State.SYN_RECEIVED
        check(out.only(), SYN | ACK, self.l(0), self.r(1))
        return out

    def established(self, active: bool = True) -> Out:
        if active:
            self.syn_sent()
            self.now += 0.01
            out = self.send(SYN | ACK, self.r(0), self.l(1), options=self.syn_options())
            check(out.only(), ACK, self.l(1), self.r(1))
        else:
            self.syn_received()
            self.now += 0.01
            out = self.send(ACK, self.r(1), self.l(1))
            out.nothing()
        assert self.state is State.ESTABLISHED
        return out

    def fin_wait_1(self) -> Out:
        self.established()
        out = self.call("close")
        check(out.only(), FIN | ACK, self.l(1), self.r(1))
        assert self.state is State.FIN_WAIT_1
        return out

    def fin_wait_2(self) -> Out:
        self.fin_wait_1()
        out = self.send(ACK, self.r(1), self.l(2))
        out.nothing()
        assert self.state is State.FIN_WAIT_2
        return out

    def close_wait(self) -> Out:
        self.established()
        out = self.send(FIN | ACK, self.r(1), self.l(1))
        check(out.only(), ACK, self.l(1), self.r(2))
        assert self.state is State.CLOSE_WAIT
        return out

    def closing(self) -> Out:
        self.fin_wait_1()
        out = self.send(FIN | ACK, self.r(1), self.l(1))
        check(out.only(), ACK, self.l(2), self.r(2))
        assert self.state is State.CLOSING
        return out

    def last_ack(self) -> Out:
        self.close_wait()
        out = self.call("close")
        check(out.only(), FIN | ACK, self.l(1), self.r(2))
        assert self.state is State.LAST_ACK
        return out

    def time_wait(self) -> Out:
        self.fin_wait_2()
        out = self.send(FIN | ACK, self.r(1), self.l(2))
        check(out.only(), ACK, self.l(2), self.r(2))
        assert self.state is State.TIME_WAIT
        return out


BUILDERS: dict[State, Callable[[Harness], Any]] = {
    State.LISTEN: Harness.listen,
    State.SYN_SENT: Harness.syn_sent,
    State.SYN_RECEIVED: Harness.syn_received,
    State.ESTABLISHED: Harness.established,
    State.FIN_WAIT_1: Harness.fin_wait_1,
    State.FIN_WAIT_2: Harness.fin_wait_2,
    State.CLOSE_WAIT: Harness.close_wait,
    State.CLOSING: Harness.closing,
    State.LAST_ACK: Harness.last_ack,
    State.TIME_WAIT: Harness.time_wait,
}


def make(state: State, **kwargs: Any) -> Harness:
    """A fresh harness whose connection is in ``state`` with nothing left to drain."""
    h = Harness(**kwargs)
    if state is not State.CLOSED:
        BUILDERS[state](h)
    assert h.state is state
    return h


# Numbers a synchronized-state test needs: where the peer is, where we are.
SYNCHRONIZED_NUMBERS: dict[State, tuple[int, int]] = {
    # state: (peer's next seq offset from peer ISS, our SND.NXT offset from our ISS)
    State.ESTABLISHED: (1, 1),
    State.FIN_WAIT_1: (1, 2),
    State.FIN_WAIT_2: (1, 2),
    State.CLOSE_WAIT: (2, 1),
    State.CLOSING: (2, 2),
    State.LAST_ACK: (2, 2),
    State.TIME_WAIT: (2, 2),
}

__all__ = [
    "ACK", "BUILDERS", "FIN", "FULL_OPTIONS", "LOCAL", "MSS_ONLY", "PEER_ISS", "PSH", "REMOTE",
    "RST", "SYN", "SYNCHRONIZED_NUMBERS", "Harness", "Out", "check", "make", "plain",
]
