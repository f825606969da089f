"""What a kernel host's interface sends and receives, read from an AF_PACKET socket.

A stack host's agent owns its interface's frames (:mod:`..packetio`); a kernel host's
belong to Linux, and its agent only watches them: a ``SOCK_RAW`` packet socket bound to
the interface with ``ETH_P_ALL`` gets a copy of every frame received and, marked
``PACKET_OUTGOING``, of every frame sent.  Nothing is ever sent on it.
"""

from __future__ import annotations

import socket
from typing import Literal

ETH_P_ALL = 0x0003
MAX_FRAME = 65536
BUFSIZE = 4 << 20
Direction = Literal["out", "in"]


class Sniffer:
    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFSIZE)
            sock.bind((ifname, ETH_P_ALL))  # protocol 0 until bound: no other interface's
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv_frames(self, limit: int = 256) -> list[tuple[Direction, bytes]]:
        """Up to ``limit`` frames seen since the last call, each with its direction."""
        out: list[tuple[Direction, bytes]] = []
        for _ in range(limit):
            try:
                frame, addr = self._sock.recvfrom(MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                break
            out.append(("out" if addr[2] == socket.PACKET_OUTGOING else "in", frame))
        return out

    def close(self) -> None:
        self._sock.close()
