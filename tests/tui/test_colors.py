"""The dashboard's colours are readable everywhere: Pilot runs the dashboard with
sockets in many states, a link down and a flash running, under Textual's dark and light
themes, and measures the contrast of every piece of text in the panes drawn here
(sockets table, status line, timeline bar, hosts and links, result line) as a
true-colour, a 256-colour and a 16-colour terminal would show it; and again with
``NO_COLOR`` set, where Textual draws in greys and each state must still be there as
text (colour is never the only sign).

Contrast is WCAG's ratio of relative luminances; 3:1 is its floor for large or bold
text and for interface parts, and Textual's own table cursor sits near 3.8:1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from rich.color import Color, ColorSystem
from rich.segment import Segment
from rich.terminal_theme import DEFAULT_TERMINAL_THEME
from textual.geometry import Region

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.tcp.states import State
from tcplab.tui.app import TcplabApp
from tcplab.tui.widgets.colors import DARK, LIGHT, STATE_COLORS

PANES = ("#sockets", "#status", "#timeline", "#hosts", "#result")
SYSTEMS = {"truecolor": None, "256 colours": ColorSystem.EIGHT_BIT,
           "16 colours": ColorSystem.STANDARD}
FLOOR = 3.0
SETUP = ("link h2 s1 delay=20ms loss=5%", "listen h2:80", "connect h1 h2:80 as c1",
         "wait 0.5", "close c1", "wait 0.3", "connect h1 h2:80 as c2", "wait 0.3",
         "close c2", "close c2'", "wait 0.3", "connect h1 h2:80 as c4", "wait 0.3",
         "link h1 s1 down", "connect h1 h2:80 as c3", "wait 0.2", "bad command")
SHOWN = {"LISTEN", "ESTABLISHED", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "SYN-SENT"}


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else float(((c + 0.055) / 1.055) ** 2.4)
    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def shown_as(color: Color, system: ColorSystem | None) -> tuple[int, int, int]:
    """The colour a terminal of that kind shows (a 16-colour one: xterm's palette)."""
    if system is not None:
        color = color.downgrade(system)
    t = color.get_truecolor(DEFAULT_TERMINAL_THEME)
    return (t.red, t.green, t.blue)


def segments(app: TcplabApp) -> Iterator[tuple[str, Segment]]:
    """Every piece of text in the panes, as drawn (theme, filters such as NO_COLOR's)."""
    for pane in PANES:
        widget = app.query_one(pane)
        for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
            for segment in strip:
                if segment.text.strip() and segment.style is not None:
                    yield pane, segment


def worst(app: TcplabApp, system: ColorSystem | None) -> tuple[float, str]:
    low = (99.0, "")
    for pane, segment in segments(app):
        style = segment.style
        assert style is not None and style.color is not None and style.bgcolor is not None, (
            pane, segment)
        fg, bg = style.color, style.bgcolor
        if style.reverse:
            fg, bg = bg, fg
        ratio = contrast(shown_as(fg, system), shown_as(bg, system))
        if ratio < low[0]:
            low = (ratio, f"{pane} {segment.text.strip()!r} {fg.name} on {bg.name}")
    return low


async def dashboard(theme: str) -> tuple[dict[str, tuple[float, str]], set[str], bool]:
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.keep_timeline()
    lab.start()
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=(180, 40)) as pilot:
        for line in SETUP:
            app.run_line(line)
        app.theme = theme
        await pilot.pause(0.3)
        table = app.table
        states = {table.cell(r, "state") for r in range(table.row_count)}
        flashing = any("reverse" in str(seg.style) for pane, seg in segments(app)
                       if pane == "#sockets" and seg.text.strip() in SHOWN)
        palette_ok = (DARK if app.current_theme.dark else LIGHT) == STATE_COLORS
        low = {name: worst(app, system) for name, system in SYSTEMS.items()}
        return low, states, flashing and palette_ok


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_every_pane_is_readable_in_every_terminal(theme: str) -> None:
    low, states, flash_and_palette = asyncio.run(dashboard(theme))
    assert states >= SHOWN, states
    assert flash_and_palette
    for system, (ratio, where) in low.items():
        assert ratio >= FLOOR, f"{theme}, {system}: {where} has contrast {ratio:.2f}"


def test_no_color_keeps_every_state_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    low, states, _ = asyncio.run(dashboard("textual-dark"))
    assert states >= SHOWN, states
    ratio, where = low["truecolor"]
    assert ratio >= FLOOR, f"NO_COLOR: {where} has contrast {ratio:.2f}"


def test_palettes_cover_every_state_and_differ() -> None:
    assert set(DARK) == set(LIGHT) == set(State)
    assert all(DARK[s] != LIGHT[s] for s in State)
