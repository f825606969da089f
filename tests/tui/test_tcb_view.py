"""The TCB tab: every field of the last sample, timers, and the RTO's floor."""

from __future__ import annotations

from tcplab.lab.snapshot import Snapshot
from tcplab.tui.widgets.tcb_view import tcb_text

SAMPLE = {"kind": "tcb.sample", "t": 1.0, "host": "h1", "sid": 1, "iss": 1000, "irs": 5000,
          "snd_una": 1001, "snd_nxt": 2461, "snd_max": 2461, "rcv_nxt": 5001,
          "snd_wnd": 65535, "rcv_wnd": 262144, "cwnd": 14600, "ssthresh": 1 << 30,
          "flight": 1460, "srtt": 0.04, "rttvar": 0.02, "rto": 1.0, "sendq": 1460,
          "recvq": 0, "timers": [["rtx", 2.0]]}
STATE = {"kind": "state.changed", "t": 0.5, "host": "h1", "sid": 1,
         "local": ["10.0.0.1", 40000], "remote": ["10.0.0.2", 80], "old": "SYN-SENT",
         "new": "ESTABLISHED", "cause": "rcv SYN,ACK"}


def test_every_field_the_timer_and_the_floor_are_shown() -> None:
    snap = Snapshot()
    snap.apply(STATE)
    snap.apply(SAMPLE)
    row = snap.rows[("h1", 1)]
    text = tcb_text(row, "c1", 1.5, "200.0 ms (--rto-min)").plain
    for name in ("iss", "irs", "snd.una", "snd.nxt", "rcv.nxt", "cwnd", "ssthresh", "flight",
                 "srtt", "rttvar", "rto", "sendq", "recvq"):
        assert f"\n{name} " in text or f" {name} " in text, name
    assert "2461  (relative 1461)" in text
    assert "(infinite)" in text
    assert "timer rtx" in text and "0.500 s left (deadline t=2.000)" in text
    assert "rto.min" in text and "200.0 ms (--rto-min)" in text


def test_a_listener_has_no_floor_line() -> None:
    snap = Snapshot()
    snap.apply({**STATE, "remote": None, "old": "CLOSED", "new": "LISTEN",
                "cause": "passive OPEN"})
    text = tcb_text(snap.rows[("h1", 1)], "", 1.0, "1000.0 ms (RFC 6298 §2.4)").plain
    assert "no sample" in text and "rto.min" not in text
