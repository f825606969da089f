"""``wait``'s reply says the time as it was typed, never in exponent form."""

from __future__ import annotations

import pytest

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology


@pytest.mark.parametrize(("line", "reply"), [
    ("wait 1", "waited 1 s"), ("wait 0.5", "waited 0.5 s"), ("wait 100ms", "waited 0.1 s"),
    ("wait 99999999", "waited 99999999 s"), ("wait 1.234567891", "waited 1.234567891 s"),
])
def test_the_reply_of_a_wait(line: str, reply: str) -> None:
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.start()
    try:
        result = lab.execute(line)
        assert result.ok and result.message == reply
    finally:
        lab.stop()
