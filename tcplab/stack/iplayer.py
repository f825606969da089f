"""Below TCP: a host's interfaces, ARP, IPv4 in and out, ICMP echo, routing.

Theory of operation
-------------------
:class:`IpLayer` is the part of a :class:`~tcplab.stack.host.Host` that knows about
frames.  ``receive_frame`` checks Ethernet (our MAC or broadcast), answers ARP and
learns from it (RFC 826), checks IPv4, answers ICMP echo requests, and hands a TCP
payload back to the host as ``(ifname, src ip, dst ip, payload)``; everything else
is dropped with a reason (a ``FrameDropped`` event and a count in ``drops``).

``send_packet`` wraps an IPv4 packet in Ethernet for its next hop.  Without an ARP
entry the packet waits in the ARP queue together with the ``SegmentSent`` event
that describes it; the event is emitted, re-stamped with the time the frame really
leaves, when the reply arrives -- or the packet is dropped with "arp timeout".

The host and this layer share one event deque and one drop counter, so the order
of events is the order things happened.
"""

from __future__ import annotations

import errno as E
from collections import Counter, deque
from dataclasses import dataclass, replace
from socket import inet_ntoa

from tcplab.stack import ethernet, ipv4
from tcplab.stack.arp import OP_REPLY, OP_REQUEST, ArpCache, build_arp, parse_arp
from tcplab.stack.events import FrameDropped, HostEvent, SegmentSent
from tcplab.stack.sockets import HostError, SocketRecord
from tcplab.tcp.codec import encode, ip_to_bytes
from tcplab.tcp.config import Config
from tcplab.tcp.segment import Segment

_ZERO_IP = bytes(4)

# A packet waiting for ARP: (ifname, IPv4 packet, the event to emit when it leaves).
_Queued = tuple[str, bytes, SegmentSent | None]


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    """An interface as the user sees it: name, MAC, address, prefix and MTU."""
    name: str
    mac: str
    ip: str
    prefix_len: int
    mtu: int


@dataclass(slots=True)
class Interface:
    """An interface as the IP layer keeps it (addresses as bytes)."""
    name: str
    mac: bytes
    ip: bytes
    ip_str: str
    prefix_len: int
    mtu: int
    config: Config  # the host's TCP config with the MSS this MTU allows (MTU - 40)

    def child_config(self, parent: Config) -> Config:
        """A listener's child's config: this interface's MSS (the SYN came in here),
        the listener's TCP features."""
        return replace(self.config, sack=parent.sack, timestamps=parent.timestamps,
                       window_scaling=parent.window_scaling, nagle=parent.nagle,
                       keepalive=parent.keepalive, rack=parent.rack,
                       syn_cookies=parent.syn_cookies)


class IpLayer:
    """A host's interfaces, routes, ARP and IPv4 input and output."""
    def __init__(self, host: str, events: deque[HostEvent], drops: Counter[str],
                 first_ident: int) -> None:
        self.host = host
        self.events = events
        self.drops = drops
        self.ifaces: dict[str, Interface] = {}
        self.local_ips: dict[bytes, Interface] = {}
        self.prefixes: list[ipv4.Prefix] = []  # longest first
        self.broadcasts: set[bytes] = set()    # their directed broadcast addresses
        self.icmp_errors: list[ipv4.IcmpError] = []  # received, for the host to drain
        self.gateway: bytes | None = None
        self.route_gen = 0  # bumped on every change, so cached routes know they are stale
        self.arp: ArpCache[_Queued] = ArpCache()
        self._ip_id = first_ident
        self._frames: list[tuple[str, bytes]] = []

    # ------------------------------------------------------------------ configuration
    def add_interface(self, ifname: str, mac: str | bytes, ip: str, prefix_len: int, mtu: int,
                      config: Config) -> None:
        """Add an interface with address ``ip``/``prefix_len``; a duplicate name or
        bad address is a HostError."""
        if ifname in self.ifaces:
            raise HostError(E.EEXIST, f"{self.host} already has an interface {ifname}")
        try:
            mac_b = ethernet.mac_to_bytes(mac) if isinstance(mac, str) else bytes(mac)
            ip_b = ip_to_bytes(ip)
        except ValueError as exc:
            raise HostError(E.EINVAL, str(exc)) from None
        if len(mac_b) != 6 or ethernet.is_multicast(mac_b):
            raise HostError(E.EINVAL, f"not a unicast MAC address: {mac!r}")
        if ip_b in self.local_ips:
            raise HostError(E.EADDRINUSE, f"{ip} is already on {self.host}")
        if not 1 <= prefix_len <= 32:
            raise HostError(E.EINVAL, f"prefix length {prefix_len} out of range 1..32")
        # 128 keeps MTU - 40 at or above the engine's smallest MSS (88).
        if not 128 <= mtu <= 65535:
            raise HostError(E.EINVAL, f"MTU {mtu} out of range 128..65535")
        cfg = replace(config, mss=min(config.mss, mtu - 40))
        iface = Interface(ifname, mac_b, ip_b, inet_ntoa(ip_b), prefix_len, mtu, cfg)
        self.ifaces[ifname] = iface
        self.local_ips[ip_b] = iface
        self.prefixes.append(ipv4.prefix_of(ip_b, prefix_len, ifname))
        self.prefixes.sort(key=lambda p: -p.prefix_len)  # stable: ties keep insertion order
        self.broadcasts = {b for p in self.prefixes if (b := ipv4.broadcast_of(p)) is not None}
        self.route_gen += 1

    def local_ip(self, text: str) -> bytes:
        """``text`` as bytes if it is one of this host's addresses, else HostError."""
        try:
            ip = ip_to_bytes(text)
        except ValueError as exc:
            raise HostError(E.EINVAL, str(exc)) from None
        if ip not in self.local_ips:
            raise HostError(E.EADDRNOTAVAIL, f"{text} is not an address of {self.host}")
        return ip

    def set_gateway(self, ip: str | None) -> None:
        """Set the default gateway (None: no default route)."""
        try:
            self.gateway = None if ip is None else ip_to_bytes(ip)
        except ValueError as exc:
            raise HostError(E.EINVAL, str(exc)) from None
        self.route_gen += 1

    def interfaces(self) -> list[InterfaceInfo]:
        """Every interface, as :class:`InterfaceInfo`."""
        return [InterfaceInfo(i.name, ethernet.mac_str(i.mac), i.ip_str, i.prefix_len, i.mtu)
                for i in self.ifaces.values()]

    def route(self, dst: bytes) -> tuple[Interface, bytes] | None:
        """The interface and next hop for ``dst``, or None when no route leads there."""
        found = ipv4.route(self.prefixes, self.gateway, dst)
        return None if found is None else (self.ifaces[found[0]], found[1])

    # ------------------------------------------------------------------ receive
    def receive_frame(self, ifname: str, frame: bytes, now: float
                      ) -> tuple[Interface, bytes, bytes, memoryview] | None:
        """A TCP payload for the host as ``(iface, src, dst, payload)``, or None when the
        frame was consumed here (ARP, ICMP) or dropped."""
        iface = self.ifaces.get(ifname)
        if iface is None:
            raise HostError(E.ENODEV, f"{self.host} has no interface {ifname}")
        head = ethernet.parse(frame)
        if isinstance(head, str):
            self.frame_dropped(head, ifname, now)
            return None
        dst, _src, ethertype = head
        if dst != iface.mac and dst != ethernet.BROADCAST:
            self.frame_dropped("not for us", ifname, now)
        elif ethertype == ethernet.ETHERTYPE_IPV4:
            return self._receive_ip(iface, memoryview(frame)[ethernet.ETH_HEADER_LEN:], now)
        elif ethertype == ethernet.ETHERTYPE_ARP:
            self._receive_arp(iface, memoryview(frame)[ethernet.ETH_HEADER_LEN:], now)
        else:
            self.frame_dropped("unknown ethertype", ifname, now)
        return None

    def _receive_arp(self, iface: Interface, data: memoryview, now: float) -> None:
        pkt = parse_arp(data)
        if isinstance(pkt, str):
            self.frame_dropped(pkt, iface.name, now)
            return
        op, sha, spa, _tha, tpa = pkt
        for_us = tpa == iface.ip
        # RFC 5227 probes come from 0.0.0.0: nothing to learn from them.
        ready = self.arp.learn(spa, sha, now, for_us) if spa != _ZERO_IP else []
        if for_us and op == OP_REQUEST:
            reply = build_arp(OP_REPLY, iface.mac, iface.ip, sha, spa)
            self._frames.append((iface.name, ethernet.build(sha, iface.mac,
                                                            ethernet.ETHERTYPE_ARP, reply)))
        for ifname, packet, event in ready:
            self._emit_frame(self.ifaces[ifname], sha, packet, event, now)

    def _receive_ip(self, iface: Interface, data: memoryview, now: float
                    ) -> tuple[Interface, bytes, bytes, memoryview] | None:
        h = ipv4.parse(data)
        if isinstance(h, str):
            self.frame_dropped(h, iface.name, now)
            return None
        # Weak host model (RFC 1122 §3.3.4.2): any of our addresses on any interface.
        # A packet for another address is dropped: hosts do not forward (§3.3.1).
        if h.dst not in self.local_ips:
            self.frame_dropped("not for us", iface.name, now)
            return None
        if self.invalid_remote(h.src) is not None:
            # RFC 1122 §3.2.1.3: a martian source; for TCP, RFC 9293 §3.9.2.3 (MUST-63)
            self.frame_dropped("bad source address", iface.name, now)
            return None
        payload = data[h.header_len:h.total_len]
        if h.proto == ipv4.PROTO_TCP:
            return iface, h.src, h.dst, payload
        if h.proto == ipv4.PROTO_ICMP:
            reply = ipv4.echo_reply(payload)
            if isinstance(reply, bytes):
                self.send_ip(ipv4.PROTO_ICMP, h.dst, h.src, reply, None, now, df=False)
                return None
            error = ipv4.icmp_error(payload) if reply is None else reply
            if isinstance(error, ipv4.IcmpError):
                self.icmp_errors.append(error)  # for TCP (RFC 9293 §3.9.2.2)
            else:  # other ICMP messages are not acted on
                self.frame_dropped(error or "not tcp", iface.name, now)
        else:
            self.frame_dropped("not tcp", iface.name, now)
        return None

    def invalid_remote(self, ip: bytes) -> str | None:
        """Why ``ip`` cannot be a peer (a broadcast, multicast, loopback... address, or
        the directed broadcast of a connected network), or None."""
        why = ipv4.special(ip)
        if why is None and ip in self.broadcasts:
            why = "a broadcast address"
        return why

    # ------------------------------------------------------------------ send
    def send_ip(self, proto: int, src: bytes, dst: bytes, payload: bytes,
                event: SegmentSent | None, now: float, df: bool = True) -> None:
        """Send an IPv4 datagram from ``src`` to ``dst``, routed (a failure is a drop
        event, never an exception)."""
        found = self.route(dst)
        if found is None:
            self.frame_dropped("no route", "", now)
            return
        packet = ipv4.build(src, dst, proto, payload, self.ident(), df=df)
        self.send_packet(found[0], found[1], packet, event, now)

    def send_segment(self, rec: SocketRecord, seg: Segment, now: float) -> None:
        """Send a connection's segment: routed (the route is cached on the socket until
        the routes change), in IPv4 with the socket's TTL and TOS as they are now
        (SHLD-21, SHLD-22)."""
        assert rec.remote is not None
        if rec.route_gen != self.route_gen:
            found = self.route(rec.dst_ip)
            if found is None:
                self.frame_dropped("no route", rec.ifname, now)
                return
            rec.ifname, rec.next_hop = found[0].name, found[1]
            rec.route_gen = self.route_gen
        ev = SegmentSent(now, self.host, rec.sid, rec.local, rec.remote, seg, rec.ifname)
        cfg = rec.conn.config
        packet = ipv4.build(rec.src_ip, rec.dst_ip, ipv4.PROTO_TCP,
                            encode(seg, rec.src_ip, rec.dst_ip), self.ident(), ttl=cfg.ttl,
                            tos=cfg.tos)
        self.send_packet(self.ifaces[rec.ifname], rec.next_hop, packet, ev, now)

    def send_packet(self, iface: Interface, next_hop: bytes, packet: bytes,
                    event: SegmentSent | None, now: float) -> None:
        """Put an IP ``packet`` on ``iface`` for ``next_hop``, resolving its MAC first
        if need be (the packet then waits in the ARP queue)."""
        if len(packet) > iface.mtu:
            self.frame_dropped("exceeds mtu", iface.name, now)
            return
        mac = self.arp.lookup(next_hop, now)
        if mac is not None:
            self._emit_frame(iface, mac, packet, event, now)
            return
        request, dropped = self.arp.resolve(iface.name, next_hop, (iface.name, packet, event),
                                            now)
        if request:
            self._send_arp_request(iface, next_hop)
        if dropped is not None:
            self.frame_dropped("arp queue full", iface.name, now)

    def _emit_frame(self, iface: Interface, mac: bytes, packet: bytes,
                    event: SegmentSent | None, now: float) -> None:
        self._frames.append((iface.name, ethernet.build(mac, iface.mac,
                                                        ethernet.ETHERTYPE_IPV4, packet)))
        if event is not None:
            self.events.append(event if event.t == now else replace(event, t=now))

    def _send_arp_request(self, iface: Interface, ip: bytes) -> None:
        req = build_arp(OP_REQUEST, iface.mac, iface.ip, ethernet.ZERO_MAC, ip)
        self._frames.append((iface.name, ethernet.build(ethernet.BROADCAST, iface.mac,
                                                        ethernet.ETHERTYPE_ARP, req)))

    def ident(self) -> int:
        """The next IPv4 identification field."""
        # RFC 6864 §4.1: atomic datagrams may carry any ID; a counter keeps traces readable.
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        return self._ip_id

    def frames_to_send(self) -> list[tuple[str, bytes]]:
        """Drain the Ethernet frames to put on the wire, as ``(ifname, frame)``."""
        out = self._frames
        self._frames = []
        return out

    # ------------------------------------------------------------------ ARP timers
    def get_timer(self) -> float | None:
        """The ARP layer's next deadline, or None."""
        return self.arp.get_timer()

    def handle_timer(self, now: float) -> None:
        """Run the ARP timers due at ``now`` (requests again, or give up)."""
        deadline = self.arp.get_timer()
        if deadline is None or deadline > now:
            return
        requests, dropped = self.arp.handle_timer(now)
        for ifname, ip in requests:
            self._send_arp_request(self.ifaces[ifname], ip)
        for ifname, _packet, _event in dropped:
            self.frame_dropped("arp timeout", ifname, now)

    def frame_dropped(self, reason: str, ifname: str, now: float) -> None:
        """Count a frame-level drop and report it."""
        self.drops[reason] += 1
        self.events.append(FrameDropped(now, self.host, reason, ifname))
