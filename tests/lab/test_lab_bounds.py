"""What the lab keeps of closed connections is bounded (a SYN flood does not grow it)."""

from __future__ import annotations

import pytest

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import lab as lab_module
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.stack.events import Delivered, StateChanged
from tcplab.tcp.states import State, Trigger


def test_only_the_newest_closed_and_the_named_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_module, "CLOSED_KEPT", 5)
    lab = Lab(load_topology(None), SimBackend(1))
    lab.start()
    lab.execute("listen h2:80")
    assert lab.execute("connect h1 h2:80 as c1").ok
    named = lab.names["c1"]
    for sid in range(100, 120):
        lab.bus.publish(Delivered(0.0, "h2", sid, b"x"))
        lab.bus.publish(StateChanged(0.0, "h2", sid, State.ESTABLISHED, State.CLOSED,
                                     Trigger.RCV_RST, local=("10.0.0.2", 80),
                                     remote=("10.0.0.1", 40000 + sid)))
    lab.bus.publish(StateChanged(0.0, named.host, named.sid, State.SYN_SENT, State.CLOSED,
                                 Trigger.RCV_RST, local=named.local, remote=named.remote))
    for sid in range(120, 130):
        lab.bus.publish(StateChanged(0.0, "h2", sid, State.ESTABLISHED, State.CLOSED,
                                     Trigger.RCV_RST, local=("10.0.0.2", 80),
                                     remote=("10.0.0.1", 40000 + sid)))
    closed = {key for key, seen in lab.history.items() if seen[-1] is State.CLOSED}
    assert closed == {("h2", sid) for sid in range(125, 130)} | {(named.host, named.sid)}
    assert set(lab.delivered) <= closed
    # what a named connection visited still answers expect-seen
    assert lab.execute("expect-seen c1 SYN-SENT").ok
    lab.stop()
