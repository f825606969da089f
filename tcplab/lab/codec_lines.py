"""Many records in one line, read at once: the event codec's records as msgspec schemas.

Theory of operation
-------------------
A Mininet agent's line holds hundreds of records (:mod:`tcplab.lab.codec` writes them).
Checking each in Python (:func:`~tcplab.lab.codec.from_record`) costs more than the
agent spent making it, so the lab reads a whole line against a schema built from the
codec's kinds: one msgspec struct per kind, tagged by ``kind``, every field typed as
the codec reads it (ports 0..65535, sequence numbers 0..2^32-1, addresses as
``[ip, port]``, states by their RFC 9293 names, optional fields null or their type).
msgspec checks types and ranges in C while it parses; what is left in Python is making
the typed events: a segment's payload from its preview, its options from their
spelling, a state change's trigger from its cause, a delivery's bytes.  The schema is
derived from the event classes (the codec's special kinds aside), never written twice.

A line that does not fit (an unknown kind, a field of the wrong type or range) is read
again record by record with :func:`~tcplab.lab.codec.from_record` (:func:`from_records`),
so a malformed record costs only itself and gets a one-line reason; both ways give the
same events.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from tcplab.lab import codec
from tcplab.lab.codec_segment import options_of
from tcplab.lab.events import LabEvent
from tcplab.stack import events as H
from tcplab.tcp.segment import Segment
from tcplab.tcp.states import State

U16 = Annotated[int, msgspec.Meta(ge=0, le=0xFFFF)]
U32 = Annotated[int, msgspec.Meta(ge=0, le=0xFFFFFFFF)]
Addr = tuple[str, U16]


class SegmentFields(msgspec.Struct):
    """A segment's record (``ascii`` is skipped: it follows from ``hex``)."""

    src_port: U16
    dst_port: U16
    seq: U32
    ack: U32
    flags: str
    window: U16
    urgent: U16
    options: list[str]
    len: U16
    hex: str


def segment_of(s: SegmentFields) -> Segment:
    """The Segment a schema-checked record describes, as
    :func:`~tcplab.lab.codec_segment.segment_from_record` reads it (flags and options from
    their spelling, the payload as its preview then zeros) but without the checks msgspec
    has already made."""
    return Segment(s.src_port, s.dst_port, s.seq, s.ack, codec.flags_of(s.flags), s.window,
                   options_of(s.options), codec.light_payload(s.len, s.hex), s.urgent)


def _field_type(hint: Any) -> Any:
    """The schema of one field: the codec's reading of a dataclass field's type."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _field_type(inner[0]) | None
    if hint == tuple[str, int]:
        return Addr
    if hint is Segment:
        return SegmentFields
    if hint in (int, float, str, bool, State, tuple[tuple[str, float], ...]):
        return hint
    raise TypeError(f"no schema for {hint}")


Make = Callable[[Any, str], LabEvent]
Fields = list[tuple[Any, ...]]


def _generic(cls: type) -> tuple[Fields, Make]:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in ("t", "host")]
    fields: Fields = [(name, _field_type(hints[name])) for name in names]
    segments = {name for name, schema in fields if schema in (SegmentFields,
                                                              SegmentFields | None)}

    def make(s: Any, host: str) -> LabEvent:
        args = [getattr(s, name) for name in names]
        if segments:
            args = [segment_of(v) if name in segments and v is not None else v
                    for name, v in zip(names, args, strict=True)]
        event: LabEvent = cls(s.t, host, *args)
        return event
    return fields, make


def _special() -> dict[type, tuple[Fields, Make]]:
    """The kinds whose record is not their fields (see the codec's special kinds)."""
    def sent(s: Any, host: str) -> LabEvent:
        return H.SegmentSent(s.t, host, s.sid, s.src, s.dst, segment_of(s.segment), s.ifname)

    def received(s: Any, host: str) -> LabEvent:
        return H.SegmentReceived(s.t, host, s.sid, s.src, s.dst, segment_of(s.segment),
                                 s.ifname)

    def delivered(s: Any, host: str) -> LabEvent:
        # msgspec has read the base64 (several times faster than binascii)
        return H.Delivered(s.t, host, s.sid, codec.delivered_data(s.len, s.hex, s.data))

    def state(s: Any, host: str) -> LabEvent:
        why, detail = codec.trigger_of(s.cause)
        return H.StateChanged(s.t, host, s.sid, s.old, s.new, why, detail, local=s.local,
                              remote=s.remote)

    def error(s: Any, host: str) -> LabEvent:
        return H.ConnectionFailed(s.t, host, s.sid, s.errno, s.reason)

    def armed(s: Any, host: str) -> LabEvent:
        return H.TimerArmed(s.t, host, s.sid, s.name, s.deadline)

    def cancelled(s: Any, host: str) -> LabEvent:
        return H.TimerCancelled(s.t, host, s.sid, s.name)

    def fired(s: Any, host: str) -> LabEvent:
        return H.TimerFired(s.t, host, s.sid, s.name)

    segment: Fields = [("sid", int | None), ("src", Addr), ("dst", Addr),
                       ("segment", SegmentFields), ("ifname", str)]
    timer: Fields = [("sid", int), ("name", str)]
    return {
        H.SegmentSent: (segment, sent), H.SegmentReceived: (segment, received),
        H.Delivered: ([("sid", int), ("len", Annotated[int, msgspec.Meta(ge=0)]),
                       ("hex", str), ("data", bytes | None, None)], delivered),
        H.StateChanged: ([("sid", int), ("local", Addr), ("remote", Addr | None),
                          ("old", State), ("new", State), ("cause", str)], state),
        H.ConnectionFailed: ([("sid", int), ("errno", int), ("reason", str)], error),
        H.TimerArmed: ([*timer, ("deadline", float)], armed),
        H.TimerCancelled: (timer, cancelled), H.TimerFired: (timer, fired)}


def _schemas() -> tuple[Any, dict[type, Make]]:
    special = _special()
    makers: dict[type, Make] = {}
    structs = []
    for kind, cls in codec.KINDS.items():
        fields, make = special.get(cls) or _generic(cls)
        struct = msgspec.defstruct(f"{cls.__name__}Record", [("t", float), *fields],
                                   tag=kind, tag_field="kind")
        makers[struct] = make
        structs.append(struct)
    record: Any = functools.reduce(operator.or_, structs)  # any kind, told by its tag
    line = msgspec.defstruct("EventsLine", [("events", list[record])])
    return msgspec.json.Decoder(line), makers


_DECODER, _MAKERS = _schemas()


def from_line(line: bytes, host: str) -> tuple[list[LabEvent], list[str]]:
    """The events of a line ``{..., "events": [record, ...]}``, as on ``host``; and a
    one-line reason for each record that is not an event (or for a line that is not
    JSON)."""
    try:
        records = _DECODER.decode(line).events
    except msgspec.ValidationError:
        try:
            raw = codec.decode(line)
        except msgspec.DecodeError:
            return [], ["not a JSON line"]
        return from_records(raw.get("events") if isinstance(raw, dict) else None, host)
    except msgspec.DecodeError:
        return [], ["not a JSON line"]
    events: list[LabEvent] = []
    errors: list[str] = []
    makers = _MAKERS
    for index, rec in enumerate(records):
        try:
            events.append(makers[type(rec)](rec, host))
        except codec.CodecError as exc:
            errors.append(f"event record {index}: {exc}")
    return events, errors


def from_records(records: Any, host: str) -> tuple[list[LabEvent], list[str]]:
    """The events of already parsed records, each checked on its own."""
    if type(records) is not list:
        return [], ["events must be a list of records"]
    events: list[LabEvent] = []
    errors: list[str] = []
    for index, rec in enumerate(records):
        try:
            events.append(codec.from_record(rec, host))
        except codec.CodecError as exc:
            errors.append(f"event record {index}: {exc}")
    return events, errors
