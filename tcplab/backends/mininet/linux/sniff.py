"""What a kernel host's interface sends and receives, read from an AF_PACKET socket.

A stack host's agent owns its interface's frames (:mod:`..packetio`); a kernel host's
belong to Linux, and its agent only watches them: a ``SOCK_RAW`` packet socket bound to
the interface with ``ETH_P_ALL`` gets a copy of every frame received and, marked
``PACKET_OUTGOING``, of every frame sent.  Nothing is ever sent on it.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Literal

ETH_P_ALL = 0x0003
MAX_FRAME = 65536
BUFSIZE = 4 << 20
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's number, before Python 3.12
_TIMESPEC = struct.Struct("@ll")
Direction = Literal["out", "in"]


class Sniffer:
    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFSIZE)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.bind((ifname, ETH_P_ALL))  # protocol 0 until bound: no other interface's
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv_frames(self, limit: int = 256) -> list[tuple[Direction, bytes, float | None]]:
        """Up to ``limit`` frames seen since the last call, each with its direction and
        the kernel's time for it on ``time.monotonic()``'s clock (None if it gave none)."""
        out: list[tuple[Direction, bytes, float | None]] = []
        # the kernel stamps with the wall clock: moved onto the monotonic one
        offset = time.time() - time.monotonic()
        for _ in range(limit):
            try:
                frame, ancdata, _flags, addr = self._sock.recvmsg(
                    MAX_FRAME, socket.CMSG_SPACE(_TIMESPEC.size))
            except (BlockingIOError, InterruptedError):
                break
            stamp = None
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and \
                        len(data) >= _TIMESPEC.size:
                    sec, nsec = _TIMESPEC.unpack_from(data)
                    stamp = sec + nsec / 1e9 - offset
            out.append(("out" if addr[2] == socket.PACKET_OUTGOING else "in", frame, stamp))
        return out

    def close(self) -> None:
        self._sock.close()
