"""Moving through a run's history: the cursor, playback and the keys that move them.

Theory of operation
-------------------
The dashboard draws the run as it was after the first ``n`` events of its timeline.
``cursor`` None means "follow the end": a live run is drawn as it happens.  Every
other key here sets a cursor -- one event forward or back, the next state change, a
time, a click on the bar -- and the panes redraw from the fold at that point; End
follows the end again.  In a replay, Space plays: a timer moves the cursor's *time*
forward at the chosen speed (0.1x to 100x of the run's clock).

In a live run the same keys look back without stopping anything; "go live from here"
(``L``) rewinds the simulated run to the cursor's time and continues from there.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from tcplab.lab.units import parse_duration
from tcplab.tui.base import DashboardBase

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0)
PLAY_TICK = 0.05    # seconds of wall time between playback steps


class TimeTravel(DashboardBase):
    """Mixed into the app: see the module docstring."""

    def _travel_init(self) -> None:
        self.cursor = None if self.live else 0
        self.play_speed = 1.0
        self.playing = False
        self._play_t = 0.0

    def seek(self, n: int | None, t: float | None = None) -> None:
        """Show the run after ``n`` events (None: follow the end), at time ``t`` (by
        default the time of the last of them): countdowns count from ``t``."""
        if n is not None:
            n = max(0, min(n, len(self.timeline)))
            if n == len(self.timeline) and self.live and t is None:
                n = None
        self.cursor = n
        if t is not None:
            self._play_t = t
        elif not self.playing:
            self._play_t = self.timeline.time_of(self.n)
        self.refresh_all()

    def seek_time(self, t: float) -> None:
        """Show the run as it was at ``t``: after every event at or before it."""
        self.playing = False
        if self.lab is not None and t >= self.lab.now():
            self.seek(None)  # the present (or later): live
            return
        self.seek(self.timeline.count_at(t), max(t, 0.0))

    # -- playback ---------------------------------------------------------------------
    def _play_tick(self) -> None:
        if not self.playing:
            return
        self._play_t += PLAY_TICK * self.play_speed
        end = self.timeline.end_time
        if self._play_t >= end:
            self._play_t = end
            self.playing = False
        self.cursor = self.timeline.count_at(self._play_t)
        self.refresh_all()

    def toggle_play(self) -> None:
        if self.playing:
            self.playing = False
        else:
            if self.n >= len(self.timeline):
                self.cursor = 0  # at the end: play from the start
                self._play_t = 0.0
            self.playing = True
        self.refresh_all()

    # -- the keys -----------------------------------------------------------------------
    def action_faster(self) -> None:
        i = SPEEDS.index(self.play_speed)
        self.play_speed = SPEEDS[min(i + 1, len(SPEEDS) - 1)]
        self.say(f"playback speed {self.play_speed:g}x")

    def action_slower(self) -> None:
        i = SPEEDS.index(self.play_speed)
        self.play_speed = SPEEDS[max(i - 1, 0)]
        self.say(f"playback speed {self.play_speed:g}x")

    def action_event_forward(self) -> None:
        if self.cursor is None and self.live:
            # at the live end, paused or under virtual time (that clock moves only when
            # told): one more event of the run itself
            if self.paused or (self.lab is not None and self.lab.virtual):
                self.run_line("step")
            else:
                self.say("following the live run: pause (Space) to step it, or , to look back")
            return
        self.playing = False
        self.seek(self.n + 1)
        self._say_event()

    def action_event_back(self) -> None:
        self.playing = False
        self.seek(max(self.n - 1, 0))
        self._say_event()

    def _say_event(self) -> None:
        n = self.n
        if n == 0:
            self.say("the start of the run")
            return
        from tcplab.tui.history import log_line

        ev = self.timeline.event(n - 1)
        line, _ = log_line(ev)
        self.say(f"event {n}: {line.strip()}" if ev["kind"] not in (
            "segment.sent", "segment.received", "tcb.sample", "timer.armed",
            "timer.cancelled", "timer.fired", "data.delivered", "segment.retransmitted")
            else f"event {n}: t={ev['t']:.3f} {ev['host']} {ev['kind']}")

    def _state_change(self, forward: bool) -> None:
        self.playing = False
        key = self.selected
        indices = self.timeline.conn_events.get(key) if key is not None else None
        target = self.timeline.next_mark(self.n, forward, indices)
        if target is None:
            which = "of the selected connection" if indices is not None else ""
            self.say(f"no {'later' if forward else 'earlier'} state change {which}".strip())
            return
        self.seek(target)
        ev = self.timeline.event(target - 1)
        self.say(f"t={ev['t']:.3f} {ev['host']} {ev['old']} -> {ev['new']} ({ev['cause']})")

    def action_next_change(self) -> None:
        self._state_change(True)

    def action_previous_change(self) -> None:
        self._state_change(False)

    def action_go_start(self) -> None:
        if self._scroll_focused("action_scroll_home"):
            return
        self.playing = False
        self.seek(0)

    def action_go_end(self) -> None:
        """End: back to the end of the run (live: following it) wherever the focus
        is; at the end already, End makes the focused ladder or log follow its newest
        line again."""
        at_end = self.n >= len(self.timeline) and (self.cursor is None or not self.live)
        if at_end and self._scroll_focused("action_scroll_end"):
            return
        self.playing = False
        self.seek(None if self.live else len(self.timeline))
        self._scroll_focused("action_scroll_end")

    def _scroll_focused(self, action: str) -> bool:
        """Home/End scroll the focused history pane; elsewhere they move the cursor."""
        from tcplab.tui.widgets.history_log import HistoryLog

        focused = self.focused
        if isinstance(focused, HistoryLog):
            getattr(focused, action)()
            self.refresh_all()  # following again: what came meanwhile, at once
            return True
        return False

    def action_go_time(self) -> None:
        self.open_box("goto", "go to time (seconds, or 500ms); enter to go, esc to cancel")

    def goto_submitted(self, box: Input, value: str) -> None:
        self.close_box(box)
        try:
            t = parse_duration(value.strip(), bare="s")
        except ValueError as exc:
            self.show_error(f"go to: {exc}")
            return
        self.seek_time(t)
        shown = self.cursor_time()
        where = (f"at t={t:g}" if shown == t else
                 f"t={t:g} is still to come: at t={shown:.3f}, live")
        self.say(f"{where} (event {self.n} of {len(self.timeline)})")

    def action_go_live_here(self) -> None:
        if not self.live:
            self.show_error("a replay is read-only: it cannot go live (tcplab replay DIR "
                            "--verify re-executes a simulated recording)")
            return
        if self.cursor is None:
            self.say("already live")
            return
        t = self.cursor_time()
        self.cursor = None
        self.run_line(f"rewind {t!r}")

    def on_timeline_bar_seek(self, message: Any) -> None:
        self.seek_time(message.t)
