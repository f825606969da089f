"""A learning bridge (IEEE 802.1D transparent bridging, without spanning tree).

The switch speaks the same node protocol as a host (``receive_frame``,
``frames_to_send``, ``get_timer``, ``handle_timer``) so the network wires both
the same way. On every frame it learns "source MAC lives behind the ingress
port", then forwards: a known unicast destination goes out of its one port
(or nowhere, if that is the ingress port); broadcast, multicast and unknown
destinations are flooded to every port but the ingress, in the order the ports
were added so runs are repeatable. A frame never leaves by the port it came in.

Entries age out ``aging`` seconds after their MAC was last seen as a source
(Linux bridges default to 300 s); aging is checked on lookup, so the switch
needs no timer. Forwarding takes no time: the links carry all the delay.
"""

from __future__ import annotations

# Ethernet header: destination MAC, source MAC, EtherType.
_ETH_HEADER = 14
DEFAULT_AGING = 300.0


class LearningSwitch:
    """A MAC-learning switch with named ports."""

    def __init__(self, name: str, aging: float = DEFAULT_AGING) -> None:
        if not aging > 0:
            raise ValueError(f"switch aging must be > 0 seconds, not {aging!r}")
        self.name = name
        self.aging = aging
        self.ports: list[str] = []
        self._table: dict[bytes, tuple[str, float]] = {}
        self._out: list[tuple[str, bytes]] = []

    def add_port(self, ifname: str) -> None:
        if ifname in self.ports:
            raise ValueError(f"switch {self.name} already has a port {ifname}")
        self.ports.append(ifname)

    def lookup(self, mac: bytes, now: float) -> str | None:
        """The port ``mac`` was last seen on, or None if unknown or aged out."""
        entry = self._table.get(mac)
        if entry is None:
            return None
        port, seen = entry
        if now - seen >= self.aging:
            del self._table[mac]
            return None
        return port

    def mac_table(self, now: float) -> list[tuple[bytes, str]]:
        """Live (MAC, port) entries, sorted by MAC, for display."""
        return [(mac, port) for mac in sorted(self._table) if (port := self.lookup(mac, now))]

    # -- node protocol --------------------------------------------------------

    def receive_frame(self, ifname: str, frame: bytes, now: float) -> None:
        if len(frame) < _ETH_HEADER:
            return  # a runt carries no addresses to learn or forward by
        dst = frame[0:6]
        src = frame[6:12]
        if not src[0] & 1:  # a group address is never a valid source
            self._table[src] = (ifname, now)
        port = None if dst[0] & 1 else self.lookup(dst, now)
        if port is None:
            self._out.extend((p, frame) for p in self.ports if p != ifname)
        elif port != ifname:
            self._out.append((port, frame))

    def frames_to_send(self) -> list[tuple[str, bytes]]:
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        """Never called: the switch arms no timer."""
