"""The TCP segment codec: checksum, round trips, every drop reason, and never raising.

A deliberately naive reference (a word-by-word end-around-carry loop over the explicit
pseudo-header bytes) checks the fast integer-congruence implementation.  Options are
compared by type as well as value, to be sure a decoded option is of the right class.
"""

from __future__ import annotations

import struct
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.tcp.codec import (
    DROP_REASONS,
    Malformed,
    checksum_ok,
    decode,
    encode,
    internet_checksum,
    ip_to_bytes,
    pseudo_header_sum,
)
from tcplab.tcp.segment import (
    ACK,
    EOL,
    FIN,
    NOP,
    PSH,
    SACK_PERMITTED,
    SYN,
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
)

SRC = bytes((10, 0, 0, 1))
DST = bytes((10, 0, 0, 2))
LINUX_SYN_OPTIONS: tuple[Option, ...] = (
    Mss(1460), SACK_PERMITTED, Timestamps(123456, 0), NOP, WScale(7),
)


def ref_checksum(data: bytes) -> int:
    """RFC 1071 the slow way: 16-bit words, end-around carry, complement."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ref_tcp_checksum(segment: bytes, src: bytes = SRC, dst: bytes = DST) -> int:
    """Checksum over the explicit pseudo-header (RFC 9293 §3.1), checksum field zeroed."""
    pseudo = src + dst + bytes((0, 6)) + len(segment).to_bytes(2, "big")
    return ref_checksum(pseudo + segment[:16] + b"\0\0" + segment[18:])


def build(options: bytes = b"", payload: bytes = b"", offset: int | None = None,
          flags: int = ACK, window: int = 1000) -> bytes:
    """A raw segment with any option bytes and data offset, and a correct checksum."""
    if offset is None:
        offset = (20 + len(options)) // 4
    raw = struct.pack("!HHIIHHHH", 1234, 80, 1000, 2000, offset << 12 | flags, window, 0, 0)
    raw += options + payload
    return raw[:16] + ref_tcp_checksum(raw).to_bytes(2, "big") + raw[18:]


def typed(options: tuple[Option, ...]) -> list[tuple[str, tuple[object, ...]]]:
    return [(type(o).__name__, tuple(o)) for o in options]


def assert_same(got: Segment | Malformed, want: Segment) -> None:
    assert isinstance(got, Segment), got
    assert typed(got.options) == typed(want.options)
    assert got == want


# --- checksum -----------------------------------------------------------------------

def test_rfc1071_example_by_hand() -> None:
    data = bytes.fromhex("0001f203f4f5f6f7")
    # RFC 1071 §3: 0001 + f203 + f4f5 + f6f7 = 2ddf0; fold the carry: ddf0 + 2 = ddf2.
    word_sum = 0x0001 + 0xF203 + 0xF4F5 + 0xF6F7
    assert word_sum == 0x2DDF0
    folded = (word_sum & 0xFFFF) + (word_sum >> 16)
    assert folded == 0xDDF2
    assert ~folded & 0xFFFF == 0x220D
    assert internet_checksum(data) == 0x220D
    assert internet_checksum(memoryview(data)) == 0x220D
    assert ref_checksum(data) == 0x220D


def test_checksum_edge_values() -> None:
    assert internet_checksum(b"") == 0xFFFF
    assert internet_checksum(bytes(20)) == 0xFFFF
    assert internet_checksum(b"\xff\xff") == 0x0000
    assert internet_checksum(b"\x01") == 0xFEFF  # odd byte is the high half of a word
    assert internet_checksum(b"\x00\x01", initial=0xFFFE) == 0x0000


@given(st.binary(max_size=300), st.binary(max_size=40))
def test_checksum_matches_reference(data: bytes, prefix: bytes) -> None:
    assert internet_checksum(data) == ref_checksum(data)
    # A partial sum of an even-length prefix passed as ``initial`` continues the sum.
    prefix = prefix[: len(prefix) & ~1]
    initial = int.from_bytes(prefix, "big")
    assert internet_checksum(data, initial) == ref_checksum(prefix + data)


def test_checksum_accepts_memoryview_slices_of_any_format() -> None:
    buf = array("H", range(1, 200))
    raw = buf.tobytes()
    assert internet_checksum(memoryview(buf)) == ref_checksum(raw)
    assert internet_checksum(memoryview(raw)[3:101]) == ref_checksum(raw[3:101])


def test_encode_writes_reference_checksum_and_pseudo_header_counts() -> None:
    seg = Segment(40000, 80, 0xDEADBEEF, 0x01020304, ACK | PSH, 65535,
                  (NOP, NOP, Timestamps(7, 9)), b"hello, world!")
    wire = encode(seg, SRC, DST)
    assert wire[16:18] == ref_tcp_checksum(wire).to_bytes(2, "big")
    assert checksum_ok(wire, SRC, DST)
    assert internet_checksum(wire, pseudo_header_sum(SRC, DST, len(wire))) == 0
    other = bytes((10, 0, 0, 3))
    assert not checksum_ok(wire, SRC, other)
    assert decode(wire, SRC, other) == Malformed("bad checksum")
    assert isinstance(decode(wire, SRC, other, verify_checksum=False), Segment)


def test_checksum_zero_and_its_negative_zero_twin() -> None:
    base = Segment(1, 2, 3, 4, ACK, 0)
    csum = int.from_bytes(encode(base, SRC, DST)[16:18], "big")
    # Raising a 16-bit word by c lowers the checksum by c (RFC 1624): this one sums to 0xFFFF.
    wire = encode(Segment(1, 2, 3, 4, ACK, csum), SRC, DST)
    assert wire[16:18] == b"\0\0"
    assert ref_tcp_checksum(wire) == 0
    twin = wire[:16] + b"\xff\xff" + wire[18:]  # one's-complement -0: also valid
    assert_same(decode(twin, SRC, DST), Segment(1, 2, 3, 4, ACK, csum))


# --- round trips ----------------------------------------------------------------------

def test_linux_syn_round_trip() -> None:
    seg = Segment(33000, 80, 0xFFFFFFFF, 0, SYN, 64240, LINUX_SYN_OPTIONS)
    wire = encode(seg, SRC, DST)
    assert len(wire) == 40
    assert wire[12] >> 4 == 10
    assert wire[20:] == bytes.fromhex("020405b4" "0402" "080a0001e24000000000" "01" "030307")
    assert_same(decode(wire, SRC, DST), seg)


@pytest.mark.parametrize("options", [
    (NOP, NOP, Timestamps(0xFFFFFFFF, 1)),
    (NOP, NOP, Sack(((100, 200),))),
    (NOP, NOP, Sack(((1, 2), (3, 4), (5, 6), (7, 8)))),
    (NOP, NOP, Timestamps(5, 6), NOP, NOP, Sack(((10, 20), (30, 40), (50, 60)))),
    (Mss(536), EOL),
    (UnknownOption(30, b"\x01\x02"),),
])
def test_data_segment_round_trip(options: tuple[Option, ...]) -> None:
    seg = Segment(80, 33000, 1, 2, ACK | PSH, 501, options, bytes(range(256)) * 5 + b"x")
    wire = encode(seg, SRC, DST)
    assert (wire[12] >> 4) * 4 == len(wire) - len(seg.payload)
    assert_same(decode(wire, SRC, DST), seg)
    assert_same(decode(memoryview(wire), SRC, DST), seg)


def test_padding_is_eol_and_not_represented_after_eol() -> None:
    seg = Segment(1, 2, 3, 4, SYN, 5, (Mss(1460), WScale(2)))
    wire = encode(seg, SRC, DST)
    assert wire[20:] == bytes.fromhex("020405b4" "030302" "00")
    decoded = decode(wire, SRC, DST)
    assert isinstance(decoded, Segment)
    assert typed(decoded.options) == typed((Mss(1460), WScale(2), EOL))
    # Anything after EOL, even an option, is padding.
    after = decode(build(options=b"\x01\x00\x02\x04"), SRC, DST)
    assert isinstance(after, Segment)
    assert typed(after.options) == typed((NOP, EOL))


def test_reserved_bits_are_ignored_and_all_flags_survive() -> None:
    got = decode(build(flags=0x0F00 | FIN | ACK), SRC, DST)
    assert isinstance(got, Segment) and got.flags == FIN | ACK
    for flags in range(256):
        seg = Segment(1, 2, 3, 4, flags, 5)
        assert_same(decode(encode(seg, SRC, DST), SRC, DST), seg)


def test_decode_inside_larger_buffer_and_odd_memoryview_formats() -> None:
    seg = Segment(1, 2, 3, 4, ACK, 5, (NOP, NOP, Timestamps(1, 2)), b"abcd")
    wire = encode(seg, SRC, DST)
    packet = bytes(20) + wire + b"trailer"
    assert_same(decode(memoryview(packet)[20:20 + len(wire)], SRC, DST), seg)
    assert_same(decode(memoryview(array("H", wire)), SRC, DST), seg)
    strided = memoryview(bytes(b for pair in zip(wire, wire, strict=True) for b in pair))[::2]
    assert_same(decode(strided, SRC, DST), seg)


# --- drop reasons -----------------------------------------------------------------------

def test_drop_reasons_are_exactly_these() -> None:
    assert DROP_REASONS == ("truncated", "bad data offset", "bad option", "bad checksum")


@pytest.mark.parametrize("length", range(20))
def test_truncated(length: int) -> None:
    assert decode(build()[:length], SRC, DST) == Malformed("truncated")


@pytest.mark.parametrize("raw", [
    build(offset=0), build(offset=4), build(offset=6),
    build(options=bytes(4), offset=15), build(options=b"\x01" * 40, offset=15)[:59],
])
def test_bad_data_offset(raw: bytes) -> None:
    assert decode(raw, SRC, DST) == Malformed("bad data offset")
    assert decode(raw, SRC, DST, verify_checksum=False) == Malformed("bad data offset")


@pytest.mark.parametrize("options", [
    b"\x1e\x01\x00\x00",            # length < 2
    b"\x1e\x00\x00\x00",            # length 0 would loop forever
    b"\x01\x01\x01\x1e",            # kind in the last byte, no length byte
    b"\x01\x01\x1e\x05",            # length overruns the header
    b"\x01\x01\x08\x0a\x00\x00\x00\x01",  # timestamps cut short by the data offset
    b"\x02\x03\x05\x01",            # MSS length 3
    b"\x02\x05\x05\xb4\x00\x00\x00\x00",  # MSS length 5
    b"\x03\x04\x07\x01",            # window scale length 4
    b"\x04\x03\x00\x01",            # SACK-permitted length 3
    b"\x08\x08" + bytes(6),         # timestamps length 8
    b"\x01\x01\x05\x0b" + bytes(12),  # SACK length 11 (not 2 + 8n)
    b"\x01\x01\x05\x09" + bytes(8),  # SACK length 9
    b"\x01\x01\x05\x06" + bytes(4),  # SACK length 6: half a block
    b"\x05\x16" + bytes(22),         # SACK length 22: two and a half blocks
])
@pytest.mark.parametrize("payload", [b"", b"payload"])
def test_bad_option(options: bytes, payload: bytes) -> None:
    raw = build(options=options, payload=payload)
    assert decode(raw, SRC, DST) == Malformed("bad option")


def test_bad_checksum() -> None:
    wire = bytearray(encode(Segment(1, 2, 3, 4, ACK, 5, payload=b"data"), SRC, DST))
    wire[-1] ^= 0x01
    assert decode(bytes(wire), SRC, DST) == Malformed("bad checksum")
    assert isinstance(decode(bytes(wire), SRC, DST, verify_checksum=False), Segment)


@pytest.mark.parametrize("seg", [
    Segment(33000, 80, 7, 0, SYN, 64240, LINUX_SYN_OPTIONS),
    Segment(80, 33000, 9, 10, ACK | PSH, 501, (NOP, NOP, Timestamps(1, 2)), bytes(range(37))),
    Segment(80, 33000, 9, 10, ACK, 501, (NOP, NOP, Sack(((1, 2), (3, 4))))),
])
def test_every_single_bit_flip_is_caught(seg: Segment) -> None:
    wire = encode(seg, SRC, DST)
    for bit in range(len(wire) * 8):
        flipped = bytearray(wire)
        flipped[bit >> 3] ^= 0x80 >> (bit & 7)
        got = decode(bytes(flipped), SRC, DST)
        assert isinstance(got, Malformed), (bit, got)
        assert got.reason in ("bad checksum", "bad data offset"), (bit, got)


# --- encode errors and addresses ------------------------------------------------------

@pytest.mark.parametrize(("seg", "message"), [
    (Segment(70000, 2, 3, 4, ACK, 5), "src_port out of range: 70000"),
    (Segment(1, 2, 1 << 32, 4, ACK, 5), "seq out of range"),
    (Segment(1, 2, 3, 4, ACK, -1), "window out of range"),
    (Segment(1, 2, 3, 4, 0x1000, 5), "flags out of range"),
    (Segment(1, 2, 3, 4, ACK, 5, (NOP, NOP, Sack(((1, 2),) * 5))), "more than 40"),
    (Segment(1, 2, 3, 4, ACK, 5, (WScale(256),)), "cannot encode TCP option"),
    (Segment(1, 2, 3, 4, ACK, 5, (Mss(-1),)), "cannot encode TCP option"),
    (Segment(1, 2, 3, 4, ACK, 5, (UnknownOption(99, bytes(254)),)), "cannot encode TCP option"),
    (Segment(1, 2, 3, 4, ACK, 5, payload=bytes(65496)), "does not fit"),
])
def test_encode_rejects_out_of_range_fields(seg: Segment, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        encode(seg, SRC, DST)
    assert "\n" not in str(info.value)


def test_ip_to_bytes() -> None:
    assert ip_to_bytes("10.0.0.1") == SRC
    assert ip_to_bytes("255.255.255.255") == b"\xff" * 4
    before = ip_to_bytes.cache_info().hits
    ip_to_bytes("10.0.0.1")
    assert ip_to_bytes.cache_info().hits == before + 1
    for bad in ("10.0.0", "10.0.0.256", "host", "::1", ""):
        with pytest.raises(ValueError, match="not an IPv4 address"):
            ip_to_bytes(bad)


# --- properties -----------------------------------------------------------------------

U32 = st.integers(0, 0xFFFFFFFF)
U16 = st.integers(0, 0xFFFF)
OPTION = st.one_of(
    st.just(NOP),
    U16.map(Mss),
    st.integers(0, 255).map(WScale),
    st.just(SACK_PERMITTED),
    st.tuples(U32, U32).map(lambda t: Timestamps(*t)),
    st.lists(st.tuples(U32, U32), max_size=4).map(lambda b: Sack(tuple(b))),
    st.builds(UnknownOption, st.integers(6, 255).filter(lambda k: k != 8),
              st.binary(max_size=20)),
)


def option_bytes(options: tuple[Option, ...]) -> int:
    """Bytes the options occupy on the wire, before padding."""
    sizes = {Nop: 1, Eol: 1, Mss: 4, WScale: 3, SackPermitted: 2, Timestamps: 10}
    total = 0
    for opt in options:
        if isinstance(opt, Sack):
            total += 2 + 8 * len(opt.blocks)
        elif isinstance(opt, UnknownOption):
            total += 2 + len(opt.data)
        else:
            total += sizes[type(opt)]
    return total


def fit(options: list[Option], end_with_eol: bool) -> tuple[Option, ...]:
    """The longest prefix that fits 40 bytes, ended by EOL if asked."""
    kept: tuple[Option, ...] = ()
    for opt in options:
        if option_bytes((*kept, opt)) + end_with_eol > 40:
            break
        kept += (opt,)
    return (*kept, EOL) if end_with_eol else kept


SEGMENT = st.builds(
    Segment, U16, U16, U32, U32, st.integers(0, 255), U16,
    st.builds(fit, st.lists(OPTION, max_size=10), st.booleans()),
    st.binary(max_size=80), U16,
)
ADDRESS = st.binary(min_size=4, max_size=4)


@given(SEGMENT, ADDRESS, ADDRESS)
def test_round_trip_of_random_segments(seg: Segment, src: bytes, dst: bytes) -> None:
    wire = encode(seg, src, dst)
    used = option_bytes(seg.options)
    assert len(wire) == 20 + (used + 3) // 4 * 4 + len(seg.payload)
    assert checksum_ok(wire, src, dst)
    assert wire[16:18] == ref_tcp_checksum(wire, src, dst).to_bytes(2, "big")
    got = decode(memoryview(wire), src, dst)
    ends_in_eol = bool(seg.options) and type(seg.options[-1]) is Eol
    want_options = seg.options
    if used % 4 and not ends_in_eol:
        want_options += (EOL,)
    want = Segment(seg.src_port, seg.dst_port, seg.seq, seg.ack, seg.flags, seg.window,
                   want_options, seg.payload, seg.urgent)
    assert_same(got, want)
    assert encode(want, src, dst) == wire


def _check_result(result: Segment | Malformed) -> None:
    assert isinstance(result, Segment | Malformed)
    if isinstance(result, Malformed):
        assert result.reason in DROP_REASONS


@settings(max_examples=300)
@given(st.binary(max_size=100), st.booleans())
def test_decode_never_raises_on_random_bytes(data: bytes, verify: bool) -> None:
    _check_result(decode(data, SRC, DST, verify_checksum=verify))
    _check_result(decode(memoryview(data), SRC, DST, verify_checksum=verify))


@settings(max_examples=300)
@given(st.binary(max_size=40), st.binary(max_size=10))
def test_random_option_bytes_give_options_or_bad_option(options: bytes, payload: bytes) -> None:
    options += bytes(-len(options) & 3)
    result = decode(build(options=options, payload=payload), SRC, DST)
    if isinstance(result, Malformed):
        assert result.reason == "bad option"
    else:
        assert result.payload == payload
        # Every parsed option re-encodes to exactly the bytes it was parsed from.
        used = option_bytes(result.options)
        assert encode(result, SRC, DST)[20:20 + used] == options[:used]


@settings(max_examples=300)
@given(SEGMENT, st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
       st.integers(0, 200), st.binary(max_size=8), st.booleans())
def test_decode_never_raises_on_mutated_segments(
    seg: Segment, pokes: list[tuple[int, int]], cut: int, tail: bytes, verify: bool,
) -> None:
    wire = bytearray(encode(seg, SRC, DST))
    for index, value in pokes:
        if index < len(wire):
            wire[index] = value
    mutated = bytes(wire[:cut]) + tail if cut < len(wire) else bytes(wire) + tail
    _check_result(decode(mutated, SRC, DST, verify_checksum=verify))
