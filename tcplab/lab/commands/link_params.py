"""Parsing the parameters of ``link A B ...``: loss, delay, jitter, bw, dup, reorder,
burst, queue, dir, up and down.

The numbers themselves (percentages, durations, bandwidths) are read by
:mod:`tcplab.lab.units`, which also prints them, so ``Link.to_line()`` parses back to the
same value.
"""

from __future__ import annotations

from tcplab.lab import units
from tcplab.lab.commands import values as v
from tcplab.lab.commands.lexer import ParseFail
from tcplab.lab.commands.model import Flow, Link

_DURATION_KEYS = ("delay", "jitter")
_LINK_KEYS = ("loss", "delay", "jitter", "bw", "dup", "reorder", "burst", "queue", "dir", "up",
              "down")


def parse_link(a: str, b: str, words: list[str]) -> Link:
    """The ``link A B`` command from its two nodes and its parameter words."""
    if a == b:
        raise ParseFail(f"a link joins two different nodes, not {a} and {b}")
    numbers: dict[str, float] = {}
    queue: int | None = None
    up: bool | None = None
    direction: Flow | None = None
    burst: tuple[float, float] | None = None
    seen: set[str] = set()
    for word in words:
        key, eq, raw = word.partition("=")
        key = key.lower()
        if not eq and key in ("up", "down"):
            if up is not None:
                raise ParseFail("up/down given twice")
            up = key == "up"
            continue
        if not eq or key not in _LINK_KEYS or key in ("up", "down"):
            raise ParseFail(f"unknown link parameter {word!r}{v.suggest(key, _LINK_KEYS)}")
        if key in seen:
            raise ParseFail(f"{key} given twice")
        seen.add(key)
        if key == "dir":
            direction = _direction(raw, a, b)
        elif key == "burst":
            burst = _burst(raw)
        elif key == "queue":
            queue = v.count(raw, "queue", 1)
        else:
            numbers[key] = _link_number(key, raw)
    if not seen and up is None:
        raise ParseFail(f"link {a} {b} needs at least one of loss=, delay=, jitter=, bw=, dup=, "
                        f"reorder=, burst=, queue=, up, down")
    if seen == {"dir"} and up is None:
        raise ParseFail("dir= says which direction to change, but nothing is changed")
    return Link(a, b, loss=numbers.get("loss"), delay=numbers.get("delay"),
                jitter=numbers.get("jitter"), bw=numbers.get("bw"), dup=numbers.get("dup"),
                reorder=numbers.get("reorder"), queue=queue, up=up, direction=direction,
                burst=burst)


def _burst(raw: str) -> tuple[float, float]:
    """``burst=P%,R%``: Gilbert-Elliott bursty loss, P the chance to enter the lossy
    state per frame, R the chance to leave it; ``burst=0`` turns it off."""
    if raw in ("0", "0%", "off"):
        return (0.0, 0.0)
    p_text, comma, r_text = raw.partition(",")
    if not comma:
        raise ParseFail(f"bad value for burst: {raw!r} (expected P%,R% like burst=1%,25%, or 0)")
    try:
        p, r = units.parse_percent(p_text), units.parse_percent(r_text)
    except units.UnitError as error:
        raise ParseFail(f"bad value for burst: {raw!r} ({error})") from None
    if r == 0 and p > 0:
        raise ParseFail("bad value for burst: R must be above 0% (or the loss never ends)")
    return (p, r)


def _link_number(key: str, raw: str) -> float:
    try:
        if key in _DURATION_KEYS:
            seconds = units.parse_duration(raw, bare="ms")
            units.check_delay(seconds)
            return seconds
        if key == "bw":  # Link.bw 0: unlimited
            return units.parse_link_bandwidth(raw, bare="mbit") or 0.0
        return units.parse_percent(raw)
    except units.UnitError as error:
        raise ParseFail(f"bad value for {key}: {raw!r} ({error})") from None


def _direction(raw: str, a: str, b: str) -> Flow:
    flow = v.flow(raw, "dir")
    if {flow.src, flow.dst} != {a, b}:
        raise ParseFail(f"dir={raw} is not a direction of link {a} {b} (use {a}>{b} or {b}>{a})")
    return flow
