"""The agent for real: two network namespaces joined by a veth pair, one agent in each.

Needs root (CI is root).  Each test gets fresh namespaces ``tcplab-test-<random>-a/b``
(not Mininet: the agent must work in any namespace), addresses 10.99.0.1/24 and
10.99.0.2/24, offloads off, IPv6 off (no background noise), and the nft rule that
keeps the kernel's TCP away from the stack's address.  Teardown kills the agents,
deletes the namespaces and checks none is left, whatever the test did.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tcplab.backends.mininet.protocol import AgentClient, AgentError, events_from_line
from tcplab.lab.events import LabEvent, LinkDropped
from tcplab.stack.events import Delivered, SegmentReceived, SegmentSent, StateChanged
from tcplab.tcp.segment import ACK, SYN
from tcplab.tcp.states import State

IPS = {"h1": "10.99.0.1", "h2": "10.99.0.2"}
MACS = {"h1": "02:99:00:00:00:01", "h2": "02:99:00:00:00:02"}
PREFIX = "tcplab-test-"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sh(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def netns_list() -> list[str]:
    return [line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line]


@dataclass
class Side:
    name: str
    ns: str
    ifname: str
    sock: str
    proc: subprocess.Popen[bytes] | None = None
    client: AgentClient | None = None
    events: list[LabEvent] = field(default_factory=list)

    @property
    def ctl(self) -> AgentClient:
        assert self.client is not None
        return self.client


class Net:
    """Two namespaces, a veth between them and an agent in each."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.rundir = tempfile.mkdtemp(prefix="tcplab-agent-")
        os.chmod(self.rundir, 0o700)
        self.epoch = time.monotonic()
        self.sides = {
            name: Side(name, f"{PREFIX}{tag}-{name}", f"t{tag}{name}",
                       os.path.join(self.rundir, f"{name}.sock"))
            for name in ("h1", "h2")}

    def build(self) -> None:
        h1, h2 = self.sides["h1"], self.sides["h2"]
        for side in (h1, h2):
            sh("ip", "netns", "add", side.ns)
        sh("ip", "link", "add", h1.ifname, "netns", h1.ns, "address", MACS["h1"], "type", "veth",
           "peer", "name", h2.ifname, "netns", h2.ns, "address", MACS["h2"])
        for side in (h1, h2):
            ip = IPS[side.name]
            run = ("ip", "netns", "exec", side.ns)
            sh(*run, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            sh(*run, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
            sh("ip", "-n", side.ns, "addr", "add", f"{ip}/24", "dev", side.ifname)
            sh("ip", "-n", side.ns, "link", "set", "lo", "up")
            sh("ip", "-n", side.ns, "link", "set", side.ifname, "up")
            sh(*run, "ethtool", "-K", side.ifname, "tx", "off", "tso", "off", "gso", "off",
               "gro", "off")
            rules = ("table inet tcplab {\n chain in {\n"
                     "  type filter hook input priority 0;\n"
                     f"  ip daddr {ip} meta l4proto tcp drop\n }}\n}}\n")
            subprocess.run([*run, "nft", "-f", "-"], input=rules, text=True, check=True,
                           timeout=20)

    def start(self, name: str, *extra: str) -> Side:
        side = self.sides[name]
        iface = f"{side.ifname},{MACS[name]},{IPS[name]}/24"
        cmd = ["ip", "netns", "exec", side.ns, sys.executable, "-m",
               "tcplab.backends.mininet.agent", "--name", name, "--control", side.sock,
               "--epoch", repr(self.epoch), "--iface", iface, "--seed", "7", *extra]
        side.proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE)
        side.client = AgentClient.connect(side.sock, timeout=15)
        return side

    def pump(self) -> None:
        for side in self.sides.values():
            if side.client is not None and not side.client.closed:
                for msg in side.client.drain():
                    if "events_line" in msg:
                        events, errors = events_from_line(msg["events_line"], side.name)
                        assert errors == []
                        side.events += events

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.005)
            self.pump()

    def teardown(self) -> None:
        for side in self.sides.values():
            if side.client is not None:
                side.client.close()
            if side.proc is not None and side.proc.poll() is None:
                side.proc.terminate()
                try:
                    side.proc.wait(5)
                except subprocess.TimeoutExpired:
                    side.proc.kill()
                    side.proc.wait(5)
            if side.proc is not None and side.proc.stderr is not None:
                side.proc.stderr.close()
        for side in self.sides.values():
            subprocess.run(["ip", "netns", "delete", side.ns], capture_output=True, timeout=20)
        shutil.rmtree(self.rundir, ignore_errors=True)


@pytest.fixture
def net() -> Iterator[Net]:
    n = Net()
    try:
        n.build()
        yield n
    finally:
        n.teardown()
        left = [ns for ns in netns_list() if ns in {s.ns for s in n.sides.values()}]
        assert not left, f"namespaces left behind: {left}"


@pytest.fixture
def pair(net: Net) -> Net:
    net.start("h1")
    net.start("h2")
    return net


# ----------------------------------------------------------------------------- helpers

def established(net: Net, name: str) -> list[int]:
    return [e.sid for e in net.sides[name].events
            if isinstance(e, StateChanged) and e.new is State.ESTABLISHED]


def connect(net: Net, port: int = 5001) -> tuple[int, int]:
    """h2 listens, h1 connects; (h1's sid, h2's accepted sid) once both are established."""
    net.sides["h2"].ctl.request("listen", port=port)
    before = set(established(net, "h2"))
    sid1 = net.sides["h1"].ctl.request("connect", ip=IPS["h2"], port=port, lport=None)["sid"]
    net.wait_for("ESTABLISHED on both sides",
                 lambda: sid1 in established(net, "h1")
                 and bool(set(established(net, "h2")) - before))
    return sid1, min(set(established(net, "h2")) - before)


def delivered(net: Net, name: str, sid: int) -> bytes:
    return b"".join(e.data for e in net.sides[name].events
                    if isinstance(e, Delivered) and e.sid == sid)


def transfer(net: Net, src: str, sid_src: int, dst: str, sid_dst: int, size: int) -> bytes:
    """Write ``size`` random bytes on src's socket; returns them once dst got them all."""
    data = secrets.token_bytes(size)
    net.sides[src].ctl.request("write", sid=sid_src, data=base64.b64encode(data).decode())
    net.wait_for(f"{size} bytes {src}>{dst}",
                 lambda: len(delivered(net, dst, sid_dst)) >= size, timeout=60)
    return data


def transfer_both_ways(net: Net, sid1: int, sid2: int, size: int, at_once: bool) -> None:
    """1 MB h1>h2 and h2>h1, at the same time or one after the other; sha256 checked."""
    if at_once:
        data1, data2 = secrets.token_bytes(size), secrets.token_bytes(size)
        for name, sid, data in (("h1", sid1, data1), ("h2", sid2, data2)):
            net.sides[name].ctl.request("write", sid=sid, data=base64.b64encode(data).decode())
        net.wait_for("both transfers",
                     lambda: len(delivered(net, "h2", sid2)) >= size
                     and len(delivered(net, "h1", sid1)) >= size, timeout=60)
    else:
        data1 = transfer(net, "h1", sid1, "h2", sid2, size)
        data2 = transfer(net, "h2", sid2, "h1", sid1, size)
    got2, got1 = delivered(net, "h2", sid2), delivered(net, "h1", sid1)
    assert hashlib.sha256(got2).hexdigest() == hashlib.sha256(data1).hexdigest()
    assert hashlib.sha256(got1).hexdigest() == hashlib.sha256(data2).hexdigest()


def raw_connect(path: str) -> tuple[socket.socket, Any]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.settimeout(10)
    reader = sock.makefile("rb")
    hello = json.loads(reader.readline())
    assert hello["hello"] == "tcplab-agent"
    return sock, reader


def read_reply(reader: Any) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = json.loads(reader.readline())
        if "ok" in msg:
            return msg


# ----------------------------------------------------------------------------- tests

def test_hello_names_the_host_and_socket_is_private(pair: Net) -> None:
    h1 = pair.sides["h1"]
    assert h1.ctl.hello["host"] == "h1"
    assert h1.proc is not None and h1.ctl.hello["pid"] == h1.proc.pid
    assert os.stat(h1.sock).st_mode & 0o777 == 0o600
    assert h1.ctl.request("ping") == {"v": 3, "id": 1, "ok": True}


def test_handshake_and_one_megabyte_each_way(pair: Net) -> None:
    sid1, sid2 = connect(pair)
    transfer_both_ways(pair, sid1, sid2, 1 << 20, at_once=True)
    info = pair.sides["h1"].ctl.request("socket", sid=sid1)["socket"]
    assert info["state"] == "ESTABLISHED" and info["bytes_sent"] == 1 << 20


PINGER = """
import socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(0.5)
for seq in (1, 2):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x7ab, seq) + b"tcplab"
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    sock.sendto(body, (sys.argv[1], 0))
replies = []
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    try:
        data = sock.recv(2048)
    except TimeoutError:
        break
    icmp = data[(data[0] & 15) * 4:]
    if icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == 0x7ab:
        replies.append(struct.unpack("!H", icmp[6:8])[0])
print(" ".join(map(str, sorted(replies))))
"""


def test_kernel_answers_ping_once(pair: Net) -> None:
    # The stack leaves echo requests to the kernel, which keeps the address: one reply each.
    out = sh("ip", "netns", "exec", pair.sides["h1"].ns, sys.executable, "-c", PINGER,
             IPS["h2"])
    assert out.split() == ["1", "2"]


def test_egress_delay_shows_in_handshake_rtt(pair: Net) -> None:
    connect(pair, port=5000)  # warm up first: ARP caches, the agents' code paths
    for side in pair.sides.values():
        reply = side.ctl.request("impair", ifname=side.ifname, where="egress",
                                 changes={"delay": 0.020})
        assert reply["state"]["delay"] == pytest.approx(0.020)
    sid, _ = connect(pair, port=5001)
    events = [e for e in pair.sides["h1"].events
              if isinstance(e, SegmentSent | SegmentReceived) and e.sid == sid]
    syn = next(e for e in events if isinstance(e, SegmentSent)
               and e.segment.flags & (SYN | ACK) == SYN)
    synack = next(e for e in events if isinstance(e, SegmentReceived)
                  and e.segment.flags & (SYN | ACK) == SYN | ACK)
    assert synack.t - syn.t == pytest.approx(0.040, abs=0.005)


def test_five_percent_loss_still_delivers_everything(net: Net) -> None:
    for name in ("h1", "h2"):  # Linux's 200 ms minimum RTO keeps the test short
        side = net.start(name, "--config", '{"rto_min": 0.2, "rto_initial": 0.5}')
        side.ctl.request("impair", ifname=side.ifname, where="egress", changes={"loss": 0.05})
    sid1, sid2 = connect(net)
    # One way at a time: data segments carrying SACK blocks currently exceed the MTU
    # (an engine issue, reported), which only two-way data under loss produces.
    transfer_both_ways(net, sid1, sid2, 256 << 10, at_once=False)
    lost = [e for s in net.sides.values() for e in s.events
            if isinstance(e, LinkDropped) and e.reason == "link loss"]
    assert len(lost) > 5
    assert all(e.link == net.sides[e.host].ifname and e.direction == "egress" for e in lost)


BAD = [
    (b"garbage\n", "not a JSON line"),
    (b"\xff\xfe\n", "not a JSON line"),
    (b"[1, 2]\n", "JSON object"),
    (b'{"v": 3, "op": "ping"}\n', "integer id"),
    (b'{"v": 3, "id": 5, "op": "fly"}\n', "unknown op"),
    (b'{"v": 3, "id": 6, "op": "listen", "port": "80"}\n', "port must be int"),
    (b'{"v": 3, "id": 7, "op": "listen"}\n', "missing argument"),
    (b'{"v": 3, "id": 8, "op": "ping", "extra": 1}\n', "unknown argument"),
    (b'{"v": 2, "id": 9, "op": "ping"}\n', "version"),
    (b'{"v": 3, "id": 10, "op": "close", "sid": 99}\n', "no such socket"),
    (b'{"v": 3, "id": 11, "op": "impair", "ifname": "nope", "where": "egress", '
     b'"changes": {}}\n', "no interface"),
    (b'{"v": 3, "id": 12, "op": "command", "line": "listen h1:99999"}\n', "port"),
    (b'{"v": 3, "id": 13, "op": "write", "sid": 1, "data": "!!"}\n', "base64"),
    (b'{"v": 3, "id": 14, "op": "listen", "port": 0}\n', "out of range"),
    (b'{"v": 3, "id": 15, "op": "filter", "ifname": "IF", "kind": "PING", "action": "hold"}\n',
     "kind must be"),
]


def test_bad_messages_get_an_error_and_the_agent_lives(pair: Net) -> None:
    h1 = pair.sides["h1"]
    sock, reader = raw_connect(h1.sock)
    with sock, reader:
        for line, error in BAD:
            sock.sendall(line.replace(b"IF", h1.ifname.encode()))
            reply = read_reply(reader)
            assert reply["ok"] is False and error in reply["error"], (line, reply)
            expected_id = json.loads(line).get("id") if line.startswith(b"{") else None
            assert reply["id"] == expected_id, (line, reply)
            sock.sendall(b'{"v": 3, "id": 100, "op": "ping"}\n')
            assert read_reply(reader) == {"v": 3, "id": 100, "ok": True}
    assert h1.proc is not None and h1.proc.poll() is None


def test_errors_reach_the_client_as_agent_error(pair: Net) -> None:
    with pytest.raises(AgentError, match="no such socket") as info:
        pair.sides["h1"].ctl.request("close", sid=42)
    assert info.value.errno is not None
    assert pair.sides["h1"].ctl.request("ping")["ok"] is True


def test_command_language_on_one_host(pair: Net) -> None:
    h1, h2 = pair.sides["h1"].ctl, pair.sides["h2"].ctl
    assert "listening on port 7000" in h2.request("command", line="listen h2:7000")["message"]
    reply = h1.request("command", line="connect h1:40000 10.99.0.2:7000 as c1")
    assert reply["message"] == "connecting h1:40000>10.99.0.2:7000"
    pair.wait_for("established", lambda: reply["sid"] in established(pair, "h1"))
    h1.request("command", line='send h1:40000>10.99.0.2:7000 "hello"')
    # h2 is established one trip later than h1: after the ACK of its SYN,ACK
    pair.wait_for("h2 established", lambda: bool(established(pair, "h2")))
    sid2 = established(pair, "h2")[0]
    pair.wait_for("hello", lambda: delivered(pair, "h2", sid2) == b"hello")
    with pytest.raises(AgentError, match="not a host command"):
        h1.request("command", line="wait 1")
    with pytest.raises(AgentError, match="IPv4 address"):
        h1.request("command", line="connect h1 h2:7000")
    h1.request("command", line="close c1")
    pair.wait_for("h2 in CLOSE-WAIT", lambda: any(
        isinstance(e, StateChanged) and e.new is State.CLOSE_WAIT
        for e in pair.sides["h2"].events))


def test_quit_exits_zero_and_removes_the_socket(pair: Net) -> None:
    h1 = pair.sides["h1"]
    assert h1.ctl.request("quit")["ok"] is True
    assert h1.proc is not None and h1.proc.wait(10) == 0
    assert not os.path.exists(h1.sock)


def test_sigterm_exits_zero_and_removes_the_socket(pair: Net) -> None:
    h2 = pair.sides["h2"]
    assert h2.proc is not None
    h2.proc.send_signal(signal.SIGTERM)
    assert h2.proc.wait(10) == 0
    assert not os.path.exists(h2.sock)
