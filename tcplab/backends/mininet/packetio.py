"""Raw Ethernet frames in and out of one interface, through an AF_PACKET socket.

Theory of operation
-------------------
The agent's stack owns the interface's traffic at layer 2: a ``SOCK_RAW`` packet
socket bound to the interface with ``ETH_P_ALL`` sees every frame the interface
receives, and ``send`` puts a complete frame on the wire, skipping the kernel's IP
stack and its netfilter hooks.  The socket also sees copies of frames sent *from*
this host (ours and the kernel's own); those are skipped: ``PACKET_IGNORE_OUTGOING``
drops them in the kernel where it exists (Linux 4.20+), and ``recvfrom``'s packet
type ``PACKET_OUTGOING`` catches the rest.

The socket is created with protocol 0 (it receives nothing) and only then bound
with ``ETH_P_ALL`` to the interface, so no frame of another interface slips into
the queue in between.  It is non-blocking: :meth:`PacketSocket.recv_frames` reads
what is queued and returns, for a ``select`` loop.
"""

from __future__ import annotations

import contextlib
import errno as E
import socket

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
SO_SNDBUFFORCE = 32       # <asm-generic/socket.h>; the socket module lacks them
SO_RCVBUFFORCE = 33
BUFSIZE = 4 << 20         # absorbs a burst while the agent is busy with something else
MAX_FRAME = 65536


class PacketSocket:
    """One interface's frames (see the module docstring)."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            for forced, plain in ((SO_RCVBUFFORCE, socket.SO_RCVBUF),
                                  (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, forced, BUFSIZE)
                except OSError:  # FORCE needs CAP_NET_ADMIN; the capped size will do
                    sock.setsockopt(socket.SOL_SOCKET, plain, BUFSIZE)
            # Older kernels lack it: recv_frames then filters by packet type.
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            sock.bind((ifname, ETH_P_ALL))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        # recvfrom(MAX_FRAME) would allocate MAX_FRAME bytes per frame and shrink them;
        # reading into one buffer and copying the frame out costs a third less per frame
        self._buf = bytearray(MAX_FRAME)
        self._view = memoryview(self._buf)

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv_frames(self, limit: int = 256) -> list[bytes]:
        """Up to ``limit`` received frames, without waiting."""
        out: list[bytes] = []
        recvfrom_into, view = self._sock.recvfrom_into, self._view
        outgoing = socket.PACKET_OUTGOING
        for _ in range(limit):
            try:
                n, addr = recvfrom_into(view)
            except (BlockingIOError, InterruptedError):
                break
            if addr[2] != outgoing:
                out.append(bytes(view[:n]))
        return out

    def send(self, frame: bytes) -> str | None:
        """Put ``frame`` on the wire; the reason when the kernel refused it."""
        try:
            self._sock.send(frame)
        except OSError as exc:
            if exc.errno in (E.EAGAIN, E.ENOBUFS):
                return "interface queue full"
            return f"send failed: {exc.strerror or exc}"
        return None

    def close(self) -> None:
        self._sock.close()
