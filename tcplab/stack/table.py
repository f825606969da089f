"""A host's socket table: every socket by id, the demux table, listeners by port, and
how many closed sockets it still answers for.

Theory of operation
-------------------
Socket ids count up from 1 and are never reused.  A socket is found by id
(:meth:`SocketTable.get`), an arriving segment by its four-tuple (``demux``) or, for a
SYN, by the listener on its port (``listeners``).  When a connection reaches CLOSED
(:meth:`SocketTable.finish`) it leaves the demux table, its listener's queues and its
port; its record is kept so ``Host.socket(id)`` still answers, but only for the last
``closed_kept`` closed sockets: older ones are freed, so memory does not grow with the
number of connections a host has seen (a SYN flood makes one record per SYN).
"""

from __future__ import annotations

import errno as E
from collections import deque

from tcplab.stack.ports import Ports
from tcplab.stack.sockets import DemuxKey, HostError, SocketRecord
from tcplab.tcp.connection import Connection

CLOSED_KEPT = 128  # closed sockets a host still answers for


class SocketTable:
    """See the module docstring."""

    __slots__ = ("_closed", "_next_sid", "closed_kept", "demux", "listeners", "ports",
                 "reading", "socks")

    def __init__(self, ports: Ports, closed_kept: int = CLOSED_KEPT) -> None:
        self.ports = ports
        self.closed_kept = closed_kept
        self.socks: dict[int, SocketRecord] = {}
        self.demux: dict[DemuxKey, SocketRecord] = {}
        self.listeners: dict[int, SocketRecord] = {}
        self._closed: deque[int] = deque()  # finished sockets still kept, oldest first
        self._next_sid = 1
        self.reading = True  # whether the application reads a new socket (Host.set_reading)

    def new(self, conn: Connection, local: tuple[str, int], remote: tuple[str, int] | None,
            *, listener: int | None = None, accepted: bool = True, active: bool = False,
            backlog: int = 0) -> SocketRecord:
        """Make and register a socket record with the next id."""
        rec = SocketRecord(self._next_sid, conn, local, remote, listener=listener,
                           accepted=accepted, active=active, backlog=backlog)
        # an accepted connection reads as its listener did
        rec.reading = self.reading if listener is None else self.socks[listener].reading
        self.socks[rec.sid] = rec
        self._next_sid += 1
        return rec

    def bind(self, rec: SocketRecord, key: DemuxKey) -> None:
        """Enter ``rec`` in the demux table under ``key``."""
        rec.key = key
        rec.src_ip, rec.dst_ip = key[0], key[2]
        self.demux[key] = rec
        self.ports.take(key[1], rec.active)

    def get(self, sid: int) -> SocketRecord:
        """The socket ``sid`` (a closed one is still known); HostError if unknown."""
        rec = self.socks.get(sid)
        if rec is None:
            if 0 < sid < self._next_sid:
                raise HostError(E.EBADF, f"socket {sid} is closed and forgotten (a host "
                                         f"keeps the last {self.closed_kept} closed ones)")
            raise HostError(E.EBADF, f"no such socket {sid}")
        return rec

    def connection(self, sid: int) -> SocketRecord:
        """The connection socket ``sid``; HostError for a listener."""
        rec = self.get(sid)
        if rec.is_listener:
            raise HostError(E.EINVAL, f"socket {sid} is listening")
        return rec

    def finish(self, rec: SocketRecord) -> None:
        """``rec`` reached CLOSED: out of the demux table, the queues and its port."""
        rec.finished = True
        port = rec.local[1]
        self.ports.give_back(port, rec.active)
        if rec.key is not None:
            del self.demux[rec.key]
        if rec.is_listener:
            del self.listeners[port]
        elif rec.listener is not None and (lst := self.socks.get(rec.listener)) is not None:
            lst.syn_queue.discard(rec.sid)
            if rec.sid in lst.accept_queue:
                lst.accept_queue.remove(rec.sid)
        # free the oldest closed records beyond the bound (children of a freed listener
        # find it gone: every lookup of rec.listener allows for that)
        self._closed.append(rec.sid)
        while len(self._closed) > self.closed_kept:
            del self.socks[self._closed.popleft()]
