"""Link directions in the hosts panel: their parameters in a few characters."""

from __future__ import annotations


def compact_params(params: str) -> str:
    """A ``link.changed`` event's parameters (``loss=5% delay=20ms jitter=0ms
    bw=unlimited up``) in a few characters: only what is not zero."""
    values = dict(word.split("=", 1) for word in params.split() if "=" in word)
    if params.split()[-1:] == ["down"]:
        return "DOWN"
    parts = []
    if values.get("delay", "0ms") != "0ms":
        parts.append(values["delay"])
    if values.get("jitter", "0ms") != "0ms":
        parts.append("±" + values["jitter"])
    if values.get("loss", "0%") != "0%":
        parts.append(values["loss"] + " loss")
    if values.get("bw", "unlimited") != "unlimited":
        parts.append(values["bw"])
    for extra in ("dup", "reorder", "burst"):
        if extra in values:
            parts.append(f"{extra} {values[extra]}")
    return " ".join(parts) or "clean"
