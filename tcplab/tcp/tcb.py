"""The transmission control block (RFC 9293 §3.2): one value holding a connection's
variables, and the plumbing every part of the engine uses on them -- timers, events,
the transition function, sequence-space accounting and building outgoing segments.

Theory of operation
-------------------
A :class:`~tcplab.tcp.connection.Connection` is three objects around one :class:`Tcb`:
the sending part (:class:`~tcplab.tcp.sender.Sender`, with loss recovery from
:mod:`tcplab.tcp.recovery`), the receiving part (:class:`~tcplab.tcp.arrival.Arrival`)
and the connection itself (user calls, timers, life cycle).  Each part keeps its own
algorithms' state (congestion control and the RTO estimator live in the sender, the
urgent pointer received in the receiver) and reads and writes the shared variables
here: the sequence numbers and windows, the send and receive buffers, the negotiated
options, the timers, the events and the segments made so far.  The receiver calls
the sender (to take an ACK, to send); the sender never calls the receiver.

``state`` changes only in :meth:`Tcb.goto`, which looks the move up in
:data:`tcplab.tcp.states.TABLE` and raises :class:`~tcplab.tcp.states.UndeclaredMove`
when the row is not there; it is kept in ``_state``, which nothing else writes.  The
few other fields with an underscore are this class's own bookkeeping (the ACKs owed
and the challenge ACKs' rate).  The object holds no policy: what to send and when is
decided by the parts.
"""

from __future__ import annotations

from collections import deque

from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.events import (
    ConnectionFailed,
    Event,
    SegmentDropped,
    StateChanged,
    TimerArmed,
    TimerCancelled,
)
from tcplab.tcp.isn import initial_sequence, timestamp_offset
from tcplab.tcp.kinds import DELACK, Timer
from tcplab.tcp.reassembly import Reassembly
from tcplab.tcp.segment import (
    ACK,
    NOP,
    SACK_PERMITTED,
    URG,
    Mss,
    Option,
    Sack,
    Segment,
    Timestamps,
    WScale,
)
from tcplab.tcp.states import START, TABLE, State, Trigger, UndeclaredMove
from tcplab.tcp.status import Address

DEFAULT_MSS = 536  # RFC 9293 §3.7.1, RFC 6691
_MASK, _HALF = sq.MASK, sq.HALF  # the per-segment paths do sequence arithmetic inline


def offered_wscale(cfg: Config) -> int:
    """The shift we offer: the configured one, smaller for a small buffer so that one
    window unit stays under a sixteenth of it (a unit bigger than the free space would
    advertise a zero window forever)."""
    shift = cfg.wscale
    while shift > 0 and (1 << shift) * 16 > cfg.rcvbuf:
        shift -= 1
    return shift


class Tcb:
    """A connection's variables and their plumbing (see the module docstring)."""

    # Slots, not a __dict__: the TCB has over 30 fields, past the size up to which
    # CPython 3.11 shares instance dict keys and specialises attribute access, and the
    # per-segment paths read dozens of them.
    __slots__ = (
        "_challenge_count",
        "_challenge_window",
        "_state",
        "_unacked_bytes",
        "ack_now",
        "app_closed",
        "close_deferred",
        "config",
        "eof",
        "error",
        "events",
        "fin_queued",
        "irs",
        "iss",
        "iss_above",
        "ka_heard",
        "last_ack_sent",
        "local",
        "max_snd_wnd",
        "ooo",
        "out",
        "passive",
        "rcv_adv",
        "rcv_nxt",
        "rcv_wscale",
        "rcvq",
        "rd_shut",
        "remote",
        "sack_ok",
        "snd_max",
        "snd_mss",
        "snd_nxt",
        "snd_una",
        "snd_up",
        "snd_wl1",
        "snd_wl2",
        "snd_wnd",
        "snd_wscale",
        "snd_wscale_offered",
        "sndq",
        "sndq_seq",
        "syn_acked",
        "timers",
        "ts_offset",
        "ts_ok",
        "ts_recent",
        "ts_recent_valid",
    )

    def __init__(self, config: Config, local: Address) -> None:
        self.config = config
        self.local = local
        self.remote: Address | None = None
        self.passive = False
        self.error: int | None = None
        self.iss_above: int | None = None  # see Connection.spawn()
        # moved only by a declared row of TRANSITIONS (goto); read as `state`
        self._state: State = START
        self.events: deque[Event] = deque()
        self.timers: dict[Timer, float] = {}
        self.out: list[Segment] = []
        # the send sequence space (RFC 9293 §3.3.1) and what was negotiated
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
        self.snd_wscale_offered = False
        self.sack_ok = False
        self.ts_ok = False
        self.ts_offset = 0
        self.syn_acked = False  # our SYN is acknowledged (SND.UNA may pass ISS again later)
        self.snd_up: int | None = None  # SND.UP: just after the last urgent octet (§3.8.5)
        self.sndq = bytearray()  # written, not yet acknowledged; starts at sndq_seq
        self.sndq_seq = 0
        self.fin_queued = False
        self.close_deferred: str | None = None  # a CLOSE waiting for ESTABLISHED
        self.ka_heard = 0.0      # when the peer was last heard from (keep-alives)
        # the receive sequence space and buffers
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0          # the right edge offered (RCV.NXT + RCV.WND when sent)
        self.ts_recent = 0
        self.ts_recent_valid = False
        self.rcvq = bytearray()  # in order, not yet read by the app
        self.ooo = Reassembly()
        self.rd_shut = False
        self.app_closed = False  # close() was called: nobody reads any more
        self.eof = False         # the peer's FIN was reached in order
        # ACKs owed, and the last one sent
        self.ack_now = False
        self._unacked_bytes = 0
        self.last_ack_sent = 0
        self._challenge_window = -1.0
        self._challenge_count = 0

    # -- timers, events, accounting ----------------------------------------------------
    def arm(self, name: Timer, deadline: float) -> None:
        """Set timer ``name`` to ``deadline`` (TimerArmed when it was not running)."""
        if name not in self.timers:
            self.events.append(TimerArmed(name, deadline))
        self.timers[name] = deadline

    def cancel(self, name: Timer) -> None:
        """Stop timer ``name`` if it runs (TimerCancelled)."""
        if self.timers.pop(name, None) is not None:
            self.events.append(TimerCancelled(name))

    def emit(self, event: Event) -> None:
        """Queue an event for the connection's user."""
        self.events.append(event)

    def drop(self, reason: str) -> None:
        """Report the segment being processed as dropped, and why."""
        self.events.append(SegmentDropped(reason))

    @property
    def state(self) -> State:
        """The RFC 9293 state (§3.3.2).  Read-only: it moves only through a declared row
        of :data:`tcplab.tcp.states.TRANSITIONS`."""
        return self._state

    @property
    def rport(self) -> int:
        """The peer's port, 0 before there is a peer."""
        return self.remote[1] if self.remote else 0

    def data_end(self) -> int:
        """The sequence number after the last byte written (where a FIN goes)."""
        return sq.add(self.sndq_seq, len(self.sndq))

    @property
    def send_queue(self) -> int:
        """Bytes written and not yet acknowledged."""
        return len(self.sndq)

    @property
    def in_flight(self) -> int:
        """Sequence numbers sent and not yet acknowledged (SND.NXT - SND.UNA)."""
        return sq.sub(self.snd_nxt, self.snd_una)

    def fin_acked(self) -> bool:
        """Our FIN is sent and acknowledged."""
        return self.fin_queued and self.snd_una == sq.add(self.data_end(), 1)

    def reset_send_space(self, iss: int) -> None:
        """Start the send sequence space at ``iss`` (SYN at ISS, data from ISS+1)."""
        self.iss = iss
        self.snd_una = self.snd_nxt = self.snd_max = iss
        self.sndq_seq = sq.add(iss, 1)

    def queue_data(self, data: bytes) -> int:
        """Append what fits of ``data`` to the send buffer; returns the bytes taken."""
        n = min(len(data), self.config.sndbuf - len(self.sndq))
        if n > 0:
            self.sndq += data[:n]
        return max(n, 0)

    def ts_val(self, now: float) -> int:
        """Our TSval at ``now``: a millisecond clock from a per-connection offset."""
        return (self.ts_offset + int(now * 1000)) & 0xFFFFFFFF

    # -- building segments -------------------------------------------------------------
    def schedule_ack(self, nbytes: int, now: float) -> None:
        """RFC 1122 §4.2.3.2 / RFC 5681 §4.2: ACK every second full segment, else delay."""
        delay = self.config.delayed_ack
        self._unacked_bytes += nbytes
        if delay <= 0 or self._unacked_bytes >= 2 * self.snd_mss:
            self.ack_now = True
        elif DELACK not in self.timers:
            self.arm(DELACK, now + delay)

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

    def after_emit(self, seg: Segment, now: float) -> None:
        """``seg`` is made: queue it; one carrying an ACK pays every ACK owed."""
        self.out.append(seg)
        if seg.flags & ACK:
            self.last_ack_sent = seg.ack
            self.ack_now = False
            self._unacked_bytes = 0
            if DELACK in self.timers:
                self.cancel(DELACK)

    def options(self, now: float) -> tuple[tuple[Option, ...], int]:
        """Options for a non-SYN segment, and how many bytes they take beyond the
        timestamps already counted in the MSS."""
        opts: tuple[Option, ...] = ()
        if self.ts_ok:  # (self.ts_val(now), written out on the per-segment path)
            opts = (NOP, NOP, Timestamps((self.ts_offset + int(now * 1000)) & 0xFFFFFFFF,
                                         self.ts_recent))
        extra = 0
        if self.sack_ok:
            blocks = self._sack_blocks(3 if self.ts_ok else 4)  # RFC 2018 §3
            if blocks:
                opts += (NOP, NOP, Sack(blocks))
                extra = 4 + 8 * len(blocks)
        return opts, extra

    def build(self, seq: int, flags: int, payload: bytes, now: float,
               opts: tuple[Option, ...] | None = None) -> Segment:
        """A segment from ``seq`` with our ACK, window, options and urgent pointer."""
        if opts is None:
            opts = self.options(now)[0]
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

    # -- the handshake's options -------------------------------------------------------
    def syn_options(self, now: float, ack: bool, ts_ecr: int) -> tuple[Option, ...]:
        """The options of our SYN (``ack``: a SYN,ACK, offering only what the peer did)."""
        cfg = self.config
        # on a SYN,ACK, only what the peer offered (RFC 7323 §2.3, §3.2; RFC 2018 §2)
        sack = self.sack_ok if ack else cfg.sack
        ts = self.ts_ok if ack else cfg.timestamps
        ws = self.snd_wscale_offered if ack else cfg.window_scaling
        opts: list[Option] = [Mss(cfg.mss)]
        # the layouts Linux sends, so traces look familiar
        if sack and ts:
            opts += [SACK_PERMITTED, Timestamps(self.ts_val(now), ts_ecr)]
        elif ts:
            opts += [NOP, NOP, Timestamps(self.ts_val(now), ts_ecr)]
        elif sack:
            opts += [NOP, NOP, SACK_PERMITTED]
        if ws:
            opts += [NOP, WScale(offered_wscale(cfg))]
        return tuple(opts)

    def negotiate(self, seg: Segment) -> None:
        """Take the options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323, RFC 2018)."""
        cfg = self.config
        ws = seg.wscale()
        self.snd_wscale_offered = ws is not None and cfg.window_scaling
        if ws is not None and cfg.window_scaling:  # scaling needs both (RFC 7323 §2.2)
            self.snd_wscale = min(ws, 14)  # RFC 7323 §2.3: treat a larger shift as 14
            self.rcv_wscale = offered_wscale(cfg)
        self.sack_ok = cfg.sack and seg.sack_permitted()
        ts = seg.timestamps()
        self.ts_ok = cfg.timestamps and ts is not None
        if ts is not None and self.ts_ok:
            self.ts_recent = ts.val
            self.ts_recent_valid = True
        peer_mss = seg.mss() or DEFAULT_MSS
        mss = min(peer_mss, cfg.mss)
        if self.ts_ok:
            mss -= 12  # the timestamp option rides in every segment (RFC 9293 §3.7.1)
        self.snd_mss = max(mss, 64)

    # -- the transition function ---------------------------------------------------
    def goto(self, trigger: Trigger, detail: str = "", report: bool = True) -> None:
        """Take the declared row for ``trigger`` from the current state (the only place
        the state changes); ``report``: emit StateChanged (False only for a listener's
        child, moving before anyone can see it: ``Connection.spawn``)."""
        old = self._state
        row = TABLE.get((old, trigger))
        if row is None:
            raise UndeclaredMove(f"undeclared move: {old} on {trigger}")
        self._state = row.next
        if report:
            self.events.append(StateChanged(old, row.next, trigger, detail))
        if row.next is State.CLOSED:
            for name in list(self.timers):
                self.cancel(name)

    def fail(self, code: int, reason: str) -> None:
        """The connection failed with errno ``code`` (SO_ERROR, ConnectionFailed)."""
        self.error = code
        self.events.append(ConnectionFailed(code, reason))

    # -- opening -----------------------------------------------------------------------
    def setup(self, remote: Address, now: float) -> None:
        """Name the peer and choose ISS (RFC 9293 §3.4.1, RFC 6528) and the timestamp
        offset for a connection being opened."""
        self.remote = remote
        self.ka_heard = now
        self.iss = initial_sequence(self.config.isn_secret, self.local, remote, now)
        if self.iss_above is not None and not sq.gt(self.iss, self.iss_above):
            # RFC 1122 §4.2.2.13 (1): a new incarnation starts above all the old one sent
            self.iss = sq.add(self.iss_above, 65537)
        self.ts_offset = timestamp_offset(self.config.isn_secret, self.local, remote)
        self.reset_send_space(self.iss)

    # -- the receive window and ACKs owed -----------------------------------------------
    def rcv_window(self) -> int:
        """Free receive space we may offer (before SWS avoidance and scaling)."""
        used = len(self.rcvq) + self.ooo.buffered
        return max(0, self.config.rcvbuf - used)

    def rcv_room(self) -> int:
        """Buffer space from RCV.NXT on: free space and the out-of-order bytes held."""
        return max(0, self.config.rcvbuf - len(self.rcvq))

    def challenge_ack(self, now: float) -> None:
        """RFC 5961 §7: at most ``challenge_ack_limit`` challenge ACKs per second."""
        if now - self._challenge_window >= 1.0:
            self._challenge_window = now
            self._challenge_count = 0
        if self._challenge_count < self.config.challenge_ack_limit:
            self._challenge_count += 1
            self.ack_now = True

    def _sack_blocks(self, limit: int) -> tuple[tuple[int, int], ...]:
        return self.ooo.sack_blocks(limit)
