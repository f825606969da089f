"""Plots on a braille canvas: the time-sequence graph and cwnd over time.

The time-sequence graph is the tcptrace/Stevens picture: each data segment sent is
a point at (time, sequence number of its end), the ACK line shows what the peer
acknowledged, the window line what it allowed; retransmissions and drops stand out
in their own colours, SACKed blocks are vertical bars.  The cwnd plot shows cwnd,
ssthresh, the flight size and the peer's window from the TCB samples.  Both plots have a
y axis with its unit, fitted to what is shown, a time axis in seconds with ticks, and a
legend whose squares stand right before their words.  They fit the data by default;
the pane's keys zoom and pan the time axis (:class:`PlotView`).  Each terminal
cell holds 2x4 dots (Unicode braille); a cell takes the colour of the most important
dot in it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from tcplab.lab.snapshot import SocketRow
from tcplab.lab.timeline import Timeline
from tcplab.tui import history
from tcplab.tui.history import SegRecord
from tcplab.tui.widgets.colors import DARK_ROLES, ROLE
from tcplab.tui.widgets.panel import Panel
from tcplab.tui.widgets.runs import put

_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
# importance order: later wins a shared cell
SERIES_STYLE = {"rcv window": "blue", "peer wnd": "blue", "ack": "green", "sack": "cyan",
                "data": "white", "rtx": "dark_orange", "drop": "bold red", "flight": "magenta",
                "ssthresh": "cyan", "cwnd": "yellow"}
# the same on Textual's light backgrounds: dark shades
SERIES_LIGHT = {"rcv window": "#2020c0", "peer wnd": "#2020c0", "ack": "#105008",
                "sack": "#006080", "data": "#303030", "rtx": "#9a4400", "drop": "bold #a00000",
                "flight": "#800080", "ssthresh": "#006080", "cwnd": "#7a4a00"}
_RANK = {name: i for i, name in enumerate(SERIES_STYLE)}


def series_styles() -> dict[str, str]:
    """The series' colours for the theme in use (:func:`colors.use_palette`)."""
    return SERIES_STYLE if ROLE["ok"] == DARK_ROLES["ok"] else SERIES_LIGHT


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
        styles = series_styles()
        for row_bits, row_style in zip(self.bits, self.style, strict=True):
            for bits, series in zip(row_bits, row_style, strict=True):
                put(text, chr(0x2800 + bits) if bits else " ",
                            style=styles.get(series, ""))
            put(text, "\n")
        return text


def _legend(names: list[str]) -> Text:
    text = Text()
    for name in names:
        put(text, "  ")
        put(text, "■", style=series_styles()[name])  # the square right before its word
        put(text, f" {name}")
    return text


def _si(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


MARGIN = 8   # columns for the y axis' labels


def _framed(canvas: Canvas, y_max: float, y_unit: str, t0: float, t1: float,
            y_min: float = 0.0) -> Text:
    """The canvas with a y axis (labels at the top, middle and bottom), an x axis with
    time ticks, and the units."""
    body = canvas.render().split("\n")
    rows = [line for line in body if line.plain or line.spans][: canvas.h]
    text = Text()
    put(text, f"{y_unit:>{MARGIN}}\n", style="bold")
    labels = {0: _si(y_max), len(rows) // 2: _si((y_max + y_min) / 2),
              len(rows) - 1: _si(y_min)}
    for i, line in enumerate(rows):
        put(text, f"{labels.get(i, ''):>{MARGIN - 1}}┤" if i in labels else
                    f"{'':>{MARGIN - 1}}│", style="dim")
        text.append_text(line)
        put(text, "\n")
    w = canvas.w
    ticks = [" "] * w
    marks = 4 if w >= 40 else 2
    # milliseconds, or finer when zoomed in so far that ticks would read the same
    places = max(3, 1 - math.floor(math.log10(max((t1 - t0) / marks, 1e-9))))
    # no wider than the plot, so that the unit after it stays on the line
    label_line = [" "] * (w + MARGIN)
    for k in range(marks + 1):
        x = round(k * (w - 1) / marks)
        ticks[x] = "┬"
        label = f"{t0 + (t1 - t0) * k / marks:.{places}f}"
        at = MARGIN + x - len(label) // 2
        at = max(0, min(at, len(label_line) - len(label)))
        label_line[at: at + len(label)] = list(label)
    put(text, f"{'':>{MARGIN - 1}}└" + "".join(ticks).replace(" ", "─") + "\n", style="dim")
    put(text, "".join(label_line).rstrip() + "  s\n", style="dim")
    return text


def _y_floor(low: float, high: float) -> float:
    """The bottom of a y axis fitted to the data: 0 unless the data keep far above it
    (a zoom late in a long transfer), then a round number below the lowest point."""
    if low < 0.2 * high:
        return 0.0
    step = 10 ** max(len(str(int(high - low))) - 2, 0)  # two significant digits
    return float(int(low // step) * step)


def tsg_span(records: list[SegRecord]) -> tuple[float, float] | None:
    """The time span of the data a time-sequence graph shows (fit to the data): from
    the first data sent until the ACK that covers all of it (the transfer's end), or
    the last data or SACK seen while some is still unacknowledged."""
    times = [r.t for r in records if (r.outbound and r.length) or (not r.outbound and r.sack)]
    if not times:
        return None
    end = max(times)
    top = max(r.seq + r.length for r in records if r.outbound and r.length)
    for r in records:
        if not r.outbound and r.t >= end and "." in r.flags and r.ack >= top:
            return (min(times), r.t)
    return (min(times), end)


def render_time_sequence(records: list[SegRecord],
                         samples: list[tuple[float, int, int, int, int, int]],
                         width: int, height: int, window: tuple[float, float] | None = None
                         ) -> Text:
    """Data sent (its end's relative sequence number), retransmissions and drops as
    points; what the peer acknowledged (SND.UNA) and the receive window it offered
    (SND.UNA + SND.WND) from the TCB samples; SACKed blocks as vertical bars.
    ``window`` limits the time axis (zoom), else it fits the data."""
    points: list[tuple[float, int, str]] = []
    bars: list[tuple[float, int, int]] = []
    for r in records:
        if r.outbound and r.length:
            series = "drop" if r.dropped else ("rtx" if r.retransmission else "data")
            points.append((r.t, r.seq + r.length, series))
        elif not r.outbound:
            for a, b in r.sack:
                bars.append((r.t, a, b))
    span = tsg_span(records)
    if span is None:
        return Text("(no data sent yet on this connection)", style="dim")
    t0, t1 = span if window is None else window
    shown = [p for p in points if t0 <= p[0] <= t1]
    times = [s[0] for s in samples]
    lo = max(bisect_right(times, t0) - 1, 0)
    for _t, _c, _s, _f, wnd, una in samples[lo: bisect_right(times, t1)]:
        if una:  # the lines' range: what the ACK and window reach in the window
            shown += [(t0, una, "ack"), (t0, una + wnd, "rcv window")]
    bars = [b for b in bars if t0 <= b[0] <= t1]
    ys = [p[1] for p in shown] + [y for _, a, b in bars for y in (a, b)]
    y1 = max(max(ys, default=1), 1)
    y0 = _y_floor(min(ys, default=0), y1)
    canvas = Canvas(width - MARGIN - 5, height - 4)
    dt = (t1 - t0) or 1.0
    dy = (y1 - y0) or 1.0
    acked = [float(s[5]) if s[5] else float("nan") for s in samples]
    _steps(canvas, times, [a + s[4] for a, s in zip(acked, samples, strict=True)], t0, t1,
           y0, y1, "rcv window")
    _steps(canvas, times, acked, t0, t1, y0, y1, "ack")
    for t, y, series in shown:
        if series not in ("ack", "rcv window"):
            canvas.dot((t - t0) / dt, (y - y0) / dy, series)
    rows = canvas.h * 4
    for t, a, b in bars:
        steps = max(int(rows * (b - a) / dy), 1)  # one dot per dot row the block spans
        for k in range(steps + 1):
            level = a + (b - a) * k / steps
            canvas.dot((t - t0) / dt, (level - y0) / dy, "sack")
    text = _framed(canvas, y1, "seq (bytes)", t0, t1, y0)
    text.append_text(_legend(["data", "rtx", "drop", "ack", "rcv window", "sack"]))
    return text


def cwnd_span(samples: list[tuple[float, int, int, int, int, int]]) -> tuple[float, float] | None:
    return (samples[0][0], samples[-1][0]) if len(samples) >= 2 else None


INFINITE = 1 << 24   # an ssthresh this large is "not set yet": not drawn


def _steps(canvas: Canvas, times: list[float], values: list[float], t0: float, t1: float,
           y0: float, y1: float, series: str) -> None:
    """A value that holds from one sample to the next, as a line of dots: one per dot
    column, joined by a vertical run where it changes (NaN: not drawn there)."""
    cols = canvas.w * 2
    dt = (t1 - t0) or 1.0
    dy = (y1 - y0) or 1.0
    k = bisect_right(times, t0) - 1
    last: float | None = None
    for c in range(cols):
        t = t0 + dt * c / (cols - 1)
        while k + 1 < len(times) and times[k + 1] <= t:
            k += 1
        if k < 0 or t > times[-1]:
            last = None
            continue
        v = values[k]
        if v != v or v > y1:  # NaN (not set) or above the plot
            last = None
            continue
        x = c / (cols - 1)
        if last is not None and last != v:
            rows = canvas.h * 4
            lo, hi = sorted((last, v))
            steps = max(int(rows * (hi - lo) / dy), 1)
            for j in range(steps + 1):
                canvas.dot(x, (lo + (hi - lo) * j / steps - y0) / dy, series)
        canvas.dot(x, (v - y0) / dy, series)
        last = v


def render_cwnd(samples: list[tuple[float, int, int, int, int, int]], width: int,
                height: int, window: tuple[float, float] | None = None) -> Text:
    """cwnd, ssthresh (once set), FlightSize and the peer's window over time, from the
    connection's TCB samples, each holding until the next sample.  The y axis fits
    cwnd, ssthresh and the flight size; the peer's window joins them unless it is far
    above (a 256 KiB window would flatten a 15 kB cwnd), and the legend says so."""
    if len(samples) < 2:
        return Text("(waiting for TCB samples: the connection has not changed yet)",
                    style="dim")
    t0, t1 = (samples[0][0], samples[-1][0]) if window is None else window
    times = [s[0] for s in samples]
    lo = max(bisect_right(times, t0) - 1, 0)
    inside = samples[lo: bisect_right(times, t1)]
    if t1 <= t0 or not inside:
        return Text("(no TCB samples in this time window: 0 fits the data)", style="dim")
    finite = [s for _, _, s, _, _, _ in inside if s < INFINITE]
    own = max(max(max(c, f) for _, c, _, f, _, _ in inside), max(finite, default=0)) or 1
    peer = max(w for _, _, _, _, w, _ in inside)
    ymax = max(own, peer) if peer <= 2 * own else own
    canvas = Canvas(width - MARGIN - 5, height - 4)
    nan = float("nan")
    _steps(canvas, times, [float(s[4]) for s in samples], t0, t1, 0, ymax, "peer wnd")
    _steps(canvas, times, [float(s[3]) for s in samples], t0, t1, 0, ymax, "flight")
    _steps(canvas, times, [float(s[2]) if s[2] < INFINITE else nan for s in samples], t0, t1,
           0, ymax, "ssthresh")
    _steps(canvas, times, [float(s[1]) for s in samples], t0, t1, 0, ymax, "cwnd")
    text = _framed(canvas, ymax, "bytes", t0, t1)
    names = ["cwnd", "ssthresh", "flight", "peer wnd"] if finite else ["cwnd", "flight",
                                                                        "peer wnd"]
    text.append_text(_legend(names))
    if peer > ymax:
        put(text, f" (up to {_si(peer)}, above the plot)", style="dim")
    return text


ZOOM = 2.0          # zoom in/out factor
PAN = 0.25          # a pan moves the window by this much of its span


class PlotView(Panel):
    """A plot pane: fits the data by default; ``z``/``Z`` zoom the time axis in and out
    around the middle of what is shown, ``<``/``>`` pan it, ``0`` fits the data again.
    It takes the focus (Tab, or bringing its tab to the front) for those keys."""

    can_focus = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("z", f"zoom({1 / ZOOM})", "Zoom in"),
        Binding("Z", f"zoom({ZOOM})", "Zoom out", key_display="Z"),
        Binding("less_than_sign", "pan(-1)", "Earlier", key_display="<"),
        Binding("greater_than_sign", "pan(1)", "Later", key_display=">"),
        Binding("0", "fit", "Fit to data"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window: tuple[float, float] | None = None   # None: fit to the data
        self.span: tuple[float, float] | None = None     # the data's, as last drawn
        self._drawn: object = None
        self._args: tuple[Any, ...] | None = None

    def show(self, text: Text) -> None:
        self.put(text)

    def draw(self, kind: str, timeline: Timeline, row: SocketRow | None, n: int, width: int,
             height: int) -> None:
        """Draw the ``kind`` plot ("tsg" or "cwnd") of ``row`` after the first ``n``
        events, unless nothing it shows changed since the last time."""
        self._args = (kind, timeline, row, n, width, height)
        key = (kind, row.key if row else None, row.listener if row else None, n,
               timeline.rewinds, width, height, self.window, ROLE["ok"])
        if key == self._drawn:
            return
        self._drawn = key
        if row is None or row.listener:
            self.span = None
            self.put(Text("select a connection in the sockets table (a listening socket "
                          "sends no data)" if row else "select a connection in the sockets "
                          "table", style="dim"))
            return
        samples = history.samples(timeline, row, n)
        if kind == "tsg":
            records = [r for r in history.ladder(timeline, row, n)
                       if isinstance(r, SegRecord)]
            self.span = tsg_span(records)
            text = render_time_sequence(records, samples, width, height, self.window)
        else:
            self.span = cwnd_span(samples)
            text = render_cwnd(samples, width, height, self.window)
        if self.window is not None:
            put(text, "   zoomed: 0 fits the data", style="italic")
        self.put(text)

    def _redraw(self) -> None:
        if self._args is not None:
            self.draw(*self._args)

    def action_zoom(self, factor: float) -> None:
        shown = self.window or self.span
        if shown is None:
            return
        middle = (shown[0] + shown[1]) / 2
        half = max((shown[1] - shown[0]) * factor / 2, 1e-4)
        self.window = (middle - half, middle + half)
        self._redraw()

    def action_pan(self, way: int) -> None:
        shown = self.window or self.span
        if shown is None:
            return
        step = (shown[1] - shown[0]) * PAN * way
        self.window = (shown[0] + step, shown[1] + step)
        self._redraw()

    def action_fit(self) -> None:
        self.window = None
        self._redraw()
