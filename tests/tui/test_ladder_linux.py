"""A kernel host's ladder: Linux's state changes land on the segments that caused them.

Its agent publishes a move with the kernel's time (the tracepoint) and the segments
with the kernel's times too, not always in time order; the ladder places a move by its
time, and gives it to the segment just received when it came microseconds after it."""

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
    # as the agent publishes them: a move the kernel made on receiving a segment comes
    # microseconds after it; a close's move before the FIN it sends
    for event in [got(1.0000, seg(100, 0, SYN)), moved(1.0000, S.LISTEN, S.SYN_RECEIVED),
                  sent(1.0001, seg(500, 101, SYN | ACK)), got(1.0100, seg(101, 501, ACK)),
                  moved(1.01005, S.SYN_RECEIVED, S.ESTABLISHED),
                  got(1.5000, seg(101, 501, ACK)),  # data, then the close 0.5 s later
                  moved(2.000, S.ESTABLISHED, S.FIN_WAIT_1),
                  sent(2.0001, seg(501, 101, FIN | ACK)), got(2.0120, seg(101, 502, ACK)),
                  moved(2.01202, S.FIN_WAIT_1, S.FIN_WAIT_2),
                  got(3.0020, seg(101, 502, FIN | ACK)), sent(3.0021, seg(502, 102, ACK)),
                  moved(3.00203, S.FIN_WAIT_2, S.TIME_WAIT)]:  # published after the ACK
        timeline.append(event)
    row = timeline.snapshot(len(timeline)).rows[("h2", 2)]
    records = history.ladder(timeline, row, len(timeline))
    after = history.states_after(records)
    shown = [(r.flags, after[id(r)]) for r in records if isinstance(r, history.SegRecord)]
    assert shown == [("S", "SYN-RECEIVED"), ("S.", "SYN-RECEIVED"), (".", "ESTABLISHED"),
                     (".", "ESTABLISHED"), ("F.", "FIN-WAIT-1"), (".", "FIN-WAIT-2"),
                     ("F.", "TIME-WAIT"), (".", "TIME-WAIT")]
