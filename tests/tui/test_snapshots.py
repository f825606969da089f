"""Snapshot tests of the dashboard (pytest-textual-snapshot): the main screen, the state
diagram in CLOSING and in TIME-WAIT, the ladder after a lost FIN, the time-sequence graph
of a lossy transfer, and the help screen; at 200x50 and 100x30, the main screen during a
bulk transfer (wide numbers, the columns that fit, the TCB tab), the stream and log tabs, the
question shutdown asks, and the light theme.

Deterministic by construction: virtual time (the clock moves only on ``wait``), a fixed
seed (ISNs, ephemeral ports and link losses come from it) and a fixed terminal size.
Regenerate with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the
SVGs under ``__snapshots__`` before keeping them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, TabbedContent

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.tcp.states import State
from tcplab.tui.app import TcplabApp

SIZE = (130, 42)
Compare = Callable[..., bool]


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
    await pilot.pause()
    app.refresh_all()  # now, not at the next tick: the picture must not depend on timing
    await pilot.pause(0.3)
    assert app.selected == (host, sid)


def state_of(app: TcplabApp, host: str, sid: int) -> State:
    return next(i.state for h, i in app.lab.sockets() if (h, i.id) == (host, sid))


def test_main_screen(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await settled(
            pilot, "listen h2:80", "listen h2:22", "link h1 s1 delay=5ms loss=1% dir=h1>s1",
            "connect h1 h2:80 as c1", "connect h1 h2:22 as ssh", "wait 0.5",
            'send c1 "GET / HTTP/1.0\\n\\n"', "wait 0.2", 'send c1\' "HTTP/1.0 200 OK"',
            "wait 2")
        await show(pilot, "h1", 1, "tab-diagram")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


async def _simultaneous_close(pilot: Pilot[int]) -> None:
    # the FINs are held so that they cross; the 50 ms link lets the ACKs of the FINs
    # still be on their way when both sides are in CLOSING (RFC 9293 §3.6, Figure 13)
    await settled(
        pilot, "link h1 s1 delay=50ms", "listen h2:80", "connect h1 h2:80 as c1", "wait 0.5",
        "hold h1>h2 FIN", "hold h2>h1 FIN", "close c1", "close c1'", "wait 100ms",
        "release all", "wait 60ms")


def test_diagram_closing(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await _simultaneous_close(pilot)
        assert state_of(app, "h1", 1) is State.CLOSING
        await show(pilot, "h1", 1, "tab-diagram")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_diagram_time_wait(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await _simultaneous_close(pilot)
        await settled(pilot, "wait 100ms", "wait 2")
        assert state_of(app, "h2", 2) is State.TIME_WAIT
        await show(pilot, "h2", 2, "tab-diagram")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_ladder_lost_fin(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await settled(pilot, "link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1",
            "wait 200ms", 'send c1 "bye"', "wait 100ms", "drop h1>h2 FIN count=1", "close c1",
            "wait 30ms")  # before the FIN's first retransmission (a tail-loss probe)
        assert state_of(app, "h1", 1) is State.FIN_WAIT_1
        await settled(pilot, "wait 2", "close c1'", "wait 200ms")
        assert state_of(app, "h1", 1) is State.TIME_WAIT
        await show(pilot, "h1", 1, "tab-ladder")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_time_sequence_lossy_transfer(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await settled(pilot, "link h1 s1 loss=5% delay=10ms", "listen h2:80",
                      "connect h1 h2:80 as c1", "wait 0.5", "send c1 --bytes 200000", "wait 10")
        assert app.lab.delivered[("h2", 2)] == 200000
        await show(pilot, "h1", 1, "tab-tsg")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_help_screen(snap_compare: Compare) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=SIZE)


SIZES = [pytest.param((200, 50), id="200x50"), pytest.param((100, 30), id="100x30")]


async def settled(pilot: Pilot[int], *lines: str) -> None:
    """Run lines one after the other: a long wait is driven in slices, so each line
    waits for the one before it to end."""
    app = pilot.app
    assert isinstance(app, TcplabApp)
    for line in lines:
        run(app, line)
        for _ in range(500):
            if not app.waiting:
                break
            await pilot.pause(0.02)
        assert not app.waiting, line


async def _bulk(pilot: Pilot[int]) -> None:
    await settled(pilot, "link h1 s1 delay=20ms loss=1.4% bw=1.5mbit queue=50",
                  "listen h2:80", "connect h1 h2:80 as c1", "wait 0.5",
                  "send c1 --bytes 262144", "wait 1.5")


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_during_a_transfer(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await _bulk(pilot)
        # the TCB tab: the whole TCB beside the table's columns (the diagram has its
        # own snapshots, and scrolls to its current state)
        await show(pilot, "h1", 1, "tab-tcb")

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("tab", ["tab-stream", "tab-log"])
@pytest.mark.parametrize("size", SIZES)
def test_tab(snap_compare: Compare, size: tuple[int, int], tab: str) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await _bulk(pilot)
        await settled(pilot, 'send c1\' "thanks"', "wait 0.5")
        await show(pilot, "h1", 1, tab)

    assert snap_compare(app, terminal_size=size, run_before=before)


def test_shutdown_asks_first(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await settled(pilot, "listen h2:80", "connect h1 h2:80 as c1", "wait 0.5")
        await show(pilot, "h1", 1, "tab-diagram")
        await pilot.press("w")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_light_theme(snap_compare: Compare) -> None:
    app = make_app()

    async def before(pilot: Pilot[int]) -> None:
        await settled(pilot, "listen h2:80", "connect h1 h2:80 as c1", "wait 0.5", "close c1",
            "wait 0.2", "link h2 s1 down")
        app.theme = "textual-light"
        await show(pilot, "h1", 1, "tab-tcb")

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


def test_help_screen_at_100x30(snap_compare: Compare) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=(100, 30))
