"""Numbering and comparison: relative numbers, TS mapping, option modes, settings."""

from __future__ import annotations

import pytest

from tcplab.pkt.compare import (
    IN_BASE,
    Numbering,
    SettingError,
    Settings,
    UnsupportedSetting,
    differences,
    render,
)
from tcplab.pkt.parse import Packet, parse_event
from tcplab.tcp import segment as sg

ISS = 0xFFFFFF00   # close to the wrap, so relative numbers must wrap too


def pkt(line: str) -> Packet:
    ev = parse_event(line, 7)
    assert isinstance(ev, Packet)
    return ev


def out(seq: int, ack: int, flags: int = sg.ACK, window: int = 502,
        options: tuple[sg.Option, ...] = (), payload: bytes = b"") -> sg.Segment:
    return sg.Segment(8080, 50000, (ISS + seq) & 0xFFFFFFFF, (IN_BASE + ack) & 0xFFFFFFFF,
                      flags, window, options, payload)


def numbering() -> Numbering:
    nb = Numbering()
    nb.saw(sg.Segment(8080, 50000, ISS, 0, sg.SYN, 65535))
    return nb


def test_matching_segment_has_no_differences_across_wrap() -> None:
    seg = out(0x200, 1, sg.ACK | sg.PSH, payload=bytes(1000))
    assert differences(pkt("+0 > P. 512:1512(1000) ack 1 win 502"), seg, numbering(),
                       Settings()) == []


def test_each_field_is_reported() -> None:
    seg = out(5, 3, sg.ACK, window=100, payload=bytes(10))
    diffs = differences(pkt("+0 > P. 1:1001(1000) ack 1 win 502"), seg, numbering(),
                        Settings())
    assert diffs == ["flags . instead of P.", "seq 5 instead of 1",
                     "length 10 instead of 1000", "ack 3 instead of 1",
                     "win 100 instead of 502"]


def test_ignore_window_and_psh() -> None:
    seg = out(1, 1, sg.ACK, window=100)
    line = pkt("+0 > P. 1:1(0) ack 1 win 502")
    assert len(differences(line, seg, numbering(), Settings())) == 2
    st = Settings()
    st.apply("ignore-window", None)
    st.apply("ignore_psh", None)
    assert differences(line, seg, numbering(), st) == []


SYN_OPTS = (sg.Mss(1460), sg.SACK_PERMITTED, sg.Timestamps(777, 0), sg.NOP, sg.WScale(7))


def test_option_modes() -> None:
    seg = sg.Segment(1, 2, ISS, 0, sg.SYN, 65535, SYN_OPTS)
    reordered = pkt("+0 > S 0:0(0) <wscale 7,nop,nop,mss 1460,TS val 1 ecr 0,sackOK>")
    strict, unordered, ignore = Settings(), Settings(), Settings()
    unordered.apply("options", "unordered")
    ignore.apply("options", "ignore")
    assert differences(reordered, seg, numbering(), strict)[0].startswith("options <mss 1460")
    assert differences(reordered, seg, numbering(), unordered) == []
    wrong = pkt("+0 > S 0:0(0) <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>")
    assert differences(wrong, seg, numbering(), unordered) != []
    assert differences(wrong, seg, numbering(), ignore) == []
    assert differences(pkt("+0 > S 0:0(0) <...>"), seg, numbering(), strict) == []
    # No option list written means "no options".
    assert differences(pkt("+0 > S 0:0(0)"), seg, numbering(), strict) != []


def test_ts_val_ignored_ecr_exact_and_offset_learnt() -> None:
    nb = numbering()
    line = pkt("+0 > . 1:1(0) ack 1 <nop,nop,TS val 10 ecr 300>")
    seg = out(1, 1, options=(sg.NOP, sg.NOP, sg.Timestamps(5010, 300)))
    assert differences(line, seg, nb, Settings()) == []
    nb.learn_ts(line, seg)
    assert nb.ts_offset == 5000
    bad_ecr = out(1, 1, options=(sg.NOP, sg.NOP, sg.Timestamps(5010, 301)))
    assert differences(line, bad_ecr, nb, Settings()) != []
    inbound = nb.inbound(pkt("+0 < . 1:1(0) ack 1 win 9 <nop,nop,TS val 400 ecr 10>"), 1, 2)
    assert inbound.timestamps() == sg.Timestamps(400, 5010)


def test_sack_blocks_are_relative_in_both_directions() -> None:
    nb = numbering()
    outbound = out(1, 1, options=(sg.NOP, sg.NOP, sg.Sack(((IN_BASE + 1001, IN_BASE + 2001),))))
    assert differences(pkt("+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:2001>"), outbound, nb,
                       Settings()) == []
    assert "sack 1001:2001" in render(outbound, nb)
    seg = nb.inbound(pkt("+0 < . 1:1(0) ack 1 win 9 <nop,nop,sack 101:201>"), 1, 2)
    assert seg.sack_blocks() == (((ISS + 101) & 0xFFFFFFFF, (ISS + 201) & 0xFFFFFFFF),)


def test_inbound_translation_and_default_window() -> None:
    seg = numbering().inbound(pkt("+0 < P. 1:11(10) ack 1"), 50000, 8080)
    assert (seg.src_port, seg.dst_port) == (50000, 8080)
    assert seg.seq == IN_BASE + 1
    assert seg.ack == (ISS + 1) & 0xFFFFFFFF
    assert (seg.window, len(seg.payload)) == (65535, 10)


def test_render_is_relative_packetdrill_syntax() -> None:
    seg = out(1, 1, sg.ACK | sg.FIN, window=2048)
    assert render(seg, numbering()) == "> F. 1:1(0) ack 1 win 2048"


def test_settings_apply_and_config() -> None:
    st = Settings()
    for name, value in [("mss", "1000"), ("delayed-ack-ms", "0"), ("msl_ms", "1000"),
                        ("tolerance_usecs", "10000"), ("no-sack", None)]:
        st.apply(name, value)
    cfg = st.config()
    assert (cfg.mss, cfg.delayed_ack, cfg.msl, cfg.sack) == (1000, 0.0, 1.0, False)
    assert st.tolerance == pytest.approx(0.01)
    with pytest.raises(SettingError, match="out of range"):
        st.apply("wscale", "15")
    assert st.config().wscale == 7        # the bad value was not kept
    with pytest.raises(SettingError):
        st.apply("mss", "many")
    with pytest.raises(SettingError):
        st.apply("options", "sorted")
    with pytest.raises(UnsupportedSetting):
        st.apply("ip_version", "ipv6")
    with pytest.raises(UnsupportedSetting):
        st.apply("mtu", "1500")
