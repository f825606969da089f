"""A run's history, indexed: the event stream kept on disk, seekable to any event.

Theory of operation
-------------------
Every event of a run -- as it happens (:meth:`Timeline.append`, fed by the lab's bus)
or read back from a recording (:meth:`Timeline.load`) -- is kept as its ``events.jsonl``
line in a file (a temporary one for a live run, the recording itself for a replay),
and indexed by small arrays: where each line starts, its time, its kind.  The lines
are parsed again only when a pane needs them, so a million events cost some 30 MB of
index, not a million dicts.

The fold of the events (:class:`~tcplab.lab.snapshot.Snapshot`) is kept current at the
end of the stream (:attr:`Timeline.head`) and checkpointed every few thousand events;
:meth:`Timeline.snapshot` gives the state after any number of events by cloning the
checkpoint before it and applying the rest.  A seek therefore parses at most one
checkpoint interval of lines, however long the run.

Histories are index lists: per connection, the events about it (segments sent and
received, drops and holds of its segments in either direction, state changes,
retransmissions, deliveries) and its TCB samples; for the whole run, the events that
make a log line and the markers the timeline bar shows (state changes, drops).  A pane
asks for the entries of a list before a given event number and parses only those.

``run.rewound`` (a rewind re-ran the simulation to an earlier time) cuts the stream
back to its ``keep`` first events before the new branch goes on.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from tcplab.lab import codec
from tcplab.lab.events import LabEvent
from tcplab.lab.snapshot import Addr, Key, Snapshot

CHECKPOINT_MIN = 2048          # events between checkpoints, at least
CHECKPOINT_PER_ROW = 8         # ... and this many per socket, so clones stay a small cost
_CONN_KINDS = ("segment.sent", "segment.received", "state.changed", "segment.retransmitted",
               "data.delivered", "socket.error", "socket.soft_error", "segment.dropped",
               "break.hit")
LOG_KINDS = frozenset(("state.changed", "command", "notice", "link.changed", "link.dropped",
                       "link.held", "segment.dropped", "socket.error", "socket.soft_error",
                       "host.status", "break.hit", "run.rewound"))
MARK_KINDS = {"state.changed": 0, "link.dropped": 1, "break.hit": 2}  # kind -> mark code


class RecordingError(Exception):
    """A recording that cannot be read; the message says why, for the user."""


# the lines are the event codec's, as the recorder writes them
decode = codec.decode


def flow_of(summary: str) -> tuple[Addr, Addr] | None:
    """(source, destination) of a segment summary ``ip:port>ip:port ...``."""
    head = summary.split(" ", 1)[0]
    try:
        src, dst = head.split(">")
        sip, sport = src.rsplit(":", 1)
        dip, dport = dst.rsplit(":", 1)
        return (sip, int(sport)), (dip, int(dport))
    except ValueError:
        return None


class Timeline:
    """The indexed history of one run (see the module docstring)."""

    def __init__(self, header: dict[str, Any] | None = None,
                 path: str | Path | None = None) -> None:
        self.header = header or {}
        if path is None:
            self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by close()
            self._size = 0
        else:
            self._file = open(path, "rb")  # noqa: SIM115 -- closed by close()
            self._size = os.fstat(self._file.fileno()).st_size
        self._fd = self._file.fileno()
        self._writable = path is None
        self._pending = bytearray()          # appended lines not written yet
        self._starts = array("q")            # where each event's line starts
        self._times = array("d")
        self.head = Snapshot()
        self._checkpoints: list[tuple[int, Snapshot]] = [(0, Snapshot())]
        self._interval = CHECKPOINT_MIN
        self.conn_events: dict[Key, array[int]] = {}
        self.conn_samples: dict[Key, array[int]] = {}
        self.log = array("l")
        self.marks = array("l")
        self.mark_kinds = array("B")        # MARK_KINDS codes, beside marks
        self._tuples: dict[tuple[Addr, Addr], Key] = {}
        self.rewinds = 0

    # -- building ---------------------------------------------------------------------
    @classmethod
    def load(cls, directory: str | Path) -> Timeline:
        """A recording's timeline; RecordingError says why one cannot be read."""
        path = Path(directory)
        events = path / "events.jsonl" if path.is_dir() else path
        timeline: Timeline | None = None

        def index(ev: dict[str, Any], offset: int) -> bool:
            assert timeline is not None
            timeline._index(ev, offset)
            return True

        def start(header: dict[str, Any]) -> None:
            nonlocal timeline
            timeline = cls(header, events)

        read_recording(events, start, index)
        assert timeline is not None
        return timeline

    def append(self, event: LabEvent | dict[str, Any]) -> None:
        """One more event of a live run, typed or as its record."""
        if isinstance(event, dict):
            ev, line = event, codec.dumps(event)
        else:
            ev, line = codec.encoded(event)
        if ev["kind"] == "run.rewound":
            self.cut(int(ev["keep"]))
        self._index(ev, self._size + len(self._pending))
        self._pending += line

    def _index(self, ev: dict[str, Any], offset: int) -> None:
        i = len(self._starts)
        self._starts.append(offset)
        self._times.append(ev["t"])
        kind = ev["kind"]
        head = self.head
        head.apply(ev)
        if kind in LOG_KINDS:
            self.log.append(i)
        mark = MARK_KINDS.get(kind)
        if mark is not None:
            self.marks.append(i)
            self.mark_kinds.append(mark)
        sid: int | None = ev.get("sid")
        if kind == "tcb.sample":
            self.conn_samples.setdefault((ev["host"], int(ev["sid"])), array("l")).append(i)
        elif kind in _CONN_KINDS and sid is not None:
            self.conn_events.setdefault((ev["host"], sid), array("l")).append(i)
            if kind == "state.changed" and ev["remote"] is not None:
                local, remote = ev["local"], ev["remote"]
                self._tuples[((local[0], local[1]), (remote[0], remote[1]))] = (ev["host"], sid)
        elif kind in ("link.dropped", "link.held"):
            flow = flow_of(ev["summary"])
            if flow is not None:
                for key in (self._tuples.get(flow), self._tuples.get((flow[1], flow[0]))):
                    if key is not None:
                        self.conn_events.setdefault(key, array("l")).append(i)
        if kind == "segment.dropped":
            self._index_refused(ev, i)
        elif kind == "segment.sent" and sid is None:
            self._index_answer(ev, i)
        if head.count % self._interval == 0:
            self._checkpoints.append((head.count, head.clone()))
            self._interval = max(CHECKPOINT_MIN, CHECKPOINT_PER_ROW * len(head.rows))

    def _index_refused(self, ev: dict[str, Any], i: int) -> None:
        """A segment its host dropped on arrival though it was addressed to a
        connection there that did not take it (gone: "no socket"; a listener's "ack in
        listen"): that connection's ladder shows it reached its host."""
        flow = flow_of(ev["summary"])
        key = self._tuples.get((flow[1], flow[0])) if flow is not None else None
        if key is not None and key[0] == ev["host"] and key[1] != ev.get("sid"):
            self.conn_events.setdefault(key, array("l")).append(i)

    def _index_answer(self, ev: dict[str, Any], i: int) -> None:
        """A RST no socket owns, sent in answer to a segment of a connection that is
        gone (RFC 9293 §3.10.7.1): that connection's ladder shows it leave its host."""
        src, dst = ev["src"], ev["dst"]
        key = self._tuples.get(((src[0], src[1]), (dst[0], dst[1])))
        if key is not None and key[0] == ev["host"]:
            self.conn_events.setdefault(key, array("l")).append(i)

    def cut(self, keep: int) -> None:
        """Forget every event after the first ``keep`` (a rewind's abandoned branch)."""
        if keep >= len(self._starts):
            return
        self.rewinds += 1
        self._flush()
        head = self.snapshot(keep).clone()  # before the cut: the fold of what stays
        end = self._starts[keep]
        del self._starts[keep:]
        del self._times[keep:]
        for table in (self.conn_events, self.conn_samples):
            for key in list(table):
                arr = table[key]
                del arr[bisect_left(arr, keep):]
                if not arr:
                    del table[key]
        del self.mark_kinds[bisect_left(self.marks, keep):]
        for arr in (self.log, self.marks):
            del arr[bisect_left(arr, keep):]
        self._checkpoints = [(n, s) for n, s in self._checkpoints if n <= keep]
        self.head = head
        if self._writable:
            os.ftruncate(self._fd, end)
        self._size = end

    # -- reading ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._starts)

    @property
    def end_time(self) -> float:
        """The time of the last event (0 before any)."""
        return self._times[-1] if self._times else 0.0

    def time_of(self, n: int) -> float:
        """The time after the first ``n`` events (0 before any)."""
        return self._times[n - 1] if n > 0 else 0.0

    def count_at(self, t: float) -> int:
        """How many events happened at or before ``t``."""
        return bisect_right(self._times, t)

    def event(self, i: int) -> dict[str, Any]:
        """Event ``i`` (0 is the first after the header), parsed from its line into its
        record."""
        return decode(self._read(i, i + 1))  # type: ignore[no-any-return]

    def events(self, indices: list[int] | array[int]) -> Iterator[dict[str, Any]]:
        """Parsed events, in the order given (runs of neighbours read at once)."""
        k = 0
        n = len(indices)
        while k < n:
            j = k
            while j + 1 < n and indices[j + 1] == indices[j] + 1:
                j += 1
            for line in self._read(indices[k], indices[j] + 1).splitlines():
                yield decode(line)
            k = j + 1

    def before(self, arr: array[int] | None, n: int, limit: int) -> list[int]:
        """The last ``limit`` entries of an index list that are among the first ``n``
        events."""
        if arr is None:
            return []
        end = bisect_left(arr, n)
        return list(arr[max(0, end - limit): end])

    def mark_times(self) -> list[tuple[float, int]]:
        """(time, MARK_KINDS code) of every marker, for the timeline bar."""
        times = self._times
        return [(times[i], code) for i, code in zip(self.marks, self.mark_kinds, strict=True)]

    def next_mark(self, n: int, forward: bool, indices: array[int] | None = None) -> int | None:
        """The event count that ends at the next (or previous) state change after (before)
        the first ``n`` events: of ``indices`` (one connection's events) or of any."""
        if indices is None:
            picked = [i for i, code in zip(self.marks, self.mark_kinds, strict=True)
                      if code == 0]
        else:
            picked = [i for i in self.events_of_kind(indices, "state.changed")]
        if forward:
            later = [i for i in picked if i >= n]
            return later[0] + 1 if later else None
        earlier = [i for i in picked if i + 1 < n]
        return earlier[-1] + 1 if earlier else None

    def events_of_kind(self, indices: array[int], kind: str) -> list[int]:
        """Those of ``indices`` whose event is of ``kind`` (the state changes of a
        connection are also markers: no line is parsed)."""
        marks = set(i for i, code in zip(self.marks, self.mark_kinds, strict=True)
                    if code == MARK_KINDS[kind])
        return [i for i in indices if i in marks]

    def snapshot(self, n: int) -> Snapshot:
        """The fold after the first ``n`` events.  The head itself for ``n`` = all: do not
        change what you get."""
        if n >= len(self._starts):
            return self.head
        at = bisect_right(self._checkpoints, n, key=lambda c: c[0]) - 1
        base, snap = self._checkpoints[at]
        snap = snap.clone()
        if n > base:
            for line in self._read(base, n).splitlines():
                snap.apply(decode(line))
        return snap

    def _read(self, i: int, j: int) -> bytes:
        """The lines of events ``i`` to ``j - 1``."""
        start = self._starts[i]
        end = self._starts[j] if j < len(self._starts) else self._size + len(self._pending)
        if end > self._size:
            self._flush()
        return os.pread(self._fd, end - start, start)

    def _flush(self) -> None:
        if self._pending:
            os.pwrite(self._fd, self._pending, self._size)
            self._size += len(self._pending)
            self._pending.clear()

    def close(self) -> None:
        """Close the events file: a live run's temporary file is deleted, a recording is
        only closed."""
        self._file.close()


def read_recording(events: Path, start: Callable[[dict[str, Any]], None],
                   apply: Callable[[dict[str, Any], int], bool]) -> None:
    """Read a recording: ``start`` gets its header, then ``apply`` each event and where
    its line starts, until it returns False.  RecordingError names the line that is not
    an event, or why the file cannot be read."""
    try:
        fh = open(events, "rb")  # noqa: SIM115 -- closed below
    except OSError as exc:
        raise RecordingError(f"cannot read {events}: {exc.strerror}") from None
    with fh:
        first = fh.readline()
        start(check_header(first, events))
        offset = len(first)
        for number, line in enumerate(fh, start=2):
            try:
                if not apply(decode(line), offset):
                    return
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise RecordingError(f"{events}: line {number} is not an event of "
                                     f"schema 2 ({exc})") from None
            offset += len(line)


def check_header(first: bytes, where: Path) -> dict[str, Any]:
    """The recording's header, or RecordingError naming what is wrong with it."""
    if not first:
        raise RecordingError(f"{where} is empty")
    try:
        header = decode(first)
    except ValueError:  # msgspec's DecodeError is one
        raise RecordingError(f"{where}: the first line is not JSON") from None
    if not isinstance(header, dict) or header.get("kind") != "header":
        raise RecordingError(f"{where}: the first line is not a recording header")
    schema = header.get("schema")
    if schema != 2:
        why = ("schema 1 recordings lack the TCB samples every pane is drawn from: record "
               "the run again with this version" if schema == 1 else
               "it was made by a newer tcplab: replay it with that version"
               if isinstance(schema, int) and schema > 2 else "not a schema this tcplab knows")
        raise RecordingError(
            f"{where}: recording schema {schema!r}; this tcplab reads schema 2 ({why})")
    return header
