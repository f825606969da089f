"""The Mininet benchmarks for real, once, with small transfers (needs root and Mininet).

``tcplab bench --quick`` leaves them out, so this is where they run in the test suite:
every figure exists and is positive, the stack moved its bytes through the lab's event
stream, and no lab object is left behind (the benchmark's switches are named
``b<4 hex digits>``; its runtime directories live under the backend's runtime base).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tcplab.backends.mininet import bench as M
from tcplab.backends.mininet.clean import runtime_base
from tcplab.bench import MiB, mininet_figures
from tcplab.lab.topology import load_topology

BENCH_NAME = re.compile(r"^b[0-9a-f]{4}(-eth\d+)?$")


def leftovers() -> dict[str, set[str]]:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                           check=True).stdout
    names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
    base = runtime_base()
    procs = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(base) in cmd or M.KERNEL_SIDE_MARK in cmd:
            procs.add(cmd)
    return {"links": {n for n in names if BENCH_NAME.match(n)},
            "rundirs": set(os.listdir(base)) if base.is_dir() else set(),
            "procs": procs}


def test_mininet_figures_exist_are_positive_and_leave_nothing() -> None:
    before = leftovers()
    figures = mininet_figures(2 * MiB, 16 * MiB, runs=1)
    assert set(figures) == {"mininet_MBps", "linux_MBps", "start_2_s", "start_20_s"}
    for key, value in figures.items():
        assert value > 0, key
    # a figure in MB/s that is really in bytes/s, or a start time in ms, would be off scale
    assert figures["mininet_MBps"] < 10_000 and figures["linux_MBps"] < 100_000
    assert figures["start_2_s"] < figures["start_20_s"] < 60
    # nothing of ours is left (another lab on the machine may come or go meanwhile)
    after = leftovers()
    assert all(after[kind] <= before[kind] for kind in after), (before, after)


def test_the_topology_has_the_hosts_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "bench.py"
    path.write_text(M.topology_text(3, 2, "abcd"))
    topo = load_topology(str(path))
    assert topo.switches == ("babcd",)
    assert [(h.name, h.kernel) for h in topo.hosts] == [
        ("h1", False), ("h2", False), ("h3", False), ("k1", True), ("k2", True)]
    assert len(topo.links) == 5 and all("babcd" in (ln.a, ln.b) for ln in topo.links)
