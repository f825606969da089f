"""HostApp, the application on a lab host: queued bytes leave in order, the test
pattern is made only as the socket takes it, and a close waits for every byte."""

from __future__ import annotations

import random

from tcplab.lab.app import HostApp, pattern_bytes
from tcplab.stack.events import Delivered, HostEvent
from tcplab.stack.host import Host
from tcplab.tcp.states import State


class Wire:
    """Two hosts on one in-memory wire; every frame arrives 1 ms after it left."""

    def __init__(self) -> None:
        self.events: list[HostEvent] = []
        hosts = [Host(f"h{i}", rng=random.Random(i)) for i in (1, 2)]
        for i, host in enumerate(hosts, start=1):
            host.add_interface(f"h{i}-eth0", f"00:00:00:00:00:0{i}", f"10.0.0.{i}", 24, 1500)
        self.a, self.b = (HostApp(h, self.events.append) for h in hosts)
        self.now = 0.0

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += 0.001
            for src, dst in ((self.a, self.b), (self.b, self.a)):
                frames = [f for _, f in src.frames_to_send()]
                if frames:
                    dst.receive_frames(f"{dst.name}-eth0", frames, self.now)
            for app in (self.a, self.b):
                timer = app.get_timer()
                if timer is not None and timer <= self.now:
                    app.handle_timer(self.now)

    def connected(self) -> int:
        self.b.listen(80, self.now)
        sid = self.a.connect("10.0.0.2", 80, self.now, None)
        self.run(0.05)
        assert self.a.socket(sid).state is State.ESTABLISHED
        return sid

    def received(self) -> bytes:
        return b"".join(e.data for e in self.events
                        if isinstance(e, Delivered) and e.host == "h2")


def test_a_huge_pattern_is_made_as_the_socket_takes_it() -> None:
    wire = Wire()
    sid = wire.connected()
    huge = 10 ** 12                      # a terabyte: never made at once
    wire.a.write_pattern(sid, huge, wire.now)
    wire.a.write(sid, b"then text", wire.now)   # queued behind it, not making it
    box = wire.a._pending[sid]
    sent = wire.a.socket(sid).bytes_sent
    assert len(box.buf) <= 65536 and wire.a.pending(sid) == huge + 9 - sent
    wire.run(0.2)
    got = wire.received()
    assert len(got) > 100_000 and got == pattern_bytes(0, len(got))
    assert len(box.buf) <= 65536


def test_text_and_pattern_leave_in_the_order_written_and_close_waits() -> None:
    wire = Wire()
    sid = wire.connected()
    wire.a.write_pattern(sid, 300_000, wire.now)
    wire.a.write(sid, b"<text>", wire.now)
    wire.a.write_pattern(sid, 1000, wire.now)
    wire.a.close(sid, wire.now)
    assert wire.a.pending(sid) > 0
    assert wire.a.socket(sid).state is State.ESTABLISHED   # the FIN waits for the bytes
    wire.run(1.0)
    assert wire.received() == pattern_bytes(0, 300_000) + b"<text>" + pattern_bytes(300_000,
                                                                                    1000)
    assert wire.a.pending(sid) == 0
    assert wire.a.socket(sid).state in (State.FIN_WAIT_2, State.TIME_WAIT)
