"""The control protocol without root: framing, request checks, events as the one codec
writes them (many to a line), sockets and frames."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import tempfile
import threading
from typing import Any

import pytest
from segment_examples import DATA_SEG, SYN_SEG, A, B

from tcplab.backends.mininet import protocol as P
from tcplab.lab import codec
from tcplab.lab.commands import SegmentKind
from tcplab.lab.events import (
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
    ConnectionFailed,
    Delivered,
    FrameDropped,
    Retransmitted,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    SoftError,
    StateChanged,
    TcbSampled,
    TimerArmed,
    TimerCancelled,
    TimerFired,
)
from tcplab.stack.sockets import SocketInfo
from tcplab.tcp.states import State, Trigger
from tcplab.tcp.status import Status

EXAMPLES: list[LabEvent] = [
    SegmentSent(0.5, "h1", 1, A, B, SYN_SEG, "h1-eth0"),
    SegmentReceived(0.75, "h1", None, A, B, DATA_SEG, "h1-eth0"),
    SegmentDropped(1.0, "h1", "no socket", "h1-eth0", "10.0.0.1:40000>10.0.0.2:80 S", None,
                   SYN_SEG),
    SegmentDropped(1.0, "h1", "bad checksum", "h1-eth0", "20 bytes", None, None),
    FrameDropped(1.5, "h1", "not for us", "h1-eth0"),
    StateChanged(2.0, "h1", 1, State.SYN_SENT, State.ESTABLISHED, Trigger.RCV_SYN_ACK,
                 local=A, remote=B),
    StateChanged(2.0, "h1", 3, State.CLOSED, State.LISTEN, Trigger.PASSIVE_OPEN,
                 local=("0.0.0.0", 80), remote=None),
    TimerArmed(2.5, "h1", 1, "rtx", 3.5),
    TimerCancelled(2.6, "h1", 1, "rtx"),
    TimerFired(2.7, "h1", 1, "delack"),
    Delivered(3.0, "h1", 2, b"\x00\x01binary\xff" * 100),
    Retransmitted(3.1, "h1", 1, 7, 1448, "rto"),
    ConnectionFailed(3.2, "h1", 1, 104, "connection reset"),
    SoftError(3.3, "h1", 1, 3, "delivery trouble: the SYN timed out 3 times (R1)"),
    LinkDropped(4.0, "h1", "h1-eth0", "egress", "link loss", "summary", DATA_SEG),
    LinkDropped(4.0, "h1", "h1-eth0", "ingress", "link down", "ARP", None),
    LinkHeld(4.1, "h1", "h1-eth0:egress", "a held FIN"),
    LinkChanged(4.2, "h1", "h1-s1", "h1>s1", "loss=5% delay=20ms"),
    CommandDone(4.3, "h1", "listen h2:80", True, "ok"),
    Notice(4.4, "h1", "héllo ✓"),
    HostStatus(4.5, "h1", False, "agent exited"),
    TcbSampled(4.6, "h1", 1, 100, 200, 101, 1101, 2101, 201, 65535, 262144, 14600, 1 << 30,
               1000, 0.0125, None, 1.0, 1000, 0, (("delack", 4.64), ("rto", 5.6))),
    ConnNamed(4.7, "h1", 1, "c1", A, B),
    BreakHit(4.8, "h1", 1, "break c1 CLOSING", 1, "c1 entered CLOSING"),
    RunRewound(4.9, "h1", 2.5, 120),
]


def as_lab_sees(event: LabEvent) -> LabEvent:
    """A segment reaches the lab as its length and first 16 bytes (the rest zeros); a
    delivery with its bytes."""
    segment = getattr(event, "segment", None)
    if segment is None:
        return event
    n = codec.PREVIEW_BYTES
    payload = segment.payload[:n] + bytes(max(0, len(segment.payload) - n))
    return dataclasses.replace(event, segment=dataclasses.replace(
        segment, payload=payload))


def through(events: list[LabEvent], host: str = "h1") -> tuple[list[LabEvent], list[str]]:
    batch = P.EventBatch()
    for event in events:
        batch.add(event)
    line = batch.line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and not batch
    # read at once against the schema, and record by record: the same events
    got = P.events_from_line(line[:-1], host)
    assert got == P.events_from_records(P.decode_line(line[:-1])["events"], host)
    return got


def test_examples_cover_every_event_kind() -> None:
    assert {e.kind for e in EXAMPLES} == set(codec.KINDS)


def test_every_event_crosses_as_its_record_and_comes_back() -> None:
    events, errors = through(EXAMPLES)
    assert errors == []
    assert events == [as_lab_sees(e) for e in EXAMPLES]
    # the line holds each event's record: what the lab records of it is all there
    batch = P.EventBatch()
    for event in EXAMPLES:
        batch.add(event)
    records = json.loads(batch.line())["events"]
    assert [{k: v for k, v in r.items() if k != "data"} for r in records] == [
        codec.record(e) for e in EXAMPLES]
    assert [codec.line(e) for e in events] == [codec.line(e) for e in EXAMPLES]


def test_a_delivery_crosses_whole_and_a_segment_light() -> None:
    [segment, delivered], _ = through([
        SegmentSent(0.0, "h1", 1, A, B, DATA_SEG, "h1-eth0"), EXAMPLES[10]])
    assert isinstance(segment, SegmentSent) and isinstance(delivered, Delivered)
    assert segment.segment.payload == DATA_SEG.payload[:16] + bytes(len(DATA_SEG.payload) - 16)
    assert delivered == EXAMPLES[10]


def test_the_lab_names_the_host_not_the_record() -> None:
    events, _ = through([EXAMPLES[0]], host="k9")
    assert events[0].host == "k9"


def test_deliveries_to_one_socket_at_one_instant_merge_in_order() -> None:
    def d(t: float, sid: int, data: bytes) -> Delivered:
        return Delivered(t, "h1", sid, data)

    events, errors = through([d(1.0, 1, b"ab"), EXAMPLES[0], d(1.0, 2, b"X"),
                              d(1.0, 1, b"cd"), d(2.0, 1, b"ef"), d(2.0, 1, b"gh")])
    assert errors == []
    # a merged delivery stands where its last part stood: after the segments
    assert events == [as_lab_sees(EXAMPLES[0]), d(1.0, 2, b"X"), d(1.0, 1, b"abcd"),
                      d(2.0, 1, b"efgh")]


def test_many_parts_of_one_delivery_come_back_whole() -> None:
    # a burst's segments each deliver a part; the line carries one delivery of them all
    parts = [bytes([i]) * 1448 for i in range(64)]
    batch = P.EventBatch()
    for part in parts:
        batch.add(Delivered(1.0, "h1", 1, part))
    events, errors = P.events_from_line(batch.line(), "h1")
    assert errors == []
    assert events == [Delivered(1.0, "h1", 1, b"".join(parts))]


def test_a_delivery_whose_bytes_disagree_with_its_preview_is_refused() -> None:
    batch = P.EventBatch()
    batch.add(Delivered(1.0, "h1", 1, b"abc"))
    batch.add(Delivered(1.0, "h1", 2, b"xyz"))
    line = batch.line()
    assert line.count(b'"hex":"616263"') == 1
    events, errors = P.events_from_line(line.replace(b'"hex":"616263"', b'"hex":"616264"'),
                                        "h1")
    assert events == [Delivered(1.0, "h1", 2, b"xyz")]
    assert errors == ["event record 0: data.delivered data must be the len bytes hex begins"]


def test_a_new_line_starts_a_new_delivery() -> None:
    batch = P.EventBatch()
    batch.add(Delivered(1.0, "h1", 1, b"a"))
    first = batch.line()
    batch.add(Delivered(1.0, "h1", 1, b"b"))
    second = batch.line()
    got = [P.events_from_line(line, "h1")[0] for line in (first, second)]
    assert got == [[Delivered(1.0, "h1", 1, b"a")], [Delivered(1.0, "h1", 1, b"b")]]


def _records() -> list[Any]:
    batch = P.EventBatch()
    for event in EXAMPLES:
        batch.add(event)
    records: list[Any] = json.loads(batch.line())["events"]
    return records


@pytest.mark.parametrize(("index", "key", "value"), [
    (0, "t", "now"), (0, "sid", True), (0, "src", [1, 2]), (0, "kind", "segment.lost"),
    (0, "segment", {"seq": 1}), (5, "new", "HALF-OPEN"), (7, "deadline", None),
    (10, "data", "!!"), (10, "data", "AAAA"), (10, "len", -1), (12, "errno", "104"),
    (21, "timers", [["rto"]]),
])
def test_a_malformed_record_costs_only_itself(index: int, key: str, value: Any) -> None:
    records = _records()
    records[index][key] = value
    # a line with one bad record: read again record by record, the rest counts
    line = codec.dumps({"v": 3, "events": records})
    for events, errors in (P.events_from_records(records, "h1"),
                           P.events_from_line(line, "h1")):
        assert len(errors) == 1 and errors[0].startswith(f"event record {index}: ")
        assert "\n" not in errors[0]
        assert events == [as_lab_sees(e) for i, e in enumerate(EXAMPLES) if i != index]


@pytest.mark.parametrize("shape", [[[]], [0], ["record"], [{"kind": "x"}], [{}]])
def test_records_of_the_wrong_shape_are_reasons(shape: list[Any]) -> None:
    records = _records() + shape
    for events, errors in (P.events_from_records(records, "h1"), P.events_from_line(
            codec.dumps({"v": 3, "events": records}), "h1")):
        assert len(errors) == len(shape) and len(events) == len(EXAMPLES)


@pytest.mark.parametrize("value", [None, {}, "events", 3])
def test_events_that_are_not_a_list_are_one_reason(value: Any) -> None:
    assert P.events_from_records(value, "h1") == ([], ["events must be a list of records"])
    line = codec.dumps({"v": 3, "events": value})
    assert P.events_from_line(line, "h1") == ([], ["events must be a list of records"])
    assert P.events_from_line(b"{", "h1") == ([], ["not a JSON line"])


def test_socket_info_round_trips() -> None:
    status = Status(State.ESTABLISHED, A, B, 1, 2, 3, 4, 65535, 5, 6, 7, 8, 14480, 65535,
                    0.01, 0.005, 1.0, 0, 0, 0, 0, 1448, 7, 7, True, True, {"rtx": 2.5}, None)
    info = SocketInfo(1, "connection", A, B, State.ESTABLISHED, None, True,
                      (State.CLOSED, State.SYN_SENT, State.ESTABLISHED), status, 10, 20)
    wire = json.loads(P.encode(P.socket_to_wire(info)))
    assert wire["state"] == "ESTABLISHED" and wire["history"][1] == "SYN-SENT"
    assert P.socket_from_wire(wire) == info
    wire["status"]["cwnd"] = "lots"
    with pytest.raises(P.ProtocolError, match="cwnd"):
        P.socket_from_wire(wire)


def test_captured_frames_round_trip() -> None:
    wire = json.loads(P.encode(P.frame_to_wire("h1-eth0", "in", 1.25, b"\x01\x02")))
    assert P.frame_from_wire(wire) == P.CapturedFrame("h1-eth0", "in", 1.25, b"\x01\x02")
    with pytest.raises(P.ProtocolError):
        P.frame_from_wire({**wire, "dir": "sideways"})


@pytest.mark.parametrize("line, reason", [
    (b"{", "not a JSON line"),
    (b"\xff", "not a JSON line"),
    (b"7", "JSON object"),
    (b'{"v":3,"op":"ping"}', "integer id"),
    (b'{"v":3,"id":"1","op":"ping"}', "integer id"),
    (b'{"v":2,"id":1,"op":"ping"}', "version"),
    (b'{"v":3,"id":1,"op":"dance"}', "unknown op"),
    (b'{"v":3,"id":1,"op":"listen"}', "missing argument 'port'"),
    (b'{"v":3,"id":1,"op":"listen","port":80.5}', "port must be int"),
    (b'{"v":3,"id":1,"op":"capture","on":1}', "on must be bool"),
    (b'{"v":3,"id":1,"op":"ping","x":1}', "unknown argument"),
])
def test_bad_requests(line: bytes, reason: str) -> None:
    with pytest.raises(P.RequestError, match=reason):
        P.parse_request(line)


def test_a_good_request_fills_optional_arguments() -> None:
    req = P.parse_request(b'{"v":3,"id":4,"op":"connect","ip":"10.0.0.2","port":80}')
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
    assert reply == {"v": 3, "id": 3, "ok": False, "error": "two lines", "errno": 22}


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
            conn.sendall(b'{"v":3,"hello":"tcplab-agent","host":"h9","pid":1}\n')
            for answer in self.script:
                self.got.append(json.loads(reader.readline()))
                conn.sendall(answer)
        self.server.close()


def test_client_matches_replies_and_keeps_pushed_lines() -> None:
    event = P.encode({"v": 3, "events": [codec.record(EXAMPLES[4])]})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "h9.sock")
        agent = FakeAgent(path, [
            event + b'{"v":3,"id":1,"ok":true,"sid":4}\n',
            b'{"v":3,"id":2,"ok":false,"error":"no such socket 9","errno":9}\n' + event,
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
        assert [P.events_from_line(m["events_line"], "h1") for m in pushed] == [
            ([EXAMPLES[4]], [])] * 2
        assert agent.got[0] == {"v": 3, "id": 1, "op": "listen", "port": 80}
        with pytest.raises(P.AgentGone):
            client.request("ping", timeout=2)
        client.close()


def test_client_reports_a_missing_agent_in_one_line() -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(P.AgentGone, match="no agent"):
        P.AgentClient.connect(os.path.join(tmp, "none.sock"), timeout=0.1)
