"""The history panes' data, read from the timeline up to the cursor.

Theory of operation
-------------------
The ladder, the time-sequence and cwnd plots, the stream view and the log show a range
of the run's events, not a fold: the events about one connection (or all of them, for
the log) among the first ``n`` of the stream, where ``n`` is the dashboard's cursor.
These functions parse just those lines from the :class:`~tcplab.lab.timeline.Timeline`
and turn them into the small records the widgets draw, so a live run, a replay and a
seek are drawn by the same code.

Sequence numbers are made relative to each direction's ISN, taken from the
connection's TCB samples (``iss``/``irs``), so they stay relative for the connection's
whole life however many segments ago its SYN was.

:func:`flights` pairs each segment of one end's ladder with the same segment in the
other end's (by flags, numbers, length, window and SACK blocks, in order), which gives
its send and arrival times: the ladder pane and ``export ladder`` both draw from it.
:func:`cause_of` finds the segment behind a connection's last state change, for the
state diagram.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tcplab.lab.snapshot import Key, SocketRow
from tcplab.lab.timeline import Timeline
from tcplab.tcp.states import Trigger

LADDER_LIMIT = 4000     # events of one connection read for the ladder and the plot
LOG_LIMIT = 4000
SAMPLE_LIMIT = 4000
STREAM_LIMIT = 400      # deliveries shown per side
LINUX_TURN = 0.001      # s: a received segment to the Linux move it makes (well above)


@dataclass(slots=True)
class SegRecord:
    """One segment as the ladder and the time-sequence plot draw it."""

    t: float
    outbound: bool          # sent by the selected socket (else by its peer)
    flags: str              # packetdrill's spelling: "S", "S.", "P.", "F.", "R"...
    seq: int                # relative to the sender's ISN
    ack: int                # relative to the receiver's ISN
    window: int
    length: int
    options: list[str] = field(default_factory=list)
    dropped: str = ""       # the reason, when the network lost it
    link: str = ""          # the link direction that lost it ("h1>s1")
    retransmission: bool = False
    held: bool = False      # a `hold` kept it in the network for a while
    refused: str = ""       # it reached its host, which dropped it: why ("no socket")
    sack: list[tuple[int, int]] = field(default_factory=list)  # relative SACK blocks

    @property
    def label(self) -> str:
        """A compact packetdrill-like label: ``P. 1:1461(1460) ack 1 win 2048``."""
        text = f"{self.flags} {self.seq}:{(self.seq + self.length) & 0xFFFFFFFF}({self.length})"
        if "." in self.flags:
            text += f" ack {self.ack}"
        return text + f" win {self.window}"


@dataclass(slots=True)
class Marker:
    """A line of the ladder that is not a segment: a state change, a hold."""

    t: float
    outbound: bool
    text: str


def _bases(row: SocketRow | None) -> tuple[int, int]:
    if row is None or not row.tcb:
        return 0, 0
    return int(row.tcb["iss"]), int(row.tcb["irs"])


def _sack(options: list[str], base: int) -> list[tuple[int, int]]:
    blocks: list[tuple[int, int]] = []
    for opt in options:
        if opt.startswith("sack "):
            for pair in opt[5:].split():
                a, _, b = pair.partition(":")
                blocks.append(((int(a) - base) & 0xFFFFFFFF, (int(b) - base) & 0xFFFFFFFF))
    return blocks


def ladder(timeline: Timeline, row: SocketRow | None, n: int,
           limit: int = LADDER_LIMIT) -> list[SegRecord | Marker]:
    """The selected connection's segments (both directions), drops, holds and state
    changes among the first ``n`` events, oldest first."""
    if row is None:
        return []
    iss, irs = _bases(row)
    out: list[SegRecord | Marker] = []
    rtx_seqs: set[int] = set()
    held_in: set[tuple[str, int]] = set()  # the peer's segments a hold keeps: (flags, seq)
    indices = timeline.before(timeline.conn_events.get(row.key), n, limit)
    for ev in timeline.events(indices):
        kind = ev["kind"]
        if kind in ("segment.sent", "segment.received"):
            outbound = kind == "segment.sent"
            seg = ev["segment"]
            # a SYN or a FIN is retransmitted too, though it carries no payload
            counted = seg["len"] > 0 or "S" in seg["flags"] or "F" in seg["flags"]
            rec = _record(ev["t"], outbound, seg, iss, irs,
                          outbound and counted and seg["seq"] in rtx_seqs)
            if not outbound and (seg["flags"], seg["seq"]) in held_in:
                held_in.discard((seg["flags"], seg["seq"]))
                rec.held = True  # it arrives once released
            out.append(rec)
        elif kind == "segment.retransmitted":
            rtx_seqs.add(ev["seq"])
        elif kind == "state.changed":
            marker = Marker(ev["t"], True, f"{ev['old']} -> {ev['new']} ({ev['cause']})")
            at = len(out)
            if ev["cause"] == Trigger.LINUX:
                # Linux's move has the kernel's time, and its agent publishes it after
                # segments it read later: it goes where its time puts it
                while at and out[at - 1].t > marker.t:
                    at -= 1
            out.insert(at, marker)
        elif kind in ("link.dropped", "link.held") and row.remote is not None:
            _network(out, ev, row, iss, irs, held_in)
        elif kind == "segment.dropped" and ev.get("sid") != row.sid and "segment" in ev:
            # it came for this socket, which no longer took it (see Timeline._index_refused)
            rec = _record(ev["t"], False, ev["segment"], iss, irs, False)
            rec.refused = ev["reason"]
            out.append(rec)
    return out


@dataclass(slots=True)
class Flight:
    """A segment of the selected socket's ladder with both ends' times: when it left
    its sender and when it reached the other end (None: lost, or not seen there)."""

    rec: SegRecord
    sent: float
    arrived: float | None
    other: SegRecord | None    # the same segment in the peer's ladder


MatchKey = tuple[str, int, int, int, int, tuple[tuple[int, int], ...]]


def _match_key(rec: SegRecord) -> MatchKey:
    # the window and SACK blocks tell duplicate ACKs apart
    return rec.flags, rec.seq, rec.ack, rec.length, rec.window, tuple(rec.sack)


def _pair(sent: list[SegRecord], arrived: list[SegRecord]) -> list[tuple[SegRecord, SegRecord]]:
    """Each record of ``sent`` with the record of its arrival in ``arrived``, among those
    alike (:func:`_match_key`), in the order sent: a link keeps the order of what it
    carries.  A hold does not: it lets later copies pass the segment it keeps (a FIN
    held, then sent again; a RST held, and the RSTs answering each copy).  Where a hold
    kept one, the segments no hold kept take, in the order sent, the first arrival no
    sooner than the path allows, and the held ones what is left.  The path allows half
    the shortest trip of a segment no longer than this one that looks like no other: a
    lower bound, as serialisation and jitter only lengthen a trip."""
    waiting: dict[MatchKey, list[SegRecord]] = {}
    for rec in arrived:
        waiting.setdefault(_match_key(rec), []).append(rec)
    sending: dict[MatchKey, list[SegRecord]] = {}
    for rec in sent:
        sending.setdefault(_match_key(rec), []).append(rec)
    out: list[tuple[SegRecord, SegRecord]] = []
    trips: list[tuple[int, float]] | None = None
    for key, recs in sending.items():
        there = waiting.get(key)
        if not there:
            continue
        if not any(rec.held for rec in recs):
            # in order, as the link carried them; the last sent may be on their way
            out.extend(zip(recs, there, strict=False))
            continue
        if trips is None:
            trips = [(k[3], w[0].t - sending[k][0].t) for k, w in waiting.items()
                     if len(w) == 1 and len(sending.get(k, ())) == 1
                     and w[0].t >= sending[k][0].t]
        soonest = min((trip for length, trip in trips if length <= key[3]), default=0.0) / 2
        for held in (False, True):
            for rec in recs:
                if rec.held is not held:
                    continue
                at = next((i for i, arr in enumerate(there) if arr.t >= rec.t + soonest),
                          None)
                if at is None:
                    at = next((i for i, arr in enumerate(there) if arr.t >= rec.t), None)
                if at is not None:
                    out.append((rec, there.pop(at)))
    return out


def flights(own: list[SegRecord | Marker], peer: list[SegRecord | Marker]) -> list[Flight]:
    """Each of ``own``'s segments with its send and arrival times, matched with the
    peer's ladder (``segment.sent`` at one end, ``segment.received`` at the other, by
    flags, relative sequence and acknowledgment numbers and length; see :func:`_pair`).
    The ladder pane and ``export ladder`` both draw from this.  A matched segment takes
    what only the other end knows of it: a retransmission, a hold, a refusal."""
    own_segs = [r for r in own if isinstance(r, SegRecord)]
    peer_segs = [r for r in peer if isinstance(r, SegRecord) and not r.dropped]
    own_out = [r for r in own_segs if r.outbound and not r.dropped]
    own_in = [r for r in own_segs if not r.outbound and not r.dropped]
    peer_out = [r for r in peer_segs if r.outbound]
    arrival = {id(snd): arr for snd, arr in _pair(own_out, [r for r in peer_segs
                                                             if not r.outbound])}
    sender = {id(arr): snd for snd, arr in _pair(peer_out, own_in)}
    out: list[Flight] = []
    for rec in own_segs:
        if rec.outbound:
            other = arrival.get(id(rec))
            if other is not None and other.refused:
                rec.refused = other.refused  # it arrived, and the host there dropped it
            out.append(Flight(rec, rec.t, other.t if other else None, other))
        elif rec.dropped:
            out.append(Flight(rec, rec.t, None, None))
        else:
            other = sender.get(id(rec))
            if other is not None:
                # only its sender knows it sent it again, or that a hold kept it
                rec.retransmission |= other.retransmission
                rec.held = other.held
            out.append(Flight(rec, other.t if other else rec.t, rec.t, other))
    # what the peer sent that has not arrived here (a hold keeps it, a slow link):
    # only the peer's ladder has it, and this one shows it too, on its way
    matched = {id(snd) for snd in sender.values()}
    for sent in (r for r in peer_out if id(r) not in matched):
        at = len(out)
        while at and out[at - 1].sent > sent.t:
            at -= 1
        out.insert(at, Flight(replace(sent, outbound=False), sent.t, None, sent))
    return out


def states_after(records: list[SegRecord | Marker]) -> dict[int, str]:
    """id(segment record) -> the socket's state once it is sent or received: a state
    change caused by an arriving segment belongs to the segment before it, one caused
    by a command or a timer to the segments after it (a CLOSE, then its FIN).  Linux
    does not say why it moved: a move right after a segment arrived is that segment's."""
    out: dict[int, str] = {}
    state = ""
    pending: list[SegRecord] = []
    for rec in records:
        if isinstance(rec, Marker):
            if " -> " not in rec.text:
                continue
            new, _, cause = rec.text.split(" -> ", 1)[1].partition(" (")
            if not (cause.startswith("rcv") or (cause.startswith(Trigger.LINUX)
                    and _just_received(pending, rec.t))):
                # a command or a timer: the segments before it were sent before it
                for seg in pending:
                    out[id(seg)] = state
                pending = []
            state = new
            continue
        for seg in pending:
            out[id(seg)] = state
        pending = [rec]
    for seg in pending:
        out[id(seg)] = state
    return out


def _just_received(pending: list[SegRecord], t: float) -> bool:
    """Linux's move at ``t`` was made by the segment it had just received: its kernel
    handles one within microseconds of its arrival (the times of both are the kernel's)."""
    return bool(pending) and not pending[-1].outbound and t - pending[-1].t <= LINUX_TURN


def _record(t: float, outbound: bool, seg: dict[str, Any], iss: int, irs: int,
            rtx: bool) -> SegRecord:
    seq_base, ack_base = (iss, irs) if outbound else (irs, iss)
    options = list(seg["options"])
    return SegRecord(t, outbound, seg["flags"], (seg["seq"] - seq_base) & 0xFFFFFFFF,
                     (seg["ack"] - ack_base) & 0xFFFFFFFF, seg["window"], seg["len"],
                     options, retransmission=rtx, sack=_sack(options, ack_base))


def _network(out: list[SegRecord | Marker], ev: dict[str, Any], row: SocketRow, iss: int,
             irs: int, held_in: set[tuple[str, int]]) -> None:
    """A drop or a hold of one of this connection's segments, in either direction."""
    summary: str = ev["summary"]
    outbound = summary.startswith(f"{row.local[0]}:{row.local[1]}>")
    if ev["kind"] == "link.held":
        if outbound:  # the sent segment is already listed: the last one sent
            for rec in reversed(out):
                if isinstance(rec, SegRecord) and rec.outbound:
                    rec.held = True
                    break
        else:  # the peer's has not arrived yet: marked when it does
            words = summary.split(" ")  # "src>dst FLAGS seq:end(len) ..."
            if len(words) > 2 and words[2].split(":", 1)[0].isdigit():
                held_in.add((words[1], int(words[2].split(":", 1)[0])))
        out.append(Marker(ev["t"], outbound, f"held in the network: {summary.split(' ', 1)[-1]}"))
        return
    seg = ev.get("segment")
    if seg is None:
        return
    if outbound:
        # the sent segment is already listed: mark it
        for rec in reversed(out):
            # the very segment: duplicate ACKs share flags and numbers, not options
            if (isinstance(rec, SegRecord) and rec.outbound and not rec.dropped
                    and rec.seq == (seg["seq"] - iss) & 0xFFFFFFFF and rec.flags == seg["flags"]
                    and rec.ack == (seg["ack"] - irs) & 0xFFFFFFFF and rec.length == seg["len"]
                    and rec.options == list(seg["options"])):
                rec.dropped = ev["reason"]
                rec.link = ev.get("direction", "")
                return
    rec = _record(ev["t"], outbound, seg, iss, irs, False)
    rec.dropped = ev["reason"]  # the peer's segment never arrived: only the drop says so
    rec.link = ev.get("direction", "")
    out.append(rec)


CAUSE_LOOKBACK = 64     # events of the connection read back to find a move's segment


def cause_of(timeline: Timeline, row: SocketRow | None, n: int) -> SegRecord | None:
    """The segment that made the connection's last state change: the one it received
    at that instant for a ``rcv ...`` move; else the one it sent then (the SYN of an
    active OPEN, the FIN of a CLOSE), if any."""
    if row is None or not row.path:
        return None
    t, old, new, cause = row.path[-1]
    indices = timeline.before(timeline.conn_events.get(row.key), n, CAUSE_LOOKBACK)
    events = list(timeline.events(indices))
    at = next((i for i in range(len(events) - 1, -1, -1)
               if events[i]["kind"] == "state.changed" and events[i]["t"] == t
               and events[i]["old"] == old and events[i]["new"] == new), None)
    if at is None:
        return None
    iss, irs = _bases(row)
    if cause.startswith("rcv"):
        for ev in reversed(events[:at]):
            if ev["t"] != t:
                break
            if ev["kind"] == "segment.received":
                return _record(t, False, ev["segment"], iss, irs, False)
        return None
    for ev in events[at + 1:]:
        if ev["t"] != t:
            break
        if ev["kind"] == "segment.sent":
            return _record(t, True, ev["segment"], iss, irs, False)
    return None


def samples(timeline: Timeline, row: SocketRow | None, n: int,
            limit: int = SAMPLE_LIMIT) -> list[tuple[float, int, int, int, int, int]]:
    """(t, cwnd, ssthresh, flight, peer's window, relative SND.UNA) of the connection's
    TCB samples before ``n``."""
    if row is None:
        return []
    indices = timeline.before(timeline.conn_samples.get(row.key), n, limit)
    return [(ev["t"], ev["cwnd"], ev["ssthresh"], ev["flight"], ev["snd_wnd"],
             (ev["snd_una"] - ev["iss"]) & 0xFFFFFFFF) for ev in timeline.events(indices)]


def deliveries(timeline: Timeline, key: Key, n: int,
               limit: int = STREAM_LIMIT) -> list[tuple[float, int, str, str]]:
    """(t, length, hex preview, text preview) of the deliveries to a socket's
    application before ``n``."""
    arr = timeline.conn_events.get(key)
    indices = timeline.before(arr, n, LADDER_LIMIT)
    out = [(ev["t"], ev["len"], ev["hex"], ev["ascii"]) for ev in timeline.events(indices)
           if ev["kind"] == "data.delivered"]
    return out[-limit:]


def log_lines(timeline: Timeline, n: int, limit: int = LOG_LIMIT,
              cache: dict[int, tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """(text, style) of the log's lines before ``n``.  ``cache`` keeps lines already
    made by event number (valid until the timeline is cut), so a redraw of a long log
    parses only what is new."""
    indices = timeline.before(timeline.log, n, limit)
    if cache is None:
        return [log_line(ev) for ev in timeline.events(indices)]
    missing = [i for i in indices if i not in cache]
    for i, ev in zip(missing, timeline.events(missing), strict=True):
        cache[i] = log_line(ev)
    if len(cache) > 4 * limit:
        keep = set(indices)
        for i in [i for i in cache if i not in keep]:
            del cache[i]
    return [cache[i] for i in indices]


def log_line(ev: dict[str, Any]) -> tuple[str, str]:
    """One event of the log as a line and its style."""
    t, kind, host = ev["t"], ev["kind"], ev["host"]
    head = f"{t:9.3f} "
    if kind == "state.changed":
        local = ev["local"]
        return (head + f"{host} {local[0]}:{local[1]} {ev['old']} -> {ev['new']} "
                f"({ev['cause']})", "")
    if kind == "command":
        mark = "ok" if ev["ok"] else "error"
        return head + f"> {ev['line']}  [{mark}] {ev['message']}", "" if ev["ok"] else "red"
    if kind == "notice":
        return head + f"notice: {ev['text']}", "cyan"
    if kind == "link.changed":
        return head + f"link {ev['direction']} {ev['params']}", "dim"
    if kind == "link.dropped":
        return head + f"link {ev['direction']} dropped ({ev['reason']}) {ev['summary']}", "red"
    if kind == "link.held":
        return head + f"link {ev['direction']} holding {ev['summary']}", "yellow"
    if kind == "segment.dropped":
        return head + f"{host} dropped ({ev['reason']}) {ev['summary']}", "red"
    if kind in ("socket.error", "socket.soft_error"):
        return head + f"{host} socket {ev['sid']}: {ev['reason']}", "red"
    if kind == "host.status":
        return head + f"{host} {'up' if ev['up'] else 'down'}: {ev['reason']}", "yellow"
    if kind == "break.hit":
        return head + f"breakpoint {ev.get('number')} ({ev.get('spec')}): {ev.get('detail')}", \
            "bold yellow"
    if kind == "run.rewound":
        return head + f"rewound to t={ev.get('to')}: a new branch starts here", "bold cyan"
    return head + kind, "dim"
