"""The stream view: what each side's application received, in order, as text or hex
(like Wireshark's "Follow TCP stream"), however many segments were lost on the way."""

from __future__ import annotations

from rich.text import Text

from tcplab.tui.model import ConnectionView
from tcplab.tui.widgets.panel import Panel

SHOW = 2048


def _text(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 or b in (10, 9) else "." for b in data)


def _hex(data: bytes) -> str:
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off: off + 16]
        lines.append(f"{off:06x}  {chunk.hex(' '):<47}  {_text(chunk).replace(chr(10), '.')}")
    return "\n".join(lines)


def render_stream(views: list[tuple[str, ConnectionView]], as_hex: bool) -> Text:
    text = Text()
    for label, view in views:
        shown = bytes(view.delivered[-SHOW:])
        text.append(f"{label}: {view.delivered_total} bytes delivered to the application",
                    style="bold")
        if view.delivered_total > len(shown):
            text.append(f" (last {len(shown)} shown)", style="dim")
        text.append("\n")
        text.append((_hex(shown) if as_hex else _text(shown)) + "\n\n")
    if not views:
        text.append("select a connection in the sockets table", style="dim")
    return text


class StreamView(Panel):
    def show(self, views: list[tuple[str, ConnectionView]], as_hex: bool) -> None:
        self.put(render_stream(views, as_hex))
