"""Parsing the parameters of ``link A B ...``: loss, delay, jitter, bw, dup, reorder,
burst, queue, dir, up and down.

Each value (a percentage, a duration, a bandwidth, a burst, a queue) is read by
:mod:`tcplab.lab.units` (its :data:`~tcplab.lab.units.LINK_PARAMS`), which also prints
it, so ``Link.to_line()`` parses back to the same value.  Here: which words a ``link``
takes, each once, and ``dir=``.
"""

from __future__ import annotations

from typing import Any

from tcplab.lab import units
from tcplab.lab.commands import values as v
from tcplab.lab.commands.lexer import ParseFail
from tcplab.lab.commands.model import Flow, Link

_LINK_KEYS = (*units.LINK_PARAMS, "dir", "up", "down")


def parse_link(a: str, b: str, words: list[str]) -> Link:
    """The ``link A B`` command from its two nodes and its parameter words."""
    if a == b:
        raise ParseFail(f"a link joins two different nodes, not {a} and {b}")
    values: dict[str, Any] = {}
    up: bool | None = None
    direction: Flow | None = None
    for word in words:
        key, eq, raw = word.partition("=")
        key = key.lower()
        if not eq and key in ("up", "down"):
            if up is not None:
                raise ParseFail("up/down given twice")
            up = units.parse_up(key)
            continue
        if not eq and key in units.LINK_PARAMS:
            # "loss 5%": the name is right, the form is not
            raise ParseFail(f"{key} takes its value after '=', as in "
                            f"{key}={units.LINK_PARAMS[key].example}")
        if not eq or key not in _LINK_KEYS or key in ("up", "down"):
            raise ParseFail(f"unknown link parameter {word!r}{v.suggest(key, _LINK_KEYS)}")
        if key in values or (key == "dir" and direction is not None):
            raise ParseFail(f"{key} given twice")
        if key == "dir":
            direction = _direction(raw, a, b)
            continue
        try:
            values[key] = units.parse_link_param(key, raw)
        except units.UnitError as error:
            raise ParseFail(str(error)) from None
    if not values and direction is None and up is None:
        raise ParseFail(f"link {a} {b} needs at least one of loss=, delay=, jitter=, bw=, dup=, "
                        f"reorder=, burst=, queue=, up, down")
    if not values and up is None:
        raise ParseFail("dir= says which direction to change, but nothing is changed")
    if "bw" in values:  # units: None is unlimited; Link.bw: None is unchanged, 0 unlimited
        values["bw"] = values["bw"] or 0.0
    return Link(a, b, up=up, direction=direction, **values)


def _direction(raw: str, a: str, b: str) -> Flow:
    flow = v.flow(raw, "dir")
    if {flow.src, flow.dst} != {a, b}:
        raise ParseFail(f"dir={raw} is not a direction of link {a} {b} (use {a}>{b} or {b}>{a})")
    return flow
