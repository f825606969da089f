"""Appending text so that SVG screenshots show it where a terminal does.

A screenshot (``screenshot``, the snapshot tests) draws each run of one style as an
SVG ``<text>`` at its column, and SVG viewers drop the spaces a run starts with, so
``"   0.500"`` is drawn three columns to the left of where the terminal shows it.
:func:`put` gives such leading spaces a run of their own, in a style that looks like
none (a run of spaces alone loses nothing)."""

from __future__ import annotations

from rich.text import Text

PAD_STYLE = "not italic"   # looks like no style, but is another run


def put(text: Text, s: str, style: str = "") -> None:
    """Append ``s`` in ``style``, its leading spaces as a run of their own."""
    body = s.lstrip(" ")
    pad = len(s) - len(body)
    if pad and body:
        text.append(" " * pad, style=PAD_STYLE)
        text.append(body, style=style)
    else:
        text.append(s, style=style)
