"""A Linux connection's sequence variables as its segments show them (no root needed)."""

from __future__ import annotations

from tcplab.backends.mininet.linux.wireview import Variables, WireView
from tcplab.tcp.segment import ACK, FIN, SYN, Mss, Segment, WScale

MINE, PEER = 1_000_000, 4_294_967_000  # the peer's ISS wraps past 2**32 with its data


def seg(seq: int, ack: int, flags: int, window: int = 1000, data: bytes = b"",
        shift: int | None = None) -> Segment:
    options = (Mss(1460),) + ((WScale(shift),) if shift is not None else ())
    return Segment(40000, 80, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, window, options,
                   data)


def test_a_handshake_data_and_a_close_give_each_variable() -> None:
    view = WireView()
    assert view.sent(seg(MINE, 0, SYN, 64240, shift=7))
    assert view.now == Variables(iss=MINE, snd_una=MINE, snd_nxt=MINE + 1)
    assert view.received(seg(PEER, MINE + 1, SYN | ACK, 65160, shift=8))
    # a SYN's window is not scaled (RFC 7323 §2.2)
    assert view.now.irs == PEER and view.now.snd_una == MINE + 1 and view.now.snd_wnd == 65160
    view.sent(seg(MINE + 1, PEER + 1, ACK, 502))
    assert (view.now.rcv_nxt, view.now.rcv_wnd) == (PEER + 1, 502 << 7)
    view.sent(seg(MINE + 1, PEER + 1, ACK, 502, b"x" * 1000))
    view.received(seg(PEER + 1, MINE + 1, ACK, 300, b"y" * 500))
    assert view.now.snd_nxt == MINE + 1001 and view.now.snd_wnd == 300 << 8
    view.received(seg(PEER + 501, MINE + 1001, ACK, 300))
    view.sent(seg(MINE + 1001, PEER + 501, ACK | FIN, 502))
    assert view.now == Variables(MINE, PEER, MINE + 1001, MINE + 1002,
                                 (PEER + 501) & 0xFFFFFFFF, 300 << 8, 502 << 7)


def test_a_retransmission_or_an_old_ack_moves_nothing_back() -> None:
    view = WireView()
    view.sent(seg(MINE, 0, SYN, 64240))
    view.received(seg(PEER, MINE + 1, SYN | ACK, 65160))
    view.sent(seg(MINE + 1, PEER + 1, ACK, 500, b"a" * 3000))
    view.received(seg(PEER + 1, MINE + 2001, ACK, 400))
    before = view.now
    assert not view.sent(seg(MINE + 1001, PEER + 1, ACK, 500, b"a" * 1000))  # a resend
    assert view.received(seg(PEER + 1, MINE + 1001, ACK, 401))  # reordered: new window only
    assert view.now.snd_una == before.snd_una == MINE + 2001
    assert view.now.snd_nxt == MINE + 3001


def test_without_both_syns_offering_it_windows_are_not_scaled() -> None:
    view = WireView()
    view.sent(seg(MINE, 0, SYN, 64240, shift=7))
    view.received(seg(PEER, MINE + 1, SYN | ACK, 8192))  # the peer did not offer it
    view.sent(seg(MINE + 1, PEER + 1, ACK, 64240))
    view.received(seg(PEER + 1, MINE + 1, ACK, 8000))
    assert (view.now.rcv_wnd, view.now.snd_wnd) == (64240, 8000)
