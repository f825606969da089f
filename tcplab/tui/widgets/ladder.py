"""The ladder: a connection's segments as a sequence diagram between its two ends.

Left is the selected socket, right its peer; a segment the selected socket sent points
right, one it received points left.  Sequence numbers are relative to each side's ISN
(as Wireshark shows them) for the connection's whole life.  A segment the network
dropped ends in ``x`` with the reason -- also one of the peer's that never arrived --,
a retransmission is marked ``rtx``, a segment a ``hold`` kept in the network ``held``,
and the socket's state changes stand between the segments.  The pane scrolls
(:class:`~tcplab.tui.widgets.history_log.HistoryLog`).
"""

from __future__ import annotations

from rich.text import Text

from tcplab.tui.history import Marker, SegRecord
from tcplab.tui.widgets.history_log import HistoryLog

ARROW = 10
SEGMENT_FILTERS = ("all", "SYN", "FIN", "RST", "data", "rtx", "drops")


def _flag_style(rec: SegRecord) -> str:
    if rec.dropped:
        return "red"
    if "R" in rec.flags:
        return "bold red"
    if "S" in rec.flags:
        return "yellow"
    if "F" in rec.flags:
        return "magenta"
    if rec.retransmission:
        return "dark_orange"
    return "green" if not rec.length else ""


def keep(rec: SegRecord | Marker, which: str) -> bool:
    """The segment filter: by flags, retransmissions or drops (state changes always)."""
    if isinstance(rec, Marker):
        return which == "all"
    return {"all": True, "SYN": "S" in rec.flags, "FIN": "F" in rec.flags,
            "RST": "R" in rec.flags, "data": rec.length > 0, "rtx": rec.retransmission,
            "drops": bool(rec.dropped)}.get(which, True)


def ladder_lines(records: list[SegRecord | Marker], which: str = "all") -> list[Text]:
    lines: list[Text] = []
    for rec in records:
        if not keep(rec, which):
            continue
        line = Text(f"{rec.t:9.3f}  ")
        if isinstance(rec, Marker):
            line.append(f"── {rec.text}", style="bold cyan" if "->" in rec.text else "yellow")
            lines.append(line)
            continue
        label = rec.label
        tags = [tag for tag, on in (("rtx", rec.retransmission), ("held", rec.held)) if on]
        if tags:
            label += " " + " ".join(tags)
        style = _flag_style(rec)
        if rec.outbound:
            line.append(label, style=style)
            if rec.dropped:
                line.append(" ──x " + rec.dropped, style="bold red")
            else:
                line.append(" " + "─" * ARROW + ">", style="dim")
        else:
            if rec.dropped:
                line.append(rec.dropped + " x──── ", style="bold red")
            else:
                line.append("<" + "─" * ARROW + " ", style="dim")
            line.append(label, style=style)
        lines.append(line)
    return lines


def ladder_header(left: str, right: str, which: str) -> str:
    shown = f"  (showing {which}: f to change)" if which != "all" else ""
    return f"{'t':>9}  {left}  ──▶  {right}{shown}"


class Ladder(HistoryLog):
    """The scrollable ladder (see the module docstring)."""
