"""The eleven TCP states and the one table of moves between them.

Theory of operation
-------------------
:data:`TRANSITIONS` lists every (state, trigger) pair the engine may take, the
state it leads to and what is sent on the way.  It is *the* description of the
state machine:

* every connection starts in :data:`START` (CLOSED) and its state then moves only
  through :meth:`tcplab.tcp.tcb.Tcb.goto`, which refuses any move that is not a
  row here (an undeclared move is a bug and raises :class:`UndeclaredMove`); outside
  code reads ``Connection.state`` but cannot assign it;
* the tests check every row is exercised and that what the row says is sent, is sent;
* the docs and the dashboard draw the diagram from it.

Rows follow RFC 9293 §3.10 event processing.  Where a segment carries two events
(an ACK of our FIN *and* a FIN, or an ACK of our SYN and a FIN) the RFC processes the
ACK first and the FIN after it (§3.10.7.4, steps six and eight), so the table has two
rows and the engine reports two changes, each with its own trigger.

A listening socket never leaves LISTEN: like BSD and Linux, each arriving SYN gets
a child connection of its own that starts in LISTEN and moves to SYN-RECEIVED.
When such a child is reset, RFC 9293 says "return to LISTEN"; here the child goes
to CLOSED and the listener, which never left LISTEN, keeps listening -- the same
thing seen from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    """The eleven TCP states (RFC 9293 §3.3.2); values are the RFC's names."""
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"


# RFC 9293 §3.3.2, in our own words.
MEANINGS: dict[State, str] = {
    State.CLOSED: "No connection: nothing is remembered about it.",
    State.LISTEN: "Waiting for a SYN from any remote host on this port.",
    State.SYN_SENT: "We sent a SYN and wait for the peer's SYN and its ACK of ours.",
    State.SYN_RECEIVED: "We got a SYN and answered SYN,ACK; waiting for the ACK of our SYN.",
    State.ESTABLISHED: "Open both ways: data flows in each direction.",
    State.FIN_WAIT_1: "We closed (sent FIN); waiting for its ACK or the peer's FIN.",
    State.FIN_WAIT_2: "Our FIN is acknowledged; waiting for the peer to close its side.",
    State.CLOSE_WAIT: "The peer closed its side; we may still send until our app closes.",
    State.CLOSING: "Both sent FIN at once; waiting for the ACK of ours.",
    State.LAST_ACK: "The peer closed first, then we did; waiting for the ACK of our FIN.",
    State.TIME_WAIT: "Both sides closed; lingering 2*MSL so the last ACK can be resent "
                     "and old segments die out.",
}

# RFC 9293 §3.3.2: CLOSED is where every connection starts ("no TCB at all")
START = State.CLOSED

SYNCHRONIZED = frozenset({
    State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSE_WAIT,
    State.CLOSING, State.LAST_ACK, State.TIME_WAIT,
})


class Trigger(StrEnum):
    """What moves a connection: a user call, an arriving segment or a timer."""

    PASSIVE_OPEN = "passive OPEN"
    ACTIVE_OPEN = "active OPEN"
    CLOSE = "CLOSE"
    ABORT = "ABORT"
    RCV_SYN = "rcv SYN"
    RCV_SYN_ACK = "rcv SYN,ACK"
    RCV_ACK_OF_SYN = "rcv ACK of SYN"
    RCV_FIN = "rcv FIN"
    RCV_ACK_OF_FIN = "rcv ACK of FIN"
    RCV_RST = "rcv RST"
    RCV_DATA_AFTER_CLOSE = "rcv data after close"
    RCV_ICMP = "rcv ICMP error"
    TIMEOUT = "timeout"
    TIME_WAIT_TIMEOUT = "2MSL timeout"
    KEEPALIVE_TIMEOUT = "keep-alive timeout"
    # a kernel host: Linux's TCP moved the socket; tcplab sees the move, not its cause
    LINUX = "linux"


class Sends(StrEnum):
    """What a move sends: the flags of its segment (FIN rides with an ACK), or nothing."""

    NOTHING = ""
    SYN = "SYN"
    SYN_ACK = "SYN,ACK"
    ACK = "ACK"
    FIN = "FIN"
    RST = "RST"


@dataclass(frozen=True, slots=True)
class Transition:
    """One declared move: from ``state`` on ``trigger`` to ``next``, sending ``sends``."""

    state: State
    trigger: Trigger
    next: State
    sends: Sends
    note: str = ""


S, T, X = State, Trigger, Sends

TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.CLOSED, T.PASSIVE_OPEN, S.LISTEN, X.NOTHING),
    Transition(S.CLOSED, T.ACTIVE_OPEN, S.SYN_SENT, X.SYN),
    Transition(S.LISTEN, T.RCV_SYN, S.SYN_RECEIVED, X.SYN_ACK,
               "a child connection is made; the listener stays in LISTEN"),
    Transition(S.LISTEN, T.CLOSE, S.CLOSED, X.NOTHING),
    Transition(S.LISTEN, T.ABORT, S.CLOSED, X.NOTHING),
    Transition(S.SYN_SENT, T.RCV_SYN_ACK, S.ESTABLISHED, X.ACK),
    Transition(S.SYN_SENT, T.RCV_SYN, S.SYN_RECEIVED, X.SYN_ACK, "simultaneous open"),
    Transition(S.SYN_SENT, T.RCV_RST, S.CLOSED, X.NOTHING, "connection refused"),
    Transition(S.SYN_SENT, T.CLOSE, S.CLOSED, X.NOTHING),
    Transition(S.SYN_SENT, T.ABORT, S.CLOSED, X.NOTHING),
    Transition(S.SYN_SENT, T.TIMEOUT, S.CLOSED, X.NOTHING, "SYN retransmissions gave up"),
    Transition(S.SYN_SENT, T.RCV_ICMP, S.CLOSED, X.NOTHING,
               "a hard error: protocol or port unreachable, or fragmentation needed"),
    Transition(S.SYN_RECEIVED, T.RCV_ACK_OF_SYN, S.ESTABLISHED, X.NOTHING),
    Transition(S.SYN_RECEIVED, T.CLOSE, S.FIN_WAIT_1, X.FIN),
    Transition(S.SYN_RECEIVED, T.RCV_RST, S.CLOSED, X.NOTHING,
               "passive: the listener keeps listening; active: connection refused"),
    Transition(S.SYN_RECEIVED, T.RCV_SYN, S.CLOSED, X.NOTHING,
               "passive: back to LISTEN -- the listener keeps listening (§3.10.7.4)"),
    Transition(S.SYN_RECEIVED, T.ABORT, S.CLOSED, X.RST),
    Transition(S.SYN_RECEIVED, T.TIMEOUT, S.CLOSED, X.NOTHING, "SYN,ACK retransmissions gave up"),
    Transition(S.SYN_RECEIVED, T.RCV_ICMP, S.CLOSED, X.NOTHING,
               "a hard error: protocol or port unreachable, or fragmentation needed"),
    Transition(S.ESTABLISHED, T.CLOSE, S.FIN_WAIT_1, X.FIN),
    Transition(S.ESTABLISHED, T.RCV_FIN, S.CLOSE_WAIT, X.ACK),
    Transition(S.ESTABLISHED, T.RCV_RST, S.CLOSED, X.NOTHING, "connection reset"),
    Transition(S.ESTABLISHED, T.ABORT, S.CLOSED, X.RST),
    Transition(S.ESTABLISHED, T.TIMEOUT, S.CLOSED, X.NOTHING, "retransmissions gave up"),
    Transition(S.ESTABLISHED, T.KEEPALIVE_TIMEOUT, S.CLOSED, X.RST,
               "keep-alive probes unanswered"),
    Transition(S.FIN_WAIT_1, T.RCV_ACK_OF_FIN, S.FIN_WAIT_2, X.NOTHING),
    Transition(S.FIN_WAIT_1, T.RCV_FIN, S.CLOSING, X.ACK, "simultaneous close"),
    Transition(S.FIN_WAIT_1, T.RCV_RST, S.CLOSED, X.NOTHING, "connection reset"),
    Transition(S.FIN_WAIT_1, T.ABORT, S.CLOSED, X.RST),
    Transition(S.FIN_WAIT_1, T.TIMEOUT, S.CLOSED, X.NOTHING, "FIN retransmissions gave up"),
    Transition(S.FIN_WAIT_1, T.RCV_DATA_AFTER_CLOSE, S.CLOSED, X.RST,
               "nobody will read it (RFC 1122 §4.2.2.13)"),
    Transition(S.FIN_WAIT_2, T.RCV_FIN, S.TIME_WAIT, X.ACK),
    Transition(S.FIN_WAIT_2, T.RCV_RST, S.CLOSED, X.NOTHING, "connection reset"),
    Transition(S.FIN_WAIT_2, T.ABORT, S.CLOSED, X.RST),
    Transition(S.FIN_WAIT_2, T.RCV_DATA_AFTER_CLOSE, S.CLOSED, X.RST,
               "nobody will read it (RFC 1122 §4.2.2.13)"),
    Transition(S.CLOSE_WAIT, T.CLOSE, S.LAST_ACK, X.FIN),
    Transition(S.CLOSE_WAIT, T.RCV_RST, S.CLOSED, X.NOTHING, "connection reset"),
    Transition(S.CLOSE_WAIT, T.ABORT, S.CLOSED, X.RST),
    Transition(S.CLOSE_WAIT, T.TIMEOUT, S.CLOSED, X.NOTHING, "retransmissions gave up"),
    Transition(S.CLOSE_WAIT, T.KEEPALIVE_TIMEOUT, S.CLOSED, X.RST,
               "keep-alive probes unanswered"),
    Transition(S.CLOSING, T.RCV_ACK_OF_FIN, S.TIME_WAIT, X.NOTHING),
    Transition(S.CLOSING, T.RCV_RST, S.CLOSED, X.NOTHING),
    Transition(S.CLOSING, T.ABORT, S.CLOSED, X.NOTHING),
    Transition(S.CLOSING, T.TIMEOUT, S.CLOSED, X.NOTHING, "FIN retransmissions gave up"),
    Transition(S.LAST_ACK, T.RCV_ACK_OF_FIN, S.CLOSED, X.NOTHING),
    Transition(S.LAST_ACK, T.RCV_RST, S.CLOSED, X.NOTHING),
    Transition(S.LAST_ACK, T.ABORT, S.CLOSED, X.NOTHING),
    Transition(S.LAST_ACK, T.TIMEOUT, S.CLOSED, X.NOTHING, "FIN retransmissions gave up"),
    Transition(S.TIME_WAIT, T.RCV_FIN, S.TIME_WAIT, X.ACK, "re-ACK, restart 2*MSL"),
    Transition(S.TIME_WAIT, T.TIME_WAIT_TIMEOUT, S.CLOSED, X.NOTHING),
    Transition(S.TIME_WAIT, T.RCV_SYN, S.CLOSED, X.NOTHING,
               "a newer SYN (RFC 6191): the listener takes it"),
    Transition(S.TIME_WAIT, T.RCV_RST, S.CLOSED, X.NOTHING),
    Transition(S.TIME_WAIT, T.ABORT, S.CLOSED, X.NOTHING),
)

class UndeclaredMove(AssertionError):
    """The engine tried a (state, trigger) move that :data:`TRANSITIONS` does not list:
    a bug in the engine or the table, never the peer's fault."""


TABLE: dict[tuple[State, Trigger], Transition] = {(t.state, t.trigger): t for t in TRANSITIONS}
assert len(TABLE) == len(TRANSITIONS), "duplicate row in TRANSITIONS"
