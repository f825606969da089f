"""Pilot tests of the dashboard: each action, driven by its key, against the simulated
backend under virtual time, judged by what the lab holds afterwards (sockets, links,
bytes delivered), not only by what the screen says.  Each validation error must show
inline and leave the lab exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from pilot_sync import sync
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static, TabbedContent

from tcplab.lab import commands as C
from tcplab.lab.lab import Lab
from tcplab.tcp.states import State
from tcplab.tui.app import COLUMNS, TcplabApp
from tcplab.tui.screens.forms import CommandForm
from tcplab.tui.screens.help import HelpScreen

SIZE = (120, 40)


def plain(widget: Static) -> str:
    content = widget.content
    return Text.from_markup(content).plain if isinstance(content, str) else str(content)


def text_of(app: TcplabApp, selector: str) -> str:
    return plain(app.screen.query_one(selector, Static))


def result_text(app: TcplabApp) -> str:
    return plain(app.query_one("#result", Static))


def state(lab: Lab, ref: str) -> State:
    name = ref.rstrip("'")
    _, info, _ = lab.socket_info(C.ConnName(name, ref.endswith("'")))
    return info.state if info is not None else State.CLOSED


def snapshot(lab: Lab) -> tuple[object, ...]:
    """Everything an action could change in the lab."""
    socks = tuple((h, i.id, i.state, i.local, i.remote, i.bytes_sent) for h, i in lab.sockets())
    return socks, tuple(lab.links()), dict(lab.delivered), dict(lab.names), lab.now()


async def type_line(pilot: Pilot[int], line: str) -> None:
    """``:`` (unless the command line has the focus already), the line, enter."""
    app = pilot.app
    if app.focused is not app.query_one("#command", Input):
        await pilot.press("colon")
    await pilot.press(*line, "enter")
    await pilot.pause()


async def established(app: TcplabApp, pilot: Pilot[int]) -> None:
    for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5"):
        assert app.run_line(line), result_text(app)
    await pilot.pause()


async def select(app: TcplabApp, pilot: Pilot[int], host: str, sid: int) -> None:
    """Move the table cursor to a socket with the arrow keys, as a user would."""
    table = app.query_one("#sockets", DataTable)
    table.focus()
    target = table.get_row_index(f"{host}/{sid}")
    delta = target - table.cursor_row
    await pilot.press(*(["down"] * delta if delta > 0 else ["up"] * -delta))
    # the app reads the cursor on its next refresh; under virtual time a refresh only
    # happens when something changed (see test_cursor_move_selects_row_in_virtual_time)
    app.dirty = True
    await pilot.pause(0.25)
    assert app.selected == (host, sid)


async def fill(pilot: Pilot[int], form: CommandForm, field: str, value: str) -> None:
    box = form.query_one(f"#f-{field}", Input)
    box.focus()
    box.value = ""
    # pasted, not typed: a key costs the pilot a screen update; the command line tests type
    box.insert_text_at_cursor(value)
    assert box.value == value


def form_error(app: TcplabApp) -> str:
    return text_of(app, "#form-error")


async def open_form(pilot: Pilot[int], app: TcplabApp, key: str) -> CommandForm:
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(app.screen, CommandForm)
    return app.screen


# --------------------------------------------------------------------------- actions

@sync
async def test_listen_form_opens_a_listener(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app, "l")
        await fill(pilot, form, "port", "8080")
        await pilot.click("#ok")
        await pilot.pause()
        assert not isinstance(app.screen, CommandForm)
        [(host, info)] = lab.sockets()
        assert (host, info.kind, info.local[1], info.state) == ("h2", "listener", 8080,
                                                                 State.LISTEN)
        assert "listening on port 8080" in result_text(app)


@sync
async def test_connect_form_opens_a_connection(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        assert app.run_line("listen h2:80")
        form = await open_form(pilot, app, "c")
        await fill(pilot, form, "name", "c1")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, CommandForm)
        assert app.run_line("wait 0.5")
        assert state(lab, "c1") is State.ESTABLISHED
        assert state(lab, "c1'") is State.ESTABLISHED
        _, info, _ = lab.socket_info(C.ConnName("c1"))
        assert info is not None and info.remote == (lab.backend.ips["h2"], 80)


@sync
async def test_send_text_from_the_selected_row(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        await select(app, pilot, "h1", 1)
        form = await open_form(pilot, app, "s")
        assert form.query_one("#f-conn", Input).value == "c1"
        await fill(pilot, form, "text", "GET / HTTP/1.0")
        await pilot.click("#ok")
        await pilot.pause()
        app.run_line("wait 0.5")
        assert lab.delivered[("h2", 2)] == len("GET / HTTP/1.0")
        app.query_one("#detail", TabbedContent).active = "tab-stream"
        await pilot.pause()
        assert "GET / HTTP/1.0" in text_of(app, "#stream")


@sync
async def test_send_a_number_of_bytes(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        await select(app, pilot, "h2", 2)
        form = await open_form(pilot, app, "s")
        assert form.query_one("#f-conn", Input).value == "c1'"
        await fill(pilot, form, "bytes", "30000")
        await pilot.press("enter")
        await pilot.pause()
        app.run_line("wait 2")
        _, info, _ = lab.socket_info(C.ConnName("c1"))
        assert info is not None and info.bytes_delivered == 30000
        assert lab.delivered[("h1", 1)] == 30000


@sync
async def test_send_a_file(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "payload.bin"
    data = bytes(range(256)) * 20
    path.write_bytes(data)
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        await select(app, pilot, "h1", 1)
        form = await open_form(pilot, app, "s")
        await fill(pilot, form, "text", "")
        await fill(pilot, form, "file", str(path))
        await pilot.click("#ok")
        await pilot.pause()
        app.run_line("wait 1")
        snap = app.timeline.snapshot(app.n)
        assert snap.rows[("h2", 2)].delivered == len(data)
        assert lab.delivered[("h2", 2)] == len(data)


@sync
async def test_shutdown_key_half_closes(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        await select(app, pilot, "h1", 1)
        await pilot.press("w", "w")  # asked, and confirmed with the same letter
        app.run_line("wait 0.5")
        assert (state(lab, "c1"), state(lab, "c1'")) == (State.FIN_WAIT_2, State.CLOSE_WAIT)
        # half closed: the other direction still carries data
        assert app.run_line('send c1\' "still open"') and app.run_line("wait 0.5")
        assert lab.delivered[("h1", 1)] == len("still open")


@sync
async def test_close_key_on_both_sides_reaches_time_wait(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        await select(app, pilot, "h1", 1)
        await pilot.press("x", "enter")  # asked, and confirmed with Enter
        app.run_line("wait 0.5")
        assert (state(lab, "c1"), state(lab, "c1'")) == (State.FIN_WAIT_2, State.CLOSE_WAIT)
        await select(app, pilot, "h2", 2)
        await pilot.press("x", "x")
        app.run_line("wait 0.5")
        assert (state(lab, "c1"), state(lab, "c1'")) == (State.TIME_WAIT, State.CLOSED)
        _, info, _ = lab.socket_info(C.ConnName("c1"))
        assert info is not None and "time-wait" in info.status.timers


@sync
async def test_abort_key_resets_the_connection(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        await select(app, pilot, "h1", 1)
        await pilot.press("a", "a")
        app.run_line("wait 0.5")
        assert (state(lab, "c1"), state(lab, "c1'")) == (State.CLOSED, State.CLOSED)
        _, _, seen = lab.socket_info(C.ConnName("c1", accepted=True))
        assert seen[-2:] == [State.ESTABLISHED, State.CLOSED]  # by the RST, no FIN dance


@sync
async def test_link_form_changes_one_direction(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app, "k")
        assert (form.query_one("#f-a", Input).value, form.query_one("#f-b", Input).value) \
            == ("h1", "s1")
        await fill(pilot, form, "loss", "5%")
        await fill(pilot, form, "delay", "20ms")
        await fill(pilot, form, "dir", "h1>s1")
        # the eight-field form is taller than the screen: OK is below the fold, enter works
        await pilot.press("enter")
        await pilot.pause()
        links = {(st.src, st.dst): st for st in lab.links()}
        assert links[("h1", "s1")].loss == pytest.approx(0.05)
        assert links[("h1", "s1")].delay == pytest.approx(0.020)
        assert links[("s1", "h1")].loss == 0 and links[("s1", "h1")].delay == 0
        # each part unbroken (no-break spaces): a narrow panel wraps between parts only
        assert "20\u00a0ms, 5%\u00a0loss" in plain(app.query_one("#hosts", Static))


@sync
async def test_link_form_takes_a_link_down_and_up(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app, "k")
        await fill(pilot, form, "state", "down")
        await pilot.press("enter")
        await pilot.pause()
        assert [st.up for st in lab.links() if st.link == "h1-s1"] == [False, False]
        assert all(st.up for st in lab.links() if st.link == "h2-s1")
        assert "DOWN" in plain(app.query_one("#hosts", Static))
        form = await open_form(pilot, app, "k")
        await fill(pilot, form, "state", "up")
        await pilot.press("enter")
        await pilot.pause()
        assert all(st.up for st in lab.links())


@sync
async def test_space_pauses_and_resumes_the_clock(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#sockets", DataTable).focus()
        await pilot.press("space")
        assert lab.backend.paused  # type: ignore[attr-defined]
        t0 = lab.now()
        app.run_line("wait 1")
        assert lab.now() == t0
        assert "(paused)" in text_of(app, "#status")
        app.query_one("#sockets", DataTable).focus()
        await pilot.press("space")
        assert not lab.backend.paused  # type: ignore[attr-defined]
        app.run_line("wait 1")
        assert lab.now() == pytest.approx(t0 + 1)


@sync
async def test_command_line_runs_the_command_language(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await type_line(pilot, "listen h2:80")
        [(host, info)] = lab.sockets()
        assert (host, info.local[1], info.state) == ("h2", 80, State.LISTEN)
        box = app.query_one("#command", Input)
        assert box.value == ""
        assert "ok h2 listening on port 80" in result_text(app)
        await type_line(pilot, "lisen h2:81")
        assert "error" in result_text(app)
        assert len(lab.sockets()) == 1
        assert box.value == "lisen h2:81"  # a failed line stays in the box to be fixed


@sync
async def test_command_line_history(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await type_line(pilot, "listen h2:80")
        await type_line(pilot, "wait 1")
        box = app.query_one("#command", Input)
        assert app.focused is box
        await pilot.press("up")
        assert box.value == "wait 1"
        await pilot.press("up")
        assert box.value == "listen h2:80"
        await pilot.press("up")
        assert box.value == "listen h2:80"  # the oldest line stays
        await pilot.press("down")
        assert box.value == "wait 1"
        await pilot.press("down")
        assert box.value == ""
        await pilot.press("up", "up")
        assert box.value == "listen h2:80"
        # a recalled line is edited at its end, as in a shell
        assert box.cursor_position == len(box.value)
        await pilot.press("backspace", "1", "enter")
        await pilot.pause()
        assert sorted(i.local[1] for _, i in lab.sockets()) == [80, 81]
        assert lab.now() == pytest.approx(1.0)


@sync
async def test_command_line_completes_commands_hosts_and_connections(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        box = app.query_one("#command", Input)
        await pilot.press("colon", *"sen")
        await pilot.pause()
        await pilot.press("right")
        assert box.value == "send"
        await pilot.press("space", "c")
        await pilot.pause()
        await pilot.press("right")
        assert box.value == "send c1"
        await pilot.press(*' "hi"', "enter")
        await pilot.pause()
        box.value = ""
        await pilot.press(*"listen h")
        await pilot.pause()
        await pilot.press("right")
        assert box.value == "listen h1"
        app.run_line("wait 0.5")
        assert lab.delivered[("h2", 2)] == 2


@sync
async def test_help_screen_lists_keys_and_states(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = plain(app.screen.query_one("#help Static", Static))
        for needle in ("Listen", "Abort", "TIME-WAIT", "CLOSING", "connect"):
            assert needle in shown
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@sync
async def test_filter_keeps_matching_rows(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        table = app.query_one("#sockets", DataTable)
        assert table.row_count == 3
        before = snapshot(lab)
        await pilot.press("slash")
        await pilot.pause()
        assert app.focused is app.query_one("#filter", Input)
        await pilot.press(*"LISTEN", "enter")
        await pilot.pause()
        assert table.row_count == 1
        assert app.table.cell(0, "state") == "LISTEN"
        assert not app.query("#filter")
        assert snapshot(lab) == before


@sync
async def test_sort_cycles_columns(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        app.query_one("#sockets", DataTable).focus()
        for column in COLUMNS[1:5]:
            await pilot.press("o")
            await pilot.pause()
            assert f"sorted by {column}" in result_text(app)
        # sorted by state: ESTABLISHED, ESTABLISHED, LISTEN
        assert [app.table.cell(r, "state") for r in range(3)] == [
            "ESTABLISHED", "ESTABLISHED", "LISTEN"]


@sync
async def test_theme_toggle(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        first = app.theme
        app.query_one("#sockets", DataTable).focus()
        await pilot.press("t")
        assert app.theme != first
        assert {app.theme, first} == {"textual-dark", "textual-light"}
        await pilot.press("t")
        assert app.theme == first


@sync
async def test_cursor_move_selects_row_in_virtual_time(lab: Lab) -> None:
    """A user moves the cursor in a quiet virtual-time lab and presses `x`: the row under
    the cursor must be the one closed (and the detail panels must follow it)."""
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        table = app.query_one("#sockets", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("h2/1"))
        await pilot.pause(0.25)
        await pilot.press("down")  # onto h2/2, the accepted connection
        await pilot.pause(0.25)
        assert app.selected == ("h2", 2)
        await pilot.press("x", "x")
        app.run_line("wait 0.5")
        # h2's side closed first: it is the active closer now
        assert (state(lab, "c1'"), state(lab, "c1")) == (State.FIN_WAIT_2, State.CLOSE_WAIT)


# ------------------------------------------------------------------ validation errors

Case = tuple[dict[str, str], str]  # the fields to change, a piece of the error expected


async def _form_rejects(app: TcplabApp, pilot: Pilot[int], lab: Lab, key: str,
                        cases: list[Case]) -> None:
    """Open a form, try each case in turn (as a user correcting one field after another),
    check the inline error and that the lab did not move; then cancel."""
    before = snapshot(lab)
    form = await open_form(pilot, app, key)
    defaults = {k: form.query_one(f"#f-{k}", Input).value for k, _, _ in form.fields}
    for values, error in cases:
        for field, value in {**defaults, **values}.items():
            await fill(pilot, form, field, value)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form, "the form must stay open on an error"
        assert error in form_error(app)
        assert snapshot(lab) == before
    await pilot.press("escape")
    await pilot.pause()
    assert not isinstance(app.screen, CommandForm)
    assert snapshot(lab) == before


@sync
async def test_listen_rejects_a_bad_port_or_host(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await _form_rejects(app, pilot, lab, "l", [
            ({"port": "99999"}, "out of range"), ({"port": "http"}, "bad port"),
            ({"port": ""}, "port is required"), ({"host": "h9"}, "unknown host 'h9'")])
        assert lab.sockets() == []


@sync
async def test_connect_rejects_an_unknown_host(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        assert app.run_line("listen h2:80")
        await _form_rejects(app, pilot, lab, "c", [
            ({"peer": "h7"}, "unknown host 'h7'"), ({"host": "10.9.9.9"}, "unknown host"),
            ({"port": "0"}, "out of range")])
        assert [i.kind for _, i in lab.sockets()] == ["listener"]
        assert lab.names == {}


@sync
async def test_send_rejects_a_closed_connection(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        assert app.run_line("abort c1") and app.run_line("wait 0.5")
        assert state(lab, "c1") is State.CLOSED
        await _form_rejects(app, pilot, lab, "s", [
            ({"conn": "c1", "text": "late"}, "c1 is closed"),
            ({"conn": "c1", "text": "", "bytes": "100"}, "c1 is closed"),
            ({"conn": "c9"}, "no connection named 'c9'")])
        assert ("h2", 2) not in lab.delivered


@sync
async def test_close_key_on_a_closed_row_changes_nothing(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await established(app, pilot)
        assert app.run_line("abort c1") and app.run_line("wait 0.5")
        await select(app, pilot, "h1", 1)
        before = snapshot(lab)
        for key in ("x", "w", "a"):
            await pilot.press(key)
            await pilot.pause()
            assert "is closed" in result_text(app)
            assert snapshot(lab) == before


@sync
async def test_close_key_on_a_listener_asks_for_a_connection(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        assert app.run_line("listen h2:80")
        await select(app, pilot, "h2", 1)
        before = snapshot(lab)
        await pilot.press("x")
        await pilot.pause()
        # no connection to close: the letter starts a command instead
        assert "select a connection" in result_text(app)
        assert app.query_one("#command", Input).value == "x"
        assert snapshot(lab) == before


@sync
async def test_link_rejects_an_unknown_link_or_a_bad_value(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await _form_rejects(app, pilot, lab, "k", [
            ({"b": "h2", "loss": "10%"}, "no link between h1 and h2"),
            ({"b": "s9", "loss": "10%"}, "unknown node 's9'"),
            ({"loss": "150%"}, "loss"),
            ({"dir": "h2>s1", "loss": "1%"}, "not a direction of link")])


@sync
async def test_messages_with_brackets_are_shown_not_parsed_as_markup(lab: Lab) -> None:
    # usage texts say [loss=5%] and users type anything: it must show, never crash
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await type_line(pilot, "link h1")
        assert "[loss=5%]" in result_text(app)
        await type_line(pilot, 'send [/x] "hi"')
        assert "error" in result_text(app)
        app.query_one("#command", Input).value = ""  # a failed line stays to be fixed
        await type_line(pilot, ":listen h2:80")  # a second ":" typed into the line
        assert "listening on port 80" in result_text(app)
        await pilot.press("escape")
        app.query_one("#detail", TabbedContent).active = "tab-log"
        await pilot.pause()
        assert app.is_running
