"""Ethernet framing and MAC helpers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcplab.stack import ethernet


def test_mac_round_trip_and_dash_form() -> None:
    raw = ethernet.mac_to_bytes("02:00:5E:10:00:0a")
    assert raw == bytes([2, 0, 0x5E, 0x10, 0, 0x0A])
    assert ethernet.mac_str(raw) == "02:00:5e:10:00:0a"
    assert ethernet.mac_to_bytes("02-00-5e-10-00-0a") == raw


@pytest.mark.parametrize("bad", ["", "02:00:00:00:00", "02:00:00:00:00:0g", "0200.0000.0001",
                                 "02:00:00:00:00:001"])
def test_bad_mac_is_one_line_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="not a MAC address"):
        ethernet.mac_to_bytes(bad)


def test_multicast_bit() -> None:
    assert ethernet.is_multicast(ethernet.BROADCAST)
    assert ethernet.is_multicast(bytes.fromhex("333300000001"))
    assert not ethernet.is_multicast(bytes.fromhex("020000000001"))


def test_build_then_parse() -> None:
    dst, src = bytes.fromhex("020000000002"), bytes.fromhex("020000000001")
    frame = ethernet.build(dst, src, ethernet.ETHERTYPE_IPV4, b"payload")
    assert len(frame) == 14 + 7
    assert ethernet.parse(frame) == (dst, src, ethernet.ETHERTYPE_IPV4)
    assert frame[ethernet.ETH_HEADER_LEN:] == b"payload"


def test_truncated_and_vlan_frames_are_reasons() -> None:
    assert ethernet.parse(b"\x00" * 13) == "truncated frame"
    tagged = ethernet.build(ethernet.BROADCAST, bytes(6), ethernet.ETHERTYPE_VLAN,
                            b"\x00\x05\x08\x00rest")
    assert ethernet.parse(tagged) == "vlan tagged"


@given(st.binary(max_size=64))
def test_parse_never_raises(data: bytes) -> None:
    result = ethernet.parse(data)
    assert isinstance(result, str | tuple)
