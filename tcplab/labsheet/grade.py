"""``tcplab lab SHEET --check DIR [DIR...]``: recordings graded against a sheet.

The output is a contract (an instructor's loop reads it): one line per exercise, in the
sheet's order, ``PASS name`` or ``FAIL name: what was not seen``, then
``N of M exercises done``.  Exit status 0 only when every exercise passed, 1 when one
did not, 2 when the recording cannot be graded against this sheet -- unreadable, or
made for another sheet or another setup -- with the reason on standard error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from tcplab.lab.timeline import RecordingError, read_recording
from tcplab.labsheet.checker import Checker
from tcplab.labsheet.sheet import Sheet


class Refused(Exception):
    """A recording that cannot be graded against this sheet; the message says why."""


def _effective(value: Any) -> float | None:
    return None if value is None else float(value)


def refusal(sheet: Sheet, header: dict[str, Any]) -> str | None:
    """Why a recording with this header was not made for ``sheet`` (None: it may be).

    A recording made by ``tcplab lab`` names its sheet; one made by ``tcplab run`` is
    compared with the sheet's setup: topology, MSL, keep-alive (and the seed when the
    sheet fixes one).  The clock is not compared: the checks read what happened, not how
    fast, so a lab done on Mininet's wall clock is graded like one done under virtual
    time."""
    recorded = header.get("sheet")
    if recorded is not None and recorded != sheet.id:
        return f"it was recorded for sheet {recorded}, not {sheet.id}"
    setup = sheet.setup
    differences = []
    if header.get("topology") != setup.topology:
        differences.append(f"topology {header.get('topology')} (the sheet's: {setup.topology})")
    for key, want in (("msl", setup.msl), ("keepalive", setup.keepalive)):
        got = _effective(header.get(key))
        if got != want:
            shown = "the default" if got is None else f"{got:g} s"
            wanted = "the default" if want is None else f"{want:g} s"
            differences.append(f"--{key} {shown} (the sheet's: {wanted})")
    if setup.seed is not None and header.get("seed") != setup.seed:
        differences.append(f"seed {header.get('seed')} (the sheet's: {setup.seed})")
    if differences:
        return "its run does not have the sheet's setup: " + "; ".join(differences)
    return None


def check_recording(sheet: Sheet, directory: Path) -> Checker:
    """The sheet's checker fed with a recording's events; Refused says why not."""
    events = directory / "events.jsonl" if directory.is_dir() else directory
    if not events.exists():
        raise Refused(f"no recording at {directory} (expected {events}, written by "
                      f"tcplab lab SHEET --record DIR or tcplab run --record DIR)")
    checker: Checker | None = None

    def start(header: dict[str, Any]) -> None:
        nonlocal checker
        why = refusal(sheet, header)
        if why is not None:
            raise Refused(f"{directory} is not a recording of {sheet.id}: {why}")
        checker = Checker(sheet)
        checker.feed(header)

    def apply(ev: dict[str, Any], _offset: int) -> bool:
        assert checker is not None
        checker.feed(ev)
        return True

    try:
        read_recording(events, start, apply)
    except RecordingError as exc:
        raise Refused(str(exc)) from None
    assert checker is not None
    checker.settle()
    return checker


def report(checkers: list[Checker], out: TextIO) -> int:
    """The contract's lines for one or more recordings of the same sheet (a student who
    stopped and went on hands in one per session): an exercise passes when it passed in
    any of them; a failure says what the last one lacked.  Returns the exit status."""
    done = 0
    exercises = checkers[0].sheet.exercises
    for ex in exercises:
        if any(ex.name in checker.done for checker in checkers):
            done += 1
            print(f"PASS {ex.name}", file=out)
        else:
            print(f"FAIL {ex.name}: {checkers[-1].missing(ex.name)}", file=out)
    print(f"{done} of {len(exercises)} exercises done", file=out)
    return 0 if done == len(exercises) else 1
