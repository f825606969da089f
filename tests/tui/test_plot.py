"""The plots: axes with units and ticks, legends, SACK bars, a y axis fitted to what is
shown, and the keys that zoom and pan the time axis."""

from __future__ import annotations

import asyncio

from test_widgets import dot_styles, legend, lines, records_and_samples
from textual.binding import Binding
from textual.widgets import DataTable

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.tui.app import TcplabApp
from tcplab.tui.history import SegRecord
from tcplab.tui.widgets.colors import LIGHT_ROLES, use_palette
from tcplab.tui.widgets.ladder import ladder_lines
from tcplab.tui.widgets.plot import (
    SERIES_LIGHT,
    SERIES_STYLE,
    PlotView,
    cwnd_span,
    render_cwnd,
    render_time_sequence,
    tsg_span,
)


def ticks(text_lines: list[str]) -> list[str]:
    """The time labels under the x axis (the unit "s" last)."""
    return text_lines[-2].split()


def test_time_sequence_has_ticks_in_seconds_a_byte_axis_and_a_legend() -> None:
    recs, samples = records_and_samples()
    text = render_time_sequence(recs, samples, 70, 18)
    rows = lines(text)
    assert rows[0].strip() == "seq (bytes)"
    assert ticks(rows)[-1] == "s" and all(float(t) >= 0 for t in ticks(rows)[:-1])
    assert list(legend(text)) == ["data", "rtx", "drop", "ack", "rcv window", "sack"]
    assert all(SERIES_STYLE[name] == style for name, style in legend(text).items())


def test_a_sack_block_is_a_vertical_bar() -> None:
    sent = [SegRecord(0.1 * i, True, "P.", 1 + 1000 * i, 1, 1000, 1000) for i in range(10)]
    sack = SegRecord(0.5, False, ".", 1, 1001, 1000, 0, sack=[(3001, 9001)])
    text = render_time_sequence([*sent, sack], [], 60, 20)
    # the SACK's cells: one column, several rows
    plain = text.plain
    cells = [(plain.count("\n", 0, sp.start), sp.start - plain.rindex("\n", 0, sp.start))
             for sp in text.spans if str(sp.style) == SERIES_STYLE["sack"]
             and 0x2800 < ord(plain[sp.start]) <= 0x28FF]
    assert len({row for row, _ in cells}) >= 5
    assert len({col for _, col in cells}) == 1


def test_the_y_axis_fits_a_late_zoom() -> None:
    sent = [SegRecord(0.01 * i, True, "P.", 1 + 1000 * i, 1, 1000, 1000) for i in range(1000)]
    whole = lines(render_time_sequence(sent, [], 60, 16))
    assert [r.split("┤")[0].strip() for r in whole if "┤" in r][-1] == "0"
    late = lines(render_time_sequence(sent, [], 60, 16, window=(9.0, 9.99)))
    bottom = [r.split("┤")[0].strip() for r in late if "┤" in r][-1]
    assert bottom != "0" and bottom.endswith("k") and float(bottom[:-1]) >= 800
    assert ticks(late)[0] == "9.000" and ticks(late)[-2] == "9.990"
    # a receive window far above the data still leaves the bottom near the data
    window = [(0.01 * i, 0, 0, 0, 300_000, 1 + 1000 * i) for i in range(1000)]
    high = lines(render_time_sequence(sent, window, 60, 16, window=(0.9, 1.0)))
    labelled = [r.split("┤")[0].strip() for r in high if "┤" in r]
    assert labelled[0] == "400k" and labelled[-1] == "90k"  # data from 90 kB on


def test_spans_fit_the_data() -> None:
    recs, samples = records_and_samples()
    assert tsg_span(recs) == (0.1, 1.25)
    assert tsg_span([SegRecord(0.0, True, "S", 0, 0, 100, 0)]) is None
    assert cwnd_span(samples) == (samples[0][0], samples[-1][0])
    assert cwnd_span(samples[:1]) is None


def test_cwnd_plot_has_all_four_lines_after_a_loss() -> None:
    samples = [(0.1 * t, 1000 * (t + 1), 4000 if t > 5 else 1 << 30, 500 * t, 6000, 0)
               for t in range(12)]
    text = render_cwnd(samples, 60, 16)
    assert lines(text)[0].strip() == "bytes"
    assert list(legend(text)) == ["cwnd", "ssthresh", "flight", "peer wnd"]
    assert dot_styles(text) == {SERIES_STYLE[n] for n in ("cwnd", "ssthresh", "flight",
                                                           "peer wnd")}


def test_plot_keys_are_free_in_the_app() -> None:
    taken = {b.key for b in TcplabApp.BINDINGS if isinstance(b, Binding)}
    mine = {b.key for b in PlotView.BINDINGS if isinstance(b, Binding)}
    assert mine == {"z", "Z", "less_than_sign", "greater_than_sign", "0"}
    assert not mine & taken


def test_zoom_and_pan_change_the_visible_time_range() -> None:
    asyncio.run(_zoom_and_pan())


async def _zoom_and_pan() -> None:
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.keep_timeline()
    lab.start()
    app = TcplabApp(lab, seed=1)
    async with app.run_test(size=(120, 40)) as pilot:
        for line in ("link h1 s1 delay=10ms loss=2%", "listen h2:80", "connect h1 h2:80 as c1",
                     "wait 0.5", "send c1 --bytes 100000", "wait 5"):
            assert app.run_line(line), line
        await pilot.pause()
        table = app.query_one("#sockets", DataTable)
        table.move_cursor(row=table.get_row_index("h1/1"))  # c1
        table.focus()
        await pilot.pause()
        assert app.selected == ("h1", 1)
        await pilot.press("3")  # the time-sequence tab, its plot focused
        await pilot.pause(0.3)
        plot = app.query_one("#tsg", PlotView)
        assert app.focused is plot and plot.window is None and plot.span is not None

        def shown() -> tuple[float, float]:
            text = lines(plot.render())  # type: ignore[arg-type]
            values = [float(t) for t in ticks(text)[:-1]]
            return values[0], values[-1]

        t0, t1 = shown()
        assert (t0, t1) == (round(plot.span[0], 3), round(plot.span[1], 3))
        await pilot.press("z")
        z0, z1 = shown()
        assert abs((z1 - z0) - (t1 - t0) / 2) < 0.01 and t0 < z0 < z1 < t1
        await pilot.press("greater_than_sign")
        p0, p1 = shown()
        assert p0 > z0 and p1 > z1 and abs((p1 - p0) - (z1 - z0)) < 0.01
        await pilot.press("Z", "Z")
        w0, w1 = shown()
        assert w1 - w0 > t1 - t0
        await pilot.press("0")
        assert shown() == (t0, t1) and plot.window is None
        # the cwnd plot zooms by itself
        await pilot.press("4")
        await pilot.pause(0.3)
        cwnd = app.query_one("#cwnd", PlotView)
        assert app.focused is cwnd and cwnd.window is None
        await pilot.press("z")
        assert cwnd.window is not None and plot.window is None


def test_ticks_stay_distinct_when_zoomed_far_in() -> None:
    sent = [SegRecord(1 + 0.00001 * i, True, "P.", 1 + 100 * i, 1, 100, 100) for i in range(50)]
    labels = ticks(lines(render_time_sequence(sent, [], 70, 10, window=(1.0001, 1.0002))))
    assert labels[-1] == "s" and len(set(labels[:-1])) == len(labels) - 1
    assert labels[0] == "1.000100" and labels[-2] == "1.000200"


def test_light_theme_colours() -> None:
    """On a light theme the plots and the ladder draw in dark shades (white data dots
    and yellow SYNs would vanish on white)."""
    recs, samples = records_and_samples()
    use_palette(False)
    try:
        text = render_time_sequence(recs, samples, 60, 16)
        assert legend(text) == {name: SERIES_LIGHT[name] for name in legend(text)}
        assert SERIES_LIGHT["data"] in dot_styles(text)
        ack = SegRecord(0.5, False, ".", 1, 101, 1000, 0)
        line = ladder_lines([ack])[0]
        assert any(str(span.style) == LIGHT_ROLES["ok"] for span in line.spans)
    finally:
        use_palette(True)
    assert legend(render_time_sequence(recs, samples, 60, 16))["data"] == SERIES_STYLE["data"]
