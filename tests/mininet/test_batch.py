"""The agent's batched events (:mod:`tcplab.backends.mininet.batch`), the hot path of
every Mininet lab: what the lab decodes is what the agent published (segments with
their light payload, as the generic codec gives them), deliveries to one socket at
one instant merge in order, and a malformed record is a one-line reason that costs
only itself.  Pure codec: no root, no Mininet."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcplab.backends.mininet import protocol as P
from tcplab.backends.mininet.batch import Batch, events_from_batch
from tcplab.lab.events import LabEvent
from tcplab.stack.events import (
    PREVIEW_BYTES,
    Delivered,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TcbSampled,
    TimerArmed,
    TimerCancelled,
    TimerFired,
)
from tcplab.tcp.segment import (
    ACK,
    SYN,
    Mss,
    Nop,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    UnknownOption,
    WScale,
)
from tcplab.tcp.states import State

A, B = ("10.0.0.1", 40000), ("10.0.0.2", 80)
DATA = Segment(40000, 80, 4294967295, 7, ACK, 65535, (Nop(), Nop(), Timestamps(3, 2**32 - 1)),
               bytes(range(256)) * 5)
HOT: list[LabEvent] = [
    SegmentSent(0.25, "h1", 1, A, B, DATA, "h1-eth0"),
    SegmentReceived(0.5, "h1", None, A, B, Segment(40000, 80, 0, 0, SYN, 512), "h1-eth0"),
    SegmentSent(0.75, "h1", 1, A, B, Segment(40000, 80, 3, 4, ACK, 5, (
        Mss(1460), Nop(), Sack(((1, 2),)), WScale(7), SackPermitted(),
        UnknownOption(30, b"\x01\x02")), b"x"), "h1-eth0"),
    Delivered(1.0, "h1", 2, b"\x00\xffdata" * 9),
    Delivered(1.25, "h1", 2, b""),
    TimerArmed(1.5, "h1", 1, "rtx", 2.5),
    TimerCancelled(1.75, "h1", 1, "rtx"),
    TimerFired(2.0, "h1", 1, "delack", 2.0),
    TcbSampled(2.25, "h1", 1, 100, 200, 101, 1101, 2101, 201, 65535, 262144, 14600, 1 << 30,
               1000, 0.0125, 0.005, 1.0, 1000, 3, (("delack", 2.29), ("rtx", 3.25))),
    TcbSampled(2.5, "h1", 2, 7, 0, 8, 8, 8, 0, 0, 262144, 5360, 1 << 30, 1, None, None,
               1.0, 0, 0, ()),
]


def as_lab_sees(event: LabEvent) -> LabEvent:
    """What the generic, checked codec makes of ``event`` (light segments)."""
    return P.event_from_wire(P.decode_line(P.event_line(event)[:-1])["event"])


def through(events: list[LabEvent], host: str = "h1") -> tuple[list[LabEvent], list[str]]:
    batch = Batch()
    for event in events:
        assert batch.add(event)
    line = batch.line(P.VERSION)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    return events_from_batch(P.decode_line(line[:-1])["events"], host)


def test_every_batched_kind_comes_back_as_the_generic_codec_gives_it() -> None:
    events, errors = through(HOT)
    assert errors == []
    assert events == [as_lab_sees(e) for e in HOT]
    # the long payload is light: its length kept, its head real, the rest zeros
    first = events[0]
    assert isinstance(first, SegmentSent)
    assert len(first.segment.payload) == len(DATA.payload)
    assert first.segment.payload[:PREVIEW_BYTES] == DATA.payload[:PREVIEW_BYTES]


def test_other_kinds_and_infinite_times_are_refused_and_an_empty_batch_is_false() -> None:
    batch = Batch()
    inf = float("inf")
    assert not batch.add(TimerArmed(1.0, "h1", 1, "rtx", inf))
    assert not batch.add(Delivered(inf, "h1", 1, b"x"))
    assert not batch.add(TcbSampled(1.0, "h1", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None,
                                    None, 1.0, 0, 0, (("rtx", inf),)))
    assert not batch
    assert not batch.add(StateChanged(1.0, "h1", 1, B, A, State.LISTEN, State.SYN_RECEIVED,
                                      "syn"))
    assert not batch
    odd = SegmentSent(1.0, "h1", 1, A, B, Segment(1, 2, 3, 4, ACK, 5), "h1-eth0")
    assert not batch.add(odd)   # ports unlike its segment's: a line of its own
    assert not batch
    assert batch.add(HOT[5]) and batch


def test_the_lab_names_the_host_not_the_record() -> None:
    events, _ = through([HOT[0]], host="k9")
    assert events[0].host == "k9"


def test_deliveries_to_one_socket_at_one_instant_merge_in_order() -> None:
    def d(t: float, sid: int, data: bytes) -> Delivered:
        return Delivered(t, "h1", sid, data)

    events, errors = through([d(1.0, 1, b"ab"), HOT[0], d(1.0, 2, b"X"), d(1.0, 1, b"cd"),
                              d(2.0, 1, b"ef"), d(2.0, 1, b"gh")])
    assert errors == []
    # a merged delivery stands where its last part stood: after the segments
    assert events == [as_lab_sees(HOT[0]), d(1.0, 2, b"X"), d(1.0, 1, b"abcd"),
                      d(2.0, 1, b"efgh")]


def test_a_new_line_starts_a_new_delivery() -> None:
    batch = Batch()
    batch.add(Delivered(1.0, "h1", 1, b"a"))
    first = batch.line(P.VERSION)
    assert not batch
    batch.add(Delivered(1.0, "h1", 1, b"b"))
    second = batch.line(P.VERSION)
    got = [events_from_batch(P.decode_line(line[:-1])["events"], "h1")[0]
           for line in (first, second)]
    assert got == [[Delivered(1.0, "h1", 1, b"a")], [Delivered(1.0, "h1", 1, b"b")]]


def _records() -> list[Any]:
    batch = Batch()
    for event in HOT:
        batch.add(event)
    records: list[Any] = json.loads(batch.line(P.VERSION))["events"]
    return records


BAD: list[tuple[int, int, Any]] = [   # (record, position, value put there)
    (0, 1, 1), (0, 2, True), (0, 3, 7), (0, 4, "80"), (0, 6, 70000), (0, 7, None),
    (0, 8, -1), (0, 9, 2**32), (0, 10, 4096), (0, 11, 1.5), (0, 12, -1),
    (0, 13, [1]), (0, 13, [1, 2**32]), (0, 13, [["mss", 70000]]), (0, 13, [["bogus"]]),
    (0, 13, "ts"), (0, 14, 15), (0, 14, 70000), (0, 14, True), (0, 15, "!!"),
    (0, 15, "é"), (1, 15, "AA=="), (3, 1, 2), (3, 2, None), (3, 3, "a"), (3, 3, 5),
    (5, 4, 3), (6, 4, 1.0), (7, 3, None), (0, 0, 9), (0, 0, True), (0, 0, "0"),
]


@pytest.mark.parametrize(("index", "position", "value"), BAD)
def test_a_malformed_record_costs_only_itself(index: int, position: int, value: Any) -> None:
    records = _records()
    records[index][position] = value
    events, errors = events_from_batch(records, "h1")
    assert len(errors) == 1 and errors[0].startswith(f"event record {index}: ")
    assert "\n" not in errors[0]
    assert events == [as_lab_sees(e) for i, e in enumerate(HOT) if i != index]


@pytest.mark.parametrize("shape", [[], [0], [[0] * 15], [[2, 1.0, 1]], [[3, 1.0, 1, "x"]],
                                   [[0] * 17], ["record"], [{"kind": "x"}]])
def test_records_of_the_wrong_shape_are_reasons(shape: list[Any]) -> None:
    records = _records() + shape
    events, errors = events_from_batch(records, "h1")
    assert len(errors) == len(shape)
    assert len(events) == len(HOT)


@pytest.mark.parametrize("value", [None, {}, "events", 3])
def test_events_that_are_not_a_list_are_one_reason(value: Any) -> None:
    assert events_from_batch(value, "h1") == ([], ["events must be a list of records"])


PORTS = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
OPTIONS = st.one_of(
    st.just(()),
    st.builds(lambda v, e: (Nop(), Nop(), Timestamps(v, e)), U32, U32),
    st.lists(st.one_of(PORTS.map(Mss), st.integers(0, 14).map(WScale),
                       st.just(SackPermitted()), st.just(Nop()),
                       st.builds(lambda a, b: Sack(((a, b),)), U32, U32)),
             max_size=4).map(tuple))
SEGMENTS = st.builds(Segment, PORTS, PORTS, U32, U32, st.integers(0, 0xFFF), PORTS, OPTIONS,
                     st.binary(max_size=200), PORTS)
NAMES = st.text(min_size=1, max_size=12)   # lone surrogates too: JSON escapes them


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1e6), st.none() | st.integers(1, 999),
                          NAMES, SEGMENTS), max_size=8))
def test_any_segment_event_round_trips(specs: list[tuple[bool, float, int | None, str,
                                                          Segment]]) -> None:
    events: list[LabEvent] = [
        (SegmentSent if sent else SegmentReceived)(t, "h1", sid, ("10.0.0.1", seg.src_port),
                                                   ("10.0.0.2", seg.dst_port), seg, ifname)
        for sent, t, sid, ifname, seg in specs]
    got, errors = through(events)
    assert errors == []
    assert got == [as_lab_sees(e) for e in events]
    for event, back in zip(events, got, strict=True):
        assert isinstance(event, SegmentSent | SegmentReceived)
        assert isinstance(back, SegmentSent | SegmentReceived)
        assert back.segment == dataclasses.replace(
            event.segment, payload=event.segment.payload[:PREVIEW_BYTES]
            + bytes(max(0, len(event.segment.payload) - PREVIEW_BYTES)))
