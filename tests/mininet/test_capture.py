"""Recording a Mininet lab: which frames the agents report go to which capture.

The first tests drive :class:`FrameCapture` with agents' ``frame`` messages (no root
needed); the last ones record real Mininet labs (root, as the rest of tests/mininet)
and read the files with tshark.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from tcplab.backends.mininet import protocol as P
from tcplab.backends.mininet.backend import MininetBackend
from tcplab.backends.mininet.capture import FrameCapture
from tcplab.cli import main
from tcplab.lab import commands as C
from tcplab.lab.backend import FrameDirection
from tcplab.lab.events import EventBus
from tcplab.lab.lab import Lab
from tcplab.lab.record import Recorder
from tcplab.lab.session import RunInputs
from tcplab.lab.topology import load_topology
from tcplab.stack.events import Delivered
from tcplab.tcp.config import Config
from tcplab.tcp.states import State

Seen = list[tuple[str, str, FrameDirection, bytes, float]]


def capture_of(agents: set[str]) -> tuple[FrameCapture, list[str], Seen]:
    """h1 - s1 and h1 - k (a second interface) cabled; the two taps' records."""
    cap = FrameCapture(agents)
    cap.cable("h1-s1", "h1", "h1-eth0", "s1", "s1-eth1")
    cap.cable("h1-k", "h1", "h1-eth1", "k", "k-eth0")
    cap.cable("h1-h2", "h1", "h1-eth2", "h2", "h2-eth0")
    links: list[str] = []
    hosts: Seen = []
    cap.taps.append(lambda link, data, t: links.append(f"{link} {data.decode()} {t}"))
    cap.host_taps.append(lambda *args: hosts.append(args))
    return cap, links, hosts


def frame(ifname: str, where: str, t: float, data: str) -> object:
    return json.loads(P.encode(P.frame_to_wire(ifname, where, t, data.encode())))


def test_each_direction_feeds_the_captures_it_names() -> None:
    cap, links, hosts = capture_of({"h1", "h2"})
    for ifname, where, t, data in [
        ("h1-eth0", "out", 1.0, "a"),       # no agent link model: both captures
        ("h1-eth0", "in", 1.1, "b"),        # from a switch: both
        ("h1-eth2", "in", 1.2, "c"),        # from h2's agent, which reported it leaving
        ("h1-eth0", "host-out", 1.3, "d"),  # into the agent's egress model...
        ("h1-eth0", "wire-out", 1.5, "d"),  # ...and out of it, 0.2 s later
        ("h1-eth0", "wire-in", 1.6, "e"),   # a frame the ingress model then lost
        ("h1-eth0", "wire-in", 1.7, "f"),
        ("h1-eth0", "host-in", 1.8, "f"),
        ("nope", "out", 1.9, "g"),          # an interface on no link: nowhere
    ]:
        cap.frame("h1", frame(ifname, where, t, data))
    assert links == [] and hosts == []  # nothing before flush
    cap.flush()
    assert links == ["h1-s1 a 1.0", "h1-s1 b 1.1", "h1-s1 d 1.5", "h1-s1 e 1.6",
                     "h1-s1 f 1.7"]
    assert [(h, i, d, data.decode(), t) for h, i, d, data, t in hosts] == [
        ("h1", "h1-eth0", "sent", "a", 1.0), ("h1", "h1-eth0", "received", "b", 1.1),
        ("h1", "h1-eth2", "received", "c", 1.2), ("h1", "h1-eth0", "sent", "d", 1.3),
        ("h1", "h1-eth0", "received", "f", 1.8)]


def test_a_kernel_hosts_agent_reports_its_own_frames_once() -> None:
    # k, a kernel host cabled straight to h1: its agent watches Linux's frames ("out"/"in")
    cap, links, hosts = capture_of({"h1", "k"})
    cap.frame("h1", frame("h1-eth1", "out", 2.0, "syn"))
    cap.frame("k", frame("k-eth0", "in", 2.0, "syn"))
    cap.frame("k", frame("k-eth0", "out", 2.1, "rst"))
    cap.frame("h1", frame("h1-eth1", "in", 2.1, "rst"))
    cap.frame("k", frame("k-eth0", "out", 2.2, "lost"))   # the cable lost it on its way
    cap.flush()
    assert [(h, i, d, data.decode()) for h, i, d, data, _ in hosts if h == "k"] == [
        ("k", "k-eth0", "received", "syn"), ("k", "k-eth0", "sent", "rst"),
        ("k", "k-eth0", "sent", "lost")]
    assert [(h, d, data.decode()) for h, _i, d, data, _ in hosts if h == "h1"] == [
        ("h1", "sent", "syn"), ("h1", "received", "rst")]
    # the link's capture: each frame once, from the side that sent it
    assert links == ["h1-k syn 2.0", "h1-k rst 2.1", "h1-k lost 2.2"]


def test_frames_are_merged_by_time_and_only_wanted_when_tapped() -> None:
    cap, _links, hosts = capture_of({"h1", "h2"})
    cap.frame("h1", frame("h1-eth0", "out", 3.0, "late"))
    cap.frame("h2", frame("h2-eth0", "out", 2.0, "early"))   # h2's agent, drained after
    cap.flush()
    assert [data for *_, data, _t in hosts] == [b"early", b"late"]
    assert not FrameCapture(set()).wanted and cap.wanted
    with pytest.raises(P.ProtocolError):
        cap.frame("h1", frame("h1-eth0", "sideways", 1.0, "z"))


# ------------------------------------------------------------------------- real labs

def tshark(capture: Path, *args: str) -> list[list[str]]:
    assert shutil.which("tshark"), "tshark is required: apt-get install tshark"
    proc = subprocess.run(["tshark", "-r", str(capture), *args], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return [line.split("\t") for line in proc.stdout.splitlines()]


def topology(tmp: Path, loss: int, h2: str = "") -> Path:
    """h1 - x<tag> - h2, h1's link losing ``loss`` % each way; a random switch name so the
    root namespace's names never meet another lab's.  ``h2`` adds keywords to h2."""
    tag = secrets.token_hex(2)
    path = tmp / "cap.py"
    path.write_text(textwrap.dedent(f'''\
        """cap"""
        from mininet.topo import Topo


        class T(Topo):
            def build(self):
                sw = self.addSwitch("c{tag}")
                self.addLink(self.addHost("h1"), sw, loss={loss})
                self.addLink(self.addHost("h2"{h2}), sw)


        topos = {{"cap": T}}
        '''))
    return path


def test_a_recorded_transfer_has_the_handshake_in_h1s_file(tmp_path: Path) -> None:
    scenario = tmp_path / "short.scn"
    scenario.write_text("listen h2:5001\nconnect h1 h2:5001 as c1\nwait 0.5\n"
                        "expect c1 ESTABLISHED\nsend c1 --bytes 20000\nwait 1\n"
                        "expect-received c1 20000\n")
    out = tmp_path / "rec"
    code = main(["run", str(topology(tmp_path, 0)), "--backend", "mininet", "--headless",
                 "--scenario", str(scenario), "--record", str(out)])
    assert code == 0
    h1 = out / "capture-h1.pcapng"
    rows = tshark(h1, "-Y", "tcp.port == 5001", "-T", "fields", "-e", "tcp.flags",
                  "-e", "frame.packet_flags_direction", "-e", "frame.interface_name")
    handshake = [(int(f, 16) & 0x12, int(d, 16), name) for f, d, name in rows[:3]]
    # SYN out (2), SYN-ACK in (1), ACK out, on h1's interface
    assert handshake == [(0x02, 2, "h1-eth0"), (0x12, 1, "h1-eth0"), (0x10, 2, "h1-eth0")]
    for host in ("h1", "h2"):
        assert tshark(out / f"capture-{host}.pcapng", "-Y", "tcp.analysis.flags") == []
        payload = tshark(out / f"capture-{host}.pcapng", "-Y", "tcp.len > 0", "-T", "fields",
                         "-e", "tcp.len")
        assert sum(int(n) for (n,) in payload) == 20000
    # the same frames twice (h1-s1, then s1-h2) in the link capture: false flags there
    assert len(tshark(out / "capture.pcapng", "-Y", "tcp.analysis.flags")) > 5


def test_a_kernel_host_behind_a_switch_has_its_own_file(tmp_path: Path) -> None:
    # h2 runs Linux's TCP: its agent's packet socket sees what Linux sent and received
    scenario = tmp_path / "k.scn"
    scenario.write_text("listen h2:5002\nconnect h1 h2:5002 as c1\nwait 0.5\n"
                        "send c1 --bytes 30000\nwait 1\nexpect-received c1 30000\n"
                        "close c1\nclose c1'\nwait 1\n")
    out = tmp_path / "rec"
    code = main(["run", str(topology(tmp_path, 0, ", kernel=True")), "--backend", "mininet",
                 "--headless", "--scenario", str(scenario), "--record", str(out)])
    assert code == 0
    rows = tshark(out / "capture-h2.pcapng", "-Y", "tcp.port == 5002", "-T", "fields",
                  "-e", "tcp.flags", "-e", "frame.packet_flags_direction", "-e", "tcp.len")
    flags = [(int(f, 16) & 0x13, int(d, 16)) for f, d, _n in rows]
    # SYN in (1), SYN-ACK out (2), ACK in; Linux's FIN out and the peer's FIN in
    assert flags[:3] == [(0x02, 1), (0x12, 2), (0x10, 1)]
    assert (0x11, 2) in flags and (0x11, 1) in flags
    assert sum(int(n) for *_x, n in rows if int(_x[1], 16) == 1) == 30000
    assert tshark(out / "capture-h2.pcapng", "-Y", "tcp.analysis.flags") == []
    # the link capture holds each of h2's frames once per link it crossed (h2-sw, sw-h1)
    link = tshark(out / "capture.pcapng", "-Y", "tcp.port == 5002 && ip.src == 10.0.0.2",
                  "-T", "fields", "-e", "frame.interface_name", "-e", "tcp.seq_raw",
                  "-e", "tcp.flags", "-e", "tcp.ack_raw")
    per_link = Counter(name for name, *_ in link)
    assert len(per_link) == 2 and len(set(per_link.values())) == 1
    assert len(link) == len({tuple(r) for r in link})


def test_a_lossy_senders_file_flags_exactly_its_retransmissions(tmp_path: Path) -> None:
    """Loss on h1's link (netem, or the agent's own link model where there is none):
    h1's file holds what h1 sent before the link lost it, so Wireshark flags exactly
    the copies h1 retransmitted."""
    backend = MininetBackend(seed=3, config=Config(rto_min=0.2))
    bus = EventBus()
    topo = load_topology(str(topology(tmp_path, 5)))
    lab = Lab(topo, backend, bus)
    inputs = RunInputs.of(topo, backend="mininet", mechanism="", seed=3, virtual=False)
    recorder = Recorder(tmp_path / "rec", inputs.header())
    bus.subscribe(recorder.event)
    backend.add_tap(recorder.frame)
    backend.add_host_tap(recorder.host_frame)
    got = 0

    def count(event: object) -> None:
        nonlocal got
        if isinstance(event, Delivered) and event.host == "h2":
            got += len(event.data)

    bus.subscribe(count)
    try:
        lab.start()
        for line in ("listen h2:5001", "connect h1 h2:5001 as c1"):
            assert lab.execute(line).ok, line
        deadline = time.monotonic() + 30
        while (info := lab.socket_info(C.ConnName("c1", False))[1]) is None \
                or info.state is not State.ESTABLISHED:
            assert time.monotonic() < deadline, "no connection"
            lab.wait(0.01)
        assert lab.execute("send c1 --bytes 200000").ok
        while got < 200000:
            assert time.monotonic() < deadline, f"only {got} bytes arrived"
            lab.wait(0.02)
        lab.wait(0.3)  # the last ACKs and their frames
    finally:
        lab.stop()
        recorder.close()
    evs = [json.loads(line) for line in
           (tmp_path / "rec" / "events.jsonl").read_text().splitlines()[1:]]
    engine = Counter(e["seq"] for e in evs
                     if e["kind"] == "segment.retransmitted" and e["host"] == "h1")
    rows = tshark(tmp_path / "rec" / "capture-h1.pcapng", "-Y",
                  "ip.src == 10.0.0.1 && (tcp.analysis.retransmission"
                  " || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission"
                  " || tcp.analysis.out_of_order)", "-T", "fields", "-e", "tcp.seq_raw")
    flagged = Counter(int(seq) for (seq,) in rows)
    assert flagged == engine
    assert sum(engine.values()) > 0
    # data the link lost on its way from h1 (reported where an agent's link model lost
    # it; netem drops in silence) is in h1's file, and so is its retransmission
    lost = {e["segment"]["seq"] for e in evs if e["kind"] == "link.dropped"
            and e["direction"].startswith("h1>") and e["segment"] and e["segment"]["len"]}
    assert lost <= set(flagged)
