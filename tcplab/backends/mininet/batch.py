"""The events an agent pushes most, many to a line: compact positional records.

Theory of operation
-------------------
A bulk transfer makes about five events per data segment (the segment sent and
received, the bytes delivered, the delayed-ACK timer, the ACK).  As one JSON object
per line each, the lab spent most of its time taking lines apart and matching keys.
So the agent collects these kinds between two writes to its clients as positional
records in one line, ``{"v":2,"events":[record, ...]}``; the lab parses the line
once (:func:`events_from_batch`) and builds the typed events record by record,
checking every type and range.  A malformed record becomes a one-line reason (the
lab shows it as a Notice) and the rest of the line still counts.  Records carry no
host: the lab knows which agent's connection the line came on.  Every other event
keeps its own ``{"v":2,"event":...}`` line; the agent ends a batch before such a line,
so the order of the stream is kept.

Deliveries to one socket at one instant are merged into one ``Delivered`` with the
bytes in order, standing where the last of them stood (after every segment that
carried them): an application that reads at time *t* reads all that arrived by *t*,
and an agent handles every frame that came since its last turn at one ``now``.  An
event with a time or deadline JSON cannot write (infinite) takes a line of its own.

Records (``sid`` may be null for segments only):

* ``[0 sent | 1 received, t, sid, src_ip, src_port, dst_ip, dst_port, ifname, seq,
  ack, flags, window, urgent, options, len, head]`` -- the ports are the segment's
  too (an event whose ports differ from its segment's takes a line of its own);
  ``options`` is ``[]``, or ``[val, ecr]`` for the usual NOP, NOP, timestamps, or
  else the options' wire forms (:mod:`.wire`); ``len`` and ``head`` are the light
  payload (:func:`.wire.light_segment`).
* ``[2, t, sid, data]`` -- ``Delivered``, the data in base64.
* ``[3 armed | 4 cancelled | 5 fired, t, sid, name, deadline]`` -- a timer; the
  deadline is null for a cancelled one.
* ``[6, t, sid, iss, irs, snd_una, snd_nxt, snd_max, rcv_nxt, snd_wnd, rcv_wnd, cwnd,
  ssthresh, flight, srtt, rttvar, rto, sendq, recvq, [[timer, deadline], ...]]`` -- a
  ``TcbSampled`` (``srtt``/``rttvar`` null before an RTT sample).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from math import isfinite
from typing import Any

from tcplab.backends.mininet.wire import ProtocolError, b64, option_from_wire, option_to_wire
from tcplab.lab.events import LabEvent
from tcplab.stack.events import (
    PREVIEW_BYTES,
    Delivered,
    SegmentReceived,
    SegmentSent,
    TcbSampled,
    TimerArmed,
    TimerCancelled,
    TimerFired,
)
from tcplab.tcp.segment import Nop, Option, Segment, Timestamps

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
_NOP = Nop()
_TIMER_CODES: dict[type, int] = {TimerArmed: 3, TimerCancelled: 4, TimerFired: 5}
# the deadline's type is checked against the class before one is made
_TIMERS: dict[int, Callable[..., LabEvent]] = {
    code: cls for cls, code in _TIMER_CODES.items()}
_QUOTED: dict[str, str] = {}
# (sid, src, dst, ifname) -> the record's middle, which repeats for every segment
_ROUTES: dict[tuple[int | None, tuple[str, int], tuple[str, int], str], str] = {}


def _q(text: str) -> str:
    """``text`` as a JSON string; hosts, addresses and timer names repeat, so cached."""
    quoted = _QUOTED.get(text)
    if quoted is None:
        if len(_QUOTED) > 4096:
            _QUOTED.clear()
        quoted = _QUOTED[text] = json.dumps(text)  # ASCII: a lone surrogate is escaped
    return quoted


def _options_json(opts: tuple[Option, ...]) -> str:
    if not opts:
        return "[]"
    if len(opts) == 3 and type(opts[2]) is Timestamps and type(opts[0]) is type(opts[1]) is Nop:
        return f"[{opts[2].val},{opts[2].ecr}]"
    return json.dumps([option_to_wire(o) for o in opts], separators=(",", ":"))


class Batch:
    """The records collected since the last :meth:`line` (agent side)."""

    __slots__ = ("_delivered", "_parts")

    def __init__(self) -> None:
        # a record's JSON, or a Delivered record's start and its data, encoded at the
        # end; None where a delivery was merged into a later one
        self._parts: list[str | tuple[str, bytearray] | None] = []
        self._delivered: dict[int, tuple[float, int]] = {}   # sid -> (t, index in parts)

    def __bool__(self) -> bool:
        return bool(self._parts)

    def add(self, event: LabEvent) -> bool:
        """Take ``event`` if it is a batched kind; False (nothing done) otherwise."""
        cls = type(event)
        if not isfinite(event.t):
            return False  # JSON has no infinity: the generic line spells it out
        if cls is SegmentSent or cls is SegmentReceived:
            assert isinstance(event, SegmentSent | SegmentReceived)
            seg, src, dst = event.segment, event.src, event.dst
            if src[1] != seg.src_port or dst[1] != seg.dst_port:
                return False  # never from a host; the record names each port once
            key = (event.sid, src, dst, event.ifname)
            route = _ROUTES.get(key)
            if route is None:
                if len(_ROUTES) > 4096:
                    _ROUTES.clear()
                sid = "null" if event.sid is None else event.sid
                route = _ROUTES[key] = (f"{sid},{_q(src[0])},{src[1]},{_q(dst[0])},{dst[1]},"
                                        f"{_q(event.ifname)}")
            payload = seg.payload
            self._parts.append(
                f'[{0 if cls is SegmentSent else 1},{float(event.t)!r},{route},{seg.seq},'
                f'{seg.ack},{seg.flags},{seg.window},{seg.urgent},'
                f'{_options_json(seg.options)},{len(payload)},'
                f'"{b64(payload[:PREVIEW_BYTES]) if payload else ""}"]')
            return True
        if cls is Delivered:
            assert isinstance(event, Delivered)
            parts = self._parts
            held = self._delivered.get(event.sid)
            if held is not None and held[0] == event.t:
                # the merged delivery moves to the end: after the segments that carried it
                part = parts[held[1]]
                assert isinstance(part, tuple)
                parts[held[1]] = None
                part[1].extend(event.data)
            else:
                part = (f"[2,{float(event.t)!r},{event.sid},", bytearray(event.data))
            self._delivered[event.sid] = (event.t, len(parts))
            parts.append(part)
            return True
        code = _TIMER_CODES.get(cls)
        if code is not None:
            assert isinstance(event, TimerArmed | TimerCancelled | TimerFired)
            if event.deadline is not None and not isfinite(event.deadline):
                return False
            deadline = "null" if event.deadline is None else repr(float(event.deadline))
            self._parts.append(f"[{code},{float(event.t)!r},{event.sid},{_q(event.name)},"
                               f"{deadline}]")
            return True
        if cls is TcbSampled:
            assert isinstance(event, TcbSampled)
            return self._sample(event)
        return False

    def _sample(self, ev: TcbSampled) -> bool:
        floats = (ev.rto, *(d for _, d in ev.timers))
        if not all(isfinite(x) for x in floats):
            return False
        timers = ",".join(f"[{_q(name)},{float(d)!r}]" for name, d in ev.timers)
        srtt = "null" if ev.srtt is None else repr(float(ev.srtt))
        rttvar = "null" if ev.rttvar is None else repr(float(ev.rttvar))
        self._parts.append(
            f"[6,{float(ev.t)!r},{ev.sid},{ev.iss},{ev.irs},{ev.snd_una},{ev.snd_nxt},"
            f"{ev.snd_max},{ev.rcv_nxt},{ev.snd_wnd},{ev.rcv_wnd},{ev.cwnd},{ev.ssthresh},"
            f"{ev.flight},{srtt},{rttvar},{float(ev.rto)!r},{ev.sendq},{ev.recvq},"
            f"[{timers}]]")
        return True

    def line(self, version: int) -> bytes:
        """The protocol line of what was collected (newline included); starts anew."""
        text = ",".join(part if isinstance(part, str) else f'{part[0]}"{b64(part[1])}"]'
                        for part in self._parts if part is not None)
        self._parts.clear()
        self._delivered.clear()
        return f'{{"v":{version},"events":[{text}]}}\n'.encode()


# ----------------------------------------------------------------------------- lab side

def events_from_batch(records: Any, host: str) -> tuple[list[LabEvent], list[str]]:
    """The events of a batch line's records, for ``host``; and a one-line reason for
    each record that was not one."""
    if type(records) is not list:
        return [], ["events must be a list of records"]
    events: list[LabEvent] = []
    errors: list[str] = []
    for index, record in enumerate(records):
        try:
            events.append(_record(record, host))
        except ProtocolError as exc:
            errors.append(f"event record {index}: {exc}")
    return events, errors


def _record(rec: Any, host: str) -> LabEvent:
    if type(rec) is not list or not rec or type(rec[0]) is not int:
        raise ProtocolError("a record must be a list starting with its code")
    code = rec[0]
    if code in (0, 1):
        return _segment_event(rec, host)
    if code == 2:
        if len(rec) != 4:
            raise ProtocolError("a delivery record has 4 values")
        _, t, sid, data = rec
        if type(t) is not float or type(sid) is not int or type(data) is not str:
            raise ProtocolError("a delivery record is [2, t, sid, base64 data]")
        return Delivered(t, host, sid, _unb64(data))
    if code == 6:
        return _sample_event(rec, host)
    cls = _TIMERS.get(code)
    if cls is None:
        raise ProtocolError(f"unknown record code {code}")
    if len(rec) != 5:
        raise ProtocolError("a timer record has 5 values")
    _, t, sid, name, deadline = rec
    if not (type(t) is float and type(sid) is int and type(name) is str
            and type(deadline) is (type(None) if code == 4 else float)):
        raise ProtocolError("a timer record is [code, t, sid, name, deadline "
                            "(null when cancelled)]")
    return cls(t, host, sid, name, deadline)


def _segment_event(rec: list[Any], host: str) -> LabEvent:
    if len(rec) != 16:
        raise ProtocolError("a segment record has 16 values")
    (code, t, sid, src_ip, sport, dst_ip, dport, ifname, seq, ack, flags, window, urgent,
     opts, n, head) = rec
    if not (type(t) is float and (sid is None or type(sid) is int)
            and type(src_ip) is type(dst_ip) is type(ifname) is type(head) is str
            and type(sport) is type(dport) is type(seq) is type(ack) is type(flags)
            is type(window) is type(urgent) is type(n) is int and type(opts) is list):
        raise ProtocolError("a segment record's values have the wrong types")
    if not (0 <= sport <= _U16 and 0 <= dport <= _U16 and 0 <= seq <= _U32
            and 0 <= ack <= _U32 and 0 <= flags <= 0xFFF and 0 <= window <= _U16
            and 0 <= urgent <= _U16 and 0 <= n <= _U16):
        raise ProtocolError("a segment record's numbers are out of range")
    options: tuple[Option, ...]
    if not opts:
        options = ()
    elif type(opts[0]) is int:
        if not (len(opts) == 2 and type(opts[0]) is type(opts[1]) is int
                and 0 <= opts[0] <= _U32 and 0 <= opts[1] <= _U32):
            raise ProtocolError("timestamp options are [val, ecr], each 0..2^32-1")
        options = (_NOP, _NOP, Timestamps(opts[0], opts[1]))
    else:
        options = tuple(option_from_wire(o) for o in opts)
    data = _unb64(head) if head else b""
    if len(data) != min(n, PREVIEW_BYTES):
        raise ProtocolError(f"a segment's head must be the first min(len, {PREVIEW_BYTES}) "
                            "bytes")
    if n > PREVIEW_BYTES:
        data += bytes(n - PREVIEW_BYTES)
    segment = Segment(sport, dport, seq, ack, flags, window, options, data, urgent)
    cls = SegmentSent if code == 0 else SegmentReceived
    return cls(t, host, sid, (src_ip, sport), (dst_ip, dport), segment, ifname)


def _sample_event(rec: list[Any], host: str) -> LabEvent:
    if len(rec) != 20:
        raise ProtocolError("a TCB sample record has 20 values")
    t, sid, *ints = rec[1:14]
    srtt, rttvar, rto, sendq, recvq, timers = rec[14:]
    if not (type(t) is float and type(sid) is int and all(type(v) is int for v in ints)
            and type(sendq) is type(recvq) is int and type(rto) is float
            and all(v is None or type(v) is float for v in (srtt, rttvar))
            and type(timers) is list and all(
                type(x) is list and len(x) == 2 and type(x[0]) is str and type(x[1]) is float
                for x in timers)):
        raise ProtocolError("a TCB sample record's values have the wrong types")
    iss, irs, una, nxt, snd_max, rcv_nxt, snd_wnd, rcv_wnd, cwnd, ssthresh, flight = ints
    return TcbSampled(t, host, sid, iss, irs, una, nxt, snd_max, rcv_nxt, snd_wnd, rcv_wnd,
                      cwnd, ssthresh, flight, srtt, rttvar, rto, sendq, recvq,
                      tuple((name, deadline) for name, deadline in timers))


def _unb64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("not valid base64") from None
