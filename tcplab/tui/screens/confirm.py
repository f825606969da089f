"""A one-key confirmation: "shutdown c1? w or Enter: yes, any other key: no".

The keys that end a connection (and ``q`` while a lab runs) ask first, so a word typed
by mistake into the sockets table cannot shut anything down.  The same letter again
or Enter confirms; any other key cancels, and a printable one goes on to the command
line together with the letter (typing ``wait 1`` there gives the line ``wait 1``).
Keys that arrive after the answer, before the screen is gone, follow it there.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static


class Confirm(ModalScreen[bool]):
    """Dismissed with True (confirmed) or False; ``typed`` gets what to type on."""

    DEFAULT_CSS = """
    Confirm {
        align: center bottom;
        background: $background 30%;
    }
    #confirm {
        width: auto;
        max-width: 100%;
        height: auto;
        border: tall $warning;
        background: $surface;
        padding: 0 1;
        margin-bottom: 4;
    }
    """

    def __init__(self, question: str, letter: str, typed: Callable[[str], None]) -> None:
        super().__init__()
        self.question = question
        self.letter = letter
        self.typed = typed
        self.answered = False

    def compose(self) -> ComposeResult:
        text = Text()
        text.append(f"{self.question}  ", style="bold")  # no run starts with a space
        text.append(f"{self.letter} or Enter: yes · any other key: no")
        yield Static(text, id="confirm")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.answer(event)

    def answer(self, event: events.Key) -> None:
        """Take one key (the app hands them over from the moment this screen is asked
        for: keys typed fast can come before it is up)."""
        if self.answered:  # typed on before the screen went: to the command line
            if event.is_printable and event.character:
                self.typed(event.character)
            return
        self.answered = True
        if event.key in ("enter", self.letter) or event.character == self.letter:
            self.dismiss(True)
            return
        self.dismiss(False)
        if event.is_printable and event.character:
            self.typed(self.letter + event.character)
