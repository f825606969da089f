"""Plots on a braille canvas: the time-sequence graph and cwnd over time.

The time-sequence graph is the tcptrace/Stevens picture: each data segment sent is
a point at (time, sequence number of its end), the ACK line shows what the peer
acknowledged, the window line what it allowed; retransmissions and drops stand out
in their own colours.  Both plots have a y axis with its unit, a time axis in seconds
with ticks, and a legend whose squares stand right before their words.  Each terminal
cell holds 2x4 dots (Unicode braille); a cell takes the colour of the most important
dot in it.
"""

from __future__ import annotations

from rich.text import Text

from tcplab.tui.history import SegRecord
from tcplab.tui.widgets.panel import Panel

_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
# importance order: later wins a shared cell
SERIES_STYLE = {"window": "blue", "peer wnd": "blue", "ack": "green", "sack": "cyan",
                "data": "white", "rtx": "dark_orange", "drop": "bold red", "flight": "magenta",
                "ssthresh": "cyan", "cwnd": "yellow"}
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
        text.append("  ")
        text.append("■", style=SERIES_STYLE[name])  # the square right before its word
        text.append(f" {name}")
    return text


def _si(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


MARGIN = 8   # columns for the y axis' labels


def _framed(canvas: Canvas, y_max: float, y_unit: str, t0: float, t1: float) -> Text:
    """The canvas with a y axis (labels at the top, middle and bottom), an x axis with
    time ticks, and the units."""
    body = canvas.render().split("\n")
    rows = [line for line in body if line.plain or line.spans][: canvas.h]
    text = Text()
    text.append(f"{y_unit:>{MARGIN}}\n", style="bold")
    labels = {0: _si(y_max), len(rows) // 2: _si(y_max / 2), len(rows) - 1: "0"}
    for i, line in enumerate(rows):
        text.append(f"{labels.get(i, ''):>{MARGIN - 1}}┤" if i in labels else
                    f"{'':>{MARGIN - 1}}│", style="dim")
        text.append_text(line)
        text.append("\n")
    w = canvas.w
    ticks = [" "] * w
    marks = 4 if w >= 40 else 2
    # no wider than the plot, so that the unit after it stays on the line
    label_line = [" "] * (w + MARGIN)
    for k in range(marks + 1):
        x = round(k * (w - 1) / marks)
        ticks[x] = "┬"
        label = f"{t0 + (t1 - t0) * k / marks:.3f}"
        at = MARGIN + x - len(label) // 2
        at = max(0, min(at, len(label_line) - len(label)))
        label_line[at: at + len(label)] = list(label)
    text.append(f"{'':>{MARGIN - 1}}└" + "".join(ticks).replace(" ", "─") + "\n", style="dim")
    text.append("".join(label_line).rstrip() + "  s\n", style="dim")
    return text


def render_time_sequence(records: list[SegRecord],
                         samples: list[tuple[float, int, int, int, int, int]],
                         width: int, height: int, window: tuple[float, float] | None = None
                         ) -> Text:
    """Data sent (its end's relative sequence number), retransmissions and drops as
    points; what the peer acknowledged (SND.UNA) and allowed (SND.UNA + SND.WND) from the
    TCB samples; SACKed blocks.  ``window`` limits the time axis (zoom), else the span
    of the data."""
    points: list[tuple[float, int, str]] = []
    for r in records:
        if r.outbound and r.length:
            series = "drop" if r.dropped else ("rtx" if r.retransmission else "data")
            points.append((r.t, r.seq + r.length, series))
        elif not r.outbound:
            for _a, b in r.sack:
                points.append((r.t, b, "sack"))
    if not points:
        return Text("(no data sent yet on this connection)", style="dim")
    t0 = min(p[0] for p in points)
    t1 = max(p[0] for p in points)
    if window is not None:
        t0, t1 = window
    for t, _c, _s, _f, _w, una in samples:
        if t0 <= t <= t1 and una:
            points.append((t, una, "ack"))
    for t, _c, _s, _f, wnd, una in samples:
        if t0 <= t <= t1 and una:
            points.append((t, una + wnd, "window"))
    shown = [p for p in points if t0 <= p[0] <= t1]
    y1 = max(max((p[1] for p in shown), default=1), 1)
    canvas = Canvas(width - MARGIN - 5, height - 5)
    span = (t1 - t0) or 1.0
    for t, y, series in shown:
        canvas.dot((t - t0) / span, max(y, 0) / y1, series)
    text = _framed(canvas, y1, "seq (B)", t0, t1)
    text.append_text(_legend(["data", "rtx", "drop", "ack", "window", "sack"]))
    return text


def render_cwnd(samples: list[tuple[float, int, int, int, int, int]], width: int,
                height: int, window: tuple[float, float] | None = None) -> Text:
    """cwnd, ssthresh (once finite), FlightSize and the peer's window over time, from the
    connection's TCB samples."""
    if window is not None:
        samples = [s for s in samples if window[0] <= s[0] <= window[1]]
    if len(samples) < 2:
        return Text("(waiting for TCB samples: the connection has not changed yet)",
                    style="dim")
    t0, t1 = (samples[0][0], samples[-1][0]) if window is None else window
    finite = [s for _, _, s, _, _, _ in samples if s < (1 << 24)]
    ymax = max(max(max(c, f, w) for _, c, _, f, w, _ in samples), max(finite, default=0)) or 1
    canvas = Canvas(width - MARGIN - 5, height - 5)
    span = (t1 - t0) or 1.0
    for t, cwnd, ssthresh, flight, wnd, _ in samples:
        x = (t - t0) / span
        canvas.dot(x, wnd / ymax, "peer wnd")
        canvas.dot(x, flight / ymax, "flight")
        if ssthresh < (1 << 24):
            canvas.dot(x, ssthresh / ymax, "ssthresh")
        canvas.dot(x, cwnd / ymax, "cwnd")
    text = _framed(canvas, ymax, "bytes", t0, t1)
    names = ["cwnd", "ssthresh", "flight", "peer wnd"] if finite else ["cwnd", "flight",
                                                                        "peer wnd"]
    text.append_text(_legend(names))
    return text


class PlotView(Panel):
    def show(self, text: Text) -> None:
        self.put(text)
