"""Segments and addresses the event codec's and the control channel's tests both use:
every option kind, every flag the record spells, a payload longer than its preview."""

from __future__ import annotations

from tcplab.tcp.segment import (
    ACK,
    EOL,
    FIN,
    NOP,
    PSH,
    SACK_PERMITTED,
    SYN,
    Mss,
    Sack,
    Segment,
    Timestamps,
    UnknownOption,
    WScale,
)

ALL_OPTIONS = (Mss(1460), SACK_PERMITTED, Timestamps(4294967295, 0), NOP, WScale(14),
               Sack(((1, 2), (4294967000, 5))), UnknownOption(30, b"\x00\xffmp"), EOL)
SYN_SEG = Segment(40000, 80, 1, 0, SYN, 65535, ALL_OPTIONS)
DATA_SEG = Segment(80, 40000, 7, 9, ACK | PSH | FIN, 501, (NOP, NOP, Timestamps(3, 4)),
                   bytes(range(256)) * 6)
A, B = ("10.0.0.1", 40000), ("10.0.0.2", 80)
