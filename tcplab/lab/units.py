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
"""

from __future__ import annotations

import math
import re
from decimal import Context, Decimal

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


# what a link can be set to (the command language and topology files alike): slower than
# 1 kbit/s a single full-size frame takes minutes, and a delay over a minute outlives
# every TCP timer worth watching; neither is a lab, both are typos (bw=1bit, delay=100000s)
MIN_BANDWIDTH = 1000.0      # bits/s
MAX_DELAY = 60.0            # seconds, for delay and for jitter


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


def parse_link_bandwidth(text: str, bare: str = "mbit") -> float | None:
    """A link's ``bw``: a bandwidth of at least 1 kbit/s, or ``unlimited`` (None)."""
    if text.strip().lower() == "unlimited":
        return None
    try:
        bits = parse_bandwidth(text, bare)
    except UnitError:
        raise UnitError(f"expected a bandwidth like 10mbit or 500kbit, or unlimited (bare "
                        f"numbers are {bare})") from None
    if bits == 0:
        raise UnitError("0 would carry nothing: write bw=unlimited for no limit")
    check_bandwidth(bits)
    return bits


def check_bandwidth(bits_per_second: float) -> None:
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
