"""TCP segments as values, and their options.

A :class:`Segment` is exactly what is on the wire, minus the checksum (which
:mod:`tcplab.tcp.codec` computes from the IPv4 pseudo-header): ports, numbers,
flags, the raw 16-bit window, the options *in wire order* (NOP and EOL included,
so strict comparisons see the real layout) and the payload.

Options are small immutable tuples, each ending in its option kind so that two
options of different types never compare equal; the engine builds the same layouts Linux
sends (``mss, sackOK, TS, nop, wscale`` on a SYN; ``nop, nop, TS`` on data) so
traces read the way engineers expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

# Option kinds (IANA "TCP Option Kind Numbers").
KIND_EOL = 0
KIND_NOP = 1
KIND_MSS = 2
KIND_WSCALE = 3
KIND_SACK_PERMITTED = 4
KIND_SACK = 5
KIND_TIMESTAMPS = 8


class Eol(NamedTuple):
    """End of option list (RFC 9293 §3.2)."""
    kind: int = KIND_EOL


class Nop(NamedTuple):
    """No-operation option, for alignment (RFC 9293 §3.2)."""
    kind: int = KIND_NOP


class Mss(NamedTuple):
    """Maximum segment size option (RFC 9293 §3.7.1)."""
    value: int
    kind: int = KIND_MSS


class WScale(NamedTuple):
    """Window scale option (RFC 7323 §2)."""
    shift: int
    kind: int = KIND_WSCALE


class SackPermitted(NamedTuple):
    """SACK-permitted option (RFC 2018 §2)."""
    kind: int = KIND_SACK_PERMITTED


class Sack(NamedTuple):
    """SACK option: the received blocks as (left edge, right edge) (RFC 2018 §3)."""
    blocks: tuple[tuple[int, int], ...]
    kind: int = KIND_SACK


class Timestamps(NamedTuple):
    """Timestamps option: TSval and TSecr (RFC 7323 §3)."""
    val: int
    ecr: int
    kind: int = KIND_TIMESTAMPS


class UnknownOption(NamedTuple):
    """An option tcplab does not know, kept as its kind and bytes."""
    kind: int
    data: bytes


Option = Eol | Nop | Mss | WScale | SackPermitted | Sack | Timestamps | UnknownOption

NOP = Nop()
EOL = Eol()
SACK_PERMITTED = SackPermitted()

_FLAG_LETTERS = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (URG, "U"), (ECE, "E"),
                 (CWR, "W"), (ACK, "."))


def flags_str(flags: int) -> str:
    """Flags in packetdrill's spelling: ``S``, ``S.``, ``P.``, ``F.``, ``R``..."""
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit)


@dataclass(slots=True)
class Segment:
    """One TCP segment.  ``window`` is the raw header field (unscaled)."""

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    options: tuple[Option, ...] = ()
    payload: bytes = b""
    urgent: int = 0

    @property
    def seg_len(self) -> int:
        """SEG.LEN: payload length plus one for each of SYN and FIN (RFC 9293 §3.4)."""
        n = len(self.payload)
        if self.flags & SYN:
            n += 1
        if self.flags & FIN:
            n += 1
        return n

    def option(self, cls: type[Option]) -> Option | None:
        """The first option of the given type, or None."""
        for opt in self.options:
            if type(opt) is cls:
                return opt
        return None

    def mss(self) -> int | None:
        """The MSS option's value, or None."""
        for opt in self.options:
            if type(opt) is Mss:
                return opt.value
        return None

    def wscale(self) -> int | None:
        """The window scale option's shift, or None."""
        for opt in self.options:
            if type(opt) is WScale:
                return opt.shift
        return None

    def sack_permitted(self) -> bool:
        """True if the SACK-permitted option is present."""
        return any(type(opt) is SackPermitted for opt in self.options)

    def timestamps(self) -> Timestamps | None:
        """The timestamps option, or None."""
        for opt in self.options:
            if type(opt) is Timestamps:
                return opt
        return None

    def sack_blocks(self) -> tuple[tuple[int, int], ...]:
        """The SACK option's blocks, or ()."""
        for opt in self.options:
            if type(opt) is Sack:
                return opt.blocks
        return ()

    def __str__(self) -> str:
        return describe(self)


def option_str(opt: Option) -> str:
    """One option in packetdrill's spelling."""
    if type(opt) is Nop:
        return "nop"
    if type(opt) is Eol:
        return "eol"
    if type(opt) is Mss:
        return f"mss {opt.value}"
    if type(opt) is WScale:
        return f"wscale {opt.shift}"
    if type(opt) is SackPermitted:
        return "sackOK"
    if type(opt) is Timestamps:
        return f"TS val {opt.val} ecr {opt.ecr}"
    if type(opt) is Sack:
        return "sack " + " ".join(f"{a}:{b}" for a, b in opt.blocks)
    assert type(opt) is UnknownOption
    return f"opt{opt.kind}({opt.data.hex()})"


def describe(seg: Segment, seq_base: int = 0, ack_base: int = 0) -> str:
    """A packetdrill-like one-line rendering, numbers relative to the given bases."""
    seq = (seg.seq - seq_base) & 0xFFFFFFFF
    n = len(seg.payload)
    text = f"{flags_str(seg.flags)} {seq}:{(seq + n) & 0xFFFFFFFF}({n})"
    if seg.flags & ACK:
        text += f" ack {(seg.ack - ack_base) & 0xFFFFFFFF}"
    text += f" win {seg.window}"
    if seg.options:
        text += " <" + ",".join(option_str(o) for o in seg.options) + ">"
    return text
