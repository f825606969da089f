"""The Mininet backend: real namespaces and veths, tcplab's stack in one agent per host.

Theory of operation
-------------------
:meth:`MininetBackend.start` builds the network (:mod:`.net`), turns offloads off on every
lab interface, silences the kernel's TCP in each stack host (an nft ``inet`` table
dropping TCP to the host's address at input, so only the userspace stack answers), then
starts one agent per stack host inside its namespace with ``host.popen`` and waits for
every agent's hello on its control socket in the lab's runtime directory.  Last, the
topology's link parameters are applied where :mod:`.impair` places them.  Each phase
is one :class:`Notice` line, so a slow start is visible.

Everything after that goes through the agents' control connections
(:class:`~.protocol.AgentClient`): :meth:`app` gives a :class:`HostApi` proxy whose calls
are requests; the agents push their hosts' events, which :meth:`catch_up` drains, merges
by time, relabels (an agent knows interfaces, the lab knows links) and publishes.  The
clock is the wall clock: ``t`` is ``time.monotonic() - epoch`` in the lab and in every
agent alike, since CLOCK_MONOTONIC is system-wide.

Failure: an agent that dies becomes a :class:`HostStatus` ``up=False`` event and its
host's calls fail with one line, while the other hosts go on.  :meth:`restart` (the
``restart HOST`` command) starts a fresh agent in the same namespace -- same interface
and address, the link settings its agent carried and its ``tcp`` defaults sent again,
but none of the old sockets -- and publishes ``HostStatus(up=True, "restarted")``.
A kernel host runs Linux's TCP; its agent (:mod:`.linux.agent`) carries out the same
calls with real sockets and reports what the kernel does, over the same channel.

Teardown: :meth:`stop` quits the agents, kills what is left in the hosts' namespaces,
stops Mininet, deletes the nft table and the runtime directory.  It runs on a normal
stop, on an exception, on SIGTERM/SIGHUP and at interpreter exit; the state file
(:mod:`.clean`) lets ``tcplab clean`` finish the job after a ``kill -9``.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import errno as E
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from tcplab.backends.mininet import clean as C
from tcplab.backends.mininet import impair as I
from tcplab.backends.mininet import net as N
from tcplab.backends.mininet import netlink
from tcplab.backends.mininet.capture import FrameCapture, FrameTap
from tcplab.backends.mininet.hosts import AgentApi, AgentProc, KernelApi, wait_hellos
from tcplab.backends.mininet.protocol import (
    AgentError,
    AgentGone,
    ProtocolError,
    events_from_line,
    events_from_records,
    unlink_socket,
)
from tcplab.lab.backend import FilterSpec, HostApi, HostFrameTap, LinkState
from tcplab.lab.events import HostStatus, LabEvent, LinkDropped, LinkHeld, Notice
from tcplab.lab.lab import LabError
from tcplab.lab.topology import TopologySpec
from tcplab.stack.sockets import HostError
from tcplab.tcp.config import Config

AGENT_MODULE = "tcplab.backends.mininet.agent"
KERNEL_AGENT_MODULE = "tcplab.backends.mininet.linux.agent"
HELLO_TIMEOUT = 20.0   # seconds for every agent to answer; 20 Python starts on 2 cores
REPO_ROOT = str(Path(__file__).resolve().parents[3])


class MininetError(RuntimeError):
    """The lab cannot start or go on; the message is one line for the user."""


class MininetBackend:
    """Hosts in Mininet namespaces, each running tcplab's stack in an agent."""

    name = "mininet"
    virtual = False

    def __init__(self, seed: int = 0, *, config: Config | None = None,
                 hello_timeout: float = HELLO_TIMEOUT, switch: str = "linuxbridge") -> None:
        if switch not in N.SWITCHES:
            raise ValueError(f"switch must be one of {', '.join(N.SWITCHES)}, not {switch!r}")
        self.switch = switch
        self.seed = seed
        self.config = config
        self.hello_timeout = hello_timeout
        self.mechanism = "not started"
        self.ips: dict[str, str] = {}
        self.lab_id = secrets.token_hex(3)
        self.epoch = time.monotonic()
        self.topo: TopologySpec | None = None
        self.network: N.Network | None = None
        self.agents: dict[str, AgentProc] = {}
        self.kernel_agents: dict[str, AgentProc] = {}  # kernel host -> its agent
        self._kernel_iface: dict[str, str] = {}         # kernel host -> its interface
        self.kernel_pids: dict[str, int] = {}
        self.impair: I.Impairments | None = None
        self.state: C.LabState | None = None
        self._publish: Callable[[LabEvent], None] = lambda e: None
        self._iface_of: dict[str, str] = {}          # stack host -> its agent's interface
        self._links: dict[str, tuple[str, str]] = {}  # link name -> (a, b)
        self._ends: dict[tuple[str, str], tuple[str, str]] = {}  # (host, ifname) -> (link, peer)
        self._old_signals: dict[int, Any] = {}
        self._started = False
        self._stopped = False
        self._generation: dict[str, int] = {}         # stack host -> agents started - 1
        self.capture = FrameCapture(ChainMap(self.agents, self.kernel_agents))

    # -- lifecycle ---------------------------------------------------------------
    def start(self, topo: TopologySpec, publish: Callable[[LabEvent], None]) -> None:
        self._publish = publish
        self.topo = topo
        self._started = True
        began = time.monotonic()
        self._arm_cleanup()
        try:
            self._start(topo)
        except BaseException:
            self.stop()
            raise
        self._notice(f"ready in {time.monotonic() - began:.1f} s; links: {self.mechanism}")

    def _start(self, topo: TopologySpec) -> None:
        if self.switch == "ovs" and topo.switches and (why := N.ovs_unusable()) is not None:
            raise MininetError(f"cannot use Open vSwitch: {why}")
        try:
            # before recording the names: what the state file names, stop() deletes
            N.check_free(topo)
        except N.NetError as exc:
            raise MininetError(str(exc)) from None
        rundir = C.runtime_base() / self.lab_id
        rundir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        rundir.mkdir(mode=0o700)
        ports, bridges = N.root_names(topo)
        me = os.getpid()
        self.state = C.LabState(self.lab_id, str(rundir),
                                C.ProcRecord.of("lab", me, C.proc_cmdline(me)[:200]),
                                links=ports, bridges=bridges)
        if topo.switches:
            self.state.nft_tables.append(f"bridge tcplab_{self.lab_id}")
        self.state.save()
        stack = [h for h in topo.hosts if not h.kernel]
        kind = ("Open vSwitch, userspace datapath" if self.switch == "ovs" else "LinuxBridge")
        self._notice(f"building network: {len(topo.hosts)} hosts, {len(topo.switches)} "
                     f"switches ({kind}), {len(topo.links)} links")
        why_no_netem = netlink.netem_missing()
        try:
            self.network = N.build(topo, self.switch)
        except N.NetError as exc:
            raise MininetError(str(exc)) from None
        network = self.network
        for spec in topo.hosts:
            self.ips[spec.name] = spec.ip
            pid = network.pid(spec.name)
            self.state.processes.append(C.ProcRecord.of(f"shell {spec.name}", pid,
                                                        f"mininet:{spec.name}"))
            links = N.host_interfaces(topo, spec.name)
            ifaces = [N.host_ifname(ln, spec.name) for ln in links]
            self.state.namespaces.append(C.NsRecord(spec.name, C.netns_inode(pid) or 0, ifaces))
            if spec.kernel:
                self.kernel_pids[spec.name] = pid
                if ifaces:
                    self._kernel_iface[spec.name] = ifaces[0]
            elif ifaces:
                self._iface_of[spec.name] = ifaces[0]
        for ln in topo.links:
            name = I.link_name(ln)
            self._links[name] = (ln.a, ln.b)
            self._ends[(ln.a, ln.intf_a)] = (name, ln.b)
            self._ends[(ln.b, ln.intf_b)] = (name, ln.a)
            self.capture.cable(name, ln.a, ln.intf_a, ln.b, ln.intf_b)
        self.state.save()
        try:
            N.run_all([*N.offload_commands(network),
                       *(N.silence_kernel_tcp(network, h.name) for h in stack)])
        except N.NetError as exc:
            raise MininetError(str(exc)) from None
        self._start_agents([h.name for h in stack if h.name in self._iface_of], rundir)
        self._start_kernel_agents(rundir)
        netem = why_no_netem is None
        self.mechanism = ("netem on each link's sending interface" if netem else
                          f"agents' egress/ingress queues ({why_no_netem}); between switches "
                          f"and kernel hosts loss only, by nft bridge rules")
        self.impair = I.Impairments(I.place(topo, self._iface_of, netem), self.lab_id,
                                    self._agent_impair, self._run, self._notice, why_no_netem)
        for ln in topo.links:
            for src, params in ((ln.a, ln.ab), (ln.b, ln.ba)):
                changes = I.topo_changes(params)
                if changes:
                    self._set(I.link_name(ln), [src], changes)

    def _start_agents(self, hosts: list[str], rundir: Path) -> None:
        if not hosts:
            return
        assert self.state is not None
        for host in hosts:
            self.agents[host] = self._spawn(host, rundir)
        self.state.save()
        self._wait_hellos(list(self.agents.values()))
        self._notice(f"starting agents {len(self.agents)}/{len(self.agents)}")
        if self.capture.wanted:
            self._capture(True)

    def _start_kernel_agents(self, rundir: Path) -> None:
        """An agent in each kernel host with a link: Linux's sockets, driven and watched."""
        if not self._kernel_iface:
            return
        assert self.state is not None
        for host in self._kernel_iface:
            self.kernel_agents[host] = self._spawn(host, rundir, kernel=True)
        self.state.save()
        self._wait_hellos(list(self.kernel_agents.values()))
        if self.capture.wanted:
            self._capture(True, self.kernel_agents.values())

    def _spawn(self, host: str, rundir: Path, kernel: bool = False) -> AgentProc:
        """Start ``host``'s agent (recorded in the state, not yet saved)."""
        assert self.network is not None and self.state is not None and self.topo is not None
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, env.get("PYTHONPATH"))
                                            if p)
        spec = self.topo.host(host)
        ifaces = self._kernel_iface if kernel else self._iface_of
        module = KERNEL_AGENT_MODULE if kernel else AGENT_MODULE
        ifname = ifaces[host]
        sock = str(rundir / f"{host}.sock")
        log = rundir / f"{host}.log"
        generation = self._generation[host] = self._generation.get(host, -1) + 1
        seed = self.seed * 1000 + list(ifaces).index(host) + 100_000 * generation
        argv = [sys.executable, "-m", module, "--name", host, "--control", sock,
                "--epoch", repr(self.epoch), "--seed", str(seed),
                "--iface", f"{ifname},{self.network.mac(host, ifname)},"
                           f"{spec.ip}/{spec.prefix_len}"]
        config = self._config_json()
        if config is not None:
            argv += ["--config", config]
        unlink_socket(sock)  # a killed agent's socket file would answer "refused"
        with open(log, "ab") as err:  # a restarted agent's log follows its predecessor's
            proc = self.network.node(host).popen(argv, stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.DEVNULL, stderr=err,
                                                 env=env, cwd=REPO_ROOT)
        what = f"agent {host}"
        self.state.processes = [p for p in self.state.processes if p.what != what]
        self.state.processes.append(C.ProcRecord.of(what, proc.pid, module))
        return AgentProc(host, ifname, proc, sock, log)

    def _wait_hellos(self, waiting: list[AgentProc]) -> None:
        why = wait_hellos(waiting, self.hello_timeout)
        if why is not None:
            raise MininetError(why)

    def _config_json(self) -> str | None:
        if self.config is None:
            return None
        fields = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        return json.dumps({k: v for k, v in fields.items() if not isinstance(v, bytes)})

    def stop(self) -> None:
        """Take everything down (idempotent); see the module docstring."""
        if self._stopped or not self._started:
            return
        self._stopped = True
        try:
            self._quit_agents()
            if self.state is not None and self.network is not None:
                shells = {p.pid for p in self.state.processes if p.what.startswith("shell")}
                for ns in self.state.namespaces:
                    for pid in C.namespace_pids(ns):
                        if pid not in shells:
                            start = C.proc_start_time(pid)
                            C.kill(pid, lambda pid=pid, start=start:
                                   start is not None and C.proc_start_time(pid) == start)
            if self.network is not None:
                self.network.stop()
        finally:
            if self.state is not None:
                C.clean_lab(self.state, set(), lambda text: None)
            self._disarm_cleanup()

    def _quit_agents(self, agents: list[AgentProc] | None = None) -> None:
        """Ask ``agents`` (default: all) to quit; kill what is left after a second."""
        if agents is None:
            agents = [*self.agents.values(), *self.kernel_agents.values()]
        for agent in agents:
            if agent.client is not None and not agent.client.closed:
                with contextlib.suppress(AgentError):
                    agent.client.request("quit", timeout=1.0)
        deadline = time.monotonic() + 1.0
        for agent in agents:
            try:
                agent.proc.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                agent.proc.kill()
                agent.proc.wait()
            if agent.client is not None:
                agent.client.close()

    def restart(self, host: str) -> str:
        """A fresh agent on ``host``: same namespace, interface and address, the link
        settings that live in its agent, and its ``tcp`` defaults; no sockets.  A running
        agent is stopped first (its peers are not told)."""
        old = self.agents.get(host)
        if old is None:
            if host in self.kernel_pids:
                raise LabError(f"restart: {host} is a kernel host: its agent drives Linux's "
                               f"sockets and is not restarted")
            raise LabError(f"restart: {host} has no agent (it has no link)")
        assert self.state is not None and self.impair is not None
        self.catch_up()  # what the old agent said before it goes
        if old.down is None:
            old.down = "restarting"
            self._publish(HostStatus(self.now(), host, False, "restarting"))
        self._quit_agents([old])
        agent = self.agents[host] = self._spawn(host, Path(self.state.rundir))
        self.state.save()
        try:
            self._wait_hellos([agent])
            for (link, src), p in self.impair.placements.items():
                state = self.impair.states[(link, src)]
                if p.node == host and p.mode in ("egress", "ingress") and \
                        state != I.initial_state(p):
                    self._agent_impair(host, p.ifname, p.mode, I.agent_changes(state))
            if old.tcp:
                AgentApi(self.request, agent).set_tcp(old.tcp)
            if self.capture.wanted:
                self.request(agent, "capture", on=True)
        except (MininetError, HostError) as exc:
            self._quit_agents([agent])
            self._mark_down(agent, f"restart failed: {exc}")
            raise LabError(f"restart {host}: {exc}") from None
        self._publish(HostStatus(self.now(), host, True, "restarted"))
        return (f"{host} restarted: a new agent on {agent.ifname} ({self.ips[host]}); "
                f"its old sockets are gone")

    def _arm_cleanup(self) -> None:
        atexit.register(self.stop)
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_signals[sig] = signal.signal(sig, _exit_on_signal)

    def _disarm_cleanup(self) -> None:
        atexit.unregister(self.stop)
        if threading.current_thread() is threading.main_thread():
            for sig, old in self._old_signals.items():
                signal.signal(sig, old)
        self._old_signals.clear()

    # -- time --------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.epoch

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of wall time pass, publishing events as they come."""
        deadline = time.monotonic() + max(seconds, 0.0)
        while (left := deadline - time.monotonic()) > 0:
            clients = [a.client for a in self.agents.values()
                       if a.client is not None and not a.client.closed]
            if clients:
                select.select(clients, [], [], min(left, 0.05))
            else:
                time.sleep(min(left, 0.05))
            self.catch_up()
        self.catch_up()

    def catch_up(self) -> None:
        """Publish every event the agents pushed so far, merged in time order."""
        batch: list[LabEvent] = []
        for agent in [*self.agents.values(), *self.kernel_agents.values()]:
            batch.extend(self._drain(agent))
        self.capture.flush()
        batch.sort(key=lambda e: e.t)
        for event in batch:
            self._publish(event)

    def end_instant(self) -> None:
        """Agents sample their TCBs themselves at the end of each of their turns."""

    def pause(self) -> None:
        raise LabError("pause: not supported on Mininet (real hosts run on the wall clock; "
                       "use the simulated network to pause)")

    def resume(self) -> None:
        raise LabError("resume: not supported on Mininet (its clock never pauses)")

    # -- hosts -------------------------------------------------------------------
    def app(self, host: str) -> HostApi:
        if host in self.agents:
            return AgentApi(self.request, self.agents[host])
        if host in self.kernel_agents:
            return AgentApi(self.request, self.kernel_agents[host])
        if host in self.kernel_pids:
            return KernelApi(host, self.kernel_pids[host])
        raise HostError(E.ENOENT, f"{host} has no agent (it has no link)")

    def kick(self, host: str) -> None:
        # The events a call caused come before the lab's CommandDone line.
        self.catch_up()

    def request(self, agent: AgentProc, op: str, timeout: float = 30.0,
                **args: Any) -> dict[str, Any]:
        """One request to ``agent``; failures become HostError with one line."""
        if agent.down is not None or agent.client is None:
            raise HostError(E.EHOSTDOWN, f"{agent.host} is down: {agent.down or 'no agent'}")
        try:
            return agent.client.request(op, timeout=timeout, **args)
        except AgentGone as exc:
            self._mark_down(agent, str(exc))
            raise HostError(E.EHOSTDOWN, f"{agent.host} is down: {agent.down}") from None
        except AgentError as exc:
            raise HostError(exc.errno or E.EIO, str(exc)) from None

    def _mark_down(self, agent: AgentProc, why: str) -> None:
        if agent.down is not None:
            return
        code = agent.proc.poll()
        if code is None:
            try:
                code = agent.proc.wait(0.2)
            except subprocess.TimeoutExpired:
                code = None
        status = "still running" if code is None else f"exit status {code}"
        tail = agent.stderr_tail()
        agent.down = f"its agent stopped ({status}{'; ' + tail if tail else ''})"
        self._publish(HostStatus(self.now(), agent.host, False, agent.down))

    def _drain(self, agent: AgentProc) -> list[LabEvent]:
        client = agent.client
        if client is None or agent.down is not None:
            return []
        out: list[LabEvent] = []
        for msg in client.drain():
            try:
                if "events_line" in msg or "events" in msg:
                    events, errors = (events_from_line(msg["events_line"], agent.host)
                                      if "events_line" in msg
                                      else events_from_records(msg["events"], agent.host))
                    out += [self._relabel(agent, e) for e in events]
                    out += [Notice(self.now(), agent.host, f"bad message from the agent: {e}")
                            for e in errors]
                elif "frame" in msg and self.capture.wanted:
                    self.capture.frame(agent.host, msg["frame"])
            except ProtocolError as exc:
                out.append(Notice(self.now(), agent.host, f"bad message from the agent: {exc}"))
        if client.closed or agent.proc.poll() is not None:
            self._mark_down(agent, "connection closed")
        return out

    def _relabel(self, agent: AgentProc, event: LabEvent) -> LabEvent:
        """An agent names its interface; the lab's stream names the link and direction."""
        if not isinstance(event, LinkDropped | LinkHeld):
            return event
        # The agent says LinkDropped(link=IFNAME, direction="egress"|"ingress") and
        # LinkHeld(direction="IFNAME:egress").
        ifname = (event.link if isinstance(event, LinkDropped)
                  else event.direction.partition(":")[0])
        if (agent.host, ifname) not in self._ends:
            ifname = agent.ifname
        link, peer = self._ends[(agent.host, ifname)]
        inbound = isinstance(event, LinkDropped) and event.direction.lower() in (
            "in", "ingress", f"{peer}>{agent.host}")
        label = f"{peer}>{agent.host}" if inbound else f"{agent.host}>{peer}"
        if isinstance(event, LinkDropped):
            return dataclasses.replace(event, host="", link=link, direction=label)
        return dataclasses.replace(event, host="", direction=label)

    def replica(self) -> None:
        return None  # the hosts run on the wall clock: a run cannot be re-executed

    def add_tap(self, tap: FrameTap) -> None:
        was_wanted = self.capture.wanted
        self.capture.taps.append(tap)
        if not was_wanted:  # the first tap of either kind turns it on
            self._capture(True)

    def add_host_tap(self, tap: HostFrameTap) -> None:
        was_wanted = self.capture.wanted
        self.capture.host_taps.append(tap)
        if not was_wanted:
            self._capture(True)

    def _capture(self, on: bool, agents: Iterable[AgentProc] | None = None) -> None:
        for agent in agents if agents is not None else [*self.agents.values(),
                                                         *self.kernel_agents.values()]:
            try:
                self.request(agent, "capture", on=on)
            except HostError:
                continue  # a host that is down captures nothing

    # -- links -------------------------------------------------------------------
    def find_link(self, a: str, b: str) -> str | None:
        for name, ends in self._links.items():
            if set(ends) == {a, b} and a != b:
                return name
        return None

    def link_names(self) -> list[str]:
        return list(self._links)

    def link_states(self, link: str) -> tuple[LinkState, LinkState]:
        assert self.impair is not None
        a, b = self._links[link]
        return self.impair.states[(link, a)], self.impair.states[(link, b)]

    def set_link(self, link: str, direction: tuple[str, str] | None,
                 changes: dict[str, Any]) -> None:
        if link not in self._links:
            raise ValueError(f"no link {link}")
        srcs = list(self._links[link]) if direction is None else [direction[0]]
        self._set(link, srcs, changes)

    def _set(self, link: str, srcs: Sequence[str], changes: dict[str, Any]) -> None:
        assert self.impair is not None
        try:
            self.impair.set([(link, src) for src in srcs], changes)
        except (N.NetError, HostError) as exc:
            raise ValueError(f"link {link}: {exc}") from None
        table = self.impair.nft_table
        if self.state is not None and table is not None and table not in self.state.nft_tables:
            self.state.nft_tables.append(table)
            self.state.save()

    def _agent_impair(self, host: str, ifname: str, where: str,
                      changes: dict[str, Any]) -> None:
        self.request(self.agents[host], "impair", ifname=ifname, where=where, changes=changes)

    def _run(self, node: str | None, what: str, argv: Sequence[str],
             stdin: str | None) -> None:
        assert self.network is not None
        if node is not None and node not in self.topo_switches():
            argv = self.network.in_host(node, argv)
        N.run_all([(what, argv, stdin)])

    def topo_switches(self) -> tuple[str, ...]:
        return self.topo.switches if self.topo is not None else ()

    # -- filters -----------------------------------------------------------------
    def _filter_iface(self, src: str, dst: str) -> tuple[AgentProc, str, str]:
        """Where a filter on segments from ``src`` to ``dst`` runs: the sender's egress
        when it is a stack host, else the receiver's ingress when that one is (a kernel
        host's segments are held in the stack host's queue): (agent, ifname, where)."""
        for host, where in ((src, "egress"), (dst, "ingress")):
            agent = self.agents.get(host)
            if agent is None:
                continue
            link = self.find_link(src, dst)
            if link is not None:
                for (end, ifname), (name, _peer) in self._ends.items():
                    if end == host and name == link:
                        return agent, ifname, where
            return agent, agent.ifname, where
        raise ValueError(f"hold/drop {src}>{dst}: on Mininet, filters run in a stack "
                         f"host's agent, so one end must be a stack host "
                         f"({', '.join(self.agents) or 'none here'})")

    def add_filter(self, spec: FilterSpec) -> None:
        agent, ifname, where = self._filter_iface(spec.src, spec.dst)
        try:
            self.request(agent, "filter", ifname=ifname, where=where, kind=str(spec.kind.value),
                         action=spec.action, count=spec.count,
                         ips=list(spec.ips) if spec.ips is not None else None)
        except HostError as exc:
            raise ValueError(str(exc)) from None

    def release(self, src: str | None, dst: str | None) -> int:
        targets: list[tuple[AgentProc, str | None, str | None]]
        if src is None or dst is None:
            targets = [(a, None, None) for a in self.agents.values() if a.down is None]
        elif src in self.agents or dst in self.agents:
            targets = [self._filter_iface(src, dst)]
        else:
            return 0
        released = 0
        for agent, ifname, where in targets:
            released += int(self.request(agent, "release", ifname=ifname,
                                         where=where)["released"])
        self.catch_up()
        return released

    # -- helpers -----------------------------------------------------------------
    def _notice(self, text: str) -> None:
        self._publish(Notice(self.now(), "", text))


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP unwind like an exception, so ``finally`` blocks and atexit clean up."""
    raise SystemExit(128 + signum)
