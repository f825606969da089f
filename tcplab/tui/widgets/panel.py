"""A Static that redraws only when what it shows changed.

Every ``update`` of a Textual Static asks for a new layout; the dashboard redraws many
times a second, mostly with the same text, so unchanged content is skipped here."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Panel(Static):
    _shown: object = None

    def put(self, content: Text | str) -> None:
        key = (content.plain, tuple(content.spans)) if isinstance(content, Text) else content
        if key != self._shown:
            self._shown = key
            self.update(content)
