"""The one event codec (:mod:`tcplab.lab.codec`): every kind the registry knows goes to
its recorded JSON and back, the engine's events are the host's without a second
declaration, and a malformed record is a one-line reason.  No root, no network."""

from __future__ import annotations

import dataclasses
import errno
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from segment_examples import DATA_SEG, SYN_SEG, A, B

from tcplab.lab import codec
from tcplab.lab import events as L
from tcplab.stack import events as H
from tcplab.tcp import events as tev
from tcplab.tcp.segment import (
    EOL,
    NOP,
    SACK_PERMITTED,
    Mss,
    Sack,
    Segment,
    Timestamps,
    UnknownOption,
    WScale,
)
from tcplab.tcp.states import State, Trigger

EXAMPLES: list[L.LabEvent] = [
    H.SegmentSent(0.5, "h1", 1, A, B, SYN_SEG, "h1-eth0"),
    H.SegmentReceived(0.75, "h2", None, A, B, DATA_SEG, "h2-eth0"),
    H.SegmentDropped(1.0, "h2", "no socket", "h2-eth0", "10.0.0.1:40000>10.0.0.2:80 S", None,
                     SYN_SEG),
    H.SegmentDropped(1.0, "h2", "bad checksum", "h2-eth0", "20 bytes", None, None),
    H.FrameDropped(1.5, "h1", "not for us", "h1-eth0"),
    H.StateChanged(2.0, "h1", 1, State.SYN_SENT, State.ESTABLISHED, Trigger.RCV_SYN_ACK,
                   local=A, remote=B),
    H.StateChanged(2.0, "h2", 3, State.CLOSED, State.LISTEN, Trigger.PASSIVE_OPEN,
                   "listen(5)", local=("0.0.0.0", 80), remote=None),
    H.TimerArmed(2.5, "h1", 1, "rtx", 3.5),
    H.TimerCancelled(2.6, "h1", 1, "rtx"),
    H.TimerFired(2.7, "h1", 1, "delack"),
    H.Delivered(3.0, "h2", 2, b"\x00\x01binary\xff" * 100),
    H.Delivered(3.0, "h2", 2, b"short"),
    H.Retransmitted(3.1, "h1", 1, 7, 1448, "rto"),
    H.ConnectionFailed(3.2, "h1", 1, errno.ECONNRESET, "connection reset"),
    H.SoftError(3.3, "h1", 1, 3, "delivery trouble: the SYN timed out 3 times (R1)"),
    H.TcbSampled(3.4, "h1", 1, 100, 200, 101, 1101, 2101, 201, 65535, 262144, 14600, 1 << 30,
                 1000, 0.0125, None, 1.0, 1000, 0, (("delack", 3.44), ("rtx", 4.4))),
    L.LinkDropped(4.0, "", "h1-s1", "h1>s1", "link loss", "summary", DATA_SEG),
    L.LinkDropped(4.0, "", "h1-s1", "s1>h1", "link down", "ARP", None),
    L.LinkHeld(4.1, "", "h1>h2", "a held FIN"),
    L.LinkChanged(4.2, "", "h1-s1", "h1>s1", "loss=5% delay=20ms"),
    L.CommandDone(4.3, "", "listen h2:80", True, "ok"),
    L.Notice(4.4, "", "héllo ✓ \u2028 \x1b"),
    L.HostStatus(4.5, "h1", False, "agent exited"),
    L.ConnNamed(4.7, "h1", 1, "c1", A, B),
    L.BreakHit(4.8, "h1", 1, "break c1 CLOSING", 1, "c1 entered CLOSING"),
    L.BreakHit(4.85, "", 2, "break drop", None, "h1>s1 lost a frame"),
    L.RunRewound(4.9, "", 2.5, 120),
]


def light(event: L.LabEvent) -> L.LabEvent:
    """``event`` as its record holds it: payloads past the preview are zeros."""
    def cut(data: bytes) -> bytes:
        n = codec.PREVIEW_BYTES
        return data[:n] + bytes(max(0, len(data) - n))

    if isinstance(event, H.SegmentSent | H.SegmentReceived | H.SegmentDropped
                  | L.LinkDropped) and event.segment is not None:
        return dataclasses.replace(event, segment=dataclasses.replace(
            event.segment, payload=cut(event.segment.payload)))
    if isinstance(event, H.Delivered):
        return dataclasses.replace(event, data=cut(event.data))
    return event


def test_the_registry_holds_every_event_class_and_the_examples_cover_it() -> None:
    declared = {cls for module in (H, L) for cls in vars(module).values()
                if isinstance(cls, type) and dataclasses.is_dataclass(cls)
                and getattr(cls, "kind", "") and cls.__module__ == module.__name__}
    assert set(codec.KINDS.values()) == declared
    assert set(codec.KINDS) == set(L.EVENT_KINDS)
    assert {type(e) for e in EXAMPLES} == declared


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_every_kind_goes_to_its_line_and_back(event: L.LabEvent) -> None:
    line = codec.line(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    raw = codec.decode(line)
    assert list(raw) == ["kind", "t", "host", *codec.FIELDS[event.kind]]
    assert raw["kind"] == event.kind and raw == codec.record(event)
    back = codec.from_record(raw)
    assert type(back) is type(event)
    assert back == light(event)
    # what a recording holds of it is all there: the same line again
    assert codec.line(back) == line


def test_derived_fields_are_what_the_fields_imply() -> None:
    fired = codec.record(H.TimerFired(2.7, "h1", 1, "delack"))
    cancelled = codec.record(H.TimerCancelled(2.6, "h1", 1, "rtx"))
    assert fired["deadline"] == 2.7 and cancelled["deadline"] is None
    error = codec.record(H.ConnectionFailed(1.0, "h1", 1, errno.ETIMEDOUT, "timed out"))
    assert error["errname"] == "ETIMEDOUT"
    state = codec.record(EXAMPLES[6])
    assert state["cause"] == "passive OPEN (listen(5))" and state["remote"] is None
    delivered = codec.record(EXAMPLES[10])
    assert delivered["len"] == 900
    assert delivered["hex"] == "0001" + b"binary".hex() + "ff" + "0001" + b"binar".hex()
    assert delivered["ascii"] == "..binary...binar…"


def test_a_host_event_is_the_engine_event_in_its_envelope() -> None:
    pairs = [(H.StateChanged, tev.StateChanged), (H.TimerArmed, tev.TimerArmed),
             (H.TimerCancelled, tev.TimerCancelled), (H.TimerFired, tev.TimerFired),
             (H.Retransmitted, tev.Retransmitted), (H.ConnectionFailed, tev.ConnectionFailed)]
    for host_cls, engine_cls in pairs:
        assert issubclass(host_cls, engine_cls) and issubclass(host_cls, H.Envelope)
        assert host_cls.kind == engine_cls.kind
        engine = [f.name for f in dataclasses.fields(engine_cls)]
        assert [f.name for f in dataclasses.fields(host_cls)][:3 + len(engine)] == [
            "t", "host", "sid", *engine]
    sample = EXAMPLES[5]
    assert isinstance(sample, tev.StateChanged) and sample.cause == "rcv SYN,ACK"


def test_no_event_class_serialises_itself() -> None:
    """The codec is the only serialiser: no event class has a method of its own that
    makes a dict, JSON or wire form (what is left are the dataclass's own and the
    engine's ``cause``)."""
    allowed = {"cause"}
    for cls in codec.KINDS.values():
        for klass in cls.__mro__:
            if klass.__module__.startswith("tcplab."):
                own = {name for name, value in vars(klass).items()
                       if callable(value) or isinstance(value, property)}
                own -= {name for name in own if name.startswith("__")}
                assert own <= allowed, f"{klass.__name__} has {sorted(own - allowed)}"


def good() -> dict[str, Any]:
    return codec.record(H.SegmentSent(0.5, "h1", 1, A, B, DATA_SEG, "h1-eth0"))


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d.update(kind="segment.teleported"), "unknown event kind"),
    (lambda d: d.pop("ifname"), "needs ifname"),
    (lambda d: d.update(sid="1"), "sid must be an integer"),
    (lambda d: d.update(sid=True), "sid must be an integer"),
    (lambda d: d.update(t="now"), "t must be a number"),
    (lambda d: d.update(host=None), "host must be a string"),
    (lambda d: d.update(src=["10.0.0.1"]), r"src must be \[ip, port\]"),
    (lambda d: d.update(dst=["10.0.0.1", 70000]), r"dst must be \[ip, port\]"),
    (lambda d: d["segment"].update(seq=2**32), "in range"),
    (lambda d: d["segment"].update(hex="zz"), "not hexadecimal"),
    (lambda d: d["segment"].update(len=3), "first min"),
    (lambda d: d["segment"].update(len=70000), "len must be"),
    (lambda d: d["segment"].update(flags="SX"), "flags must be letters"),
    (lambda d: d["segment"].update(options=["mss"]), "unknown segment option"),
    (lambda d: d["segment"].update(options=["mss 70000"]), "not 0..65535"),
    (lambda d: d["segment"].update(options=["sack 1-2"]), "LEFT:RIGHT"),
    (lambda d: d["segment"].update(options=[7]), "must be a string"),
    (lambda d: d["segment"].pop("window"), "segment needs window"),
    (lambda d: d.update(segment=[]), "segment must be an object"),
])
def test_a_malformed_record_is_a_one_line_reason(mutate: Any, reason: str) -> None:
    raw = good()
    mutate(raw)
    with pytest.raises(codec.CodecError, match=reason) as info:
        codec.from_record(raw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("raw, reason", [
    ({**codec.record(EXAMPLES[5]), "new": "HALF-OPEN"}, "not a connection state"),
    ({**codec.record(EXAMPLES[5]), "cause": "magic"}, "does not start with a trigger"),
    ({**codec.record(EXAMPLES[7]), "deadline": None}, "deadline must be a number"),
    ({**codec.record(EXAMPLES[15]), "timers": [["rtx"]]}, r"\[\[name, deadline\], ...\]"),
    ({**codec.record(EXAMPLES[20]), "ok": 1}, "ok must be true or false"),
    ([1, 2], "an event must be an object"),
])
def test_other_malformed_records(raw: Any, reason: str) -> None:
    with pytest.raises(codec.CodecError, match=reason):
        codec.from_record(raw)


def test_unknown_keys_are_skipped_and_the_host_can_be_named() -> None:
    raw = {**codec.record(EXAMPLES[7]), "colour": "red"}
    back = codec.from_record(raw, host="k9")
    assert back == dataclasses.replace(EXAMPLES[7], host="k9")


def test_the_line_is_utf8_and_a_lone_surrogate_a_question_mark() -> None:
    line = codec.line(L.Notice(1.0, "", "héllo ✓"))
    assert "héllo ✓".encode() in line
    odd = codec.line(L.Notice(1.0, "", "a\ud800b"))
    assert codec.decode(odd)["text"] == "a?b"


def test_encoding_an_event_again_reuses_the_last_result() -> None:
    event = EXAMPLES[0]
    first = codec.encoded(event)
    assert codec.encoded(event) is not None and codec.encoded(event)[1] is first[1]
    other = codec.encoded(EXAMPLES[1])
    assert other[1] != first[1] and codec.encoded(event)[1] == first[1]


seq32 = st.integers(0, 2**32 - 1)
port = st.integers(0, 65535)
option = st.one_of(
    st.just(NOP), st.just(EOL), st.just(SACK_PERMITTED), port.map(Mss),
    st.integers(0, 255).map(WScale),
    st.tuples(seq32, seq32).map(lambda t: Timestamps(*t)),
    st.lists(st.tuples(seq32, seq32), min_size=1, max_size=4).map(lambda b: Sack(tuple(b))),
    st.tuples(st.integers(9, 255), st.binary(max_size=10)).map(lambda t: UnknownOption(*t)))


@given(st.builds(Segment, port, port, seq32, seq32, st.integers(0, 255), port,
                 st.lists(option, max_size=6).map(tuple), st.binary(max_size=300), port))
def test_any_segment_round_trips_with_its_preview(seg: Segment) -> None:
    back = codec.segment_from_record(codec.decode(codec.dumps(codec.segment_record(seg))))
    n = codec.PREVIEW_BYTES
    assert back == dataclasses.replace(
        seg, payload=seg.payload[:n] + bytes(max(0, len(seg.payload) - n)))


def test_the_control_channel_carries_a_deliverys_bytes() -> None:
    delivered = EXAMPLES[10]
    assert isinstance(delivered, H.Delivered)
    rec = codec.wire_record(delivered)
    assert {k: v for k, v in rec.items() if k != "data"} == codec.record(delivered)
    assert codec.from_record(codec.decode(codec.dumps(rec))) == delivered
    for bad in (delivered.data[:-1], b"\xee" + delivered.data[1:]):
        other = codec.wire_record(dataclasses.replace(delivered, data=bad))
        with pytest.raises(codec.CodecError, match="data must be the len bytes"):
            codec.from_record({**rec, "data": other["data"]})
    # every other kind crosses as its line, byte for byte
    for event in EXAMPLES:
        if not isinstance(event, H.Delivered):
            assert codec.dumps(codec.wire_record(event)) == codec.line(event), event.kind


def test_a_delivery_may_be_longer_than_a_segment() -> None:
    big = H.Delivered(1.0, "h1", 1, bytes(range(256)) * 300)
    assert codec.from_record(codec.decode(codec.dumps(codec.wire_record(big)))) == big
    assert codec.from_record(codec.record(big)) == light(big)
