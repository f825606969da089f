"""A kernel host's socket in the dashboard's sockets table, down to its TIME-WAIT
(needs root and Mininet): Linux's states reach the table through the event stream like
tcplab's."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from test_mininet_lab import topology_file
from textual.widgets import DataTable

from tcplab.backends.mininet.backend import MininetBackend
from tcplab.lab import commands as C
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.tcp.config import Config
from tcplab.tcp.states import State
from tcplab.tui.app import TcplabApp


def state(lab: Lab, name: str, accepted: bool = False) -> State:
    _, info, _ = lab.socket_info(C.ConnName(name, accepted))
    return info.state if info is not None else State.CLOSED


def test_a_kernel_hosts_time_wait_is_in_the_table(tmp_path: Path) -> None:
    tag = f"{random.randrange(1 << 16):04x}"
    path = topology_file(tmp_path, "kdash", f"""
        sw = self.addSwitch("d{tag}")
        self.addLink(self.addHost("h1"), sw)
        self.addLink(self.addHost("h2", kernel=True), sw)
    """)
    lab = Lab(load_topology(str(path)), MininetBackend(seed=7, config=Config(rto_min=0.2)))
    lab.keep_timeline()
    lab.start()

    async def scene() -> list[str]:
        app = TcplabApp(lab, seed=7)
        async with app.run_test(size=(200, 50)) as pilot:

            async def until(what: str, cond: object) -> None:
                deadline = time.monotonic() + 20
                while not cond():  # type: ignore[operator]
                    assert time.monotonic() < deadline, what
                    await pilot.pause(0.05)

            for line in ("listen h1:80", "connect h2 h1:80 as k1"):
                assert app.run_line(line)
            await until("established", lambda: state(lab, "k1") is State.ESTABLISHED)
            assert app.run_line("close k1")
            await until("close-wait", lambda: state(lab, "k1", True) is State.CLOSE_WAIT)
            assert app.run_line("close k1'")
            await until("time-wait", lambda: state(lab, "k1") is State.TIME_WAIT)
            _, info, _ = lab.socket_info(C.ConnName("k1", False))
            assert info is not None
            await pilot.pause(0.5)  # a refresh draws the table from the stream
            table = app.query_one("#sockets", DataTable)
            return [str(cell) for cell in table.get_row(f"h2/{info.id}")]

    try:
        cells = asyncio.run(scene())
    finally:
        lab.stop()
    assert "TIME-WAIT" in cells
    assert "k1" in cells[0]
