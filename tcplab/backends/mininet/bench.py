"""The Mininet backend's benchmarks: goodput between stack hosts, and start-up time.

Theory of operation
-------------------
Every figure goes through the real :class:`~.backend.MininetBackend` and the real
:class:`~tcplab.lab.lab.Lab`, on a topology file written to a temporary directory
(``load_topology`` reads files, as ``tcplab run`` does), so it is what a user of
``sudo tcplab run`` gets, the event stream included:

* :func:`goodput` -- one lab: two stack hosts and two *kernel* hosts on one
  ``LinuxBridge``, no impairment, offloads off on every lab interface.  Stack:
  ``send c1 --bytes N`` on an established connection, timed until the lab's event
  stream has delivered N bytes to the peer (so the agents' per-segment work, the
  control sockets and the lab's decoding of every event all count).  Linux: the
  same kind of transfer between the kernel hosts with a small Python socket sender
  and receiver started in their namespaces with ``mnexec``; the receiver times from
  ``accept`` to its N-th byte.  Both on the same bridge, veths and frame size, so
  the kernel figure is the reference the stack is measured against.
* :func:`loss_goodput` -- loss recovery beside Linux: stack hosts h1, h2 and kernel
  hosts k1, k2, h1 and k1 on one switch, h2 and k2 on another, and the one link
  between the switches is the bottleneck: htb at 10 Mbit/s each way, random loss on
  the data direction only.  For each loss rate, the stack transfer h1 -> h2 and the
  Linux one k1 -> k2 cross the same link one after the other, ``runs`` times each,
  and the figure is the ratio of their median goodputs.
* :func:`start_time` -- the wall time of ``Lab.start`` (:meth:`MininetBackend.start`:
  build the network, offloads off, silence the kernel's TCP, start the agents and
  wait for every hello) for N stack hosts on one switch.

Switch names carry a random tag, so a benchmark never meets another lab's names in
the root namespace.  Every lab is stopped in a ``finally`` (the backend removes its
namespaces, veths, bridges, nft tables, processes and runtime files), as are the
kernel-side programs.  Root and Mininet are the caller's business
(:func:`tcplab.cli.run.mininet_unusable` says why not).
"""

from __future__ import annotations

import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pyroute2.netlink.exceptions import NetlinkError

from tcplab.backends.mininet import netlink
from tcplab.backends.mininet.backend import MininetBackend
from tcplab.lab.events import EventBus
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.tcp.states import State

PORT = 5001
TIMEOUT = 120.0       # seconds for one transfer before the benchmark gives up
KERNEL_SIDE_MARK = "tcplab-bench-kernel-side"   # in the programs' command lines
BOTTLENECK_BPS = 10_000_000  # the loss benchmark's link rate (htb), each way

# The kernel hosts' programs: the receiver prints "ready" once listening, then the
# byte count and the seconds from accept to the last byte.
_RECEIVER = f"""# {KERNEL_SIDE_MARK}
import socket, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("", port))
srv.listen(1)
print("ready", flush=True)
conn, _ = srv.accept()
start = time.monotonic()
got = 0
while got < n:
    data = conn.recv(1 << 20)
    if not data:
        break
    got += len(data)
print(got, time.monotonic() - start, flush=True)
"""
_SENDER = f"""# {KERNEL_SIDE_MARK}
import socket, sys
n, ip, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
chunk = bytes(1 << 20)
with socket.create_connection((ip, port)) as conn:
    while n > 0:
        conn.sendall(chunk[:n])
        n -= len(chunk)
"""


class BenchError(RuntimeError):
    """A benchmark could not complete; the message is one line."""


def topology_text(stack: int, kernel: int, tag: str) -> str:
    """A Mininet topology file: ``stack`` stack hosts h1.. and ``kernel`` kernel hosts
    k1.. on one switch."""
    lines = [f'"""bench: {stack} stack and {kernel} kernel hosts on one switch"""',
             "from mininet.topo import Topo", "", "",
             "class Bench(Topo):", "    def build(self):",
             f'        sw = self.addSwitch("b{tag}")']
    lines += [f'        self.addLink(self.addHost("h{i}"), sw)' for i in range(1, stack + 1)]
    lines += [f'        self.addLink(self.addHost("k{i}", kernel=True), sw)'
              for i in range(1, kernel + 1)]
    lines += ["", "", 'topos = {"bench": Bench}', ""]
    return "\n".join(lines)


@contextmanager
def _topology(stack: int, kernel: int) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="tcplab-bench-") as tmp:
        path = Path(tmp) / "bench.py"
        path.write_text(topology_text(stack, kernel, secrets.token_hex(2)), encoding="utf-8")
        yield str(path)


def loss_topology_text(tag: str) -> str:
    """Two switches joined by the bottleneck link; a stack and a kernel host on each."""
    a, b = f"l1{tag}", f"l2{tag}"
    return "\n".join([
        '"""bench: loss recovery, tcplab beside Linux across one bottleneck link"""',
        "from mininet.topo import Topo", "", "",
        "class LossBench(Topo):", "    def build(self):",
        f'        a = self.addSwitch("{a}")', f'        b = self.addSwitch("{b}")',
        "        self.addLink(a, b)",
        '        self.addLink(self.addHost("h1"), a)',
        '        self.addLink(self.addHost("h2"), b)',
        '        self.addLink(self.addHost("k1", kernel=True), a)',
        '        self.addLink(self.addHost("k2", kernel=True), b)',
        "", "", 'topos = {"lossbench": LossBench}', ""])


def loss_goodput(nbytes: int, losses: Sequence[int], runs: int) -> dict[str, float]:
    """``mn_lossP_vs_linux`` for each loss percentage P: tcplab's median goodput over
    Linux's, both across the same 10 Mbit/s link losing P % of the data frames."""
    tag = secrets.token_hex(2)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tcplab-bench-") as tmp:
        path = Path(tmp) / "lossbench.py"
        path.write_text(loss_topology_text(tag), encoding="utf-8")
        lab = Lab(load_topology(str(path)), MininetBackend(), EventBus())
        try:
            lab.start()
            backend = lab.backend
            assert isinstance(backend, MininetBackend)
            a, b = f"l1{tag}", f"l2{tag}"
            _bottleneck(a, b)
            for pct in losses:
                _ok(lab, f"link {a} {b} loss={pct}% dir={a}>{b}")
                stack: list[float] = []
                linux: list[float] = []
                for run in range(runs):  # interleaved, so drifts hit both alike
                    port = PORT + 100 + 10 * pct + run
                    stack.append(_stack_run(lab, nbytes, port))
                    linux.append(_linux_run(backend, nbytes, port))
                out[f"mn_loss{pct}_vs_linux"] = statistics.median(stack) / statistics.median(linux)
        finally:
            lab.stop()
    return out


def _bottleneck(a: str, b: str) -> None:
    """htb at :data:`BOTTLENECK_BPS` on both ports of the link between switches ``a`` and
    ``b`` (the first link of each, so ``-eth1``), set directly: the lab's ``bw=`` needs
    netem on a link between switches, and the kernel may lack it."""
    ports = (f"{a}-eth1", f"{b}-eth1")
    missing = [p for p in ports if p not in netlink.link_names(None)]
    if missing:
        raise BenchError(f"no interface {', '.join(missing)} for the bottleneck link")
    try:
        for port in ports:
            netlink.set_rate(None, port, BOTTLENECK_BPS)
    except (NetlinkError, OSError) as exc:
        raise BenchError(f"cannot limit the bottleneck link with htb: {exc}") from None


def start_time(hosts: int) -> float:
    """Seconds from the start of ``Lab.start`` to every agent ready, for ``hosts``
    stack hosts on one switch."""
    with _topology(hosts, 0) as path:
        lab = Lab(load_topology(path), MininetBackend(), EventBus())
        began = time.monotonic()
        try:
            lab.start()
            return time.monotonic() - began
        finally:
            lab.stop()


def goodput(nbytes: int, linux_bytes: int, runs: int) -> dict[str, float]:
    """``mininet_MBps`` and ``linux_MBps``: the medians of ``runs`` transfers each (see
    the module docstring), in 10^6 bytes per second."""
    with _topology(2, 2) as path:
        lab = Lab(load_topology(path), MininetBackend(), EventBus())
        try:
            lab.start()
            backend = lab.backend
            assert isinstance(backend, MininetBackend)
            stack = [_stack_run(lab, nbytes, PORT + run) for run in range(runs)]
            linux = [_linux_run(backend, linux_bytes, PORT + run) for run in range(runs)]
        finally:
            lab.stop()
    return {"mininet_MBps": statistics.median(stack) / 1e6,
            "linux_MBps": statistics.median(linux) / 1e6}


def _ok(lab: Lab, line: str) -> None:
    result = lab.execute(line)
    if not result.ok:
        raise BenchError(f"{line}: {result.message}")


def _until(lab: Lab, done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        lab.wait(0.002)


def _stack_run(lab: Lab, nbytes: int, port: int) -> float:
    """Bytes per second of one h1 -> h2 transfer, as the lab's event stream sees it."""
    name = f"c{port}"
    _ok(lab, f"listen h2:{port}")
    _ok(lab, f"connect h1 h2:{port} as {name}")
    _until(lab, lambda: _accepted(lab, port) is not None, f"{name} to be accepted")
    sid = _accepted(lab, port)
    assert sid is not None  # _until waited for it
    key = ("h2", sid)
    began = time.monotonic()
    _ok(lab, f"send {name} --bytes {nbytes}")
    _until(lab, lambda: lab.delivered.get(key, 0) >= nbytes, f"{nbytes} bytes on {name}")
    elapsed = time.monotonic() - began
    _ok(lab, f"close {name}")
    return nbytes / elapsed


def _accepted(lab: Lab, port: int) -> int | None:
    """The sid of h2's established connection on ``port``, once there is one."""
    for host, info in lab.sockets():
        if host == "h2" and info.local[1] == port and info.state is State.ESTABLISHED:
            return info.id
    return None


def _linux_run(backend: MininetBackend, nbytes: int, port: int) -> float:
    """Bytes per second of one k1 -> k2 transfer by Linux's TCP."""
    def in_host(host: str, *argv: str) -> list[str]:
        return ["mnexec", "-a", str(backend.kernel_pids[host]), sys.executable, "-I", "-S",
                *argv]

    receiver = subprocess.Popen(in_host("k2", "-c", _RECEIVER, str(nbytes), str(port)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sender: subprocess.Popen[str] | None = None
    try:
        assert receiver.stdout is not None
        if receiver.stdout.readline().strip() != "ready":
            receiver.kill()
            _out, err = receiver.communicate()
            raise BenchError(f"the receiver on k2 did not start: "
                             f"{err.strip() or 'no error output'}")
        sender = subprocess.Popen(in_host("k1", "-c", _SENDER, str(nbytes),
                                          backend.ips["k2"], str(port)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        out, err = receiver.communicate(timeout=TIMEOUT)
        got, seconds = out.split()
        if int(got) < nbytes:
            raise BenchError(f"the receiver on k2 got {got} of {nbytes} bytes: "
                             f"{err.strip() or 'no error'}")
        return nbytes / float(seconds)
    except (subprocess.TimeoutExpired, ValueError) as exc:
        raise BenchError(f"Linux transfer k1 -> k2 failed: {exc}") from None
    finally:
        for proc in (receiver, sender):
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                for pipe in (proc.stdout, proc.stderr):
                    if pipe is not None:
                        pipe.close()
