"""``tcplab clean``: remove what a Mininet lab that died without stopping left behind.

Theory of operation
-------------------
Every Mininet lab gets a runtime directory ``<base>/<lab id>/`` (mode 0700) holding its
agents' control sockets, their logs and ``state.json``: a record, written before anything
is created and rewritten as the lab grows, of every object the lab owns outside its host
namespaces -- the lab process itself, its agents and host shells (pid, start time and a
command-line fragment), each host's network namespace (inode and interface names), the
switch ports and bridges in the root namespace, and its nft tables.

A lab that stops normally removes all of that and its directory.  After a ``kill -9``,
``clean`` reads each state file whose lab process is gone and undoes it: it kills the
recorded processes (only after checking that ``/proc/<pid>`` still is the same process:
same start time, expected command line), then any process still inside a recorded
namespace (same inode *and* the recorded interfaces, so a recycled inode is never taken
for ours), deletes the recorded interfaces and bridges (over netlink) and the nft
tables, and removes the directory.  Objects a live lab records are never touched, and
neither is anything not named in a state file except root-namespace nft tables called
``tcplab_*`` that no live lab owns and tracefs instances ``tcplab-PID`` whose agent
(PID) is gone.  It never runs ``mn -c``, which kills processes
machine-wide.  Running it twice is harmless: the second run finds nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from tcplab.backends.mininet import netlink
from tcplab.backends.mininet.linux.trace import remove_instance, stale_instances

STATE_FILE = "state.json"
NFT_PREFIX = "tcplab_"


def runtime_base() -> Path:
    """Where labs keep their runtime directories: /run/tcplab, or under $TMPDIR when /run
    is not writable."""
    run = Path("/run")
    if os.access(run, os.W_OK):
        return run / "tcplab"
    return Path(tempfile.gettempdir()) / f"tcplab-{os.getuid()}"


def proc_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22),
    which tells a process from a later one that reused its pid; None if it has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = stat[stat.rfind(")") + 2:].split()
    if rest[0] in ("Z", "X"):
        return None  # a zombie has finished: only its parent's wait() is missing
    return int(rest[19])


def proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            "utf-8", "replace").strip()
    except OSError:
        return ""


def netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


@dataclass(slots=True)
class ProcRecord:
    what: str          # "lab", "agent h1", "shell h1"
    pid: int
    start: int         # proc_start_time when recorded
    match: str         # a fragment its command line must contain

    @classmethod
    def of(cls, what: str, pid: int, match: str) -> ProcRecord:
        return cls(what, pid, proc_start_time(pid) or 0, match)

    def alive(self) -> bool:
        """Still the very process that was recorded."""
        return (proc_start_time(self.pid) == self.start
                and self.match in proc_cmdline(self.pid))


@dataclass(slots=True)
class NsRecord:
    host: str
    inode: int
    ifaces: list[str]


@dataclass(slots=True)
class LabState:
    """What one lab owns outside its namespaces (see the module docstring)."""

    lab_id: str
    rundir: str
    lab: ProcRecord
    processes: list[ProcRecord] = field(default_factory=list)
    namespaces: list[NsRecord] = field(default_factory=list)
    links: list[str] = field(default_factory=list)      # root-namespace interfaces
    bridges: list[str] = field(default_factory=list)
    nft_tables: list[str] = field(default_factory=list)  # "bridge tcplab_ab12cd"

    def save(self) -> None:
        """Write atomically, so a crash mid-write never leaves half a record."""
        path = Path(self.rundir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> LabState:
        raw: dict[str, Any] = json.loads(path.read_text())
        return cls(
            lab_id=str(raw["lab_id"]), rundir=str(raw["rundir"]),
            lab=ProcRecord(**raw["lab"]),
            processes=[ProcRecord(**p) for p in raw.get("processes", [])],
            namespaces=[NsRecord(**n) for n in raw.get("namespaces", [])],
            links=list(raw.get("links", [])), bridges=list(raw.get("bridges", [])),
            nft_tables=list(raw.get("nft_tables", [])),
        )


# --------------------------------------------------------------------- primitives

def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def delete_link(name: str) -> bool:
    """Delete interface NAME in the root namespace; True when something was removed."""
    if not link_exists(name):
        return False
    try:
        return netlink.delete_link(name)
    except (OSError, NetlinkError):
        return False


def delete_ovs_bridge(name: str) -> bool:
    """Remove an Open vSwitch bridge of that name, if OVS runs and has one."""
    if shutil.which("ovs-vsctl") is None:
        return False
    try:
        if subprocess.run(["ovs-vsctl", "--timeout=3", "br-exists", name], capture_output=True,
                          check=False, timeout=10).returncode != 0:
            return False
        return subprocess.run(["ovs-vsctl", "--timeout=3", "del-br", name], capture_output=True,
                              check=False, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def nft_tables() -> list[str]:
    """Root-namespace nft tables as "family name"."""
    try:
        out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                             check=False).stdout
    except OSError:
        return []
    return [line.removeprefix("table ").strip() for line in out.splitlines()
            if line.startswith("table ")]


def delete_nft_table(table: str) -> bool:
    if table not in nft_tables():
        return False
    family, name = table.split()
    done = subprocess.run(["nft", "delete", "table", family, name], capture_output=True,
                          check=False)
    return done.returncode == 0


def kill(pid: int, alive: Any) -> bool:
    """SIGTERM, then SIGKILL after a short grace; ``alive()`` re-checks it is still ours."""
    for sig, grace in ((signal.SIGTERM, 0.5), (signal.SIGKILL, 1.0)):
        if not alive():
            return True
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and alive():
            time.sleep(0.02)
    return not alive()


def _ns_ifaces(pid: int) -> set[str]:
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:
        return set()
    return {line.split(":", 1)[0].strip() for line in lines}


def namespace_pids(record: NsRecord) -> list[int]:
    """Processes inside the recorded namespace: same inode and the recorded interfaces."""
    root = netns_inode(1)
    if record.inode == root:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid() or netns_inode(pid) != record.inode:
            continue
        if set(record.ifaces) <= _ns_ifaces(pid):
            found.append(pid)
    return found


# --------------------------------------------------------------------- cleaning

def _claimed_by_live(states: list[LabState]) -> tuple[set[str], set[str]]:
    links: set[str] = set()
    tables: set[str] = set()
    for st in states:
        if st.lab.alive():
            links.update(st.links, st.bridges)
            tables.update(st.nft_tables)
    return links, tables


def clean_lab(st: LabState, live_links: set[str], say: Any) -> None:
    """Undo one dead lab's objects (see the module docstring)."""
    for proc in st.processes:
        if proc.alive() and kill(proc.pid, proc.alive):
            say(f"killed {proc.what} (pid {proc.pid})")
    for ns in st.namespaces:
        for pid in namespace_pids(ns):
            start = proc_start_time(pid)
            what = proc_cmdline(pid)[:60] or "?"

            def still(pid: int = pid, start: int | None = start) -> bool:
                return start is not None and proc_start_time(pid) == start

            if kill(pid, still):
                say(f"killed pid {pid} left in {ns.host}'s namespace ({what})")
    for table in st.nft_tables:
        if delete_nft_table(table):
            say(f"deleted nft table {table}")
    for name in st.bridges:
        if name not in live_links and delete_ovs_bridge(name):
            say(f"deleted Open vSwitch bridge {name}")
    for kind, names in (("interface", st.links), ("bridge", st.bridges)):
        for name in names:
            if name not in live_links and delete_link(name):
                say(f"deleted {kind} {name}")
    rundir = Path(st.rundir)
    if rundir.exists():
        shutil.rmtree(rundir, ignore_errors=True)
        say(f"removed {rundir}")


def clean(base: Path | None = None, say: Any = print) -> int:
    """Clean every dead lab under ``base``; returns how many objects were removed."""
    base = runtime_base() if base is None else base
    removed = 0

    def count(text: str) -> None:
        nonlocal removed
        removed += 1
        say(text)

    states: list[LabState] = []
    if base.is_dir():
        for rundir in sorted(base.iterdir()):
            path = rundir / STATE_FILE
            try:
                states.append(LabState.load(path))
            except (OSError, ValueError, KeyError, TypeError):
                if rundir.is_dir() and not (rundir / STATE_FILE).exists():
                    # created and never recorded: the lab died before it owned anything
                    shutil.rmtree(rundir, ignore_errors=True)
                    count(f"removed {rundir}")
                else:
                    say(f"skipped {rundir}: unreadable {STATE_FILE}")
    live_links, live_tables = _claimed_by_live(states)
    for st in states:
        if st.lab.alive():
            say(f"lab {st.lab_id} is still running (pid {st.lab.pid}); left alone")
            continue
        clean_lab(st, live_links, count)
    for table in nft_tables():
        name = table.split()[-1]
        if name.startswith(NFT_PREFIX) and table not in live_tables and delete_nft_table(table):
            count(f"deleted nft table {table}")
    for instance in stale_instances():  # kernel-host agents' tracepoint readers
        if remove_instance(instance):
            count(f"removed tracefs instance {instance.name}")
    return removed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tcplab clean",
        description="Remove what Mininet labs that died (kill -9, crash) left behind: "
                    "their processes, interfaces, bridges, nft tables and runtime files. "
                    "Never touches anything a running lab owns, nor anything not tcplab's.")
    parser.parse_args(argv)
    if os.geteuid() != 0:
        print("tcplab clean: needs root (run it with sudo)", file=sys.stderr)
        return 2
    removed = clean()
    print(f"tcplab clean: removed {removed} object(s)" if removed
          else "tcplab clean: nothing to clean")
    return 0
