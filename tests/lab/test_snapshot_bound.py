"""The sockets table's fold keeps a bounded history of closed connections."""

from __future__ import annotations

from typing import Any

from tcplab.lab.snapshot import CLOSED_ROWS_KEPT, Snapshot


def _state(t: float, sid: int, old: str, new: str) -> dict[str, Any]:
    return {"kind": "state.changed", "t": t, "host": "h2", "sid": sid,
            "local": ["10.0.0.2", 80], "remote": ["10.0.0.1", 30000 + sid % 30000],
            "old": old, "new": new, "cause": "test"}


def test_closed_rows_are_bounded_and_live_ones_kept() -> None:
    snap = Snapshot()
    snap.apply(_state(0.0, 1, "CLOSED", "LISTEN"))
    n = CLOSED_ROWS_KEPT + 500
    for sid in range(2, n + 2):  # a SYN flood's children: opened, then gone
        snap.apply(_state(sid, sid, "LISTEN", "SYN-RECEIVED"))
        snap.apply(_state(sid + 0.5, sid, "SYN-RECEIVED", "CLOSED"))
    assert len(snap.rows) == CLOSED_ROWS_KEPT + 1
    assert snap.rows[("h2", 1)].state == "LISTEN"            # a live row is never dropped
    assert ("h2", 2) not in snap.rows                        # the oldest closed went first
    assert ("h2", n + 1) in snap.rows                        # the newest closed stays
    assert len(snap.clone().rows) == len(snap.rows)
