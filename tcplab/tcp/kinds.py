"""The engine's small vocabularies: timers, reasons for a retransmission, the loss
recovery mode and the directions of ``shutdown``.

Each is a :class:`~enum.StrEnum` whose values are the words the events and recordings
have always carried ("rtx", "rto", ...), so a member prints, compares and serialises as
that word and recordings stay byte for byte the same.
"""

from __future__ import annotations

from enum import StrEnum


class Timer(StrEnum):
    """A connection's timers (``TimerArmed.name`` and friends carry these values)."""

    RTX = "rtx"              # retransmission (RFC 6298)
    PERSIST = "persist"      # zero-window probe or SWS override (RFC 9293 §3.8.6.1, RFC 1122)
    DELACK = "delack"        # delayed ACK (RFC 1122 §4.2.3.2)
    TIME_WAIT = "time-wait"  # 2*MSL (RFC 9293 §3.4.2)
    KEEPALIVE = "keepalive"  # keep-alive (RFC 9293 §3.8.4)
    TLP = "tlp"              # tail loss probe timeout (RFC 8985 §7.2)
    RACK = "rack"            # RACK reordering window (RFC 8985 §6.3)


class Why(StrEnum):
    """Why a segment is sent again (``Retransmitted.why``)."""

    RTO = "rto"      # a retransmission timeout, and the go-back-N resending after it
    FAST = "fast"    # NewReno fast retransmit and partial ACKs (RFC 6582)
    SACK = "sack"    # SACK recovery (RFC 6675)
    PROBE = "probe"  # a zero-window probe of an octet already sent (RFC 9293 §3.8.6.1)
    TLP = "tlp"      # a tail loss probe resending the last segment (RFC 8985 §7.3)
    RACK = "rack"    # RACK found it lost while resending after a timeout (RFC 8985 §6.3)


class Recovery(StrEnum):
    """The loss recovery under way; NONE is false in a boolean test."""

    NONE = ""
    FAST = "fast"  # NewReno (RFC 6582), without SACK
    SACK = "sack"  # RFC 6675 with PRR (RFC 6937)


class Shutdown(StrEnum):
    """Which half of a connection ``shutdown`` closes (POSIX SHUT_RD, SHUT_WR, SHUT_RDWR)."""

    RD = "rd"
    WR = "wr"
    RDWR = "rdwr"


# The members again as module constants, for the engine's per-segment paths: Python 3.11
# looks up every ``Timer.RTX`` through ``EnumType.__getattr__``, several times slower
# than reading a global (same objects: ``RTX is Timer.RTX``).
RTX, PERSIST, DELACK, TIME_WAIT, KEEPALIVE, TLP, RACK = Timer
NO_RECOVERY, FAST_RECOVERY, SACK_RECOVERY = Recovery
