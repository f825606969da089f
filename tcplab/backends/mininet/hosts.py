"""The lab's handles on its hosts: agent processes, and the HostApi the lab calls.

Theory of operation
-------------------
A stack host is an :class:`AgentProc`: the agent's process, its control socket and log
in the runtime directory, and once it said hello, its :class:`~.protocol.AgentClient`.
``down`` holds why it stopped, once it has.  A restarted host gets a new AgentProc;
what the old one was told that a new agent must be told again (the ``tcp`` defaults)
is carried over by the backend.

:class:`AgentApi` is :class:`~tcplab.lab.backend.HostApi` as requests to an agent,
through a ``request`` callable that turns failures into one-line
:class:`~tcplab.stack.sockets.HostError`\\ s.  A kernel host runs Linux's TCP, not
tcplab's, driven by an agent of its own (:mod:`.linux.agent`) through the same
:class:`AgentApi`; only a kernel host without a link has none, and :class:`KernelApi`
refuses every call there, saying how to run programs on it.
"""

from __future__ import annotations

import errno as E
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol

from tcplab.backends.mininet.protocol import AgentClient, AgentGone, b64, socket_from_wire
from tcplab.stack.sockets import HostError, SocketInfo


class AgentProc:
    """One stack host's agent process and its control connection."""

    def __init__(self, host: str, ifname: str, proc: subprocess.Popen[bytes], sock: str,
                 log: Path) -> None:
        self.host = host
        self.ifname = ifname
        self.proc = proc
        self.sock = sock
        self.log = log
        self.client: AgentClient | None = None
        self.down: str | None = None     # why it is down, once it is
        self.tcp: dict[str, bool] = {}   # the host's TCP defaults set with ``tcp``

    def stderr_tail(self, lines: int = 3) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])


class Requester(Protocol):
    def __call__(self, agent: AgentProc, op: str, timeout: float = ...,
                 **args: Any) -> dict[str, Any]: ...


class AgentApi:
    """HostApi over an agent's control connection."""

    def __init__(self, request: Requester, agent: AgentProc) -> None:
        self._request = request
        self._agent = agent

    def _req(self, op: str, **args: Any) -> dict[str, Any]:
        return self._request(self._agent, op, **args)

    def listen(self, port: int, now: float, tcp: dict[str, bool] | None = None) -> int:
        extra = {"tcp": tcp} if tcp else {}
        return int(self._req("listen", port=port, **extra)["sid"])

    def connect(self, remote_ip: str, rport: int, now: float, lport: int | None,
                tcp: dict[str, bool] | None = None) -> int:
        extra = {"tcp": tcp} if tcp else {}
        return int(self._req("connect", ip=remote_ip, port=rport, lport=lport, **extra)["sid"])

    def set_tcp(self, tcp: dict[str, bool]) -> None:
        self._req("set_tcp", tcp=tcp)
        self._agent.tcp.update(tcp)

    def write(self, sid: int, data: bytes, now: float) -> None:
        self._req("write", sid=sid, data=b64(data))

    def write_pattern(self, sid: int, count: int, now: float) -> None:
        self._req("write_pattern", sid=sid, count=count)

    def shutdown(self, sid: int, now: float) -> None:
        self._req("shutdown", sid=sid)

    def close(self, sid: int, now: float) -> None:
        self._req("close", sid=sid)

    def abort(self, sid: int, now: float) -> None:
        self._req("abort", sid=sid)

    def socket(self, sid: int) -> SocketInfo:
        return socket_from_wire(self._req("socket", sid=sid)["socket"])

    def sockets(self) -> list[SocketInfo]:
        return [socket_from_wire(s) for s in self._req("sockets")["sockets"]]


class KernelApi:
    """A kernel host: Linux's TCP, not tcplab's; every call says so."""

    def __init__(self, host: str, pid: int) -> None:
        self._why = (f"{host} is a kernel host: run programs there with "
                     f"`sudo mnexec -a {pid} COMMAND` (its TCP is Linux's, not tcplab's)")

    def _refuse(self, *args: Any) -> Any:
        raise HostError(E.EOPNOTSUPP, self._why)

    listen = connect = write = write_pattern = shutdown = close = abort = socket = _refuse
    set_tcp = _refuse
    sockets = _refuse


def wait_hellos(waiting: list[AgentProc], timeout: float) -> str | None:
    """Connect to each agent once its control socket appears (it said hello); None when
    all did within ``timeout`` seconds, else why not, in one line."""
    deadline = time.monotonic() + timeout
    while waiting:
        for agent in list(waiting):
            code = agent.proc.poll()
            if code is not None:
                return (f"the agent on {agent.host} exited with status {code} before its "
                        f"hello: {agent.stderr_tail() or 'no stderr'}")
            if os.path.exists(agent.sock):
                try:
                    agent.client = AgentClient.connect(agent.sock, timeout=2.0)
                except AgentGone:
                    continue
                os.chmod(agent.sock, 0o600)
                waiting.remove(agent)
        if waiting and time.monotonic() > deadline:
            agent = waiting[0]
            return (f"the agent on {agent.host} sent no hello within {timeout:g} s; its "
                    f"stderr: {agent.stderr_tail() or 'empty'}")
        if waiting:
            time.sleep(0.01)
    return None
