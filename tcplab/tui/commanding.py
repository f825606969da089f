"""The dashboard's side of the command language: the command line, the forms and the
keys that act on the selected connection.

Theory of operation
-------------------
Everything the user asks the lab for goes through :meth:`run_line` as a line of the
command language, the same as a scenario file's: forms build lines, keys build lines.
A replay has no lab: it answers every command with "read-only".  A ``wait`` under a
virtual clock is driven a slice at a time (:meth:`tcplab.lab.port.LabPort.run_slice`) from
a timer, so the dashboard keeps drawing and answering keys while it runs; Esc ends it
where it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import Input

from tcplab.lab import commands as C
from tcplab.lab.snapshot import Key, Snapshot
from tcplab.tui.base import DashboardBase
from tcplab.tui.screens.confirm import Confirm
from tcplab.tui.screens.forms import connect_form, link_form, listen_form, send_form

WAIT_SLICE = 0.05   # wall seconds of simulation between two redraws while a wait runs
VIEW_COMMANDS = ("export", "screenshot")  # read what is shown: the dashboard's own
# single letters that change connections or links: only with the sockets table focused
TABLE_ONLY = frozenset(("listen", "connect", "send", "shutdown", "close", "abort", "link"))
ASKING = TABLE_ONLY | {"request_quit"}   # keys whose action asks something first
# run as the key arrives: what is typed next depends on them (a question, the focus)
IMMEDIATE = ASKING | {"command_line", "go_time", "filter"}
TABLE_MOVES = {"up": "cursor_up", "down": "cursor_down", "pageup": "page_up",
               "pagedown": "page_down"}


class CommandLine(Input):
    """The command line.  Every printable key typed into it is text ("?" too: lab
    sheets ask for ``send c1 "why?"``); F1 opens the help from it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("f1", "app.help", "Help", key_display="F1")]


class Commanding(DashboardBase):
    """Mixed into the app: see the module docstring."""

    _confirm: Confirm | None = None   # asked, not yet answered

    def run_line(self, line: str) -> bool:
        """Run one command line; the result shows under the table.  True if it worked."""
        line = line.strip()
        if line.startswith(":"):
            line = line[1:].strip()  # ":" opens the command line; typed again, no command
        if not line:
            return True
        self.history.append(line)
        self.history_pos = len(self.history)
        word = line.split(maxsplit=1)[0]
        if word in VIEW_COMMANDS:  # they read the run, never change it: replays too
            return self._view_command(line)
        lab = self.lab
        if lab is None:
            self.show_error("this is a replay: read-only (use the timeline keys; ? for help)")
            return False
        try:
            cmd = C.parse_line(line)
        except C.CommandError as exc:
            self.show_error(str(exc))
            return False
        if cmd is None:
            return True
        if self.cursor is not None:
            # the command acts on the live run: the view follows it again, or the
            # user would look at an instant the command never touched
            self.playing = False
            self.cursor = None
        if isinstance(cmd, C.Wait) and not lab.virtual:
            self.show_error("wait steps a virtual clock; here the clock runs by itself")
            return False
        if self.waiting:
            self.show_error("a wait is running: Esc ends it first")
            return False
        if isinstance(cmd, C.Wait):
            return self.begin_wait(cmd)
        result = lab.execute(cmd)
        self.show_result(result.ok, result.message)
        self.refresh_all()
        return result.ok

    # -- commands on what is shown ---------------------------------------------------
    def _view_command(self, line: str) -> bool:
        words = line.split()  # not shlex: c1' is a name, not a quote
        try:
            if words[0] == "screenshot" and len(words) <= 2:
                target = Path(words[1] if len(words) == 2 else
                              time.strftime("tcplab-%Y%m%d-%H%M%S.svg"))
                if target.suffix.lower() != ".svg":
                    raise ValueError("screenshot: the file must end in .svg")
                saved = self.save_screenshot(target.name, str(target.parent or "."))
                self.show_result(True, f"screenshot saved to {saved}")
                return True
            if words[0] == "export" and len(words) == 4 and words[1] == "ladder":
                return self._export_ladder(words[2], Path(words[3]))
        except OSError as exc:
            self.show_error(f"{words[0]}: cannot write: {exc.strerror}")
            return False
        except ValueError as exc:
            self.show_error(str(exc))
            return False
        self.show_error("usage: export ladder CONN FILE (FILE.svg for SVG, else text) | "
                        "screenshot [FILE.svg]")
        return False

    def _export_ladder(self, ref: str, path: Path) -> bool:
        from tcplab.tui import history as hist
        from tcplab.tui.export import write_ladder

        n = self.n
        snap = self.timeline.snapshot(n)
        key = self._named(snap, ref)
        if key is None:
            later = self._named(self.timeline.head, ref) is not None
            raise ValueError(
                f"export ladder: no connection {ref!r} at t={self.timeline.time_of(n):.3f}"
                + (" (it is there later: End or g TIME moves there)" if later else ""))
        row = snap.rows[key]
        peer = snap.peer_of(row)
        own = hist.ladder(self.timeline, row, n)
        other = hist.ladder(self.timeline, peer, n) if peer is not None else []
        right = (f"{peer.host} {peer.local[0]}:{peer.local[1]}" if peer is not None else
                 f"{row.remote[0]}:{row.remote[1]}" if row.remote else "*")
        count = write_ladder(path, f"{ref}: {row.host} {row.local[0]}:{row.local[1]}",
                             f"{row.host} {row.local[0]}:{row.local[1]}", right, own, other)
        self.show_result(True, f"ladder of {ref} ({count} segments) written to {path}")
        return True

    # -- a wait driven in slices -------------------------------------------------------
    def begin_wait(self, cmd: C.Wait) -> bool:
        lab = self.lab
        assert lab is not None
        if self.paused:
            result = lab.execute(cmd)  # the lab says why no time passed
            self.show_result(result.ok, result.message)
            return result.ok
        lab.start_wait(cmd.seconds)
        self.say(f"waiting {cmd.seconds:g} s (Esc stops it)")
        self._wait_slice()
        return True

    def _wait_slice(self) -> None:
        lab = self.lab
        if lab is None or not lab.waiting:
            return
        # at least as long as the last redraw took: a heavy pane (the ladder of a fast
        # transfer) then takes at most half of the time, the run the rest
        drawn = self.refresh_times[-1] if self.refresh_times else 0.0
        if lab.run_slice(max(WAIT_SLICE, drawn)):
            self._show_last()
        else:
            self.set_timer(0.001, self._wait_slice)  # let the app draw and read keys
        self.refresh_all()

    def _show_last(self) -> None:
        result = self.lab.last_result if self.lab is not None else None
        if result is not None:
            self.show_result(result.ok, result.message)

    def action_interrupt(self) -> None:
        if self.waiting and self.lab is not None:
            self.lab.interrupt()
            self._show_last()
            self.refresh_all()
        elif self.playing:
            self.playing = False
            self.refresh_all()
        else:
            self.query_one("#sockets").focus()  # back to the table from a pane

    # -- checks before a form's line runs ---------------------------------------------
    def validate_line(self, line: str) -> str | None:
        """Checks a form's line against the lab without changing anything."""
        lab = self.lab
        if lab is None:
            return "this is a replay: read-only"
        try:
            cmd = C.parse_line(line)
        except C.CommandError as exc:
            return str(exc)
        return None if cmd is None else lab.precheck(cmd)

    def selected_ref(self) -> str | None:
        """The selected connection as the command language names it."""
        key = self.selected
        return None if key is None else self.ref_of(self.timeline.snapshot(self.n), key)

    def ref_of(self, snap: Snapshot, key: Key) -> str | None:
        """A connection as the command language names it: ``c1``, ``c1'``, or
        ``h1:40000>h2:80``; None for a listener or an unknown socket."""
        row = snap.rows.get(key)
        if row is None or row.remote is None:
            return None
        return snap.name_of(key) or self._four_tuple(snap, key)

    def _named(self, snap: Snapshot, ref: str) -> Key | None:
        """The socket of ``snap`` that ``ref`` names (a name or a four-tuple)."""
        return next((k for k in snap.rows
                     if ref in (snap.name_of(k), self._four_tuple(snap, k))), None)

    def _four_tuple(self, snap: Snapshot, key: Key) -> str | None:
        row = snap.rows.get(key)
        if row is None or row.remote is None:
            return None
        rhost = self.host_of_ip.get(row.remote[0], row.remote[0])
        return f"{row.host}:{row.local[1]}>{rhost}:{row.remote[1]}"

    def _form_done(self, line: str | None) -> None:
        if line:
            self.run_line(line)

    # -- actions --------------------------------------------------------------------------
    def action_command_line(self) -> None:
        box = self.query_one("#command", Input)
        # focus moves on the next turn of the loop: what is typed meanwhile follows
        self.typing_to(box)

    def _hosts(self) -> tuple[str, str]:
        names = [name for name, _ in self.hosts]
        return names[0], names[1] if len(names) > 1 else names[0]

    def action_listen(self) -> None:
        self.push_screen(listen_form(self.validate_line, self._hosts()[1]), self._form_done)

    def action_connect(self) -> None:
        a, b = self._hosts()
        self.push_screen(connect_form(self.validate_line, a, b), self._form_done)

    def action_send(self) -> None:
        self.push_screen(send_form(self.validate_line, self.selected_ref() or ""),
                         self._form_done)

    def _on_selected(self, verb: str, letter: str) -> None:
        """``verb`` on the selected connection, once confirmed with ``letter`` or Enter.
        With no connection selected the letter is the start of a typed command."""
        ref = self.selected_ref()
        if ref is None:
            self.say(f"{letter} ({verb}) needs a connection: select a connection in the "
                     f"table; the key went to the command line")
            self.type_command(letter)
            return
        problem = self.validate_line(f"{verb} {ref}")
        if problem:
            self.show_error(problem)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_line(f"{verb} {ref}")
            elif not (self._typing_to or self.query_one("#command", Input).has_focus):
                self.say(f"{verb} {ref}: cancelled")

        self.ask(f"{verb} {ref}?", letter, answered)

    def ask(self, question: str, letter: str, then: Callable[[bool | None], None]) -> None:
        """A one-key confirmation (:class:`Confirm`); every key goes to it until it
        has its answer."""
        self._confirm = Confirm(question, letter, self.type_command)
        self.push_screen(self._confirm, then)

    def type_command(self, text: str) -> None:
        """Typing went to the command line: open it with ``text`` added."""
        box = self.query_one("#command", Input)
        # focus moves on the next turn of the loop: keys typed before it arrives
        # follow the text (see intercept_key), none of them is taken as a key
        self.typing_to(box)
        box.value += text
        box.cursor_position = len(box.value)

    def action_shutdown(self) -> None:
        self._on_selected("shutdown", "w")

    def action_close(self) -> None:
        self._on_selected("close", "x")

    def action_abort(self) -> None:
        self._on_selected("abort", "a")

    def action_link(self) -> None:
        links = sorted(self.timeline.snapshot(self.n).links)
        a, b = links[0].split(">") if links else ("", "")
        self.push_screen(link_form(self.validate_line, a, b), self._form_done)

    def action_pause(self) -> None:
        if self.toggle_script():
            return
        if not self.live:
            self.toggle_play()
            return
        self.run_line("resume" if self.paused else "pause")

    def words(self, after_command: bool) -> list[str]:
        if not after_command:
            return list(C.COMMAND_NAMES)
        names = list(self.timeline.head.names)
        links = sorted({link for link, _ in self.timeline.head.links.values()})
        return [*(name for name, _ in self.hosts), *names, *(n + "'" for n in names), *links]

    def on_key(self, event: Any) -> None:
        cmd = self.query_one("#command", Input)
        focused = self.focused
        if (isinstance(focused, Input) and focused.id in ("goto", "filter")
                and event.key == "escape"):
            self.close_box(focused)  # cancelled: nothing applied
            event.stop()
            return
        if focused is not cmd:
            return
        if event.key == "escape":
            self.cancel_box(cmd)
            event.stop()
            return
        if not self.history:
            return
        if event.key == "up":
            self.history_pos = max(self.history_pos - 1, 0)
            cmd.value = self.history[self.history_pos]
            cmd.cursor_position = len(cmd.value)
            event.stop()
        elif event.key == "down":
            self.history_pos = min(self.history_pos + 1, len(self.history))
            cmd.value = self.history[self.history_pos] if self.history_pos < len(
                self.history) else ""
            event.stop()

    def intercept_key(self, event: events.Key) -> bool:
        """Every key, as it arrives, before any binding or widget sees it.  True if it
        was taken here.

        Keys are decided here, in the order typed, when the order matters: a key that
        goes the usual way (to the focused widget, then back up to the app's bindings)
        can be acted on after keys typed later.  So here: the answer to a question
        (:class:`Confirm`); text on its way to the command line; the table's cursor
        moves (a letter right after them must find the row they chose); the letters
        that ask something; and a printable key no binding takes where the focus is,
        which opens the command line with it."""
        focused = self.focused
        if self._confirm is not None:
            if not self._confirm.answered:
                self._confirm.answer(event)
                return True
            self._confirm = None
        box = self._typing_to
        if box is not None and not box.has_focus and box.is_attached:
            return self._to_box(box, event)
        self._typing_to = None
        if len(self.screen_stack) > 1 or isinstance(focused, Input):
            return False
        from tcplab.tui.widgets.sockets import SocketsTable

        if isinstance(focused, SocketsTable) and event.key in TABLE_MOVES:
            getattr(focused, f"action_{TABLE_MOVES[event.key]}")()
            focused.sync_selected()
            return True
        if not event.is_printable or not event.character:
            return False
        active = self.screen.active_bindings.get(event.key)
        if active is None or not active.enabled:
            self.type_command(event.character)
            return True
        if active.binding.action in IMMEDIATE:
            getattr(self, f"action_{active.binding.action}")()
            return True
        return False

    def _to_box(self, box: Input, event: events.Key) -> bool:
        """A key typed while a box (the command line, go to, filter) is taking the
        focus: what it would do there."""
        if event.is_printable and event.character:
            box.value += event.character
            box.cursor_position = len(box.value)
        elif event.key == "backspace":
            box.value = box.value[:-1]
        elif event.key == "enter":
            self._typing_to = None
            if not isinstance(box, CommandLine):
                box.post_message(Input.Submitted(box, box.value))
            elif self.run_line(box.value):
                box.value = ""
        elif event.key == "escape":
            self._typing_to = None
            self.cancel_box(box)
        return True

    def cancel_box(self, box: Input) -> None:
        """Esc in a box: the go to and filter boxes close, the command line is
        cleared (its text stays in the history: Up brings it back)."""
        if not isinstance(box, CommandLine):
            self.close_box(box)
            return
        line = box.value.strip()
        if line and self.history[-1:] != [line]:
            self.history.append(line)
        self.history_pos = len(self.history)
        box.value = ""
        self.query_one("#sockets").focus()
