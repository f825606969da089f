"""A recording, read again: what ``tcplab replay`` needs of one.

Theory of operation
-------------------
A recording's ``events.jsonl`` is the whole of what the dashboard draws, so replaying
is folding it again (:mod:`tcplab.lab.timeline`).  :func:`sockets_at` folds up to a
time for ``tcplab replay DIR --at T --json``; the dashboard over a recording and
``--verify`` (:mod:`tcplab.lab.rerun`) are started by :mod:`tcplab.cli.replay`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tcplab.lab.snapshot import Snapshot
from tcplab.lab.timeline import RecordingError, read_recording


def events_file(directory: Path) -> Path:
    """The recording's ``events.jsonl`` (DIR, or the file itself)."""
    events = directory / "events.jsonl" if directory.is_dir() else directory
    if not events.exists():
        raise RecordingError(f"no recording at {directory} (expected {directory}/events.jsonl"
                             ", written by tcplab run --record DIR)")
    return events


def fold_until(directory: Path, t: float) -> Snapshot:
    """The fold of every event at or before ``t``, reading no further than needed."""
    snap = Snapshot()

    def apply(ev: dict[str, Any], _offset: int) -> bool:
        if ev["t"] > t:
            return False
        snap.apply(ev)
        return True

    read_recording(events_file(directory), lambda _header: None, apply)
    return snap


def sockets_at(directory: Path, t: float) -> dict[str, Any]:
    """The ``--at T --json`` object."""
    snap = fold_until(directory, t)
    rows = sorted(snap.rows.values(), key=lambda r: (r.host, r.sid))
    return {"t": t, "sockets": [snap.socket_json(row) for row in rows]}
