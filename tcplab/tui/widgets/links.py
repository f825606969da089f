"""Link directions in the hosts panel: their parameters in a few words.

The panel reads a ``link.changed`` event's parameters (the command language's notation,
``loss=5% delay=20ms jitter=0ms bw=10mbit queue=1000 up``) and writes them for people:
units after a space (``20 ms``, ``10 Mbit/s``), parts apart with commas, only what
differs from an unshaped link.
"""

from __future__ import annotations

from tcplab.lab import units

DEFAULT_QUEUE = "1000"   # packets: netem's limit, and the simulated link's


def _seconds(text: str) -> str:
    try:
        return units.format_seconds(units.parse_duration(text))
    except units.UnitError:
        return text


def _rate(text: str) -> str:
    try:
        return units.format_rate(units.parse_bandwidth(text))
    except units.UnitError:
        return text


def compact_params(params: str) -> str:
    """A ``link.changed`` event's parameters in a few words: only what is not zero."""
    values = dict(word.split("=", 1) for word in params.split() if "=" in word)
    if params.split()[-1:] == ["down"]:
        return "DOWN"
    parts = []
    delay = values.get("delay", "0ms")
    jitter = values.get("jitter", "0ms")
    if delay not in ("0", "0ms") or jitter not in ("0", "0ms"):
        text = _seconds(delay)
        if jitter not in ("0", "0ms"):
            text += " ±" + _seconds(jitter)
        parts.append(text)
    if values.get("loss", "0%") not in ("0", "0%"):
        parts.append(values["loss"] + " loss")
    if values.get("bw", "unlimited") != "unlimited":
        parts.append(_rate(values["bw"]))
    for extra in ("dup", "reorder", "burst"):
        if extra in values:
            parts.append(f"{extra} {values[extra]}")
    if values.get("queue", DEFAULT_QUEUE) != DEFAULT_QUEUE:
        parts.append(f"queue {values['queue']}")
    return ", ".join(parts) or "clean"
