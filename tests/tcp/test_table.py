"""Every row of ``TRANSITIONS`` is taken by the engine, a move whose row is struck from
the table raises instead of being made, and each row's ``sends`` column is what the
engine really sends on that move.

A set of scenarios (built from the per-state fixtures) runs through the harness; every
step's StateChanged events and segments land in the harness journal.  A step with one
state change is checked strictly against its row: ``sends`` names the flags of the
first segment that step emitted ("FIN" only needs FIN set, since a FIN rides with an
ACK), or "" for a step that emitted nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fixtures import ACK, BUILDERS, FIN, PSH, REMOTE, RST, SYN, Harness, Out, make, plain

from tcplab.tcp.segment import Segment
from tcplab.tcp.states import (
    TABLE,
    TRANSITIONS,
    Sends,
    State,
    Transition,
    Trigger,
    UndeclaredMove,
)

S, T = State, Trigger
Scenario = Callable[[], Harness]
DECLARED = {(t.state, t.trigger) for t in TRANSITIONS}


def _open_passive() -> Harness:
    h = Harness()
    h.call("listen")
    return h


def _listener_call(call: str) -> Scenario:
    def run() -> Harness:
        h = _open_passive()
        h.call(call)
        return h
    return run


def _in(state: State, action: Callable[[Harness], object], **kwargs: object) -> Scenario:
    def run() -> Harness:
        h = make(state, **kwargs)  # type: ignore[arg-type]
        action(h)
        return h
    return run


def _rst(h: Harness) -> None:
    if h.state is S.SYN_SENT:
        h.send(RST | ACK, 0, h.l(1))
    else:
        h.send(RST, h.conn.rcv_nxt)


def _give_up(h: Harness) -> None:
    if h.state in (S.ESTABLISHED, S.CLOSE_WAIT):
        h.call("send", b"unacknowledged")
    while h.state is not S.CLOSED and h.conn.get_timer() is not None:
        h.fire()


def _fin_at_rcv_nxt(h: Harness) -> None:
    h.send(FIN | ACK, h.conn.rcv_nxt, h.conn.snd_una)


def _ack_all(h: Harness) -> None:
    h.send(ACK, h.conn.rcv_nxt, h.conn.snd_nxt)


def _fire(h: Harness) -> None:
    h.fire()


def _hard_icmp(h: Harness) -> None:
    out = h.step(lambda: h.conn.icmp_error(h.conn.snd_una, True, 111, "port unreachable"))
    assert out.result is True


def _keepalive_gives_up(h: Harness) -> None:
    h.conn.config.keepalive = True
    h.step(lambda: h.conn.settings_changed(h.now))
    while h.state is not S.CLOSED:
        h.fire()


def _newer_syn(h: Harness) -> None:
    syn = h.seg(SYN, (h.conn.rcv_nxt + 100_000) % 2**32, options=h.syn_options())
    out = h.step(lambda: h.conn.takes_new_syn(syn, True))
    assert out.result is True


def _call(name: str) -> Callable[[Harness], object]:
    return lambda h: h.call(name)


def _build(state: State, **kwargs: object) -> Scenario:
    return _in(state, lambda h: None, **kwargs)


def _active_established() -> Harness:
    h = Harness()
    h.established(active=True)
    return h


def _passive_established() -> Harness:
    h = Harness()
    h.established(active=False)
    return h


def _simultaneous_open() -> Harness:
    h = Harness()
    h.syn_received(active=True)
    h.send(SYN | ACK, h.r(0), h.l(1), options=h.syn_options())
    return h


def _fin_ack_in_fin_wait_1() -> Harness:
    h = make(S.FIN_WAIT_1)
    h.send(FIN | ACK, h.r(1), h.l(2))
    return h


def _data(h: Harness) -> None:
    h.send(ACK | PSH, h.conn.rcv_nxt, h.conn.snd_una, b"data")


def _in_window_syn(h: Harness) -> None:
    h.send(SYN, h.r(10), options=h.syn_options())


GIVE_UP = {"config": plain(retries=0, syn_retries=0)}

SCENARIOS: dict[str, Scenario] = {
    "passive open": _open_passive,
    "listen close": _listener_call("close"),
    "listen abort": _listener_call("abort"),
    "active handshake": _active_established,
    "passive handshake": _passive_established,
    "simultaneous open": _simultaneous_open,
    "fin+ack in fin-wait-1": _fin_ack_in_fin_wait_1,
    "fin-wait-1 data after close": _in(S.FIN_WAIT_1, _data),
    "fin-wait-2 data after close": _in(S.FIN_WAIT_2, _data),
    "syn-received in-window syn": _in(S.SYN_RECEIVED, _in_window_syn),
    "closing ack of fin": _in(S.CLOSING, _ack_all),
    "last-ack ack of fin": _in(S.LAST_ACK, _ack_all),
    "time-wait fin at rcv.nxt": _in(S.TIME_WAIT, _fin_at_rcv_nxt),
    "time-wait expiry": _in(S.TIME_WAIT, _fire),
    "time-wait newer syn": _in(S.TIME_WAIT, _newer_syn),
    "syn-sent hard icmp": _in(S.SYN_SENT, _hard_icmp),
    "established keep-alive timeout": _in(S.ESTABLISHED, _keepalive_gives_up),
    "close-wait keep-alive timeout": _in(S.CLOSE_WAIT, _keepalive_gives_up),
    "syn-received hard icmp": _in(S.SYN_RECEIVED, _hard_icmp),
    "syn-sent close": _in(S.SYN_SENT, _call("close")),
    "syn-received close": _in(S.SYN_RECEIVED, _call("close")),
}
for _state in BUILDERS:
    SCENARIOS[f"{_state} built"] = _build(_state)
    if _state is not S.LISTEN:
        SCENARIOS[f"{_state} rst"] = _in(_state, _rst)
        SCENARIOS[f"{_state} abort"] = _in(_state, _call("abort"))
        SCENARIOS[f"{_state} give up"] = _in(_state, _give_up, **GIVE_UP)


def _flags_match(sends: Sends, seg: Segment) -> bool:
    f = seg.flags & (SYN | ACK | FIN | RST)
    return {
        Sends.SYN: f == SYN,
        Sends.SYN_ACK: f == SYN | ACK,
        Sends.ACK: f == ACK,
        Sends.FIN: bool(f & FIN),
        Sends.RST: bool(f & RST),
    }[sends]


def _violations(out: Out) -> list[str]:
    """What is wrong with one step against the table (empty when it agrees)."""
    rows = [TABLE.get((old, trig)) for old, _, trig in out.changes]
    problems = [f"{old} -{trig}-> {new} is not declared"
                for (old, new, trig), row in zip(out.changes, rows, strict=True)
                if row is None or row.next is not new]
    declared = [r for r in rows if r is not None]
    if problems or not declared:
        return problems
    # with several moves in one step, the segment belongs to the last move that sends
    sending = [r for r in declared if r.sends]
    row: Transition = sending[-1] if sending else declared[-1]
    if not row.sends:
        if out.segs:
            problems.append(f"{row.state} -{row.trigger}-> sent {out.show()}, table says nothing")
    elif not out.segs or not _flags_match(row.sends, out.segs[0]):
        problems.append(f"{row.state} -{row.trigger}-> sent {out.show()}, table says {row.sends}")
    return problems


@pytest.fixture(scope="module")
def journals() -> dict[str, list[Out]]:
    """Each scenario's steps, by name."""
    return {name: run().journal for name, run in SCENARIOS.items()}


@pytest.fixture(scope="module")
def steps(journals: dict[str, list[Out]]) -> list[Out]:
    return [out for journal in journals.values() for out in journal]


def test_only_declared_moves_and_sends_match(steps: list[Out]) -> None:
    problems = [p for out in steps for p in _violations(out)]
    assert problems == []


def test_every_row_seen_alone_in_a_step(steps: list[Out]) -> None:
    # each row must be observed at least once as the only move of a step, so the
    # strict sends check above really covered it
    alone = {(old, trig) for out in steps if len(out.changes) == 1
             for old, _, trig in out.changes}
    seen = {(old, trig) for out in steps for old, _, trig in out.changes}
    assert seen - alone == set()


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda r: f"{r.state}/{r.trigger}")
def test_a_move_taken_without_its_row_raises(
        row: Transition, journals: dict[str, list[Out]], monkeypatch: pytest.MonkeyPatch) -> None:
    # Strike the row from the table the engine reads, then replay a scenario that takes
    # it: the engine must refuse the move instead of making it anyway.
    key = (row.state, row.trigger)
    taker = next(name for name, journal in journals.items()
                 if any((old, trig) == key for out in journal for old, _, trig in out.changes))
    monkeypatch.delitem(TABLE, key)
    with pytest.raises(UndeclaredMove, match=re.escape(f"undeclared move: {key[0]} on {key[1]}")):
        SCENARIOS[taker]()


def test_a_listeners_child_enters_listen_by_the_passive_open_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    h = _open_passive()
    child = h.conn.spawn(REMOTE)
    assert child.state is S.LISTEN and child.next_event() is None  # unseen until its SYN
    monkeypatch.delitem(TABLE, (S.CLOSED, T.PASSIVE_OPEN))
    with pytest.raises(UndeclaredMove):
        h.conn.spawn(REMOTE)


def test_state_cannot_be_assigned_from_outside() -> None:
    h = make(S.ESTABLISHED)
    with pytest.raises(AttributeError):
        h.conn.state = S.CLOSED  # type: ignore[misc]
    assert h.state is S.ESTABLISHED


def test_every_declared_row_is_exercised(steps: list[Out]) -> None:
    seen = {(old, trig) for out in steps for old, _, trig in out.changes}
    assert DECLARED - seen == set()


def _close_with_unread_data(state: State) -> Harness:
    """Reach ``state`` with received bytes nobody read, then close()."""
    h = make(S.ESTABLISHED)
    h.send(ACK | PSH, h.r(1), h.l(1), b"unread")
    if state is S.CLOSING:
        h.call("shutdown", "wr")
        h.send(FIN | ACK, h.r(7), h.l(1))
    elif state is S.LAST_ACK:
        h.send(FIN | ACK, h.r(7), h.l(1))
        h.call("shutdown", "wr")
    elif state is S.TIME_WAIT:
        h.call("shutdown", "wr")
        h.send(FIN | ACK, h.r(7), h.l(2))
    assert h.state is state
    h.call("close")
    return h


@pytest.mark.parametrize("state", [S.ESTABLISHED, S.CLOSE_WAIT])
def test_close_with_unread_data_matches_the_abort_row(state: State) -> None:
    if state is S.CLOSE_WAIT:
        h = make(S.ESTABLISHED)
        h.send(FIN | ACK | PSH, h.r(1), h.l(1), b"unread")
        h.call("close")
    else:
        h = _close_with_unread_data(state)
    last = h.journal[-1]
    assert last.changes == [(state, S.CLOSED, T.ABORT)]
    assert _violations(last) == []


@pytest.mark.parametrize("state", [S.CLOSING, S.LAST_ACK, S.TIME_WAIT])
def test_close_with_unread_data_in_late_states_matches_the_table(state: State) -> None:
    h = _close_with_unread_data(state)
    assert _violations(h.journal[-1]) == []
