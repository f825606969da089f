"""The ladder: a connection's segments as a sequence diagram between its two ends.

Left is the selected socket, right its peer.  Sequence numbers are relative to each
side's ISN (as Wireshark shows them).  A segment the network dropped ends in ``x``
with the reason; a retransmission is marked ``(rtx)``.
"""

from __future__ import annotations

from rich.text import Text

from tcplab.tcp.segment import ACK, FIN, RST, SYN, describe
from tcplab.tui.model import ConnectionView, SegmentRecord
from tcplab.tui.widgets.panel import Panel

ARROW = 12


def _flag_style(rec: SegmentRecord) -> str:
    f = rec.segment.flags
    if rec.dropped:
        return "red"
    if f & RST:
        return "bold red"
    if f & SYN:
        return "yellow"
    if f & FIN:
        return "magenta"
    if rec.retransmission:
        return "dark_orange"
    if rec.segment.payload:
        return "white"
    return "green" if f & ACK else "white"


SEGMENT_FILTERS = ("all", "SYN", "FIN", "RST", "data", "rtx", "drops")


def keep(rec: SegmentRecord, which: str) -> bool:
    """The segment filter: by flags, retransmissions or drops."""
    f = rec.segment.flags
    return {"all": True, "SYN": bool(f & SYN), "FIN": bool(f & FIN), "RST": bool(f & RST),
            "data": bool(rec.segment.payload), "rtx": rec.retransmission,
            "drops": bool(rec.dropped)}.get(which, True)


def render_ladder(view: ConnectionView, peer_label: str, limit: int = 200,
                  which: str = "all") -> Text:
    own_isn = next((r.segment.seq for r in view.segments
                    if r.outbound and r.segment.flags & SYN), None)
    peer_isn = next((r.segment.seq for r in view.segments
                     if not r.outbound and r.segment.flags & SYN), None)
    left = f"{view.host} {view.local[0]}:{view.local[1]}"
    text = Text()
    text.append(f"{'t':>9}  {left}", style="bold")
    text.append(f"{'':>{ARROW}}{peer_label}", style="bold")
    text.append(f"   showing: {which}\n" if which != "all" else "\n", style="dim")
    records = [r for r in view.segments if keep(r, which)][-limit:]
    for rec in records:
        seq_base = (own_isn if rec.outbound else peer_isn) or 0
        ack_base = (peer_isn if rec.outbound else own_isn) or 0
        line = describe(rec.segment, seq_base, ack_base)
        if rec.retransmission:
            line += " (rtx)"
        style = _flag_style(rec)
        text.append(f"{rec.t:9.3f}  ")
        if rec.outbound:
            tail = f" x {rec.dropped}" if rec.dropped else " " + "-" * (ARROW - 2) + ">"
            text.append(line, style=style)
            text.append(tail + "\n", style="red" if rec.dropped else "dim")
        else:
            text.append("<" + "-" * (ARROW - 2) + " ", style="dim")
            text.append(line + "\n", style=style)
    if not records:
        text.append("(no segments yet)\n", style="dim")
    return text


class Ladder(Panel):
    def show(self, view: ConnectionView | None, peer_label: str, which: str = "all") -> None:
        if view is None:
            self.put(Text("select a connection in the sockets table", style="dim"))
        else:
            self.put(render_ladder(view, peer_label, which=which))
