"""The transmission control block's fields, and the plumbing every part of the engine
uses: timers, events, sequence-space accounting and building outgoing segments.

:class:`Tcb` is the base of :class:`~tcplab.tcp.sender.Sender` (windows, congestion
control, loss recovery, retransmission, keep-alives), then of
:class:`~tcplab.tcp.arrival.Arrival` (the receive side) and
:class:`~tcplab.tcp.connection.Connection` (user calls, timers, life cycle).
It holds no policy: what to send and when is decided above it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque

from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.congestion import NewReno
from tcplab.tcp.events import Event, SegmentDropped, TimerArmed, TimerCancelled
from tcplab.tcp.kinds import DELACK, NO_RECOVERY, Timer
from tcplab.tcp.rto import RttEstimator
from tcplab.tcp.scoreboard import Scoreboard
from tcplab.tcp.segment import ACK, NOP, URG, Option, Sack, Segment, Timestamps
from tcplab.tcp.states import START, State

DEFAULT_MSS = 536  # RFC 9293 §3.7.1, RFC 6691
_MASK, _HALF = sq.MASK, sq.HALF  # the per-segment paths do sequence arithmetic inline


class Tcb(ABC):
    """Fields and plumbing (see the module docstring)."""

    # Slots, not a __dict__: a connection has over 30 fields, past the size up to which
    # CPython 3.11 shares instance dict keys and specialises attribute access, and the
    # per-segment paths read dozens of them.
    __slots__ = ("_ack_now", "_events", "_fin_queued", "_high_rxt", "_ka_heard",
                 "_ka_probes", "_ka_sent", "_last_ack_sent", "_out", "_persist_backoff",
                 "_probing", "_recovery", "_rto_count", "_rtx_since", "_sndq", "_sndq_seq",
                 "_state", "_timers", "_timing", "_ts_floor", "_ts_offset",
                 "_ts_recent_valid", "_unacked_bytes", "board", "cc", "config", "iss",
                 "local", "max_snd_wnd", "rcv_adv", "rcv_nxt", "rcv_wscale", "remote",
                 "retransmits", "rtt", "sack_ok", "snd_max", "snd_mss", "snd_nxt",
                 "snd_una", "snd_up", "snd_wl1", "snd_wl2", "snd_wnd", "snd_wscale",
                 "snd_wscale_offered", "syn_acked", "ts_ok", "ts_recent")

    remote: tuple[str, int] | None
    local: tuple[str, int]
    ts_recent: int
    _ts_recent_valid: bool

    def __init__(self, config: Config) -> None:
        self.config = config
        # moved only by a declared row of TRANSITIONS (Arrival._goto); read as `state`
        self._state: State = START
        self._events: deque[Event] = deque()
        self._timers: dict[Timer, float] = {}
        self.snd_wscale_offered = False
        self.iss = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.snd_max = 0
        self.snd_wnd = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.max_snd_wnd = 0
        self.snd_mss = min(config.mss, DEFAULT_MSS)
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.sack_ok = False
        self.ts_ok = False
        self._ts_offset = 0
        self.cc = NewReno(self.snd_mss, config.initial_window)
        self.rtt = RttEstimator(config.rto_initial, config.rto_min, config.rto_max)
        self.board = Scoreboard()
        self._out: list[Segment] = []
        self._sndq = bytearray()
        self._sndq_seq = 0
        self._fin_queued = False
        self._ack_now = False
        self._unacked_bytes = 0
        self.rcv_adv = 0
        self.rcv_nxt = 0
        self._last_ack_sent = 0
        self.retransmits = 0
        self._rto_count = 0
        self._rtx_since: float | None = None
        self._timing: tuple[int, float] | None = None  # (end seq, send time) for Karn
        self._recovery = NO_RECOVERY
        self._high_rxt = 0
        self._probing = False
        self._ts_floor: int | None = None  # echoes below this predate our last timeout
        self.syn_acked = False  # our SYN is acknowledged (SND.UNA may pass ISS again later)
        self._persist_backoff = 0
        self._ka_heard = 0.0     # when the peer was last heard from (keep-alives)
        self._ka_probes = 0      # keep-alive probes unanswered so far
        self._ka_sent = 0.0      # when the last of them went
        self.snd_up: int | None = None  # SND.UP: just after the last urgent octet (§3.8.5)

    # -- timers, events, accounting ----------------------------------------------------
    def _arm(self, name: Timer, deadline: float) -> None:
        if name not in self._timers:
            self._events.append(TimerArmed(name, deadline))
        self._timers[name] = deadline

    def _cancel(self, name: Timer) -> None:
        if self._timers.pop(name, None) is not None:
            self._events.append(TimerCancelled(name))

    def _emit_event(self, event: Event) -> None:
        self._events.append(event)

    def _drop(self, reason: str) -> None:
        self._events.append(SegmentDropped(reason))

    @abstractmethod
    def rcv_window(self) -> int:
        """Free receive space we may offer (before SWS avoidance and scaling)."""

    @abstractmethod
    def rcv_room(self) -> int:
        """Buffer space from RCV.NXT on: free space and the out-of-order bytes held."""

    @abstractmethod
    def _on_rto_give_up(self, reason: str) -> None: ...

    @abstractmethod
    def _on_keepalive_give_up(self, probes: int) -> None: ...

    @abstractmethod
    def _sack_blocks(self, limit: int) -> tuple[tuple[int, int], ...]: ...

    @abstractmethod
    def _challenge_ack(self, now: float) -> None: ...

    @property
    def state(self) -> State:
        """The RFC 9293 state (§3.3.2).  Read-only: it moves only through a declared row
        of :data:`tcplab.tcp.states.TRANSITIONS`."""
        return self._state

    @property
    def _rport(self) -> int:
        return self.remote[1] if self.remote else 0

    def _data_end(self) -> int:
        return sq.add(self._sndq_seq, len(self._sndq))

    @property
    def send_queue(self) -> int:
        """Bytes written and not yet acknowledged."""
        return len(self._sndq)

    @property
    def in_flight(self) -> int:
        """Sequence numbers sent and not yet acknowledged (SND.NXT - SND.UNA)."""
        return sq.sub(self.snd_nxt, self.snd_una)

    def _fin_acked(self) -> bool:
        return self._fin_queued and self.snd_una == sq.add(self._data_end(), 1)

    def _reset_send_space(self, iss: int) -> None:
        self.iss = iss
        self.snd_una = self.snd_nxt = self.snd_max = iss
        self._sndq_seq = sq.add(iss, 1)

    def _queue_data(self, data: bytes) -> int:
        n = min(len(data), self.config.sndbuf - len(self._sndq))
        if n > 0:
            self._sndq += data[:n]
        return max(n, 0)

    def _ts_val(self, now: float) -> int:
        return (self._ts_offset + int(now * 1000)) & 0xFFFFFFFF

    # -- building segments -------------------------------------------------------------
    def _schedule_ack(self, nbytes: int, now: float) -> None:
        """RFC 1122 §4.2.3.2 / RFC 5681 §4.2: ACK every second full segment, else delay."""
        delay = self.config.delayed_ack
        self._unacked_bytes += nbytes
        if delay <= 0 or self._unacked_bytes >= 2 * self.snd_mss:
            self._ack_now = True
        elif DELACK not in self._timers:
            self._arm(DELACK, now + delay)

    def _window_field(self) -> int:
        """Our window, never shrinking the right edge we offered (RFC 9293 §3.8.6.2.2)."""
        rcv_nxt, rcv_adv, shift = self.rcv_nxt, self.rcv_adv, self.rcv_wscale
        offered = max(((rcv_adv - rcv_nxt + _HALF) & _MASK) - _HALF, 0)
        free = self.rcv_window()
        if free - offered < min(self.config.rcvbuf // 2, self.snd_mss):
            # too small an increase: keep the edge where it is (SWS avoidance), rounded
            # up to the scale unit so scaling does not pull it left (RFC 7323 §2.4) --
            # but less than a unit past the buffer: rounded up on every ACK, the edge
            # would creep beyond it and a receiver that stops reading never offer 0
            free = min(offered, self.rcv_room()) + (1 << shift) - 1
        field = min(free >> shift, 0xFFFF)
        edge = (rcv_nxt + (field << shift)) & _MASK
        if ((rcv_adv - edge) & _MASK) >= _HALF:  # the edge moves right
            self.rcv_adv = edge
        return field

    def _after_emit(self, seg: Segment, now: float) -> None:
        self._out.append(seg)
        if seg.flags & ACK:
            self._last_ack_sent = seg.ack
            self._ack_now = False
            self._unacked_bytes = 0
            if DELACK in self._timers:
                self._cancel(DELACK)

    def _options(self, now: float) -> tuple[tuple[Option, ...], int]:
        """Options for a non-SYN segment, and how many bytes they take beyond the
        timestamps already counted in the MSS."""
        opts: tuple[Option, ...] = ()
        if self.ts_ok:  # (self._ts_val(now), written out on the per-segment path)
            opts = (NOP, NOP, Timestamps((self._ts_offset + int(now * 1000)) & 0xFFFFFFFF,
                                         self.ts_recent))
        extra = 0
        if self.sack_ok:
            blocks = self._sack_blocks(3 if self.ts_ok else 4)  # RFC 2018 §3
            if blocks:
                opts += (NOP, NOP, Sack(blocks))
                extra = 4 + 8 * len(blocks)
        return opts, extra

    def _build(self, seq: int, flags: int, payload: bytes, now: float,
               opts: tuple[Option, ...] | None = None) -> Segment:
        if opts is None:
            opts = self._options(now)[0]
        up = self.snd_up
        urgent = 0
        remote = self.remote
        if up is not None:
            if sq.le(up, self.snd_una):
                self.snd_up = None  # every urgent octet is acknowledged: urgent mode ends
            elif sq.gt(up, seq):
                # RFC 9293 §3.8.5 (MUST-62): SEG.UP = SND.UP - SEG.SEQ, the offset of the
                # octet after the urgent data, on every segment sent below it (pure ACKs
                # too, as Linux).  Beyond 16 bits the pointer says 0xFFFF: "urgent data
                # continues past this segment", and a later segment points further (MUST-31)
                flags |= URG
                urgent = min(sq.sub(up, seq), 0xFFFF)
        return Segment(self.local[1], remote[1] if remote else 0, seq, self.rcv_nxt, flags,
                       self._window_field(), opts, payload, urgent)
