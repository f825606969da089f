"""The agent's ``command`` op: one line of the command language, run on this host alone.

Theory of operation
-------------------
The lab normally turns a command line into the typed requests (``listen``,
``connect``, ``write_pattern``...), but an agent can also take the line itself, so a
client with nothing but the control socket drives a host the way a user types.  An
agent knows only its own host: the local side of a command must be this host (by
name or by one of its addresses), the peer must be an IPv4 address, and a
connection is named by ``HOST:PORT>IP:PORT`` or by a name given with
``connect ... as NAME`` on this same agent.  Commands about the network (links,
filters, time) belong to the lab and are refused with one line.

Every call into the host goes through the agent's ``host_call``, which sends what
the host produced and re-arms its timer afterwards.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from tcplab.lab import commands as C
from tcplab.lab.app import read_send_file
from tcplab.lab.backend import HostApi

HostCall = Callable[[Callable[[HostApi, float], Any]], Any]


class HostCommands:
    """Runs command lines on one host (see the module docstring)."""

    def __init__(self, name: str, local_ips: set[str], app: HostApi,
                 host_call: HostCall) -> None:
        self.name = name
        self.local_ips = local_ips
        self.app = app
        self.host_call = host_call
        self.names: dict[str, int] = {}     # ``connect ... as NAME`` made here

    def run(self, line: str) -> dict[str, Any]:
        """The reply's result for one line; ValueError (CommandError) when it is refused."""
        cmd = C.parse_line(line)
        if cmd is None:
            return {"message": ""}
        if isinstance(cmd, C.Listen):
            self._local(cmd.endpoint.host)
            port = cmd.endpoint.port
            tcp = dict(cmd.tcp) or None
            sid = self.host_call(lambda app, now: app.listen(port, now, tcp))
            return {"message": f"{self.name} listening on port {port} (socket {sid})",
                    "sid": sid}
        if isinstance(cmd, C.Connect):
            return self._connect(cmd)
        if isinstance(cmd, C.SendText | C.SendBytes | C.SendFile):
            return self._send(cmd)
        if isinstance(cmd, C.Shutdown | C.Close | C.Abort):
            sid = self._conn(cmd.conn)
            self.host_call(lambda app, now: getattr(app, cmd.name)(sid, now))
            return {"message": f"{cmd.name} {cmd.conn}", "sid": sid}
        raise ValueError(f"{cmd.name} is not a host command; the lab carries it out")

    def _connect(self, cmd: C.Connect) -> dict[str, Any]:
        self._local(cmd.local_host)
        rip = self._remote_ip(cmd.remote.host)
        if cmd.conn_name is not None and cmd.conn_name in self.names:
            raise ValueError(f"name {cmd.conn_name!r} is already taken")
        rport, lport = cmd.remote.port, cmd.local_port
        tcp = dict(cmd.tcp) or None
        sid = self.host_call(lambda app, now: app.connect(rip, rport, now, lport, tcp))
        if cmd.conn_name is not None:
            self.names[cmd.conn_name] = sid
        local = self.app.socket(sid).local
        return {"message": f"connecting {self.name}:{local[1]}>{rip}:{rport}", "sid": sid}

    def _send(self, cmd: C.SendText | C.SendBytes | C.SendFile) -> dict[str, Any]:
        sid = self._conn(cmd.conn)
        if isinstance(cmd, C.SendBytes):
            count = cmd.count
            self.host_call(lambda app, now: app.write_pattern(sid, count, now))
            return {"message": f"sending {count} bytes on {cmd.conn}", "sid": sid}
        data = read_send_file(cmd.path) if isinstance(cmd, C.SendFile) else cmd.data
        self.host_call(lambda app, now: app.write(sid, data, now))
        return {"message": f"sending {len(data)} bytes on {cmd.conn}", "sid": sid}

    def _local(self, host: str) -> None:
        if host != self.name and host not in self.local_ips:
            raise ValueError(f"{host} is not this host ({self.name})")

    @staticmethod
    def _remote_ip(host: str) -> str:
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise ValueError(f"give the peer {host!r} as an IPv4 address: an agent knows "
                             "no other host names") from None

    def _conn(self, ref: C.ConnRef) -> int:
        if isinstance(ref, C.ConnName):
            if ref.accepted or ref.name not in self.names:
                raise ValueError(f"no connection named {ref} here; use HOST:PORT>IP:PORT")
            return self.names[ref.name]
        self._local(ref.local.host)
        remote = (self._remote_ip(ref.remote.host), ref.remote.port)
        found = None
        for info in self.app.sockets():
            if (info.local[1] == ref.local.port and info.remote == remote
                    and ref.local.host in (self.name, info.local[0])):
                found = info.id  # the newest one with this four-tuple
        if found is None:
            raise ValueError(f"no connection {ref}")
        return found
