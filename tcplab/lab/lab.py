"""The lab: a topology on a backend, the command executor and the event stream.

Theory of operation
-------------------
:class:`Lab` owns the :class:`~tcplab.lab.events.EventBus` and a backend.  Commands
(parsed by :mod:`tcplab.lab.commands`) are carried out here: names and addresses are
resolved (``c1``, ``c1'``, ``h1:40000>h2:80``; host names or IPs), then the backend's
host applications are called.  Every command ends in one ``CommandDone`` event with
its result or its error; a command that fails changes nothing.

The lab also remembers what it needs to judge expectations: which socket each name
points to (names outlive their connections, so ``expect c1 CLOSED`` holds after the
socket is gone) and every state each socket entered.

Time travel (simulated backend): ``wait`` and ``step`` run a slice at a time
(:mod:`tcplab.lab.clockrun`), so a dashboard can drive them without freezing --
:meth:`Lab.begin`, :meth:`Lab.start_wait`, :meth:`Lab.run_slice`, :meth:`Lab.interrupt`,
:attr:`Lab.waiting`; breakpoints (:mod:`tcplab.lab.breakpoints`) stop the clock right
after an event; every command's ``command`` event is kept (:attr:`Lab.commands`), the
log that ``rewind`` re-executes (:mod:`tcplab.lab.rerun`).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tcplab.lab import commands as C
from tcplab.lab import netcmds
from tcplab.lab.app import HostApp, read_send_file
from tcplab.lab.backend import Backend, LinkState
from tcplab.lab.breakpoints import Breakpoints, Hit
from tcplab.lab.clockrun import ClockRun, Hint
from tcplab.lab.errors import LabError as LabError  # where callers have always found it
from tcplab.lab.events import BreakHit, CommandDone, ConnNamed, EventBus, LabEvent, LinkChanged
from tcplab.lab.port import precheck
from tcplab.lab.timeline import Timeline
from tcplab.lab.topology import TopologySpec
from tcplab.stack import events as H
from tcplab.stack.sockets import HostError, SocketInfo
from tcplab.tcp.states import State

if TYPE_CHECKING:
    from tcplab.lab.session import RunInputs

CLOSED_KEPT = 4096  # closed sockets whose history and deliveries the lab keeps
_SOCKET_PREFIX = re.compile(r"^socket \d+: ")


@dataclass(frozen=True, slots=True)
class Result:
    """How a command ended: ``ok`` and the line the user sees (the result, or the error
    without a traceback); the same pair is published as a ``command`` event."""

    ok: bool
    message: str


@dataclass(slots=True)
class _Named:
    host: str
    sid: int
    local: tuple[str, int]
    remote: tuple[str, int]
    peer: tuple[str, int] | None = None  # the accepted side, once found (host, socket)


def _no_isn(info: SocketInfo) -> bool:
    """A kernel host's socket: Linux does not report its ISS and IRS (both 0), so only
    the four-tuple tells its connection."""
    return info.status.iss == 0 and info.status.irs == 0


class Lab:
    """A running lab (see the module docstring)."""

    def __init__(self, topo: TopologySpec, backend: Backend, bus: EventBus | None = None
                 ) -> None:
        self.topo = topo
        self.backend = backend
        self.bus = bus if bus is not None else EventBus()
        self.names: dict[str, _Named] = {}
        self.history: dict[tuple[str, int], list[State]] = {}
        self.delivered: dict[tuple[str, int], int] = {}
        self._closed: deque[tuple[str, int]] = deque()  # closed sockets, oldest first
        self.breakpoints = Breakpoints(self._conn, self._stop_clock)
        self.commands: list[CommandDone] = []  # this branch's commands: what rewind re-runs
        self.inputs: RunInputs | None = None   # set by session.announce: rewind re-announces
        self.last_result: Result | None = None  # of the last command that ended
        self._clock_run: ClockRun | None = None
        self.timeline: Timeline | None = None  # the stream, indexed (keep_timeline)
        self.bus.subscribe(self._track)
        self.host_names = tuple(h.name for h in topo.hosts)
        self._ip_to_host = {h.ip: h.name for h in topo.hosts}

    def keep_timeline(self, header: dict[str, Any] | None = None) -> Timeline:
        """Keep the event stream from now on, indexed, for the dashboard to draw from
        (called before :meth:`start`, it holds every event of the run)."""
        if self.timeline is None:
            timeline = self.timeline = Timeline(header or {
                "kind": "header", "backend": self.backend.name, "clock": "virtual"
                if self.backend.virtual else "real", "seed": getattr(self.backend, "seed", 0),
                "hosts": [{"name": h.name, "ip": h.ip, "kernel": h.kernel}
                          for h in self.topo.hosts]})
            self.bus.subscribe(timeline.append)
        return self.timeline

    def start(self) -> None:
        """Start the backend on the topology, then publish a ``link.changed`` event with
        each link direction's starting parameters (so a replay knows them too)."""
        self.backend.start(self.topo, self.bus.publish)
        for st in self.links():  # where every link starts, so a replay knows it too
            self.bus.publish(LinkChanged(self.now(), "", st.link, f"{st.src}>{st.dst}",
                                         netcmds.describe_params(st)))

    def stop(self) -> None:
        """End the run: a wait or step still running is interrupted first (its ``command``
        event says where it stopped), then the backend is taken down."""
        if self._clock_run is not None:
            self.interrupt()  # its command event says where it stopped
        self.backend.stop()

    def reset(self, backend: Backend) -> None:
        """Forget the run (names, histories, breakpoints, commands) and take ``backend``,
        not started yet: a rewind re-runs the start on it."""
        self.backend = backend
        self.names.clear()
        self.history.clear()
        self.delivered.clear()
        self._closed.clear()
        self.breakpoints = Breakpoints(self._conn, self._stop_clock)
        self.commands = []
        self._clock_run = None

    def now(self) -> float:
        """The run's clock in seconds (the backend's, virtual or wall)."""
        return self.backend.now()

    # -- what the dashboard asks (:class:`tcplab.lab.port.LabPort`) ---------------------
    @property
    def virtual(self) -> bool:
        """The run has a virtual clock, moved only by ``wait``/``step``; else the wall
        clock."""
        return self.backend.virtual

    @property
    def paused(self) -> bool:
        """The clock is paused (``pause``, or a breakpoint stopped a real clock); a
        backend that cannot pause never is."""
        return bool(getattr(self.backend, "paused", False))

    def subscribe(self, callback: Callable[[LabEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with every event published from now on, in order; returns the
        function that unsubscribes it."""
        return self.bus.subscribe(callback)

    def precheck(self, cmd: C.Command) -> str | None:
        """Why ``cmd`` would fail on this lab (an unknown host or node, no such link, an
        unknown or closed connection), without running or changing anything; None when
        nothing is seen wrong.  A form checks a line with it before submitting."""
        return precheck(self, cmd)

    # -- the stream ---------------------------------------------------------------
    def _track(self, event: LabEvent) -> None:
        if isinstance(event, H.StateChanged):
            key = (event.host, event.sid)
            seen = self.history.setdefault(key, [event.old])
            seen.append(event.new)
            if event.new is State.CLOSED:
                self._forget_closed(key)
        elif isinstance(event, H.Delivered):
            key = (event.host, event.sid)
            self.delivered[key] = self.delivered.get(key, 0) + len(event.data)
        elif isinstance(event, CommandDone):
            self.commands.append(event)
        if self.breakpoints:
            self.breakpoints.observe(event)
        if self._clock_run is not None:
            self._clock_run.observe(event)

    def _forget_closed(self, key: tuple[str, int]) -> None:
        """Keep what expectations need of the last :data:`CLOSED_KEPT` closed sockets,
        and of every named one: a flood of connections does not grow the lab for ever."""
        self._closed.append(key)
        while len(self._closed) > CLOSED_KEPT:
            old = self._closed.popleft()
            if not any(old in ((n.host, n.sid), n.peer) for n in self.names.values()):
                self.history.pop(old, None)
                self.delivered.pop(old, None)

    def _stop_clock(self) -> None:
        sched = getattr(self.backend, "scheduler", None)
        if sched is not None:
            sched.stop = True

    def flush_hits(self) -> list[Hit]:
        """Publish the breakpoints that fired since the last call (``break.hit``);
        a real clock then pauses, as nothing else would stop it."""
        hits = self.breakpoints.take()
        sched = getattr(self.backend, "scheduler", None)
        if sched is not None:
            sched.stop = False
        if hits:
            now = self.now()
            for hit in hits:
                bp = hit.breakpoint
                self.bus.publish(BreakHit(now, hit.host, bp.number, bp.spec, hit.sid,
                                          hit.detail))
            if not self.backend.virtual and not getattr(self.backend, "paused", True):
                self.backend.pause()
        return hits

    # -- commands -----------------------------------------------------------------
    def execute(self, command: str | C.Command, line_no: int | None = None, *,
                hint: Hint | None = None) -> Result:
        """Carry out one command; the result is also published as a CommandDone event.
        A ``wait`` or ``step`` runs to its end here (:meth:`begin` does not block).
        ``hint``: how a recorded wait or step ended, for re-execution (:mod:`rerun`).

        A bad command does not raise: a parse error, a LabError or a HostError comes back
        as ``Result(False, message)`` (``line N:`` in front when ``line_no`` is given),
        and a command that fails changes nothing.  While a wait runs (:attr:`waiting`)
        another command is refused, and then nothing is published."""
        result = self.begin(command, line_no, hint=hint)
        while result is None:
            run = self._clock_run
            assert run is not None
            result = self._advance(run, 0.05)
            if result is None and run.real:
                time.sleep(min(0.005, max(run.until - self.now(), 0.0)))
        return result

    # -- commands that take time, for a dashboard that must keep drawing ---------------
    def begin(self, command: str | C.Command, line_no: int | None = None, *,
              hint: Hint | None = None) -> Result | None:
        """Start one command.  Most end at once: their Result (also published as a
        CommandDone).  A ``wait`` or ``step`` that has to run returns None: call
        :meth:`run_slice` until it returns True (or :meth:`interrupt`); its CommandDone
        is published when it ends and :attr:`last_result` then holds its Result.

        While one runs (:attr:`waiting`) every other command is refused -- with a Result,
        nothing published: the command never reached the lab.
        """
        if self._clock_run is not None:
            return Result(False, f"{self._clock_run.line!r} is running: it must end "
                                 f"(or be interrupted: Esc) before another command")
        text = command if isinstance(command, str) else command.to_line()
        error: C.CommandError | None = None
        cmd: C.Command | None = None
        try:
            cmd = C.parse_line(command, line_no) if isinstance(command, str) else command
        except C.CommandError as exc:
            error = exc
        if not (isinstance(cmd, C.Wait) and not self.backend.virtual):
            self.sync()  # a wait on the real clock catches up itself: a breakpoint ends it
        try:
            if error is not None:
                raise error
            if cmd is None:
                return Result(True, "")
            if isinstance(cmd, C.Wait | C.Step):
                run = ClockRun(self, cmd, text.strip(), line_no, hint)
                started = run.start()
                if started is None:
                    self._clock_run = run
                    return None
                result = started
            else:
                result = Result(True, self._run(cmd))
        except (C.CommandError, LabError) as exc:
            result = Result(False, str(exc))
        except HostError as exc:
            result = Result(False, str(exc))
        return self._finish(text, line_no, result)

    def start_wait(self, seconds: float) -> None:
        """Start ``wait SECONDS`` without blocking (see :meth:`begin`)."""
        self.begin(C.Wait(seconds))

    @property
    def waiting(self) -> bool:
        """A wait or step is running: drive it with :meth:`run_slice`."""
        return self._clock_run is not None

    def run_slice(self, budget: float) -> bool:
        """Run the wait or step in progress for at most ``budget`` wall seconds (the wall
        clock is read every few hundred scheduler entries); True once it has ended
        (its CommandDone published) or when none is running."""
        run = self._clock_run
        return run is None or self._advance(run, budget) is not None

    def interrupt(self) -> None:
        """End the running wait or step where it is, even mid-instant; its CommandDone
        says where (the dashboard's Esc).  Nothing running: nothing happens."""
        run = self._clock_run
        if run is not None:
            self._clock_run = None
            self._finish(run.line, run.line_no, run.interrupt())

    def _advance(self, run: ClockRun, budget: float) -> Result | None:
        result = run.slice(budget)
        if result is not None:
            self._clock_run = None
            self._finish(run.line, run.line_no, result)
        return result

    def _finish(self, text: str, line_no: int | None, result: Result) -> Result:
        self.flush_hits()  # breakpoints the command itself fired (its FIN, say)
        self.backend.end_instant()  # what the command changed, sampled before its result
        where = f"line {line_no}: " if line_no is not None and not result.ok else ""
        if where and not result.message.startswith("line "):
            result = Result(False, where + result.message)
        self.bus.publish(CommandDone(self.now(), "", text.strip(), result.ok, result.message))
        self.last_result = result
        return result

    def _run(self, cmd: C.Command) -> str:
        now = self.now()
        if isinstance(cmd, C.Listen):
            host = self._host(cmd.endpoint.host)
            sid = self._call(host, lambda app: app.listen(cmd.endpoint.port, now,
                                                            dict(cmd.tcp) or None))
            return f"{host} listening on port {cmd.endpoint.port} (socket {sid})"
        if isinstance(cmd, C.Tcp):
            return self._tcp(cmd, now)
        if isinstance(cmd, C.Connect):
            return self._connect(cmd, now)
        if isinstance(cmd, C.SendText | C.SendBytes | C.SendFile | C.Shutdown | C.Close
                      | C.Abort):
            try:
                if isinstance(cmd, C.SendText | C.SendBytes | C.SendFile):
                    return self._send(cmd, now)
                host, sid = self._conn(cmd.conn)
                self._call(host, lambda app: getattr(app, cmd.name)(sid, now))
            except HostError as exc:
                # name the connection as the user did, not by the host's socket number
                raise LabError(f"{cmd.conn}: {_SOCKET_PREFIX.sub('', str(exc))}") from None
            return f"{cmd.name} {cmd.conn}"
        if isinstance(cmd, C.Link):
            return netcmds.set_link(self, cmd)
        if isinstance(cmd, C.Break | C.Breaks | C.Unbreak):
            return self.breakpoints.command(cmd, hasattr(self.backend, "scheduler"))
        if isinstance(cmd, C.Rewind):
            from tcplab.lab.rerun import rewind

            return rewind(self, cmd.seconds)
        if isinstance(cmd, C.Expect | C.ExpectSeen | C.ExpectReceived):
            ok, message = self.check(cmd)
            if not ok:
                raise LabError(message)
            return message
        if isinstance(cmd, C.Hold | C.Drop):
            return netcmds.add_filter(self, cmd)
        if isinstance(cmd, C.Release):
            return netcmds.release(self, cmd)
        if isinstance(cmd, C.Pause):
            self.backend.pause()
            return "clock paused"
        if isinstance(cmd, C.Resume):
            self.backend.resume()
            return "clock running"
        if isinstance(cmd, C.Restart):
            return self._restart(self._host(cmd.host))
        raise LabError(f"{cmd.name}: not supported by this backend")

    def wait(self, seconds: float) -> None:
        """Let the run's clock go ``seconds`` forward (at once under virtual time), with
        no command event; a breakpoint ends it early, as it ends a ``wait`` command.

        For drivers outside the command language (benches, tests): as no ``command``
        event records it, it is not in :attr:`commands` and a ``rewind`` does not re-run
        it -- a run that must be re-executable waits with ``execute("wait ...")``."""
        if self.backend.virtual:
            self.backend.advance(seconds)
        else:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0 and not self.flush_hits():
                self.backend.catch_up()
                time.sleep(min(left, 0.005))
            self.backend.catch_up()
        self.flush_hits()

    def sync(self) -> None:
        """Under real time, bring the network up to the wall clock (a breakpoint stops
        it there and pauses the clock)."""
        if not self.backend.virtual:
            self.backend.catch_up()
            self.flush_hits()

    def _restart(self, host: str) -> str:
        restart = getattr(self.backend, "restart", None)
        if restart is None:
            raise LabError("restart: only Mininet hosts have agents to restart")
        message = str(restart(host))
        # The new agent numbers its sockets from 1 again: what the lab knew of the old
        # ones must not stick to new sockets with the same numbers.
        gone = sorted(name for name, named in self.names.items() if named.host == host)
        for name in gone:
            del self.names[name]
        for table in (self.history, self.delivered):
            for key in [k for k in table if k[0] == host]:
                del table[key]
        return message + (f"; forgot the names {', '.join(gone)}" if gone else "")

    # -- resolving names ----------------------------------------------------------
    def _host(self, name: str) -> str:
        if name in self.host_names:
            return name
        if name in self._ip_to_host:
            return self._ip_to_host[name]
        raise LabError(f"unknown host {name!r} (hosts: {', '.join(self.host_names)})")

    def _ip(self, host: str) -> str:
        return self.backend.ips[host]

    def _tcp(self, cmd: C.Tcp, now: float) -> str:
        host = self._host(cmd.host)
        features = {k: v for k, v in cmd.tcp if k != "read"}
        read = dict(cmd.tcp).get("read")
        # read= is the application's: it acts on the host's sockets now (the lab's clock);
        # a Mininet agent's API has no call for that, only listen/connect carry it
        if read is not None and not hasattr(self.backend.app(host), "set_reading"):
            raise LabError(f"tcp {host} read=: only the simulated network's hosts take it "
                           f"(on Mininet, give read=off to listen or connect)")
        if features:
            self._call(host, lambda app: app.set_tcp(features))
        if read is not None:
            self._call(host, lambda app: app.set_reading(read, now))
        said = ["new sockets use " + " ".join(
            f"{k}={'on' if v else 'off'}" for k, v in features.items())] if features else []
        if read is not None:
            said.append("its application " + ("reads again" if read else "stops reading"))
        return f"{host}: " + "; ".join(said)

    def _call(self, host: str, fn: Any) -> Any:
        app = self.backend.app(host)
        try:
            return fn(app)
        finally:
            self.backend.kick(host)

    def _connect(self, cmd: C.Connect, now: float) -> str:
        host = self._host(cmd.local_host)
        rhost = self._host(cmd.remote.host)
        if cmd.conn_name is not None and cmd.conn_name in self.names:
            raise LabError(f"name {cmd.conn_name!r} is already taken")
        rip = self._ip(rhost)
        sid = self._call(host, lambda app: app.connect(rip, cmd.remote.port, now,
                                                        cmd.local_port, dict(cmd.tcp) or None))
        info = self.backend.app(host).socket(sid)
        remote = info.remote or (rip, cmd.remote.port)
        label = self._label(host, info.local, remote)
        if cmd.conn_name is not None:
            self.names[cmd.conn_name] = _Named(host, sid, info.local, remote)
            self.bus.publish(ConnNamed(now, host, sid, cmd.conn_name, info.local, remote))
            label = f"{cmd.conn_name} ({label})"
        return f"connecting {label}"

    def _label(self, host: str, local: tuple[str, int], remote: tuple[str, int]) -> str:
        rhost = self._ip_to_host.get(remote[0], remote[0])
        return f"{host}:{local[1]}>{rhost}:{remote[1]}"

    def _conn(self, ref: C.ConnRef) -> tuple[str, int]:
        """(host, socket id) of a connection reference."""
        if isinstance(ref, C.ConnName):
            named = self.names.get(ref.name)
            if named is None:
                raise LabError(f"no connection named {ref.name!r}")
            if not ref.accepted:
                return named.host, named.sid
            peer = self._ip_to_host.get(named.remote[0])
            if peer is None:
                raise LabError(f"{ref}: the peer {named.remote[0]} is not a lab host")
            if named.peer is None:
                found = self._accepted_side(peer, named)
                if found is None:
                    raise LabError(f"{ref}: no accepted connection yet on {peer}")
                named.peer = (peer, found)
            return named.peer
        host = self._host(ref.local.host)
        local = (self._ip(host), ref.local.port)
        rhost = self._host(ref.remote.host)
        remote = (self._ip(rhost), ref.remote.port)
        found = self._find(host, local, remote)
        if found is None:
            raise LabError(f"no connection {ref}")
        return host, found

    def _accepted_side(self, peer: str, named: _Named) -> int | None:
        """The peer's socket of a named connection: same four-tuple and its IRS is our
        ISS, so a later connection reusing the four-tuple is not taken for it."""
        ours = self.socket(named.host, named.sid)
        for info in self.backend.app(peer).sockets():
            if info.local == named.remote and info.remote == named.local and (
                    ours is None or info.status.irs == ours.status.iss
                    or _no_isn(ours) or _no_isn(info)):
                return info.id
        return None

    def _find(self, host: str, local: tuple[str, int], remote: tuple[str, int]) -> int | None:
        best: int | None = None
        for info in self.backend.app(host).sockets():
            if info.local == local and info.remote == remote:
                best = info.id  # the newest one with this four-tuple
        return best

    def socket_info(self, ref: C.ConnRef) -> tuple[str, SocketInfo | None, list[State]]:
        """Resolve a connection reference (``c1``, ``c1'``, ``h1:40000>h2:80``) to
        ``(host, its socket's table row, every state the socket entered)``; the row is
        None once the host no longer knows the socket.  Raises LabError for an unknown
        name, four-tuple or host."""
        host, sid = self._conn(ref)
        try:
            info: SocketInfo | None = self.backend.app(host).socket(sid)
        except HostError:
            info = None
        return host, info, self.history.get((host, sid), [])

    # -- tables for the dashboard ------------------------------------------------
    def sockets(self) -> list[tuple[str, SocketInfo]]:
        """Every socket on every stack host, as (host, info)."""
        out: list[tuple[str, SocketInfo]] = []
        for host in self.host_names:
            try:
                out.extend((host, info) for info in self.backend.app(host).sockets())
            except (HostError, LabError):
                continue  # a host without a stack (kernel host) or one that is down
        return out

    def socket(self, host: str, sid: int) -> SocketInfo | None:
        """One socket's table row, or None when the host cannot say (down, kernel)."""
        try:
            return self.backend.app(host).socket(sid)
        except (HostError, LabError):
            return None

    def links(self) -> list[LinkState]:
        """Both directions of every link as they are now, link by link."""
        return [st for name in self.backend.link_names() for st in self.backend.link_states(name)]

    def name_of(self, host: str, sid: int, info: SocketInfo | None = None) -> str:
        """The name a user gave a connection (``c1``, ``c1'``), or ""."""
        for name, named in self.names.items():
            if named.host == host and named.sid == sid:
                return name
            if named.peer is not None:
                if named.peer == (host, sid):
                    return name + "'"
            elif info is not None and info.remote is not None and named.local == info.remote \
                    and named.remote == info.local:
                return name + "'"
        return ""

    # -- data ---------------------------------------------------------------------
    def _send(self, cmd: C.SendText | C.SendBytes | C.SendFile, now: float) -> str:
        host, sid = self._conn(cmd.conn)
        if isinstance(cmd, C.SendBytes):
            self._call(host, lambda app: app.write_pattern(sid, cmd.count, now))
            return f"sending {cmd.count} bytes on {cmd.conn}"
        if isinstance(cmd, C.SendFile):
            try:
                data = read_send_file(cmd.path)
            except ValueError as exc:
                raise LabError(str(exc)) from None
        elif cmd.urgent:
            def write_urgent(app: Any) -> None:
                if not isinstance(app, HostApp):  # the Mininet agents' protocol has no flag
                    raise LabError(f"send --urgent: {host} takes urgent data only on the "
                                   f"simulated network")
                app.write(sid, cmd.data, now, urgent=True)
            self._call(host, write_urgent)
            return f"sending {len(cmd.data)} urgent bytes on {cmd.conn}"
        else:
            data = cmd.data
        self._call(host, lambda app: app.write(sid, data, now))
        return f"sending {len(data)} bytes on {cmd.conn}"

    # -- expectations -------------------------------------------------------------
    def check(self, cmd: C.Expect | C.ExpectSeen | C.ExpectReceived) -> tuple[bool, str]:
        """Whether an expectation holds now, and a line saying what was found."""
        _host, info, seen = self.socket_info(cmd.conn)
        if isinstance(cmd, C.ExpectReceived):
            peer_host, peer_sid = self._conn(cmd.conn.peer)
            got = self.delivered.get((peer_host, peer_sid), 0)
            ok = got == cmd.count
            return ok, (f"expect-received {cmd.conn} {cmd.count}: the peer application got "
                        f"{got} bytes")
        state = info.state if info is not None else State.CLOSED
        if isinstance(cmd, C.Expect):
            ok = state is cmd.state
            return ok, f"expect {cmd.conn} {cmd.state}: state is {state}"
        ok = cmd.state in seen or state is cmd.state
        visited = " -> ".join(str(s) for s in seen) or str(state)
        return ok, f"expect-seen {cmd.conn} {cmd.state}: visited {visited}"
