"""TCP_INFO for %{ }%: Linux's numbering of states and option bits, and the wire
ledger's segment counts."""

from __future__ import annotations

from tcplab.pkt.tcpinfo import CONSTANTS, INFINITE_SSTHRESH, NAMES, Wire, tcp_info
from tcplab.tcp import segment as sg
from tcplab.tcp.connection import Connection

ISS = 5000


def out(seq: int, n: int, flags: int = sg.ACK) -> sg.Segment:
    return sg.Segment(8080, 50000, seq, 1, flags, 100, (), bytes(n))


def sack(*blocks: tuple[int, int]) -> sg.Segment:
    return sg.Segment(50000, 8080, 1, ISS + 1, sg.ACK, 100, (sg.Sack(blocks),))


def test_linux_numbers() -> None:
    assert CONSTANTS["TCPI_SYN_RECV"] == CONSTANTS["TCPI_SYN_RECEIVED"] == 3
    assert [CONSTANTS[f"TCPI_{n}"] for n in (
        "ESTABLISHED", "SYN_SENT", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
        "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING")] == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11]
    assert [CONSTANTS[f"TCPI_OPT_{n}"] for n in ("TIMESTAMPS", "SACK", "WSCALE", "ECN")] == \
        [1, 2, 4, 8]
    assert [CONSTANTS[f"TCP_CA_{n}"] for n in ("Open", "Disorder", "CWR", "Recovery",
                                               "Loss")] == [0, 1, 2, 3, 4]
    for name in ("tcpi_state", "tcpi_snd_cwnd", "tcpi_snd_ssthresh", "tcpi_rto", "tcpi_rtt",
                 "tcpi_rttvar", "tcpi_unacked", "tcpi_sacked", "tcpi_lost", "tcpi_retrans",
                 "tcpi_total_retrans", "tcpi_snd_mss", "tcpi_rcv_mss", "tcpi_options",
                 "tcpi_snd_wscale", "tcpi_rcv_wscale", "tcpi_ca_state", "tcpi_advmss"):
        assert name in NAMES


def test_a_fresh_connection() -> None:
    conn = Connection(("192.168.0.1", 8080))
    info = tcp_info(conn, Wire())
    assert info["tcpi_state"] == CONSTANTS["TCPI_CLOSE"]
    assert info["tcpi_snd_ssthresh"] == INFINITE_SSTHRESH
    assert info["tcpi_rtt"] == info["tcpi_rttvar"] == 0
    assert info["tcpi_rto"] == round(conn.config.rto_initial * 1_000_000)
    assert info["tcpi_options"] == 0
    assert info["tcpi_unacked"] == 0


def test_the_ledger_counts_segments() -> None:
    wire = Wire()
    wire.sent(sg.Segment(8080, 50000, ISS, 0, sg.SYN, 100, (sg.WScale(7),)))
    wire.sent(sg.Segment(8080, 50000, ISS, 0, sg.SYN, 100, (sg.WScale(7),)))  # again
    assert wire.counts(ISS, 1000)["tcpi_retrans"] == 1
    una = ISS + 1
    for i in range(6):
        wire.sent(out(una + 1000 * i, 1000))
    assert wire.counts(una, 1000) == {"tcpi_unacked": 6, "tcpi_sacked": 0,
                                      "tcpi_retrans": 0, "tcpi_lost": 0}
    # segments 2, 3 and 4 SACKed: 1 is lost (three SACKed above it), 5 and 6 are not
    wire.received(sack((una + 1000, una + 4000)))
    assert wire.counts(una, 1000) == {"tcpi_unacked": 6, "tcpi_sacked": 3,
                                      "tcpi_retrans": 0, "tcpi_lost": 1}
    wire.sent(out(una, 1000))   # the retransmission
    assert wire.counts(una, 1000)["tcpi_retrans"] == 1
    # the cumulative ACK passes the first four
    assert wire.counts(una + 4000, 1000) == {"tcpi_unacked": 2, "tcpi_sacked": 0,
                                             "tcpi_retrans": 0, "tcpi_lost": 0}


def test_window_scaling_needs_both_syns() -> None:
    wire = Wire()
    wire.sent(sg.Segment(8080, 50000, ISS, 0, sg.SYN, 100, (sg.WScale(7),)))
    assert not (wire.offered_wscale and wire.peer_wscale)
    wire.received(sg.Segment(50000, 8080, 1, ISS + 1, sg.SYN | sg.ACK, 100, ()))
    assert not wire.peer_wscale
    wire.received(sg.Segment(50000, 8080, 1, ISS + 1, sg.SYN | sg.ACK, 100,
                             (sg.WScale(2),)))
    assert wire.offered_wscale and wire.peer_wscale
