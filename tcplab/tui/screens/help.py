"""The help screen: key bindings, the command language and what each state means."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tcplab.lab.commands import HELP
from tcplab.tcp.states import MEANINGS
from tcplab.tui.widgets.colors import STATE_COLORS

# moving around: Textual's own keys, listed with the dashboard's
NAVIGATION: list[tuple[str, str]] = [
    ("Tab", "next pane: sockets table, tab bar, the tab's pane, command line"),
    ("Shift+Tab", "previous pane"),
    ("←/→", "on the tab bar: the previous/next tab; in the table: scroll sideways"),
    ("↑/↓", "in the table: the previous/next socket; in a pane: scroll"),
    ("PgUp/PgDn", "scroll a page"),
    ("Esc", "stop a wait or playback; clear the command line or a box; close help"),
    ("Enter", "run the command line; confirm shutdown/close/abort/quit"),
    ("Ctrl+P", "command palette: every action by name"),
    ("Ctrl+C", "copy in the command line; elsewhere it says how to quit"),
    ("Ctrl+Q", "quit at once"),
    ("other", "a letter no key takes opens the command line with it"),
]


def help_text(bindings: list[tuple[str, str]]) -> Text:
    text = Text()
    text.append("Keys\n", style="bold underline")
    for key, what in bindings:
        text.append(f"  {key:<11}", style="bold")
        text.append(f"{what}\n")
    text.append("\nl c s w x a k act on the sockets table only (focus it with Tab or Esc); "
                "w x a ask first: the same letter again or Enter confirms\n")
    text.append("\nCommand line (press : ) — the same language as scenario files\n",
                style="bold underline")
    for line in HELP.values():
        text.append(f"  {line}\n")
    text.append("\nThe dashboard's own commands (also in a replay)\n", style="bold underline")
    text.append("  export ladder CONN FILE -- the connection's ladder as a drawing (FILE.svg) "
                "or text\n")
    text.append("  screenshot [FILE.svg] -- the dashboard as SVG\n")
    text.append("\nStates (RFC 9293 §3.3.2)\n", style="bold underline")
    for state, meaning in MEANINGS.items():
        text.append(f"  {state.value:<13}", style=f"bold {STATE_COLORS[state]}")
        text.append(f"{meaning}\n")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        ("escape", "dismiss_help", "Close"), ("q", "dismiss_help", "Close"),
        ("question_mark", "dismiss_help", "Close"), ("f1", "dismiss_help", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.bindings_list = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text(self.bindings_list))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
