"""What the dashboard's Pilot tests share: a running lab on the simulated network."""

from __future__ import annotations

import pytest

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology


@pytest.fixture
def lab() -> Lab:
    """The ``pair`` topology on a virtual clock, started, keeping its whole timeline."""
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.keep_timeline()
    lab.start()
    return lab
