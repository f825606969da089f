"""A minimal pcapng writer: one section, one interface per link, Ethernet frames.

The file is a Section Header Block, then Interface Description Blocks and
Enhanced Packet Blocks in the order they are added (an interface may be added
at any time before its first packet, which pcapng allows). Every block is
``type, total length, body, total length`` with the body padded to 32 bits, and
everything is written little-endian; the byte-order magic in the section header
tells readers so (format: draft-ietf-opsawg-pcapng).

Timestamps: every interface declares ``if_tsresol = 9``, so a timestamp is an
integer count of nanoseconds since the Unix epoch. A frame at run time ``t``
seconds is stamped ``epoch_ns + round(t * 1e9)``. The default ``epoch_ns = 0``
makes the run start at 1970-01-01 00:00:00 UTC, so tshark's ``frame.time_epoch``
reads directly as the run's clock and two runs with the same seed give
byte-identical files; a real-time run can pass its wall-clock start instead.

Direction: a frame written with ``inbound=True`` or ``False`` carries an
``epb_flags`` option saying it was received or sent by the capturing interface
(a host's own capture knows; a link's does not, so it writes no option).
Wireshark shows it as ``frame.packet_flags_direction`` (1 inbound, 2 outbound).
"""

from __future__ import annotations

import os
import struct
from types import TracebackType
from typing import BinaryIO

# Block types.
_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D

# Option codes: the end marker, then per-block codes (SHB, IDB).
_OPT_ENDOFOPT = 0
_SHB_USERAPPL = 4
_IF_NAME = 2
_IF_TSRESOL = 9
_EPB_FLAGS = 2
_FLAGS_INBOUND = 1   # epb_flags bits 0-1: the packet's direction
_FLAGS_OUTBOUND = 2

LINKTYPE_ETHERNET = 1
# Largest frame kept whole; tcpdump and Wireshark use the same limit.
SNAPLEN = 262144

_BLOCK_HEAD = struct.Struct("<II")
_TRAILER = struct.Struct("<I")
_SHB_BODY = struct.Struct("<IHHq")
_IDB_BODY = struct.Struct("<HHI")
_EPB_HEAD = struct.Struct("<IIIIIII")  # type, length, iface, ts hi, ts lo, caplen, len
_OPT_HEAD = struct.Struct("<HH")
_U32 = struct.Struct("<I")


def _pad(n: int) -> int:
    return -n & 3


def _option(code: int, value: bytes) -> bytes:
    return _OPT_HEAD.pack(code, len(value)) + value + b"\0" * _pad(len(value))


def _options(*opts: bytes) -> bytes:
    return b"".join(opts) + _OPT_HEAD.pack(_OPT_ENDOFOPT, 0)


# The options an EPB carries for each ``inbound`` value (built once: one per frame).
_DIRECTION_OPTIONS: dict[bool | None, bytes] = {
    None: b"",
    True: _options(_option(_EPB_FLAGS, _U32.pack(_FLAGS_INBOUND))),
    False: _options(_option(_EPB_FLAGS, _U32.pack(_FLAGS_OUTBOUND))),
}


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return _BLOCK_HEAD.pack(block_type, total) + body + _TRAILER.pack(total)


class PcapngWriter:
    """Writes frames to a pcapng file; usable as a context manager."""

    def __init__(self, path_or_file: str | os.PathLike[str] | BinaryIO, epoch_ns: int = 0) -> None:
        if isinstance(path_or_file, str | os.PathLike):
            self._file: BinaryIO = open(path_or_file, "wb")  # noqa: SIM115 - closed in close()
            self._owns_file = True
        else:
            self._file = path_or_file
            self._owns_file = False
        self._epoch_ns = epoch_ns
        self._interfaces: list[str] = []
        self._closed = False
        body = _SHB_BODY.pack(_BYTE_ORDER_MAGIC, 1, 0, -1)  # -1: section length not given
        body += _options(_option(_SHB_USERAPPL, b"tcplab"))
        self._file.write(_block(_SHB, body))

    def add_interface(self, name: str) -> int:
        """Declare an Ethernet interface named ``name``; returns its id for :meth:`write`."""
        self._check_open()
        body = _IDB_BODY.pack(LINKTYPE_ETHERNET, 0, SNAPLEN)
        body += _options(_option(_IF_NAME, name.encode()), _option(_IF_TSRESOL, bytes([9])))
        self._file.write(_block(_IDB, body))
        self._interfaces.append(name)
        return len(self._interfaces) - 1

    def write(self, iface_id: int, t: float, frame: bytes, inbound: bool | None = None
              ) -> None:
        """Record ``frame`` seen on interface ``iface_id`` at run time ``t`` seconds;
        ``inbound`` (None: unknown) says whether that interface received or sent it."""
        self._check_open()
        if not 0 <= iface_id < len(self._interfaces):
            raise ValueError(f"pcapng interface {iface_id} was never added")
        ts = self._epoch_ns + round(t * 1e9)
        if ts < 0:
            raise ValueError(f"time {t} is before the capture epoch")
        caplen = min(len(frame), SNAPLEN)
        padding = _pad(caplen)
        opts = _DIRECTION_OPTIONS[inbound]
        total = _EPB_HEAD.size + caplen + padding + len(opts) + _TRAILER.size
        self._file.write(
            b"".join(
                (
                    _EPB_HEAD.pack(
                        _EPB, total, iface_id, ts >> 32, ts & 0xFFFFFFFF, caplen, len(frame)
                    ),
                    frame[:caplen],
                    b"\0" * padding,
                    opts,
                    _TRAILER.pack(total),
                )
            )
        )

    def close(self) -> None:
        """Flush, and close the file if this writer opened it; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._file.flush()
        if self._owns_file:
            self._file.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the pcapng writer is closed")

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
