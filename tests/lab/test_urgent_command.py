"""``send CONN --urgent "text"``: urgent data from the command language to the wire
(URG and the urgent pointer) and to the receiving application's report."""

from __future__ import annotations

import pytest

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import commands as C
from tcplab.lab.events import LabEvent
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.stack import events as H
from tcplab.tcp.segment import URG


def test_send_urgent_parses_and_renders_back() -> None:
    cmd = C.parse_line('send c1 --urgent "x!"')
    assert cmd == C.SendText(C.ConnName("c1"), b"x!", urgent=True)
    assert cmd.to_line() == 'send c1 --urgent "x!"'
    assert C.parse_line(cmd.to_line()) == cmd
    assert C.parse_line('send c1 "x"') == C.SendText(C.ConnName("c1"), b"x")


@pytest.mark.parametrize(("line", "reason"), [
    ("send c1 --urgent --bytes 5", '--urgent takes a "text"'),
    ("send c1 --urgent", '"text" after --urgent'),
])
def test_send_urgent_errors_say_why(line: str, reason: str) -> None:
    with pytest.raises(C.CommandError) as err:
        C.parse_line(line)
    assert reason in str(err.value)


def test_urgent_data_reaches_the_wire_and_the_peer_application() -> None:
    backend = SimBackend(1, virtual=True)
    lab = Lab(load_topology("pair"), backend)
    events: list[LabEvent] = []
    lab.bus.subscribe(events.append)
    lab.start()
    for line in ("listen h2:80", "connect h1:5000 h2:80 as c1", "wait 0.5",
                 'send c1 "abc"', 'send c1 --urgent "!"', "wait 0.5"):
        result = lab.execute(line)
        assert result.ok, f"{line}: {result.message}"
    urgent = [e.segment for e in events if isinstance(e, H.SegmentSent) and e.host == "h1"
              and e.segment.flags & URG]
    assert urgent and urgent[0].payload.endswith(b"!")
    assert all((s.seq + s.urgent) == (urgent[0].seq + urgent[0].urgent) for s in urgent)
    reports = [e for e in events if isinstance(e, H.SoftError) and e.host == "h2"]
    assert [r.reason for r in reports] == ["urgent data: 1 byte up to the urgent mark"]
    got = b"".join(e.data for e in events if isinstance(e, H.Delivered) and e.host == "h2")
    assert got == b"abc!"
    lab.stop()


def test_send_urgent_is_refused_clearly_where_the_host_cannot_take_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a Mininet agent's host is reached through a protocol without an urgent flag
    backend = SimBackend(1, virtual=True)
    lab = Lab(load_topology("pair"), backend)
    lab.start()
    for line in ("listen h2:80", "connect h1:5000 h2:80 as c1", "wait 0.5"):
        assert lab.execute(line).ok

    class Remote:
        def write(self, sid: int, data: bytes, now: float) -> None:
            raise AssertionError("not to be called")

    monkeypatch.setattr(backend, "app", lambda host: Remote())
    result = lab.execute('send c1 --urgent "x"')
    assert not result.ok
    assert result.message.endswith("send --urgent: h1 takes urgent data only on the "
                                   "simulated network")
