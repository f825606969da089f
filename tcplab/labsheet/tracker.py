"""What a lab's checks need to know about a run, folded from its event dicts.

The fold keeps, per socket, what conditions ask about -- the states it visited, its
transitions, the bytes its application got, how many of its segments matched each
segment filter the sheet uses, the timers that fired, the errors -- and no more, so
evaluating a condition costs a dictionary look-up, however long the run.  The segment
filters are registered before the first event (:meth:`Tracker.watch`): counting a
segment means testing it against those few filters once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tcplab.lab import commands as C
from tcplab.tcp.segment import ACK, FIN, PSH, RST, SYN

Addr = tuple[str, int]
Key = tuple[str, int]   # (host, socket id)

_FLAG_BITS = {"S": SYN, "F": FIN, "R": RST, "P": PSH, ".": ACK}


def flag_bits(letters: str) -> int:
    """The TCP flag bits of a recorded segment's ``flags`` letters (``"S."``)."""
    bits = 0
    for letter in letters:
        bits |= _FLAG_BITS.get(letter, 0)
    return bits


@dataclass(frozen=True, slots=True)
class SegmentFilter:
    """Which segments a condition counts: a kind of ``hold``/``drop``, and optionally a
    TCP option present (by its first word: ``sack``, ``wscale``...), a raw window value,
    or why it was sent again (``rto``, ``fast``, ``sack``, ``probe``: retransmissions)."""

    kind: C.SegmentKind
    option: str | None = None
    window: int | None = None
    retransmitted: bool = False
    why: str | None = None

    def matches(self, segment: dict[str, Any], why: str | None) -> bool:
        if self.retransmitted and why is None:
            return False
        if self.why is not None and why != self.why:
            return False
        if not self.kind.matches(flag_bits(segment["flags"]), int(segment["len"])):
            return False
        if self.window is not None and int(segment["window"]) != self.window:
            return False
        return self.option is None or any(
            str(opt).split(" ", 1)[0].lower() == self.option for opt in segment["options"])

    def describe(self) -> str:
        """The segments it counts, in the plural: ``FIN segments``."""
        what = "segments" if self.kind is C.SegmentKind.ANY else f"{self.kind.value} segments"
        if self.option is not None:
            what += f" with the {self.option} option"
        if self.window is not None:
            what += f" with window {self.window}"
        return what


@dataclass(slots=True)
class Sock:
    """One socket as the checks see it."""

    host: str
    sid: int
    local: Addr
    remote: Addr | None
    order: int                          # the order sockets first appeared in
    first_old: str                      # the state it started from (LISTEN: accepted)
    state: str = "CLOSED"
    seen: list[str] = field(default_factory=list)       # states entered, in order
    transitions: list[tuple[str, str, str]] = field(default_factory=list)
    since: float = 0.0                   # when it entered its current state
    stays: dict[str, float] = field(default_factory=dict)  # state -> longest stay ended
    delivered: int = 0
    iss: int | None = None
    irs: int | None = None
    counts: dict[int, int] = field(default_factory=dict)   # filter index -> segments
    timers: dict[str, int] = field(default_factory=dict)   # timer name -> times fired
    errors: list[str] = field(default_factory=list)
    name: str | None = None              # the name the student gave it (``as c1``)

    @property
    def key(self) -> Key:
        return (self.host, self.sid)

    @property
    def active(self) -> bool:
        """Opened by a ``connect`` (not accepted by a listener, not a listener)."""
        return self.remote is not None and self.first_old == "CLOSED"

    @property
    def listener(self) -> bool:
        return self.remote is None

    def visited(self) -> list[str]:
        """The states it has been in: an accepted socket starts as its listener's LISTEN;
        the CLOSED an opened one starts from is no state it was in (it did not exist)."""
        return self.seen if self.first_old == "CLOSED" else [self.first_old, *self.seen]


class Tracker:
    """The fold (see the module docstring)."""

    def __init__(self, hosts: dict[str, str] | None = None) -> None:
        self.ip_of: dict[str, str] = dict(hosts or {})        # host name -> IP
        self.host_of: dict[str, str] = {ip: h for h, ip in self.ip_of.items()}
        self.kernel: set[str] = set()   # hosts running Linux's TCP in this run (header)
        self.socks: dict[Key, Sock] = {}
        self.filters: list[SegmentFilter] = []
        self.host_counts: dict[tuple[str, int], int] = {}    # (host, filter) -> segments
        self.host_timers: dict[tuple[str, str], int] = {}
        self.drops: dict[tuple[str, str, int], int] = {}     # (src host, dst host, filter)
        self.failed_commands: list[tuple[str, str]] = []  # (line, message) of failures
        self.t = 0.0
        self._by_tuple: dict[tuple[str, Addr, Addr], Sock] = {}
        # (host, sid, seq) -> the segment last sent from there, for its retransmissions
        self._last_sent: dict[tuple[str, int, int], dict[str, Any]] = {}
        self._peers: dict[Key, Key] = {}
        # segments of sockets not seen yet: Linux answers a SYN from a request socket,
        # so a kernel host's SYN-ACK comes before the socket's first state change
        self._early: dict[Key, dict[int, int]] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], bool]] = {
            "header": self._header, "state.changed": self._state, "tcb.sample": self._sample,
            "segment.sent": self._sent, "segment.retransmitted": self._rtx,
            "timer.fired": self._timer, "data.delivered": self._delivered,
            "socket.error": self._error, "link.dropped": self._dropped,
            "conn.named": self._named, "command": self._command,
        }

    def watch(self, flt: SegmentFilter) -> int:
        """Count segments matching ``flt`` from now on; its index for :meth:`count`."""
        if flt in self.filters:
            return self.filters.index(flt)
        self.filters.append(flt)
        return len(self.filters) - 1

    def feed(self, ev: dict[str, Any]) -> tuple[bool, bool]:
        """Fold one event: whether it may change what a condition says, and whether
        the clock moved (a state may have lasted long enough now)."""
        t = float(ev.get("t", self.t))
        moved = t > self.t
        self.t = t
        handler = self._handlers.get(ev["kind"])
        return (handler(ev) if handler is not None else False), moved

    def stayed(self, sock: Sock, state: str) -> float:
        """The longest time ``sock`` stayed in ``state`` (its current stay so far)."""
        longest = sock.stays.get(state, 0.0)
        if sock.state == state:
            longest = max(longest, self.t - sock.since)
        return longest

    # -- reading ------------------------------------------------------------------------
    def host_name(self, ip: str) -> str:
        return self.host_of.get(ip, ip)

    def peer(self, sock: Sock) -> Sock | None:
        """The other end of a connection when it is a lab socket: the reversed
        four-tuple, and (once both are known) its IRS is this side's ISS, so that a later
        connection reusing the four-tuple is not taken for it."""
        known = self._peers.get(sock.key)
        if known is not None:
            return self.socks[known]
        if sock.remote is None:
            return None
        found = None
        for other in self.socks.values():
            if other.local != sock.remote or other.remote != sock.local:
                continue
            if sock.iss is not None and other.irs is not None and other.irs != sock.iss:
                continue
            if other.order > sock.order or found is None or other.active == sock.active:
                found = other  # the newest candidate; an accepted one before active ones
        if found is not None and sock.iss is not None and found.irs == sock.iss:
            self._peers[sock.key] = found.key
            self._peers[found.key] = sock.key
        return found

    def count(self, sock: Sock, index: int) -> int:
        return sock.counts.get(index, 0)

    # -- the handlers -------------------------------------------------------------------
    def _header(self, ev: dict[str, Any]) -> bool:
        for host in ev.get("hosts", ()):
            self.ip_of[str(host["name"])] = str(host["ip"])
            self.host_of[str(host["ip"])] = str(host["name"])
            if host.get("kernel"):
                self.kernel.add(str(host["name"]))
        return False

    def _state(self, ev: dict[str, Any]) -> bool:
        key = (ev["host"], ev["sid"])
        sock = self.socks.get(key)
        remote = None if ev["remote"] is None else (str(ev["remote"][0]), int(ev["remote"][1]))
        if sock is None:
            local = (str(ev["local"][0]), int(ev["local"][1]))
            sock = self.socks[key] = Sock(ev["host"], ev["sid"], local, remote,
                                          len(self.socks), ev["old"], state=ev["old"],
                                          since=float(ev["t"]),
                                          counts=self._early.pop(key, {}))
        elif sock.remote is None and remote is not None:
            sock.remote = remote
        if sock.remote is not None:
            self._by_tuple[(sock.host, sock.local, sock.remote)] = sock
        t = float(ev["t"])
        if ev["new"] != sock.state:  # TIME-WAIT -> TIME-WAIT (restarted) stays there
            stay = t - sock.since
            sock.stays[sock.state] = max(sock.stays.get(sock.state, 0.0), stay)
            sock.since = t
        sock.state = ev["new"]
        sock.seen.append(ev["new"])
        sock.transitions.append((ev["old"], ev["new"], str(ev.get("cause", ""))))
        return True

    def _sample(self, ev: dict[str, Any]) -> bool:
        sock = self.socks.get((ev["host"], ev["sid"]))
        if sock is not None and (ev["host"] not in self.kernel or ev["iss"]):
            # (a kernel host's are read off its segments: 0 before its agent saw the SYNs)
            sock.iss = int(ev["iss"])
            sock.irs = int(ev["irs"]) if ev["irs"] else sock.irs
        return False

    def _named(self, ev: dict[str, Any]) -> bool:
        sock = self.socks.get((ev["host"], ev["sid"]))
        if sock is not None:
            sock.name = str(ev["name"])
        return False

    def _command(self, ev: dict[str, Any]) -> bool:
        if ev["ok"]:
            return False
        self.failed_commands.append((str(ev["line"]), str(ev["message"])))
        return True

    def _sent(self, ev: dict[str, Any]) -> bool:
        host, sid, seg = ev["host"], ev["sid"], ev["segment"]
        if sid is not None:
            self._last_sent[(host, sid, int(seg["seq"]))] = seg
            sock = self.socks.get((host, sid))
        else:  # a RST for a socket that is gone: the newest socket with its four-tuple
            src, dst = ev["src"], ev["dst"]
            sock = self._by_tuple.get((host, (str(src[0]), int(src[1])),
                                       (str(dst[0]), int(dst[1]))))
        if sock is None and sid is not None:
            return self._count(host, None, seg, None, self._early.setdefault((host, sid), {}))
        return self._count(host, sock, seg, None)

    def _count(self, host: str, sock: Sock | None, seg: dict[str, Any], why: str | None,
               early: dict[int, int] | None = None) -> bool:
        changed = False
        for index, flt in enumerate(self.filters):
            if flt.matches(seg, why):
                changed = True
                hk = (host, index)
                self.host_counts[hk] = self.host_counts.get(hk, 0) + 1
                counts = sock.counts if sock is not None else early
                if counts is not None:
                    counts[index] = counts.get(index, 0) + 1
        return changed

    def _rtx(self, ev: dict[str, Any]) -> bool:
        # Counted here, as the segment last sent from that sequence number: the copy's
        # own segment.sent may come much later, or never (it waits for ARP while a
        # link is down) -- the sender decided to send again all the same.
        host, sid = ev["host"], ev["sid"]
        seg = self._last_sent.get((host, sid, int(ev["seq"])))
        if seg is None:
            # never on the wire yet (queued for ARP from the start): by its length, data
            seg = {"flags": ".", "len": int(ev["length"]), "window": -1, "options": ()}
        return self._count(host, self.socks.get((host, sid)), seg, str(ev["why"]))

    def _timer(self, ev: dict[str, Any]) -> bool:
        name = str(ev["name"])
        sock = self.socks.get((ev["host"], ev["sid"]))
        if sock is not None:
            sock.timers[name] = sock.timers.get(name, 0) + 1
        hk = (ev["host"], name)
        self.host_timers[hk] = self.host_timers.get(hk, 0) + 1
        return True

    def _delivered(self, ev: dict[str, Any]) -> bool:
        sock = self.socks.get((ev["host"], ev["sid"]))
        if sock is None:
            return False
        sock.delivered += int(ev["len"])
        return True

    def _error(self, ev: dict[str, Any]) -> bool:
        sock = self.socks.get((ev["host"], ev["sid"]))
        if sock is None:
            return False
        sock.errors.append(str(ev["errname"]))
        return True

    def _dropped(self, ev: dict[str, Any]) -> bool:
        seg = ev.get("segment")
        if seg is None:
            return False
        head = str(ev.get("summary", "")).split(" ", 1)[0]
        src, _, dst = head.partition(">")
        shost = self.host_name(src.rsplit(":", 1)[0])
        dhost = self.host_name(dst.rsplit(":", 1)[0])
        changed = False
        for index, flt in enumerate(self.filters):
            if flt.matches(seg, None):
                key = (shost, dhost, index)
                self.drops[key] = self.drops.get(key, 0) + 1
                changed = True
        return changed
