"""A host's local TCP ports: how many sockets use each, and the ephemeral range.

An active open takes a free port from the ephemeral range: a random start, then
sequential, skipping ports in use (RFC 6056 §3.3.1-like), as Linux's
``ip_local_port_range`` defaults.  A port stays in use while any socket on it is not
CLOSED; ``active`` counts those of them made by ``connect()`` (a LISTEN may share the
port of an active open still opening, RFC 9293 §3.9.1.1).
"""

from __future__ import annotations

import errno as E
import random
from collections import Counter

from tcplab.stack.sockets import HostError

EPHEMERAL_LOW = 32768   # Linux ip_local_port_range defaults
EPHEMERAL_HIGH = 60999


class Ports:
    """See the module docstring."""

    __slots__ = ("_next", "active", "host", "users")

    def __init__(self, host: str, rng: random.Random) -> None:
        self.host = host
        self.users: Counter[int] = Counter()    # live sockets per local port
        self.active: Counter[int] = Counter()   # ... of them made by connect()
        self._next = rng.randint(EPHEMERAL_LOW, EPHEMERAL_HIGH)

    def take(self, port: int, active: bool) -> None:
        """Count one more user of ``port`` (``active``: by an active open)."""
        self.users[port] += 1
        if active:
            self.active[port] += 1

    def give_back(self, port: int, active: bool) -> None:
        """Count one user of ``port`` fewer."""
        # a port nobody uses leaves the counters: they hold ports in use, not ports seen
        for counter, taken in ((self.users, True), (self.active, active)):
            if taken:
                counter[port] -= 1
                if counter[port] <= 0:
                    del counter[port]

    def ephemeral(self) -> int:
        """A free port of the ephemeral range (not yet taken: :meth:`take` does that)."""
        span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1
        start = self._next - EPHEMERAL_LOW
        for i in range(span):
            port = EPHEMERAL_LOW + (start + i) % span
            if not self.users[port]:
                self._next = EPHEMERAL_LOW + (start + i + 1) % span
                return port
        raise HostError(E.EADDRNOTAVAIL, f"no free ephemeral port on {self.host}")

    @staticmethod
    def check(port: int) -> None:
        """Raise HostError unless ``port`` is 1..65535."""
        if not 1 <= port <= 65535:
            raise HostError(E.EINVAL, f"port {port} out of range 1..65535")
