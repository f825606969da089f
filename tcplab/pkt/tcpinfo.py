"""TCP_INFO as Linux reports it, for a script's ``%{ }%`` checks.

Theory of operation
-------------------
packetdrill evaluates ``%{ }%`` blocks in Python with the socket's ``struct tcp_info``
bound to names like ``tcpi_snd_cwnd``.  :func:`tcp_info` builds the same names for a
tcplab connection, in Linux's units and numbering, from two sources that do not depend
on the engine's internals:

* :meth:`Connection.status` (the RFC 9293 STATUS snapshot): state, cwnd, ssthresh,
  RTT estimates, RTO, MSS, window scales, negotiated SACK / timestamps, SND.UNA,
  the count of retransmitted segments;
* a :class:`Wire` ledger the runner feeds with every segment the engine sends and every
  segment it injects.  Linux counts *segments* (``packets_out``, ``sacked_out``,
  ``retrans_out``, ``lost_out``) where the engine keeps bytes; the ledger counts them
  the way the wire shows them: each first transmission is one segment until SND.UNA
  passes its end, it is SACKed once a SACK block the peer sent covers it, a
  retransmission is outstanding until it is ACKed or SACKed.

``tcpi_ca_state`` follows Linux's states (Open, Disorder, Recovery, Loss) from the
engine's fast-recovery flag, its duplicate ACK count, the SACKs and the
retransmission timer's firings the runner reports (:meth:`Wire.timed_out`).
Deviations from Linux, by design: ``tcpi_lost`` applies RFC 6675 IsLost (DupThresh 3)
to the ledger, so segments Linux marks lost at an RTO are not counted; ``tcpi_rtt`` and
``tcpi_rttvar`` are 0 before the first RTT sample; ``tcpi_rcv_mss`` follows Linux's
estimate (at most 536 until a larger segment arrives, never above our MSS).
Every name lives in :data:`COMPUTED` or :data:`CONSTANTS`; a script that uses any other
is skipped by the parser, naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tcplab.tcp import segment as sg
from tcplab.tcp import seq as sq
from tcplab.tcp.connection import Connection, Status
from tcplab.tcp.states import State

# Linux include/net/tcp_states.h numbering
_STATE_NUMBERS = {
    State.ESTABLISHED: 1, State.SYN_SENT: 2, State.SYN_RECEIVED: 3, State.FIN_WAIT_1: 4,
    State.FIN_WAIT_2: 5, State.TIME_WAIT: 6, State.CLOSED: 7, State.CLOSE_WAIT: 8,
    State.LAST_ACK: 9, State.LISTEN: 10, State.CLOSING: 11,
}
CONSTANTS: dict[str, int] = {
    "TCPI_ESTABLISHED": 1, "TCPI_SYN_SENT": 2, "TCPI_SYN_RECV": 3, "TCPI_SYN_RECEIVED": 3,
    "TCPI_FIN_WAIT1": 4, "TCPI_FIN_WAIT2": 5, "TCPI_TIME_WAIT": 6, "TCPI_CLOSE": 7,
    "TCPI_CLOSE_WAIT": 8, "TCPI_LAST_ACK": 9, "TCPI_LISTEN": 10, "TCPI_CLOSING": 11,
    # struct tcp_info's tcpi_options bits (include/uapi/linux/tcp.h)
    "TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4, "TCPI_OPT_ECN": 8,
    # tcpi_ca_state, Linux's congestion-control state machine (include/net/tcp.h)
    "TCP_CA_Open": 0, "TCP_CA_Disorder": 1, "TCP_CA_CWR": 2, "TCP_CA_Recovery": 3,
    "TCP_CA_Loss": 4,
}
INFINITE_SSTHRESH = 0x7FFFFFFF   # what Linux reports before the first loss
DUP_THRESH = 3                   # RFC 6675 §2
_LINUX_DEFAULT_MSS = 536         # TCP_MSS_DEFAULT, the first guess of the peer's MSS
_LINUX_MIN_MSS = 88              # TCP_MIN_MSS


@dataclass(slots=True)
class Wire:
    """What one connection's segments showed, in segments (see the module docstring)."""

    originals: list[tuple[int, int]] = field(default_factory=list)   # [seq, end)
    retransmitted: list[tuple[int, int]] = field(default_factory=list)
    sacked: list[tuple[int, int]] = field(default_factory=list)      # peer's SACK blocks
    sent_end: int | None = None
    syn_seq: int | None = None
    offered_wscale: bool = False     # our SYN carried a window scale option
    peer_wscale: bool = False        # and the peer's did
    largest_in: int = 0              # the largest payload the peer sent
    loss_until: int | None = None    # SND.MAX when the retransmission timer last fired

    def sent(self, seg: sg.Segment) -> None:
        if seg.flags & sg.SYN and seg.seq != self.syn_seq:
            # a new incarnation (a retransmitted SYN is just a retransmission)
            self.originals.clear()
            self.retransmitted.clear()
            self.sacked.clear()
            self.sent_end = None
            self.syn_seq = seg.seq
            self.offered_wscale = any(type(o) is sg.WScale for o in seg.options)
        n = seg.seg_len
        if n == 0:
            return
        end = sq.add(seg.seq, n)
        if self.sent_end is not None and sq.lt(seg.seq, self.sent_end):
            if (seg.seq, end) not in self.retransmitted:
                self.retransmitted.append((seg.seq, end))
            return
        self.originals.append((seg.seq, end))
        self.sent_end = end

    def received(self, seg: sg.Segment) -> None:
        if seg.flags & sg.SYN:
            self.peer_wscale = any(type(o) is sg.WScale for o in seg.options)
        for opt in seg.options:
            if type(opt) is sg.Sack:
                self.sacked.extend(opt.blocks)
        self.largest_in = max(self.largest_in, len(seg.payload))

    def timed_out(self, snd_max: int) -> None:
        """The retransmission timer fired: Linux's Loss state until SND.MAX is ACKed."""
        self.loss_until = snd_max

    def _is_sacked(self, seq: int, end: int) -> bool:
        return any(sq.le(a, seq) and sq.le(end, b) for a, b in self.sacked)

    def counts(self, snd_una: int, mss: int) -> dict[str, int]:
        """tcpi_unacked, tcpi_sacked, tcpi_retrans and tcpi_lost at SND.UNA."""
        out = [(s, e) for s, e in self.originals if sq.gt(e, snd_una)]
        self.originals = out
        self.sacked = [(a, b) for a, b in self.sacked if sq.gt(b, snd_una)]
        sacked = [self._is_sacked(s, e) for s, e in out]
        lost = 0
        for i, (s, _e) in enumerate(out):
            if sacked[i]:
                continue
            above = [out[j] for j in range(i + 1, len(out)) if sacked[j]]
            if len(above) >= DUP_THRESH or sum(sq.sub(e, s) for s, e in above) > \
                    (DUP_THRESH - 1) * mss:
                lost += 1
        self.retransmitted = [(s, e) for s, e in self.retransmitted if sq.gt(e, snd_una)]
        retrans = sum(1 for s, e in self.retransmitted if not self._is_sacked(s, e))
        return {"tcpi_unacked": len(out), "tcpi_sacked": sum(sacked),
                "tcpi_retrans": retrans, "tcpi_lost": lost}


def _rcv_mss(st: Status, wire: Wire, advmss: int) -> int:
    # Linux tcp_initialize_rcv_mss() makes a cautious first guess, which
    # tcp_measure_rcv_mss() raises to any larger segment (up to the MSS we advertise)
    guess = max(_LINUX_MIN_MSS, min(advmss, st.mss, _LINUX_DEFAULT_MSS))
    return min(wire.largest_in, advmss) if wire.largest_in >= guess else guess


def _usecs(seconds: float | None) -> int:
    return 0 if seconds is None else round(seconds * 1_000_000)


def _options(st: Status, wire: Wire) -> int:
    bits = 0
    if st.timestamps:
        bits |= CONSTANTS["TCPI_OPT_TIMESTAMPS"]
    if st.sack:
        bits |= CONSTANTS["TCPI_OPT_SACK"]
    if wire.offered_wscale and wire.peer_wscale:
        bits |= CONSTANTS["TCPI_OPT_WSCALE"]
    return bits


Getter = Callable[[Status, Wire, int], int]

# name -> value from (STATUS, the wire ledger, the MSS we advertise)
COMPUTED: dict[str, Getter] = {
    "tcpi_state": lambda st, w, adv: _STATE_NUMBERS[st.state],
    "tcpi_snd_cwnd": lambda st, w, adv: st.cwnd // st.mss,
    "tcpi_snd_ssthresh": lambda st, w, adv: (
        INFINITE_SSTHRESH if st.ssthresh >= 1 << 30 else st.ssthresh // st.mss),
    "tcpi_rto": lambda st, w, adv: _usecs(st.rto),
    "tcpi_rtt": lambda st, w, adv: _usecs(st.srtt),
    "tcpi_rttvar": lambda st, w, adv: _usecs(st.rttvar),
    "tcpi_total_retrans": lambda st, w, adv: st.retransmits,
    "tcpi_snd_mss": lambda st, w, adv: st.mss,
    "tcpi_rcv_mss": lambda st, w, adv: _rcv_mss(st, w, adv),
    "tcpi_advmss": lambda st, w, adv: adv,
    "tcpi_options": lambda st, w, adv: _options(st, w),
    "tcpi_snd_wscale": lambda st, w, adv: st.snd_wscale,
    "tcpi_rcv_wscale": lambda st, w, adv: st.rcv_wscale,
}
_COUNTED = ("tcpi_unacked", "tcpi_sacked", "tcpi_retrans", "tcpi_lost", "tcpi_ca_state")
NAMES = frozenset({*COMPUTED, *_COUNTED, *CONSTANTS})


def tcp_info(conn: Connection, wire: Wire) -> dict[str, int]:
    """Every name a ``%{ }%`` block may use, for ``conn`` now."""
    st = conn.status()
    adv = conn.config.mss
    values = {name: get(st, wire, adv) for name, get in COMPUTED.items()}
    values.update(wire.counts(st.snd_una, st.mss))
    values["tcpi_ca_state"] = _ca_state(conn, st, wire, values["tcpi_sacked"])
    values.update(CONSTANTS)
    return values


def _ca_state(conn: Connection, st: Status, wire: Wire, sacked: int) -> int:
    """Loss after a retransmission timeout until all then sent is ACKed, Recovery in
    fast recovery, Disorder while duplicate ACKs or SACKs are about, else Open (CWR
    needs ECN, which tcplab lacks)."""
    if wire.loss_until is not None:
        if sq.lt(st.snd_una, wire.loss_until):
            return CONSTANTS["TCP_CA_Loss"]
        wire.loss_until = None
    if getattr(getattr(conn, "cc", None), "in_recovery", False):
        return CONSTANTS["TCP_CA_Recovery"]
    if sacked or st.dup_acks:
        return CONSTANTS["TCP_CA_Disorder"]
    return CONSTANTS["TCP_CA_Open"]
