"""Every TCP socket of the namespace, read over netlink ``sock_diag``.

One dump (pyroute2's ``DiagSocket``) gives each IPv4 TCP socket in any state -- also
TIME-WAIT and request sockets, which no program holds -- with its queues and, for full
sockets, ``TCP_INFO``.  :class:`KernelSocket` is one row, with the TCB values the
sockets table shows converted to tcplab's units (bytes and seconds; Linux counts the
congestion window in segments and times in microseconds).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from pyroute2 import DiagSocket

from tcplab.backends.mininet.linux.states import ALL_STATES_MASK, BY_NUMBER
from tcplab.tcp.states import State

Address = tuple[str, int]

_INET_DIAG_INFO = 2        # the extension that carries struct tcp_info
# idiag_timer: which of a socket's timers runs (one at a time), as tcplab's engine names
# its own (tcp/kinds.py Timer); Linux's 1 also covers its loss probe and RACK timers
TIMERS = {1: "rtx", 2: "keepalive", 3: "time-wait", 4: "persist"}
_INFINITE_SSTHRESH = 0x7FFFFFFF  # Linux's "no threshold yet" (TCP_INFINITE_SSTHRESH)


@dataclass(frozen=True, slots=True)
class KernelSocket:
    """One socket as the kernel reports it.  ``cookie`` tells sockets apart for as long
    as they live (a four-tuple is reused after TIME-WAIT); the TCB fields are None
    where the kernel gives no TCP_INFO (TIME-WAIT and request sockets)."""

    cookie: int
    state: State
    local: Address
    remote: Address | None          # None for a listener
    recvq: int                      # bytes received and not read (listener: accept queue)
    sendq: int                      # bytes written and not acknowledged
    cwnd: int | None = None         # bytes
    ssthresh: int | None = None     # bytes; None before loss set one
    srtt: float | None = None       # seconds
    rttvar: float | None = None
    rto: float | None = None
    unacked: int | None = None      # segments
    retransmits: int | None = None  # total retransmitted segments
    mss: int | None = None
    timer: str | None = None        # the running timer, in tcplab's names (:data:`TIMERS`)
    expires: float | None = None    # seconds until it fires


    @property
    def key(self) -> tuple[Address, Address | None]:
        return self.local, self.remote


def _tcb(info: dict[str, Any]) -> dict[str, Any]:
    mss = int(info.get("tcpi_snd_mss") or 0) or 1
    ssthresh = int(info.get("tcpi_snd_ssthresh") or 0)
    rtt = int(info.get("tcpi_rtt") or 0)
    return {
        "cwnd": int(info.get("tcpi_snd_cwnd") or 0) * mss,
        "ssthresh": None if ssthresh in (0, _INFINITE_SSTHRESH) else ssthresh * mss,
        "srtt": rtt / 1e6 if rtt else None,
        "rttvar": int(info.get("tcpi_rttvar") or 0) / 1e6 if rtt else None,
        "rto": int(info.get("tcpi_rto") or 0) / 1e6,
        "unacked": int(info.get("tcpi_unacked") or 0),
        "retransmits": int(info.get("tcpi_total_retrans") or 0),
        "mss": mss,
    }


def row_of(msg: Any) -> KernelSocket | None:
    """A dump message as a :class:`KernelSocket` (None for a state tcplab does not know)."""
    state = BY_NUMBER.get(int(msg["idiag_state"]))
    if state is None:
        return None
    local = (str(msg["idiag_src"]), int(msg["idiag_sport"]))
    remote = (None if state is State.LISTEN
              else (str(msg["idiag_dst"]), int(msg["idiag_dport"])))
    info = msg.get_attr("INET_DIAG_INFO")
    full = state not in (State.TIME_WAIT, State.LISTEN)
    tcb = _tcb(info) if isinstance(info, dict) and full else {}
    timer = TIMERS.get(int(msg["idiag_timer"]))
    if timer is not None:
        tcb.update(timer=timer, expires=int(msg["idiag_expires"]) / 1000)
    return KernelSocket(int(msg["idiag_cookie"]), state, local, remote,
                        int(msg["idiag_rqueue"]), int(msg["idiag_wqueue"]), **tcb)


class SockDiag:
    """A netlink socket that dumps the namespace's TCP sockets on demand.  Open it in
    the namespace it should see (netlink sockets belong to the namespace they are
    made in)."""

    def __init__(self) -> None:
        self._ds = DiagSocket()
        self._ds.bind()

    def dump(self) -> list[KernelSocket]:
        msgs = self._ds.get_sock_stats(family=socket.AF_INET, states=ALL_STATES_MASK,
                                       extensions=1 << (_INET_DIAG_INFO - 1))
        return [row for msg in msgs if (row := row_of(msg)) is not None]

    def close(self) -> None:
        self._ds.close()
