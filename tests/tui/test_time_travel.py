"""Pilot tests of moving through a run's history in the dashboard (README: "Moving
through a run's history"), driven by the keys a user presses: a live run and its
recording replayed draw the same sockets table at the same instants; the replay keys
(step, state changes, Home/End, go to a time, play, speed, a click on the timeline);
the ladder and the log follow the newest line until scrolled up; breakpoints stop a
running wait; rewind starts a new branch; pause under virtual time; a wait that never
ends keeps the dashboard answering (Esc, Ctrl+Q); and the ``--pace`` demo.

The simulated backend under virtual time throughout.  A key costs the pilot about a
tenth of a second (it waits for the app to go idle), so long command lines are pasted
into the command line (as a terminal's bracketed paste would) and only short ones are
typed key by key.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pilot_lines import enter_line
from pilot_sync import sync
from rich.text import Text
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import commands as C
from tcplab.lab.lab import Lab
from tcplab.lab.timeline import Timeline
from tcplab.tui.app import TcplabApp
from tcplab.tui.demo import captions
from tcplab.tui.screens.help import HelpScreen
from tcplab.tui.widgets.history_log import HistoryLog
from tcplab.tui.widgets.sockets import COLUMNS, SocketsTable
from tcplab.tui.widgets.timeline_bar import TimelineBar

SIZE = (120, 40)
ROOT = Path(__file__).resolve().parents[2]

# A transfer and a teardown over 20 ms links.  The tables are compared before each wait
# (everything at that instant has happened: the replay's "go to t" shows every event
# up to and including t) and at the end.
SCENARIO = """\
# a transfer and a teardown over 20 ms links
link h1 s1 delay=20ms
link h2 s1 delay=20ms
listen h2:80
connect h1 h2:80 as c1
wait 1
send c1 --bytes 60000
wait 150ms
close c1
wait 1
close c1'
wait 100ms
"""


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SCENARIO run headless in its own process, recorded (seed 1, like the lab)."""
    base = tmp_path_factory.mktemp("travel")
    scenario = base / "transfer.scn"
    scenario.write_text(SCENARIO, encoding="utf-8")
    directory = base / "rec"
    done = subprocess.run(
        [sys.executable, "-m", "tcplab", "run", "--headless", "--virtual-time", "--seed", "1",
         "--scenario", str(scenario), "--record", str(directory)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return directory


# ------------------------------------------------------------------------ helpers

def plain(widget: Static) -> str:
    content = widget.content
    return Text.from_markup(content).plain if isinstance(content, str) else str(content)


def result_text(app: TcplabApp) -> str:
    return plain(app.query_one("#result", Static))


def status_text(app: TcplabApp) -> str:
    return plain(app.query_one("#status", Static))


def status_t(app: TcplabApp) -> str:
    """The time the status line shows, as shown."""
    found = re.search(r"t=(\d+\.\d{3})", status_text(app))
    assert found is not None, status_text(app)
    return found[1]


def caption_text(app: TcplabApp) -> str:
    return plain(app.query_one("#caption", Static))


def bar_caption(app: TcplabApp) -> str:
    return app.query_one("#timeline", TimelineBar).caption


def cells(app: TcplabApp) -> list[list[str]]:
    """The sockets table as shown: every row's cells as plain text."""
    table = app.query_one("#sockets", SocketsTable)
    return [[table.cell(r, c) for c in COLUMNS] for r in range(table.row_count)]


def column(app: TcplabApp, name: str) -> dict[str, str]:
    """One column of the table by connection name (c1, c1')."""
    col = COLUMNS.index(name)
    return {row[0]: row[col] for row in cells(app) if row[0]}


def stream(timeline: Timeline, start: int = 0, end: int | None = None
           ) -> list[dict[str, Any]]:
    """The events ``start`` to ``end`` of a timeline, parsed."""
    stop = len(timeline) if end is None else end
    return list(timeline.events(list(range(start, stop))))


async def until(pilot: Pilot[int], check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


async def settle(pilot: Pilot[int]) -> None:
    """Until a running wait has ended, and once more for the redraw."""
    app = pilot.app
    assert isinstance(app, TcplabApp)
    await until(pilot, lambda: app.lab is None or not app.lab.waiting)
    app.refresh_all()
    await pilot.pause()


async def command(pilot: Pilot[int], line: str, *, typed: bool = False,
                  wait: bool = True) -> None:
    """The line entered on the command line (typed or pasted); then until a wait it
    started has ended."""
    await enter_line(pilot, line, typed=typed)
    if wait:
        await settle(pilot)


async def select(pilot: Pilot[int], key: tuple[str, int]) -> None:
    """The table's cursor onto a socket's row with the arrow keys."""
    app = pilot.app
    assert isinstance(app, TcplabApp)
    table = app.query_one("#sockets", DataTable)
    table.focus()
    delta = table.get_row_index(f"{key[0]}/{key[1]}") - table.cursor_row
    await pilot.press(*(["down"] * delta if delta > 0 else ["up"] * -delta))
    await pilot.pause()
    assert app.selected == key


async def goto(pilot: Pilot[int], t: float) -> None:
    """``g``, the time typed, enter."""
    app = pilot.app
    # a "go to" leaves the focus in the command line (its box is removed and nothing
    # takes the focus back), where g would be typed: Esc gives the focus to the table
    if app.focused is app.query_one("#command", Input):
        await pilot.press("escape")
    await pilot.press("g")
    assert app.focused is app.query_one("#goto", Input)
    await pilot.press(*repr(t), "enter")
    await pilot.pause()


# ------------------------------------------------------------ 1. live and replay

@sync
async def test_live_run_and_its_replay_show_the_same_table(lab: Lab, recording: Path
                                                           ) -> None:
    lines = [line for line in SCENARIO.splitlines() if line and not line.startswith("#")]
    live: list[tuple[float, str, list[list[str]], str]] = []
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:

        def capture() -> None:
            live.append((lab.now(), status_t(app), cells(app),
                         plain(app.query_one("#hosts", Static))))

        for line in lines:
            if line.startswith("wait"):
                app.refresh_all()
                await pilot.pause()
                capture()
            await command(pilot, line, typed=line.startswith("wait"))
            assert result_text(app).startswith("ok "), (line, result_text(app))
        app.refresh_all()
        await pilot.pause()
        capture()
    assert len(live) == 5
    # the five instants are five different pictures of the run
    states = [tuple(row[COLUMNS.index("state")] for row in table) for _, _, table, _ in live]
    assert len(set(states)) == 5, states
    assert any("time-wait" in row[COLUMNS.index("timers")] for row in live[-1][2])

    timeline = Timeline.load(recording)
    replay = TcplabApp(None, timeline=timeline)
    async with replay.run_test(size=SIZE) as pilot:
        assert replay.n == 0
        for t, shown_t, table, hosts in live:
            await goto(pilot, t)
            assert replay.n == timeline.count_at(t)
            assert f"at t={t:g}" in result_text(replay)
            # the same instant, so the timers' countdowns are comparable too
            assert status_t(replay) == shown_t
            assert cells(replay) == table, f"t={t}"
            assert plain(replay.query_one("#hosts", Static)) == hosts
        # the replay cannot change the run: the command line says so
        await command(pilot, "close c1", wait=False)
        assert "read-only" in result_text(replay)
    timeline.close()


# -------------------------------------------------------------- 2. replay keys

@sync
async def test_replay_keys_move_through_the_recording(recording: Path) -> None:
    timeline = Timeline.load(recording)
    total = len(timeline)
    app = TcplabApp(None, timeline=timeline)
    async with app.run_test(size=SIZE) as pilot:
        assert app.n == 0 and "tcplab replay" in status_text(app)
        assert app.focused is app.query_one("#sockets", DataTable)
        # . and , one event forward or back
        await pilot.press("full_stop", "full_stop", "full_stop")
        assert app.n == 3
        assert result_text(app).startswith("event 3: ")
        await pilot.press("comma")
        assert app.n == 2
        assert result_text(app).startswith("event 2: ")
        # End: the whole run; the table holds c1, the listener and c1'
        await pilot.press("end")
        assert app.n == total
        assert f"event {total} of {total}" in bar_caption(app)
        await select(pilot, ("h2", 2))
        assert column(app, "state")["c1'"] == "CLOSED"

        # [ walks back through c1''s state changes only, ] forward again
        changes = [i for i in timeline.conn_events[("h2", 2)]
                   if timeline.event(i)["kind"] == "state.changed"]
        assert len(changes) == 5  # SYN-RECEIVED ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED
        for i in reversed(changes):
            await pilot.press("left_square_bracket")
            assert app.n == i + 1
            ev = timeline.event(app.n - 1)
            assert (ev["kind"], ev["host"], ev["sid"]) == ("state.changed", "h2", 2)
            assert f"h2 {ev['old']} -> {ev['new']} ({ev['cause']})" in result_text(app)
            assert app.selected == ("h2", 2)
        await pilot.press("left_square_bracket")
        assert app.n == changes[0] + 1
        assert "no earlier state change of the selected connection" in result_text(app)
        await pilot.press("right_square_bracket")
        assert app.n == changes[1] + 1
        assert column(app, "state")["c1'"] == "ESTABLISHED"
        assert "SYN-RECEIVED -> ESTABLISHED" in result_text(app)

        # Home: the start; Space plays, Space again stops
        await pilot.press("home")
        assert app.n == 0 and status_t(app) == "0.000"
        await pilot.press("space")
        assert app.playing
        await pilot.pause(0.4)
        playing_n = app.n
        assert playing_n > 0
        assert "playing 1x" in bar_caption(app)
        await pilot.press("space")
        assert not app.playing
        stopped = app.n
        assert stopped >= playing_n
        await pilot.pause(0.3)
        assert app.n == stopped
        assert "stopped" in bar_caption(app)
        # Space goes on from there; Esc stops it too
        await pilot.press("space")
        assert app.playing
        await pilot.press("escape")
        assert not app.playing and app.n >= stopped

        # + and - set the speed, 0.1x to 100x
        await pilot.press("plus")
        assert app.play_speed == 2.0 and "playback speed 2x" in result_text(app)
        await pilot.press("minus", "minus")
        assert app.play_speed == 0.5 and "playback speed 0.5x" in result_text(app)
        await pilot.press(*["plus"] * 8)
        assert app.play_speed == 100.0 and "playback speed 100x" in result_text(app)
        # at 100x the 2.2 s of the run play in a few ticks, then it stops at the end
        await pilot.press("home", "space")
        await until(pilot, lambda: not app.playing, timeout=2.0)
        assert app.n == total

        # g: a time
        await goto(pilot, 1.2)
        assert app.n == timeline.count_at(1.2)
        assert 0 < app.n < total
        assert f"at t=1.2 (event {app.n} of {total})" in result_text(app)
        assert column(app, "state")["c1"] == "FIN-WAIT-1"

        # a click on the bar: that point of the run (x counts from its left padding)
        bar = app.query_one("#timeline", TimelineBar)
        width = bar.content_size.width
        end = timeline.end_time
        for x in (width // 4, width // 2, width - 1):
            await pilot.click("#timeline", offset=(1 + x, 0))
            await pilot.pause()
            assert app.n == timeline.count_at(x / (width - 1) * end), x
            assert f"event {app.n} of {total}" in bar_caption(app)
        assert app.n == total
        await pilot.click("#timeline", offset=(1, 0))
        await pilot.pause()
        assert app.n == timeline.count_at(0.0) < total
    timeline.close()


# ------------------------------------------------------------ 3. scrolling panes

async def _runs_on(pilot: Pilot[int], pane: HistoryLog, waits: int,
                  grows: bool = True) -> None:
    """Run the clock on, a wait at a time: new lines come into ``pane`` -- unless it is
    scrolled up (``grows`` False), when what it shows stays as it is."""
    for _ in range(waits):
        lines = [line.text for line in pane.lines]
        await command(pilot, "wait 100ms")
        await pilot.pause()
        if grows:  # new lines at the end (a burst of many starts the pane again)
            assert pane.lines and (not lines or pane.lines[-1].text != lines[-1])
        else:
            assert [line.text for line in pane.lines] == lines


@sync
async def test_ladder_follows_until_scrolled_up_and_end_follows_again(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("link h1 s1 delay=20ms", "link h2 s1 delay=20ms", "listen h2:80",
                     "connect h1 h2:80 as c1", "wait 1", "send c1 --bytes 3000000"):
            await command(pilot, line)
        await select(pilot, ("h1", 1))
        await pilot.click("#detail Tab#--content-tab-tab-ladder")
        await pilot.pause()
        ladder = app.query_one("#ladder", HistoryLog)
        assert ladder.display and ladder.size.height > 5
        # while the segments come, it shows the newest line
        for _ in range(3):
            await _runs_on(pilot, ladder, 1)
            assert ladder.max_scroll_y > 0  # more lines than fit
            assert ladder.following and ladder.scroll_y == ladder.max_scroll_y
        newest = ladder.lines[-1].text
        assert re.match(r"\s+(\d+\.\d{3}|…)  ", newest), newest  # …: the peer's, on its way
        # scrolled up with the keys: new segments do not move it
        await pilot.click("#ladder")
        assert app.focused is ladder
        await pilot.press("pageup", "up")
        await pilot.pause()
        assert not ladder.following
        held = ladder.scroll_y
        assert held < ladder.max_scroll_y
        rows = int(held), int(held) + ladder.size.height
        shown = [line.text for line in ladder.lines[rows[0]:rows[1]]]
        await _runs_on(pilot, ladder, 2, grows=False)
        assert ladder.scroll_y == held < ladder.max_scroll_y
        assert [line.text for line in ladder.lines[rows[0]:rows[1]]] == shown
        # End (the ladder focused): it follows again
        await pilot.click("#ladder")
        await pilot.press("end")
        await pilot.pause()
        assert ladder.following and ladder.scroll_y == ladder.max_scroll_y
        await _runs_on(pilot, ladder, 1)
        assert ladder.scroll_y == ladder.max_scroll_y


@sync
async def test_another_connections_ladder_starts_at_its_newest_line(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("link h1 s1 delay=20ms", "listen h2:80", "connect h1 h2:80 as c1",
                     "wait 1", "send c1 --bytes 300000", "wait 2"):
            await command(pilot, line)
        await select(pilot, ("h1", 1))
        await pilot.click("#detail Tab#--content-tab-tab-ladder")
        await pilot.pause()
        ladder = app.query_one("#ladder", HistoryLog)
        await pilot.click("#ladder")
        await pilot.press("pageup", "up")  # the user reads c1's older segments
        await pilot.pause()
        assert not ladder.following
        await select(pilot, ("h2", 2))  # then looks at the other end, c1'
        await pilot.pause()
        assert ladder.following and ladder.max_scroll_y > 0
        assert ladder.scroll_y == ladder.max_scroll_y


@sync
async def test_log_follows_until_scrolled_up_and_end_follows_again(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        # a lossy link: every drop is a line of the log
        for line in ("link h1 s1 delay=20ms loss=20%", "listen h2:80",
                     "connect h1 h2:80 as c1", "wait 2", "send c1 --bytes 3000000"):
            await command(pilot, line)
        await pilot.click("#detail Tab#--content-tab-tab-log")
        await pilot.pause()
        log = app.query_one("#log", HistoryLog)
        for _ in range(3):
            await _runs_on(pilot, log, 1)
        assert log.max_scroll_y > 0
        assert log.following and log.scroll_y == log.max_scroll_y
        assert "waited 0.1 s" in log.lines[-1].text
        # the mouse wheel up: it stays where it was scrolled to
        await pilot.hover("#log")
        for _ in range(3):
            log.post_message(events.MouseScrollUp(log, 5, 5, 0, -1, 0, False, False, False))
        await pilot.pause()
        assert not log.following
        held = log.scroll_y
        assert held < log.max_scroll_y
        await _runs_on(pilot, log, 2, grows=False)
        assert log.scroll_y == held < log.max_scroll_y
        # Home and End with the log focused scroll it; End follows again
        await pilot.click("#log")
        assert app.focused is log
        await pilot.press("home")
        await pilot.pause()
        assert log.scroll_y == 0 and not log.following
        assert app.cursor is None  # Home scrolled the pane, not the run to its start
        await pilot.press("end")
        await pilot.pause()
        assert log.following and log.scroll_y == log.max_scroll_y
        await _runs_on(pilot, log, 1)
        assert log.scroll_y == log.max_scroll_y


# -------------------------------------------------------------- 4. breakpoints

@sync
async def test_breakpoint_stops_a_running_wait(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("link h1 s1 delay=20ms", "link h2 s1 delay=20ms", "listen h2:80",
                     "connect h1 h2:80 as c1", "wait 1"):
            await command(pilot, line)
        await command(pilot, "break c1 FIN-WAIT-2", typed=True)
        assert result_text(app).startswith("ok breakpoint 1: break c1 FIN-WAIT-2")
        await command(pilot, "close c1")
        # the cursor elsewhere: the breakpoint must move it
        await select(pilot, ("h2", 2))
        await command(pilot, "wait 10", typed=True)
        assert not lab.waiting
        # the clock stopped right where c1 entered FIN-WAIT-2, long before t=11
        entered = [e for e in stream(app.timeline)
                   if e["kind"] == "state.changed" and (e["host"], e["sid"]) == ("h1", 1)
                   and e["new"] == "FIN-WAIT-2"]
        assert len(entered) == 1
        assert lab.now() == entered[0]["t"] < 2.0
        assert status_t(app) == f"{lab.now():.3f}"
        assert "breakpoint 1 (break c1 FIN-WAIT-2)" in result_text(app)
        assert "FIN-WAIT-1 -> FIN-WAIT-2" in result_text(app)
        assert app.selected == ("h1", 1)
        assert column(app, "state") == {"c1": "FIN-WAIT-2", "c1'": "CLOSE-WAIT"}
        # the bar marks where it fired
        assert [code for _, code in app.timeline.mark_times()].count(2) == 1
        # the rest of the wait can be run on: the peer closes, TIME-WAIT follows
        await command(pilot, "close c1'")
        await command(pilot, "wait 1", typed=True)
        assert result_text(app) == "ok waited 1 s"
        assert column(app, "state") == {"c1": "TIME-WAIT", "c1'": "CLOSED"}


@sync
async def test_break_send_fin_stops_the_wait_at_the_retransmitted_fin(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        # c1's FIN is dropped; its retransmission, an RTO later, is the FIN sent in the wait
        for line in ("link h1 s1 delay=20ms", "link h2 s1 delay=20ms", "listen h2:80",
                     "connect h1 h2:80 as c1", "wait 1", "drop h1>h2 FIN", "close c1"):
            await command(pilot, line)
        t0 = lab.now()
        await command(pilot, "break send FIN", typed=True)
        await select(pilot, ("h2", 1))  # the cursor elsewhere: the breakpoint moves it
        await command(pilot, "wait 10", typed=True)
        fins = [e for e in stream(app.timeline)
                if e["kind"] == "segment.sent" and "F" in e["segment"]["flags"]]
        assert len(fins) == 2  # the dropped one, and the retransmission the clock stopped at
        assert t0 + 0.2 < lab.now() == fins[-1]["t"] < t0 + 10
        assert status_t(app) == f"{lab.now():.3f}"
        assert "breakpoint 1 (break send FIN)" in result_text(app)
        assert app.selected == ("h1", 1)
        assert column(app, "state") == {"c1": "FIN-WAIT-1", "c1'": "ESTABLISHED"}


# ------------------------------------------------------------------ 5. rewind

@sync
async def test_rewind_then_another_command_is_another_branch(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 1", 'send c1 "hello"',
                     "wait 1", "close c1", "wait 1"):
            await command(pilot, line)
        first = column(app, "state")
        assert first == {"c1": "FIN-WAIT-2", "c1'": "CLOSE-WAIT"}
        first_len = len(app.timeline)
        assert app.n == first_len and lab.now() == 3.0

        await command(pilot, "rewind 2", typed=True)
        assert result_text(app).startswith("ok rewound to t=2"), result_text(app)
        assert lab.now() == 2.0 and status_t(app) == "2.000"
        assert app.timeline.rewinds == 1
        assert app.n == len(app.timeline) < first_len
        # the first branch's close is gone from the timeline: the table is at t=2 again
        kinds = [(e["kind"], e.get("new")) for e in stream(app.timeline, 0, app.n)]
        assert ("state.changed", "FIN-WAIT-1") not in kinds
        assert kinds[-2][0] == "run.rewound"
        assert column(app, "state") == {"c1": "ESTABLISHED", "c1'": "ESTABLISHED"}

        await command(pilot, "abort c1", typed=True)
        await command(pilot, "wait 1", typed=True)
        second = column(app, "state")
        assert second == {"c1": "CLOSED", "c1'": "CLOSED"}
        assert second != first
        assert lab.now() == 3.0
        news = [e.get("new") for e in stream(app.timeline, 0, app.n)
                if e["kind"] == "state.changed"]
        assert "FIN-WAIT-1" not in news and news[-2:] == ["CLOSED", "CLOSED"]
        # the branch's stream is the same stream the panes draw: back one state change
        # of c1 is its abort
        await select(pilot, ("h1", 1))
        await pilot.press("left_square_bracket")
        assert app.cursor is not None and "looking back" in status_text(app)
        assert "ESTABLISHED -> CLOSED" in result_text(app)
        # L: go live from the instant looked at -- a rewind to it, a third branch
        looked_at = app.cursor_time()
        assert looked_at == 2.0
        await pilot.press("L")
        await settle(pilot)
        assert app.cursor is None and app.timeline.rewinds == 2
        assert lab.now() == looked_at and "looking back" not in status_text(app)
        assert result_text(app).startswith("ok rewound to t=2"), result_text(app)
        await command(pilot, "close c1'")
        await command(pilot, "wait 1")
        third = column(app, "state")
        assert third == {"c1": "CLOSE-WAIT", "c1'": "FIN-WAIT-2"}  # c1' closed first
        assert len({tuple(first.values()), tuple(second.values()), tuple(third.values())}) == 3


@sync
async def test_live_keys_look_back_without_stopping_the_run(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 1"):
            await command(pilot, line)
        await pilot.press("escape")  # from the command line to the table
        end = len(app.timeline)
        await pilot.press("comma", "comma")
        assert app.cursor == app.n == end - 2
        assert "looking back" in status_text(app)
        assert "looking back" in bar_caption(app)
        # the run goes on while the user looks back ...
        lab.execute("close c1")  # (a command typed here would go live: see test_looking_back)
        lab.execute("wait 1")
        await pilot.pause()
        assert len(app.timeline) > end and app.n == end - 2
        assert column(app, "state")["c1"] == "ESTABLISHED"
        await pilot.press("full_stop")
        assert app.n == end - 1
        assert result_text(app).startswith(f"event {end - 1}: ")
        # End follows the live run again
        await pilot.press("end")
        assert app.cursor is None and app.n == len(app.timeline)
        assert "looking back" not in status_text(app)
        assert "following the run" in bar_caption(app)
        assert column(app, "state") == {"c1": "FIN-WAIT-2", "c1'": "CLOSE-WAIT"}
        # at the live end, . steps the run (a virtual clock needs no pause)
        events_before = len(app.timeline)
        await pilot.press("full_stop")
        await settle(pilot)
        assert app.cursor is None and len(app.timeline) > events_before
        assert result_text(app).startswith("ok "), result_text(app)


# ------------------------------------------------------- 6. pause, virtual time

@sync
async def test_pause_under_virtual_time_leaves_the_clock_where_it_is(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 1", "close c1",
                     "wait 50ms", "close c1'", "wait 50ms"):
            await command(pilot, line)
        timers = column(app, "timers")["c1"]
        assert timers.startswith("time-wait ")
        await pilot.press("escape")  # from the command line to the table
        assert app.focused is app.query_one("#sockets", DataTable)
        t0, shown = lab.now(), status_t(app)
        events_before = len(app.timeline)
        await pilot.press("space")
        assert lab.backend.paused  # type: ignore[attr-defined]
        assert "(paused)" in status_text(app)
        await pilot.pause(1.0)  # a second of wall time
        assert lab.now() == t0 and status_t(app) == shown
        assert column(app, "timers")["c1"] == timers  # TIME-WAIT does not count down
        # a wait while paused: no time passes, and the line says why
        await command(pilot, "wait 1", typed=True)
        assert "paused" in result_text(app) and lab.now() == t0
        await pilot.press("escape", "space")
        assert not lab.backend.paused  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        assert "(paused)" not in status_text(app)
        assert lab.now() == t0 and status_t(app) == shown
        assert column(app, "timers")["c1"] == timers
        assert not [e for e in stream(app.timeline, events_before)
                    if e["kind"] != "command"]
        # paused again, . steps the run by one event
        await pilot.press("space", "full_stop")
        await settle(pilot)
        assert len(app.timeline) > events_before
        assert app.timeline.event(len(app.timeline) - 1)["line"] == "step"
        assert result_text(app).startswith("ok ")


# ------------------------------------------- 7. a wait that takes long in wall time

async def start_wait(pilot: Pilot[int], line: str) -> None:
    """A wait typed in the command line, left running."""
    app = pilot.app
    assert isinstance(app, TcplabApp) and app.lab is not None
    lab = app.lab
    box = app.query_one("#command", Input)
    if app.focused is not box:
        await pilot.press("colon")
    await pilot.press(*line)
    await busy_press(pilot, "enter", lambda: lab.waiting)


async def busy_press(pilot: Pilot[int], key: str, check: Callable[[], bool]) -> None:
    """Press a key while the app is busy running a wait, then until ``check``.  (The
    pilot's own press waits for the process to go idle after each key: a second or two
    while a wait keeps the CPU busy.  The key goes the same way, through the app.)"""
    pilot.app.simulate_key(key)
    await until(pilot, check, timeout=5.0)


@sync
async def test_a_wait_at_an_instant_that_does_not_end_says_why_while_it_runs(lab: Lab
                                                                           ) -> None:
    backend = lab.backend
    assert isinstance(backend, SimBackend)
    backend.scheduler.instant_crowded = 2000
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        # zero-delay links: the whole transfer is at one instant of the run's clock
        for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5",
                     "send c1 --bytes 99999999999"):
            await command(pilot, line)
        await start_wait(pilot, "wait 1")
        await until(pilot, lambda: "after 2000 events" in result_text(app))
        assert lab.waiting and "waiting (Esc stops)" in status_text(app)
        assert result_text(app).startswith("the clock is stuck at t=0.500000 after 2000 "
                                           "events: give the links delay= or bw=")
        await busy_press(pilot, "escape", lambda: not lab.waiting)
        assert "interrupted" in result_text(app)
    lab.stop()


@sync
async def test_a_huge_send_keeps_the_dashboard_answering(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        # zero-delay links: the whole transfer is at one instant of the run's clock
        for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5",
                     "send c1 --bytes 99999999999"):
            await command(pilot, line)
        table = app.query_one("#sockets", DataTable)
        await start_wait(pilot, "wait 1")
        # Tab: the focus out of the command line, so ? is a key again
        await busy_press(pilot, "tab", lambda: app.focused is table)
        assert lab.waiting
        first = (len(app.timeline), bar_caption(app), len(app.refresh_times))
        await busy_press(pilot, "question_mark", lambda: isinstance(app.screen, HelpScreen))
        await busy_press(pilot, "escape", lambda: not isinstance(app.screen, HelpScreen))
        assert lab.waiting  # closing the help did not end the wait
        await pilot.pause(0.3)
        second = (len(app.timeline), bar_caption(app), len(app.refresh_times))
        # the run goes on, and the panes are redrawn while it does: the bar counts events
        assert second[0] > first[0] and second[1] != first[1] and second[2] > first[2]
        assert "waiting (Esc stops)" in status_text(app)
        assert status_t(app) == "0.500"
        await busy_press(pilot, "escape", lambda: not lab.waiting)
        assert re.search(r"interrupted at t=0\.500000 after \d+ scheduler entries",
                         result_text(app)), result_text(app)
        await pilot.pause()
        assert "waiting" not in status_text(app)
        # Esc straight from the command line ends one too
        await start_wait(pilot, "wait 1")
        assert app.focused is app.query_one("#command", Input)
        await busy_press(pilot, "escape", lambda: not lab.waiting)
        assert "interrupted" in result_text(app)
        # Ctrl+Q quits while a wait runs
        await start_wait(pilot, "wait 1")
        started = time.monotonic()
        app.simulate_key("ctrl+q")
        while app.is_running:
            assert time.monotonic() - started < 5.0, "Ctrl+Q did not quit"
            await asyncio.sleep(0.02)
    assert app.return_code == 0
    assert lab.waiting  # the wait was running when the app quit
    lab.stop()
    assert not lab.waiting


# ------------------------------------------------------------------ 8. --pace

DEMO = """\
listen h2:80
# the client opens the connection
connect h1 h2:80 as c1
wait 1
# a greeting
send c1 "hello"
wait 500ms
# the client closes
close c1
wait 500ms
"""


@sync
async def test_paced_demo_shows_captions_and_pauses(lab: Lab) -> None:
    script = C.parse_script(DEMO)
    app = TcplabApp(lab, seed=1, scenario=script, captions=captions(DEMO), pace=0.3)
    async with app.run_test(size=SIZE) as pilot:
        state = app.script
        assert state is not None
        assert app.query_one("#caption", Static).display
        # one command at a time, each announced by the caption before it runs: what the
        # screen showed and what the lab held at each step of the script
        seen: dict[int, tuple[str, bool]] = {}
        deadline = time.monotonic() + 10
        while state.position < 3:
            assert time.monotonic() < deadline, "the demo does not go on"
            seen.setdefault(state.position, (caption_text(app), "c1" in lab.names))
            await pilot.pause(0.02)
        assert seen[1] == ("next (2/7): connect h1 h2:80 as c1   the client opens the "
                           "connection", False)
        assert seen[2] == ("next (3/7): wait 1", True)
        # Space pauses the demo: nothing more runs, however long
        await pilot.press("space")
        assert state.held
        held_at = state.position
        assert "demo paused" in result_text(app)
        assert "(paused: n runs it)" in caption_text(app)
        await pilot.pause(0.7)
        assert state.position == held_at
        # n runs the next command at once, still paused
        _, cmd = script[held_at]
        await pilot.press("n")
        await settle(pilot)
        assert state.position == held_at + 1 and state.held
        assert lab.commands[-1].line == cmd.to_line()
        # Space: it goes on to the end
        await pilot.press("space")
        assert not state.held and "demo goes on" in result_text(app)
        await until(pilot, lambda: state.done and not lab.waiting)
        await pilot.pause()
        assert caption_text(app) == "the demo is over"
        assert [e.line for e in lab.commands] == [c.to_line() for _, c in script]
        assert column(app, "state") == {"c1": "FIN-WAIT-2", "c1'": "CLOSE-WAIT"}
        assert lab.delivered[("h2", 2)] == len("hello")


# ------------------------------------------------ go to, boxes, frozen panes (fixed bugs)
@sync
async def test_goto_gives_the_focus_back_so_space_plays(recording: Path) -> None:
    timeline = Timeline.load(recording)
    app = TcplabApp(None, timeline=timeline)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", *"1.2", "enter")
        await pilot.pause()
        assert app.n == timeline.count_at(1.2)
        await pilot.press("space")  # README: in a replay Space plays
        assert app.playing


@sync
async def test_goto_shows_the_time_gone_to(recording: Path) -> None:
    timeline = Timeline.load(recording)
    app = TcplabApp(None, timeline=timeline)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, 2.0)
        assert status_t(app) == "2.000"


@sync
async def test_goto_timers_count_down_from_the_time_gone_to(recording: Path) -> None:
    # after the recording's end (t=2.25) no event: at t=10 TIME-WAIT has 8 s less to go
    timeline = Timeline.load(recording)
    app = TcplabApp(None, timeline=timeline)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, timeline.end_time)
        at_end = column(app, "timers")["c1"]
        await goto(pilot, 10.0)
        at_10 = column(app, "timers")["c1"]
        assert at_10 != at_end


@sync
async def test_ladder_scrolled_up_stays_put_past_max_lines(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        for line in ("link h1 s1 delay=20ms", "link h2 s1 delay=20ms", "listen h2:80",
                     "connect h1 h2:80 as c1", "wait 1", "send c1 --bytes 30000000", "wait 200ms"):
            await command(pilot, line)
        await select(pilot, ("h1", 1))
        await pilot.click("#detail Tab#--content-tab-tab-ladder")
        await pilot.pause()
        ladder = app.query_one("#ladder", HistoryLog)
        await pilot.click("#ladder")
        await pilot.press("pageup")
        await pilot.pause()
        y = int(ladder.scroll_y)
        shown = [ladder.lines[i].text for i in range(y, y + ladder.size.height)]
        await command(pilot, "wait 3")
        await pilot.pause()
        y2 = int(ladder.scroll_y)
        now = [ladder.lines[i].text for i in range(y2, y2 + ladder.size.height)]
        assert now == shown


@sync
async def test_live_and_replay_timers_at_an_instant_without_event(lab: Lab,
                                                                  tmp_path: Path) -> None:
    scn = tmp_path / "s.scn"
    scn.write_text(SCENARIO + "wait 10\n")
    subprocess.run([sys.executable, "-m", "tcplab", "run", "--headless", "--virtual-time",
                    "--scenario", str(scn), "--record", str(tmp_path / "rec")], check=True,
                   capture_output=True)
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        for line in [*SCENARIO.splitlines()[1:], "wait 5"]:
            await command(pilot, line)
        app.refresh_all()
        await pilot.pause()
        t = lab.now()
        live = column(app, "timers")["c1"]
    timeline = Timeline.load(tmp_path / "rec")
    replay = TcplabApp(None, timeline=timeline)
    async with replay.run_test(size=SIZE) as pilot:
        await goto(pilot, t)
        assert column(replay, "timers")["c1"] == live


@sync
async def test_goto_escape_cancels(recording: Path) -> None:
    timeline = Timeline.load(recording)
    app = TcplabApp(None, timeline=timeline)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        assert app.query("#goto")
        await pilot.press("escape")
        await pilot.pause()
        assert not app.query("#goto")


@sync
async def test_filter_focus(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await command(pilot, "listen h2:80")
        await pilot.press("escape", "slash", *"LISTEN", "enter")
        await pilot.pause()
        assert app.focused is app.query_one("#sockets")


@sync
async def test_goto_twice_after_escape(recording: Path) -> None:
    timeline = Timeline.load(recording)
    app = TcplabApp(None, timeline=timeline)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", "escape", "g")
        await pilot.pause()
        await pilot.press(*"1.2", "enter")
        assert app.n == timeline.count_at(1.2)


@sync
async def test_filter_twice_after_escape(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", "escape", "slash")
        await pilot.pause()
        assert app.is_running
