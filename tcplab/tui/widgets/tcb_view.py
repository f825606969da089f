"""The TCB tab: the selected connection's whole transmission control block.

Everything its last ``tcb.sample`` event carries (RFC 9293 §3.3.1 send and receive
variables, absolute and relative to the ISNs; RFC 5681 congestion state; RFC 6298
estimators; queues) and every running timer with its deadline and what is left of it.
The sockets table shows what fits its width; this tab shows all of it at any width.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tcplab.lab.snapshot import SocketRow
from tcplab.tcp.states import State
from tcplab.tui.widgets.colors import state_style

UNLIMITED = 1 << 30     # the engine's "infinite" ssthresh
SEQUENCE = ("snd_una", "snd_nxt", "snd_max", "rcv_nxt")   # shown relative too
BYTES = ("snd_wnd", "rcv_wnd", "cwnd", "ssthresh", "flight", "sendq", "recvq")
SECONDS = ("srtt", "rttvar", "rto")
# the order fields are listed in; a field the sample has beyond these is listed after
ORDER = ("iss", "irs", *SEQUENCE, *BYTES, *SECONDS)


def _value(row: SocketRow, name: str, value: Any) -> str:
    if value is None:
        return "- (no sample yet)" if name in ("srtt", "rttvar") else "-"
    if name in SEQUENCE:
        return f"{value}  (relative {row.relative(name)})"
    if name == "ssthresh" and value >= UNLIMITED:
        return f"{value} (infinite)"
    if name in BYTES:
        return f"{value} bytes"
    if name in SECONDS:
        return f"{value * 1000:.1f} ms"
    return str(value)


def tcb_text(row: SocketRow | None, label: str, now: float, rto_min: str = "") -> Text:
    """The tab's content for ``row`` at time ``now``; ``rto_min`` says the RTO's floor
    (RFC 6298 §2.4: the run's ``--rto-min``, or Linux's on a kernel host)."""
    if row is None:
        return Text("select a connection in the sockets table", style="dim")
    # each styled run ends with the spaces after it: SVG viewers drop a run's first space
    head = Text()
    head.append(f"{label or f'{row.host} socket {row.sid}'}  ", style="bold")
    head.append(f"{row.state}  ", style=state_style(State(row.state)))
    remote = f"{row.remote[0]}:{row.remote[1]}" if row.remote else "* (listening)"
    head.append(f"{row.local[0]}:{row.local[1]} -> {remote}  ")
    head.append(f"delivered to the application: {row.delivered} bytes")
    pairs: list[tuple[str, str]] = []
    tcb = row.tcb
    names = [n for n in ORDER if n in tcb] + [n for n in tcb if n not in ORDER
                                             and n not in ("timers", "sid", "t", "host",
                                                           "kind")]
    for name in names:
        pairs.append((name.replace("_", "."), _value(row, name, tcb[name])))
    if not tcb:
        pairs.append(("tcb", "no sample (a listener, or before the first segment)"))
    elif rto_min:
        pairs.append(("rto.min", rto_min))
    timers = row.timers or tuple(tcb.get("timers") or ())
    for name, deadline in timers:
        pairs.append((f"timer {name}", f"{max(deadline - now, 0):.3f} s left "
                                       f"(deadline t={deadline:.3f})"))
    if not timers:
        pairs.append(("timers", "none running"))
    # two columns of "name  value", the left one padded to line the right one up
    half = (len(pairs) + 1) // 2
    left, right = pairs[:half], pairs[half:]
    name_w = max(len(n) for n, _ in pairs)
    value_w = max(len(v) for _, v in left)
    text = head
    for i, (name, value) in enumerate(left):
        text.append("\n")
        text.append(f"{name:<{name_w}}  ", style="bold")
        text.append(value)
        if i < len(right):
            text.append(" " * (value_w - len(value) + 4))
            text.append(f"{right[i][0]:<{name_w}}  ", style="bold")
            text.append(right[i][1])
    return text
