"""A kernel host's ladder: Linux's state changes land on the segments that caused them.

Its agent publishes a move with the kernel's time (the tracepoint) after segments it
read off the interface later; the ladder places the move by its time."""

from __future__ import annotations

from tcplab.lab.timeline import Timeline
from tcplab.stack.events import SegmentReceived, SegmentSent, StateChanged
from tcplab.tcp.segment import ACK, FIN, SYN, Segment
from tcplab.tcp.states import State, Trigger
from tcplab.tui import history

S = State
ME, PEER = ("10.0.0.2", 80), ("10.0.0.1", 40000)


def seg(seq: int, ack: int, flags: int) -> Segment:
    return Segment(PEER[1], ME[1], seq, ack, flags, 1000)


def test_linux_moves_go_on_the_segments_that_caused_them() -> None:
    def moved(t: float, old: State, new: State) -> StateChanged:
        return StateChanged(t=t, host="h2", sid=2, old=old, new=new, trigger=Trigger.LINUX,
                            local=ME, remote=PEER)

    def got(t: float, s: Segment) -> SegmentReceived:
        return SegmentReceived(t, "h2", 2, PEER, ME, s, "h2-eth0")

    def sent(t: float, s: Segment) -> SegmentSent:
        return SegmentSent(t, "h2", 2, ME, PEER, s, "h2-eth0")

    timeline = Timeline()
    # in the order the agent publishes them: each move after the segment read with it
    for event in [got(1.002, seg(100, 0, SYN)), moved(1.001, S.LISTEN, S.SYN_RECEIVED),
                  sent(1.003, seg(500, 101, SYN | ACK)), got(1.012, seg(101, 501, ACK)),
                  moved(1.011, S.SYN_RECEIVED, S.ESTABLISHED),
                  moved(2.000, S.ESTABLISHED, S.FIN_WAIT_1), sent(2.001, seg(501, 101, FIN | ACK)),
                  got(2.012, seg(101, 502, ACK)), moved(2.011, S.FIN_WAIT_1, S.FIN_WAIT_2),
                  got(3.002, seg(101, 502, FIN | ACK)), sent(3.003, seg(502, 102, ACK)),
                  moved(3.001, S.FIN_WAIT_2, S.TIME_WAIT)]:
        timeline.append(event)
    row = timeline.snapshot(len(timeline)).rows[("h2", 2)]
    records = history.ladder(timeline, row, len(timeline))
    after = history.states_after(records)
    shown = [(r.flags, after[id(r)]) for r in records if isinstance(r, history.SegRecord)]
    assert shown == [("S", "SYN-RECEIVED"), ("S.", "SYN-RECEIVED"), (".", "ESTABLISHED"),
                     ("F.", "FIN-WAIT-1"), (".", "FIN-WAIT-2"), ("F.", "TIME-WAIT"),
                     (".", "TIME-WAIT")]
