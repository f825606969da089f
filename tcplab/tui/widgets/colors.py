"""The dashboard's colours: one per TCP state, and a few for what text means (ok,
error, warning, a mark on the timeline), in two palettes -- for dark and for light
themes -- each readable on its theme's backgrounds.

Colour is never the only sign: a state is always written out, an error says
"error:", a drop on the timeline is an ``x``.  So a 16-colour terminal, which turns
these into its nearest ANSI colours, and ``NO_COLOR``, which Textual turns into shades
of grey, lose nothing but the tint.

:data:`STATE_COLORS` and :data:`ROLE` are the palette in use: the app switches them
(:func:`use_palette`) with its theme, and every pane reads them when it draws.
"""

from __future__ import annotations

from tcplab.tcp.states import State

# on Textual's dark backgrounds (#121212 .. #242F38): light tints
DARK: dict[State, str] = {
    State.CLOSED: "#b2b2b2",
    State.LISTEN: "#5fd7ff",
    State.SYN_SENT: "#ffd75f",
    State.SYN_RECEIVED: "#ffd75f",
    State.ESTABLISHED: "#5fd75f",
    State.FIN_WAIT_1: "#ff87ff",
    State.FIN_WAIT_2: "#ff87ff",
    State.CLOSE_WAIT: "#ffaf5f",
    State.CLOSING: "#ff8787",
    State.LAST_ACK: "#ffaf5f",
    State.TIME_WAIT: "#87afff",
}
# on Textual's light backgrounds (#C6C6C6 .. #FFFFFF): dark shades, each one that a
# 16-colour terminal turns into black, blue, magenta or red (its yellow, green, cyan and
# greys are unreadable on white)
LIGHT: dict[State, str] = {
    State.CLOSED: "#202020",
    State.LISTEN: "#0040b0",
    State.SYN_SENT: "#403800",
    State.SYN_RECEIVED: "#403800",
    State.ESTABLISHED: "#105008",
    State.FIN_WAIT_1: "#800080",
    State.FIN_WAIT_2: "#800080",
    State.CLOSE_WAIT: "#802800",
    State.CLOSING: "#a00000",
    State.LAST_ACK: "#802800",
    State.TIME_WAIT: "#2020c0",
}
DARK_ROLES = {"ok": "#5fd75f", "error": "#ff8787", "warn": "#ffd75f", "mark": "#ffd75f",
              "drop": "#ff8787", "break": "#ff87ff"}
LIGHT_ROLES = {"ok": "#105008", "error": "#a00000", "warn": "#802800", "mark": "#2020c0",
               "drop": "#a00000", "break": "#800080"}

STATE_COLORS: dict[State, str] = dict(DARK)
ROLE: dict[str, str] = dict(DARK_ROLES)


def use_palette(dark: bool) -> None:
    """Switch the palette in use (in place: modules hold these dicts)."""
    STATE_COLORS.update(DARK if dark else LIGHT)
    ROLE.update(DARK_ROLES if dark else LIGHT_ROLES)


def state_style(state: State) -> str:
    return STATE_COLORS[state]


def role(name: str, extra: str = "") -> str:
    """A style for what text means: ``role("error", "bold")``."""
    return f"{extra} {ROLE[name]}".strip()
