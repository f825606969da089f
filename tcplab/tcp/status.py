"""Values the engine hands to its users: addresses, the STATUS snapshot, errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from tcplab.tcp.kinds import Timer
from tcplab.tcp.states import State

Address = tuple[str, int]  # (dotted IPv4, port)


class TcpError(Exception):
    """A user call failed; ``errno`` is a value from the errno module (EAGAIN, ENOTCONN,
    EPIPE, ECONNRESET, ECONNREFUSED, ETIMEDOUT, EINVAL, EISCONN, EALREADY)."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(message)
        self.errno = errno


@dataclass(slots=True)
class Status:
    """RFC 9293 STATUS: a snapshot of the TCB for the dashboard and tests."""

    state: State
    local: Address
    remote: Address | None
    iss: int
    irs: int
    snd_una: int
    snd_nxt: int
    snd_wnd: int        # scaled, bytes
    rcv_nxt: int
    rcv_wnd: int        # free receive space, bytes
    send_queue: int     # bytes written by the app and not yet acknowledged
    recv_queue: int     # bytes received in order and not yet read by the app
    cwnd: int
    ssthresh: int
    srtt: float | None
    rttvar: float | None
    rto: float
    in_flight: int
    retransmits: int
    dup_acks: int
    sacked_bytes: int
    mss: int            # effective send MSS
    snd_wscale: int
    rcv_wscale: int
    sack: bool          # negotiated
    timestamps: bool    # negotiated
    timers: dict[Timer, float] = field(default_factory=dict)  # name -> deadline
    error: int | None = None
    snd_max: int = 0    # highest sequence number sent (RFC 9293 §3.10.7.4 SND.MAX)
    urgent_pending: int = 0  # octets up to the peer's urgent mark not yet read (§3.8.5)
