"""Plots on a braille canvas: the time-sequence graph and cwnd over time.

The time-sequence graph is the tcptrace/Stevens picture: each data segment sent is
a point at (time, sequence number of its end), the ACK line shows what the peer
acknowledged, the window line what it allowed; retransmissions and drops stand out
in their own colours.  Each terminal cell holds 2x4 dots (Unicode braille); a cell
takes the colour of the most important dot in it.
"""

from __future__ import annotations

from rich.text import Text

from tcplab.tcp import seq as sq
from tcplab.tcp.segment import SYN
from tcplab.tui.model import ConnectionView
from tcplab.tui.widgets.panel import Panel

_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
# importance order: later wins a shared cell
SERIES_STYLE = {"window": "blue", "ack": "green", "data": "white", "rtx": "dark_orange",
                "drop": "bold red", "cwnd": "yellow", "ssthresh": "cyan", "flight": "magenta"}
_RANK = {name: i for i, name in enumerate(SERIES_STYLE)}


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.w = max(width, 4)
        self.h = max(height, 2)
        self.bits = [[0] * self.w for _ in range(self.h)]
        self.style = [[""] * self.w for _ in range(self.h)]

    def dot(self, x: float, y: float, series: str) -> None:
        """Plot a point with x, y in [0, 1] (y up)."""
        px = min(int(x * (self.w * 2 - 1) + 0.5), self.w * 2 - 1)
        py = min(int((1 - y) * (self.h * 4 - 1) + 0.5), self.h * 4 - 1)
        if px < 0 or py < 0:
            return
        cx, cy = px // 2, py // 4
        self.bits[cy][cx] |= _DOTS[py % 4][px % 2]
        old = self.style[cy][cx]
        if not old or _RANK[series] >= _RANK[old]:
            self.style[cy][cx] = series

    def render(self) -> Text:
        text = Text()
        for row_bits, row_style in zip(self.bits, self.style, strict=True):
            for bits, series in zip(row_bits, row_style, strict=True):
                text.append(chr(0x2800 + bits) if bits else " ",
                            style=SERIES_STYLE.get(series, ""))
            text.append("\n")
        return text


def _legend(names: list[str]) -> Text:
    text = Text()
    for name in names:
        text.append(" ■ ", style=SERIES_STYLE[name])
        text.append(name)
    return text


def render_time_sequence(view: ConnectionView, wscale: int, width: int, height: int) -> Text:
    recs = list(view.segments)
    isn = next((r.segment.seq for r in recs if r.outbound and r.segment.flags & SYN), None)
    if isn is None or not recs:
        return Text("(no data yet)", style="dim")
    points: list[tuple[float, int, str]] = []
    for r in recs:
        seg = r.segment
        if r.outbound and seg.payload:
            series = "drop" if r.dropped else ("rtx" if r.retransmission else "data")
            points.append((r.t, sq.sub(sq.add(seg.seq, len(seg.payload)), isn), series))
        elif not r.outbound and not seg.flags & SYN:
            ack = sq.sub(seg.ack, isn)
            points.append((r.t, ack, "ack"))
            points.append((r.t, ack + (seg.window << wscale), "window"))
    if not points:
        return Text("(no data segments yet)", style="dim")
    t0 = min(p[0] for p in points)
    t1 = max(p[0] for p in points)
    y1 = max(max(p[1] for p in points), 1)
    canvas = Canvas(width - 10, height - 3)
    span = (t1 - t0) or 1.0
    for t, y, series in points:
        canvas.dot((t - t0) / span, max(y, 0) / y1, series)
    text = Text(f"seq (bytes, max {y1}) vs time {t0:.3f}..{t1:.3f} s\n", style="bold")
    text.append_text(canvas.render())
    text.append_text(_legend(["data", "rtx", "drop", "ack", "window"]))
    return text


def render_cwnd(samples: list[tuple[float, int, int, int]], width: int, height: int) -> Text:
    if len(samples) < 2:
        return Text("(collecting cwnd samples)", style="dim")
    t0, t1 = samples[0][0], samples[-1][0]
    # an "infinite" ssthresh (before the first loss) is not drawn, so not scaled to
    ymax = max(max(c, f, s if s < (1 << 24) else 0) for _, c, s, f in samples) or 1
    canvas = Canvas(width - 10, height - 3)
    span = (t1 - t0) or 1.0
    for t, cwnd, ssthresh, flight in samples:
        x = (t - t0) / span
        canvas.dot(x, flight / ymax, "flight")
        if ssthresh < (1 << 24):
            canvas.dot(x, ssthresh / ymax, "ssthresh")
        canvas.dot(x, cwnd / ymax, "cwnd")
    text = Text(f"bytes (max {ymax}) vs time {t0:.3f}..{t1:.3f} s\n", style="bold")
    text.append_text(canvas.render())
    finite = any(s < (1 << 24) for _, _, s, _ in samples)
    text.append_text(_legend(["cwnd", "ssthresh", "flight"] if finite else ["cwnd", "flight"]))
    return text


class PlotView(Panel):
    def show(self, text: Text) -> None:
        self.put(text)
