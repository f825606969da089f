"""``capture-<host>.pcapng``: each host's own view, which Wireshark's TCP analysis reads
without false flags (the link capture, which holds a frame once per link, does not).

Recordings come from the real CLI on the simulated network under virtual time;
tshark must be installed (its absence fails: without it nothing here is proven).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tcplab.cli import main
from tcplab.lab.record import HOST_PCAP_FILE, Recorder

ROOT = Path(__file__).resolve().parents[2]
LOSSY = ROOT / "tests" / "scenarios" / "transfer_loss.scn"
IPS = {"h1": "10.0.0.1", "h2": "10.0.0.2"}
# Every way Wireshark's TCP analysis can call a segment a copy of an earlier one.  It
# calls a copy sent within about one round trip of the original "out-of-order" (a guess
# for captures taken mid-path); in a host's own capture of what it sent, that is a
# retransmission too.
RETRANSMITTED = ("tcp.analysis.retransmission || tcp.analysis.fast_retransmission"
                 " || tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order")
CLEAN = """\
listen h2:5001
connect h1 h2:5001 as c1
wait 1
expect c1 ESTABLISHED
send c1 --bytes 20000
close c1
wait 5
expect-received c1 20000
close c1'
wait 70
expect c1 CLOSED
"""


def record(out: Path, scenario: Path, *args: str) -> Path:
    code = main(["run", *args, "--backend", "sim", "--headless", "--virtual-time",
                 "--scenario", str(scenario), "--record", str(out)])
    assert code == 0, f"{scenario.name} failed"
    return out


def events(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


def tshark(capture: Path, *args: str) -> list[list[str]]:
    """tshark's rows (tab-separated fields) for ``capture``."""
    assert shutil.which("tshark"), "tshark is required: apt-get install tshark"
    proc = subprocess.run(["tshark", "-r", str(capture), *args], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [line.split("\t") for line in proc.stdout.splitlines()]


def flagged(capture: Path, display_filter: str = "tcp.analysis.flags") -> int:
    return len(tshark(capture, "-Y", display_filter))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 kB over clean links, then both sides close (h1 - s1 - h2)."""
    base = tmp_path_factory.mktemp("clean")
    scenario = base / "clean.scn"
    scenario.write_text(CLEAN, encoding="utf-8")
    return record(base / "rec", scenario)


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 MB over 10% loss each way on h1's link (tests/scenarios/transfer_loss.scn)."""
    return record(tmp_path_factory.mktemp("lossy") / "rec", LOSSY)


def host_file(directory: Path, host: str) -> Path:
    return directory / HOST_PCAP_FILE.format(host=host)


def tcp_frames(capture: Path) -> Counter[tuple[int, str, int, int, int, str]]:
    """Every TCP frame as (t in ns, direction, seq, ack, len, flags)."""
    rows = tshark(capture, "-Y", "tcp", "-T", "fields", "-e", "frame.time_epoch",
                  "-e", "frame.packet_flags_direction", "-e", "tcp.seq_raw",
                  "-e", "tcp.ack_raw", "-e", "tcp.len", "-e", "tcp.flags")
    out: Counter[tuple[int, str, int, int, int, str]] = Counter()
    for stamp, direction, seq, ack, length, flags in rows:
        way = {1: "received", 2: "sent"}[int(direction, 16)]
        # ACK is the only flag Wireshark sets on every segment but the first SYN
        out[(int(Decimal(stamp) * 10**9), way, int(seq), int(ack or 0), int(length),
             f"{int(flags, 16) & 0x3F:#04x}")] += 1
    return out


def segment_events(directory: Path, host: str
                   ) -> Counter[tuple[int, str, int, int, int, str]]:
    """The same tuple for each segment.sent / segment.received of ``host``."""
    names = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, ".": 0x10, "U": 0x20}
    out: Counter[tuple[int, str, int, int, int, str]] = Counter()
    for e in events(directory):
        if e["host"] == host and e["kind"] in ("segment.sent", "segment.received"):
            seg = e["segment"]
            bits = sum(names[c] for c in seg["flags"])
            out[(round(e["t"] * 1e9), e["kind"].split(".")[1], seg["seq"],
                 seg["ack"] if bits & 0x10 else 0, seg["len"], f"{bits:#04x}")] += 1
    return out


# ------------------------------------------------------------------------- a clean run

def test_the_link_capture_misreads_a_clean_run(clean: Path) -> None:
    """The problem the host files solve: each segment crosses two links, so it is twice
    in capture.pcapng, and Wireshark calls the second copies retransmissions."""
    capture = clean / "capture.pcapng"
    assert flagged(capture, RETRANSMITTED + " || tcp.analysis.duplicate_ack") > 10
    assert not any(e["kind"] in ("segment.retransmitted", "link.dropped")
                   for e in events(clean))


@pytest.mark.parametrize("host", ["h1", "h2"])
def test_a_host_file_of_a_clean_run_has_no_analysis_flags(clean: Path, host: str) -> None:
    capture = host_file(clean, host)
    assert flagged(capture) == 0
    assert flagged(capture, "_ws.expert.severity >= warning") == 0
    # every segment the host sent and received is there, once, at its event's time
    frames = tcp_frames(capture)
    assert frames == segment_events(clean, host)
    # which is the whole connection: the handshake, the 20 kB, both FINs
    way = "sent" if host == "h1" else "received"
    assert sum(length for (_, d, _, _, length, _) in frames if d == way) == 20000
    flags = Counter(int(f, 16) for (*_, f) in frames)
    assert flags[0x02] == flags[0x12] == 1   # SYN, SYN-ACK
    assert sum(n for f, n in flags.items() if f & 0x01) == 2   # a FIN each way
    names = {row[0] for row in tshark(capture, "-T", "fields", "-e", "frame.interface_name")}
    assert names == {f"{host}-eth0"}


def test_sent_and_received_are_marked(clean: Path) -> None:
    rows = tshark(host_file(clean, "h1"), "-Y", "ip", "-T", "fields",
                  "-e", "ip.src", "-e", "frame.packet_flags_direction")
    # outbound (2) exactly when h1 is the source, inbound (1) otherwise
    assert {(src, int(d, 16)) for src, d in rows} == {(IPS["h1"], 2), (IPS["h2"], 1)}


def test_host_files_are_deterministic(tmp_path: Path, clean: Path) -> None:
    scenario = tmp_path / "clean.scn"
    scenario.write_text(CLEAN, encoding="utf-8")
    again = record(tmp_path / "again", scenario)
    for host in ("h1", "h2"):
        assert host_file(again, host).read_bytes() == host_file(clean, host).read_bytes()


# ------------------------------------------------------------------------- a lossy run

def test_the_senders_file_flags_exactly_its_retransmissions(lossy: Path) -> None:
    """On h1's own capture every copy Wireshark flags is one h1 really sent again."""
    evs = events(lossy)
    engine = Counter(e["seq"] for e in evs
                     if e["kind"] == "segment.retransmitted" and e["host"] == "h1")
    assert Counter(e["why"] for e in evs if e["kind"] == "segment.retransmitted"
                   and e["host"] == "h1").keys() >= {"rto", "sack"}
    capture = host_file(lossy, "h1")
    rows = tshark(capture, "-Y", f"ip.src == {IPS['h1']} && ({RETRANSMITTED})",
                  "-T", "fields", "-e", "tcp.seq_raw")
    assert Counter(int(seq) for (seq,) in rows) == engine
    assert sum(engine.values()) > 20
    # and nothing else h1 sent carries any analysis flag, but for a duplicate ACK where
    # a copy of h2's FIN came to TIME-WAIT and h1 acknowledged it again (RFC 9293
    # §3.10.7.4): the copies that run makes depend on the link's draws
    again = sum(1 for e in evs if e["kind"] == "state.changed" and e["host"] == "h1"
                and "retransmitted FIN" in e["cause"])
    h1 = f"ip.src == {IPS['h1']}"
    assert flagged(capture, f"{h1} && tcp.analysis.flags && !tcp.analysis.duplicate_ack") \
        == len(rows)
    assert flagged(capture, f"{h1} && tcp.analysis.duplicate_ack") == again


def test_the_senders_file_shows_what_arrived(lossy: Path) -> None:
    """Received means after the link's loss: the file holds exactly the segments h1's
    stack received, so its duplicate ACKs are the receiver's real ones."""
    capture = host_file(lossy, "h1")
    assert tcp_frames(capture) == segment_events(lossy, "h1")
    lost_toward_h1 = [e for e in events(lossy) if e["kind"] == "link.dropped"
                      and e["direction"] == "s1>h1"]
    assert len(lost_toward_h1) > 20
    real_dup_acks = 0
    last: tuple[int, int] | None = None
    for e in events(lossy):
        if e["kind"] == "segment.received" and e["host"] == "h1":
            seg = e["segment"]
            key = (seg["ack"], seg["window"])
            if seg["len"] == 0 and not set(seg["flags"]) & set("SFR") and key == last:
                real_dup_acks += 1
            last = key
    assert real_dup_acks > 100
    assert flagged(capture, f"ip.src == {IPS['h2']} && tcp.analysis.duplicate_ack") \
        == real_dup_acks


def test_the_link_capture_of_the_same_run_overcounts(lossy: Path) -> None:
    """Read whole, capture.pcapng flags far more than h1 retransmitted (docs)."""
    retransmissions = sum(1 for e in events(lossy) if e["kind"] == "segment.retransmitted")
    link_flags = flagged(lossy / "capture.pcapng", f"ip.src == {IPS['h1']} && ({RETRANSMITTED})")
    assert link_flags > 2 * retransmissions


# ------------------------------------------------------------------------- the recorder

def test_every_stack_host_has_a_file_from_the_start(tmp_path: Path) -> None:
    header = {"kind": "header", "hosts": [{"name": "h1", "ip": "10.0.0.1", "kernel": False},
                                          {"name": "k", "ip": "10.0.0.9", "kernel": True}]}
    rec = Recorder(tmp_path, header)
    rec.host_frame("k", "k-eth0", "received", b"\xff" * 60, 0.5)
    rec.host_frame("k", "k-eth1", "sent", b"\x01" * 60, 0.75)
    rec.close()
    # h1 never sent a frame: an empty capture, readable; the kernel host's file came
    # with its first frame, one interface per host interface
    assert tshark(host_file(tmp_path, "h1")) == []
    rows = tshark(host_file(tmp_path, "k"), "-T", "fields", "-e", "frame.interface_name",
                  "-e", "frame.packet_flags_direction", "-e", "frame.time_epoch")
    assert [(n, int(d, 16), float(t)) for n, d, t in rows] == [("k-eth0", 1, 0.5),
                                                               ("k-eth1", 2, 0.75)]


def test_a_dumbbell_host_that_sends_nothing_still_has_its_file(tmp_path: Path) -> None:
    scenario = tmp_path / "one.scn"
    scenario.write_text("listen h3:5001\nconnect h1 h3:5001 as a\nwait 0.5\n"
                        "send a --bytes 10000\nwait 2\nexpect-received a 10000\n")
    rec = record(tmp_path / "rec", scenario, "dumbbell")
    assert sorted(p.name for p in rec.glob("capture-*.pcapng")) == [
        "capture-h1.pcapng", "capture-h2.pcapng", "capture-h3.pcapng", "capture-h4.pcapng"]
    assert tshark(host_file(rec, "h2"), "-Y", "tcp") == []
    for host in ("h1", "h3"):
        assert flagged(host_file(rec, host)) == 0
        assert len(tshark(host_file(rec, host), "-Y", "tcp.len > 0")) >= 7

