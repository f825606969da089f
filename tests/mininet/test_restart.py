"""Restarting a host whose agent died (needs root and Mininet), and where it is refused.

h1, h2 and h3 are stack hosts on one switch, k1 a kernel host; h2's link delays 10 ms
each way, carried out in h2's own agent (no netem here), so a restarted agent must be
given the link again.  h2's agent is killed with SIGKILL mid-run: the lab says h2 is
down while h1 and h3 carry on, ``restart h2`` brings a new agent up, and a new
connection to h2 works -- with the link delay and the ``tcp`` defaults set before.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from test_mininet_lab import MB, Run, topology_file

from tcplab.backends.mininet.clean import ProcRecord, runtime_base
from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.events import EventBus, HostStatus
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.stack.events import SegmentReceived, SegmentSent
from tcplab.tcp.segment import SYN
from tcplab.tcp.states import State


def recorded(run: Run) -> list[ProcRecord]:
    assert run.backend.state is not None
    return list(run.backend.state.processes)


def statuses(run: Run, host: str) -> list[tuple[bool, str]]:
    return [(e.up, e.reason) for e in run.watch.events
            if isinstance(e, HostStatus) and e.host == host]


def test_a_killed_agent_is_down_until_restart_and_the_rest_go_on(tmp_path: Path) -> None:
    # letters only: a switch name without digits once failed to build (no datapath id)
    tag = "".join(chr(ord("a") + b % 26) for b in os.urandom(4))
    path = topology_file(tmp_path, "restart", f"""
        sw = self.addSwitch("r{tag}")
        self.addLink(self.addHost("h1"), sw)
        self.addLink(self.addHost("h2"), sw, delay="10ms")
        self.addLink(self.addHost("h3"), sw)
        self.addLink(self.addHost("k1", kernel=True), sw)
    """)
    run = Run(path)
    rundir = runtime_base() / run.backend.lab_id
    try:
        run.connect("other", 7000, "h1", "h3")
        run.connect("old", 7001, "h1", "h2")
        run.ok("tcp h2 sack=off")
        first_pid = run.backend.agents["h2"].proc.pid
        os.kill(first_pid, signal.SIGKILL)
        run.until(lambda: statuses(run, "h2") != [], "h2 reported down")
        assert statuses(run, "h2")[0][0] is False
        down = run.lab.execute("listen h2:7002")
        assert not down.ok and "h2 is down" in down.message
        # the rest goes on while h2 is down
        run.ok("send other --bytes 100000")
        run.until(lambda: len(run.got("other", True)) == 100000, "h1 -> h3 while h2 is down")

        message = run.ok("restart h2")
        assert "h2 restarted" in message and "old sockets are gone" in message
        assert statuses(run, "h2")[-1] == (True, "restarted")
        assert run.backend.agents["h2"].proc.pid != first_pid
        assert run.backend.app("h2").sockets() == []

        start = len(run.watch.events)
        run.connect("new", 7001, "h1", "h2")      # the same port: the old listener is gone
        syn = next(e.t for e in run.watch.events[start:]
                   if isinstance(e, SegmentSent) and e.host == "h1" and e.segment.flags & SYN)
        synack = next(e.t for e in run.watch.events[start:]
                      if isinstance(e, SegmentReceived) and e.host == "h1"
                      and e.segment.flags & SYN)
        assert synack - syn >= 0.020              # h2's link delays again, both ways
        host, sid = run.sid("new", True)
        info = run.backend.app(host).socket(sid)
        assert host == "h2" and info.state is State.ESTABLISHED and info.status.sack is False
        run.ok("send new --bytes 1000000")
        run.until(lambda: len(run.got("new", True)) == MB, "1 MB to the new h2 agent")
        run.ok("send other --bytes 50000")
        run.until(lambda: len(run.got("other", True)) == 150000, "h1 -> h3 after the restart")
        assert run.state("other") is State.ESTABLISHED

        # a running agent can be restarted too; a kernel host's (Linux's sockets) is not
        run.ok("restart h2")
        assert statuses(run, "h2")[-2:] == [(False, "restarting"), (True, "restarted")]
        agents = [p for p in recorded(run) if p.what == "agent h2"]
        assert len(agents) == 1 and agents[0].pid == run.backend.agents["h2"].proc.pid
        assert run.backend.app("h2").sockets() == []
        refused = run.lab.execute("restart k1")
        assert not refused.ok
        assert refused.message == ("restart: k1 is a kernel host: its agent drives Linux's "
                                   "sockets and is not restarted")
    finally:
        run.stop()
    assert not rundir.exists()
    assert not [p for p in recorded(run) if p.alive()]


def test_restart_on_the_simulated_network_is_refused() -> None:
    lab = Lab(load_topology("pair"), SimBackend(1), EventBus())
    lab.start()
    try:
        result = lab.execute("restart h1")
        assert not result.ok
        assert result.message == "restart: only Mininet hosts have agents to restart"
        assert not lab.execute("restart h9").ok
    finally:
        lab.stop()
