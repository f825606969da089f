"""ARP (RFC 826) for IPv4 over Ethernet: the packet codec and a sans-I/O cache.

Theory of operation
-------------------
:class:`ArpCache` holds resolved entries (IPv4 -> MAC, each with an expiry time)
and pending resolutions.  It never sends anything itself: its methods return what
the host must put on the wire or drop, so the host stays the only place where
frames and events are made.

* ``lookup`` gives a fresh entry's MAC; an expired entry is forgotten on the spot
  (RFC 1122 §2.3.2.1 asks for a timeout so a moved address is re-learned).
* ``resolve`` queues an IP packet for an unresolved next hop.  The first packet
  for a next hop asks the caller to broadcast a request now; later ones wait.  The
  queue per next hop is short (``queue_limit``); when full, the oldest packet is
  dropped, as Linux does with its ``unres_qlen``.
* ``handle_timer`` re-requests every ``retry_interval`` until ``attempts`` requests
  went unanswered, then gives back the queued packets to be dropped ("arp timeout").
* ``learn`` is RFC 826's merge step: an entry already known (or pending) is
  updated from any ARP packet's sender fields; a new one is created only when the
  packet was addressed to us (``create``).  Learning a pending address returns the
  queued packets, ready to send.

The cache is generic in what it queues: the host stores the IP packet together with
the event to emit once it really leaves.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from tcplab.stack.ethernet import ETHERTYPE_IPV4

ARP_PACKET = struct.Struct("!HHBBH6s4s6s4s")
ARP_LEN = ARP_PACKET.size  # 28

HTYPE_ETHERNET = 1
OP_REQUEST = 1
OP_REPLY = 2

T = TypeVar("T")


class ArpPacket(NamedTuple):
    """An ARP packet's fields (RFC 826), for Ethernet and IPv4."""
    op: int
    sha: bytes  # sender hardware address
    spa: bytes  # sender protocol (IPv4) address
    tha: bytes
    tpa: bytes


def parse_arp(data: bytes | memoryview) -> ArpPacket | str:
    """The packet, or why it is dropped ("malformed arp" / "unsupported arp")."""
    if len(data) < ARP_LEN:
        return "malformed arp"
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = ARP_PACKET.unpack_from(data)
    if htype != HTYPE_ETHERNET or ptype != ETHERTYPE_IPV4 or hlen != 6 or plen != 4:
        return "unsupported arp"
    if op not in (OP_REQUEST, OP_REPLY):
        return "unsupported arp"
    return ArpPacket(op, sha, spa, tha, tpa)


def build_arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    """The bytes of an ARP packet (RFC 826) for Ethernet and IPv4."""
    return ARP_PACKET.pack(HTYPE_ETHERNET, ETHERTYPE_IPV4, 6, 4, op, sha, spa, tha, tpa)


@dataclass(slots=True)
class _Pending(Generic[T]):
    ifname: str
    deadline: float           # next retry, or the give-up time after the last request
    requests_sent: int
    queue: list[T] = field(default_factory=list)


class ArpCache(Generic[T]):
    """IP to MAC entries with an age limit, and the resolutions under way with
    the packets that wait for them (RFC 826; RFC 1122 §2.3.2.2 queueing)."""
    def __init__(self, *, ttl: float = 60.0, retry_interval: float = 1.0, attempts: int = 3,
                 queue_limit: int = 3) -> None:
        self.ttl = ttl
        self.retry_interval = retry_interval
        self.attempts = attempts
        self.queue_limit = queue_limit
        self._entries: dict[bytes, tuple[bytes, float]] = {}  # ip -> (mac, expires)
        self._pending: dict[bytes, _Pending[T]] = {}

    def lookup(self, ip: bytes, now: float) -> bytes | None:
        """The MAC for ``ip`` if a fresh entry holds it, else None."""
        entry = self._entries.get(ip)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._entries[ip]
            return None
        return entry[0]

    def forget(self, ip: bytes) -> None:
        """Drop what is known of ``ip``: the next packet to it asks again."""
        self._entries.pop(ip, None)

    def learn(self, ip: bytes, mac: bytes, now: float, create: bool) -> list[T]:
        """RFC 826 merge; returns the packets that were waiting for ``ip``."""
        pending = self._pending.pop(ip, None)
        if pending is not None or create or ip in self._entries:
            self._entries[ip] = (mac, now + self.ttl)
        return pending.queue if pending is not None else []

    def resolve(self, ifname: str, ip: bytes, item: T, now: float) -> tuple[bool, T | None]:
        """Queue ``item`` until ``ip`` resolves: ``(send a request now, item dropped)``."""
        pending = self._pending.get(ip)
        if pending is None:
            self._pending[ip] = _Pending(ifname, now + self.retry_interval, 1, [item])
            return True, None
        pending.queue.append(item)
        if len(pending.queue) > self.queue_limit:
            return False, pending.queue.pop(0)
        return False, None

    def get_timer(self) -> float | None:
        """When the next ARP request is due again (or gives up), or None."""
        # Few resolutions are ever pending at once: a scan is cheaper than a heap.
        return min((p.deadline for p in self._pending.values()), default=None)

    def handle_timer(self, now: float) -> tuple[list[tuple[str, bytes]], list[T]]:
        """``(requests to send as (ifname, ip), packets dropped after the last attempt)``."""
        requests: list[tuple[str, bytes]] = []
        dropped: list[T] = []
        for ip, pending in list(self._pending.items()):
            if pending.deadline > now:
                continue
            if pending.requests_sent >= self.attempts:
                del self._pending[ip]
                dropped.extend(pending.queue)
            else:
                pending.requests_sent += 1
                pending.deadline = now + self.retry_interval
                requests.append((pending.ifname, ip))
        return requests, dropped

    def entries(self, now: float) -> list[tuple[bytes, bytes, float]]:
        """Fresh entries as ``(ip, mac, expires)``, sorted by address."""
        return sorted((ip, mac, exp) for ip, (mac, exp) in self._entries.items() if exp > now)

    def pending(self) -> list[bytes]:
        """Next hops being resolved."""
        return sorted(self._pending)
