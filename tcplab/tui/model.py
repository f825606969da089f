"""What the dashboard knows, built only from the lab's event stream.

Theory of operation
-------------------
:class:`DashboardModel` subscribes to the lab's events and keeps, per connection
(``(host, socket id)``), what the panels draw: the segments it sent and received
(for the ladder and the time-sequence graph), drops, retransmissions, the bytes its
application got (the stream view), its states with their causes (the diagram).
Socket tables (windows, cwnd, timers) are read from the lab on each refresh.

Bounded everywhere: a long run keeps the last ``MAX_SEGMENTS`` segments and
``MAX_STREAM`` bytes per connection, so memory stays flat with 1000+ sockets.
Events only mark the model dirty; the app redraws at a capped rate.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from tcplab.lab import events as L
from tcplab.stack import events as H
from tcplab.tcp.segment import Segment
from tcplab.tcp.states import State

MAX_SEGMENTS = 4000
MAX_STREAM = 64 * 1024
MAX_LOG = 2000

Addr = tuple[str, int]
Key = tuple[str, int]  # (host, socket id)


@dataclass(slots=True)
class SegmentRecord:
    t: float
    outbound: bool      # sent by this connection's side
    segment: Segment
    dropped: str = ""   # the reason, when the network or the peer dropped it
    retransmission: bool = False


@dataclass(slots=True)
class ConnectionView:
    host: str
    sid: int
    local: Addr
    remote: Addr | None
    states: list[tuple[float, State, str]] = field(default_factory=list)  # (t, new, cause)
    segments: deque[SegmentRecord] = field(default_factory=lambda: deque(maxlen=MAX_SEGMENTS))
    delivered: bytearray = field(default_factory=bytearray)
    delivered_total: int = 0
    retransmissions: set[int] = field(default_factory=set)
    # (t, cwnd, ssthresh, bytes in flight), sampled by the app while selected
    samples: deque[tuple[float, int, int, int]] = field(
        default_factory=lambda: deque(maxlen=2000))

    @property
    def state(self) -> State:
        return self.states[-1][1] if self.states else State.CLOSED

    @property
    def last_change(self) -> tuple[float, State, State, str] | None:
        if not self.states:
            return None
        t, new, cause = self.states[-1]
        old = self.states[-2][1] if len(self.states) > 1 else State.CLOSED
        return t, old, new, cause


class DashboardModel:
    def __init__(self) -> None:
        self.conns: dict[Key, ConnectionView] = {}
        self.by_tuple: dict[tuple[Addr, Addr], Key] = {}
        self.log: deque[str] = deque(maxlen=MAX_LOG)
        self.dirty = True
        self.events_seen = 0
        self.flash: dict[Key, float] = {}   # when a socket last changed state
        self.notices: list[str] = []
        self.held: list[str] = []  # segments a `hold` keeps in the network
        self.touched: set[Key] = set()  # sockets with events since the last redraw

    def _conn(self, host: str, sid: int, local: Addr, remote: Addr | None) -> ConnectionView:
        key = (host, sid)
        view = self.conns.get(key)
        if view is None:
            view = self.conns[key] = ConnectionView(host, sid, local, remote)
        if remote is not None and view.remote is None:
            view.remote = remote
        if view.remote is not None:
            self.by_tuple[(view.local, view.remote)] = key
        return view

    def __call__(self, e: L.LabEvent) -> None:
        self.events_seen += 1
        self.dirty = True
        sid = getattr(e, "sid", None)
        if sid is not None:
            self.touched.add((e.host, sid))
        if isinstance(e, H.StateChanged):
            view = self._conn(e.host, e.sid, e.local, e.remote)
            if not view.states:
                view.states.append((e.t, e.old, ""))
            view.states.append((e.t, e.new, e.cause))
            self.flash[(e.host, e.sid)] = e.t
            self.log.append(f"{e.t:9.3f} {e.host} {e.old} -> {e.new} ({e.cause})")
        elif isinstance(e, H.SegmentSent | H.SegmentReceived):
            if e.sid is None:
                return
            view = self._conn(e.host, e.sid, e.src if isinstance(e, H.SegmentSent) else e.dst,
                              e.dst if isinstance(e, H.SegmentSent) else e.src)
            outbound = isinstance(e, H.SegmentSent)
            rtx = outbound and e.segment.seg_len > 0 and e.segment.seq in view.retransmissions
            view.segments.append(SegmentRecord(e.t, outbound, e.segment, retransmission=rtx))
        elif isinstance(e, H.Retransmission):
            rview = self.conns.get((e.host, e.sid))
            if rview is not None:
                # the event comes before the resent segment's SegmentSent, which the
                # seq check then marks (not the dropped original before it)
                rview.retransmissions.add(e.seq)
        elif isinstance(e, L.LinkHeld):
            self.held.append(f"{e.direction} {e.summary}")
            self.log.append(f"{e.t:9.3f} link {e.direction} holding {e.summary}")
        elif isinstance(e, L.LinkDropped):
            self.log.append(f"{e.t:9.3f} link {e.direction} dropped ({e.reason}) {e.summary}")
            self._mark_drop(e)
        elif isinstance(e, H.Delivered):
            dview = self.conns.get((e.host, e.sid))
            if dview is not None:
                dview.delivered_total += len(e.data)
                dview.delivered += e.data
                if len(dview.delivered) > MAX_STREAM:
                    del dview.delivered[: len(dview.delivered) - MAX_STREAM]
        elif isinstance(e, L.CommandDone):
            if e.ok and e.line.startswith("release"):
                self.held.clear()  # what is still held is held again on arrival
            mark = "ok" if e.ok else "error"
            self.log.append(f"{e.t:9.3f} > {e.line}  [{mark}] {e.message}")
        elif isinstance(e, L.Notice):
            self.notices.append(e.text)
            self.log.append(f"{e.t:9.3f} notice: {e.text}")
        elif isinstance(e, H.SegmentDropped):
            self.log.append(f"{e.t:9.3f} {e.host} dropped ({e.reason}) {e.summary}")
        elif isinstance(e, L.LinkChanged):
            self.log.append(f"{e.t:9.3f} link {e.direction} {e.params}")
        elif isinstance(e, H.SocketError | H.SoftError):
            self.log.append(f"{e.t:9.3f} {e.host} socket {e.sid}: {e.reason}")

    def _mark_drop(self, e: L.LinkDropped) -> None:
        seg = e.segment
        if seg is None:
            return
        head = e.summary.split(" ", 1)[0]
        try:
            src_s, dst_s = head.split(">")
            sip, sport = src_s.rsplit(":", 1)
            dip, dport = dst_s.rsplit(":", 1)
            src, dst = (sip, int(sport)), (dip, int(dport))
        except ValueError:
            return
        key = self.by_tuple.get((src, dst))
        if key is None:
            return
        view = self.conns[key]
        for rec in reversed(view.segments):
            if rec.outbound and rec.segment.seq == seg.seq and rec.segment.ack == seg.ack \
                    and rec.segment.flags == seg.flags and not rec.dropped:
                rec.dropped = e.reason
                return

    def peer_of(self, key: Key) -> ConnectionView | None:
        view = self.conns.get(key)
        if view is None or view.remote is None:
            return None
        other = self.by_tuple.get((view.remote, view.local))
        return self.conns.get(other) if other is not None else None
