"""The control protocol without root: framing, request checks, typed values on the wire."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import tempfile
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcplab.backends.mininet import protocol as P
from tcplab.lab.commands import SegmentKind
from tcplab.lab.events import (
    LAB_EVENTS,
    BreakHit,
    CommandDone,
    ConnNamed,
    HostStatus,
    LabEvent,
    LinkChanged,
    LinkDropped,
    LinkHeld,
    Notice,
    RunRewound,
)
from tcplab.stack.events import (
    ALL_EVENTS,
    Delivered,
    FrameDropped,
    Retransmission,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    SocketError,
    SoftError,
    StateChanged,
    TcbSampled,
    TimerArmed,
    TimerCancelled,
    TimerFired,
)
from tcplab.stack.sockets import SocketInfo
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
from tcplab.tcp.states import State
from tcplab.tcp.status import Status

ALL_OPTIONS = (Mss(1460), SACK_PERMITTED, Timestamps(4294967295, 0), NOP, WScale(14),
               Sack(((1, 2), (4294967000, 5))), UnknownOption(30, b"\x00\xffmp"), EOL)
SYN_SEG = Segment(40000, 80, 1, 0, SYN, 65535, ALL_OPTIONS)
DATA_SEG = Segment(80, 40000, 7, 9, ACK | PSH | FIN, 501, (NOP, NOP, Timestamps(3, 4)),
                   bytes(range(256)) * 6)
A, B = ("10.0.0.1", 40000), ("10.0.0.2", 80)

EXAMPLES: list[LabEvent] = [
    SegmentSent(0.5, "h1", 1, A, B, SYN_SEG, "h1-eth0"),
    SegmentReceived(0.75, "h2", None, A, B, DATA_SEG, "h2-eth0"),
    SegmentDropped(1.0, "h2", "no socket", "h2-eth0", "10.0.0.1:40000>10.0.0.2:80 S", None,
                   SYN_SEG),
    SegmentDropped(1.0, "h2", "bad checksum", "h2-eth0", "20 bytes", None, None),
    FrameDropped(1.5, "h1", "not for us", "h1-eth0"),
    StateChanged(2.0, "h1", 1, A, B, State.SYN_SENT, State.ESTABLISHED, "rcv SYN,ACK"),
    StateChanged(2.0, "h2", 3, ("0.0.0.0", 80), None, State.CLOSED, State.LISTEN, "listen"),
    TimerArmed(2.5, "h1", 1, "rtx", 3.5),
    TimerCancelled(2.6, "h1", 1, "rtx"),
    TimerFired(2.7, "h1", 1, "delack", 2.7),
    Delivered(3.0, "h2", 2, b"\x00\x01binary\xff" * 100),
    Retransmission(3.1, "h1", 1, 7, 1448, "rto"),
    SocketError(3.2, "h1", 1, 104, "connection reset"),
    SoftError(3.3, "h1", 1, 3, "delivery trouble: the SYN timed out 3 times (R1)"),
    LinkDropped(4.0, "h1", "h1-eth0", "egress", "link loss", "summary", DATA_SEG),
    LinkDropped(4.0, "h1", "h1-eth0", "ingress", "link down", "ARP", None),
    LinkHeld(4.1, "h1", "h1-eth0:egress", "a held FIN"),
    LinkChanged(4.2, "", "h1-s1", "h1>s1", "loss=5% delay=20ms"),
    CommandDone(4.3, "", "listen h2:80", True, "ok"),
    Notice(4.4, "", "héllo ✓"),
    HostStatus(4.5, "h1", False, "agent exited"),
    TcbSampled(4.6, "h1", 1, 100, 200, 101, 1101, 2101, 201, 65535, 262144, 14600, 1 << 30,
               1000, 0.0125, None, 1.0, 1000, 0, (("delack", 4.64), ("rto", 5.6))),
    ConnNamed(4.7, "h1", 1, "c1", A, B),
    BreakHit(4.8, "h1", 1, "break c1 CLOSING", 1, "c1 entered CLOSING"),
    RunRewound(4.9, "", 2.5, 120),
]


def as_lab_sees(event: LabEvent) -> LabEvent:
    """A sent or received segment reaches the lab as its length and first 16 bytes."""
    if isinstance(event, SegmentSent | SegmentReceived):
        return dataclasses.replace(event, segment=P.light_segment(event.segment))
    return event


def roundtrip(event: LabEvent) -> LabEvent:
    line = P.encode({"v": 2, "event": P.event_to_wire(event)})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    return P.event_from_wire(P.decode_line(line[:-1])["event"])


def test_examples_cover_every_event_class() -> None:
    assert {type(e) for e in EXAMPLES} == set(ALL_EVENTS) | set(LAB_EVENTS)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_every_event_round_trips_to_an_equal_typed_object(event: LabEvent) -> None:
    back = roundtrip(event)
    assert type(back) is type(event)
    assert back == as_lab_sees(event)
    # what the lab records and shows of a segment (length, 16-byte preview) is all there
    assert back.to_dict() == event.to_dict()


def test_a_sent_segment_crosses_light_and_a_dropped_one_whole() -> None:
    back = roundtrip(SegmentSent(0.0, "h1", 1, A, B, DATA_SEG, "h1-eth0"))
    assert isinstance(back, SegmentSent)
    assert back.segment.payload == DATA_SEG.payload[:16] + bytes(len(DATA_SEG.payload) - 16)
    assert len(P.event_line(SegmentSent(0.0, "h1", 1, A, B, DATA_SEG, "h1-eth0"))) < 400
    dropped = roundtrip(LinkDropped(4.0, "h1", "h1-eth0", "egress", "loss", "s", DATA_SEG))
    assert isinstance(dropped, LinkDropped) and dropped.segment == DATA_SEG
    back_syn = P.segment_from_wire(json.loads(json.dumps(P.segment_to_wire(SYN_SEG))))
    assert back_syn.options == ALL_OPTIONS and back_syn.mss() == 1460


seq32 = st.integers(0, 2**32 - 1)
port = st.integers(0, 65535)
option = st.one_of(
    st.just(NOP), st.just(EOL), st.just(SACK_PERMITTED), port.map(Mss),
    st.integers(0, 14).map(WScale),
    st.tuples(seq32, seq32).map(lambda t: Timestamps(*t)),
    st.lists(st.tuples(seq32, seq32), min_size=1, max_size=4).map(lambda b: Sack(tuple(b))),
    st.tuples(st.integers(9, 255), st.binary(max_size=10)).map(lambda t: UnknownOption(*t)))


@given(st.builds(Segment, port, port, seq32, seq32, st.integers(0, 255), port,
                 st.lists(option, max_size=6).map(tuple), st.binary(max_size=300), port))
def test_any_segment_round_trips(seg: Segment) -> None:
    assert P.segment_from_wire(json.loads(P.encode(P.segment_to_wire(seg)))) == seg
    light = json.loads(P.encode(P.segment_to_wire(seg, light=True)))
    assert P.segment_from_wire(light, light=True) == P.light_segment(seg)


def test_socket_info_round_trips() -> None:
    status = Status(State.ESTABLISHED, A, B, 1, 2, 3, 4, 65535, 5, 6, 7, 8, 14480, 65535,
                    0.01, 0.005, 1.0, 0, 0, 0, 0, 1448, 7, 7, True, True, {"rtx": 2.5}, None)
    info = SocketInfo(1, "connection", A, B, State.ESTABLISHED, None, True,
                      (State.CLOSED, State.SYN_SENT, State.ESTABLISHED), status, 10, 20)
    wire = json.loads(P.encode(P.socket_to_wire(info)))
    assert wire["state"] == "ESTABLISHED" and wire["history"][1] == "SYN-SENT"
    assert P.socket_from_wire(wire) == info


def test_captured_frames_round_trip() -> None:
    wire = json.loads(P.encode(P.frame_to_wire("h1-eth0", "in", 1.25, b"\x01\x02")))
    assert P.frame_from_wire(wire) == P.CapturedFrame("h1-eth0", "in", 1.25, b"\x01\x02")
    with pytest.raises(P.ProtocolError):
        P.frame_from_wire({**wire, "dir": "sideways"})


def good_event() -> dict[str, Any]:
    return P.event_to_wire(SegmentSent(0.5, "h1", 1, A, B, DATA_SEG, "h1-eth0"))


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d.update(kind="segment.teleported"), "unknown event kind"),
    (lambda d: d.pop("ifname"), "missing ifname"),
    (lambda d: d.update(colour="red"), "unknown colour"),
    (lambda d: d.update(sid="1"), "must be int"),
    (lambda d: d.update(sid=True), "must be int"),
    (lambda d: d.update(t="now"), "must be float"),
    (lambda d: d.update(src=["10.0.0.1"]), "list of 2"),
    (lambda d: d["segment"].update(seq=2**32), "seq must be"),
    (lambda d: d["segment"].update(head="***"), "base64"),
    (lambda d: d["segment"].update(len=3), "light segment's len"),
    (lambda d: d["segment"].update(len=70000), "light segment's len"),
    (lambda d: d["segment"].update(payload=""), "unknown payload|exactly the keys"),
    (lambda d: d["segment"].update(options=[["mss"]]), "takes 1"),
    (lambda d: d["segment"].update(options=[["warp", 9]]), "unknown option"),
    (lambda d: d["segment"].update(options=[["sack", [[1]]]]), "sack blocks"),
    (lambda d: d["segment"].pop("window"), "segment must have"),
])
def test_malformed_events_are_protocol_errors(mutate: Any, reason: str) -> None:
    raw = json.loads(json.dumps(good_event()))
    mutate(raw)
    with pytest.raises(P.ProtocolError, match=reason):
        P.event_from_wire(raw)


def test_state_names_are_checked() -> None:
    raw = P.event_to_wire(EXAMPLES[5])
    raw["new"] = "HALF-OPEN"
    with pytest.raises(P.ProtocolError, match="not a State"):
        P.event_from_wire(raw)


@pytest.mark.parametrize("line, reason", [
    (b"{", "not a JSON line"),
    (b"\xff", "not a JSON line"),
    (b"7", "JSON object"),
    (b'{"v":2,"op":"ping"}', "integer id"),
    (b'{"v":2,"id":"1","op":"ping"}', "integer id"),
    (b'{"v":3,"id":1,"op":"ping"}', "version"),
    (b'{"v":2,"id":1,"op":"dance"}', "unknown op"),
    (b'{"v":2,"id":1,"op":"listen"}', "missing argument 'port'"),
    (b'{"v":2,"id":1,"op":"listen","port":80.5}', "port must be int"),
    (b'{"v":2,"id":1,"op":"capture","on":1}', "on must be bool"),
    (b'{"v":2,"id":1,"op":"ping","x":1}', "unknown argument"),
])
def test_bad_requests(line: bytes, reason: str) -> None:
    with pytest.raises(P.RequestError, match=reason):
        P.parse_request(line)


def test_a_good_request_fills_optional_arguments() -> None:
    req = P.parse_request(b'{"v":2,"id":4,"op":"connect","ip":"10.0.0.2","port":80}')
    assert req == P.Request(4, "connect", {"ip": "10.0.0.2", "port": 80, "lport": None,
                                               "tcp": None})
    wrong_version = b'{"v":0,"id":9,"op":"ping"}'
    with pytest.raises(P.RequestError) as info:
        P.parse_request(wrong_version)
    assert info.value.id == 9


def test_every_segment_kind_is_a_filter_kind_the_agent_knows() -> None:
    assert P.OPS["filter"]["kind"] == (str,)
    assert {k.value for k in SegmentKind} >= {"SYN", "SYN-ACK", "ACK", "FIN", "RST", "DATA"}


def test_line_buffer_splits_and_discards_overlong_lines() -> None:
    buf = P.LineBuffer(limit=10)
    assert buf.feed(b"abc\nde") == [b"abc"]
    assert buf.feed(b"f\n") == [b"def"]
    assert buf.feed(b"x" * 25) == [None]          # reported once, as soon as it is too long
    assert buf.feed(b"y" * 5 + b"\nok\n") == [b"ok"]
    with pytest.raises(P.RequestError, match="longer than"):
        P.parse_request(None)


def test_error_replies_are_one_line() -> None:
    reply = P.reply_error(3, "two\nlines", 22)
    assert reply == {"v": 2, "id": 3, "ok": False, "error": "two lines", "errno": 22}


class FakeAgent:
    """A scripted agent on a unix socket: hello, then canned replies and pushes."""

    def __init__(self, path: str, script: list[bytes]) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.script = script
        self.got: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b'{"v":2,"hello":"tcplab-agent","host":"h9","pid":1}\n')
            for answer in self.script:
                self.got.append(json.loads(reader.readline()))
                conn.sendall(answer)
        self.server.close()


def test_client_matches_replies_and_keeps_pushed_lines() -> None:
    event = P.encode({"v": 2, "event": P.event_to_wire(EXAMPLES[4])})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "h9.sock")
        agent = FakeAgent(path, [
            event + b'{"v":2,"id":1,"ok":true,"sid":4}\n',
            b'{"v":2,"id":2,"ok":false,"error":"no such socket 9","errno":9}\n' + event,
        ])
        client = P.AgentClient.connect(path, timeout=5)
        assert client.hello["host"] == "h9"
        assert client.request("listen", port=80)["sid"] == 4
        with pytest.raises(P.AgentError, match="no such socket 9") as info:
            client.request("close", sid=9)
        assert info.value.errno == 9
        agent.thread.join(5)
        pushed: list[dict[str, Any]] = []
        for _ in range(100):
            pushed += client.drain()
            if len(pushed) == 2 or client.closed:
                break
        assert [P.event_from_wire(m["event"]) for m in pushed] == [EXAMPLES[4]] * 2
        assert agent.got[0] == {"v": 2, "id": 1, "op": "listen", "port": 80}
        with pytest.raises(P.AgentGone):
            client.request("ping", timeout=2)
        client.close()


def test_client_reports_a_missing_agent_in_one_line() -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(P.AgentGone, match="no agent"):
        P.AgentClient.connect(os.path.join(tmp, "none.sock"), timeout=0.1)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_an_event_line_is_the_generic_json_and_comes_back(event: LabEvent) -> None:
    line = P.event_line(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"v": 2, "event": P.event_to_wire(event)}
    assert P.event_from_wire(P.decode_line(line)["event"]) == as_lab_sees(event)
