"""Snapshot tests of the detail panes (pytest-textual-snapshot) at 200x50 and 100x30:
the state diagram in several states, the ladder with a drop and a hold, the
time-sequence and cwnd plots.

Deterministic by construction: virtual time, a fixed seed, a fixed terminal size.
Regenerate with ``pytest tests/tui/test_snapshots_panes.py --snapshot-update`` and look
at the SVGs under ``__snapshots__`` (``rsvg-convert -w 1600 f.svg -o f.png``) before
keeping them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, TabbedContent

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.tui.app import TcplabApp

WIDE, SMALL = (200, 50), (100, 30)
Compare = Callable[..., bool]
sizes = pytest.mark.parametrize("size", [WIDE, SMALL], ids=["200x50", "100x30"])


def make_app() -> TcplabApp:
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.keep_timeline()
    lab.start()
    return TcplabApp(lab, seed=1)


def run(app: TcplabApp, *lines: str) -> None:
    for line in lines:
        assert app.run_line(line), f"{line}: {app.query_one('#result').content}"


async def show(pilot: Pilot[int], host: str, sid: int, tab: str) -> None:
    """Select a socket's row and bring a detail tab to the front."""
    app = pilot.app
    assert isinstance(app, TcplabApp)
    table = app.query_one("#sockets", DataTable)
    table.move_cursor(row=table.get_row_index(f"{host}/{sid}"))
    table.focus()
    app.query_one("#detail", TabbedContent).active = tab
    app.dirty = True
    await pilot.pause(0.3)
    assert app.selected == (host, sid)


OPEN = ("link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1", "wait 0.5")


@sizes
def test_diagram_established(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        run(app, *OPEN)
        await show(pilot, "h1", 1, "tab-diagram")

    assert snap_compare(app, terminal_size=size, run_before=before)


@sizes
def test_diagram_fin_wait_2(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        run(app, *OPEN, "close c1", "wait 0.5")
        await show(pilot, "h1", 1, "tab-diagram")

    assert snap_compare(app, terminal_size=size, run_before=before)


@sizes
def test_diagram_closing(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        # the FINs cross (held, then released together): both ends in CLOSING
        run(app, "link h1 s1 delay=50ms", "listen h2:80", "connect h1 h2:80 as c1",
            "wait 0.5", "hold h1>h2 FIN", "hold h2>h1 FIN", "close c1", "close c1'",
            "wait 100ms", "release all", "wait 60ms")
        await show(pilot, "h1", 1, "tab-diagram")

    assert snap_compare(app, terminal_size=size, run_before=before)


def test_diagram_reset(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        run(app, *OPEN, "abort c1'", "wait 0.5")
        await show(pilot, "h1", 1, "tab-diagram")

    assert snap_compare(app, terminal_size=SMALL, run_before=before)


LADDER = (*OPEN, 'send c1 "hello"', "wait 100ms", "hold h2>h1 DATA", "send c1' \"back\"",
          "wait 100ms", "release all", "wait 100ms", "drop h1>h2 FIN count=1", "close c1",
          "wait 2", "close c1'", "wait 0.5")


@sizes
def test_ladder_with_a_drop_and_a_hold(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        run(app, *LADDER)
        await show(pilot, "h1", 1, "tab-ladder")

    assert snap_compare(app, terminal_size=size, run_before=before)


TRANSFER = ("link h1 s1 loss=3% delay=10ms", "listen h2:80", "connect h1 h2:80 as c1",
            "wait 0.5", "send c1 --bytes 150000", "wait 10")


@sizes
def test_time_sequence(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        run(app, *TRANSFER)
        await show(pilot, "h1", 1, "tab-tsg")

    assert snap_compare(app, terminal_size=size, run_before=before)


@sizes
def test_cwnd(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        run(app, *TRANSFER)
        await show(pilot, "h1", 1, "tab-cwnd")

    assert snap_compare(app, terminal_size=size, run_before=before)


def test_time_sequence_zoomed(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        run(app, *TRANSFER)
        await show(pilot, "h1", 1, "tab-tsg")
        app.query_one("#tsg").focus()
        await pilot.press("z", "z", "greater_than_sign")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=WIDE, run_before=before)


def test_diagram_without_colour(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR: the current state's double box, the last move's heavy line and the
    reversed names still say where the connection is."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        run(app, *OPEN, "close c1", "wait 5ms")
        await show(pilot, "h1", 1, "tab-diagram")

    assert snap_compare(app, terminal_size=SMALL, run_before=before)
