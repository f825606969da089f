"""The conditions of a check: the command language's ``expect`` family and what exercises
need beyond it (see docs/labs/README.md for the list).

Every condition is asked about one *binding* -- the sockets the check's roles stand for
-- and answers whether it holds now and, when it does not, what was found instead, in
a line a student can act on.  Negative conditions (``expect-not-seen``,
``expect-not-sent``) hold until the run contradicts them; a check needs at least one
positive condition, so it never ticks before anything happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from tcplab.lab.commands import SegmentKind
from tcplab.labsheet.tracker import SegmentFilter, Sock, Tracker

ANY_SEGMENT = SegmentFilter(SegmentKind.ANY)

Binding: TypeAlias = dict[str, Sock]   # role name -> the socket it stands for


@dataclass(frozen=True, slots=True)
class Subject:
    """What a condition is about: a role (``c``), the other end of one (``c'``), or a
    host (``h1``: every socket of the host, and segments sent for no socket)."""

    name: str
    accepted: bool = False
    host: bool = False

    def __str__(self) -> str:
        return self.name + ("'" if self.accepted else "")

    def sock(self, binding: Binding, tracker: Tracker) -> Sock | None:
        sock = binding.get(self.name)
        if sock is None or not self.accepted:
            return sock
        return tracker.peer(sock)


def _missing(subject: Subject) -> str:
    return (f"{subject.name}'s other end was never seen" if subject.accepted
            else f"no connection for {subject}")


@dataclass(frozen=True, slots=True)
class Condition:
    """One line of a check (base: the fields every condition has)."""

    line: int        # in the sheet
    text: str        # as written, for messages
    subject: Subject

    def negative(self) -> bool:
        """Holds until the run contradicts it."""
        return False

    def roles(self) -> tuple[str, ...]:
        return () if self.subject.host else (self.subject.name,)

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        raise NotImplementedError

    def states(self) -> tuple[str, ...]:
        """The connection states this condition is about (for the coverage test)."""
        return ()


@dataclass(frozen=True, slots=True)
class InState(Condition):
    """``expect c STATE``: the connection is in STATE (at some moment of the run)."""

    state: str = ""

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        sock = self.subject.sock(binding, tracker)
        if sock is None:
            return False, _missing(self.subject)
        return sock.state == self.state, f"{self.subject} is {sock.state}, not {self.state}"

    def states(self) -> tuple[str, ...]:
        return (self.state,)


@dataclass(frozen=True, slots=True)
class Seen(Condition):
    """``expect-seen c STATE`` / ``expect-not-seen c STATE``."""

    state: str = ""
    never: bool = False

    def negative(self) -> bool:
        return self.never

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        sock = self.subject.sock(binding, tracker)
        if sock is None:
            return self.never, _missing(self.subject)
        visited = sock.visited()
        path = " -> ".join(visited[-6:])
        if len(visited) > 6:
            path = "... -> " + path
        if self.never:
            return self.state not in visited, f"{self.subject} passed {self.state}: {path}"
        return self.state in visited, f"{self.subject} never was {self.state}: {path}"

    def states(self) -> tuple[str, ...]:
        return (self.state,)


@dataclass(frozen=True, slots=True)
class Stayed(Condition):
    """``expect-stayed c STATE SECONDS``: c stayed in STATE that long without leaving
    it (a TIME-WAIT of 2 MSL, a close stuck in FIN-WAIT-2)."""

    state: str = ""
    seconds: float = 0.0

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        sock = self.subject.sock(binding, tracker)
        if sock is None:
            return False, _missing(self.subject)
        got = tracker.stayed(sock, self.state)
        return got >= self.seconds, (f"{self.subject} stayed in {self.state} {got:g} s at "
                                     f"most, not {self.seconds:g} s")

    def states(self) -> tuple[str, ...]:
        return (self.state,)


@dataclass(frozen=True, slots=True)
class Transition(Condition):
    """``expect-transition c OLD NEW ["cause"]``: c went from OLD to NEW (for that
    reason: the cause contains the text)."""

    old: str = ""
    new: str = ""
    cause: str | None = None

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        sock = self.subject.sock(binding, tracker)
        if sock is None:
            return False, _missing(self.subject)
        for old, new, cause in sock.transitions:
            if old == self.old and new == self.new and (
                    self.cause is None or self.cause.lower() in cause.lower()):
                return True, ""
        moves = [f"{o} -> {n} ({c})" for o, n, c in sock.transitions[-4:]]
        if len(sock.transitions) > 4:
            moves.insert(0, "...")
        seen = "; ".join(moves) or "nothing"
        why = f" ({self.cause})" if self.cause else ""
        return False, f"{self.subject} never went {self.old} -> {self.new}{why}: {seen}"

    def states(self) -> tuple[str, ...]:
        return (self.old, self.new)


@dataclass(frozen=True, slots=True)
class Received(Condition):
    """``expect-received c N`` (exactly, as the command) or ``>=N``: the application at
    the other end of c got that many bytes."""

    count: int = 0
    at_least: bool = False

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        sock = binding.get(self.subject.name)
        if sock is None:
            return False, _missing(self.subject)
        # the peer of c' is c itself
        target = sock if self.subject.accepted else tracker.peer(sock)
        got = 0 if target is None else target.delivered
        ok = got >= self.count if self.at_least else got == self.count
        want = f"at least {self.count}" if self.at_least else f"exactly {self.count}"
        other = self.subject.name if self.subject.accepted else f"{self.subject.name}'"
        return ok, f"the application at {other} received {got} bytes (wanted {want})"


@dataclass(frozen=True, slots=True)
class ErrorSeen(Condition):
    """``expect-error c ECONNRESET``: c's application was told of that error."""

    errname: str = ""

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        sock = self.subject.sock(binding, tracker)
        if sock is None:
            return False, _missing(self.subject)
        got = ", ".join(sock.errors) or "no error"
        return self.errname in sock.errors, f"{self.subject} reported {got}"


def _compare(got: int, count: int, op: str) -> bool:
    return got == count if op == "=" else got >= count if op == ">=" else got <= count


def _count_text(count: int, op: str) -> str:
    how = {"=": "exactly", ">=": "at least", "<=": "at most"}[op]
    return f"(wanted {how} {count})"


@dataclass(frozen=True, slots=True)
class Segments(Condition):
    """``expect-sent``, ``expect-retransmitted``, ``expect-not-sent``: segments a socket
    (or a whole host) sent that match a filter, counted."""

    flt: SegmentFilter = ANY_SEGMENT
    count: int = 1
    op: str = ">="
    never: bool = False
    index: int = -1      # the tracker's filter number, set when the check is watched

    def negative(self) -> bool:
        return self.never

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        if self.subject.host:
            got = tracker.host_counts.get((self.subject.name, self.index), 0)
        else:
            sock = self.subject.sock(binding, tracker)
            if sock is None:
                return self.never, _missing(self.subject)
            got = tracker.count(sock, self.index)
        verb = "retransmitted" if self.flt.retransmitted else "sent"
        if self.flt.why is not None:
            verb += f" (why={self.flt.why})"
        what = f"{self.subject} {verb} {got} {self.flt.describe()}"
        if self.never:
            return got == 0, f"{what} (wanted none)"
        return _compare(got, self.count, self.op), f"{what} {_count_text(self.count, self.op)}"


@dataclass(frozen=True, slots=True)
class Dropped(Condition):
    """``expect-dropped h1>h2 KIND``: the network lost such a segment on its way from
    one host to another (a link's loss, a full queue, a down link or a ``drop``)."""

    dst: str = ""
    flt: SegmentFilter = ANY_SEGMENT
    count: int = 1
    op: str = ">="
    index: int = -1

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        got = tracker.drops.get((self.subject.name, self.dst, self.index), 0)
        return (_compare(got, self.count, self.op),
                f"the network dropped {got} {self.flt.describe()} from {self.subject.name} "
                f"to {self.dst} {_count_text(self.count, self.op)}")


@dataclass(frozen=True, slots=True)
class TimerFired(Condition):
    """``expect-timer c rtx``: a timer of c (or of any socket of a host) fired."""

    timer: str = ""
    count: int = 1
    op: str = ">="

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        if self.subject.host:
            got = tracker.host_timers.get((self.subject.name, self.timer), 0)
        else:
            sock = self.subject.sock(binding, tracker)
            if sock is None:
                return False, _missing(self.subject)
            got = sock.timers.get(self.timer, 0)
        return (_compare(got, self.count, self.op),
                f"{self.subject}'s {self.timer} timer fired {got} times "
                f"{_count_text(self.count, self.op)}")


@dataclass(frozen=True, slots=True)
class CommandFailed(Condition):
    """``expect-command-error "in use"``: a command was refused, and its error said
    so (the lab's own message contains the text)."""

    words: str = ""

    def roles(self) -> tuple[str, ...]:
        return ()

    def holds(self, binding: Binding, tracker: Tracker) -> tuple[bool, str]:
        wanted = self.words.lower()
        if any(wanted in message.lower() for _line, message in tracker.failed_commands):
            return True, ""
        last = tracker.failed_commands[-1][1] if tracker.failed_commands else None
        return False, (f"no command failed with {self.words!r}" +
                       (f" (the last error: {last})" if last else " (none failed)"))
