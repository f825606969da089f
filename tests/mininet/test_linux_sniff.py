"""A kernel host's packet socket: every frame with the kernel's time for it (root)."""

from __future__ import annotations

import socket
import time

from tcplab.backends.mininet.linux.sniff import Sniffer


def test_frames_come_with_the_kernels_time_not_the_readers() -> None:
    sniffer = Sniffer("lo")
    try:
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        before = time.monotonic()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"tcplab-sniff", receiver.getsockname())
        sent = time.monotonic()
        time.sleep(0.2)  # read late: the stamps must still say when the frame passed
        frames = [(d, stamp) for d, frame, stamp in sniffer.recv_frames()
                  if b"tcplab-sniff" in frame]
        receiver.close()
    finally:
        sniffer.close()
    # on loopback a frame is seen leaving and arriving
    assert sorted(d for d, _ in frames) == ["in", "out"]
    for _d, stamp in frames:
        assert stamp is not None and before - 0.005 <= stamp <= sent + 0.005
