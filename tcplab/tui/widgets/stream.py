"""The stream view: what each side's application received, delivery by delivery, with
the first bytes of each as text or hex (recordings keep the first 16 bytes of each
delivery, so a replay shows the same)."""

from __future__ import annotations

from rich.text import Text

from tcplab.tui.widgets.panel import Panel

Delivery = tuple[float, int, str, str]  # (t, length, hex, text)


def render_stream(sides: list[tuple[str, int, list[Delivery]]], as_hex: bool) -> Text:
    text = Text()
    for label, total, deliveries in sides:
        text.append(f"{label}: {total} bytes delivered to the application", style="bold")
        text.append(" (h: hex)\n" if not as_hex else " (h: text)\n", style="dim")
        for t, length, hexed, plain in deliveries:
            text.append(f"{t:9.3f} {length:7} B  ", style="dim")
            if as_hex:
                text.append(" ".join(hexed[i:i + 2] for i in range(0, len(hexed), 2)))
            else:
                text.append(plain)
            text.append("\n")
        text.append("\n")
    if not sides:
        text.append("select a connection in the sockets table", style="dim")
    return text


class StreamView(Panel):
    def show(self, sides: list[tuple[str, int, list[Delivery]]], as_hex: bool) -> None:
        self.put(render_stream(sides, as_hex))
