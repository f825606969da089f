"""Linux's TCP states (``include/net/tcp_states.h``) in RFC 9293 spelling."""

from __future__ import annotations

from tcplab.tcp.states import State

# Linux's numbers, as sock_diag and TCP_INFO report them; NEW_SYN_RECV is a request
# socket (a SYN answered, the handshake's last ACK not yet in): SYN-RECEIVED to RFC 9293
BY_NUMBER: dict[int, State] = {
    1: State.ESTABLISHED,
    2: State.SYN_SENT,
    3: State.SYN_RECEIVED,
    4: State.FIN_WAIT_1,
    5: State.FIN_WAIT_2,
    6: State.TIME_WAIT,
    7: State.CLOSED,
    8: State.CLOSE_WAIT,
    9: State.LAST_ACK,
    10: State.LISTEN,
    11: State.CLOSING,
    12: State.SYN_RECEIVED,
}

# the names the tracepoint prints (TCP_SYN_RECV, ...)
BY_NAME: dict[str, State] = {
    "TCP_ESTABLISHED": State.ESTABLISHED,
    "TCP_SYN_SENT": State.SYN_SENT,
    "TCP_SYN_RECV": State.SYN_RECEIVED,
    "TCP_FIN_WAIT1": State.FIN_WAIT_1,
    "TCP_FIN_WAIT2": State.FIN_WAIT_2,
    "TCP_TIME_WAIT": State.TIME_WAIT,
    "TCP_CLOSE": State.CLOSED,
    "TCP_CLOSE_WAIT": State.CLOSE_WAIT,
    "TCP_LAST_ACK": State.LAST_ACK,
    "TCP_LISTEN": State.LISTEN,
    "TCP_CLOSING": State.CLOSING,
    "TCP_NEW_SYN_RECV": State.SYN_RECEIVED,
}

ALL_STATES_MASK = 0xFFF  # sock_diag: every state from 1 to 11 (bit n = state n)
