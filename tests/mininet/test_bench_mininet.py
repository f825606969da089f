"""The Mininet benchmarks for real, once, with small transfers (needs root and Mininet).

``tcplab bench --quick`` leaves them out, so this is where they run in the test suite:
every figure exists and is positive, the stack moved its bytes through the lab's event
stream, and no lab object is left behind (the benchmark's switches are named
``b<4 hex digits>``; its runtime directories live under the backend's runtime base).

The lab's hand-written decoders of the per-segment events (the figure's hot path,
:mod:`tcplab.backends.mininet.wire`) must give what the checked generic codec gives:
the same object for what agents send, and for anything else no answer, so that the
generic path raises its own error.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tcplab.backends.mininet import bench as M
from tcplab.backends.mininet import wire as W
from tcplab.backends.mininet.clean import runtime_base
from tcplab.backends.mininet.protocol import ProtocolError, decode_line, event_line
from tcplab.bench import MiB, mininet_figures
from tcplab.lab.events import LabEvent
from tcplab.lab.topology import load_topology
from tcplab.stack.events import (
    Delivered,
    SegmentReceived,
    SegmentSent,
    TimerArmed,
    TimerCancelled,
    TimerFired,
)
from tcplab.tcp.segment import ACK, SYN, Mss, Nop, Sack, Segment, Timestamps

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


A, B = ("10.0.0.1", 40000), ("10.0.0.2", 80)
DATA = Segment(40000, 80, 4294967295, 7, ACK, 65535, (Nop(), Nop(), Timestamps(3, 2**32 - 1)),
               bytes(range(256)) * 5)
HOT: list[LabEvent] = [
    SegmentSent(0.25, "h1", 1, A, B, DATA, "h1-eth0"),
    SegmentReceived(0.5, "h2", None, A, B, Segment(40000, 80, 0, 0, SYN, 512), "h2-eth0"),
    SegmentSent(0.75, "h1", 1, A, B, Segment(1, 2, 3, 4, ACK, 5, (Mss(1460), Nop(),
                Sack(((1, 2),))), b"x"), "h1-eth0"),
    Delivered(1.0, "h2", 2, b"\x00\xffdata" * 9),
    Delivered(1.25, "h2", 2, b""),
    TimerArmed(1.5, "h1", 1, "rtx", 2.5),
    TimerCancelled(1.75, "h1", 1, "rtx"),
    TimerFired(2.0, "h1", 1, "delack", 2.0),
]


def checked(raw: dict[str, Any]) -> LabEvent:
    """What the generic, checking codec makes of ``raw``."""
    fields = {k: v for k, v in raw.items() if k != "kind"}
    event: LabEvent = W._EVENT_CODECS[raw["kind"]][1](fields)
    return event


@pytest.mark.parametrize("event", HOT, ids=lambda e: e.kind)
def test_fast_decoders_make_what_the_checked_codec_makes(event: LabEvent) -> None:
    raw = decode_line(event_line(event)[:-1])["event"]
    seen = event
    if isinstance(event, SegmentSent | SegmentReceived):
        seen = dataclasses.replace(event, segment=W.light_segment(event.segment))
    assert W._FAST_DECODERS[event.kind](raw) == seen  # the fast path is taken
    assert W.event_from_wire(raw) == seen == checked(raw)


def _mutations() -> list[tuple[int, str, Any]]:
    """(index into HOT, path into the raw event, value put there)."""
    return [(0, "t", 1), (0, "sid", True), (0, "src", ["10.0.0.1"]), (0, "dst", ["x", "80"]),
            (0, "segment.seq", -1), (0, "segment.flags", 4096), (0, "segment.window", 1.5),
            (0, "segment.head", "!!"), (0, "segment.head", "é"), (0, "segment.len", 15),
            (0, "segment.len", 70000), (0, "segment.len", True), (2, "segment.len", 0),
            (1, "segment.head", "AA=="), (0, "segment.payload", ""),
            (0, "segment.options", [["nop"], ["nop"], ["ts", 1]]),
            (0, "segment.options", [["mss", 70000]]), (0, "segment.extra", 1),
            (0, "ifname", None), (1, "host", 3), (3, "data", "a"), (3, "sid", None),
            (3, "t", 2), (5, "deadline", 3), (6, "deadline", 1.0), (7, "name", None),
            (5, "extra", 0)]


@pytest.mark.parametrize(("index", "where", "value"), _mutations())
def test_anything_else_takes_the_checked_path(index: int, where: str, value: Any) -> None:
    raw = decode_line(event_line(HOT[index])[:-1])["event"]
    target = raw
    *parents, key = where.split(".")
    for name in parents:
        target = target[name]
    target[key] = value
    assert W._FAST_DECODERS[raw["kind"]](raw) is None
    try:
        expected: LabEvent | str = checked(raw)
    except ProtocolError as exc:
        expected = str(exc)
    try:
        got: LabEvent | str = W.event_from_wire(raw)
    except ProtocolError as exc:
        got = str(exc)
    assert got == expected
