"""Socket records, the socket snapshot the UI sees, and the user-error type.

Theory of operation
-------------------
Every socket a host creates -- listener, child of a listener, or active opener --
gets a :class:`SocketRecord` under a small integer id that is never reused, so the
UI, scripts and recordings can name it for the whole run.  The record outlives its
connection for a while: once the engine reaches CLOSED the host takes it out of the
demux table, but ``Host.socket(id)`` still answers with its final state and history
until the record is freed (:mod:`tcplab.stack.table` keeps the last 128 closed ones).

A listener's record also holds its two queues (RFC 9293 leaves them to the
implementation; these follow BSD/Linux): the SYN queue of children still in
SYN-RECEIVED and the accept queue of established children the application has not
accepted yet.  ``backlog`` bounds each of them.
"""

from __future__ import annotations

import errno as E
from collections import deque
from dataclasses import dataclass

from tcplab.stack.events import TcbSampled
from tcplab.tcp.connection import Connection, Status
from tcplab.tcp.segment import Segment, describe
from tcplab.tcp.states import State

Address = tuple[str, int]
DemuxKey = tuple[bytes, int, bytes, int]  # (local ip, local port, remote ip, remote port)


class HostError(Exception):
    """A socket call the host refuses; ``errno`` is an errno-module value and the
    message is one line meant for the user."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(message)
        self.errno = errno


@dataclass(frozen=True, slots=True)
class SocketInfo:
    """A socket as ``Host.socket(id)`` shows it: a snapshot, not a handle."""
    id: int
    kind: str                       # "listener" or "connection"
    local: Address
    remote: Address | None
    state: State
    listener: int | None            # the listener a child came from
    accepted: bool
    history: tuple[State, ...]      # every state entered, in order
    status: Status
    bytes_delivered: int            # handed to the application
    bytes_sent: int                 # accepted from the application by send()


class SocketRecord:
    """What a host keeps about one socket: its connection, addresses and counters."""
    __slots__ = (
        "accept_queue", "accepted", "active", "backlog", "bytes_delivered", "bytes_sent",
        "conn", "cookie_sent", "dst_ip", "finished", "history", "ifname", "key", "last_sample",
        "listener", "local", "next_hop", "reading", "remote", "route_gen", "sid", "src_ip",
        "syn_queue", "timer", "urgent_signals",
    )

    def __init__(self, sid: int, conn: Connection, local: Address, remote: Address | None, *,
                 listener: int | None = None, accepted: bool = True, active: bool = False,
                 backlog: int = 0) -> None:
        self.sid = sid
        self.conn = conn
        self.local = local
        self.remote = remote
        self.listener = listener
        self.accepted = accepted
        self.active = active            # made by connect(): holds its port against listen()
        self.backlog = backlog
        self.syn_queue: set[int] = set()
        self.accept_queue: deque[int] = deque()
        self.key: DemuxKey | None = None
        self.finished = False
        self.history: list[State] = [conn.state]
        self.bytes_delivered = 0
        self.bytes_sent = 0
        self.timer: float | None = None
        self.last_sample: tuple[object, ...] = ()
        self.urgent_signals = 0  # the connection's count last reported to the application
        self.reading = True      # the application reads what arrives (Host.set_reading)
        self.cookie_sent: float | None = None  # a listener: when it last sent a SYN cookie
        # Cached route; valid while route_gen equals the host's.
        self.route_gen = -1
        self.ifname = ""
        self.next_hop = b""
        self.src_ip = b""
        self.dst_ip = b""

    @property
    def is_listener(self) -> bool:
        """True for a listening socket (it has no remote address)."""
        return self.remote is None

    def arrival_summary(self, seg: Segment | None) -> str:
        """A segment that came to this socket, in one line (``peer>local S. 0:0(0)...``)."""
        peer = f"{self.remote[0]}:{self.remote[1]}" if self.remote else "*"
        text = f"{peer}>{self.local[0]}:{self.local[1]}"
        return f"{text} {describe(seg)}" if seg is not None else text

    def info(self) -> SocketInfo:
        """This socket as a :class:`SocketInfo`."""
        return SocketInfo(
            id=self.sid,
            kind="listener" if self.is_listener else "connection",
            local=self.local,
            remote=self.remote,
            state=self.conn.state,
            listener=self.listener,
            accepted=self.accepted,
            history=tuple(self.history),
            status=self.conn.status(),
            bytes_delivered=self.bytes_delivered,
            bytes_sent=self.bytes_sent,
        )


def tcb_sample(host: str, rec: SocketRecord, now: float) -> TcbSampled | None:
    """The connection's TCB as a ``tcb.sample`` event, or None when nothing of it changed
    since the last one (listeners have no TCB worth showing)."""
    if rec.is_listener:
        return None
    st = rec.conn.status()
    values = (st.iss, st.irs, st.snd_una, st.snd_nxt, st.snd_max, st.rcv_nxt, st.snd_wnd,
              st.rcv_wnd, st.cwnd, st.ssthresh, st.in_flight, st.srtt, st.rttvar, st.rto,
              st.send_queue, st.recv_queue, tuple(sorted(st.timers.items())))
    if values == rec.last_sample:
        return None
    rec.last_sample = values
    return TcbSampled(now, host, rec.sid, *values)


_FEATURE_FIELDS = {"sack": "sack", "timestamps": "timestamps", "wscale": "window_scaling",
                   "nagle": "nagle", "keepalive": "keepalive", "rack": "rack",
                   "syncookies": "syn_cookies"}


def config_fields(features: dict[str, bool]) -> dict[str, bool]:
    """TCP feature names of the command language -> Config field names; HostError for
    a name that is none of them."""
    out: dict[str, bool] = {}
    for key, on in features.items():
        if key not in _FEATURE_FIELDS:
            raise HostError(E.EINVAL, f"unknown TCP feature {key!r} "
                                      f"(one of {', '.join(_FEATURE_FIELDS)})")
        out[_FEATURE_FIELDS[key]] = bool(on)
    return out
