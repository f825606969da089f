"""The Mininet backend for real, through the real :class:`Lab` (needs root and Mininet).

Each lab is built from a topology file written here, with switch names carrying a random
tag so that the root-namespace names (bridges, switch ports) never meet another lab's.
Waits poll the event stream until a condition holds (with a deadline), never sleep a
fixed time: the links lose 5% of the frames, so a FIN may take an RTO to arrive.

* ``lossy``: h1 - sw - h2, the h1 link with 20 ms delay and 5% loss each way (so a 40 ms
  RTT, impaired in h1's agent without netem): handshake, RTT, live link changes, 1 MB
  each way, every teardown order, simultaneous close;
* ``interop``: h1 (stack) - sw - h3 (kernel host, Linux TCP), the h3 link losing 5% each
  way (nft bridge rules without netem): Python socket programs on h3 against the stack;
* cleanup after a normal exit (and an agent killed on the way), and after ``kill -9``
  of a lab process followed by ``tcplab clean``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tcplab.backends.mininet import impair as I
from tcplab.backends.mininet.backend import MininetBackend
from tcplab.backends.mininet.clean import runtime_base
from tcplab.lab import commands as C
from tcplab.lab.errors import LabError
from tcplab.lab.events import EventBus, HostStatus, LabEvent, LinkDropped, LinkHeld, Notice
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.stack.events import Delivered, SegmentReceived, SegmentSent
from tcplab.tcp.config import Config
from tcplab.tcp.segment import ACK, FIN, SYN
from tcplab.tcp.states import State

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000
DELAY = 0.020
CONFIG = Config(rto_min=0.2)   # Linux's minimum RTO: keeps lossy transfers short


def topology_file(tmp: Path, name: str, body: str) -> Path:
    path = tmp / f"{name}.py"
    path.write_text(f'"""{name}"""\nfrom mininet.topo import Topo\n\n\n'
                    f"class T(Topo):\n    def build(self):\n"
                    + textwrap.indent(textwrap.dedent(body), "        ")
                    + f"\n\ntopos = {{'{name}': T}}\n")
    return path


class Watch:
    """Every event of the lab, and the data each socket delivered."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[LabEvent] = []
        self.data: dict[tuple[str, int], bytearray] = {}
        bus.subscribe(self.on_event)

    def on_event(self, event: LabEvent) -> None:
        self.events.append(event)
        if isinstance(event, Delivered):
            self.data.setdefault((event.host, event.sid), bytearray()).extend(event.data)


class Run:
    """A started lab with its watcher."""

    def __init__(self, topo_path: Path, config: Config | None = CONFIG) -> None:
        self.backend = MininetBackend(seed=7, config=config)
        self.bus = EventBus()
        self.watch = Watch(self.bus)
        self.lab = Lab(load_topology(str(topo_path)), self.backend, self.bus)
        self.lab.start()

    def ok(self, line: str) -> str:
        result = self.lab.execute(line)
        assert result.ok, f"{line}: {result.message}"
        return result.message

    def until(self, cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.lab.wait(0.01)
        self.lab.sync()  # the events that came with the answers cond() got

    def state(self, name: str, accepted: bool = False) -> State:
        _host, info, _seen = self.lab.socket_info(C.ConnName(name, accepted))
        return info.state if info is not None else State.CLOSED

    def seen(self, name: str, accepted: bool = False) -> list[State]:
        return self.lab.socket_info(C.ConnName(name, accepted))[2]

    def sid(self, name: str, accepted: bool = False) -> tuple[str, int]:
        host, info, _ = self.lab.socket_info(C.ConnName(name, accepted))
        assert info is not None
        return host, info.id

    def got(self, name: str, accepted: bool = False) -> bytes:
        return bytes(self.watch.data.get(self.sid(name, accepted), b""))

    def connect(self, name: str, port: int, src: str = "h1", dst: str = "h2") -> None:
        self.ok(f"listen {dst}:{port}")
        self.ok(f"connect {src} {dst}:{port} as {name}")
        self.until(lambda: self.state(name) is State.ESTABLISHED
                   and self.accepted_state(name) is State.ESTABLISHED, f"{name} established")

    def accepted_state(self, name: str) -> State | None:
        """The accepting end's state; None while its host has not yet reported the
        accept (the connecting end may hear the SYN,ACK before the lab hears of it)."""
        try:
            return self.state(name, True)
        except LabError as e:
            if "no accepted connection yet" not in str(e):
                raise
            return None

    def stop(self) -> None:
        self.lab.stop()


@pytest.fixture(scope="module")
def tag() -> str:
    return secrets.token_hex(2)


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory, tag: str) -> Iterator[Run]:
    path = topology_file(tmp_path_factory.mktemp("topo"), "lossy", f"""
        sw = self.addSwitch("x{tag}")
        self.addLink(self.addHost("h1"), sw, delay="20ms", loss=5)
        self.addLink(self.addHost("h2"), sw)
    """)
    run = Run(path)
    yield run
    run.stop()


def handshake_rtt(run: Run, name: str, port: int) -> float:
    """Seconds from h1's last SYN sent to its SYN,ACK received, for a new connection."""
    start = len(run.watch.events)
    run.connect(name, port)
    syn_t = synack_t = None
    for e in run.watch.events[start:]:
        if isinstance(e, SegmentSent) and e.host == "h1" and e.segment.flags & (SYN | ACK) == SYN:
            syn_t = e.t
        if (isinstance(e, SegmentReceived) and e.host == "h1"
                and e.segment.flags & (SYN | ACK) == SYN | ACK and synack_t is None):
            synack_t = e.t
    assert syn_t is not None and synack_t is not None
    run.ok(f"abort {name}")
    return synack_t - syn_t


PING = textwrap.dedent("""
    import socket, struct, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(2)
    best = None
    for seq in range(3):
        body = struct.pack("!BBHHH", 8, 0, 0, 0x7C1B, seq) + b"tcplab-ping!"
        total = sum(struct.unpack("!10H", body))
        total = (total >> 16) + (total & 0xFFFF); total += total >> 16
        body = body[:2] + struct.pack("!H", ~total & 0xFFFF) + body[4:]
        sent = time.monotonic()
        s.sendto(body, (sys.argv[1], 0))
        while True:
            data = s.recv(2048)
            icmp = data[(data[0] & 15) * 4:]
            if icmp[0] == 0 and struct.unpack("!HH", icmp[4:8]) == (0x7C1B, seq):
                break
        rtt = time.monotonic() - sent
        best = rtt if best is None else min(best, rtt)
    print(best)
""")


def ping(run: Run, src: str, dst_ip: str) -> float:
    """Best of three ICMP echo round trips from ``src``'s kernel (no ping binary needed)."""
    assert run.backend.network is not None
    proc = run.backend.network.node(src).popen([sys.executable, "-c", PING, dst_ip])
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return float(out)


def test_start_says_which_mechanism_and_the_rtt_matches_the_delay(lossy: Run) -> None:
    notices = [e.text for e in lossy.watch.events if isinstance(e, Notice)]
    assert notices[0].startswith("building network")
    assert any(t.startswith("starting agents 2/2") for t in notices)
    assert any(t.startswith("ready in") for t in notices)
    assert lossy.backend.mechanism in notices[-1]
    state_ab, state_ba = lossy.backend.link_states(lossy.backend.link_names()[0])
    assert (state_ab.delay, state_ab.loss, state_ba.delay, state_ba.loss) == (0.02, 0.05,
                                                                              0.02, 0.05)
    sw = lossy.lab.topo.switches[0]
    lossy.ok(f"link h1 {sw} loss=0")
    try:
        rtts = [handshake_rtt(lossy, f"r{i}", 7000 + i) for i in range(4)]
    finally:
        lossy.ok(f"link h1 {sw} loss=5%")
    # Scheduling on a loaded machine only ever adds: every sample is at least the delay,
    # and the best one is within a few ms of it.
    assert all(rtt >= 2 * DELAY for rtt in rtts), rtts
    assert min(rtts) <= 2 * DELAY + 0.005, rtts
    # The kernel's own path (ping) goes through netem when there is netem; the agents'
    # queues delay only the stack's frames.
    kernel_rtt = ping(lossy, "h1", lossy.backend.ips["h2"])
    if lossy.backend.mechanism.startswith("netem"):
        assert 2 * DELAY <= kernel_rtt <= 2 * DELAY + 0.006
    else:
        assert kernel_rtt < 0.010


def test_live_delay_change_shows_in_the_rtt(lossy: Run) -> None:
    sw = lossy.lab.topo.switches[0]

    def change(line: str) -> None:
        # Frames already queued keep their delay, and FIFO order holds newer ones behind
        # them (as netem does): let the previous connection's RST arrive first.
        lossy.lab.wait(0.15)
        lossy.ok(line)

    def best(port: int) -> float:
        rtts = [handshake_rtt(lossy, f"d{port + i}", port + i) for i in range(4)]
        lossy.lab.wait(0.15)
        return min(rtts)

    try:
        change(f"link h1 {sw} loss=0 delay=60ms")
        up = best(7100)
        change(f"link h1 {sw} delay=0")
        zero = best(7110)
        change(f"link h1 {sw} dir=h1>{sw} delay=30ms")
        one_way = best(7120)
    finally:
        lossy.ok(f"link h1 {sw} loss=5% delay=20ms")
    assert 0.120 <= up <= 0.125
    assert zero <= 0.005
    assert 0.030 <= one_way <= 0.035


def test_one_megabyte_each_way_over_loss_and_delay(lossy: Run, tmp_path: Path) -> None:
    forward, backward = os.urandom(MB), os.urandom(MB)
    (tmp_path / "f").write_bytes(forward)
    (tmp_path / "b").write_bytes(backward)
    start = len(lossy.watch.events)
    lossy.connect("big", 8000)
    lossy.ok(f"send big --file {tmp_path / 'f'}")
    lossy.until(lambda: len(lossy.got("big", True)) >= MB, "1 MB from h1", timeout=60)
    lossy.ok(f"send big' --file {tmp_path / 'b'}")
    lossy.until(lambda: len(lossy.got("big")) >= MB, "1 MB from h2", timeout=60)
    assert hashlib.sha256(lossy.got("big", True)).digest() == hashlib.sha256(forward).digest()
    assert hashlib.sha256(lossy.got("big")).digest() == hashlib.sha256(backward).digest()
    drops = [e for e in lossy.watch.events[start:] if isinstance(e, LinkDropped)]
    # the link lost frames and the lab named them by link and direction
    assert drops and {d.link for d in drops} == {lossy.backend.link_names()[0]}
    assert {d.direction for d in drops} <= {f"h1>{lossy.lab.topo.switches[0]}",
                                            f"{lossy.lab.topo.switches[0]}>h1"}
    lossy.ok("close big")
    lossy.until(lambda: lossy.state("big", True) is State.CLOSE_WAIT, "FIN after the data")
    lossy.ok("close big'")
    lossy.until(lambda: lossy.state("big") is State.TIME_WAIT
                and lossy.state("big", True) is State.CLOSED, "teardown")


@pytest.mark.parametrize("first", ["client", "server"])
def test_teardown_one_side_first(lossy: Run, first: str) -> None:
    name = f"t{first}"
    lossy.connect(name, 8100 if first == "client" else 8101)
    closer, other = (False, True) if first == "client" else (True, False)
    lossy.ok(f"close {name}{chr(39) if closer else ''}")
    assert lossy.state(name, closer) is State.FIN_WAIT_1
    lossy.until(lambda: lossy.state(name, closer) is State.FIN_WAIT_2
                and lossy.state(name, other) is State.CLOSE_WAIT, "FIN-WAIT-2 / CLOSE-WAIT")
    lossy.ok(f"close {name}{chr(39) if other else ''}")
    lossy.until(lambda: lossy.state(name, closer) is State.TIME_WAIT
                and lossy.state(name, other) is State.CLOSED, "TIME-WAIT / CLOSED")
    assert State.LAST_ACK in lossy.seen(name, other)


def test_half_close_then_data_in_close_wait(lossy: Run) -> None:
    lossy.connect("half", 8200)
    lossy.ok("send half \"request\"")
    lossy.ok("shutdown half")
    lossy.until(lambda: lossy.state("half") is State.FIN_WAIT_2
                and lossy.state("half", True) is State.CLOSE_WAIT, "half-closed")
    lossy.ok("send half' --bytes 50000")
    lossy.until(lambda: len(lossy.got("half")) == 50000, "data in CLOSE-WAIT")
    assert lossy.got("half", True) == b"request"
    lossy.ok("close half'")
    lossy.until(lambda: lossy.state("half") is State.TIME_WAIT
                and lossy.state("half", True) is State.CLOSED, "closed")


def test_abort_resets_the_peer(lossy: Run) -> None:
    lossy.connect("rst", 8300)
    lossy.ok("abort rst")
    assert lossy.state("rst") is State.CLOSED
    # the peer's data is answered with RST again if the first one was lost
    lossy.ok("send rst' \"x\"")
    lossy.until(lambda: lossy.state("rst", True) is State.CLOSED, "peer reset")
    assert State.ESTABLISHED in lossy.seen("rst", True)


def test_simultaneous_close_reaches_closing(lossy: Run) -> None:
    lossy.connect("sim", 8400)
    start = len(lossy.watch.events)
    lossy.ok("hold h1>h2 FIN")
    lossy.ok("hold h2>h1 FIN")
    lossy.ok("close sim")
    lossy.ok("close sim'")
    lossy.until(lambda: sum(isinstance(e, LinkHeld)
                            for e in lossy.watch.events[start:]) == 2, "both FINs held")
    assert lossy.state("sim") is State.FIN_WAIT_1
    assert lossy.state("sim", True) is State.FIN_WAIT_1
    assert "released 2" in lossy.ok("release all")
    lossy.until(lambda: lossy.state("sim") is State.TIME_WAIT
                and lossy.state("sim", True) is State.TIME_WAIT, "both in TIME-WAIT")
    fin_lost = any(isinstance(e, LinkDropped) and e.segment is not None
                   and e.segment.flags & FIN for e in lossy.watch.events[start:])
    reached = [State.CLOSING in lossy.seen("sim", side) for side in (False, True)]
    # A released FIN can still be lost at h1's ingress; then only one side sees CLOSING.
    assert all(reached) or (fin_lost and any(reached))


# ----------------------------------------------------------------------- Linux interop

PEER = textwrap.dedent("""
    import hashlib, json, random, socket, sys, threading
    role, ip, port, lport, order, seed = sys.argv[1:7]
    data = random.Random(int(seed)).randbytes(1_000_000)
    if role == "server":
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("0.0.0.0", int(port)))
        ls.listen(1)
        print("ready", flush=True)
        s, _ = ls.accept()
        ls.close()
    else:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(lport)))
        s.settimeout(60)
        print("ready", flush=True)
        s.connect((ip, int(port)))
    s.settimeout(120)
    def send():
        s.sendall(data)
        if order == "linux-first":
            s.shutdown(socket.SHUT_WR)
    sender = threading.Thread(target=send)
    sender.start()
    got = hashlib.sha256()
    n = 0
    while chunk := s.recv(65536):
        got.update(chunk)
        n += len(chunk)
    sender.join()
    s.close()
    print(json.dumps({"received": n, "sha256": got.hexdigest()}), flush=True)
""")


@pytest.fixture(scope="module")
def interop(tmp_path_factory: pytest.TempPathFactory, tag: str) -> Iterator[Run]:
    path = topology_file(tmp_path_factory.mktemp("topo"), "interop", f"""
        sw = self.addSwitch("y{tag}")
        self.addLink(self.addHost("h1"), sw)
        self.addLink(self.addHost("h3", kernel=True), sw, loss=5)
    """)
    run = Run(path)
    yield run
    run.stop()


def ss(run: Run, host: str) -> list[tuple[str, str, str]]:
    """(state, local, peer) of every TCP socket in ``host``'s namespace."""
    assert run.backend.network is not None
    argv = run.backend.network.in_host(host, ["ss", "-tanH"])
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [(row[0], row[3], row[4]) for row in rows]


class Case:
    """One connection between h1's stack and a Linux program on h3, driven step by step."""

    def __init__(self, run: Run, tmp: Path, linux_role: str, order: str, port: int) -> None:
        self.run, self.linux_role, self.order, self.port = run, linux_role, order, port
        self.lport = port + 100   # the client's port, whoever the client is
        self.seed = port
        self.ours = os.urandom(MB)
        self.file = tmp / f"data{port}"
        self.file.write_bytes(self.ours)
        self.theirs = random.Random(port).randbytes(MB)
        h1, h3 = run.backend.ips["h1"], run.backend.ips["h3"]
        if linux_role == "server":
            self.ref = f"h1:{self.lport}>h3:{port}"
            self.tuple = (f"{h3}:{port}", f"{h1}:{self.lport}")
        else:
            self.ref = f"h1:{port}>h3:{self.lport}"
            self.tuple = (f"{h3}:{self.lport}", f"{h1}:{port}")
        assert run.backend.network is not None
        self.proc = run.backend.network.node("h3").popen(
            [sys.executable, "-c", PEER, linux_role, h1, str(port), str(self.lport), order,
             str(self.seed)], text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"
        if linux_role == "server":
            run.ok(f"connect h1:{self.lport} h3:{port}")
        self.step = "connecting"
        self.result: dict[str, Any] | None = None

    def conn(self) -> tuple[str, int] | None:
        for info in self.run.backend.app("h1").sockets():
            if info.remote is None:
                continue
            ends = (f"{info.remote[0]}:{info.remote[1]}", f"{info.local[0]}:{info.local[1]}")
            if ends == self.tuple:
                return "h1", info.id
        return None

    def state(self) -> State:
        found = self.conn()
        assert found is not None
        return self.run.backend.app("h1").socket(found[1]).state

    def received(self) -> bytes:
        found = self.conn()
        return bytes(self.run.watch.data.get(found, b"")) if found else b""

    def advance(self) -> None:
        if self.step == "connecting" and self.conn() is not None \
                and self.state() in (State.ESTABLISHED, State.CLOSE_WAIT):
            self.run.ok(f"send {self.ref} --file {self.file}")
            self.step = "sending"
        elif self.step == "sending" and len(self.received()) >= MB:
            if self.order == "linux-first" and self.state() is not State.CLOSE_WAIT:
                return  # Linux's FIN first
            self.run.ok(f"close {self.ref}")
            self.step = "closing"
        elif self.step == "closing" and self.proc.poll() is not None:
            assert self.proc.stdout is not None
            self.result = json.loads(self.proc.stdout.read().strip().splitlines()[-1])
            self.step = "done"


@pytest.mark.parametrize("order", ["tcplab-first", "linux-first"])
def test_interop_with_linux_tcp(interop: Run, tmp_path: Path, order: str) -> None:
    base = 9000 if order == "tcplab-first" else 9010
    table = f"tcplab_{interop.backend.lab_id}"
    sw = interop.lab.topo.switches[0]
    drops_before = nft_drops(table)
    # the 5% of the h3 link, both ways: frames leaving the switch toward h3, and entering it
    assert set(drops_before) == {f'iifname "{sw}-eth2"', f'oifname "{sw}-eth2"'}
    interop.ok(f"listen h1:{base + 1}")   # before the Linux client starts connecting
    cases = [Case(interop, tmp_path, "server", order, base),
             Case(interop, tmp_path, "client", order, base + 1)]
    linux_seen: dict[int, set[str]] = {c.port: set() for c in cases}

    def linux_states(case: Case) -> list[str]:
        return [r[0] for r in ss(interop, "h3") if (r[1], r[2]) == case.tuple]

    def progress() -> bool:
        for case in cases:
            case.advance()
            linux_seen[case.port].update(linux_states(case))
        return all(c.step == "done" for c in cases)

    interop.until(progress, f"1 MB each way with Linux, {order}", timeout=120)
    want = (State.CLOSED, ["TIME-WAIT"]) if order == "linux-first" else (State.TIME_WAIT, [])
    # Linux closed first: its side waits in TIME-WAIT; tcplab first: Linux's side is gone.
    interop.until(lambda: all((c.state(), linux_states(c)) == want for c in cases),
                  f"tcplab {want[0]} and Linux {want[1]}")
    drops_after = nft_drops(table)
    assert all(drops_after[k] > drops_before[k] for k in drops_before), drops_after
    for case in cases:
        assert case.result is not None
        assert case.result["received"] == MB
        assert case.result["sha256"] == hashlib.sha256(case.ours).hexdigest()
        assert hashlib.sha256(case.received()).digest() == hashlib.sha256(case.theirs).digest()
        seen = linux_seen[case.port]
        if order == "linux-first":   # Linux sent its FIN at once and waited for ours
            assert seen & {"FIN-WAIT-1", "FIN-WAIT-2"}, seen
        else:                        # Linux kept the connection open until our FIN
            assert "ESTAB" in seen and "TIME-WAIT" not in seen, seen


def nft_drops(table: str) -> dict[str, int]:
    """Packets dropped so far by each rule of the lab's bridge table, by its port match."""
    out = subprocess.run(["nft", "list", "table", "bridge", table], capture_output=True,
                         text=True, check=True).stdout
    drops = {}
    for line in out.splitlines():
        words = line.split()
        if "counter" in words and words[0] in ("iifname", "oifname"):
            drops[f"{words[0]} {words[1]}"] = int(words[words.index("packets") + 1])
    return drops


def test_a_kernel_host_with_a_link_takes_the_command_language(interop: Run) -> None:
    # its agent drives Linux's sockets (see test_kernel_hosts.py for the rest)
    result = interop.lab.execute("listen h3:80")
    assert result.ok and "h3 listening on port 80" in result.message


def test_pause_is_refused_with_a_reason(interop: Run) -> None:
    result = interop.lab.execute("pause")
    assert not result.ok and "not supported on Mininet" in result.message


# ----------------------------------------------------------------------------- cleanup

def root_objects(tag: str) -> dict[str, list[str]]:
    """Everything in the root namespace that could belong to a lab tagged ``tag``."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    bridges = [n for n in os.listdir("/sys/class/net")
               if Path(f"/sys/class/net/{n}/bridge").exists()]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    procs = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if tag in cmd:
            procs.append(cmd)
    return {"links": [n for n in names if tag in n], "bridges": [b for b in bridges if tag in b],
            "tables": [t for t in tables.splitlines() if tag in t], "procs": procs}


def test_nothing_left_after_the_lab_stops_even_with_a_dead_agent(
        tmp_path: Path, tag: str) -> None:
    path = topology_file(tmp_path, "gone", f"""
        sw = self.addSwitch("z{tag}")
        self.addLink(self.addHost("h1"), sw)
        self.addLink(self.addHost("h2"), sw)
        self.addLink(self.addHost("h3", kernel=True), sw, loss=1)
    """)
    run = Run(path)
    lab_id = run.backend.lab_id
    rundir = runtime_base() / lab_id
    assert run.backend.state is not None
    recorded = list(run.backend.state.processes)
    try:
        assert rundir.is_dir() and oct(rundir.stat().st_mode & 0o777) == "0o700"
        during = root_objects(f"z{tag}")
        assert during["bridges"] == [f"z{tag}"] and len(during["links"]) == 4
        assert any(f"tcplab_{lab_id}" in t for t in
                   subprocess.run(["nft", "list", "tables"], capture_output=True,
                                  text=True).stdout.splitlines())
        assert run.backend.network is not None
        run.backend.network.node("h3").popen(["sleep", "600"])   # a kernel host's program
        os.kill(run.backend.agents["h2"].proc.pid, signal.SIGKILL)
        run.until(lambda: any(isinstance(e, HostStatus) and e.host == "h2" and not e.up
                              for e in run.watch.events), "h2 reported down")
        failed = run.lab.execute("listen h2:80")
        assert not failed.ok and "h2 is down" in failed.message
        run.ok("listen h1:80")      # the rest goes on
    finally:
        run.stop()
    assert root_objects(f"z{tag}") == {"links": [], "bridges": [], "tables": [], "procs": []}
    assert f"tcplab_{lab_id}" not in subprocess.run(["nft", "list", "tables"],
                                                    capture_output=True, text=True).stdout
    assert not rundir.exists()
    assert not root_objects(lab_id)["procs"]
    assert not root_objects("sleep 600")["procs"]
    # 3 shells and 3 agents (h3, a kernel host, has one that drives Linux's sockets)
    assert len(recorded) == 6 and not [p for p in recorded if p.alive()]


KILLED = textwrap.dedent("""
    import sys, time
    from tcplab.backends.mininet.backend import MininetBackend
    from tcplab.lab.lab import Lab
    from tcplab.lab.topology import load_topology
    backend = MininetBackend()
    lab = Lab(load_topology(sys.argv[1]), backend)
    lab.start()
    backend.network.node("h2").popen(["sleep", "601"])
    print(backend.lab_id, flush=True)
    time.sleep(600)
""")


def test_clean_removes_what_kill_9_left(tmp_path: Path, tag: str) -> None:
    path = topology_file(tmp_path, "killed", f"""
        sw = self.addSwitch("k{tag}")
        self.addLink(self.addHost("h1"), sw)
        self.addLink(self.addHost("h2", kernel=True), sw, loss=1)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(path)], stdout=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    lab_id = proc.stdout.readline().strip()
    assert lab_id, "the lab did not start"
    proc.kill()
    proc.wait()
    left = root_objects(f"k{tag}")
    assert left["bridges"] == [f"k{tag}"]          # kill -9 did leave things behind
    assert (runtime_base() / lab_id / "state.json").exists()
    done = subprocess.run([sys.executable, "-m", "tcplab", "clean"], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"k{tag}" in done.stdout and f"tcplab_{lab_id}" in done.stdout
    assert root_objects(f"k{tag}") == {"links": [], "bridges": [], "tables": [], "procs": []}
    assert not (runtime_base() / lab_id).exists()
    assert not root_objects("sleep 601")["procs"]
    assert not root_objects(lab_id)["procs"]
    again = subprocess.run([sys.executable, "-m", "tcplab", "clean"], capture_output=True,
                           text=True, env=env, cwd=ROOT, timeout=60)
    assert again.returncode == 0 and lab_id not in again.stdout


# ------------------------------------------------------------- placement (no network needed)

def test_placement_follows_the_ends_of_each_direction(tmp_path: Path) -> None:
    path = topology_file(tmp_path, "mixed", """
        s1, s2 = self.addSwitch("s1"), self.addSwitch("s2")
        self.addLink(self.addHost("h1"), s1)
        self.addLink(s1, s2)
        self.addLink(s2, self.addHost("h3", kernel=True))
    """)
    topo = load_topology(str(path))
    got = {(p.src, p.dst): (p.mode, p.node, p.ifname, p.match)
           for p in I.place(topo, {"h1": "h1-eth0"}, netem=False).values()}
    assert got == {
        ("h1", "s1"): ("egress", "h1", "h1-eth0", ""),
        ("s1", "h1"): ("ingress", "h1", "h1-eth0", ""),
        ("s1", "s2"): ("bridge", "s1", "s1-eth2", "oifname s1-eth2"),
        ("s2", "s1"): ("bridge", "s2", "s2-eth1", "oifname s2-eth1"),
        ("s2", "h3"): ("bridge", "s2", "s2-eth2", "oifname s2-eth2"),
        ("h3", "s2"): ("bridge", "s2", "s2-eth2", "iifname s2-eth2"),
    }
    netem = {(p.src, p.dst): (p.mode, p.node)
             for p in I.place(topo, {"h1": "h1-eth0"}, netem=True).values()}
    assert netem == {key: ("netem", key[0]) for key in got}


def test_netem_arguments_carry_every_parameter() -> None:
    p = I.Placement("h1-s1", "h1", "s1", "netem", "h1", "h1-eth0")
    state = I.checked(I.initial_state(p), {"delay": 0.02, "jitter": 0.005, "loss": 0.05,
                                           "bw": 10e6, "dup": 0.01})
    assert I.netem_params(state) == {"limit": 1000, "delay": 20000, "jitter": 5000,
                                     "loss": 5.0, "duplicate": 1.0, "rate": "10000000bit"}
    assert I.netem_params(I.checked(state, {"up": False}))["loss"] == 100.0
    assert I.netem_params(I.checked(state, {"reorder": 0.25}))["prob_reorder"] == 25.0
    with pytest.raises(ValueError, match="loss must be between"):
        I.checked(state, {"loss": 1.5})


def test_between_switches_only_loss_applies_and_the_rest_is_a_notice(tmp_path: Path) -> None:
    path = topology_file(tmp_path, "sw2", """
        s1, s2 = self.addSwitch("s1"), self.addSwitch("s2")
        self.addLink(s1, s2)
    """)
    runs: list[tuple[str | None, list[str], str | None]] = []
    notices: list[str] = []
    imp = I.Impairments(I.place(load_topology(str(path)), {}, netem=False), "ab12cd",
                        lambda *a: pytest.fail("no agent here"),
                        lambda node, _what, argv, stdin: runs.append((node, list(argv), stdin)),
                        notices.append, "this kernel has no netem")
    imp.set([("s1-s2", "s1")], {"delay": 0.01, "loss": 0.02})
    assert imp.states[("s1-s2", "s1")].delay == 0.0
    assert imp.states[("s1-s2", "s1")].loss == 0.02
    assert notices == ["link s1>s2: delay not applied: this kernel has no netem, and between "
                       "switches and kernel hosts only loss and up/down apply (nft bridge rules)"]
    node, argv, script = runs[-1]
    assert node is None and argv == ["nft", "-f", "-"] and script is not None
    assert "add table bridge tcplab_ab12cd" in script
    assert "oifname s1-eth1 numgen random mod 10000 < 200 counter drop" in script
    imp.set([("s1-s2", "s2")], {"up": False})
    assert "oifname s2-eth1 counter drop" in (runs[-1][2] or "")
    assert imp.nft_table == "bridge tcplab_ab12cd"
