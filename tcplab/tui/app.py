"""The dashboard: every socket on every host, live, and the actions on them.

Theory of operation
-------------------
The app knows the lab only through its command interface (``Lab.execute`` with the
command language, ``Lab.sockets``/``Lab.links`` tables) and its event stream, which
feeds a :class:`~tcplab.tui.model.DashboardModel`.  Two timers drive it:

* the clock tick (real time only) lets the backend catch up with the wall clock;
* the refresh, at most ``REFRESH_HZ`` times a second, redraws what changed: events
  only mark the model dirty, so a burst of thousands of events costs one redraw.

Under ``--virtual-time`` the clock does not run by itself: ``wait`` commands step it
(good for walking a class through a teardown one step at a time).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.suggester import Suggester
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from tcplab.lab import commands as C
from tcplab.lab.backend import LinkState
from tcplab.lab.lab import Lab
from tcplab.tcp.states import State
from tcplab.tui.model import DashboardModel, Key
from tcplab.tui.palette import TcplabCommands
from tcplab.tui.screens.forms import connect_form, link_form, listen_form, send_form
from tcplab.tui.screens.help import HelpScreen
from tcplab.tui.widgets.diagram import StateDiagram
from tcplab.tui.widgets.ladder import SEGMENT_FILTERS, Ladder
from tcplab.tui.widgets.links import compact_params
from tcplab.tui.widgets.panel import Panel
from tcplab.tui.widgets.plot import PlotView, render_cwnd, render_time_sequence
from tcplab.tui.widgets.sockets import COLUMNS, SocketsTable
from tcplab.tui.widgets.stream import StreamView

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


class TcplabApp(App[int]):
    """The tcplab dashboard."""

    CSS_PATH = "app.tcss"
    TITLE = "tcplab"
    COMMANDS = App.COMMANDS | {TcplabCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("colon", "command_line", "Command", key_display=":"),
        Binding("l", "listen", "Listen"),
        Binding("c", "connect", "Connect"),
        Binding("s", "send", "Send"),
        Binding("w", "shutdown", "Shutdown"),
        Binding("x", "close", "Close"),
        Binding("a", "abort", "Abort"),
        Binding("k", "link", "Link"),
        Binding("space", "pause", "Pause"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("o", "sort", "Sort"),
        Binding("f", "segment_filter", "Segments"),
        Binding("h", "hex", "Hex", show=False),
        Binding("t", "toggle_dark", "Theme", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, lab: Lab, *, seed: int = 0, recording: bool = False,
                 scenario: list[tuple[int, C.Command]] | None = None) -> None:
        super().__init__()
        self.lab = lab
        self.seed = seed
        self.recording = recording
        self.scenario = scenario
        self.model = DashboardModel()
        lab.bus.subscribe(self._on_event)
        self._redraw_pending = False
        self.as_hex = False
        self.segment_filter = "all"
        self._link_rates: dict[tuple[str, str], tuple[float, int, float]] = {}
        self.history: list[str] = []
        self.history_pos = 0
        self.last_result = ""
        self.refresh_times: deque[float] = deque(maxlen=500)

    @property
    def table(self) -> SocketsTable:
        return self.query_one("#sockets", SocketsTable)

    @property
    def selected(self) -> Key | None:
        """The (host, socket id) under the table's cursor."""
        return self.table.selected

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Panel(id="status")
        with Horizontal(id="top"):
            yield SocketsTable(self.lab, self.model, id="sockets")
            yield Panel(id="hosts")
        with TabbedContent(id="detail"):
            with TabPane("Diagram", id="tab-diagram"):
                yield StateDiagram(id="diagram")
            with TabPane("Ladder", id="tab-ladder"):
                yield Ladder(id="ladder")
            with TabPane("Time-seq", id="tab-tsg"):
                yield PlotView(id="tsg")
            with TabPane("cwnd", id="tab-cwnd"):
                yield PlotView(id="cwnd")
            with TabPane("Stream", id="tab-stream"):
                yield StreamView(id="stream")
            with TabPane("Log", id="tab-log"):
                yield Panel(id="log")
        with Vertical(id="bottom"):
            yield Static("", id="result")
            yield Input(placeholder=": command (e.g. connect h1 h2:80 as c1) — ? for help",
                        id="command", suggester=CommandSuggester(self._words))
        yield Footer()

    def on_mount(self) -> None:
        if not self.lab.backend.virtual:
            self.set_interval(0.01, self._tick)
        # countdowns and the real clock move with no event: a steady, slower redraw
        self.set_interval(1 / REFRESH_HZ, self._refresh)
        self._refresh(force=True)
        if self.scenario:
            self.run_worker(self._play(self.scenario), exclusive=True)

    async def _play(self, script: list[tuple[int, C.Command]]) -> None:
        import asyncio

        for line_no, cmd in script:
            if isinstance(cmd, C.Wait) and not self.lab.backend.virtual:
                await asyncio.sleep(cmd.seconds)
                continue
            self._show_result(self.lab.execute(cmd, line_no))
            await asyncio.sleep(0)

    def _on_event(self, event: Any) -> None:
        self.model(event)
        if not self._redraw_pending and self.is_running:
            # redraw soon after the first event of a burst: one redraw per burst
            self._redraw_pending = True
            self.set_timer(REDRAW_DELAY, self._redraw_now)

    def _redraw_now(self) -> None:
        self._redraw_pending = False
        self._refresh()

    # -- clocks -------------------------------------------------------------------
    def _tick(self) -> None:
        self.lab.sync()

    def _refresh(self, force: bool = False) -> None:
        if not self.is_running or self._exit:
            return  # a tick that fires while the app shuts down
        if not (force or self.model.dirty or not self.lab.backend.virtual):
            return
        started = time.perf_counter()
        self.model.dirty = False
        self._update_status()
        self.table.update_rows(force)
        self._update_hosts()
        self._update_detail()
        self.refresh_times.append(time.perf_counter() - started)

    def _update_status(self) -> None:
        b = self.lab.backend
        clock = "virtual" if b.virtual else "real"
        paused = " (paused)" if getattr(b, "paused", False) else ""
        rec = "rec ●" if self.recording else "rec off"
        self.query_one("#status", Panel).put(
            f"[b]tcplab[/]  backend {b.name} · {escape(b.mechanism)} · seed {self.seed} · "
            f"{clock} clock t={self.lab.now():.3f}{paused} · {rec} · "
            f"{self.table.count} sockets")

    def _update_hosts(self) -> None:
        text = Text()
        text.append("hosts\n", style="bold")
        for h in self.lab.topo.hosts:
            kind = " (kernel)" if h.kernel else ""
            text.append(f" {h.name} {h.ip}{kind}\n")
        text.append("links\n", style="bold")
        now = self.lab.now()
        for st in self.lab.links():
            text.append(f" {st.src}>{st.dst} ", style="bold")
            text.append(compact_params(st), style="dim" if st.up else "red")
            rate = self._rate(st, now)
            text.append(f" {rate}\n" if rate else "\n", style="green")
        if self.model.held:
            text.append(f"held ({len(self.model.held)})\n", style="bold yellow")
            for line in self.model.held[-8:]:
                text.append(f" {line}\n", style="yellow")
        self.query_one("#hosts", Panel).put(text)

    def _rate(self, st: LinkState, now: float) -> str:
        """Live throughput of a link direction from its delivered-bytes counter."""
        key = (st.src, st.dst)
        last = self._link_rates.get(key)
        if last is None or now - last[0] >= 1.0 or now < last[0]:
            rate = ((st.delivered_bytes - last[1]) * 8 / (now - last[0])
                    if last is not None and now > last[0] else 0.0)
            self._link_rates[key] = (now, st.delivered_bytes, rate)
        else:
            rate = last[2]
        if rate <= 0:
            return ""
        return f"{rate / 1e6:.2f} Mbit/s" if rate >= 1e5 else f"{rate / 1e3:.1f} kbit/s"

    def _update_detail(self) -> None:
        key = self.selected
        view = self.model.conns.get(key) if key is not None else None
        found = self.table.info(key) if key is not None else None
        info = (key[0], found) if key is not None and found is not None else None
        label = ""
        if key is not None:
            name = self.lab.name_of(key[0], key[1], info[1] if info else None)
            label = f"{name or key[0]}  socket {key[1]}"
        state = info[1].state if info else (view.state if view else None)
        detail = self.query_one("#detail", TabbedContent)
        tab = detail.active  # only the visible tab is drawn: the plots are not free
        if tab == "tab-diagram":
            self.query_one("#diagram", StateDiagram).show(
                state, view.last_change if view else None, label)
        peer = self.model.peer_of(key) if key is not None else None
        peer_label = f"{peer.host} {peer.local[0]}:{peer.local[1]}" if peer else "peer"
        if tab == "tab-ladder":
            self.query_one("#ladder", Ladder).show(view, peer_label, self.segment_filter)
        size = detail.size
        width, height = max(size.width - 4, 20), max(size.height - 4, 6)
        if view is not None and info is not None:
            st = info[1].status
            view.samples.append((self.lab.now(), st.cwnd, st.ssthresh, st.in_flight))
            if tab == "tab-tsg":
                self.query_one("#tsg", PlotView).show(
                    render_time_sequence(view, st.snd_wscale, width, height))
            elif tab == "tab-cwnd":
                self.query_one("#cwnd", PlotView).show(
                    render_cwnd(list(view.samples), width, height))
        if tab == "tab-stream":
            streams = []
            if view is not None:
                streams.append((f"{view.host} socket {view.sid}", view))
            if peer is not None:
                streams.append((f"{peer.host} socket {peer.sid}", peer))
            self.query_one("#stream", StreamView).show(streams, self.as_hex)
        elif tab == "tab-log":
            self.query_one("#log", Panel).put(Text("\n".join(list(self.model.log)[-200:])))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._refresh(force=True)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._refresh(force=True)

    # -- commands -----------------------------------------------------------------
    def _words(self, after_command: bool) -> list[str]:
        if not after_command:
            return list(C.COMMAND_NAMES)
        names = list(self.lab.names) + [n + "'" for n in self.lab.names]
        return [*self.lab.host_names, *names, *self.lab.backend.link_names()]

    def run_line(self, line: str) -> bool:
        """Run one command line; the result shows under the table.  True if it worked."""
        line = line.strip()
        if line.startswith(":"):
            line = line[1:].strip()  # ":" opens the command line; typed again, it is no command
        if not line:
            return True
        self.history.append(line)
        self.history_pos = len(self.history)
        try:
            cmd = C.parse_line(line)
        except C.CommandError as exc:
            self._show_error(str(exc))
            return False
        if isinstance(cmd, C.Wait) and not self.lab.backend.virtual:
            self._show_error("wait steps a virtual clock; here the clock runs by itself")
            return False
        if cmd is None:
            return True
        result = self.lab.execute(cmd)
        self._show_result(result)
        self._refresh(force=True)
        return result.ok

    def _show_result(self, result: Any) -> None:
        if result.ok:
            # messages quote usage texts like [loss=5%]: never Textual markup
            self.query_one("#result", Static).update(f"[green]ok[/] {escape(result.message)}")
        else:
            self._show_error(result.message)

    def _show_error(self, message: str) -> None:
        self.query_one("#result", Static).update(f"[b red]error:[/] {escape(message)}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "command":
            if self.run_line(event.value):
                event.input.value = ""
        elif event.input.id == "filter":
            self.table.filter_text = event.value
            event.input.remove()
            self._refresh(force=True)

    def on_key(self, event: Any) -> None:
        cmd = self.query_one("#command", Input)
        if self.focused is not cmd:
            return
        if event.key == "escape":
            self.query_one("#sockets", DataTable).focus()
            event.stop()
            return
        if not self.history:
            return
        if event.key == "up":
            self.history_pos = max(self.history_pos - 1, 0)
            cmd.value = self.history[self.history_pos]
            cmd.cursor_position = len(cmd.value)
            event.stop()
        elif event.key == "down":
            self.history_pos = min(self.history_pos + 1, len(self.history))
            cmd.value = self.history[self.history_pos] if self.history_pos < len(
                self.history) else ""
            event.stop()

    def validate_line(self, line: str) -> str | None:
        """Checks a form's line against the lab without changing anything."""
        try:
            cmd = C.parse_line(line)
        except C.CommandError as exc:
            return str(exc)
        hosts = set(self.lab.host_names) | set(self.lab.backend.ips.values())
        nodes = hosts | set(getattr(self.lab.topo, "switches", ()))
        if isinstance(cmd, C.Listen) and cmd.endpoint.host not in hosts:
            return f"unknown host {cmd.endpoint.host!r}"
        if isinstance(cmd, C.Connect):
            for h in (cmd.local_host, cmd.remote.host):
                if h not in hosts:
                    return f"unknown host {h!r}"
        if isinstance(cmd, C.Link):
            for n in (cmd.a, cmd.b):
                if n not in nodes:
                    return f"unknown node {n!r}"
            if self.lab.backend.find_link(cmd.a, cmd.b) is None:
                return f"no link between {cmd.a} and {cmd.b}"
        conn = getattr(cmd, "conn", None)
        if conn is not None:
            try:
                _, info, _ = self.lab.socket_info(conn)
            except Exception as exc:  # LabError: an unknown name or four-tuple
                return str(exc)
            if info is None or info.state is State.CLOSED:
                return f"{conn} is closed"
        return None

    def _selected_ref(self) -> str | None:
        if self.selected is None:
            return None
        host, sid = self.selected
        found = self.table.info((host, sid))
        info = (host, found) if found is not None else None
        if info is None or info[1].remote is None:
            return None
        name = self.lab.name_of(host, sid, info[1])
        if name:
            return name
        local, remote = info[1].local, info[1].remote
        rhost = next((h for h, ip in self.lab.backend.ips.items() if ip == remote[0]),
                     remote[0])
        return f"{host}:{local[1]}>{rhost}:{remote[1]}"

    def _form_done(self, line: str | None) -> None:
        if line:
            self.run_line(line)

    # -- actions ------------------------------------------------------------------
    def action_command_line(self) -> None:
        self.query_one("#command", Input).focus()

    def _hosts(self) -> tuple[str, str]:
        names = self.lab.host_names
        return names[0], names[1] if len(names) > 1 else names[0]

    def action_listen(self) -> None:
        self.push_screen(listen_form(self.validate_line, self._hosts()[1]), self._form_done)

    def action_connect(self) -> None:
        a, b = self._hosts()
        self.push_screen(connect_form(self.validate_line, a, b), self._form_done)

    def action_send(self) -> None:
        self.push_screen(send_form(self.validate_line, self._selected_ref() or ""),
                         self._form_done)

    def _on_selected(self, verb: str) -> None:
        ref = self._selected_ref()
        if ref is None:
            self._show_error(f"{verb}: select a connection in the sockets table first")
            return
        problem = self.validate_line(f"{verb} {ref}")
        if problem:
            self._show_error(problem)
            return
        self.run_line(f"{verb} {ref}")

    def action_shutdown(self) -> None:
        self._on_selected("shutdown")

    def action_close(self) -> None:
        self._on_selected("close")

    def action_abort(self) -> None:
        self._on_selected("abort")

    def action_link(self) -> None:
        states = self.lab.links()
        a, b = (states[0].src, states[0].dst) if states else ("", "")
        self.push_screen(link_form(self.validate_line, a, b), self._form_done)

    def action_pause(self) -> None:
        paused = getattr(self.lab.backend, "paused", False)
        self.run_line("resume" if paused else "pause")

    def action_filter(self) -> None:
        box = Input(placeholder="filter sockets (host, address, state); enter to apply",
                    id="filter", value=self.table.filter_text)
        self.mount(box, before=self.query_one("#top"))
        box.focus()

    def action_sort(self) -> None:
        table = self.table
        table.sort_by = (table.sort_by + 1) % len(COLUMNS)
        self._show_result(_Msg(f"sorted by {COLUMNS[table.sort_by]}"))
        table.resort()
        self._refresh(force=True)

    def action_segment_filter(self) -> None:
        """Cycle the ladder's segment filter: all, SYN, FIN, RST, data, rtx, drops."""
        i = SEGMENT_FILTERS.index(self.segment_filter)
        self.segment_filter = SEGMENT_FILTERS[(i + 1) % len(SEGMENT_FILTERS)]
        self._show_result(_Msg(f"ladder shows: {self.segment_filter}"))
        self._refresh(force=True)

    def on_resize(self, event: Any) -> None:
        # 80x24: the hosts column goes, the tables keep the room
        self.screen.set_class(event.size.width < 100, "-narrow")

    def action_hex(self) -> None:
        self.as_hex = not self.as_hex
        self._refresh(force=True)

    def action_help(self) -> None:
        keys = [(b.key_display or b.key, b.description) for b in self.BINDINGS
                if isinstance(b, Binding)]
        self.push_screen(HelpScreen(keys))


class _Msg:
    ok = True

    def __init__(self, message: str) -> None:
        self.message = message
