"""A receiver that stops reading closes its window to 0 with window scaling on too: the
scaled right edge must not creep past the free buffer (RFC 7323 §2.4, RFC 9293
§3.8.6.2.2), or the sender's data is refused and comes back by RTO instead of persist
probes (RFC 9293 §3.8.6.1)."""

from __future__ import annotations

from test_lab import Recorded

from tcplab.stack import events as H


def test_a_scaled_window_closes_and_the_sender_persists() -> None:
    r = Recorded()
    r.ok("link h1 s1 delay=10ms", "listen h2:80 read=off", "connect h1:5000 h2:80 as c1",
         "wait 0.2", "send c1 --bytes 1000000", "wait 10")
    sent = [e for e in r.events if isinstance(e, H.SegmentSent)]
    assert any(e.host == "h2" and e.segment.window == 0 for e in sent)
    assert [e for e in r.events if isinstance(e, H.SegmentDropped) and e.host == "h2"] == []
    rtx = [e for e in r.events if isinstance(e, H.Retransmitted) and e.host == "h1"]
    assert {str(e.why) for e in rtx} <= {"probe"}
    assert sum(1 for e in r.events if isinstance(e, H.TimerFired) and e.name == "persist") >= 3
