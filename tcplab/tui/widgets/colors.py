"""One colour per TCP state, shared by the table, the diagram and the ladder."""

from __future__ import annotations

from tcplab.tcp.states import State

STATE_COLORS: dict[State, str] = {
    State.CLOSED: "grey58",
    State.LISTEN: "cyan",
    State.SYN_SENT: "yellow",
    State.SYN_RECEIVED: "yellow",
    State.ESTABLISHED: "green",
    State.FIN_WAIT_1: "magenta",
    State.FIN_WAIT_2: "magenta",
    State.CLOSE_WAIT: "dark_orange",
    State.CLOSING: "red",
    State.LAST_ACK: "dark_orange",
    State.TIME_WAIT: "blue",
}
