"""A scrollable history pane: follows the newest line until the user scrolls away.

The ladder and the log are long lists that grow while a run goes on.  This pane
scrolls with the keys (↑/↓, PageUp/PageDown, Home/End) and the mouse wheel, follows the
newest line by default, stops following as soon as the user scrolls up -- the lines
then stay as they are, new ones wait -- and follows again on End (or when scrolled
back to the bottom).  New lines that extend what is
shown are appended; anything else (another connection, a seek) redraws it whole.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.widgets import RichLog

MAX_LINES = 5000
MAX_BURST = 200     # new lines drawn at most in one redraw (a few screens)


class HistoryLog(RichLog):
    """See the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(wrap=False, markup=False, highlight=False, auto_scroll=False,
                         max_lines=MAX_LINES, **kwargs)
        self.following = True
        self._shown_for: object = None
        self._plain: list[str] = []

    def show(self, context: object, lines: list[Text]) -> None:
        """Show ``lines`` (oldest first); ``context`` names what they are of (a
        connection and a filter): lines of another context replace all."""
        if context != self._shown_for:
            self.following = True  # another connection (or filter): from its newest line
        elif not self.following:
            # scrolled up: what the user reads stays put (new lines come with End);
            # appending would also push the oldest lines out under the reader
            return
        plain = [line.plain for line in lines]
        start = self._extends(context, plain)
        if start is None or len(lines) - start > MAX_BURST:
            # drawing a line costs a fraction of a millisecond: thousands of new lines
            # in one redraw (a fast transfer) would stall the dashboard, so a burst
            # starts the pane again with its last lines (all of them stay in the run's
            # timeline: go back in time, or export the ladder)
            self.clear()
            self._plain = []
            start = max(len(lines) - MAX_BURST, 0)
        new = lines[start:]
        if new:
            # one write for them all (a write costs about a millisecond however short);
            # it scrolls when following: a pane without a size yet (a tab not shown)
            # writes its lines later, and the flag goes with them
            self.write(Text("\n").join(new), scroll_end=self.following)
        self._plain = plain[-MAX_LINES:] if start == 0 or self._plain else plain[start:]
        self._shown_for = context

    def _extends(self, context: object, plain: list[str]) -> int | None:
        """Where the new lines start when ``plain`` only adds lines after those shown."""
        shown = self._plain
        if context != self._shown_for:
            return None
        if not shown:
            return 0 if not plain else None
        last = shown[-1]
        # usually a few new lines: the last shown one is near the end of the new list
        for i in range(len(plain) - 1, -1, -1):
            if plain[i] != last:
                continue
            k = min(len(shown), i + 1)
            if plain[i + 1 - k: i + 1] == shown[len(shown) - k:]:
                return i + 1
        return None

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if changed and self.following:
            # the end moved after the lines were written (a tab shown, a resize): still
            # at the newest line, whenever the layout settles
            self.call_after_refresh(self.scroll_end, animate=False)
        if size.width and not self._size_known:
            # a tab shown while another pane scrolls gets no Resize from Textual (its
            # scroll-only refresh skips it), and RichLog draws nothing before one
            self.post_message(events.Resize(size, virtual_size, container_size))
        return changed

    # -- following ----------------------------------------------------------------
    def _user_scrolled(self) -> None:
        self.following = self.scroll_y >= self.max_scroll_y

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self.following = False

    def action_page_up(self) -> None:
        super().action_page_up()
        self.following = False

    def action_scroll_home(self) -> None:
        super().action_scroll_home()
        self.following = False

    def action_scroll_end(self) -> None:
        super().action_scroll_end()
        self.following = True

    def action_scroll_down(self) -> None:
        super().action_scroll_down()
        self.call_after_refresh(self._user_scrolled)

    def action_page_down(self) -> None:
        super().action_page_down()
        self.call_after_refresh(self._user_scrolled)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        super()._on_mouse_scroll_up(event)
        self.following = False

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        super()._on_mouse_scroll_down(event)
        self.call_after_refresh(self._user_scrolled)
