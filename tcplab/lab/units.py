"""Values with units, as people type them: percentages, durations, bandwidths.

Theory of operation
-------------------
The command language (``link h1 s1 loss=5% delay=20ms bw=10mbit``) and the topology loader
(Mininet ``TCLink`` options) both turn text into SI values: a fraction 0..1, seconds, bits
per second.  Every parser accepts a plain decimal number (no sign, no exponent) followed by
an optional unit; the ``format_*`` functions render a value so that parsing the text gives
back the *identical* float, which the command language's ``to_line`` round trip relies on.

Arithmetic goes through :class:`decimal.Decimal` because every unit is a power of ten:
scaling a decimal by 10**k is exact, so "20ms" is the float nearest to 0.020, and shifting the
shortest decimal form of a float (its repr) gives text that reads back as that float.

A number without a unit means what the caller says (``bare``): milliseconds for delays typed
in the command language, seconds for ``wait``, microseconds for delays in topology files
(what ``tc``/netem does with a bare number, so a file means the same under Mininet), and
Mbit/s for bandwidths (Mininet's ``bw=10``).  ``kbps``/``Mbps``/``Gbps`` are *bits* per
second here, as people usually mean them -- not ``tc``'s bytes.

Link parameters
---------------
Each parameter of a link direction (``loss``, ``delay``, ``jitter``, ``bw``, ``dup``,
``reorder``, ``burst``, ``queue``, ``up``/``down``) has one parse/format pair here, listed
in :data:`LINK_PARAMS`.  Every place that reads or writes one goes through it: the
``link`` command's parser and its ``to_line()``, topology files and their descriptions,
the ``link`` reply and ``link.changed`` events (:func:`describe_link`) and the dashboard's
links pane, which reads those events back.  So a value printed anywhere reads back as the
identical value, and the same text means the same thing everywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

# Shifting by a power of ten must not round: the one rounding is the final one to float.
_EXACT = Context(prec=1000)

_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([A-Za-z%]*)")

# unit -> power of ten that turns the number into the base unit
DURATION_UNITS: dict[str, int] = {
    "s": 0, "sec": 0, "secs": 0,
    "ms": -3, "msec": -3, "msecs": -3,
    "us": -6, "usec": -6, "usecs": -6,
}
BANDWIDTH_UNITS: dict[str, int] = {
    "bit": 0, "kbit": 3, "mbit": 6, "gbit": 9,
    "bps": 0, "kbps": 3, "mbps": 6, "gbps": 9,
}
_UNIT_EXPONENTS: dict[str, int] = {"%": -2, **DURATION_UNITS, **BANDWIDTH_UNITS}


# what a link can be set to (the command language and topology files alike): slower than
# 1 kbit/s a single full-size frame takes minutes, and a delay over a minute outlives
# every TCP timer worth watching; neither is a lab, both are typos (bw=1bit, delay=100000s)
MIN_BANDWIDTH = 1000.0      # bits/s
MAX_DELAY = 60.0            # seconds, for delay and for jitter
DEFAULT_QUEUE = 1000        # packets: netem's limit, and the simulated link's


class UnitError(ValueError):
    """A value that does not parse; the message says what was expected."""


def _split(text: str) -> tuple[Decimal, str] | None:
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        return None
    return Decimal(match[1]), match[2].lower()


def _scaled(number: Decimal, exponent: int) -> float:
    return float(number.scaleb(exponent, _EXACT))


def parse_percent(text: str) -> float:
    """``5%`` or ``5`` -> 0.05.  Must be 0..100 percent."""
    parts = _split(text)
    if parts is None or parts[1] not in ("", "%"):
        raise UnitError("expected a percentage like 5%")
    if parts[0] > 100:
        raise UnitError("a percentage must be between 0% and 100%")
    return _scaled(parts[0], -2)


def parse_duration(text: str, bare: str = "ms") -> float:
    """``20ms``, ``0.02s``, ``20000us`` -> seconds; a bare number is in unit ``bare``."""
    parts = _split(text)
    unit = (parts[1] or bare) if parts is not None else ""
    if parts is None or unit not in DURATION_UNITS:
        raise UnitError(f"expected a duration like 20ms, 0.5s or 200us (bare numbers are {bare})")
    return _scaled(parts[0], DURATION_UNITS[unit])


def parse_bandwidth(text: str, bare: str = "mbit") -> float:
    """``10mbit``, ``500kbit``, ``1gbit``, ``10Mbps`` -> bits/s; a bare number is in ``bare``."""
    parts = _split(text)
    unit = (parts[1] or bare) if parts is not None else ""
    if parts is None or unit not in BANDWIDTH_UNITS:
        raise UnitError(f"expected a bandwidth like 10mbit or 500kbit (bare numbers are {bare})")
    return _scaled(parts[0], BANDWIDTH_UNITS[unit])


def read_link_bandwidth(text: str, bare: str = "mbit") -> float | None:
    """A link's ``bw`` as written: a bandwidth, or ``unlimited`` (None)."""
    if text.strip().lower() == "unlimited":
        return None
    try:
        return parse_bandwidth(text, bare)
    except UnitError:
        raise UnitError(f"expected a bandwidth like 10mbit or 500kbit, or unlimited (bare "
                        f"numbers are {bare})") from None


def check_link_bandwidth(bits_per_second: float | None) -> None:
    """What a link's ``bw`` can be set to: None (unlimited), or at least 1 kbit/s."""
    if bits_per_second == 0:
        raise UnitError("0 would carry nothing: write bw=unlimited for no limit")
    if bits_per_second is not None:
        check_bandwidth(bits_per_second)


def parse_link_bandwidth(text: str, bare: str = "mbit") -> float | None:
    """A link's ``bw``: a bandwidth of at least 1 kbit/s, or ``unlimited`` (None)."""
    bits = read_link_bandwidth(text, bare)
    check_link_bandwidth(bits)
    return bits


def check_bandwidth(bits_per_second: float) -> None:
    """A link's bandwidth: at least :data:`MIN_BANDWIDTH`."""
    if bits_per_second < MIN_BANDWIDTH:
        raise UnitError(f"{format_rate(bits_per_second)} is below 1 kbit/s, the smallest "
                        f"bandwidth; write bw=unlimited for no limit")


def check_delay(seconds: float) -> None:
    """Delays and jitters: at most :data:`MAX_DELAY`."""
    if seconds > MAX_DELAY:
        raise UnitError(f"{format_duration(seconds)} is over 60s, the longest")


def parse_count(text: str) -> int:
    """A non-negative decimal integer (no sign, no separators)."""
    if not text.isascii() or not text.isdigit():
        raise UnitError("expected a whole number like 100")
    return int(text)


def format_number(value: float, exponent: int = 0) -> str:
    """Decimal text ``d`` (no unit) such that ``d * 10**exponent`` parses back to ``value``.

    Python's repr is the shortest decimal that reads back as the same float; shifting its
    decimal point is exact, so the result reads back exactly too.
    """
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"cannot render {value!r}: values are finite and non-negative")
    if value == 0:
        return "0"  # also for -0.0
    text = format(Decimal(repr(value)).scaleb(-exponent, _EXACT), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_percent(fraction: float) -> str:
    """0.05 -> ``5%``."""
    return format_number(fraction, -2) + "%"


def format_duration(seconds: float) -> str:
    """Seconds in the unit a person would pick: ``1.5s``, ``20ms``, ``250us``, ``0``."""
    if seconds == 0:
        return "0"
    if seconds >= 1:
        return format_number(seconds) + "s"
    if seconds >= 1e-3:
        return format_number(seconds, -3) + "ms"
    return format_number(seconds, -6) + "us"


def format_bandwidth(bits_per_second: float) -> str:
    """Bits/s in the largest unit it reaches: ``10mbit``, ``500kbit``, ``1gbit``, ``0``."""
    if bits_per_second == 0:
        return "0"
    for unit, exponent in (("gbit", 9), ("mbit", 6), ("kbit", 3)):
        if bits_per_second >= 10.0 ** exponent:
            return format_number(bits_per_second, exponent) + unit
    return format_number(bits_per_second) + "bit"


def from_number(value: int | float, unit: str) -> float:
    """A number given in ``unit`` (``%``, ``ms``, ``mbit``, ...) -> the base unit.

    For numbers that are not text: a topology file's ``loss=33.3`` (percent) or ``bw=10``
    (Mbit/s).  The number is taken as the decimal it reads as (its repr), so it means
    exactly what ``33.3%`` or ``10mbit`` typed in a command does.
    """
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise UnitError(f"expected a number from 0 up, not {value!r}")
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    return _scaled(number, _UNIT_EXPONENTS[unit.lower()])


# -- link parameters: one parse/format pair per kind (see "Link parameters" above)
# A kind's ``read_*`` takes the notation only; ``check_*`` says what a link can be set to.
# Commands and topology files parse (read, then check); the links pane only reads, so it
# shows whatever a description says.

def read_delay(text: str) -> float:
    """A link's delay or jitter as written: a duration whose bare numbers are ms."""
    return parse_duration(text, bare="ms")


def parse_delay(text: str, bare: str = "ms") -> float:
    """A link's delay or jitter: a duration (:func:`parse_duration`) of at most 60 s.
    Written back by :func:`format_duration`."""
    seconds = parse_duration(text, bare)
    check_delay(seconds)
    return seconds


def format_link_bandwidth(bits_per_second: float | None) -> str:
    """A link's ``bw``: ``10mbit``; None or 0 (no limit) is ``unlimited``.  The inverse of
    :func:`parse_link_bandwidth`."""
    return format_bandwidth(bits_per_second) if bits_per_second else "unlimited"


def check_queue(packets: int) -> None:
    """What a link's ``queue`` can be set to: at least one packet."""
    if packets < 1:
        raise UnitError("must be at least 1")


def parse_queue(text: str) -> int:
    """A link's ``queue``: a whole number of packets, at least 1."""
    packets = parse_count(text)
    check_queue(packets)
    return packets


def format_queue(packets: int) -> str:
    """The inverse of :func:`parse_queue`."""
    return str(packets)


def read_burst(text: str) -> tuple[float, float]:
    """A link's ``burst=P%,R%`` as written: Gilbert-Elliott bursty loss, P the chance to
    enter the lossy state per frame, R the chance to leave it.  ``0`` (or ``0%``,
    ``off``) is off: ``(0.0, 0.0)``."""
    if text in ("0", "0%", "off"):
        return (0.0, 0.0)
    p_text, comma, r_text = text.partition(",")
    if not comma:
        raise UnitError("expected P%,R% like burst=1%,25%, or 0")
    return (parse_percent(p_text), parse_percent(r_text))


def check_burst(burst: tuple[float, float]) -> None:
    """A burst that starts must be able to end."""
    if burst[1] == 0 and burst[0] > 0:
        raise UnitError("R must be above 0%, or the loss never ends")


def parse_burst(text: str) -> tuple[float, float]:
    """A link's ``burst``: :func:`read_burst`, with an R above 0% when P is."""
    burst = read_burst(text)
    check_burst(burst)
    return burst


def format_burst(burst: tuple[float, float]) -> str:
    """``(0.01, 0.25)`` -> ``1%,25%``; the inverse of :func:`parse_burst`."""
    return f"{format_percent(burst[0])},{format_percent(burst[1])}"


def parse_up(word: str) -> bool:
    """The word ``up`` or ``down`` (any case) -> True or False."""
    state = word.lower()
    if state not in ("up", "down"):
        raise UnitError("expected up or down")
    return state == "up"


def format_up(up: bool) -> str:
    """The inverse of :func:`parse_up`."""
    return "up" if up else "down"


def _settable(value: object) -> None:
    """Every value a kind reads can be set (percentages are 0..100% by notation)."""


@dataclass(frozen=True, slots=True)
class LinkParam:
    """How one ``key=value`` parameter of a link is written and read in the command
    language (a bare number in a delay is milliseconds, in ``bw`` Mbit/s)."""

    key: str
    example: str                    # a value as a user writes it ("5%"), for hints
    read: Callable[[str], Any]      # the notation: text -> value
    format: Callable[[Any], str]    # value -> text that reads back as the same value
    check: Callable[[Any], None] = _settable  # what a link can be set to

    def parse(self, text: str) -> Any:
        """A value to set the link to: read, then checked."""
        value = self.read(text)
        self.check(value)
        return value


# In the order ``Link.to_line()`` writes them.
LINK_PARAMS: dict[str, LinkParam] = {param.key: param for param in (
    LinkParam("loss", "5%", parse_percent, format_percent),
    LinkParam("delay", "20ms", read_delay, format_duration, check_delay),
    LinkParam("jitter", "5ms", read_delay, format_duration, check_delay),
    LinkParam("bw", "10mbit", read_link_bandwidth, format_link_bandwidth, check_link_bandwidth),
    LinkParam("dup", "1%", parse_percent, format_percent),
    LinkParam("reorder", "2%", parse_percent, format_percent),
    LinkParam("burst", "5%,50%", read_burst, format_burst, check_burst),
    LinkParam("queue", "100", parse_count, format_queue, check_queue),
)}


def parse_link_param(key: str, text: str) -> Any:
    """The value of ``key=text`` in a ``link`` command (see :data:`LINK_PARAMS`); a
    :class:`UnitError` says ``bad value for KEY: 'TEXT' (why)``."""
    try:
        return LINK_PARAMS[key].parse(text)
    except UnitError as error:
        raise UnitError(f"bad value for {key}: {text!r} ({error})") from None


def link_word(key: str, value: Any) -> str:
    """``key=value`` in the command language: ``link_word("delay", 0.02)`` is ``delay=20ms``."""
    return f"{key}={LINK_PARAMS[key].format(value)}"


def describe_link(*, loss: float, delay: float, jitter: float, bw: float | None, queue: int,
                  dup: float = 0.0, reorder: float = 0.0,
                  burst: tuple[float, float] | None = None, up: bool = True) -> str:
    """A link direction as it is now, in the command language's notation: what the ``link``
    command replies and a ``link.changed`` event says, e.g.
    ``loss=5% delay=20ms jitter=0ms bw=10mbit queue=1000 up``.  Loss, delay, jitter, bw
    and queue are always named; dup, reorder and burst only when set.
    :func:`read_link_words` reads it back.
    """
    # A zero delay is "0ms" here, where to_line() writes "0": events have always said so,
    # and a recording must read the same after a rerun.
    words = [link_word("loss", loss),
             link_word("delay", delay) if delay else "delay=0ms",
             link_word("jitter", jitter) if jitter else "jitter=0ms",
             link_word("bw", bw), link_word("queue", queue)]
    if dup:
        words.append(link_word("dup", dup))
    if reorder:
        words.append(link_word("reorder", reorder))
    if burst:
        words.append(link_word("burst", burst))
    words.append(format_up(up))
    return " ".join(words)


def read_link_words(text: str) -> dict[str, Any]:
    """The values in a link's description (:func:`describe_link`): one per ``key=value``
    word, parsed as :data:`LINK_PARAMS` says, and ``up`` (True/False) from an ``up`` or
    ``down`` word.  A value that does not parse (from another notation) is kept as its
    text, so a reader can still show it as it was written."""
    values: dict[str, Any] = {}
    for word in text.split():
        key, eq, raw = word.partition("=")
        if not eq:
            if word in ("up", "down"):
                values["up"] = parse_up(word)
            continue
        param = LINK_PARAMS.get(key)
        try:
            values[key] = raw if param is None else param.read(raw)
        except UnitError:
            values[key] = raw
    return values


# -- for people to read (the panes); the format_* above are for the command language

def format_seconds(seconds: float) -> str:
    """``100 s``, ``20 ms``, ``250 us``: a duration to read, with a space before the
    unit and at most four significant digits."""
    if seconds == 0:
        return "0 s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3)):
        if seconds >= scale:
            return f"{_readable(seconds / scale)} {unit}"
    return f"{_readable(seconds / 1e-6)} us"


def format_rate(bits_per_second: float) -> str:
    """``10 Mbit/s``, ``1.5 kbit/s``, ``1 bit/s``: a bandwidth to read."""
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits_per_second >= scale:
            return f"{_readable(bits_per_second / scale)} {unit}"
    return f"{_readable(bits_per_second)} bit/s"


def _readable(number: float) -> str:
    """Four significant digits, never an exponent: 100000, 1234, 12.5, 0.001."""
    if number >= 1000:
        return f"{number:.0f}"
    text = f"{number:.4f}".rstrip("0").rstrip(".")
    digits = f"{number:.4g}"
    return digits if "e" not in digits else text
