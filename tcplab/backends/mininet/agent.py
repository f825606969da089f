"""The agent: one host's tcplab stack, run inside that host's network namespace.

Theory of operation
-------------------
``python -m tcplab.backends.mininet.agent --name h1 --control PATH --epoch T
--iface NAME,MAC,IP/PREFIX[,MTU] ...`` builds a :class:`~tcplab.stack.host.Host`
wrapped in a :class:`~tcplab.lab.app.HostApp` and puts it on the wire through one
:class:`~tcplab.backends.mininet.packetio.PacketSocket` per interface.  Between the
host and each socket sit two :class:`~tcplab.netem.link.LinkDirection`\\ s,
*egress* (host -> wire) and *ingress* (wire -> host), which apply delay, jitter,
loss, bandwidth, duplication, reordering and hold/drop filters where the kernel has
no netem; a direction no op has configured is skipped (:mod:`.agent_links`).
Everything runs on one :class:`~tcplab.netem.clock.Scheduler` driven by the
real clock: ``now = time.monotonic() - epoch``, the lab's clock too.

One ``selectors`` loop serves the packet sockets, the control socket and its
clients, and a signal wake-up pipe.  It sleeps until the earliest scheduled call
(a frame's arrival, the host's timer) or input.  Per iteration: read what is ready,
run the scheduler up to now, then send the queued output lines to the clients in one
write each.  The host's timer is one scheduler entry, re-armed after every call into
the host, exactly as the simulated network does it.  Frames read from an interface in
one turn (up to :data:`BURST`) reach the host together at one ``now``, as a burst of
packets wakes a real program once (unless the agent impairs that interface's ingress:
then each frame takes its own time through the link model); the events of a turn
leave as one line of events (:class:`~.protocol.EventBatch`, in the one codec of
:mod:`tcplab.lab.codec`).

Frames the kernel answers itself are not fed to the stack: the kernel keeps the
interface's address, so it answers ICMP echo (a second reply would show as a
duplicate in ``ping``).  ARP is answered by both with identical replies, which is
harmless.  An nft rule in the namespace keeps the kernel away from our TCP.

A control client that does not read its events fills its output buffer; past
:data:`HIGH_WATER` the agent stops reading its packet sockets until it drains, so
TCP itself slows down rather than the agent growing without bound.

The ops that configure the links (``impair``, ``filter``, ``release``) live in
:mod:`.agent_links`, the ``command`` op (a command-language line run on this host) in
:mod:`.agent_commands`; the rest of the ops are thin calls into the host, here.

SIGTERM or SIGINT (and the death of the parent, through ``PR_SET_PDEATHSIG``) close
everything, remove the control socket file and exit with status 0.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import ipaddress
import json
import os
import random
import selectors
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tcplab.backends.mininet import protocol as P
from tcplab.backends.mininet.agent_commands import HostCommands
from tcplab.backends.mininet.agent_links import LinkOps, Port
from tcplab.backends.mininet.packetio import PacketSocket
from tcplab.lab.app import HostApp
from tcplab.lab.backend import HostApi
from tcplab.lab.events import LabEvent, LinkDropped
from tcplab.lab.peek import summary, tcp_of
from tcplab.netem.clock import Scheduler, TimerEntry
from tcplab.netem.link import LinkDirection, LinkParams
from tcplab.stack.host import Host
from tcplab.stack.sockets import HostError
from tcplab.tcp.config import Config

# Frames read from an interface per turn of the loop.  The host's replies (ACKs) go
# out at the end of a turn, so a longer burst is cheaper per frame but makes the peer
# wait longer; 64 measured best for goodput between two agents (16 and 256: ~6% less).
BURST = 64
HIGH_WATER = 64 << 20     # bytes queued for one client before packet input pauses
LOW_WATER = 8 << 20
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class IfaceSpec:
    name: str
    mac: str
    ip: str
    prefix_len: int
    mtu: int = 1500


def parse_iface(text: str) -> IfaceSpec:
    """``NAME,MAC,IP/PREFIX[,MTU]``; ValueError with a one-line reason."""
    parts = text.split(",")
    if len(parts) not in (3, 4) or "/" not in parts[2]:
        raise ValueError(f"--iface {text!r}: expected NAME,MAC,IP/PREFIX[,MTU]")
    ip, _, prefix = parts[2].partition("/")
    try:
        ipaddress.IPv4Address(ip)
        return IfaceSpec(parts[0], parts[1], ip, int(prefix),
                         int(parts[3]) if len(parts) == 4 else 1500)
    except ValueError:
        raise ValueError(f"--iface {text!r}: bad address, prefix or MTU") from None


def parse_config(text: str | None) -> Config | None:
    if text is None:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        raise ValueError("--config is not JSON") from None
    known = {f.name for f in dataclasses.fields(Config)} - {"isn_secret"}
    if not isinstance(raw, dict) or not set(raw) <= known:
        raise ValueError(f"--config must be an object with keys among {', '.join(sorted(known))}")
    return Config(**raw)


def agent_host(name: str, config: Config | None, rng: random.Random) -> Host:
    """The stack of a real host: its ISN key comes from the system's randomness, not
    from the lab's seed, so no one outside can compute its ISNs (RFC 9293 §3.4.1
    MUST-9, RFC 6528 §3); link impairments still follow the seed."""
    return Host(name, config=config, rng=rng, isn_secret=os.urandom(16))


def _kernel_answers(frame: bytes) -> bool:
    """An ICMP echo request: the kernel, which keeps the address, replies to it."""
    # 0x0800 IPv4, protocol 1 ICMP, type 8 after the IP header (IHL words).
    return (len(frame) > 34 and frame[12] == 8 and frame[13] == 0 and frame[23] == 1
            and frame[14 + (frame[14] & 15) * 4] == 8)


def _features(raw: dict[str, Any] | None) -> dict[str, bool] | None:
    """The ``tcp`` argument: feature name -> on/off, checked (ValueError otherwise)."""
    if raw is None:
        return None
    if not all(isinstance(k, str) and type(v) is bool for k, v in raw.items()):
        raise ValueError("tcp must map feature names to true or false")
    return dict(raw)


class _Client:
    """A control connection and what is queued for it: chunks, the first partly sent."""

    __slots__ = ("backlog", "lines", "out", "sent", "sock", "writing")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lines = P.LineBuffer()
        self.out: deque[bytes] = deque()
        self.sent = 0          # bytes of out[0] already written
        self.backlog = 0       # bytes queued and not written
        self.writing = False   # registered for EVENT_WRITE

    def queue(self, data: bytes) -> None:
        self.out.append(data)
        self.backlog += len(data)


class Agent:
    """One host's stack on real interfaces, controlled over a unix socket."""

    def __init__(self, name: str, control: str, epoch: float, ifaces: list[IfaceSpec],
                 gateway: str | None = None, seed: int = 0, config: Config | None = None
                 ) -> None:
        self.name = name
        self.control = control
        self.epoch = epoch
        self.rng = random.Random(seed)
        self.local_ips = {spec.ip for spec in ifaces}
        self.api = self._make_app(ifaces, gateway, config)
        self.commands = HostCommands(name, self.local_ips, self.api, self._host_call)
        self.sched = Scheduler(self.clock())
        self.sel = selectors.DefaultSelector()
        self.clients: list[_Client] = []
        self.capture = False
        self._lines: list[bytes] = []       # pushed lines not yet given to the clients
        self._batch = P.EventBatch()         # the events, before they make a line
        self._timer = TimerEntry(self.sched, self._fire)  # one entry at the host's timer
        self._stopping = False
        self._input_paused = False
        self.ports: dict[str, Port] = {}
        self.links = LinkOps(name, self.ports, lambda: self.sched.now, self._publish)
        self._listener: socket.socket | None = None
        self._control_ino = -1
        self._wake_r, self._wake_w = socket.socketpair()
        try:
            for spec in ifaces:
                self._add_port(spec.name)
            listener = self._listener = self._listen(control)
        except BaseException:
            self.close()
            raise
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self.sel.register(listener, selectors.EVENT_READ,
                          lambda mask: self._on_accept(listener))
        self._ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "listen": self._op_listen, "connect": self._op_connect, "write": self._op_write,
            "set_tcp": self._op_set_tcp,
            "write_pattern": self._op_write_pattern, "shutdown": self._op_sid("shutdown"),
            "close": self._op_sid("close"), "abort": self._op_sid("abort"),
            "socket": self._op_socket, "sockets": self._op_sockets,
            "command": lambda args: self.commands.run(args["line"]),
            "impair": self.links.impair, "filter": self.links.filter,
            "release": self.links.release,
            "capture": self._op_capture, "ping": lambda args: {}, "quit": self._op_quit,
        }

    def clock(self) -> float:
        return time.monotonic() - self.epoch

    def _make_app(self, ifaces: list[IfaceSpec], gateway: str | None,
                  config: Config | None) -> HostApi:
        """The host the ops act on: tcplab's stack on the interfaces."""
        host = agent_host(self.name, config, self.rng)
        for spec in ifaces:
            host.add_interface(spec.name, spec.mac, spec.ip, spec.prefix_len, spec.mtu)
        if gateway is not None:
            host.gateway = gateway
        self.app = HostApp(host, self._publish)
        return self.app

    # ------------------------------------------------------------------ set-up
    def _add_port(self, ifname: str) -> None:
        io = PacketSocket(ifname)

        def to_wire(frame: bytes) -> None:
            if self.capture:
                # engaged: the host's own copy went out as "host-out" in _after_host
                where = "wire-out" if port.egress_engaged else "out"
                self._push({"frame": P.frame_to_wire(ifname, where, self.sched.now, frame)})
            failed = io.send(frame)
            if failed is not None:
                self._link_dropped(ifname, "egress", frame, failed)

        def to_host(frame: bytes) -> None:
            # only the engaged ingress comes here; the wire saw the frame as "wire-in"
            if self.capture:
                self._push({"frame": P.frame_to_wire(ifname, "host-in", self.sched.now, frame)})
            self.app.receive_frame(ifname, frame, self.sched.now)
            self._after_host()

        egress = LinkDirection(f"{ifname}:egress", self.sched, self.rng, LinkParams(),
                               to_wire, lambda f, why: self._link_dropped(
                                   ifname, "egress", f, why))
        ingress = LinkDirection(f"{ifname}:ingress", self.sched, self.rng, LinkParams(),
                                to_host, lambda f, why: self._link_dropped(
                                    ifname, "ingress", f, why))
        port = self.ports[ifname] = Port(ifname, io, egress, ingress, to_wire, to_host)
        self.sel.register(port.io, selectors.EVENT_READ, lambda mask: self._on_packets(port))

    def _listen(self, path: str) -> socket.socket:
        P.unlink_socket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # 0600 from the first moment, not after a chmod
        try:
            sock.bind(path)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        self._control_ino = os.stat(path).st_ino
        sock.listen(8)
        sock.setblocking(False)
        return sock

    # ------------------------------------------------------------------ the loop
    def run(self, die_with_parent: bool = False) -> int:
        """Serve until ``quit`` or a signal; returns the exit status."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        if die_with_parent:
            _die_with_parent()
        try:
            while not self._stopping:
                self._step()
            self._flush(final=True)
        finally:
            self.close()
        return 0

    def _step(self) -> None:
        nxt = self.sched.next_time()
        timeout = None if nxt is None else max(0.0, nxt - self.clock())
        ready = self.sel.select(timeout)
        self.sched.run_until(max(self.clock(), self.sched.now))
        for key, mask in ready:
            key.data(mask)
        # What the handlers queued at ``now`` (zero-delay frames, timers) runs now.
        self.sched.run_until(max(self.clock(), self.sched.now))
        self._flush()

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _on_wake(self, mask: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _on_packets(self, port: Port) -> None:
        now = self.sched.now
        frames = port.io.recv_frames(BURST)
        if self.capture:
            where = "wire-in" if port.ingress_engaged else "in"
            for frame in frames:
                self._push({"frame": P.frame_to_wire(port.ifname, where, now, frame)})
        frames = [f for f in frames if not _kernel_answers(f)]
        if port.ingress_engaged:
            for frame in frames:
                port.send_in(frame, now)
        elif frames:
            # Straight to the host, all at this ``now``: the application and the
            # bookkeeping after it run once for the burst, not once per frame.
            self.app.receive_frames(port.ifname, frames, now)
            self._after_host()

    def _after_host(self) -> None:
        """Send what the host produced and keep one scheduler entry at its timer."""
        now = self.sched.now
        ports = self.ports
        self.app.end_instant(now)  # one TCB sample per changed connection per turn
        capture = self.capture
        for ifname, frame in self.app.frames_to_send():
            port = ports.get(ifname)
            if port is not None:
                if capture and port.egress_engaged:
                    # the host's capture sees it now, before the agent's link model may
                    # lose or delay it; to_wire reports it again as it reaches the wire
                    self._push({"frame": P.frame_to_wire(ifname, "host-out", now, frame)})
                port.send_out(frame, now)
        self._timer.set(self.app.get_timer())

    def _fire(self) -> None:
        self.app.handle_timer(self.sched.now)
        self._after_host()

    # ------------------------------------------------------------------ output
    def _publish(self, event: LabEvent) -> None:
        if self.clients:
            self._batch.add(event)

    def _push(self, msg: dict[str, Any]) -> None:
        if self.clients:
            msg["v"] = P.VERSION
            self._end_batch()
            self._lines.append(P.encode(msg))

    def _end_batch(self) -> None:
        """Close the batch (the stream's order is the lines' order)."""
        if self._batch:
            self._lines.append(self._batch.line())

    def _link_dropped(self, ifname: str, where: str, frame: bytes, reason: str) -> None:
        if self.clients:
            tcp = tcp_of(frame)
            self._publish(LinkDropped(self.sched.now, self.name, ifname, where, reason,
                                      summary(frame), tcp.segment if tcp else None))

    def _spread(self) -> None:
        """Queue the pushed lines so far for every client."""
        self._end_batch()
        if self._lines:
            data = b"".join(self._lines)
            self._lines.clear()
            for client in self.clients:
                client.queue(data)

    def _flush(self, final: bool = False) -> None:
        self._spread()
        for client in list(self.clients):
            if client.backlog:
                self._write(client, final)
        self._pace_input()

    def _write(self, client: _Client, final: bool) -> None:
        """Write what the socket takes now (``final``: everything, within a second)."""
        if final:
            client.sock.settimeout(1.0)
        out = client.out
        try:
            while out:
                n = client.sock.send(memoryview(out[0])[client.sent:])
                client.backlog -= n
                client.sent += n
                if client.sent < len(out[0]):
                    if not final:
                        break
                    continue
                out.popleft()
                client.sent = 0
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._drop_client(client)
            return
        want = client.backlog > 0
        if want != client.writing and not final:
            client.writing = want
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self.sel.modify(client.sock, events, lambda mask, c=client: self._on_client(c, mask))

    def _pace_input(self) -> None:
        worst = max((c.backlog for c in self.clients), default=0)
        pause = worst > HIGH_WATER or (self._input_paused and worst > LOW_WATER)
        if pause == self._input_paused:
            return
        self._input_paused = pause
        for port in self.ports.values():
            if pause:
                self.sel.unregister(port.io)
            else:
                self.sel.register(port.io, selectors.EVENT_READ,
                                  lambda mask, p=port: self._on_packets(p))

    # ------------------------------------------------------------------ control clients
    def _on_accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        client = _Client(sock)
        client.queue(P.encode({"v": P.VERSION, "hello": P.HELLO, "host": self.name,
                               "pid": os.getpid()}))
        self.clients.append(client)
        self.sel.register(sock, selectors.EVENT_READ, lambda mask: self._on_client(client, mask))

    def _on_client(self, client: _Client, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._write(client, False)
        if not mask & selectors.EVENT_READ or client not in self.clients:
            return
        try:
            data = client.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_client(client)
            return
        for line in client.lines.feed(data):
            reply = P.encode(self._handle(line))
            self._spread()  # the events a request caused come before its reply, as in the sim
            client.queue(reply)

    def _drop_client(self, client: _Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
            self.sel.unregister(client.sock)
            client.sock.close()

    def _handle(self, line: bytes | None) -> dict[str, Any]:
        """One request line -> its reply.  Nothing a client sends can stop the agent."""
        try:
            req = P.parse_request(line)
        except P.RequestError as exc:
            return P.reply_error(exc.id, str(exc))
        try:
            result = self._ops[req.op](req.args)
        except HostError as exc:
            return P.reply_error(req.id, str(exc), exc.errno)
        except (ValueError, KeyError, TypeError) as exc:  # CommandError is a ValueError
            return P.reply_error(req.id, f"{req.op}: {exc}")
        return P.reply_ok(req.id, **result)

    # ------------------------------------------------------------------ ops
    def _host_call(self, fn: Callable[[HostApi, float], Any]) -> Any:
        try:
            return fn(self.api, self.sched.now)
        finally:
            self._after_host()

    def _op_listen(self, args: dict[str, Any]) -> dict[str, Any]:
        port, tcp = args["port"], _features(args["tcp"])
        return {"sid": self._host_call(lambda app, now: app.listen(port, now, tcp))}

    def _op_connect(self, args: dict[str, Any]) -> dict[str, Any]:
        ip, port, lport, tcp = args["ip"], args["port"], args["lport"], _features(args["tcp"])
        return {"sid": self._host_call(lambda app, now: app.connect(ip, port, now, lport, tcp))}

    def _op_set_tcp(self, args: dict[str, Any]) -> dict[str, Any]:
        tcp = _features(args["tcp"]) or {}
        self._host_call(lambda app, now: app.set_tcp(tcp))
        return {}

    def _op_write(self, args: dict[str, Any]) -> dict[str, Any]:
        sid, data = args["sid"], P.unb64(args["data"])
        self._host_call(lambda app, now: app.write(sid, data, now))
        return {}

    def _op_write_pattern(self, args: dict[str, Any]) -> dict[str, Any]:
        sid, count = args["sid"], args["count"]
        if count < 0:
            raise ValueError("count must be >= 0")
        self._host_call(lambda app, now: app.write_pattern(sid, count, now))
        return {}

    def _op_sid(self, what: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def op(args: dict[str, Any]) -> dict[str, Any]:
            sid = args["sid"]
            self._host_call(lambda app, now: getattr(app, what)(sid, now))
            return {}
        return op

    def _op_socket(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"socket": P.socket_to_wire(self.api.socket(args["sid"]))}

    def _op_sockets(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"sockets": [P.socket_to_wire(info) for info in self.api.sockets()]}

    def _op_capture(self, args: dict[str, Any]) -> dict[str, Any]:
        self.capture = bool(args["on"])
        return {}

    def _op_quit(self, args: dict[str, Any]) -> dict[str, Any]:
        self._stopping = True
        return {}

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Close every socket and remove the control socket file (idempotent)."""
        for client in list(self.clients):
            self._drop_client(client)
        for port in self.ports.values():
            port.io.close()
        self.ports.clear()
        if self._listener is not None:
            self._listener.close()
            try:
                if os.stat(self.control).st_ino == self._control_ino:
                    os.unlink(self.control)
            except FileNotFoundError:
                pass
            self._listener = None
        self._wake_r.close()
        self._wake_w.close()
        self.sel.close()


def _die_with_parent() -> None:
    """Ask for SIGTERM when the process that started us exits (Linux prctl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None, kind: type[Agent] | None = None) -> int:
    """The agent process (``kind``: the class to run, :class:`Agent` by default)."""
    kind = Agent if kind is None else kind
    parser = argparse.ArgumentParser(prog=f"python -m {kind.__module__}",
                                     description=kind.__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--control", required=True, help="unix socket path to listen on")
    parser.add_argument("--epoch", type=float, required=True,
                        help="CLOCK_MONOTONIC value that is t=0 of the run")
    parser.add_argument("--iface", action="append", required=True,
                        help="NAME,MAC,IP/PREFIX[,MTU] (repeat for more interfaces)")
    parser.add_argument("--gateway")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", help="JSON object of TCP Config fields")
    opts = parser.parse_args(argv)
    try:
        ifaces = [parse_iface(text) for text in opts.iface]
        config = parse_config(opts.config)
        agent = kind(opts.name, opts.control, opts.epoch, ifaces, opts.gateway, opts.seed,
                     config)
    except (ValueError, TypeError, HostError) as exc:
        print(f"tcplab agent {opts.name}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        what = exc.filename or ", ".join(i.name for i in ifaces)
        print(f"tcplab agent {opts.name}: {what}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return agent.run(die_with_parent=True)


if __name__ == "__main__":
    sys.exit(main())
