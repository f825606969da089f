"""A host: interfaces, ARP, IPv4, TCP demux and the socket API, all sans-I/O.

Theory of operation
-------------------
A :class:`Host` is driven like the engine it wraps.  The network side feeds it
frames (``receive_frame``) and drains frames (``frames_to_send``); the user side
calls the socket API; time comes in as ``now`` and leaves as ``get_timer``; what
happened is drained with ``next_event``.  Nothing here sleeps, reads a clock or
touches a socket, so the simulated network and a Mininet agent drive the very same
object.

Receive path: :class:`~tcplab.stack.iplayer.IpLayer` handles Ethernet, ARP, IPv4
and ICMP echo and hands TCP payloads up; the codec decodes them; then demux.  Demux
tries the exact four-tuple first, then a listener on the destination port.  A SYN
to a listener becomes a child connection (``Connection.spawn``) unless the
listener's SYN queue or accept queue is full ("backlog full").  Anything else to a
listener follows RFC 9293 §3.10.7.2, and a segment for no socket at all is answered
per §3.10.7.1 (never a RST for a RST).

Send path: after every call into a connection the host *pumps* it: engine events
become host events (auto-read turns "data readable" into a ``Delivered``), queued
segments are encoded, wrapped in IPv4 (DF set, TTL 64) and Ethernet, and the
connection's next deadline goes on the timer heap.  A next hop without an ARP entry
holds the packet in the ARP queue; its ``SegmentSent`` is emitted when the frame
really leaves.

Timers: every connection's next deadline in one heap (:mod:`tcplab.stack.timers`).

A connection that reaches CLOSED leaves the demux table and frees its port; its record
is kept a while and then freed (:mod:`tcplab.stack.table`).
"""

from __future__ import annotations

import errno as E
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace
from socket import inet_ntoa

from tcplab.stack import ethernet, ipv4
from tcplab.stack.cookies import cookie_mss, cookie_syn_ack
from tcplab.stack.events import (
    ConnectionFailed,
    Delivered,
    HostEvent,
    Retransmitted,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    SoftError,
    StateChanged,
    TimerArmed,
    TimerCancelled,
    TimerFired,
)
from tcplab.stack.iplayer import Interface, InterfaceInfo, IpLayer
from tcplab.stack.ports import EPHEMERAL_HIGH, EPHEMERAL_LOW, Ports
from tcplab.stack.sockets import HostError, SocketInfo, SocketRecord, config_fields, tcb_sample
from tcplab.stack.table import CLOSED_KEPT, SocketTable
from tcplab.stack.timers import SocketTimers
from tcplab.tcp import events as tev
from tcplab.tcp.codec import Malformed, decode, encode, ip_to_bytes
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection, TcpError, reset_for
from tcplab.tcp.kinds import Shutdown
from tcplab.tcp.segment import ACK, RST, SYN, Segment, describe
from tcplab.tcp.states import State

__all__ = [
    "EPHEMERAL_HIGH", "EPHEMERAL_LOW", "Host", "HostError", "InterfaceInfo", "SocketInfo",
]

ANY = "0.0.0.0"
_READ_ALL = 1 << 30
_OPENING = (State.SYN_SENT, State.SYN_RECEIVED)


class Host:
    """One host's TCP/IP stack (see the module docstring)."""
    def __init__(self, name: str, *, config: Config | None = None, rng: random.Random,
                 auto_accept: bool = True, auto_read: bool = True,
                 isn_secret: bytes | None = None, closed_kept: int = CLOSED_KEPT) -> None:
        base = config if config is not None else Config()
        try:
            base.validate()
        except ValueError as exc:
            raise HostError(E.EINVAL, f"bad TCP config for {name}: {exc}") from None
        self.name = name
        self.auto_accept = auto_accept
        self.auto_read = auto_read
        # RFC 6528 §3: the ISN key is secret per host.  Unless given, it comes from the
        # run's seeded rng, so that a simulated run replays from its seed.
        self.config = replace(base, isn_secret=isn_secret if isn_secret is not None
                              else rng.randbytes(16))
        self.drops: Counter[str] = Counter()  # every drop reason, frame and segment level
        self.cookies: Counter[str] = Counter()  # SYN cookies "sent", "taken", "refused"
        self._events: deque[HostEvent] = deque()
        self._ip = IpLayer(name, self._events, self.drops, rng.randrange(1 << 16))
        # Ports after the rng draws above: runs replay from a seed
        self._table = SocketTable(Ports(name, rng), closed_kept)
        self._socks, self._demux = self._table.socks, self._table.demux
        self._listeners, self._ports = self._table.listeners, self._table.ports
        self._timers = SocketTimers(self._socks)
        self._batch: dict[int, SocketRecord] | None = None  # see receive_frames
        self._touched: set[int] = set()  # sockets pumped since the last TCB samples
        self._now = 0.0
        self.tcp_defaults: dict[str, bool] = {}  # Config fields set by set_tcp()

    # ------------------------------------------------------------------ configuration
    def add_interface(self, ifname: str, mac: str | bytes, ip: str, prefix_len: int,
                      mtu: int = 1500) -> None:
        """Add interface ``ifname`` with address ``ip``/``prefix_len``."""
        self._ip.add_interface(ifname, mac, ip, prefix_len, mtu, self.config)

    def interfaces(self) -> list[InterfaceInfo]:
        """Every interface, as :class:`InterfaceInfo`."""
        return self._ip.interfaces()

    @property
    def gateway(self) -> str | None:
        """The default gateway's address, or None (set it to route off-link)."""
        return None if self._ip.gateway is None else inet_ntoa(self._ip.gateway)

    @gateway.setter
    def gateway(self, ip: str | None) -> None:
        self._ip.set_gateway(ip)

    def arp_table(self, now: float) -> list[tuple[str, str, float]]:
        """Fresh ARP entries as ``(ip, mac, expires)``."""
        return [(inet_ntoa(ip), ethernet.mac_str(mac), exp)
                for ip, mac, exp in self._ip.arp.entries(now)]

    # ------------------------------------------------------------------ socket API
    def set_tcp(self, **features: bool) -> None:
        """Turn TCP features on or off for the sockets opened from now on: ``sack``,
        ``timestamps``, ``wscale`` (window scaling), ``nagle``, ``keepalive``, ``rack``."""
        self.tcp_defaults.update(config_fields(features))

    def set_reading(self, on: bool, now: float, sid: int | None = None) -> None:
        """The application stops (or resumes) reading socket ``sid``, or all, now and later:
        unread bytes close the window and the peer probes it (RFC 9293 §3.8.6.1)."""
        if sid is None:
            self._table.reading = on
        for rec in [self._table.get(sid)] if sid is not None else list(self._socks.values()):
            rec.reading = on
            if on and self.auto_read and rec.accepted and rec.conn.readable:
                self._deliver(rec, now)
                self._pump(rec, now)

    def _config(self, base: Config, tcp: dict[str, bool] | None) -> Config:
        cfg = replace(base)
        for name, on in {**self.tcp_defaults, **config_fields(tcp or {})}.items():
            setattr(cfg, name, on)
        return cfg

    def listen(self, port: int, backlog: int = 128, now: float | None = None,
               tcp: dict[str, bool] | None = None, local_ip: str | None = None) -> int:
        """A listening socket on every local address, or on ``local_ip`` only (RFC 9293
        §3.9.1.1, MUST-43); ``now`` defaults to the last time seen.  ``tcp`` turns
        features off (or on) for this socket, e.g. ``{"sack": False}``."""
        if now is not None:
            self._now = now
        t = self._now
        Ports.check(port)
        if backlog < 1:
            raise HostError(E.EINVAL, f"backlog {backlog} must be at least 1")
        if port in self._listeners or (self._ports.active[port] and any(
                rec.active and not rec.finished and rec.local[1] == port
                and rec.conn.state not in _OPENING for rec in self._socks.values())):
            # RFC 9293 §3.9.1.1 (MUST-42): an active open of the port still in SYN-SENT
            # or SYN-RECEIVED does not stop a LISTEN on it
            raise HostError(E.EADDRINUSE, f"port {port} in use on {self.name}")
        bound = ANY if local_ip is None else inet_ntoa(self._ip.local_ip(local_ip))
        conn = Connection((bound, port), self._config(self.config, tcp))
        rec = self._table.new(conn, (bound, port), None, backlog=backlog)
        conn.listen(t)
        self._listeners[port] = rec
        self._ports.take(port, False)
        self._pump(rec, t)
        return rec.sid

    def connect(self, remote_ip: str, rport: int, now: float, lport: int | None = None,
                tcp: dict[str, bool] | None = None, local_ip: str | None = None) -> int:
        """Active OPEN; a fixed ``lport`` permits simultaneous open; ``local_ip``: the
        source address (MUST-43; else the address of the interface the route takes)."""
        self._now = now
        try:
            dst = ip_to_bytes(remote_ip)
        except ValueError as exc:
            raise HostError(E.EINVAL, str(exc)) from None
        Ports.check(rport)
        if dst in self._ip.local_ips:
            raise HostError(E.EINVAL, f"{remote_ip} is {self.name}'s own address")
        why = self._ip.invalid_remote(dst)
        if why is not None:  # RFC 9293 §3.9.1.1 (MUST-46): one peer, never a group
            raise HostError(E.ENETUNREACH, f"{remote_ip} is {why}: TCP connects to one host")
        found = self._ip.route(dst)
        if found is None:
            raise HostError(E.ENETUNREACH, f"no route from {self.name} to {remote_ip}")
        iface = found[0]
        if lport is None:
            lport = self._ports.ephemeral()
        else:
            Ports.check(lport)
            if self._ports.users[lport]:
                raise HostError(E.EADDRINUSE, f"port {lport} in use on {self.name}")
        remote = (inet_ntoa(dst), rport)
        src = iface.ip if local_ip is None else self._ip.local_ip(local_ip)
        conn = Connection((inet_ntoa(src), lport), self._config(iface.config, tcp))
        rec = self._table.new(conn, (inet_ntoa(src), lport), remote, active=True)
        self._table.bind(rec, (src, lport, dst, rport))
        conn.connect(remote, now)
        self._pump(rec, now)
        return rec.sid

    def set_ip_options(self, sid: int, *, ttl: int | None = None,
                       tos: int | None = None) -> None:
        """A connection's IP TTL and Diffserv byte, from its next segment on."""
        conn = self._table.get(sid).conn
        trial = replace(conn.config, ttl=conn.config.ttl if ttl is None else ttl,
                        tos=conn.config.tos if tos is None else tos)
        try:
            trial.validate()
        except ValueError as exc:
            raise HostError(E.EINVAL, f"socket {sid}: {exc}") from None
        conn.config.ttl, conn.config.tos = trial.ttl, trial.tos

    def send(self, sid: int, data: bytes, now: float, urgent: bool = False) -> int:
        """Queue ``data``; ``urgent``: it is urgent data (MSG_OOB, RFC 9293 §3.8.5)."""
        rec = self._open_conn(sid, now)
        try:
            n = rec.conn.send(data, now, urgent)
        except TcpError as exc:
            raise HostError(exc.errno, f"socket {sid}: {exc}") from None
        rec.bytes_sent += n
        self._pump(rec, now)
        return n

    def recv(self, sid: int, n: int, now: float) -> bytes:
        """Read up to ``n`` bytes from connection ``sid`` (b"" at end of stream)."""
        rec = self._table.connection(sid)
        self._now = now
        try:
            data = rec.conn.recv(n, now)
        except TcpError as exc:
            raise HostError(exc.errno, f"socket {sid}: {exc}") from None
        if data:
            rec.bytes_delivered += len(data)
            self._events.append(Delivered(now, self.name, sid, data))
        self._pump(rec, now)
        return data

    def shutdown(self, sid: int, how: Shutdown | str, now: float) -> None:
        """Shut down one direction of ``sid`` or both (a Shutdown or rd|wr|rdwr)."""
        if how not in list(Shutdown):
            raise HostError(E.EINVAL, f"shutdown direction {how!r} is not rd, wr or rdwr")
        rec = self._open_conn(sid, now)
        self._call(rec, lambda: rec.conn.shutdown(how, now), now)

    def close(self, sid: int, now: float) -> None:
        """Close socket ``sid``: a FIN for a connection, RSTs to unaccepted children."""
        self._end(sid, "close", now)

    def abort(self, sid: int, now: float) -> None:
        """Abort socket ``sid``: a RST where the state calls for one."""
        self._end(sid, "abort", now)

    def _end(self, sid: int, how: str, now: float) -> None:
        """CLOSE or ABORT; a listener's unaccepted children go with it."""
        rec = self._table.get(sid)
        self._now = now
        if rec.finished:
            raise HostError(E.ENOTCONN, f"socket {sid}: connection is closed")
        call = rec.conn.close if how == "close" else rec.conn.abort
        self._call(rec, lambda: call(now), now)
        if rec.is_listener:
            self._drop_unaccepted(rec, now)

    def accept(self, listener_sid: int) -> int | None:
        """The oldest established child not yet accepted, or None (auto_accept off only)."""
        rec = self._table.get(listener_sid)
        if self.auto_accept:
            raise HostError(E.EINVAL, f"{self.name} accepts automatically (auto_accept is on)")
        if not rec.is_listener:
            raise HostError(E.EINVAL, f"socket {listener_sid} is not listening")
        if not rec.accept_queue:
            return None
        child = self._socks[rec.accept_queue.popleft()]
        child.accepted = True
        if self.auto_read and child.reading and child.conn.readable:
            self._deliver(child, self._now)
            self._pump(child, self._now)
        return child.sid

    def socket(self, sid: int) -> SocketInfo:
        """A snapshot of socket ``sid`` (HostError for an unknown id)."""
        return self._table.get(sid).info()

    def sockets(self) -> list[SocketInfo]:
        """Snapshots of every socket the host still knows."""
        return [rec.info() for rec in self._socks.values()]

    # ------------------------------------------------------------------ network side
    def receive_frame(self, ifname: str, frame: bytes, now: float) -> None:
        """One received Ethernet frame.  Bad input is dropped with a reason, never raised."""
        self._now = now
        tcp = self._ip.receive_frame(ifname, frame, now)
        if tcp is not None:
            self._receive_tcp(*tcp, now)
        elif self._ip.icmp_errors:
            for error in self._ip.icmp_errors:
                self._icmp_error(error, ifname, now)
            self._ip.icmp_errors.clear()

    def receive_frames(self, frames: list[tuple[str, bytes]], now: float) -> None:
        """Frames that arrived together (a burst read at once): every segment is
        processed before any connection answers, so one ACK covers them all (RFC 9293
        §3.10.7.4, MUST-59; RFC 1122 §4.2.2.21)."""
        self._batch = {}
        try:
            for ifname, frame in frames:
                self.receive_frame(ifname, frame, now)
        finally:
            batch, self._batch = self._batch, None
        for rec in batch.values():
            if self.auto_read and rec.reading and rec.accepted and rec.conn.readable:
                self._deliver(rec, now)
            rec.conn.flush(now)
            self._pump(rec, now)

    def frames_to_send(self) -> list[tuple[str, bytes]]:
        """Drain the frames produced so far, as ``(ifname, frame)``."""
        return self._ip.frames_to_send()

    def next_event(self) -> HostEvent | None:
        """The oldest host event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    def sample_tcbs(self, now: float) -> None:
        """End of an instant: a ``tcb.sample`` event for every connection touched since
        the last call whose TCB changed, in socket order."""
        touched, self._touched = self._touched, set()
        for sid in sorted(touched):
            rec = self._socks.get(sid)
            ev = None if rec is None else tcb_sample(self.name, rec, now)
            if ev is not None:
                self._events.append(ev)

    def get_timer(self) -> float | None:
        """The earliest deadline of any socket or of ARP, or None."""
        ours, arp = self._timers.next(), self._ip.get_timer()
        return arp if ours is None else ours if arp is None else min(ours, arp)

    def handle_timer(self, now: float) -> None:
        """Run every ARP and connection timer due at ``now``."""
        self._now = now
        self._ip.handle_timer(now)
        for rec in self._timers.due(now):
            rec.conn.handle_timer(now)
            self._pump(rec, now)

    # ------------------------------------------------------------------ receive path
    def _receive_tcp(self, iface: Interface, src: bytes, dst: bytes, data: memoryview,
                     now: float) -> None:
        seg = decode(data, src, dst)
        if isinstance(seg, Malformed):
            summary = f"{inet_ntoa(src)}>{inet_ntoa(dst)} {len(data)} bytes"
            self._seg_dropped(seg.reason, iface.name, summary, None, None, now)
            return
        rec = self._demux.get((dst, seg.dst_port, src, seg.src_port))
        iss_above = None
        lst = self._listeners.get(seg.dst_port)
        if lst is not None and lst.local[0] not in (ANY, inet_ntoa(dst)):
            lst = None  # bound to another of our addresses
        if (rec is not None and rec.conn.state is State.TIME_WAIT and lst is not None
                and len(lst.syn_queue) < lst.backlog and len(lst.accept_queue) < lst.backlog
                and rec.conn.takes_new_syn(seg, lst.conn.config.timestamps)):
            # RFC 6191: TIME-WAIT gives way to a new incarnation, which the listener takes.
            # The SYN shows on both: the incarnation it ended and the one it opens.
            assert rec.remote is not None
            self._events.append(SegmentReceived(now, self.name, rec.sid, rec.remote, rec.local,
                                                seg, iface.name))
            iss_above = rec.conn.snd_max
            self._pump(rec, now)
            rec = None
        if rec is not None:
            assert rec.remote is not None
            self._events.append(SegmentReceived(now, self.name, rec.sid, rec.remote, rec.local,
                                                seg, iface.name))
            if self._batch is None:
                rec.conn.receive(seg, now)
            else:  # answered once the whole burst is in (receive_frames)
                rec.conn.receive(seg, now, output=False)
                self._batch[rec.sid] = rec
            self._pump(rec, now, seg, iface.name)
            return
        remote = (inet_ntoa(src), seg.src_port)
        local = (inet_ntoa(dst), seg.dst_port)
        if lst is not None and seg.flags & ACK and self._take_cookie(lst, iface, local, remote,
                                                                     (dst, src), seg, now):
            return
        if lst is None or seg.flags & (RST | ACK) or not seg.flags & SYN:
            self._events.append(SegmentReceived(now, self.name, None if lst is None else lst.sid,
                                                remote, local, seg, iface.name))
            if lst is None:
                reason = "no socket"
            else:  # RFC 9293 §3.10.7.2, the LISTEN state's checks in order
                reason = ("rst in listen" if seg.flags & RST else
                          "ack in listen" if seg.flags & ACK else "no syn in listen")
            summary = f"{remote[0]}:{remote[1]}>{local[0]}:{local[1]} {describe(seg)}"
            self._seg_dropped(reason, iface.name, summary, None if lst is None else lst.sid,
                              seg, now)
            # §3.10.7.1 (closed port) and §3.10.7.2 (ACK to a listener): same RST rules.
            rst = reset_for(seg)
            if rst is not None and (lst is None or seg.flags & ACK):
                ev = SegmentSent(now, self.name, None, local, remote, rst, iface.name)
                self._ip.send_ip(ipv4.PROTO_TCP, dst, src, encode(rst, dst, src), ev, now)
            return
        if len(lst.syn_queue) >= lst.backlog or len(lst.accept_queue) >= lst.backlog:
            self._events.append(SegmentReceived(now, self.name, lst.sid, remote, local, seg,
                                                iface.name))
            if len(lst.accept_queue) < lst.backlog and lst.conn.config.syn_cookies:
                # RFC 4987 §3.6: the SYN queue is full: answer statelessly with a cookie
                syn_ack = cookie_syn_ack(lst, iface.child_config(lst.conn.config), local, remote,
                                         seg, now)
                self.cookies["sent"] += 1
                ev = SegmentSent(now, self.name, lst.sid, local, remote, syn_ack, iface.name)
                self._ip.send_ip(ipv4.PROTO_TCP, dst, src, encode(syn_ack, dst, src), ev, now)
                return
            summary = f"{remote[0]}:{remote[1]}>{local[0]}:{local[1]} {describe(seg)}"
            self._seg_dropped("backlog full", iface.name, summary, lst.sid, seg, now)
            return
        rec = self._child(lst, iface, local, remote, (dst, src), seg, now, iss_above)
        rec.conn.receive(seg, now)
        self._pump(rec, now, seg, iface.name)

    def _child(self, lst: SocketRecord, iface: Interface, local: tuple[str, int],
               remote: tuple[str, int], ips: tuple[bytes, bytes], seg: Segment, now: float,
               iss_above: int | None = None) -> SocketRecord:
        """A listener's new child for ``seg``, in its SYN queue, bound to the address the
        segment was sent to (the listener is bound to every address)."""
        child = lst.conn.spawn(remote, iss_above)
        child.local = local
        child.config = iface.child_config(lst.conn.config)
        rec = self._table.new(child, local, remote, listener=lst.sid,
                               accepted=self.auto_accept)
        self._table.bind(rec, (ips[0], seg.dst_port, ips[1], seg.src_port))
        lst.syn_queue.add(rec.sid)
        self._events.append(SegmentReceived(now, self.name, rec.sid, remote, local, seg,
                                            iface.name))
        return rec

    def _take_cookie(self, lst: SocketRecord, iface: Interface, local: tuple[str, int],
                     remote: tuple[str, int], ips: tuple[bytes, bytes], seg: Segment,
                     now: float) -> bool:
        """An ACK to a listener that returns a valid SYN cookie opens its connection."""
        mss = cookie_mss(lst, self.config.isn_secret, local, remote, seg, now)
        if mss is None:
            if lst.cookie_sent is not None and not seg.flags & (SYN | RST):
                self.cookies["refused"] += 1
            return False
        self.cookies["taken"] += 1
        rec = self._child(lst, iface, local, remote, ips, seg, now)
        rec.conn.open_from_cookie(seg, mss, now)
        self._pump(rec, now, seg, iface.name)
        return True

    def _icmp_error(self, err: ipv4.IcmpError, ifname: str, now: float) -> None:
        """RFC 9293 §3.9.2.2: an ICMP error goes to the connection whose segment it
        quotes.  Source Quench is ignored (MUST-55, RFC 6633)."""
        if err.type == 4:
            self.drops["source quench ignored"] += 1
            return
        rec = self._demux.get((err.src, err.sport, err.dst, err.dport))
        if rec is None:
            self._ip.frame_dropped("icmp error for no connection", ifname, now)
            return
        hard, errno, detail = ipv4.icmp_meaning(err)
        reason = f"ICMP {ipv4.ICMP_ERRORS[err.type]} ({detail}) from {inet_ntoa(err.dst)}"
        rec.conn.icmp_error(err.seq, hard, errno, reason)  # a refusal is a segment drop
        self._pump(rec, now, rx_ifname=ifname)

    # ------------------------------------------------------------------ per-connection pump
    def _pump(self, rec: SocketRecord, now: float, incoming: Segment | None = None,
              rx_ifname: str = "") -> None:
        """Turn what the engine produced into host events, frames and a timer entry;
        ``incoming`` is the segment just fed to it, which any drop it reports is about."""
        conn = rec.conn
        name = self.name
        events = self._events
        sid = rec.sid
        self._touched.add(sid)
        if conn.urgent_signals != rec.urgent_signals:
            # RFC 9293 §3.8.5 (MUST-32) and §3.9.1.8: the application hears of urgent data
            # through the report that carries soft errors, before the data is delivered
            rec.urgent_signals = conn.urgent_signals
            n = conn.urgent_pending
            events.append(SoftError(now, name, sid, 0, f"urgent data: {n} byte"
                                    f"{'' if n == 1 else 's'} up to the urgent mark"))
        while (ev := conn.next_event()) is not None:
            if isinstance(ev, tev.TimerArmed):
                events.append(TimerArmed(now, name, sid, ev.name, ev.deadline))
            elif isinstance(ev, tev.TimerCancelled):
                events.append(TimerCancelled(now, name, sid, ev.name))
            elif isinstance(ev, tev.DataReceived):
                # (reading answers at once: within a burst, wait for its end)
                if self.auto_read and rec.reading and rec.accepted and (
                        self._batch is None or sid not in self._batch):
                    self._deliver(rec, now)
            elif isinstance(ev, tev.StateChanged):
                self._state_changed(rec, ev, now)
            elif isinstance(ev, tev.TimerFired):
                events.append(TimerFired(now, name, sid, ev.name))
            elif isinstance(ev, tev.Retransmitted):
                events.append(Retransmitted(now, name, sid, ev.seq, ev.length, ev.why))
            elif isinstance(ev, tev.SegmentDropped):
                self._seg_dropped(ev.reason, rx_ifname or rec.ifname,
                                  rec.arrival_summary(incoming), sid, incoming, now)
            elif isinstance(ev, tev.DeliveryTrouble):
                # RFC 9293 §3.8.3 at R1: negative advice to IP (for a neighbour, asking
                # ARP again, RFC 1122 §3.3.1.4) and a soft error for the application
                self._ip.arp.forget(rec.next_hop)
                events.append(SoftError(
                    now, name, sid, ev.retransmissions,
                    f"delivery trouble: the {ev.what} timed out {ev.retransmissions} times "
                    "(R1); asking ARP for the next hop again"))
            elif isinstance(ev, tev.IcmpReported):
                events.append(SoftError(now, name, sid, 0, ev.reason))
            elif isinstance(ev, tev.ConnectionFailed):
                events.append(ConnectionFailed(now, name, sid, ev.errno, ev.reason))
            # Not reported: EndOfStream (the move to CLOSE-WAIT tells it) and
            # ConnectionReset (the engine pairs each with a ConnectionFailed).
        segs = conn.segments_to_send()
        if rec.remote is not None:  # a listener has no peer; the engine makes it send none
            for seg in segs:
                self._ip.send_segment(rec, seg, now)
        if rec.finished:
            return
        self._timers.set(rec, conn.get_timer())

    def _state_changed(self, rec: SocketRecord, ev: tev.StateChanged, now: float) -> None:
        rec.history.append(ev.new)
        self._events.append(StateChanged(now, self.name, rec.sid, ev.old, ev.new, ev.trigger,
                                         ev.detail, local=rec.local, remote=rec.remote))
        lst = None if rec.listener is None else self._socks.get(rec.listener)
        if lst is not None and ev.new is State.ESTABLISHED and rec.sid in lst.syn_queue:
            lst.syn_queue.discard(rec.sid)
            if not rec.accepted:
                lst.accept_queue.append(rec.sid)
        if ev.new is State.CLOSED:
            self._finish(rec)

    def _deliver(self, rec: SocketRecord, now: float) -> None:
        data = rec.conn.recv(_READ_ALL, now)
        if data:
            rec.bytes_delivered += len(data)
            self._events.append(Delivered(now, self.name, rec.sid, data))

    def _finish(self, rec: SocketRecord) -> None:
        self._timers.set(rec, None)
        self._table.finish(rec)

    def _drop_unaccepted(self, lst: SocketRecord, now: float) -> None:
        """A closed listener resets the children nobody accepted, as BSD and Linux do."""
        for sid in sorted(lst.syn_queue | set(lst.accept_queue)):
            child = self._socks[sid]
            if not child.accepted and not child.finished:
                child.conn.abort(now)
                self._pump(child, now)

    # ------------------------------------------------------------------ helpers
    def _seg_dropped(self, reason: str, ifname: str, summary: str, sid: int | None,
                     seg: Segment | None, now: float) -> None:
        self.drops[reason] += 1
        self._events.append(SegmentDropped(now, self.name, reason, ifname, summary, sid, seg))

    def _open_conn(self, sid: int, now: float) -> SocketRecord:
        rec = self._table.connection(sid)
        self._now = now
        if rec.finished:
            raise HostError(E.ENOTCONN, f"socket {sid}: connection is closed")
        return rec

    def _call(self, rec: SocketRecord, call: Callable[[], None], now: float) -> None:
        try:
            call()
        except TcpError as exc:
            raise HostError(exc.errno, f"socket {rec.sid}: {exc}") from None
        self._pump(rec, now)
