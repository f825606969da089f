"""For `textual run --dev tcplab.cli.dev:app`: the dashboard on a simulated lab (the
default topology, seed 1, real time), so styles can be edited live.  The lab is built
when Textual asks for ``app``, not when the module is imported."""

from __future__ import annotations

from typing import Any

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.tui.app import TcplabApp


def build() -> TcplabApp:
    lab = Lab(load_topology(None), SimBackend(1, virtual=False))
    lab.keep_timeline()
    lab.start()
    return TcplabApp(lab, seed=1)


def __getattr__(name: str) -> Any:
    if name == "app":
        return build()
    raise AttributeError(name)
