"""Link directions in the hosts panel: their parameters in a few words.

The panel reads a ``link.changed`` event's parameters (the command language's notation,
``loss=5% delay=20ms jitter=0ms bw=10mbit queue=1000 up``, read back by
:func:`tcplab.lab.units.read_link_words`) and writes them for people: units after a space
(``20 ms``, ``10 Mbit/s``), parts apart with commas, only what differs from an unshaped
link.  A value that does not read (another notation) is shown as it was written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tcplab.lab import units


def _shown(value: Any, render: Callable[[Any], str]) -> str:
    return value if isinstance(value, str) else render(value)


def compact_params(params: str) -> str:
    """A ``link.changed`` event's parameters in a few words: only what is not zero."""
    values = units.read_link_words(params)
    if values.get("up") is False:
        return "DOWN"
    parts = []
    delay, jitter = values.get("delay", 0.0), values.get("jitter", 0.0)
    if delay or jitter:
        text = _shown(delay, units.format_seconds)
        if jitter:
            text += " ±" + _shown(jitter, units.format_seconds)
        parts.append(text)
    if loss := values.get("loss"):
        parts.append(_shown(loss, units.format_percent) + " loss")
    if bw := values.get("bw"):
        parts.append(_shown(bw, units.format_rate))
    for extra in ("dup", "reorder", "burst"):
        if extra in values:
            parts.append(f"{extra} {_shown(values[extra], units.LINK_PARAMS[extra].format)}")
    if values.get("queue", units.DEFAULT_QUEUE) != units.DEFAULT_QUEUE:
        parts.append(f"queue {_shown(values['queue'], units.format_queue)}")
    return ", ".join(parts) or "clean"
