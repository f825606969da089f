"""The dashboard's actions in Textual's command palette (ctrl+p)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tcplab.tui.app import TcplabApp

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Listen", "listen", "open a listening socket on a host"),
    ("Connect", "connect", "open a connection (active open)"),
    ("Send", "send", "send text, N bytes or a file on a connection"),
    ("Shutdown selected connection", "shutdown", "close the sending side (FIN)"),
    ("Close selected connection", "close", "close (FIN after queued data)"),
    ("Abort selected connection", "abort", "reset the connection (RST)"),
    ("Change a link", "link", "loss, delay, jitter, bandwidth, up/down, per direction"),
    ("Pause or resume the clock", "pause", "simulated network only"),
    ("Filter sockets", "filter", "by host, address or state"),
    ("Cycle the segment filter", "segment_filter", "SYN, FIN, RST, data, rtx, drops"),
    ("Command line", "command_line", "type the command language"),
    ("Help", "help", "keys, commands and what each state means"),
)


class TcplabCommands(Provider):
    async def discover(self) -> Hits:
        for title, action, help_text in ACTIONS:
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action),
                          help=help_text)

    def _run(self, action: str) -> None:
        app: TcplabApp = self.app  # type: ignore[assignment]
        getattr(app, f"action_{action}")()
