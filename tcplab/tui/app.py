"""The dashboard: every socket on every host, at any instant of a run, and the actions
on them.

Theory of operation
-------------------
Every pane is drawn from the run's event stream alone.  A live run's events go into a
:class:`~tcplab.lab.timeline.Timeline` as they are published; ``tcplab replay`` opens a
recording's timeline instead and has no lab at all.  The panes show the run after the
first ``n`` events (:mod:`tcplab.tui.travel`: ``n`` follows the end of a live run
unless the user looks back): the sockets table, the links and held segments from the
fold at ``n`` (:class:`~tcplab.lab.snapshot.Snapshot`), the ladder, plots, stream and
log from the events before ``n`` (:mod:`tcplab.tui.history`).  So a live run and its
replay draw the same at the same instant, and no pane polls a live object.

The app talks to a live lab only through the command language
(:mod:`tcplab.tui.commanding`) and the clock.  Redraws are capped: events only mark
the view dirty, and the refresh runs at most ``REFRESH_HZ`` times a second plus once
soon after the first event of a burst.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.suggester import Suggester
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from tcplab.lab import commands as C
from tcplab.lab.port import LabPort
from tcplab.lab.snapshot import SocketRow
from tcplab.lab.timeline import Timeline
from tcplab.tui import history as hist
from tcplab.tui.commanding import TABLE_ONLY, Commanding, CommandLine
from tcplab.tui.demo import Demo, Script
from tcplab.tui.palette import TcplabCommands
from tcplab.tui.screens.help import NAVIGATION, HelpScreen
from tcplab.tui.travel import PLAY_TICK, TimeTravel
from tcplab.tui.widgets.colors import role, use_palette
from tcplab.tui.widgets.diagram import StateDiagram
from tcplab.tui.widgets.history_log import HistoryLog
from tcplab.tui.widgets.ladder import SEGMENT_FILTERS, Ladder
from tcplab.tui.widgets.links import compact_params
from tcplab.tui.widgets.panel import Panel
from tcplab.tui.widgets.plot import PlotView
from tcplab.tui.widgets.sockets import COLUMNS, SocketsTable
from tcplab.tui.widgets.stream import StreamView
from tcplab.tui.widgets.tcb_view import tcb_text
from tcplab.tui.widgets.timeline_bar import TimelineBar

LIVE_ONLY = frozenset(("listen", "connect", "send", "shutdown", "close", "abort", "link",
                       "go_live_here"))
TABS = (("tab-diagram", "Diagram tab"), ("tab-ladder", "Ladder tab"),
        ("tab-tsg", "Time-sequence tab"), ("tab-cwnd", "cwnd tab"),
        ("tab-stream", "Stream tab"), ("tab-log", "Log tab"), ("tab-tcb", "TCB tab"))
REFRESH_HZ = 5
REDRAW_DELAY = 0.05  # seconds from an event to the redraw that shows it


class CommandSuggester(Suggester):
    """Completes the last word of a command line: command names, hosts, connections."""

    def __init__(self, words: Callable[[bool], list[str]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.words = words

    async def get_suggestion(self, value: str) -> str | None:
        head, _, last = value.rpartition(" ")
        if not last:
            return None
        for word in self.words(bool(head)):
            if word.startswith(last) and word != last:
                return (head + " " if head else "") + word
        return None


class TcplabApp(Commanding, TimeTravel, Demo):
    """The tcplab dashboard."""

    CSS_PATH = "app.tcss"
    TITLE = "tcplab"
    COMMANDS = App.COMMANDS | {TcplabCommands}
    # the footer shows them in this order, as many as fit: help first
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help (also in a text box)", key_display="F1", show=False),
        Binding("colon", "command_line", "Command", key_display=":"),
        Binding("q", "request_quit", "Quit"),
        Binding("l", "listen", "Listen"),
        Binding("c", "connect", "Connect"),
        Binding("s", "send", "Send"),
        Binding("w", "shutdown", "Shutdown"),
        Binding("x", "close", "Close"),
        Binding("a", "abort", "Abort"),
        Binding("k", "link", "Link"),
        Binding("space", "pause", "Pause/Play"),
        Binding("comma", "event_back", "Back", key_display=","),
        Binding("full_stop", "event_forward", "Step", key_display="."),
        Binding("left_square_bracket", "previous_change", "Prev change", key_display="[",
                show=False),
        Binding("right_square_bracket", "next_change", "Next change", key_display="]",
                show=False),
        Binding("home", "go_start", "Start of the run", show=False, priority=True),
        Binding("end", "go_end", "End (follow live)", show=False, priority=True),
        Binding("g", "go_time", "Go to time", show=False),
        Binding("plus", "faster", "Faster", key_display="+", show=False),
        Binding("minus", "slower", "Slower", key_display="-", show=False),
        Binding("L", "go_live_here", "Go live from here", show=False),
        Binding("n", "next_command", "Next command", show=False),
        Binding("escape", "interrupt", "Stop wait/playback", show=False),
        *(Binding(str(i), f"tab('{tab}')", name, show=False)
          for i, (tab, name) in enumerate(TABS, start=1)),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("o", "sort", "Sort"),
        Binding("f", "segment_filter", "Segments"),
        Binding("h", "hex", "Hex", show=False),
        Binding("t", "toggle_dark", "Theme", show=False),
        Binding("ctrl+q", "quit", "Quit at once", show=False, priority=True),
    ]

    def __init__(self, lab: LabPort | None, *, timeline: Timeline | None = None, seed: int = 0,
                 recording: bool = False,
                 scenario: list[tuple[int, C.Command]] | None = None,
                 captions: dict[int, str] | None = None, pace: float | None = None) -> None:
        super().__init__()
        self.lab = lab
        self.live = lab is not None
        if timeline is None:
            assert lab is not None, "a dashboard needs a lab or a recording's timeline"
            # the lab's own, when kept from its start; else from now on
            timeline = lab.keep_timeline()
        self.timeline = timeline
        header = timeline.header
        self.hosts: list[tuple[str, str]] = [(str(h["name"]), str(h["ip"]))
                                             for h in header.get("hosts", [])]
        self.kernel_hosts = {str(h["name"]) for h in header.get("hosts", []) if h.get("kernel")}
        self.host_of_ip = {ip: name for name, ip in self.hosts}
        self.seed = int(header.get("seed", seed))
        self.recording = recording
        self.script = Script(scenario, captions or {}, pace) if scenario else None
        self._travel_init()
        self._redraw_pending = False
        self.as_hex = False
        self.segment_filter = "all"
        self.history: list[str] = []
        self.history_pos = 0
        self.refresh_times: deque[float] = deque(maxlen=500)
        self._marks_seen = -1
        self._log_cache: dict[int, tuple[str, str]] = {}
        self._log_cut = 0
        self._drawn_head: tuple[int, bool] = (-1, False)  # (rewinds, the head) drawn last
        self.dirty = True      # events came since the last redraw
        self._line_empty = True
        self._hidden_shown = 0   # table columns hidden, as the TCB tab's title says
        if lab is not None:
            lab.subscribe(self._on_event)

    @property
    def table(self) -> SocketsTable:
        return self.query_one("#sockets", SocketsTable)

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Panel(id="status")
        yield TimelineBar(id="timeline")
        with Horizontal(id="top"):
            yield SocketsTable(id="sockets")
            yield Panel(id="hosts")
        with TabbedContent(id="detail"):
            with TabPane("Diagram", id="tab-diagram"):
                yield StateDiagram(id="diagram")
            with TabPane("Ladder", id="tab-ladder"):
                yield Static("", id="ladder-head")
                yield Ladder(id="ladder")
            with TabPane("Time-seq", id="tab-tsg"):
                yield PlotView(id="tsg")
            with TabPane("cwnd", id="tab-cwnd"):
                yield PlotView(id="cwnd")
            with TabPane("Stream", id="tab-stream"):
                yield StreamView(id="stream")
            with TabPane("Log", id="tab-log"):
                yield HistoryLog(id="log")
            with TabPane("TCB", id="tab-tcb"):
                yield Panel(id="tcb")
        with Vertical(id="bottom"):
            yield Static("", id="caption")
            yield Static("", id="result")
            yield CommandLine(placeholder=": command (e.g. connect h1 h2:80 as c1) — F1 for help"
                        if self.live else "a replay: Space plays, , . step, [ ] state "
                        "changes, g goes to a time — F1 for help",
                        id="command", suggester=CommandSuggester(self.words),
                        select_on_focus=False)
        yield Footer()

    def on_mount(self) -> None:
        use_palette(self.current_theme.dark)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        # countdowns and the real clock move with no event: a steady, slower redraw
        self.set_interval(1 / REFRESH_HZ, self._refresh)
        if self.lab is not None and not self.lab.virtual:
            self.set_interval(0.01, self.lab.sync)
        if not self.live:
            self.set_interval(PLAY_TICK, self._play_tick)
            self.say("a replay: Space plays, , and . step one event, [ and ] jump between "
                     "state changes, g goes to a time, Home/End, + and - set the speed")
        self.refresh_all()
        self.start_script()

    def _theme_changed(self, theme: Any) -> None:
        use_palette(theme.dark)  # every pane draws with the new palette
        self.table.resort()
        self.redraw_result()
        self.query_one("#timeline", TimelineBar).refresh()
        self.refresh_all()

    async def on_event(self, event: events.Event) -> None:
        # before any binding: a printable key nothing takes opens the command line
        if (isinstance(event, events.Key) and not event.is_forwarded
                and self.is_running and self.intercept_key(event)):
            return
        await super().on_event(event)

    def run_command(self, cmd: C.Command, line_no: int) -> float:
        lab = self.lab
        assert lab is not None
        if isinstance(cmd, C.Wait):
            if not lab.virtual:
                return cmd.seconds  # the real clock: wall time is the wait
            self.begin_wait(cmd)
            return 0.0
        result = lab.execute(cmd, line_no)
        self.show_result(result.ok, result.message)
        self.refresh_all()
        return 0.0

    def action_next_command(self) -> None:
        self.next_command()

    def _on_event(self, event: Any) -> None:
        self.dirty = True  # the lab's timeline has it already
        if event.kind == "break.hit":
            self.call_later(self._break_hit, event)
        elif event.kind == "notice" and self.waiting:
            # why a wait takes long (an instant that does not end): said where the
            # user looks, not only in the Log
            self.call_later(self._notice_while_waiting, event.text)
        if not self._redraw_pending and self.is_running:
            # redraw soon after the first event of a burst: one redraw per burst
            self._redraw_pending = True
            self.set_timer(REDRAW_DELAY, self._redraw_now)

    def _notice_while_waiting(self, text: str) -> None:
        if self.waiting:  # (a wait the notice ended shows its own result)
            self.say(text)  # (the status line says "waiting (Esc stops)")

    def _break_hit(self, event: Any) -> None:
        self.seek(None)
        if getattr(event, "sid", None) is not None:
            self.table.select((event.host, event.sid))
        self.say(f"breakpoint {event.number} ({event.spec}) fired at t={event.t:.3f}: "
                 f"{event.detail}")

    def _redraw_now(self) -> None:
        self._redraw_pending = False
        self._refresh()

    def _rto_min(self, row: SocketRow | None) -> str:
        """The RTO's floor for the TCB tab (RFC 6298 §2.4)."""
        if row is None:
            return ""
        if row.host in self.kernel_hosts:
            return "200.0 ms (Linux's TCP_RTO_MIN)"
        given = self.timeline.header.get("rto_min")
        return (f"{float(given) * 1000:.1f} ms (--rto-min)" if given is not None
                else "1000.0 ms (RFC 6298 §2.4)")

    def refresh_all(self) -> None:
        self._refresh(force=True)

    # -- drawing ------------------------------------------------------------------------
    def _refresh(self, force: bool = False) -> None:
        if not self.is_running or self._exit:
            return  # a tick that fires while the app shuts down
        clock_moves = self.lab is not None and not self.lab.virtual
        if not (force or self.dirty or clock_moves or self.playing):
            return
        started = time.perf_counter()
        self.dirty = False
        n = self.n
        snap = self.timeline.snapshot(n)
        now = self.cursor_time()
        self._update_status(now)
        # the head went on from the last redraw: only its changed rows are redrawn
        following = snap is self.timeline.head and self._drawn_head == (
            self.timeline.rewinds, True)
        touched = snap.take_touched() if snap is self.timeline.head else None
        self._drawn_head = (self.timeline.rewinds, snap is self.timeline.head)
        self.table.update_rows(snap, now, touched if following else None)
        self._update_hosts(snap)
        self._update_detail(snap, n)
        self.refresh_times.append(time.perf_counter() - started)

    def _update_status(self, now: float) -> None:
        header = self.timeline.header
        clock = header.get("clock", "?")
        text = Text()
        if self.live:
            # no styled run starts with a space: SVG viewers drop a run's leading
            # space, which ran "tcplab" into the next word in screenshots
            text.append("tcplab ", style="bold")
            if self.cursor is None:
                text.append(f"· live · backend {header.get('backend')} · seed {self.seed} · "
                            f"{clock} clock t={now:.3f}")
            else:  # what matters first: a narrow terminal cuts the line's end
                text.append("· ")
                text.append(f"looking back at t={now:.3f} (End: live)", style="bold")
                text.append(f" · {clock} clock · backend {header.get('backend')} · "
                            f"seed {self.seed}")
            if self.paused:
                text.append(" ")
                text.append("(paused)", style=role("warn", "bold"))
            if self.waiting:
                text.append(" · ")
                text.append("waiting (Esc stops)", style="bold")
            text.append(" · rec ●" if self.recording else " · rec off")
        else:
            text.append("tcplab replay ", style="bold")
            text.append(f"· backend {header.get('backend')} · seed {self.seed} · {clock} "
                        f"clock · t={now:.3f}")
        text.append(f" · {self.table.count} sockets")
        if self.table.filter_text:
            text.append(" · ")
            text.append(f"filter {self.table.filter_text!r}", style=role("warn", "bold"))
        self.query_one("#status", Panel).put(text)
        hidden = self.table.hidden
        if hidden != self._hidden_shown:
            self._hidden_shown = hidden
            self.query_one("#detail", TabbedContent).get_tab("tab-tcb").label = (
                f"TCB (+{hidden} columns)" if hidden else "TCB")
        bar = self.query_one("#timeline", TimelineBar)
        marks = None
        if len(self.timeline.marks) != self._marks_seen:
            self._marks_seen = len(self.timeline.marks)
            marks = self.timeline.mark_times()
        end = max(self.timeline.end_time, now)
        mode = ("▶ playing" if self.playing else "❚❚ stopped") + f" {self.play_speed:g}x"
        if self.live:
            mode = "following the run" if self.cursor is None else "looking back"
        bar.set(end, now, marks, f"t={now:.3f} of {end:.3f} s · event {self.n} of "
                f"{len(self.timeline)} · {mode} · │ state change  x drop")

    def _update_hosts(self, snap: Any) -> None:
        text = Text()
        text.append("hosts\n", style="bold")
        for name, ip in self.hosts:
            kind = " (kernel)" if name in self.kernel_hosts else ""
            down = snap.hosts_down.get(name)
            text.append(" ")
            text.append(f"{name} {ip}{kind} ", style=role("error") if down else "")
            text.append(f"DOWN: {down}\n" if down else "\n", style=role("error"))
        text.append("links\n", style="bold")
        for direction, (_link, params) in sorted(snap.links.items()):
            text.append(" ")
            text.append(f"{direction} ", style="bold")
            compact = compact_params(params)
            # a narrow panel wraps between the parts, never inside one ("1.4% / loss")
            unbroken = ", ".join(p.replace(" ", "\u00a0") for p in compact.split(", "))
            text.append(unbroken + "\n", style=role("error") if compact == "DOWN" else "")
        if snap.held:
            text.append(f"held ({len(snap.held)})\n", style=role("warn", "bold"))
            for line in snap.held[-8:]:
                text.append(" ")
                text.append(f"{line}\n", style=role("warn"))
        self.query_one("#hosts", Panel).put(text)

    def _update_detail(self, snap: Any, n: int) -> None:
        key = self.selected
        row = snap.rows.get(key) if key is not None else None
        peer = snap.peer_of(row)
        label = ""
        if row is not None:
            label = f"{snap.name_of(row.key) or row.host}  socket {row.sid}"
        detail = self.query_one("#detail", TabbedContent)
        tab = detail.active  # only the visible tab is drawn: the plots are not free
        if tab == "tab-diagram":
            self.query_one("#diagram", StateDiagram).show_row(self.timeline, row, n, label)
        elif tab == "tab-ladder":
            self._show_ladder(row, peer, n)
        elif tab in ("tab-tsg", "tab-cwnd"):
            size = detail.size
            # the tab's room: the tabs and their underline take two rows
            width, height = max(size.width - 4, 30), max(size.height - 2, 8)
            kind = "tsg" if tab == "tab-tsg" else "cwnd"
            self.query_one(f"#{kind}", PlotView).draw(kind, self.timeline, row, n, width,
                                                      height)
        elif tab == "tab-stream":
            sides = []
            for side in (row, peer):
                if side is not None:
                    sides.append((f"{side.host} socket {side.sid}", side.delivered,
                                  hist.deliveries(self.timeline, side.key, n)))
            self.query_one("#stream", StreamView).show(sides, self.as_hex)
        elif tab == "tab-tcb":
            self.query_one("#tcb", Panel).put(tcb_text(row, label, self.cursor_time(),
                                                       self._rto_min(row)))
        elif tab == "tab-log":
            if self._log_cut != self.timeline.rewinds:
                self._log_cache.clear()  # a rewind renumbered what follows the cut
                self._log_cut = self.timeline.rewinds
            lines = [Text(text, style=style) for text, style in
                     hist.log_lines(self.timeline, n, cache=self._log_cache)]
            self.query_one("#log", HistoryLog).show(("log", self.timeline.rewinds), lines)

    def _show_ladder(self, row: Any, peer: Any, n: int) -> None:
        head = self.query_one("#ladder-head", Static)
        ladder = self.query_one("#ladder", Ladder)
        if row is None:
            head.update(Text("select a connection in the sockets table", style="dim"))
            ladder.show(None, [])
            return
        right = (f"{peer.host} {peer.local[0]}:{peer.local[1]}" if peer is not None else
                 f"{row.remote[0]}:{row.remote[1]}" if row.remote else "*")
        left = f"{row.host} {row.local[0]}:{row.local[1]}"
        ladder.show_connection(self.timeline, row, peer, n, self.segment_filter, head, left,
                               right)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_all()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_all()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "command" and (event.value == "") != (self._line_empty):
            self._line_empty = event.value == ""
            self.refresh_bindings()  # "? Help" in the footer while the line is empty

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "command":
            if self.run_line(event.value):
                event.input.value = ""
        elif event.input.id == "filter":
            self.table.filter_text = event.value
            self.close_box(event.input)
            self.refresh_all()
        elif event.input.id == "goto":
            self.goto_submitted(event.input, event.value)

    # -- view actions ---------------------------------------------------------------------
    def action_filter(self) -> None:
        self.open_box("filter", "filter sockets (host, address, state); enter to apply, "
                      "esc to cancel", self.table.filter_text)

    def action_sort(self) -> None:
        table = self.table
        table.sort_by = (table.sort_by + 1) % len(COLUMNS)
        self.show_result(True, f"sorted by {COLUMNS[table.sort_by]}")
        table.resort()
        self.refresh_all()

    def action_segment_filter(self) -> None:
        """Cycle the ladder's segment filter: all, SYN, FIN, RST, data, rtx, drops."""
        i = SEGMENT_FILTERS.index(self.segment_filter)
        self.segment_filter = SEGMENT_FILTERS[(i + 1) % len(SEGMENT_FILTERS)]
        self.show_result(True, f"ladder shows: {self.segment_filter}")
        self.refresh_all()

    def on_resize(self, event: Any) -> None:
        # 80x24: the hosts column goes, the tables keep the room
        self.screen.set_class(event.size.width < 100, "-narrow")

    def action_tab(self, tab: str) -> None:
        """1-6: a detail tab to the front; the ladder and the log take the focus, so
        the arrows, PageUp/PageDown and Home/End scroll them at once."""
        self.query_one("#detail", TabbedContent).active = tab
        focus = {"tab-ladder": "#ladder", "tab-log": "#log", "tab-tsg": "#tsg",
                 "tab-cwnd": "#cwnd"}.get(tab)
        if focus is not None:  # the plots' keys zoom and pan
            self.query_one(focus).focus()
        self.refresh_all()

    def action_hex(self) -> None:
        self.as_hex = not self.as_hex
        self.refresh_all()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A replay has no lab: the actions that change one are not offered.  The
        single letters that change connections act only in the sockets table (typed
        elsewhere, they are text for the command line)."""
        if action in LIVE_ONLY and not self.live:
            return False
        return action not in TABLE_ONLY or isinstance(self.focused, SocketsTable)

    def action_request_quit(self) -> None:
        """q: a replay quits at once; a running lab asks first (it ends with the app)."""
        if not self.live:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()
            else:
                self.say("not quitting (Ctrl+Q quits at once)")

        self.ask("quit tcplab? the lab stops", "q", answered)

    def action_help(self) -> None:
        keys = [(b.key_display or b.key, b.description) for b in self.BINDINGS
                if isinstance(b, Binding)]
        self.push_screen(HelpScreen([*NAVIGATION, *keys]))
