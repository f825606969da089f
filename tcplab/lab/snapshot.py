"""What a run looks like at one instant, folded from its event stream.

Theory of operation
-------------------
A :class:`Snapshot` is a fold: :meth:`Snapshot.apply` takes the recorded form of one
event (:func:`tcplab.lab.codec.record`, or a line of ``events.jsonl`` parsed) and
updates what the sockets table, the links panel and the held list show.  Nothing else feeds it:
a live run, a recording, a seek and a rewound branch are all drawn from the same fold of
the same events, so they draw the same at any instant.

It holds only what is small and current -- one :class:`SocketRow` per socket, one line
per link direction, the held segments -- so that :meth:`clone` is cheap enough to keep
checkpoints every few thousand events (:mod:`tcplab.lab.timeline`).  Histories (ladder,
log, plots) are not folded here: they are ranges of the stream itself.

Sequence numbers are kept absolute as recorded; :meth:`SocketRow.relative` gives them
relative to each direction's initial sequence number, as the dashboard shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Addr = tuple[str, int]
Key = tuple[str, int]          # (host, socket id)

_TCB_FIELDS = ("iss", "irs", "snd_una", "snd_nxt", "snd_max", "rcv_nxt", "snd_wnd",
               "rcv_wnd", "cwnd", "ssthresh", "flight", "srtt", "rttvar", "rto", "sendq",
               "recvq")
PATH_LENGTH = 8                # transitions kept per socket for the diagram's path
CLOSED_ROWS_KEPT = 1000        # closed sockets kept as rows, the oldest forgotten first


def _addr(raw: Any) -> Addr | None:
    return None if raw is None else (str(raw[0]), int(raw[1]))


class SocketRow:
    """One socket as the sockets table shows it."""

    __slots__ = (
        "changed",
        "delivered",
        "host",
        "local",
        "path",
        "remote",
        "sid",
        "state",
        "tcb",
        "timers",
    )

    def __init__(self, host: str, sid: int, local: Addr, remote: Addr | None) -> None:
        self.host = host
        self.sid = sid
        self.local = local
        self.remote = remote
        self.state = "CLOSED"
        self.changed = 0.0              # when the state last changed
        # the last transitions: (t, old, new, cause)
        self.path: tuple[tuple[float, str, str, str], ...] = ()
        self.tcb: dict[str, Any] = {}   # the last tcb.sample's fields
        self.timers: tuple[tuple[str, float], ...] = ()
        self.delivered = 0              # bytes its application received

    @property
    def key(self) -> Key:
        """``(host, socket id)``: the row's key in :attr:`Snapshot.rows` and in the
        timeline's per-connection indexes."""
        return (self.host, self.sid)

    @property
    def listener(self) -> bool:
        """A listening socket: it has no remote address."""
        return self.remote is None

    def copy(self) -> SocketRow:
        """A row that can change apart from this one (for :meth:`Snapshot.clone`)."""
        row = SocketRow(self.host, self.sid, self.local, self.remote)
        row.state, row.changed, row.path = self.state, self.changed, self.path
        row.tcb, row.timers, row.delivered = self.tcb, self.timers, self.delivered
        return row  # tcb dicts are replaced whole, never changed in place: shared safely

    def relative(self, name: str) -> int | None:
        """A sequence-number field relative to its direction's ISN (None before a sample)."""
        value = self.tcb.get(name)
        if value is None:
            return None
        base = self.tcb["irs"] if name == "rcv_nxt" else self.tcb["iss"]
        return int((value - base) & 0xFFFFFFFF)


class Snapshot:
    """The fold (see the module docstring)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.count = 0                               # events applied
        self.rows: dict[Key, SocketRow] = {}
        self.closed: dict[Key, None] = {}            # rows now CLOSED, oldest first
        self.names: dict[str, Key] = {}              # conn.named
        self.links: dict[str, tuple[str, str]] = {}  # direction -> (link, params)
        self.held: tuple[str, ...] = ()
        self.hosts_down: dict[str, str] = {}         # host -> reason
        self.last_command: tuple[float, str, bool, str] | None = None
        self.touched: set[Key] = set()   # rows changed since the reader last took them
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "state.changed": self._state, "tcb.sample": self._sample,
            "conn.named": self._named, "link.changed": self._link, "link.held": self._held,
            "command": self._command, "host.status": self._host_status,
            "data.delivered": self._delivered,
        }

    def clone(self) -> Snapshot:
        """An independent copy of the fold (rows copied, not shared), to keep as a
        checkpoint or to seek from; it starts with no rows touched."""
        snap = Snapshot()
        snap.t, snap.count = self.t, self.count
        snap.rows = {key: row.copy() for key, row in self.rows.items()}
        snap.closed = dict(self.closed)
        snap.names = dict(self.names)
        snap.links = dict(self.links)
        snap.held = self.held
        snap.hosts_down = dict(self.hosts_down)
        snap.last_command = self.last_command
        return snap

    def apply(self, ev: dict[str, Any]) -> None:
        """Fold one event in, as its record (a dict with ``kind``, ``t``, ``host`` and the
        kind's fields; see :func:`tcplab.lab.codec.record`).  Every event advances
        :attr:`t` and :attr:`count`; kinds that change nothing shown (segments, drops)
        stop there.  Events must come in stream order: the fold assumes it."""
        self.count += 1
        self.t = ev["t"]
        handler = self._handlers.get(ev["kind"])
        if handler is not None:
            handler(ev)

    # -- the handlers ---------------------------------------------------------------
    def take_touched(self) -> set[Key]:
        """The sockets whose rows changed since the last call."""
        touched, self.touched = self.touched, set()
        return touched

    def _state(self, ev: dict[str, Any]) -> None:
        key = (ev["host"], ev["sid"])
        self.touched.add(key)
        row = self.rows.get(key)
        if row is None:
            local = _addr(ev["local"])
            row = self.rows[key] = SocketRow(ev["host"], ev["sid"], local or ("", 0),
                                             _addr(ev["remote"]))
        elif row.remote is None and ev["remote"] is not None:
            row.remote = _addr(ev["remote"])
        row.state = ev["new"]
        row.changed = ev["t"]
        row.path = (*row.path, (ev["t"], ev["old"], ev["new"], ev["cause"]))[-PATH_LENGTH:]
        if row.state == "CLOSED":
            row.timers = ()
            # a bounded history: a SYN flood or a long run must not grow the table forever
            self.closed[key] = None
            while len(self.closed) > CLOSED_ROWS_KEPT:
                gone = next(iter(self.closed))
                del self.closed[gone]
                self.rows.pop(gone, None)
        else:
            self.closed.pop(key, None)

    def _sample(self, ev: dict[str, Any]) -> None:
        key = (ev["host"], ev["sid"])
        row = self.rows.get(key)
        if row is not None:
            self.touched.add(key)
            row.tcb = {name: ev[name] for name in _TCB_FIELDS}
            row.timers = tuple((str(n), float(d)) for n, d in ev["timers"])

    def _named(self, ev: dict[str, Any]) -> None:
        self.names[ev["name"]] = key = (ev["host"], ev["sid"])
        self.touched.add(key)

    def _link(self, ev: dict[str, Any]) -> None:
        self.links[ev["direction"]] = (ev["link"], ev["params"])

    def _held(self, ev: dict[str, Any]) -> None:
        self.held = (*self.held, f"{ev['direction']} {ev['summary']}")

    def _command(self, ev: dict[str, Any]) -> None:
        self.last_command = (ev["t"], ev["line"], ev["ok"], ev["message"])
        if ev["ok"] and ev["line"].startswith("release"):
            self.held = ()  # what is still held is held again as it arrives

    def _host_status(self, ev: dict[str, Any]) -> None:
        if ev["up"]:
            self.hosts_down.pop(ev["host"], None)
        else:
            self.hosts_down[ev["host"]] = ev["reason"]

    def _delivered(self, ev: dict[str, Any]) -> None:
        row = self.rows.get((ev["host"], ev["sid"]))
        if row is not None:
            row.delivered += ev["len"]

    # -- reading ------------------------------------------------------------------------
    def name_of(self, key: Key) -> str | None:
        """``c1`` for a named socket, ``c1'`` for its other end, else None."""
        for name, named in self.names.items():
            if named == key:
                return name
        row = self.rows.get(key)
        if row is None or row.remote is None:
            return None
        for name, named in self.names.items():
            other = self.rows.get(named)
            if other is None or other.remote != row.local or other.local != row.remote:
                continue
            # the accepted side's IRS is the named side's ISS (a reused four-tuple is not it)
            iss, irs = other.tcb.get("iss"), row.tcb.get("irs")
            if iss is None or irs is None or irs == iss:
                return name + "'"
        return None

    def peer_of(self, row: SocketRow | None) -> SocketRow | None:
        """The other end of a connection when it is a lab socket too (the newest one
        with the reversed four-tuple)."""
        if row is None or row.remote is None:
            return None
        found = None
        for other in self.rows.values():
            if other.local == row.remote and other.remote == row.local:
                found = other
        return found

    def socket_json(self, row: SocketRow) -> dict[str, Any]:
        """One socket for ``tcplab replay --at T --json``: what the sockets table shows."""
        tcb = row.tcb
        return {
            "host": row.host, "sid": row.sid, "name": self.name_of(row.key),
            "local": f"{row.local[0]}:{row.local[1]}",
            "remote": None if row.remote is None else f"{row.remote[0]}:{row.remote[1]}",
            "state": row.state,
            "snd_una": row.relative("snd_una"), "snd_nxt": row.relative("snd_nxt"),
            "snd_max": row.relative("snd_max"), "rcv_nxt": row.relative("rcv_nxt"),
            "snd_wnd": tcb.get("snd_wnd"), "rcv_wnd": tcb.get("rcv_wnd"),
            "cwnd": tcb.get("cwnd"), "ssthresh": tcb.get("ssthresh"),
            "flight": tcb.get("flight"), "srtt": tcb.get("srtt"),
            "rttvar": tcb.get("rttvar"), "rto": tcb.get("rto"),
            "sendq": tcb.get("sendq"), "recvq": tcb.get("recvq"),
            "timers": {name: deadline for name, deadline in row.timers},
            "iss": tcb.get("iss"), "irs": tcb.get("irs"),
        }
