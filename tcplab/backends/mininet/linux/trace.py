"""Exact state changes of Linux sockets from the ``sock:inet_sock_set_state`` tracepoint.

Polling ``sock_diag`` misses a state that lasts less than a poll (CLOSING, SYN-RECEIVED
on a fast link).  The kernel announces every change at this tracepoint, with the
four-tuple, the old and the new state.  :class:`StateTrace` reads it through a private
tracefs *instance* (``instances/tcplab-PID``), so it neither sees nor disturbs anyone
else's tracing: the event is enabled there with a filter for IPv4 TCP and the
instance's clock set to ``mono``, so each line's time is ``time.monotonic()``'s --
the agent's clock.  The tracepoint is machine-wide: each agent keeps the changes of
its own addresses.

tracefs is mounted at ``/sys/kernel/tracing`` if nobody has (it needs root); when it
cannot be used, :func:`open_trace` says why and the agent falls back to polling.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tcplab.backends.mininet.linux.states import BY_NAME
from tcplab.tcp.states import State

TRACEFS = Path("/sys/kernel/tracing")
EVENT = "events/sock/inet_sock_set_state"
INSTANCE = re.compile(r"^tcplab-(\d+)$")  # an agent's instance: tcplab-<its pid>
_LINE = re.compile(
    r"\s(?P<t>\d+\.\d+): inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP "
    r"sport=(?P<sport>\d+) dport=(?P<dport>\d+) saddr=(?P<saddr>[\d.]+) "
    r"daddr=(?P<daddr>[\d.]+) .*oldstate=(?P<old>\w+) newstate=(?P<new>\w+)")


@dataclass(frozen=True, slots=True)
class Change:
    """One socket's state change, as the kernel made it."""

    t: float                        # time.monotonic() when it happened
    local: tuple[str, int]
    remote: tuple[str, int]
    old: State
    new: State
    linux_new: str                  # the kernel's name (TCP_NEW_SYN_RECV is a request sock)


def parse_line(line: str) -> Change | None:
    m = _LINE.search(line)
    if m is None or m["old"] not in BY_NAME or m["new"] not in BY_NAME:
        return None
    return Change(float(m["t"]), (m["saddr"], int(m["sport"])), (m["daddr"], int(m["dport"])),
                  BY_NAME[m["old"]], BY_NAME[m["new"]], m["new"])


class StateTrace:
    """A tracefs instance with the tracepoint on; :meth:`read` gives what came since."""

    def __init__(self, instance: Path, addresses: set[str]) -> None:
        self.instance = instance
        self.addresses = addresses
        self._fd = os.open(instance / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
        self._rest = b""

    def fileno(self) -> int:
        return self._fd

    def read(self) -> list[Change]:
        """The changes of this host's sockets (local address one of ``addresses``)
        since the last call, oldest first."""
        chunks = [self._rest]
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        lines = b"".join(chunks).split(b"\n")
        self._rest = lines.pop()
        changes = []
        for raw in lines:
            change = parse_line(raw.decode("ascii", "replace"))
            if change is not None and change.local[0] in self.addresses:
                changes.append(change)
        return changes

    def close(self) -> None:
        os.close(self._fd)
        remove_instance(self.instance)


def instance_name(pid: int) -> str:
    return f"tcplab-{pid}"


def remove_instance(instance: Path) -> bool:
    """Turn the event off and remove the instance; True when it is gone."""
    try:
        (instance / EVENT / "enable").write_text("0")
        instance.rmdir()
    except OSError:
        return False  # tcplab clean removes instances of agents that died
    return True


def stale_instances() -> list[Path]:
    """Instances of agents that are gone (``tcplab clean`` removes them)."""
    root = TRACEFS / "instances"
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir()
                  if (m := INSTANCE.match(path.name)) and not Path(f"/proc/{m[1]}").exists())


def ensure_tracefs() -> str | None:
    """None once tracefs is mounted (mounting it if need be), else why it cannot be."""
    if (TRACEFS / "instances").is_dir():
        return None
    if os.geteuid() != 0:
        return "tracefs is not mounted and mounting it needs root"
    mount = shutil.which("mount")
    if mount is None:
        return "tracefs is not mounted and there is no mount command"
    done = subprocess.run([mount, "-t", "tracefs", "nodev", str(TRACEFS)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (TRACEFS / "instances").is_dir():
        return f"cannot mount tracefs: {done.stderr.strip() or 'unknown error'}"
    return None


def open_trace(name: str, addresses: set[str]) -> StateTrace | str:
    """A :class:`StateTrace` for ``addresses``, or why there cannot be one."""
    why = ensure_tracefs()
    if why is not None:
        return why
    instance = TRACEFS / "instances" / name
    try:
        instance.mkdir(exist_ok=True)
        if not (instance / EVENT).is_dir():
            instance.rmdir()
            return "this kernel has no sock:inet_sock_set_state tracepoint"
        (instance / "trace_clock").write_text("mono")
        (instance / EVENT / "filter").write_text("family == 2 && protocol == 6")
        (instance / EVENT / "enable").write_text("1")
        return StateTrace(instance, addresses)
    except OSError as exc:
        return f"cannot use tracefs: {exc.strerror}"
