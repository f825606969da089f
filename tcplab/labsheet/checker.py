"""Evaluating a sheet's checks over a run's event stream, live or recorded.

Theory of operation
-------------------
A :class:`Checker` is fed event dicts one by one -- the recorded form every event has,
so a live lab's bus and a recording's ``events.jsonl`` feed it alike -- and folds them
into a :class:`~tcplab.labsheet.tracker.Tracker`.  After each event that can change a
condition, every exercise not done yet is evaluated: an exercise is **done** the first
time some *binding* makes all its conditions hold at once, and stays done (a state
held for an instant counts: the student made it happen).

Roles are bound by what connections are, not by the names a student typed: a role
``c = h1 > h2:80`` may stand for any connection h1 opened to port 80 of h2, and the check
holds when one assignment of the roles to distinct sockets satisfies it.  So a student
who names things differently, or who needed three tries, is still recognised.

An **attempt** at the current exercise (the first one not done) is one socket that
could play its first role.  It has *failed* when that socket and its other end have both
reached CLOSED and the exercise is still not done when the command during which they
did is over (so that what the same command still brings -- an error report, the other
role's connection -- counts): the dashboard then shows the hint and what was missing.

When an exercise is not done, :meth:`Checker.missing` says why with the binding that came
closest (most conditions holding; the newest on a tie): the first condition that does
not hold, what was found instead, and which connections the roles stood for (the
student's names and host:port pairs: ``(c was c4 (h1:40003>h2:80))``).

An exercise that ``needs`` Linux's TCP on a host is left out of a run where that host ran
tcplab's (the header's ``hosts`` say which ran Linux): it is never done there, never the
current one, and :meth:`Checker.missing` says why -- a check about Linux cannot tick on
tcplab's behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from tcplab.labsheet import conditions as K
from tcplab.labsheet.model import Exercise, Role, Sheet
from tcplab.labsheet.tracker import Key, Sock, Tracker

MAX_BINDINGS = 5000   # assignments tried per evaluation: a guard, far above real labs


@dataclass(frozen=True, slots=True)
class Tick:
    """An exercise became done at time ``t``."""

    exercise: str
    t: float


@dataclass(frozen=True, slots=True)
class Attempt:
    """A failed attempt: the socket that played the first role, and what was missing."""

    exercise: str
    t: float
    who: str
    missing: str


class Checker:
    """See the module docstring."""

    def __init__(self, sheet: Sheet, hosts: dict[str, str] | None = None) -> None:
        self.sheet = sheet
        self.tracker = Tracker(hosts)
        self.exercises: list[Exercise] = [self._watch(ex) for ex in sheet.exercises]
        # exercises that time alone can make hold (expect-stayed): asked when it moves
        self._timed = {ex.name for ex in self.exercises
                       if any(isinstance(c, K.Stayed) for c in ex.conditions)}
        self.done: dict[str, float] = {}
        self.attempts: list[Attempt] = []
        self._judged: set[tuple[str, Key]] = set()
        self._ending: list[Key] = []  # sockets that reached CLOSED, not judged yet
        self.previously_done: frozenset[str] = frozenset()  # in earlier sessions
        # the current exercise, and how many sockets there were when it became current
        self._current: tuple[str, int] = ("", 0)

    def _watch(self, ex: Exercise) -> Exercise:
        """The exercise with its segment conditions counted by the tracker."""
        conds: list[K.Condition] = []
        for cond in ex.conditions:
            if isinstance(cond, K.Segments | K.Dropped):
                cond = replace(cond, index=self.tracker.watch(cond.flt))
            conds.append(cond)
        return replace(ex, conditions=tuple(conds))

    # -- feeding --------------------------------------------------------------------------
    def feed(self, ev: dict[str, Any]) -> list[Tick | Attempt]:
        """One event; what it made happen: exercises done, attempts failed."""
        out: list[Tick | Attempt] = []
        t = float(ev.get("t", self.tracker.t))
        changed, moved = self.tracker.feed(ev)
        if changed or (moved and self._timed):
            for ex in self.exercises:
                if ex.name in self.done or not (changed or ex.name in self._timed) or (
                        self.unavailable(ex)):
                    continue
                if self._evaluate(ex)[0]:
                    self.done[ex.name] = t
                    out.append(Tick(ex.name, t))
                    self._current = ("", len(self.tracker.socks))  # a new current one
        if ev["kind"] == "state.changed" and ev["new"] == "CLOSED":
            self._ending.append((ev["host"], ev["sid"]))
        elif ev["kind"] == "command" and self._ending:
            out += self.settle()
        return out

    def feed_all(self, events: Any) -> list[Tick | Attempt]:
        out: list[Tick | Attempt] = []
        for ev in events:
            out += self.feed(ev)
        return out + self.settle()

    def settle(self) -> list[Tick | Attempt]:
        """Judge the connections that ended: the command during which they did is over
        (or the recording is)."""
        ready, self._ending = self._ending, []
        current = self.current(self.previously_done)
        if current is None:
            return []
        if current.name != self._current[0]:
            # only connections made while it is the current exercise are attempts at it
            self._current = (current.name, self._current[1])
        out: list[Tick | Attempt] = []
        for key in ready:
            sock = self.tracker.socks.get(key)
            if sock is not None:
                out += self._attempt(current, sock)
        return out

    def _attempt(self, ex: Exercise, sock: Sock) -> list[Attempt]:
        """Whether ``sock`` (or the socket whose other end it is) ended a failed
        attempt at ``ex``."""
        if ex.name in self.done or not ex.roles or self.unavailable(ex):
            return []
        tracker = self.tracker
        primary = ex.roles[0]
        played = sock if primary.matches(sock, tracker) else None
        if played is None:
            other = tracker.peer(sock)
            if other is not None and primary.matches(other, tracker):
                played = other
        if played is None or (ex.name, played.key) in self._judged or (
                played.order < self._current[1]):
            return []
        peer = tracker.peer(played)
        if played.state != "CLOSED" or (peer is not None and peer.state != "CLOSED"):
            return []
        self._judged.add((ex.name, played.key))
        ok, missing = self._evaluate(ex, fixed=played)
        if ok:
            return []
        attempt = Attempt(ex.name, tracker.t, self.describe(played), missing)
        self.attempts.append(attempt)
        return [attempt]

    # -- evaluating -----------------------------------------------------------------------
    def describe(self, sock: Sock) -> str:
        remote = "*" if sock.remote is None else (
            f"{self.tracker.host_name(sock.remote[0])}:{sock.remote[1]}")
        where = f"{sock.host}:{sock.local[1]}>{remote}"
        return f"{sock.name} ({where})" if sock.name else where

    def _bindings(self, roles: tuple[Role, ...], fixed: Sock | None
                  ) -> Iterator[K.Binding]:
        tracker = self.tracker
        socks = sorted(tracker.socks.values(), key=lambda s: s.order)
        candidates = [[s for s in socks if role.matches(s, tracker)] for role in roles]
        if fixed is not None:
            candidates[0] = [fixed]
        count = 0

        def extend(i: int, binding: K.Binding) -> Iterator[K.Binding]:
            nonlocal count
            if i == len(roles):
                count += 1
                yield dict(binding)
                return
            role = roles[i]
            used = {s.key for s in binding.values()}
            for sock in candidates[i]:
                if count >= MAX_BINDINGS:
                    return
                if sock.key in used:
                    continue
                if role.after is not None and sock.order <= binding[role.after].order:
                    continue
                binding[role.name] = sock
                yield from extend(i + 1, binding)
                del binding[role.name]

        yield from extend(0, {})

    def _evaluate(self, ex: Exercise, fixed: Sock | None = None) -> tuple[bool, str]:
        """Whether some binding makes every condition hold; else what the closest
        binding lacks."""
        ok, missing, _binding = self._closest(ex, fixed)
        return ok, missing

    def _closest(self, ex: Exercise, fixed: Sock | None = None
                 ) -> tuple[bool, str, K.Binding | None]:
        """As :meth:`_evaluate`, with the binding that held or came closest."""
        best: tuple[int, str, K.Binding] | None = None
        for binding in self._bindings(ex.roles, fixed):
            held = 0
            first_miss = ""
            for cond in ex.conditions:
                ok, found = cond.holds(binding, self.tracker)
                if ok:
                    held += 1
                elif not first_miss:
                    first_miss = f"{cond.text}: {found}"
            if not first_miss:
                return True, "", binding
            if best is None or held >= best[0]:
                best = (held, first_miss, binding)
        if best is not None:
            return False, best[1], best[2]
        lacking = next((r for r in ex.roles
                        if not any(r.matches(s, self.tracker)
                                   for s in self.tracker.socks.values())), ex.roles[0])
        return False, f"no {lacking.describe()} was seen (role {lacking.name})", None

    def judged(self, ex: Exercise, binding: K.Binding) -> str:
        """Which connections a verdict is about: ``c was c4 (h1:40003>h2:80)`` for each
        role, in the sheet's order -- the student's names, which the check never uses."""
        return ", ".join(f"{role.name} was {self.describe(binding[role.name])}"
                         for role in ex.roles if role.name in binding)

    def missing(self, name: str) -> str:
        """Why exercise ``name`` is not done ("" when it is)."""
        if name in self.done:
            return ""
        ex = next(e for e in self.exercises if e.name == name)
        why = self.unavailable(ex)
        if why:
            return why
        _ok, missing, binding = self._closest(ex)
        # the closest binding may be another attempt than the one the student meant
        return f"{missing} ({self.judged(ex, binding)})" if binding else missing

    def unavailable(self, ex: Exercise) -> str:
        """Why ``ex`` cannot be done in this run ("" when it can): it needs Linux's TCP on
        a host that ran tcplab's."""
        tcplab = [host for host in ex.needs if host not in self.tracker.kernel]
        if not tcplab:
            return ""
        return (f"needs Linux's TCP on {' and '.join(tcplab)}, which ran tcplab's TCP in "
                f"this run (do it in a lab on Mininet, as root)")

    def current(self, also_done: set[str] | frozenset[str] = frozenset()) -> Exercise | None:
        """The first exercise not done (in this run, nor in ``also_done``)."""
        for ex in self.exercises:
            if ex.name not in self.done and ex.name not in also_done and (
                    not self.unavailable(ex)):
                return ex
        return None
