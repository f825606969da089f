"""The pcapng writer: parse the file back by hand, and have tshark read it."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tcplab.lab.pcapng import PcapngWriter

MAC1 = bytes.fromhex("000000000001")
MAC2 = bytes.fromhex("000000000002")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_frame(src_mac: bytes, dst_mac: bytes, payload: bytes, seq: int, flags: int = 0x18) -> bytes:
    """Ethernet/IPv4/TCP from 10.0.0.1:40000 to 10.0.0.2:80 with correct checksums."""
    src_ip, dst_ip = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, seq, 1, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def read_pcapng(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """Every block as (type, body, raw), checking lengths and trailers on the way."""
    blocks = []
    pos = 0
    while pos < len(data):
        btype, total = struct.unpack_from("<II", data, pos)
        assert total % 4 == 0 and total >= 12
        (trailer,) = struct.unpack_from("<I", data, pos + total - 4)
        assert trailer == total
        blocks.append((btype, data[pos + 8 : pos + total - 4], data[pos : pos + total]))
        pos += total
    assert pos == len(data)
    return blocks


def read_options(body: bytes) -> dict[int, bytes]:
    opts = {}
    pos = 0
    while pos < len(body):
        code, length = struct.unpack_from("<HH", body, pos)
        if code == 0:
            assert length == 0 and pos + 4 == len(body)
            break
        opts[code] = body[pos + 4 : pos + 4 + length]
        pos += 4 + length + (-length & 3)
    return opts


def test_round_trip_blocks_and_timestamps() -> None:
    buf = io.BytesIO()
    frames = [b"\xff" * 60, b"\x01" * 61, b"\x02" * 62, b"\x03" * 63]
    with PcapngWriter(buf) as w:
        a = w.add_interface("h1-s1")
        b = w.add_interface("s1-h2")
        w.write(a, 0.0, frames[0])
        w.write(b, 0.001, frames[1])
        w.write(a, 1.5, frames[2])
        w.write(b, 12345.000000001, frames[3])
    blocks = read_pcapng(buf.getvalue())
    assert [t for t, _, _ in blocks] == [0x0A0D0D0A, 1, 1, 6, 6, 6, 6]

    magic, major, minor, section_len = struct.unpack_from("<IHHq", blocks[0][1])
    assert (magic, major, minor, section_len) == (0x1A2B3C4D, 1, 0, -1)

    names = []
    for _, body, _ in blocks[1:3]:
        linktype, _, _snaplen = struct.unpack_from("<HHI", body)
        assert linktype == 1
        opts = read_options(body[8:])
        assert opts[9] == bytes([9])
        names.append(opts[2].decode())
    assert names == ["h1-s1", "s1-h2"]

    got = []
    for _, body, raw in blocks[3:]:
        iface, hi, lo, caplen, origlen = struct.unpack_from("<IIIII", body)
        assert caplen == origlen
        assert len(raw) % 4 == 0
        got.append((iface, (hi << 32) | lo, body[20 : 20 + caplen]))
    assert got == [
        (0, 0, frames[0]),
        (1, 1_000_000, frames[1]),
        (0, 1_500_000_000, frames[2]),
        (1, 12_345_000_000_001, frames[3]),
    ]


def test_epoch_offsets_timestamps() -> None:
    buf = io.BytesIO()
    with PcapngWriter(buf, epoch_ns=1_700_000_000 * 10**9) as w:
        w.write(w.add_interface("l"), 0.25, b"\0" * 60)
    _, body, _ = read_pcapng(buf.getvalue())[-1]
    _, hi, lo = struct.unpack_from("<III", body)
    assert (hi << 32) | lo == 1_700_000_000_250_000_000


def test_writer_owns_path_and_is_idempotent_on_close(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    w = PcapngWriter(path)
    w.write(w.add_interface("h1-h2"), 0.5, b"\x05" * 70)
    w.close()
    w.close()
    assert [t for t, _, _ in read_pcapng(path.read_bytes())] == [0x0A0D0D0A, 1, 6]


def test_passed_file_is_left_open() -> None:
    buf = io.BytesIO()
    PcapngWriter(buf).close()
    assert not buf.closed


def test_misuse_is_a_clear_error() -> None:
    w = PcapngWriter(io.BytesIO())
    with pytest.raises(ValueError, match="never added"):
        w.write(0, 0.0, b"x")
    iface = w.add_interface("l")
    with pytest.raises(ValueError, match="before the capture epoch"):
        w.write(iface, -1.0, b"x")
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(iface, 0.0, b"x")


def _tshark(*args: str) -> str:
    # Not a skip: the project's CI installs tshark, and without it this check is void.
    assert shutil.which("tshark"), "tshark is required: apt-get install tshark"
    done = subprocess.run(
        ["tshark", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tshark_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.pcapng"
    sent = []
    with PcapngWriter(path) as w:
        links = [w.add_interface("h1-s1"), w.add_interface("s1-h2")]
        for i in range(6):
            src, dst = (MAC1, MAC2) if i % 2 == 0 else (MAC2, MAC1)
            frame = tcp_frame(src, dst, b"hello %d" % i + b"x" * i, seq=1000 + 100 * i)
            w.write(links[i % 2], 0.1 * i, frame)
            sent.append((i + 1, src, i % 2, 0.1 * i))

    out = _tshark(
        "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-T", "fields",
        "-e", "frame.number", "-e", "eth.src", "-e", "frame.interface_id",
        "-e", "frame.interface_name", "-e", "frame.time_epoch", "-e", "tcp.checksum.status",
    )  # fmt: skip
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == len(sent)
    for row, (number, src, iface, t) in zip(rows, sent, strict=True):
        assert int(row[0]) == number
        assert row[1] == ":".join(f"{b:02x}" for b in src)
        assert int(row[2]) == iface
        assert row[3] == ["h1-s1", "s1-h2"][iface]
        assert float(row[4]) == pytest.approx(t, abs=1e-9)
        assert row[5] == "1"  # tshark's "checksum good"
    malformed = _tshark(
        "-r", str(path), "-o", "tcp.check_checksum:TRUE",
        "-Y", "_ws.malformed || _ws.expert.severity >= error",
    )  # fmt: skip
    assert malformed.strip() == ""


def test_direction_is_an_epb_flags_option() -> None:
    buf = io.BytesIO()
    with PcapngWriter(buf) as w:
        iface = w.add_interface("h1-eth0")
        for inbound in (True, False, None):
            w.write(iface, 0.0, b"\x07" * 61, inbound=inbound)
    options = []
    for _, body, _ in read_pcapng(buf.getvalue())[2:]:
        (caplen,) = struct.unpack_from("<I", body, 12)
        assert body[20:20 + caplen] == b"\x07" * 61
        rest = body[20 + caplen + (-caplen & 3):]
        options.append(read_options(rest) if rest else None)
    # epb_flags (2): bits 0-1 are the direction, 1 inbound and 2 outbound; no option when
    # the direction is not known (a link's capture)
    assert options == [{2: struct.pack("<I", 1)}, {2: struct.pack("<I", 2)}, None]
