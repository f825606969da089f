"""A segment's and a payload's part of the event codec (:mod:`tcplab.lab.codec`).

A segment is recorded as its header fields (flags and options spelled as packetdrill
spells them) and its payload as a length and a preview (the first
:data:`PREVIEW_BYTES` bytes in hex and as printable text).  Read back, the header is
the same -- but for flag bits without a letter (the reserved ones, NS) -- and the
payload is the preview followed by zeros.
"""

from __future__ import annotations

import binascii
from typing import Any

import msgspec

from tcplab.tcp.segment import (
    ACK,
    CWR,
    ECE,
    FIN,
    NOP,
    PSH,
    RST,
    SYN,
    URG,
    Eol,
    Mss,
    Nop,
    Option,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    UnknownOption,
    WScale,
    flags_str,
    option_str,
)

PREVIEW_BYTES = 16
Record = dict[str, Any]


class CodecError(ValueError):
    """A record that is not an event; the text is one line, for the user or the peer."""


# ----------------------------------------------------------------------------- payloads

_PRINTABLE = bytes(b if 32 <= b < 127 else 0x2E for b in range(256))  # others as "."


def preview(data: bytes) -> str:
    """The first bytes as printable ASCII (dots elsewhere), for a glance at a payload."""
    text = bytes(data[:PREVIEW_BYTES]).translate(_PRINTABLE).decode("ascii")
    return text + ("…" if len(data) > PREVIEW_BYTES else "")


# head -> (hex, ascii), one dict for payloads longer than their head (the ascii ends in
# "…") and one for the rest: no key tuple to build and hash per segment
_HEADS_OF_MORE: dict[bytes, tuple[str, str]] = {}
_HEADS_OF_ALL: dict[bytes, tuple[str, str]] = {}


def head_text(data: bytes) -> tuple[str, str]:
    """A payload's preview as a record spells it: its first bytes in hex, and as
    :func:`preview` shows them.  A bulk transfer's segments repeat a few heads: kept."""
    head = bytes(data[:PREVIEW_BYTES])
    heads = _HEADS_OF_MORE if len(data) > PREVIEW_BYTES else _HEADS_OF_ALL
    text = heads.get(head)
    if text is None:
        if len(heads) > 4096:
            heads.clear()
        text = heads[head] = (head.hex(), preview(data))
    return text


def _light(n: Any, head: Any, what: str, top: int) -> bytes:
    """The payload a record stands for: its first bytes, then zeros up to ``n``."""
    if type(n) is not int or not 0 <= n <= top or type(head) is not str:
        raise CodecError(f"{what}: len must be 0..{top} and hex a string")
    try:
        data = bytes.fromhex(head)
    except ValueError:
        raise CodecError(f"{what}: hex is not hexadecimal") from None
    if len(data) != min(n, PREVIEW_BYTES):
        raise CodecError(f"{what}: hex must be the first min(len, {PREVIEW_BYTES}) bytes")
    return data + bytes(n - len(data)) if n > len(data) else data


# ----------------------------------------------------------------------------- segments

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
_READ_MAX = 1 << 40   # a delivery's length: what one read can return, no wire limit
_FLAG_BITS = {"S": SYN, "F": FIN, "R": RST, "P": PSH, "U": URG, "E": ECE, "W": CWR, ".": ACK}
_FLAGS: dict[str, int] = {}   # flags text -> bits, as met


_FLAG_TEXT: dict[int, str] = {}   # flag bits -> their spelling, as met


# a timestamps option -> its spelling: the segments of a burst share one (same
# millisecond, same echo), and a lookup is half the cost of formatting two numbers
_TS_TEXT: dict[Timestamps, str] = {}


def _options_text(options: tuple[Option, ...]) -> list[str]:
    if not options:
        return []
    if (len(options) == 3 and type(ts := options[2]) is Timestamps
            and type(options[0]) is Nop and type(options[1]) is Nop):
        # what every segment but a SYN carries
        text = _TS_TEXT.get(ts)
        if text is None:
            if len(_TS_TEXT) > 4096:
                _TS_TEXT.clear()
            text = _TS_TEXT[ts] = f"TS val {ts.val} ecr {ts.ecr}"
        return ["nop", "nop", text]
    return [option_str(o) for o in options]


def segment_record(seg: Segment) -> Record:
    """A segment's header fields, options in packetdrill's spelling, and its payload's
    length and first :data:`PREVIEW_BYTES` bytes (hex and printable)."""
    payload = seg.payload
    flags = _FLAG_TEXT.get(seg.flags)
    if flags is None:
        flags = _FLAG_TEXT[seg.flags] = flags_str(seg.flags)  # at most 4096 values
    head, text = head_text(payload)
    return {
        "src_port": seg.src_port, "dst_port": seg.dst_port, "seq": seg.seq, "ack": seg.ack,
        "flags": flags, "window": seg.window, "urgent": seg.urgent,
        "options": _options_text(seg.options), "len": len(payload), "hex": head,
        "ascii": text}


class SegmentObject(msgspec.Struct):
    """:func:`segment_record`'s object as a struct, which msgspec writes several times
    faster than a dict (the control channel's hot path): the same JSON, key for key."""

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: str
    window: int
    urgent: int
    options: list[str]
    len: int
    hex: str
    ascii: str


def segment_object(seg: Segment) -> SegmentObject:
    """:func:`segment_record` of ``seg`` as a :class:`SegmentObject`, for the control
    channel (:func:`tcplab.lab.codec.wire_record`)."""
    payload = seg.payload
    flags = _FLAG_TEXT.get(seg.flags)
    if flags is None:
        flags = _FLAG_TEXT[seg.flags] = flags_str(seg.flags)
    head, text = head_text(payload)
    return SegmentObject(seg.src_port, seg.dst_port, seg.seq, seg.ack, flags, seg.window,
                         seg.urgent, _options_text(seg.options), len(payload), head, text)


def _flags(text: Any) -> int:
    bits = _FLAGS.get(text) if type(text) is str else None
    if bits is None:
        if type(text) is not str or any(c not in _FLAG_BITS for c in text):
            raise CodecError(f"segment flags must be letters of {''.join(_FLAG_BITS)}")
        bits = 0
        for c in text:
            bits |= _FLAG_BITS[c]
        if len(_FLAGS) < 256:
            _FLAGS[text] = bits
    return bits


def flags_of(text: str) -> int:
    """The flag bits :func:`~tcplab.tcp.segment.flags_str` spelled."""
    return _flags(text)


# (len, hex) -> the payload they stand for, as met.  The lab reads every segment of a
# Mininet run back, and a bulk transfer's segments repeat a few lengths and heads: one
# dict lookup instead of a hex parse and a payload-sized allocation per segment.  Bytes
# are immutable, so segments may share them; at most _LIGHT_KEPT payloads of at most
# _LIGHT_LARGEST bytes are kept (a jumbo frame's worth), a few megabytes at worst.
_LIGHT: dict[tuple[int, str], bytes] = {}
_LIGHT_KEPT = 512
_LIGHT_LARGEST = 9000


def light_payload(n: int, head: str) -> bytes:
    """A segment's payload as its record holds it: ``head`` (hex), then zeros to ``n``."""
    key = (n, head)
    data = _LIGHT.get(key)
    if data is None:
        data = _light(n, head, "segment", _U16)  # checked once: a kept one passed
        if n <= _LIGHT_LARGEST:
            if len(_LIGHT) >= _LIGHT_KEPT:
                _LIGHT.clear()
            _LIGHT[key] = data
    return data


def _num(text: str, top: int, what: str) -> int:
    if not text.isdigit() or int(text) > top:
        raise CodecError(f"option {what}: {text!r} is not 0..{top}")
    return int(text)


_SIMPLE_OPTIONS: dict[str, Option] = {"nop": Nop(), "eol": Eol(), "sackOK": SackPermitted()}
_OPTIONS: dict[str, Option] = {}   # option text -> option, as met (timestamps vary: capped)


def option_from_str(text: Any) -> Option:
    """The option :func:`~tcplab.tcp.segment.option_str` spelled."""
    if type(text) is not str:
        raise CodecError("a segment option must be a string")
    opt = _SIMPLE_OPTIONS.get(text) or _OPTIONS.get(text)
    if opt is not None:
        return opt
    words = text.split(" ")
    if words[0] == "mss" and len(words) == 2:
        opt = Mss(_num(words[1], _U16, "mss"))
    elif words[0] == "wscale" and len(words) == 2:
        opt = WScale(_num(words[1], 255, "wscale"))
    elif words[0] == "TS" and len(words) == 5 and words[1] == "val" and words[3] == "ecr":
        opt = Timestamps(_num(words[2], _U32, "TS val"), _num(words[4], _U32, "TS ecr"))
    elif words[0] == "sack" and len(words) > 1:
        edges = [w.split(":") for w in words[1:]]
        if not all(len(e) == 2 for e in edges):
            raise CodecError(f"option {text!r}: sack blocks are LEFT:RIGHT")
        opt = Sack(tuple((_num(a, _U32, "sack"), _num(b, _U32, "sack")) for a, b in edges))
    elif text.startswith("opt") and text.endswith(")") and "(" in text:
        kind, _, data = text[3:-1].partition("(")
        try:
            opt = UnknownOption(_num(kind, 255, "kind"), bytes.fromhex(data))
        except ValueError:
            raise CodecError(f"option {text!r}: its data is not hexadecimal") from None
    else:
        raise CodecError(f"unknown segment option {text!r}")
    if len(_OPTIONS) > 4096:
        _OPTIONS.clear()
    _OPTIONS[text] = opt
    return opt


def options_of(texts: list[str]) -> tuple[Option, ...]:
    """The options :func:`~tcplab.tcp.segment.option_str` spelled, in order.  Every
    segment after the handshake carries ``nop, nop, TS val V ecr E`` (RFC 7323 §3 and
    its Appendix A layout): that list is read without a generator."""
    if not texts:
        return ()
    if len(texts) == 3 and texts[0] == "nop" and texts[1] == "nop":
        return (NOP, NOP, option_from_str(texts[2]))
    return tuple(option_from_str(o) for o in texts)


_SEGMENT_KEYS = ("src_port", "dst_port", "seq", "ack", "flags", "window", "urgent",
                 "options", "len", "hex", "ascii")


def segment_from_record(raw: Any) -> Segment:
    """The segment :func:`segment_record` described; its payload beyond the preview is
    zeros."""
    if type(raw) is not dict:
        raise CodecError("a segment must be an object")
    try:
        sport, dport, seq, ack, window, urgent, options = (
            raw["src_port"], raw["dst_port"], raw["seq"], raw["ack"], raw["window"],
            raw["urgent"], raw["options"])
        payload = _light(raw["len"], raw["hex"], "segment", _U16)
        flags = _flags(raw["flags"])
    except KeyError as exc:
        raise CodecError(f"a segment needs {exc.args[0]}") from None
    if not (type(sport) is type(dport) is type(seq) is type(ack) is type(window)
            is type(urgent) is int and 0 <= sport <= _U16 and 0 <= dport <= _U16
            and 0 <= seq <= _U32 and 0 <= ack <= _U32 and 0 <= window <= _U16
            and 0 <= urgent <= _U16):
        raise CodecError("a segment's ports, numbers and window must be integers in range")
    if type(options) is not list:
        raise CodecError("segment options must be a list")
    return Segment(sport, dport, seq, ack, flags, window, options_of(options), payload, urgent)


def unb64(text: Any, what: str) -> bytes:
    """The bytes of a strict base64 string (a delivery's ``data`` on the control channel);
    CodecError, naming ``what``, for anything else."""
    if type(text) is not str:
        raise CodecError(f"{what} must be a base64 string")
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CodecError(f"{what} is not valid base64") from None
