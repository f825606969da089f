"""Pilot tests of the dashboard's key rules (issue 11): letters that change a
connection act only in the sockets table and ask first; a letter nothing takes opens
the command line; typing a word fast in the table changes nothing; q asks while a lab
runs, a replay quits at once, Ctrl+Q quits at once, Ctrl+C says how; an active filter
shows; the footer offers ``? Help`` at 100 columns; help lists the navigation keys.
Each judged by the lab afterwards, not only by the screen."""

from __future__ import annotations

import pytest
from pilot_sync import sync
from rich.text import Text
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from tcplab.lab import commands as C
from tcplab.lab.lab import Lab
from tcplab.tcp.states import State
from tcplab.tui.app import TcplabApp
from tcplab.tui.screens.confirm import Confirm
from tcplab.tui.screens.help import HelpScreen

NARROW = (100, 30)


def plain(widget: Static) -> str:
    content = widget.content
    return Text.from_markup(content).plain if isinstance(content, str) else str(content)


def result_text(app: TcplabApp) -> str:
    return plain(app.query_one("#result", Static))


def command_line(app: TcplabApp) -> str:
    return app.query_one("#command", Input).value


def state(lab: Lab, ref: str) -> State:
    _, info, _ = lab.socket_info(C.ConnName(ref.rstrip("'"), ref.endswith("'")))
    return info.state if info is not None else State.CLOSED


def snapshot(lab: Lab) -> tuple[object, ...]:
    socks = tuple((h, i.id, i.state, i.local, i.remote, i.bytes_sent) for h, i in lab.sockets())
    return socks, tuple(lab.links()), dict(lab.delivered), lab.now(), lab.backend.paused


async def with_c1(app: TcplabApp, pilot: Pilot[int]) -> None:
    """c1 established, the table focused, c1's row under the cursor."""
    for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 0.5"):
        assert app.run_line(line), result_text(app)
    await pilot.pause()
    app.table.focus()
    app.table.select(("h1", 1))
    await pilot.pause()
    assert app.selected == ("h1", 1)


def burst(app: TcplabApp, keys: str) -> None:
    """Keys as fast as a typist: all queued before the app handles the first, named
    as a terminal's driver names them ("?" is question_mark)."""
    for ch in keys:
        app.post_message(events.Key("enter" if ch == "\r" else _character_to_key(ch), ch))


@sync
async def test_a_word_typed_in_the_table_goes_to_the_command_line(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        before = snapshot(lab)
        await pilot.press(*"wait 1")  # w asks, a cancels: "wa" opens the command line
        await pilot.pause()
        assert command_line(app) == "wait 1"
        assert snapshot(lab) == before and app.query_one("#detail").active == "tab-diagram"
        await pilot.press("enter")
        await pilot.pause()
        assert lab.now() == before[3] + 1 and state(lab, "c1") is State.ESTABLISHED


@sync
async def test_a_word_typed_fast_in_the_table_goes_to_the_command_line(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        app.table.select(("h2", 1))  # the listener: the cursor moves up to c1 first
        before = snapshot(lab)
        app.post_message(events.Key("up", None))
        app.post_message(events.Key("up", None))
        burst(app, "abort c1")
        await pilot.pause(0.3)
        assert command_line(app) == "abort c1" and snapshot(lab) == before
        assert app.selected == ("h1", 1)


@pytest.mark.parametrize("confirm", ["w", "enter"])
@sync
async def test_shutdown_asks_and_the_same_letter_or_enter_confirms(lab: Lab, confirm: str
                                                                   ) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, Confirm) and "shutdown c1?" in app.screen.question
        assert state(lab, "c1") is State.ESTABLISHED  # asked, not done
        await pilot.press(confirm)
        app.run_line("wait 0.5")
        assert state(lab, "c1") is State.FIN_WAIT_2


@pytest.mark.parametrize(("letter", "verb"), [("x", "close"), ("a", "abort")])
@sync
async def test_close_and_abort_are_cancelled_by_any_other_key(lab: Lab, letter: str,
                                                              verb: str) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        before = snapshot(lab)
        await pilot.press(letter, "escape")
        await pilot.pause()
        assert not isinstance(app.screen, Confirm) and snapshot(lab) == before
        assert f"{verb} c1: cancelled" in result_text(app)
        await pilot.press(letter, "down")  # a key with no character: cancels, types nothing
        await pilot.pause()
        assert snapshot(lab) == before and command_line(app) == ""


@sync
async def test_connection_letters_act_only_in_the_sockets_table(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        await pilot.press("2")  # the ladder tab: the ladder takes the focus
        await pilot.pause()
        assert app.focused is app.query_one("#ladder")
        before = snapshot(lab)
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, Confirm) and snapshot(lab) == before
        assert command_line(app) == "x"  # no binding here: the start of a command
        assert not app.check_action("close", ()) and not app.check_action("listen", ())


@pytest.mark.parametrize("line", ['send c1 "too late?"', "ab?", "q?", "?"])
@sync
async def test_a_question_mark_typed_fast_goes_into_the_command_line(lab: Lab, line: str
                                                                    ) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        burst(app, ":" + line)  # all before the command line has the focus
        await pilot.pause(0.3)
        assert command_line(app) == line and not isinstance(app.screen, HelpScreen)
        app.query_one("#command", Input).value = ""
        await pilot.pause()
        burst(app, line)  # all after it has the focus, before it has read the first
        await pilot.pause(0.3)
        assert command_line(app) == line and not isinstance(app.screen, HelpScreen)


@sync
async def test_escape_cancels_the_command_line_and_up_brings_it_back(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        await pilot.press("colon", *"wait 0.5", "escape")
        await pilot.pause()
        assert app.focused is app.table and command_line(app) == ""
        await pilot.press("colon", *"wait 1", "enter")
        await pilot.pause()
        assert result_text(app).startswith("ok"), result_text(app)
        await pilot.press("colon", "up", "up")
        assert command_line(app) == "wait 0.5"


@sync
async def test_keys_typed_fast_after_g_and_slash_go_into_their_boxes(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        burst(app, "g0.2\r")  # "." would step, "2" would show the Ladder tab
        await pilot.pause(0.3)
        assert app.cursor_time() == 0.2 and app.query_one("#detail").active == "tab-diagram"
        burst(app, "/h2")
        await pilot.pause(0.3)
        assert app.query_one("#filter", Input).value == "h2"


@sync
async def test_an_unbound_letter_opens_the_command_line(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        before = snapshot(lab)
        await pilot.press("e", "x", "p")
        await pilot.pause()
        assert command_line(app) == "exp" and app.focused is app.query_one("#command")
        assert snapshot(lab) == before


@sync
async def test_q_asks_while_the_lab_runs(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, Confirm) and app.is_running
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and "Ctrl+Q quits at once" in result_text(app)
        await pilot.press("q", "q")
        await pilot.pause()
        assert not app.is_running


@sync
async def test_ctrl_q_quits_at_once(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running


@sync
async def test_ctrl_c_says_how_to_quit(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    said: list[str] = []
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        app.notify = lambda message, **kw: said.append(str(message))  # type: ignore[method-assign]
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.is_running and any("quit" in s for s in said), said


@sync
async def test_q_quits_a_replay_at_once(lab: Lab) -> None:
    lab.execute(C.parse_line("listen h2:80"))
    replay = TcplabApp(None, timeline=lab.keep_timeline())  # no lab: a replay
    async with replay.run_test(size=NARROW) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not replay.is_running


@sync
async def test_an_active_filter_is_shown(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        await pilot.press("slash", *"LISTEN", "enter")
        await pilot.pause()
        status = plain(app.query_one("#status", Static))
        assert "filter 'LISTEN'" in status and app.table.row_count == 1
        await pilot.press("slash", *["backspace"] * 6, "enter")
        await pilot.pause()
        assert "filter" not in plain(app.query_one("#status", Static))


@pytest.mark.parametrize("focus", ["#sockets", "#command"])
@sync
async def test_the_footer_offers_help_first_at_100_columns(lab: Lab, focus: str) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await with_c1(app, pilot)
        app.query_one(focus).focus()
        for _ in range(100):  # until the footer has been laid out again (slow under load)
            await pilot.pause(0.05)
            keys = list(app.screen.query(FooterKey))
            if keys and keys[0].region.width > 0:
                break
        first = "f1" if focus == "#command" else "question_mark"  # "?" is text there
        assert keys and keys[0].key == first and keys[0].description == "Help"
        assert keys[0].region.right <= NARROW[0] and keys[0].region.width > 0
        await pilot.press(first)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


@sync
async def test_help_lists_navigation_keys_and_every_binding(lab: Lab) -> None:
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = plain(app.screen.query_one("#help Static", Static))
        for key in ("Tab", "Shift+Tab", "←/→", "Esc", "Enter", "Ctrl+Q", "Ctrl+C"):
            assert f"  {key} " in text, key
        for binding in app.BINDINGS:
            assert binding.description in text, binding.description  # type: ignore[union-attr]
