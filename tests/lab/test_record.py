"""``--record``: deterministic, documented JSON Lines and a pcapng that tshark agrees with.

The recordings come from the real CLI (``tcplab run --record``) running the scenario
files of tests/scenarios/.  tshark must be installed (CI installs it): without it the
capture checks would prove nothing, so its absence fails rather than skips.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tcplab.cli import main
from tcplab.lab import codec
from tcplab.lab.events import EVENT_KINDS, SCHEMA_VERSION
from tcplab.tcp.segment import Segment

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "scenarios"
DOC = ROOT / "docs" / "recording.md"
LOSSY = SCENARIOS / "transfer_loss.scn"


def record(out: Path, scenario: Path, *args: str) -> Path:
    """Run a scenario headless under virtual time, recording into ``out``."""
    code = main(["run", *args, "--backend", "sim", "--headless", "--virtual-time",
                 "--scenario", str(scenario), "--record", str(out)])
    assert code == 0, f"{scenario.name} failed"
    return out


def events(directory: Path) -> list[dict[str, Any]]:
    text = (directory / "events.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def tshark(*args: str) -> str:
    assert shutil.which("tshark"), "tshark is required: apt-get install tshark"
    proc = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def split_by_link(capture: Path, link: str) -> Path:
    """The frames of one link in a file of their own (see docs/recording.md)."""
    out = capture.with_name(f"{link}.pcapng")
    tshark("-r", str(capture), "-Y", f'frame.interface_name == "{link}"', "-w", str(out))
    return out


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every scenario of tests/scenarios/, recorded once, by file name."""
    base = tmp_path_factory.mktemp("rec")
    return {p.name: record(base / p.stem, p) for p in sorted(SCENARIOS.glob("*.scn"))}


@pytest.fixture(scope="module")
def lossy(recordings: dict[str, Path]) -> Path:
    """1 MB over 10% loss (tests/scenarios/transfer_loss.scn)."""
    return recordings[LOSSY.name]


# ------------------------------------------------------------------------- determinism

def test_same_seed_twice_is_byte_identical(tmp_path: Path, lossy: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    again = record(tmp_path / "again", LOSSY)
    first_out = capsys.readouterr().out
    record(tmp_path / "third", LOSSY)
    assert capsys.readouterr().out == first_out
    for name in ("events.jsonl", "capture.pcapng"):
        assert (again / name).read_bytes() == (lossy / name).read_bytes(), name
        assert (again / name).read_bytes() == (tmp_path / "third" / name).read_bytes(), name


def _loss_pattern(directory: Path) -> list[tuple[str, int]]:
    """Which data segments the network lost, by direction and offset into the stream --
    independent of the seed-dependent ISN and ephemeral port."""
    evs = events(directory)[1:]
    isn = next(e["segment"]["seq"] for e in evs
               if e["kind"] == "segment.sent" and e["segment"]["flags"] == "S")
    return [(e["direction"], (e["segment"]["seq"] - isn) % 2**32) for e in evs
            if e["kind"] == "link.dropped" and e["segment"] and e["segment"]["len"]]


def test_a_different_seed_loses_different_segments(tmp_path: Path, lossy: Path) -> None:
    other = record(tmp_path / "seed2", LOSSY, "--seed", "2")
    for name in ("events.jsonl", "capture.pcapng"):
        assert (other / name).read_bytes() != (lossy / name).read_bytes()
    assert _loss_pattern(other) != _loss_pattern(lossy)
    assert events(other)[0]["seed"] == 2 and events(lossy)[0]["seed"] == 1


# ------------------------------------------------------------------------- events.jsonl

def test_header_and_every_line_follow_the_schema(lossy: Path) -> None:
    lines = (lossy / "events.jsonl").read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    text = (Path(__file__).parents[2] / "topologies" / "pair.py").read_text(encoding="utf-8")
    assert header == {"kind": "header", "schema": SCHEMA_VERSION, "tcplab": header["tcplab"],
                      "topology": "pair", "topology_file": "pair.py", "topology_text": text,
                      "backend": "sim", "mechanism": "simulated links (in-process)",
                      "seed": 1, "clock": "virtual", "msl": None, "keepalive": None,
                      "notice": None,
                      "hosts": [{"name": "h1", "ip": "10.0.0.1", "kernel": False},
                                {"name": "h2", "ip": "10.0.0.2", "kernel": False}]}
    assert SCHEMA_VERSION == 2
    last = 0.0
    for line in lines[1:]:
        event = json.loads(line)
        assert codec.dumps(event) == line.encode() + b"\n"
        assert list(event) == ["kind", "t", "host", *codec.FIELDS[event["kind"]]]
        assert event["kind"] in EVENT_KINDS
        assert event["t"] >= last
        last = event["t"]


def _documented_sections() -> dict[str, str]:
    """Each ``#### `kind` `` section of docs/recording.md, by kind (a heading may name
    several kinds)."""
    sections: dict[str, str] = {}
    parts = re.split(r"^#### (.+)$", DOC.read_text(encoding="utf-8"), flags=re.M)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        for kind in re.findall(r"`([a-z._]+)`", heading):
            sections[kind] = body.split("\n### ")[0]
    return sections


def test_docs_describe_every_kind_and_field(recordings: dict[str, Path]) -> None:
    sections = _documented_sections()
    assert set(EVENT_KINDS) == set(codec.KINDS) <= set(sections)
    # the keys each kind's record has (the codec's, derived ones such as
    # data.delivered's len/hex/ascii included), and what recordings show
    expected = {kind: set(keys) for kind, keys in codec.FIELDS.items()}
    for directory in recordings.values():
        for event in events(directory)[1:]:
            expected[event["kind"]] |= set(event) - {"kind", "t", "host"}
    for kind, keys in expected.items():
        for key in keys:
            assert f"`{key}`" in sections[kind], f"{kind}: field {key} is not documented"
    segment_doc = DOC.read_text(encoding="utf-8").split("### The segment object")[1]
    for key in codec.segment_record(Segment(1, 2, 3, 4, 0x10, 5)):
        assert f"| `{key}`" in segment_doc, f"segment field {key} is not documented"


# ------------------------------------------------------------------------- the capture

def test_checksums_are_valid(lossy: Path) -> None:
    checked = tshark("-r", str(lossy / "capture.pcapng"), "-o", "tcp.check_checksum:TRUE",
                     "-o", "ip.check_checksum:TRUE", "-T", "fields",
                     "-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-Y", "tcp")
    rows = Counter(checked.splitlines())
    assert rows == {"1\t1": rows["1\t1"]} and rows["1\t1"] > 2000  # 1 = "good"


@pytest.mark.parametrize("name", [LOSSY.name, "half_close.scn", "lost_fin.scn"])
def test_no_malformed_packets(recordings: dict[str, Path], name: str) -> None:
    capture = recordings[name] / "capture.pcapng"
    # One link at a time: whole-file TCP analysis sees each segment once per link it
    # crossed and misreads the copies (docs/recording.md, "Analysing it").
    for link in ("h1-s1", "h2-s1"):
        assert tshark("-r", str(split_by_link(capture, link)), "-Y", "_ws.malformed") == ""
    if name == LOSSY.name:  # no stream-reassembling dissector on port 5001: fine whole too
        assert tshark("-r", str(capture), "-Y", "_ws.malformed") == ""


def _idb_names(capture: Path) -> list[str]:
    """The if_name of every Interface Description Block, read straight from the file."""
    data = capture.read_bytes()
    names, pos = [], 0
    while pos < len(data):
        block_type, length = struct.unpack_from("<II", data, pos)
        if block_type == 1:  # IDB: linktype, reserved, snaplen, then options
            opt = pos + 16
            while True:
                code, size = struct.unpack_from("<HH", data, opt)
                if code == 0:
                    break
                if code == 2:  # if_name
                    names.append(data[opt + 4: opt + 4 + size].decode())
                opt += 4 + size + (-size & 3)
        pos += length
    return names


def test_one_interface_per_link(tmp_path: Path) -> None:
    scenario = tmp_path / "dumbbell.scn"
    scenario.write_text("listen h3:5001\nlisten h4:5001\nconnect h1 h3:5001 as a\n"
                        "connect h2 h4:5001 as b\nwait 0.5\nsend a --bytes 50000\n"
                        "send b --bytes 50000\nwait 5\nexpect-received a 50000\n"
                        "expect-received b 50000\n")
    capture = record(tmp_path / "rec", scenario, "dumbbell") / "capture.pcapng"
    links = ["h1-s1", "h2-s1", "h3-s2", "h4-s2", "s1-s2"]
    assert sorted(_idb_names(capture)) == links
    seen = tshark("-r", str(capture), "-T", "fields", "-e", "frame.interface_name")
    assert sorted(set(seen.split())) == links


def test_frames_are_stamped_with_the_event_times(lossy: Path) -> None:
    # Each segment.sent of h1 is a frame entering h1-s1 at the same instant, and
    # the other way round: the capture and the stream tell the same story.
    sent = Counter((round(e["t"] * 1e9), e["segment"]["seq"], e["segment"]["len"])
                   for e in events(lossy)[1:]
                   if e["kind"] == "segment.sent" and e["host"] == "h1")
    h1 = split_by_link(lossy / "capture.pcapng", "h1-s1")
    out = tshark("-r", str(h1), "-Y", "ip.src == 10.0.0.1 && tcp", "-T", "fields",
                 "-e", "frame.time_epoch", "-e", "tcp.seq_raw", "-e", "tcp.len")
    frames: Counter[tuple[int, int, int]] = Counter()
    for row in out.splitlines():
        stamp, seq, length = row.split("\t")
        frames[(int(Decimal(stamp) * 10**9), int(seq), int(length))] += 1
    assert frames == sent


def test_tshark_retransmissions_are_the_engines(lossy: Path) -> None:
    """tshark's TCP analysis on the sending link agrees with the event stream.

    On h1-s1 every transmission of h1 is captured (likewise h2's on h2-s1) -- a link
    records a frame before it may lose it -- so each retransmission follows an earlier
    copy of its sequence space there, and tshark flags it (as a retransmission, a fast
    retransmission or a spurious one).  The two must therefore match one for one by sequence number.

    "The ones we dropped": every data segment the network lost is among them.  The
    converse holds for SACK/fast recovery, which retransmits only what is missing;
    a timeout may also resend what arrived but was not yet acknowledged (an ACK was
    lost too, or the data sat out of order at the receiver), which is inherent to
    RTO recovery, so those are only required to match tshark.
    """
    evs = events(lossy)[1:]
    engine: dict[str, Counter[int]] = {"h1": Counter(), "h2": Counter()}
    for e in evs:
        if e["kind"] == "segment.retransmitted":
            engine[e["host"]][e["seq"]] += 1
    flagged: dict[str, Counter[int]] = {}
    for host, ip in (("h1", "10.0.0.1"), ("h2", "10.0.0.2")):
        link = split_by_link(lossy / "capture.pcapng", f"{host}-s1")
        # tshark calls a copy that follows the original within about one RTT
        # "out-of-order" rather than a retransmission (a heuristic for captures taken
        # mid-path); captured at the sender, it can only be a retransmission
        out = tshark("-r", str(link), "-Y", f"ip.src == {ip} && (tcp.analysis.retransmission"
                     " || tcp.analysis.fast_retransmission"
                     " || tcp.analysis.spurious_retransmission"
                     " || tcp.analysis.out_of_order)",
                     "-T", "fields", "-e", "tcp.seq_raw")
        flagged[host] = Counter(int(seq) for seq in out.split())
    assert flagged == engine
    assert sum(engine["h1"].values()) > 20
    lost = {e["segment"]["seq"] for e in evs if e["kind"] == "link.dropped"
            and e["direction"] == "h1>s1" and e["segment"]["len"]}
    assert lost and lost <= set(flagged["h1"])
    recovered = {e["seq"] for e in evs
                 if e["kind"] == "segment.retransmitted" and e["why"] in ("fast", "sack")}
    assert recovered <= lost
