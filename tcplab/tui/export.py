"""``export ladder CONN FILE``: a connection's ladder as a drawing for slides or notes.

Theory of operation
-------------------
The drawing has two lanes, the connection's two ends, and one arrow per segment from
the lane that sent it, at its send time, to the other lane, at its arrival time -- so
a segment in flight slants, and segments that cross (a simultaneous close) cross.  A
segment the network lost ends in a cross half way.  Send and arrival times come from
both ends' ``segment.sent`` and ``segment.received`` events (the selected socket's and
its peer's ladders, matched by flags, relative sequence and acknowledgment numbers and
length); vertical positions are the order of those instants, so a burst at one instant
stays readable.  ``.svg`` gives SVG, anything else plain text (the ladder's lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from tcplab.tui.history import Marker, SegRecord, flights, states_after
from tcplab.tui.widgets.ladder import labels, ladder_header, ladder_rows

ROW = 22          # pixels between two instants
LANE_A, LANE_B = 170, 590
WIDTH = 760
TEXT_WIDTH = 100  # columns of the text drawing


@dataclass(slots=True)
class Arrow:
    sent: float
    arrived: float | None     # None: lost on the way, or still on it
    left_to_right: bool
    label: str
    style: str                # "data", "syn", "fin", "rst", "ack", "drop", "rtx"


def _style(rec: SegRecord) -> str:
    if rec.dropped:
        return "drop"
    for flag, name in (("R", "rst"), ("S", "syn"), ("F", "fin")):
        if flag in rec.flags:
            return name
    if rec.retransmission:
        return "rtx"
    return "data" if rec.length else "ack"


@dataclass(slots=True)
class StateLabel:
    """A socket's new state, beside its lane, at the segment that made it."""

    t: float
    left: bool
    state: str


def state_labels(own: list[SegRecord | Marker], peer: list[SegRecord | Marker]
                 ) -> list[StateLabel]:
    """Each end's state where it changes, as the text ladder writes them."""
    out: list[StateLabel] = []
    for records, left in ((own, True), (peer, False)):
        after = states_after(records)
        shown = ""
        for rec in records:
            if not isinstance(rec, SegRecord) or (rec.dropped and not rec.outbound):
                continue  # not a segment this end saw
            state = after.get(id(rec), "")
            if state and state != shown:
                out.append(StateLabel(rec.t, left, state))
                shown = state
    return out


def arrows(own: list[SegRecord | Marker], peer: list[SegRecord | Marker]) -> list[Arrow]:
    """One arrow per segment between the two ends, timed by
    :func:`~tcplab.tui.history.flights` (as the ladder pane is)."""
    out: list[Arrow] = []
    for f in flights(own, peer):
        rec = f.rec
        label = labels(rec)[0]  # the ladder pane's longest label
        if rec.dropped:
            out.append(Arrow(rec.t, None, rec.outbound, label, "drop"))
        else:
            out.append(Arrow(f.sent, f.arrived, rec.outbound, label, _style(rec)))
    return out


COLOURS = {"data": "#222222", "ack": "#2e7d32", "syn": "#b8860b", "fin": "#8e24aa",
           "rst": "#c62828", "drop": "#c62828", "rtx": "#ef6c00"}


def ladder_svg(title: str, left: str, right: str, items: list[Arrow],
               states: list[StateLabel] | None = None) -> str:
    states = states or []
    instants = sorted({a.sent for a in items} | {a.arrived for a in items
                                                 if a.arrived is not None}
                      | {s.t for s in states})
    rank = {t: i for i, t in enumerate(instants)}
    top = 70
    height = top + ROW * (len(instants) + 1) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'font-family="monospace" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{WIDTH // 2}" y="20" text-anchor="middle" font-size="14" '
             f'font-weight="bold">{escape(title)}</text>']
    for x, name in ((LANE_A, left), (LANE_B, right)):
        parts.append(f'<text x="{x}" y="45" text-anchor="middle" font-weight="bold">'
                     f'{escape(name)}</text>')
        parts.append(f'<line x1="{x}" y1="{top - 15}" x2="{x}" y2="{height - 10}" '
                     'stroke="#555" stroke-width="2"/>')
    for t, i in rank.items():
        parts.append(f'<text x="10" y="{top + ROW * i + 4}" fill="#777">{t:.3f} s</text>')
    for s in states:  # beside the lane, outside the arrows
        x, anchor = (LANE_A - 6, "end") if s.left else (LANE_B + 6, "start")
        parts.append(f'<text x="{x}" y="{top + ROW * rank[s.t] + 4}" text-anchor="{anchor}" '
                     f'fill="#1565c0" font-weight="bold">{escape(s.state)}</text>')
    for a in items:
        x1, x2 = (LANE_A, LANE_B) if a.left_to_right else (LANE_B, LANE_A)
        y1 = top + ROW * rank[a.sent]
        colour = COLOURS[a.style]
        if a.arrived is None:
            mx, my = (x1 + x2) / 2, y1 + ROW * 0.8
            parts.append(f'<line x1="{x1}" y1="{y1}" x2="{mx}" y2="{my}" stroke="{colour}" '
                         'stroke-dasharray="4 3"/>')
            if a.style == "drop":  # else still in the network: half way, no end
                parts.append(f'<text x="{mx}" y="{my + 4}" text-anchor="middle" '
                             f'fill="{colour}" font-size="16" font-weight="bold">✕</text>')
            lx, ly = mx, my - 8
        else:
            y2 = top + ROW * rank[a.arrived]
            parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}" '
                         'marker-end="url(#head)"/>')
            lx, ly = (x1 + x2) / 2, (y1 + y2) / 2 - 4
        parts.append(f'<text x="{lx}" y="{ly}" text-anchor="middle" fill="{colour}">'
                     f'{escape(a.label)}</text>')
    parts.insert(2, '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="8" '
                    'refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#444"/>'
                    '</marker></defs>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_ladder(path: Path, title: str, left: str, right: str,
                 own: list[SegRecord | Marker], peer: list[SegRecord | Marker]) -> int:
    """Write the drawing (SVG for ``.svg``, else text); returns how many segments."""
    if path.suffix.lower() == ".svg":
        items = arrows(own, peer)
        path.write_text(ladder_svg(title, left, right, items, state_labels(own, peer)),
                        encoding="utf-8")
        return len(items)
    lines = [f"{title}", ladder_header(left, right, "all", TEXT_WIDTH).plain,
             *(line.plain for line in ladder_rows(own, peer, TEXT_WIDTH))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sum(isinstance(r, SegRecord) for r in own)
