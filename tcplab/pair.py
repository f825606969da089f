"""Two TCP engines joined by an in-memory link on a virtual clock.

Theory of operation
-------------------
A :class:`Pair` is the smallest whole TCP world: a client :class:`Connection`
connects to a listening one, whose spawned child is the server side, over two link
directions that each drop, duplicate, delay, jitter, reorder and (optionally)
serialise segments at a bandwidth.  It exists for property tests and benchmarks, so
it skips everything below TCP (no IP, no ARP, no hosts) and keeps its per-segment
work small: a segment in flight is one tuple ``(arrival, seq, to_server, segment)``
in one heap.

The loop always advances the clock to the earliest of the next arrival and the
earliest engine timer, delivers or fires it, runs the application model and then
drains every engine's ``segments_to_send()`` into the link.  Ties are broken by a
counter that grows with every scheduled segment, and a timer that falls due at the
same instant as an arrival fires after it; all randomness comes from one
``random.Random(seed)`` (which also makes the payload), so a seed replays a run
exactly.  Random numbers are drawn only for impairments that are switched on.

A segment for a side that is CLOSED is still fed to its Connection, which answers
as the engine does (a RST, RFC 9293 §3.10.7.1).  The server side is created by
``listener.spawn()`` when the first SYN arrives; every later segment, a duplicate
SYN included, goes to that one child.

The application model: the client writes ``nbytes`` as fast as its send buffer
takes them, the server reads everything as it arrives, and then the connection is
closed in one of four orders (:data:`CLOSE_ORDERS`):

* ``client`` -- the client closes after its last write; the server closes on EOF.
* ``server`` -- the server closes once it has read all ``nbytes``; the client closes
  on EOF (so the client goes through CLOSE-WAIT and LAST-ACK).
* ``simultaneous`` -- both close at the same instant, as soon as the server holds
  every byte and the client has it all acknowledged, so the two FINs cross.
* ``half`` -- the client calls ``shutdown("wr")`` after its last write; on EOF the
  server writes ``reply_bytes`` back from CLOSE-WAIT and then closes; the client
  reads the reply to EOF.

With ``codec=True`` every segment is encoded to wire bytes on sending and decoded on
arrival (:mod:`tcplab.tcp.codec`), so the same runs exercise the codec path too.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

from tcplab.tcp.codec import Malformed, decode, encode, ip_to_bytes
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.events import ConnectionFailed, EndOfStream, StateChanged
from tcplab.tcp.segment import (
    ACK,
    RST,
    SYN,
    Eol,
    Mss,
    Nop,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    UnknownOption,
    WScale,
)
from tcplab.tcp.states import State

__all__ = ["CLIENT_ADDR", "CLOSE_ORDERS", "SERVER_ADDR", "Impairment", "LinkStats", "Pair",
           "Result", "run_transfer"]

CLOSE_ORDERS = ("client", "server", "simultaneous", "half")
CLIENT_ADDR = ("10.0.0.1", 40000)
SERVER_ADDR = ("10.0.0.2", 5001)
_IP_TCP_HEADERS = 40  # IPv4 + TCP fixed headers, for serialisation time
_WRITABLE = frozenset({State.ESTABLISHED, State.CLOSE_WAIT})
_INF = math.inf
_SAME_INSTANT_LIMIT = 1_000_000  # far above a 64 MiB burst on a zero-delay link
_PATTERN = 65521  # the largest prime below 2**16


@dataclass(frozen=True, slots=True)
class Impairment:
    """What one link direction does to the segments it carries.

    ``loss``, ``duplicate`` and ``reorder`` are fractions of segments in 0..1.  A
    reordered segment waits ``reorder_delay`` seconds more than it would have, so
    later ones overtake it.  ``delay`` is the one-way propagation delay and each
    segment adds a uniform 0..``jitter``.  With ``bandwidth`` (bits/s) segments are
    serialised one after the other through a FIFO; a lost segment has already used
    its share of the bandwidth (it is lost on the wire, not in the queue).
    """

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.005
    delay: float = 0.0
    jitter: float = 0.0
    bandwidth: float | None = None

    def validate(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction in 0..1, not {value}")
        for name in ("reorder_delay", "delay", "jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 seconds")
        if self.bandwidth is not None and self.bandwidth <= 0:
            raise ValueError("bandwidth must be a positive number of bits/s")


@dataclass(slots=True)
class LinkStats:
    """Counters of one direction (client-to-server or server-to-client)."""

    sent: int = 0           # segments handed to the link by the engine
    data_segments: int = 0  # of those, carrying payload
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0


@dataclass(slots=True)
class Result:
    """What a run did.  Times are virtual seconds since the client's connect()."""

    nbytes: int
    received: int               # bytes the server read
    intact: bool                # the server read exactly the client's bytes, in order
    reply_intact: bool          # the same for the half-close reply (True when none)
    completed: bool             # intact, and both sides reached CLOSED
    stall: str                  # why the loop stopped early, "" when it did not
    transfer_time: float        # until the server had read the last byte
    elapsed: float              # until the loop ended (both CLOSED, idle or stalled)
    client_states: tuple[State, ...]
    server_states: tuple[State, ...]
    c2s: LinkStats
    s2c: LinkStats
    client_retransmits: int
    server_retransmits: int
    client_error: int | None
    server_error: int | None
    mss: int                    # the client's effective send MSS

    @property
    def goodput(self) -> float:
        """Bytes per virtual second of the client-to-server transfer."""
        return self.nbytes / self.transfer_time if self.transfer_time > 0 else _INF


class _Side:
    """One end: its connection and what its application wrote and read."""

    __slots__ = ("conn", "eof", "error", "inbox", "link", "out", "out_off", "shut", "states")

    def __init__(self, conn: Connection | None, first: State, link: _Direction) -> None:
        self.conn = conn
        self.link = link  # the direction this side sends on
        self.states: list[State] = [first]
        self.inbox = bytearray()
        self.out = b""
        self.out_off = 0
        self.eof = False
        self.shut = False       # the application closed or shut down its sending side
        self.error: int | None = None


class _Direction:
    __slots__ = ("busy_until", "dst_ip", "imp", "src_ip", "stats")

    def __init__(self, imp: Impairment, src_ip: bytes, dst_ip: bytes) -> None:
        imp.validate()
        self.imp = imp
        self.busy_until = 0.0
        self.src_ip = src_ip
        self.dst_ip = dst_ip
        self.stats = LinkStats()


_OPT_LEN: dict[type, int] = {Nop: 1, Eol: 1, Mss: 4, WScale: 3, SackPermitted: 2,
                              Timestamps: 10}


def _wire_len(seg: Segment) -> int:
    """Bytes on the wire with IPv4, as :func:`tcplab.tcp.codec.encode` would make them."""
    opt = 0
    for o in seg.options:
        if type(o) is Sack:
            opt += 2 + 8 * len(o.blocks)
        elif type(o) is UnknownOption:
            opt += 2 + len(o.data)
        else:
            opt += _OPT_LEN[type(o)]
    return _IP_TCP_HEADERS + (opt + 3) // 4 * 4 + len(seg.payload)


class Pair:
    """A client and a server engine over an impaired in-memory link (module docstring)."""

    def __init__(
        self,
        nbytes: int,
        *,
        seed: int = 0,
        close: str = "client",
        config: Config | None = None,
        server_config: Config | None = None,
        c2s: Impairment | None = None,
        s2c: Impairment | None = None,
        reply_bytes: int = 0,
        codec: bool = False,
        time_limit: float = 3600.0,
    ) -> None:
        if close not in CLOSE_ORDERS:
            raise ValueError(f"close order {close!r} is not one of {', '.join(CLOSE_ORDERS)}")
        if nbytes < 0 or reply_bytes < 0:
            raise ValueError("byte counts must be >= 0")
        if reply_bytes and close != "half":
            raise ValueError("reply_bytes needs close='half' (the server replies after EOF)")
        self.rng = random.Random(seed)
        self.close_order = close
        self.codec = codec
        self.time_limit = time_limit
        cfg = config if config is not None else Config()
        c_ip, s_ip = ip_to_bytes(CLIENT_ADDR[0]), ip_to_bytes(SERVER_ADDR[0])
        self._c2s = _Direction(c2s or Impairment(), c_ip, s_ip)
        self._s2c = _Direction(s2c or Impairment(), s_ip, c_ip)
        self.client = _Side(Connection(CLIENT_ADDR, cfg), State.CLOSED, self._c2s)
        self.client.out = self._payload(nbytes)
        self.reply = self._payload(reply_bytes)
        self.listener = Connection(SERVER_ADDR, server_config if server_config else cfg)
        self.server = _Side(None, State.LISTEN, self._s2c)
        self._nbytes = nbytes
        self._closes_left = 1 if close == "simultaneous" else 2
        self._heap: list[tuple[float, int, bool, Segment | bytes]] = []
        self._seq = 0
        self.now = 0.0
        self.transfer_time = _INF if nbytes else 0.0

    def _payload(self, n: int) -> bytes:
        # Random bytes in a block of prime length, repeated: cheap for the 64 MiB benchmark,
        # and a segment delivered twice or out of place still shows, as a shift by a
        # multiple of the period is vanishingly unlikely.
        block = self.rng.randbytes(min(n, _PATTERN))
        return (block * (n // _PATTERN + 1))[:n]

    # ------------------------------------------------------------------ the link
    def _transmit(self, d: _Direction, to_server: bool, segs: list[Segment]) -> None:
        imp = d.imp
        rng = self.rng
        now = self.now
        st = d.stats
        for seg in segs:
            st.sent += 1
            if seg.payload:
                st.data_segments += 1
            t = now
            if imp.bandwidth is not None:
                # serialisation through a FIFO: the segment starts when the link is free
                t = max(t, d.busy_until) + _wire_len(seg) * 8 / imp.bandwidth
                d.busy_until = t
            if imp.loss and rng.random() < imp.loss:
                st.lost += 1
                continue
            item: Segment | bytes = encode(seg, d.src_ip, d.dst_ip) if self.codec else seg
            copies = 1
            if imp.duplicate and rng.random() < imp.duplicate:
                st.duplicated += 1
                copies = 2
            for _ in range(copies):
                arrive = t + imp.delay
                if imp.jitter:
                    arrive += rng.random() * imp.jitter
                if imp.reorder and rng.random() < imp.reorder:
                    st.reordered += 1
                    arrive += imp.reorder_delay
                self._seq += 1
                heapq.heappush(self._heap, (arrive, self._seq, to_server, item))

    def _flush_all(self) -> None:
        for side in (self.client, self.server):
            if side.conn is not None:
                out = side.conn.segments_to_send()
                if out:
                    self._transmit(side.link, side is self.client, out)

    def _deliver(self, to_server: bool, item: Segment | bytes) -> _Side | None:
        """Hand one arriving segment to its connection; returns the side it touched."""
        d = self._c2s if to_server else self._s2c
        d.stats.delivered += 1
        if type(item) is bytes:
            decoded = decode(item, d.src_ip, d.dst_ip)
            if isinstance(decoded, Malformed):
                raise AssertionError(f"codec round trip failed: {decoded.reason}")
            seg = decoded
        else:
            seg = item  # type: ignore[assignment]
        side = self.server if to_server else self.client
        conn = side.conn
        if conn is None:
            if not seg.flags & SYN or seg.flags & (ACK | RST):
                # no connection yet: the listener answers (RFC 9293 §3.10.7.2)
                self.listener.receive(seg, self.now)
                out = self.listener.segments_to_send()
                if out:
                    self._transmit(self._s2c, False, out)
                return None
            conn = side.conn = self.listener.spawn((CLIENT_ADDR[0], seg.src_port))
        conn.receive(seg, self.now)
        return side

    # ------------------------------------------------------------------ the application
    @staticmethod
    def _drain(side: _Side, conn: Connection) -> None:
        while (ev := conn.next_event()) is not None:
            t = type(ev)
            if t is StateChanged:
                side.states.append(ev.new)  # type: ignore[union-attr]
            elif t is EndOfStream:
                side.eof = True
            elif t is ConnectionFailed:
                side.error = ev.errno  # type: ignore[union-attr]

    def _react(self, side: _Side) -> None:
        """The application's turn after its connection did something, then send."""
        conn = side.conn
        assert conn is not None
        self._drain(side, conn)
        if conn.readable:
            side.inbox += conn.recv(conn.readable, self.now)
            if side is self.server and len(side.inbox) >= self._nbytes:
                self.transfer_time = min(self.transfer_time, self.now)
        if not side.shut and side.out_off < len(side.out):
            self._write(side)
        if self._closes_left and self._close_logic(self.client, self.server):
            self._flush_all()  # a close may have been the other side's
            return
        out = conn.segments_to_send()
        if out:
            self._transmit(side.link, side is self.client, out)

    def _write(self, side: _Side) -> None:
        conn = side.conn
        assert conn is not None
        if conn.state not in _WRITABLE:
            return
        free = conn.config.sndbuf - conn.send_queue
        if free > 0:
            off = side.out_off
            side.out_off = off + conn.send(side.out[off:off + free], self.now)

    def _close_logic(self, c: _Side, s: _Side) -> bool:
        """Issue the close calls of the chosen order when their time has come; True when
        one was issued.  ``_closes_left`` counts the calls still to come."""
        cc, sc = c.conn, s.conn
        assert cc is not None
        if sc is None:
            return False
        now = self.now
        order = self.close_order
        before = self._closes_left
        c_done = c.out_off >= len(c.out)
        if order == "client":
            if not c.shut and c_done and cc.state is State.ESTABLISHED:
                c.shut = True
                cc.close(now)
                self._closes_left -= 1
            if not s.shut and s.eof and sc.state is State.CLOSE_WAIT:
                s.shut = True
                sc.close(now)
                self._closes_left -= 1
        elif order == "server":
            if not s.shut and len(s.inbox) >= len(c.out) and sc.state is State.ESTABLISHED:
                s.shut = True
                sc.close(now)
                self._closes_left -= 1
            if not c.shut and c.eof and c_done and cc.state is State.CLOSE_WAIT:
                c.shut = True
                cc.close(now)
                self._closes_left -= 1
        elif order == "simultaneous":
            if (c_done and cc.send_queue == 0 and len(s.inbox) >= len(c.out)
                    and cc.state is State.ESTABLISHED and sc.state is State.ESTABLISHED):
                c.shut = s.shut = True
                cc.close(now)
                sc.close(now)
                self._closes_left -= 1
        else:  # half
            if not c.shut and c_done and cc.state is State.ESTABLISHED:
                c.shut = True
                cc.shutdown("wr", now)
                self._closes_left -= 1
            if s.eof and not s.shut and sc.state is State.CLOSE_WAIT:
                if not s.out:
                    s.out = self.reply
                    self._write(s)
                if s.out_off >= len(s.out):
                    s.shut = True
                    sc.close(now)
                    self._closes_left -= 1
        return self._closes_left != before

    # ------------------------------------------------------------------ the loop
    def run(self) -> Result:
        """Connect, transfer, close; stop when nothing is left to happen."""
        client = self.client.conn
        assert client is not None
        self.listener.listen(self.now)
        client.connect(SERVER_ADDR, self.now)
        self._react(self.client)
        heap = self._heap
        server = self.server
        stall = ""
        same_instant = 0
        while True:
            t_seg = heap[0][0] if heap else _INF
            t_c = client.get_timer()
            srv = server.conn
            t_s = srv.get_timer() if srv is not None else None
            t_timer = min(_INF if t_c is None else t_c, _INF if t_s is None else t_s)
            t = t_seg if t_seg <= t_timer else t_timer
            if t == _INF:
                break
            if t > self.time_limit:
                stall = f"virtual time limit {self.time_limit:g} s reached"
                break
            if t == self.now:
                # a livelock: the engines keep talking without the clock moving
                same_instant += 1
                if same_instant > _SAME_INSTANT_LIMIT:
                    stall = f"no progress of the clock after {_SAME_INSTANT_LIMIT} steps at t={t}"
                    break
            else:
                same_instant = 0
            self.now = t
            if t_seg <= t_timer:
                _, _, to_server, item = heapq.heappop(heap)
                side = self._deliver(to_server, item)
                if side is not None:
                    self._react(side)
            else:
                if t_c is not None and t_c <= t:
                    client.handle_timer(t)
                    self._react(self.client)
                if srv is not None and t_s is not None and t_s <= t:
                    srv.handle_timer(t)
                    self._react(server)
        return self._result(stall)

    def _result(self, stall: str) -> Result:
        c, s = self.client, self.server
        for side in (c, s):
            if side.conn is not None:
                self._drain(side, side.conn)
        cc, sc = c.conn, s.conn
        assert cc is not None
        intact = s.inbox == c.out
        reply_intact = c.inbox == self.reply
        closed = cc.state is State.CLOSED and sc is not None and sc.state is State.CLOSED
        return Result(
            nbytes=len(c.out), received=len(s.inbox), intact=intact,
            reply_intact=reply_intact, completed=intact and reply_intact and closed,
            stall=stall, transfer_time=self.transfer_time, elapsed=self.now,
            client_states=tuple(c.states), server_states=tuple(s.states),
            c2s=self._c2s.stats, s2c=self._s2c.stats,
            client_retransmits=cc.retransmits,
            server_retransmits=sc.retransmits if sc is not None else 0,
            client_error=c.error, server_error=s.error, mss=cc.snd_mss,
        )


def run_transfer(
    nbytes: int,
    *,
    seed: int = 0,
    close: str = "client",
    config: Config | None = None,
    server_config: Config | None = None,
    c2s: Impairment | None = None,
    s2c: Impairment | None = None,
    reply_bytes: int = 0,
    codec: bool = False,
    time_limit: float = 3600.0,
) -> Result:
    """Run one :class:`Pair` to the end and return its :class:`Result`."""
    return Pair(
        nbytes, seed=seed, close=close, config=config, server_config=server_config,
        c2s=c2s, s2c=s2c, reply_bytes=reply_bytes, codec=codec, time_limit=time_limit,
    ).run()

