"""Re-executing a simulated run: ``tcplab replay DIR --verify`` and ``rewind T``.

Theory of operation
-------------------
A simulated run is a pure function of its inputs (the recording's header:
:class:`~tcplab.lab.session.RunInputs`) and of its commands, each with the time it
ran.  Both are in a recording: every command is a ``command`` event, written when
the command *ended*, with its line, time ``t``, result and message.  :func:`replay`
re-issues such a log on a freshly started lab; the events it produces are the
recorded ones, byte for byte.

When did each command start?  Under virtual time the clock only moves inside
commands (``wait``, ``step``, ``rewind``), so each command starts where the one
before it ended, and re-issuing them in order is enough.  Under real time the clock
also moved between commands, by the wall clock; a command that does not move the
clock ran at its own ``t``, so the scheduler is first run to that ``t``.  A real-time
``wait`` ends where the wall clock took it: the backend is *driven* to the recorded
end (``Rerun.drive``) instead of following the wall clock.

What inputs cannot tell is where a wait or step the user interrupted (Esc) stopped --
possibly in the middle of an instant.  Its ``command`` event says it: the message of
an interrupted run ends with ``after N scheduler entries`` (virtual time), and the
re-run stops after exactly N (:class:`~tcplab.lab.clockrun.Hint`).  Breakpoints need
nothing: they are commands, so they fire at the same entries again.

``rewind T`` (:func:`rewind`) uses the same :func:`replay` on the lab's own command
log: it builds a new backend, re-issues every command that started before T (a wait
or step still running at T is cut there; commands at T are left out) with the bus
diverted -- its subscribers already have these events -- then swaps the new backend
into the same :class:`~tcplab.lab.lab.Lab` and publishes ``run.rewound`` with
``keep``, how many events of the stream are the new branch's past.  Determinism makes
them the same events; subscribers drop the rest.  A rewind is itself a command in the
log, so a later rewind (or ``--verify``) re-runs it too: before a ``rewind``'s own
re-issue, the clock is run to its ``T``, which stands for the wait the rewind cut.

:func:`verify` re-executes a recording and compares what it produces with the file.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from tcplab.lab import codec
from tcplab.lab import commands as C
from tcplab.lab.backend import Rerun
from tcplab.lab.clockrun import hint_of
from tcplab.lab.events import CommandDone, EventBus, LabEvent, RunRewound
from tcplab.lab.record import EVENTS_FILE

if TYPE_CHECKING:
    from tcplab.lab.lab import Lab
    from tcplab.tcp.config import Config



class RerunFactory(Protocol):
    """What ``--verify`` builds the re-executed run on (the simulated backend's class)."""

    def __call__(self, seed: int, *, virtual: bool, config: Config | None) -> Rerun:
        """A new backend, not started, with this ``seed``, clock and TCP ``config``."""
        ...

MININET_REASON = ("rewind needs the simulated backend: Mininet hosts run on the wall clock "
                  "and cannot be re-run")
_LINE_NO = re.compile(r"^line (\d+): ")


@dataclass(frozen=True, slots=True)
class Issued:
    """One command of a run, as its ``command`` event recorded it."""

    line: str
    t: float       # when it ended
    ok: bool
    message: str

    @classmethod
    def of(cls, event: CommandDone) -> Issued:
        """The log entry a ``command`` event recorded."""
        return cls(event.line, event.t, event.ok, event.message)

    @property
    def line_no(self) -> int | None:
        """A scenario's line number: a failed command's message starts with it."""
        match = None if self.ok else _LINE_NO.match(self.message)
        return int(match[1]) if match else None


def _moves_clock(line: str) -> bool:
    try:
        cmd = C.parse_line(line)
    except C.CommandError:
        return False
    return isinstance(cmd, C.Wait | C.Step)


def run_to(lab: Lab, t: float) -> None:
    """Run the lab's scheduler to ``t`` whether paused or not, as the wall clock (or a
    wait a rewind cut short) did; breakpoints fire as they did."""
    sched = lab.backend.scheduler  # type: ignore[attr-defined]
    sched.stop = False
    if t > sched.now:
        sched.run_until(t)
    lab.flush_hits()


def replay(lab: Lab, log: Sequence[Issued], until: float | None = None) -> None:
    """Re-issue ``log`` on ``lab`` (just started on a fresh simulated backend).

    With ``until``, stop with the clock at that time: commands that started at or
    after it are left out and a wait or step running then is cut there.
    """
    for issued in log:
        moving = _moves_clock(issued.line)
        if until is not None and (issued.t > until if moving else issued.t >= until):
            break
        if not moving and lab.now() < issued.t:
            run_to(lab, issued.t)
        if not lab.backend.virtual:
            lab.backend.drive(issued.t)  # type: ignore[attr-defined]
        lab.execute(issued.line, issued.line_no,
                    hint=hint_of(issued.message) if moving else None)
    if until is not None and lab.now() < until:
        run_to(lab, until)


# ------------------------------------------------------------------------------ rewind

def rewind(lab: Lab, to: float) -> str:
    """Carry out ``rewind T`` on ``lab`` (see the module docstring); its message."""
    from tcplab.lab.lab import LabError
    from tcplab.lab.session import announce

    old = lab.backend
    new = old.replica()
    if new is None:
        raise LabError(MININET_REASON)
    now = lab.now()
    if to > now:
        raise LabError(f"rewind goes back in time: t={to:g} is after now (t={now:.6f})")
    log = [Issued.of(e) for e in lab.commands]
    kept = 0

    def count(event: LabEvent) -> None:
        # what a subscriber's copy of the stream will hold: a nested rewind cuts it too
        nonlocal kept
        lab._track(event)
        kept = event.keep + 1 if isinstance(event, RunRewound) else kept + 1

    restore = lab.bus.divert(lambda event: None)
    try:
        old.stop()  # its last samples belong to the abandoned branch
    finally:
        restore()
    if not new.virtual:
        new.drive(0.0)  # re-executed: the recorded times, not the wall clock
    restore = lab.bus.divert(count)
    try:
        lab.reset(new)
        lab.start()
        if lab.inputs is not None:
            announce(lab, lab.inputs)
        replay(lab, log, until=to)
    finally:
        restore()
    # the recorder's captures go on with the new branch (the re-run prefix is not
    # written twice); anything else that watched frames too
    new.adopt_taps(old)
    message = f"rewound to t={to:g}: re-ran the run's start, {kept} events kept"
    if not new.virtual:
        new.drive(None)
        new.pause()
        message += "; the clock is paused (resume to go on)"
    lab.bus.publish(RunRewound(lab.now(), "", to, kept))
    return message


# ------------------------------------------------------------------------------ verify

def _encode(event: LabEvent) -> bytes:
    """An event's line, exactly as the recorder writes it (without its newline)."""
    return codec.line(event)[:-1]


class _Differs(Exception):
    pass


class _Compare:
    """Checks each re-executed event against the recorded line at its position."""

    def __init__(self, recorded: list[bytes]) -> None:
        self.recorded = recorded
        self.n = 0
        self.first: tuple[int, bytes | None, bytes | None] | None = None

    def __call__(self, event: LabEvent) -> None:
        if isinstance(event, RunRewound):
            self.n = event.keep  # as the recorder does: the branch's past, then this
        line = _encode(event)
        want = self.recorded[self.n] if self.n < len(self.recorded) else None
        if line != want:
            self.first = (self.n, want, line)
            raise _Differs
        self.n += 1


def _fail(out: TextIO, directory: Path, reason: str) -> int:
    print(f"cannot re-execute {directory}: {reason}", file=out)
    return 2


def verify(directory: Path, out: TextIO, make: RerunFactory) -> int:
    """Re-execute the simulated run recorded in ``directory`` and compare the events it
    produces with ``events.jsonl``, byte for byte.  Prints ``verified N events`` and
    returns 0; prints the first differing line (its number and both versions) and
    returns 1; prints why and returns 2 when the recording cannot be re-executed.
    ``make`` builds the backend to re-execute on (the simulated one).

    The topology file's text in the header is run, as ``tcplab run`` runs a topology
    file: only re-execute recordings you trust.
    """
    from tcplab.lab.lab import Lab
    from tcplab.lab.session import RunInputs, announce
    from tcplab.lab.topology import TopologyError, load_topology

    path = directory / EVENTS_FILE
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        return _fail(out, directory, f"cannot read {path}: {exc.strerror}")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        return _fail(out, directory, f"{path} is empty: no header")
    try:
        header = json.loads(lines[0])
        if not isinstance(header, dict):
            raise ValueError("the first line is not a recording header")
        inputs = RunInputs.from_header(header)
    except ValueError as exc:  # json's errors are ValueErrors too
        return _fail(out, directory, f"{path}: {exc}")
    if inputs.backend != "sim":
        return _fail(out, directory, f"a {inputs.backend} recording: Mininet hosts run on "
                                     f"the wall clock and cannot be re-run")
    recorded = lines[1:]
    try:
        log = [_issued(line) for line in recorded if line.startswith(b'{"kind":"command"')]
    except (ValueError, KeyError, TypeError) as exc:
        return _fail(out, directory, f"{path}: a command event is garbled ({exc})")
    virtual = inputs.clock == "virtual"
    with tempfile.TemporaryDirectory(prefix="tcplab-verify-") as tmp:
        file = Path(tmp) / (Path(inputs.topology_file).name or "topology.py")
        file.write_text(inputs.topology_text, encoding="utf-8")
        try:
            topo = load_topology(f"{file}:{inputs.topology}")
        except TopologyError as exc:
            return _fail(out, directory, f"its topology does not load: {exc}")
    backend = make(inputs.seed, virtual=virtual, config=inputs.config())
    if not virtual:
        backend.drive(0.0)
    bus = EventBus()
    lab = Lab(topo, backend, bus)
    compare = _Compare(recorded)
    bus.subscribe(compare)
    try:
        try:
            lab.start()
        except (RuntimeError, OSError, ValueError) as exc:
            return _fail(out, directory, f"its lab does not start: {exc}")
        announce(lab, inputs)
        replay(lab, log)
        if not virtual and recorded:
            # after the last command the wall clock went on until the lab was closed
            last = json.loads(recorded[-1]).get("t")
            if isinstance(last, int | float) and last > lab.now():
                run_to(lab, float(last))
        lab.stop()
    except _Differs:
        pass
    if compare.first is None and compare.n < len(recorded):
        compare.first = (compare.n, recorded[compare.n], None)
    if compare.first is not None:
        index, want, got = compare.first
        print(f"{path} line {index + 2} differs:", file=out)
        print(f"  recorded:    {_show(want, 'the recording ends before it')}", file=out)
        print(f"  re-executed: {_show(got, 'the re-executed run ended before it')}", file=out)
        return 1
    print(f"verified {len(recorded)} events", file=out)
    return 0


def _issued(line: bytes) -> Issued:
    ev: dict[str, Any] = json.loads(line)
    return Issued(str(ev["line"]), float(ev["t"]), bool(ev["ok"]), str(ev["message"]))


def _show(line: bytes | None, missing: str) -> str:
    return f"({missing})" if line is None else line.decode("utf-8", "replace")
