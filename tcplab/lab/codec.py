"""The one codec of the event stream: any event as its recorded JSON object, and back.

Theory of operation
-------------------
Every event kind (:data:`KINDS`: the host's events of :mod:`tcplab.stack.events` and
the lab's of :mod:`tcplab.lab.events`, found by their ``kind``) has one JSON form, the
object ``docs/recording.md`` describes: ``kind``, ``t``, ``host``, then the kind's
fields in declaration order, with plain values -- an address as ``[ip, port]``, a state
by its RFC 9293 name, a segment as its header fields with a 16-byte payload preview
(:func:`segment_record`).  A few kinds write what their fields imply instead of the
fields themselves (a state change's ``cause``, a delivery's ``len``/``hex``/``ascii``,
an error's ``errname``, a timer's ``deadline``); :data:`FIELDS` lists each kind's keys.

The same objects are

* the lines of ``events.jsonl`` (:func:`line`: compact, keys in that order, floats in
  their shortest exact form, so equal runs give equal bytes) and of a live run's
  timeline;
* what a Mininet agent sends the lab for every event (``{"v":3,"events":[...]}``;
  :func:`wire_record`: a delivery also carries its bytes, ``data`` in base64, since
  the lab's users check what arrived).

:func:`from_record` is the way back: the typed event, every field's type and range
checked (a :class:`CodecError` with a one-line reason, never a crash).  What a record
does not hold comes back as zeros: a segment's or a recorded delivery's payload beyond
its first :data:`PREVIEW_BYTES` bytes -- everything the lab does with a payload (its
length, the preview, what ``expect-received`` counts) is the same.  So a Mininet host's events are
the simulated host's, and a recording reads back into the events that made it.

Encoding an event the bus hands to several subscribers (the timeline, the recorder, a
re-run's comparison) happens once: :func:`encoded` keeps the last event's result.

Two parts live beside this module: :mod:`~tcplab.lab.codec_segment` (a segment's and a
payload's record) and :mod:`~tcplab.lab.codec_lines` (a line of many records read at
once against a schema derived from these kinds, for the Mininet agents' lines).
"""

from __future__ import annotations

import dataclasses
import errno as errno_mod
import types
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from tcplab.lab.codec_segment import (
    _READ_MAX,
    _U16,
    PREVIEW_BYTES,
    CodecError,
    SegmentObject,
    _light,
    flags_of,
    head_text,
    light_payload,
    option_from_str,
    preview,
    segment_from_record,
    segment_object,
    segment_record,
    unb64,
)
from tcplab.lab.events import LAB_EVENTS, LabEvent
from tcplab.stack import events as H
from tcplab.tcp.segment import Segment
from tcplab.tcp.states import State, Trigger

Record = dict[str, Any]
__all__ = [
    "FIELDS", "KINDS", "PREVIEW_BYTES", "CodecError", "Record", "decode", "delivered_data",
    "dumps", "encoded", "flags_of", "from_record", "light_payload", "line", "option_from_str",
    "preview", "record", "segment_from_record", "segment_record", "trigger_of", "wire_record",
]


# ----------------------------------------------------------------------------- lines

# msgspec, not json: several times faster both ways, and a live run encodes every
# event once, a replay's seek decodes thousands of lines, the lab every agent's line
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()
decode: Callable[[bytes], Any] = _DECODER.decode


def dumps(obj: Any) -> bytes:
    """``obj`` as one line of compact JSON, newline included: UTF-8, keys in their
    order, each float in the shortest form that reads back as the same number."""
    try:
        return _ENCODER.encode(obj) + b"\n"
    except UnicodeEncodeError:  # a lone surrogate (UTF-8 has none): "?" instead
        return _ENCODER.encode(_valid(obj)) + b"\n"


def _valid(obj: Any) -> Any:
    if isinstance(obj, str):
        return obj.encode("utf-8", "replace").decode()
    if isinstance(obj, dict):
        return {_valid(k): _valid(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_valid(v) for v in obj]
    return obj


_last: tuple[object, Record, bytes] | None = None


def encoded(event: LabEvent) -> tuple[Record, bytes]:
    """``event``'s record and its line; the bus hands one event to several subscribers
    in a row, so the last result is kept."""
    global _last
    last = _last
    if last is not None and last[0] is event:
        return last[1], last[2]
    rec = record(event)
    out = dumps(rec)
    _last = (event, rec, out)
    return rec, out


def line(event: LabEvent) -> bytes:
    """``event`` as its ``events.jsonl`` line, newline included."""
    return encoded(event)[1]


# ----------------------------------------------------------------------------- values
# A field's codec: how a value becomes plain JSON (None: it already is) and how a plain
# value is checked and made typed again.

Enc = Callable[[Any], Any] | None
Dec = Callable[[Any, str], Any]


def _dec_plain(t: type) -> Dec:
    def dec(value: Any, what: str) -> Any:
        if type(value) is t:
            return value
        if t is float and type(value) is int:
            return float(value)
        raise CodecError(f"{what} must be {_NAMES.get(t, t.__name__)}")
    return dec


_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _dec_none(value: Any, what: str) -> None:
    if value is not None:
        raise CodecError(f"{what} must be null")


def _dec_address(value: Any, what: str) -> tuple[str, int]:
    if not (type(value) is list and len(value) == 2 and type(value[0]) is str
            and type(value[1]) is int and 0 <= value[1] <= _U16):
        raise CodecError(f"{what} must be [ip, port]")
    return value[0], value[1]


def _dec_state(value: Any, what: str) -> State:
    try:
        return State(value)
    except ValueError:
        raise CodecError(f"{what}: {value!r} is not a connection state") from None


def _dec_timers(value: Any, what: str) -> tuple[tuple[str, float], ...]:
    if type(value) is not list or not all(
            type(x) is list and len(x) == 2 and type(x[0]) is str
            and type(x[1]) in (float, int) for x in value):
        raise CodecError(f"{what} must be [[name, deadline], ...]")
    return tuple((name, float(deadline)) for name, deadline in value)


def _value_codec(hint: Any) -> tuple[Enc, Dec]:
    if hint is type(None):
        return None, _dec_none
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"no record form for {hint}")
        enc, dec = _value_codec(inner[0])

        def dec_opt(value: Any, what: str) -> Any:
            return None if value is None else dec(value, what)
        return (None if enc is None else lambda v: None if v is None else enc(v)), dec_opt
    if hint == tuple[str, int]:
        return (lambda v: [v[0], v[1]]), _dec_address
    if hint == tuple[tuple[str, float], ...]:
        return (lambda v: [[name, deadline] for name, deadline in v]), _dec_timers
    if hint is State:
        return (lambda v: v.value), _dec_state
    if hint is Segment:
        return segment_record, lambda value, what: segment_from_record(value)
    if hint in (int, float, str, bool):
        return None, _dec_plain(hint)
    raise TypeError(f"no record form for {hint}")


# ----------------------------------------------------------------------------- kinds

class _Kind:
    """One kind's codec: keys, and the functions between event and record."""

    __slots__ = ("cls", "from_record", "keys", "kind", "to_record")

    def __init__(self, cls: type, keys: tuple[str, ...], to_record: Callable[[Any], Record],
                 from_record: Callable[[Record, str], Any]) -> None:
        self.cls = cls
        self.kind: str = cls.kind  # type: ignore[attr-defined]
        self.keys = keys
        self.to_record = to_record
        self.from_record = from_record


def _generic(cls: type) -> _Kind:
    """Record = the dataclass's fields in order, each by its type's codec."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in ("t", "host")]
    kind: str = cls.kind  # type: ignore[attr-defined]
    codecs = [(name, *_value_codec(hints[name]), f"{kind} {name}") for name in names]

    def to_record(ev: Any) -> Record:
        out: Record = {"kind": kind, "t": ev.t, "host": ev.host}
        for name, enc, _, _ in codecs:
            value = getattr(ev, name)
            out[name] = value if enc is None else enc(value)
        return out

    def from_record(raw: Record, host: str) -> Any:
        return cls(_time(raw), host, *(
            dec(_get(raw, name, kind), label) for name, _, dec, label in codecs))
    return _Kind(cls, tuple(names), to_record, from_record)


def _get(raw: Record, key: str, kind: str) -> Any:
    try:
        return raw[key]
    except KeyError:
        raise CodecError(f"{kind} needs {key}") from None


def _time(raw: Record) -> float:
    t = raw.get("t")
    if type(t) is float:
        return t
    if type(t) is int:
        return float(t)
    raise CodecError(f"{raw.get('kind')} t must be a number")


_sid = _value_codec(int)[1]
_opt_sid = _value_codec(int | None)[1]
_str = _value_codec(str)[1]
_int = _value_codec(int)[1]
_float = _value_codec(float)[1]


def _segment_kind(cls: type[H.SegmentSent | H.SegmentReceived]) -> _Kind:
    """The most frequent kinds (two per segment), built directly."""
    kind = cls.kind
    l_sid, l_src, l_dst, l_ifname = (f"{kind} {key}" for key in ("sid", "src", "dst", "ifname"))

    def to_record(ev: H.SegmentSent | H.SegmentReceived) -> Record:
        src, dst = ev.src, ev.dst
        return {"kind": kind, "t": ev.t, "host": ev.host, "sid": ev.sid,
                "src": [src[0], src[1]], "dst": [dst[0], dst[1]],
                "segment": segment_record(ev.segment), "ifname": ev.ifname}

    def from_record(raw: Record, host: str) -> Any:
        try:
            sid, src, dst, seg, ifname = (raw["sid"], raw["src"], raw["dst"], raw["segment"],
                                          raw["ifname"])
        except KeyError as exc:
            raise CodecError(f"{kind} needs {exc.args[0]}") from None
        return cls(_time(raw), host, _opt_sid(sid, l_sid), _dec_address(src, l_src),
                   _dec_address(dst, l_dst), segment_from_record(seg), _str(ifname, l_ifname))
    return _Kind(cls, ("sid", "src", "dst", "segment", "ifname"), to_record, from_record)


def _delivered_kind() -> _Kind:
    kind = H.Delivered.kind

    def to_record(ev: H.Delivered) -> Record:
        data = ev.data
        head, text = head_text(data)
        return {"kind": kind, "t": ev.t, "host": ev.host, "sid": ev.sid, "len": len(data),
                "hex": head, "ascii": text}

    def from_record(raw: Record, host: str) -> Any:
        data = delivered_data(_get(raw, "len", kind), _get(raw, "hex", kind), raw.get("data"))
        return H.Delivered(_time(raw), host, _sid(_get(raw, "sid", kind), f"{kind} sid"),
                           data)
    return _Kind(H.Delivered, ("sid", "len", "hex", "ascii"), to_record, from_record)


def _timer_kind(cls: type[H.TimerArmed | H.TimerCancelled | H.TimerFired]) -> _Kind:
    """``deadline``: when an armed timer will fire, null for a cancelled one, ``t`` for
    one that fired."""
    kind = cls.kind
    l_sid, l_name, l_deadline = (f"{kind} {key}" for key in ("sid", "name", "deadline"))

    def to_record(ev: Any) -> Record:
        deadline = (ev.deadline if cls is H.TimerArmed
                    else ev.t if cls is H.TimerFired else None)
        return {"kind": kind, "t": ev.t, "host": ev.host, "sid": ev.sid, "name": ev.name,
                "deadline": deadline}

    def from_record(raw: Record, host: str) -> Any:
        sid = _sid(_get(raw, "sid", kind), l_sid)
        name = _str(_get(raw, "name", kind), l_name)
        if cls is H.TimerArmed:
            return H.TimerArmed(_time(raw), host, sid, name,
                                _float(_get(raw, "deadline", kind), l_deadline))
        return cls(_time(raw), host, sid, name)  # type: ignore[call-arg]
    return _Kind(cls, ("sid", "name", "deadline"), to_record, from_record)


def trigger_of(cause: str) -> tuple[Trigger, str]:
    """The engine's trigger and detail a state change's ``cause`` spells."""
    trigger, _, detail = cause.partition(" (")
    try:
        why = Trigger(trigger)
    except ValueError:
        raise CodecError(f"state.changed cause {cause!r} does not start with a trigger") from None
    if detail and not detail.endswith(")"):
        raise CodecError(f"state.changed cause {cause!r}: the detail must be in parentheses")
    return why, detail[:-1]


def delivered_data(n: Any, head: Any, data: Any) -> bytes:
    """A delivery's bytes: ``data`` (the control channel's: base64, or the bytes a schema
    has already read from it) when given, else its first bytes (``head``, hex) and zeros
    up to ``n``."""
    kind = H.Delivered.kind
    full = None
    if data is not None:
        full = data if type(data) is bytes else unb64(data, f"{kind} data")
        if (type(n) is int and len(full) == n and type(head) is str
                and full[:PREVIEW_BYTES].hex() == head):
            # the usual case, checked without building the zero-filled payload (a
            # Mininet bulk transfer's lab spends its time here)
            return full
    light = _light(n, head, kind, _READ_MAX)  # its checks, with their reasons
    if full is None:
        return light
    if len(full) != n or not full.startswith(light[:PREVIEW_BYTES]):
        raise CodecError(f"{kind} data must be the len bytes hex begins")
    return full


def _state_kind() -> _Kind:
    """``cause``: the engine's trigger, and its detail in parentheses."""
    kind = H.StateChanged.kind
    remote_dec = _value_codec(tuple[str, int] | None)[1]

    def to_record(ev: H.StateChanged) -> Record:
        local, remote = ev.local, ev.remote
        return {"kind": kind, "t": ev.t, "host": ev.host, "sid": ev.sid,
                "local": [local[0], local[1]],
                "remote": None if remote is None else [remote[0], remote[1]],
                "old": ev.old.value, "new": ev.new.value, "cause": ev.cause}

    def from_record(raw: Record, host: str) -> Any:
        why, detail = trigger_of(_str(_get(raw, "cause", kind), f"{kind} cause"))
        return H.StateChanged(
            _time(raw), host, _sid(_get(raw, "sid", kind), f"{kind} sid"),
            _dec_state(_get(raw, "old", kind), f"{kind} old"),
            _dec_state(_get(raw, "new", kind), f"{kind} new"), why, detail,
            local=_dec_address(_get(raw, "local", kind), f"{kind} local"),
            remote=remote_dec(_get(raw, "remote", kind), f"{kind} remote"))
    return _Kind(H.StateChanged, ("sid", "local", "remote", "old", "new", "cause"),
                 to_record, from_record)


def _error_kind() -> _Kind:
    """``errname``: the errno's portable name (the number is the recording machine's)."""
    kind = H.ConnectionFailed.kind

    def to_record(ev: H.ConnectionFailed) -> Record:
        return {"kind": kind, "t": ev.t, "host": ev.host, "sid": ev.sid, "errno": ev.errno,
                "errname": errno_mod.errorcode.get(ev.errno, "?"), "reason": ev.reason}

    def from_record(raw: Record, host: str) -> Any:
        return H.ConnectionFailed(
            _time(raw), host, _sid(_get(raw, "sid", kind), f"{kind} sid"),
            _int(_get(raw, "errno", kind), f"{kind} errno"),
            _str(_get(raw, "reason", kind), f"{kind} reason"))
    return _Kind(H.ConnectionFailed, ("sid", "errno", "errname", "reason"), to_record,
                 from_record)


_SAMPLE_INTS = ("sid", "iss", "irs", "snd_una", "snd_nxt", "snd_max", "rcv_nxt", "snd_wnd",
                "rcv_wnd", "cwnd", "ssthresh", "flight")


def _sample_kind() -> _Kind:
    """One per connection per instant that changed it: built directly."""
    kind = H.TcbSampled.kind
    opt_float = _value_codec(float | None)[1]

    def to_record(ev: H.TcbSampled) -> Record:
        return {"kind": kind, "t": ev.t, "host": ev.host, "sid": ev.sid, "iss": ev.iss,
                "irs": ev.irs, "snd_una": ev.snd_una, "snd_nxt": ev.snd_nxt,
                "snd_max": ev.snd_max, "rcv_nxt": ev.rcv_nxt, "snd_wnd": ev.snd_wnd,
                "rcv_wnd": ev.rcv_wnd, "cwnd": ev.cwnd, "ssthresh": ev.ssthresh,
                "flight": ev.flight, "srtt": ev.srtt, "rttvar": ev.rttvar, "rto": ev.rto,
                "sendq": ev.sendq, "recvq": ev.recvq,
                "timers": [[name, deadline] for name, deadline in ev.timers]}

    def from_record(raw: Record, host: str) -> Any:
        try:
            ints = [raw[key] for key in _SAMPLE_INTS]
            srtt, rttvar, rto = raw["srtt"], raw["rttvar"], raw["rto"]
            sendq, recvq, timers = raw["sendq"], raw["recvq"], raw["timers"]
        except KeyError as exc:
            raise CodecError(f"{kind} needs {exc.args[0]}") from None
        if not (all(type(v) is int for v in ints) and type(sendq) is type(recvq) is int):
            raise CodecError(f"{kind} sequence numbers, windows and queues must be integers")
        sid, iss, irs, una, nxt, snd_max, rcv_nxt, snd_wnd, rcv_wnd, cwnd, ssthresh, flight = ints
        return H.TcbSampled(
            _time(raw), host, sid, iss, irs, una, nxt, snd_max, rcv_nxt, snd_wnd, rcv_wnd, cwnd,
            ssthresh, flight, opt_float(srtt, f"{kind} srtt"),
            opt_float(rttvar, f"{kind} rttvar"), _float(rto, f"{kind} rto"), sendq, recvq,
            _dec_timers(timers, f"{kind} timers"))
    return _Kind(H.TcbSampled, (*_SAMPLE_INTS, "srtt", "rttvar", "rto", "sendq", "recvq",
                                "timers"), to_record, from_record)


def _kinds() -> dict[type, _Kind]:
    special: dict[type, _Kind] = {
        H.SegmentSent: _segment_kind(H.SegmentSent),
        H.SegmentReceived: _segment_kind(H.SegmentReceived),
        H.Delivered: _delivered_kind(), H.StateChanged: _state_kind(),
        H.ConnectionFailed: _error_kind(), H.TcbSampled: _sample_kind(),
        **{cls: _timer_kind(cls) for cls in (H.TimerArmed, H.TimerCancelled, H.TimerFired)}}
    return {cls: special.get(cls) or _generic(cls) for cls in (*H.ALL_EVENTS, *LAB_EVENTS)}


_BY_CLASS = _kinds()
_BY_KIND = {k.kind: k for k in _BY_CLASS.values()}
KINDS: dict[str, type] = {k.kind: k.cls for k in _BY_CLASS.values()}
"""Every event kind and its class."""
FIELDS: dict[str, tuple[str, ...]] = {k.kind: k.keys for k in _BY_CLASS.values()}
"""Each kind's record keys after ``kind``, ``t`` and ``host``, in order."""


def record(event: LabEvent) -> Record:
    """``event`` as its recorded JSON object (plain types, keys in order)."""
    return _BY_CLASS[type(event)].to_record(event)


class _SentObject(msgspec.Struct, tag="segment.sent", tag_field="kind"):
    """A segment event's record as a struct (see :class:`SegmentObject`)."""

    t: float
    host: str
    sid: int | None
    src: tuple[str, int]
    dst: tuple[str, int]
    segment: SegmentObject
    ifname: str


class _ReceivedObject(_SentObject, tag="segment.received"):
    pass


_SEGMENT_OBJECTS: dict[type, type[_SentObject]] = {
    H.SegmentSent: _SentObject, H.SegmentReceived: _ReceivedObject}


def wire_record(event: LabEvent) -> Record | msgspec.Struct:
    """``event`` as the control channel carries it: its record (a segment's as a struct
    that :func:`dumps` writes the same), and for a delivery the bytes themselves too
    (``data``: bytes here, base64 in the line), which :func:`from_record` then returns."""
    cls = type(event)
    obj = _SEGMENT_OBJECTS.get(cls)
    if obj is not None:
        seg = typing.cast(H.SegmentSent, event)
        return obj(seg.t, seg.host, seg.sid, seg.src, seg.dst, segment_object(seg.segment),
                   seg.ifname)
    rec = _BY_CLASS[cls].to_record(event)
    if cls is H.Delivered:
        # the bytes as they are: :func:`dumps` writes them as base64 (msgspec, in C, a
        # few times faster than binascii and a str in between)
        rec["data"] = typing.cast(H.Delivered, event).data
    return rec


def from_record(raw: Any, host: str | None = None) -> LabEvent:
    """The typed event a record describes (``host``: instead of the record's own);
    CodecError says what is wrong with one that is not an event.  Keys it does not know
    are skipped (a later version of the schema may add some)."""
    if type(raw) is not dict:
        raise CodecError("an event must be an object")
    kind = raw.get("kind")
    spec = _BY_KIND.get(kind) if type(kind) is str else None
    if spec is None:
        raise CodecError(f"unknown event kind {kind!r}")
    if host is None:
        host = raw.get("host")
        if type(host) is not str:
            raise CodecError(f"{kind} host must be a string")
    event: LabEvent = spec.from_record(raw, host)
    return event
