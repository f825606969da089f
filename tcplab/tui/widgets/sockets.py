"""The sockets table: every socket of every host at the cursor, one row each.

Rows come from a :class:`~tcplab.lab.snapshot.Snapshot` -- the fold of the events up
to the dashboard's cursor -- never from the lab's live objects, so a live run and its
replay show the same table at the same instant.  Cells are compared with what is
shown, so a redraw touches only what changed; a state change flashes for a second of
run time.

Widths follow the content: every column is as wide as its widest cell now, so no value
is ever cut and no column stays wide for a value gone (the picture at an instant does not
depend on what was drawn before it).  A column widens the moment a longer value arrives
(DataTable measures that cell alone) and narrows when its widest value goes (DataTable
measures the column again).  Rebuilding a thousand rows costs a visible pause, so a
change of width rebuilds only when it changes which columns fit.

Any change to a DataTable's cells makes it draw every visible cell again, so a change to a
row off the screen is kept here and handed to the DataTable when the row scrolls into
view: with a thousand sockets, most changes are to rows nobody sees.

When the table is narrower than all the columns, it shows the ones that fit in
:data:`PRIORITY` order (name, state, addresses and timers first), in their usual order;
the TCB tab shows the selected connection whole.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tcplab.lab.snapshot import Key, Snapshot, SocketRow
from tcplab.tcp.states import State
from tcplab.tui.widgets.colors import state_style

FLASH_SECONDS = 1.0
# timers beside the state: the TIME-WAIT countdown is what people watch
COLUMNS = ("name", "host", "local", "remote", "state", "timers", "sendq", "recvq", "una/nxt",
           "rcv.nxt", "wnd", "cwnd", "ssthresh", "flight", "srtt/rto")
LABELS = tuple(cell_len(c) for c in COLUMNS)
# which columns stay when not all fit: the first ones that fit, shown in COLUMNS order
PRIORITY = ("name", "state", "local", "remote", "timers", "host", "cwnd", "ssthresh",
            "flight", "sendq", "recvq", "una/nxt", "rcv.nxt", "wnd", "srtt/rto")
PADDING = 2     # DataTable's cell padding, both sides together
UNLIMITED = 1 << 30     # the engine's "infinite" ssthresh


def _timers(row: SocketRow, now: float) -> str:
    return " ".join(f"{name} {max(deadline - now, 0):.1f}s" for name, deadline in row.timers)


def _state(row: SocketRow, now: float) -> Text:
    style = state_style(State(row.state))
    if row.path and 0 <= now - row.changed < FLASH_SECONDS:
        # reverse video: a flash shows without colour too (NO_COLOR)
        return Text(row.state, style="bold reverse " + style)
    return Text(row.state, style=style)


def socket_row(name: str, row: SocketRow, now: float) -> tuple[Any, ...]:
    """The cells of one socket, in :data:`COLUMNS` order."""
    remote = f"{row.remote[0]}:{row.remote[1]}" if row.remote else "*"
    local = f"{row.local[0]}:{row.local[1]}"
    tcb = row.tcb
    if row.listener or not tcb:
        return (name, row.host, local, remote, _state(row, now), _timers(row, now),
                "", "", "", "", "", "", "", "", "")
    srtt = f"{tcb['srtt'] * 1000:.0f}" if tcb["srtt"] is not None else "-"
    return (name, row.host, local, remote, _state(row, now), _timers(row, now),
            str(tcb["sendq"]), str(tcb["recvq"]),
            f"{row.relative('snd_una')}/{row.relative('snd_nxt')}",
            str(row.relative("rcv_nxt")), f"{tcb['snd_wnd']}/{tcb['rcv_wnd']}",
            str(tcb["cwnd"]),
            "inf" if tcb["ssthresh"] >= UNLIMITED else str(tcb["ssthresh"]),
            str(tcb["flight"]), f"{srtt}/{tcb['rto'] * 1000:.0f}ms")


def _natural(key: Key) -> tuple[object, ...]:
    """h2 before h10, then by socket id."""
    host, sid = key
    digits = host.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
    head = host[: len(host) - len(digits)]
    return (head, int(digits) if digits.isdigit() else -1, host, sid)


def _same(a: Any, b: Any) -> bool:
    """Cells equal as shown (a Text's own style is not part of its ``==``)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and str(a.style) == str(b.style)
    return bool(a == b)


def _width(cell: Any) -> int:
    return cell_len(cell.plain if isinstance(cell, Text) else str(cell))


def fitting(widths: dict[str, int], room: int) -> tuple[str, ...]:
    """The columns shown in ``room`` cells: in priority order while they fit (the name
    and the state always), in table order."""
    chosen: set[str] = set()
    used = 0
    for name in PRIORITY:
        need = widths[name] + PADDING
        if used + need > room and len(chosen) >= 2:
            break
        chosen.add(name)
        used += need
    return tuple(c for c in COLUMNS if c in chosen)


class SocketsTable(DataTable[Any]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.selected: Key | None = None
        # the row the user chose, and the one the last update left the cursor on: a
        # seek to before the chosen socket existed moves the cursor elsewhere, and it
        # comes back when the socket is there again
        self._chosen: str | None = None
        self._placed: str | None = None
        self.sort_by = 0
        self.filter_text = ""
        self.shown: tuple[str, ...] = ()   # the columns on screen
        self._row_keys: list[str] = []
        self._cells: dict[str, dict[str, Any]] = {}  # what each row shows now
        self._keys: dict[str, Key] = {}
        self._live: set[Key] = set()     # rows with countdowns or a flash running
        self._widths: dict[str, int] = {}    # each column's widest cell (or label)
        self._row_w: dict[str, tuple[int, ...]] = {}  # each row's cell widths
        self._maybe_narrower: set[int] = set()   # columns whose widest cell got shorter
        self._stale = False              # every row again at the next update
        self._pushed: dict[str, dict[str, Any]] = {}  # what the DataTable holds per row
        self._index: dict[str, int] = {}     # row key -> row index
        self._behind: set[str] = set()       # rows off the screen, changed since pushed

    def on_mount(self) -> None:
        self._rebuild()

    @property
    def count(self) -> int:
        return len(self._row_keys)

    @property
    def hidden(self) -> int:
        """How many columns do not fit."""
        return len(COLUMNS) - len(self.shown)

    def cell(self, row: int, column: str) -> str:
        """A cell's text by row index and column name ("" when the column is hidden)."""
        return _plain(self._cells[self._row_keys[row]][column])

    def sync_selected(self) -> None:
        """The socket under the cursor, now (not at the next redraw)."""
        if self._row_keys and 0 <= self.cursor_row < len(self._row_keys):
            self.selected = self._keys[self._row_keys[self.cursor_row]]

    def resort(self) -> None:
        """Every row again at the next update (a new order, or a new palette)."""
        self._stale = True

    def select(self, key: Key) -> None:
        """Put the cursor on a socket's row (a breakpoint fired on it)."""
        text = f"{key[0]}/{key[1]}"
        if text in self._row_keys:
            self.move_cursor(row=self._row_keys.index(text))
            self.selected = key
            self._chosen = self._placed = text

    # -- columns -----------------------------------------------------------------------
    def _room(self) -> int:
        width = self.size.width
        if not width:
            return 1 << 20  # not laid out yet: everything
        return width - (self.scrollbar_size_vertical if self.show_vertical_scrollbar else 0)

    def _measure(self) -> None:
        self._row_w = {text: tuple(_width(cells[c]) for c in COLUMNS)
                       for text, cells in self._cells.items()}
        columns = zip(LABELS, *self._row_w.values(), strict=True)
        self._widths = dict(zip(COLUMNS, map(max, columns), strict=True))
        self._maybe_narrower = set()

    def _narrow(self) -> None:
        """Columns whose widest value went: DataTable measures them again.  Only the
        columns where a widest cell got shorter are measured here (all rows of one
        column; all of them every redraw costs milliseconds with a thousand rows)."""
        narrower = []
        for i in self._maybe_narrower:
            name = COLUMNS[i]
            natural = max(LABELS[i], max((w[i] for w in self._row_w.values()), default=0))
            if natural < self._widths[name]:
                self._widths[name] = natural
                narrower.append(name)
        self._maybe_narrower = set()
        if not narrower or not self._row_keys:
            return
        if fitting(self._widths, self._room()) != self.shown:
            self._rebuild()
            return
        text = self._row_keys[0]
        for name in narrower:
            if name in self.shown:
                self._resize(name)
                self.update_cell(text, name, self._pushed[text][name], update_width=True)

    def _resize(self, name: str) -> None:
        """A column's width to its widest cell; the update_cell that follows makes the
        DataTable draw its lines again."""
        self.columns[ColumnKey(name)].width = self._widths[name]

    def _rebuild(self) -> None:
        """Every column and row again: the columns that fit, each as wide as its widest
        cell."""
        self._measure()
        self.shown = fitting(self._widths, self._room())
        cursor = self.cursor_row
        self.clear(columns=True)
        for name in self.shown:
            # set here, not measured by DataTable when idle: a line drawn before that
            # kept the old widths (its cache knows nothing of widths)
            self.add_column(name, key=name, width=self._widths[name])
        self._pushed, self._behind = {}, set()
        self._index = {text: i for i, text in enumerate(self._row_keys)}
        for text in self._row_keys:
            cells = self._cells[text]
            self.add_row(*(cells[c] for c in self.shown), key=text)
            self._pushed[text] = {c: cells[c] for c in self.shown}
        if 0 <= cursor < len(self._row_keys):
            self.move_cursor(row=cursor, animate=False)

    def on_resize(self, event: events.Resize) -> None:
        if fitting(self._widths, self._room()) != self.shown:
            self._rebuild()
        else:
            self._catch_up()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._catch_up()

    def _visible(self) -> range:
        top = int(self.scroll_y)
        return range(max(top - 2, 0), top + self.size.height + 2)  # a margin for scrolling

    def _catch_up(self) -> None:
        """Hand the DataTable what changed in the rows now on the screen."""
        if not self._behind:
            return
        keys = self._row_keys
        for i in self._visible():
            if i >= len(keys):
                break
            text = keys[i]
            if text in self._behind:
                self._behind.discard(text)
                self._push(text)

    def _push(self, text: str, wider: frozenset[str] = frozenset()) -> None:
        pushed = self._pushed[text]
        cells = self._cells[text]
        for name in wider:
            if name in self.shown:
                self._resize(name)
        for name in self.shown:
            if not _same(pushed.get(name), cells[name]):
                pushed[name] = cells[name]
                # measured only when wider: a narrower value makes DataTable measure
                # the whole column
                self.update_cell(text, name, cells[name], update_width=name in wider)

    # -- rows ---------------------------------------------------------------------------
    def update_rows(self, snap: Snapshot, now: float, touched: set[Key] | None = None
                    ) -> None:
        """Show the fold ``snap`` at time ``now``.  ``touched``: the sockets that changed
        since the last call, when ``snap`` only went on from the last one (a live run);
        then only their rows and the running countdowns and flashes are redrawn -- with
        a thousand sockets, every row on every redraw costs too much.  None: every row
        (a seek; also a new socket, a sort or a filter)."""
        under = self._under_cursor()
        if under != self._placed:
            self._chosen = under  # the user moved the cursor since the last update
        partial = (touched is not None and not self.sort_by and not self.filter_text
                   and not self._stale and all(f"{h}/{sid}" in self._cells for h, sid in touched))
        if partial:
            assert touched is not None
            self._some_rows(snap, now, touched)
        else:
            self._all_rows(snap, now)
        self._narrow()
        self._placed = self._under_cursor()
        if self._placed is not None:
            self.selected = self._keys[self._placed]
        elif not self._row_keys:
            self.selected = None

    def _under_cursor(self) -> str | None:
        if self._row_keys and 0 <= self.cursor_row < len(self._row_keys):
            return self._row_keys[self.cursor_row]
        return None

    def _some_rows(self, snap: Snapshot, now: float, touched: set[Key]) -> None:
        live = self._live
        grown: list[str] = []
        for key in touched:
            row = snap.rows.get(key)
            if row is not None:
                self._show(f"{key[0]}/{key[1]}",
                           socket_row(snap.name_of(key) or "", row, now), grown)
                if row.timers or 0 <= now - row.changed < FLASH_SECONDS:
                    live.add(key)
        for key in list(live - touched):
            row = snap.rows.get(key)
            if row is None:
                live.discard(key)
                continue
            # countdowns move with the clock alone, a flash ends by itself
            text = f"{key[0]}/{key[1]}"
            self._show(text, socket_row(snap.name_of(key) or "", row, now), grown)
            if not row.timers and now - row.changed >= FLASH_SECONDS:
                live.discard(key)
        self._refit(grown)

    def _refit(self, grown: list[str]) -> None:
        """A column widened: the same columns fit, or the table is rebuilt."""
        if grown and fitting(self._widths, self._room()) != self.shown:
            self._rebuild()

    def _show(self, text: str, cells: tuple[Any, ...], grown: list[str]) -> None:
        shown = self._cells[text]
        widths = self._widths
        changed = False
        wider: set[str] = set()
        for name, value in zip(COLUMNS, cells, strict=True):
            if not _same(shown.get(name), value):
                shown[name] = value
                changed = True
                if _width(value) > widths[name]:
                    widths[name] = _width(value)
                    grown.append(name)
                    wider.add(name)
        if not changed:
            return
        old = self._row_w.get(text)
        new = self._row_w[text] = tuple(_width(shown[c]) for c in COLUMNS)
        if old is not None:
            for i, (was, now) in enumerate(zip(old, new, strict=True)):
                if now < was == widths[COLUMNS[i]]:
                    self._maybe_narrower.add(i)  # this row was (one of) the widest
        if wider or self._index.get(text, -1) in self._visible():
            self._push(text, frozenset(wider))
        else:
            self._behind.add(text)

    def _all_rows(self, snap: Snapshot, now: float) -> None:
        stale, self._stale = self._stale, False
        rows: list[tuple[str, tuple[Any, ...], Key]] = []
        needle = self.filter_text.lower()
        self._live = set()
        for key, row in sorted(snap.rows.items(), key=lambda kv: _natural(kv[0])):
            cells = socket_row(snap.name_of(key) or "", row, now)
            if needle and needle not in " ".join(_plain(c) for c in cells).lower():
                continue
            rows.append((f"{key[0]}/{key[1]}", cells, key))
            if row.timers or 0 <= now - row.changed < FLASH_SECONDS:
                self._live.add(key)
        col = self.sort_by
        if col:
            rows.sort(key=lambda r: _plain(r[1][col]))
        keys = [r[0] for r in rows]
        self._keys = {r[0]: r[2] for r in rows}
        if keys != self._row_keys or stale:
            cursor_key = self._under_cursor()
            if self._chosen in keys:
                cursor_key = self._chosen
            self._cells = {text: dict(zip(COLUMNS, cells, strict=True))
                           for text, cells, _ in rows}
            self._row_keys = keys
            self._rebuild()
            if cursor_key in keys:
                self.move_cursor(row=keys.index(cursor_key), animate=False)
        else:
            grown: list[str] = []
            for text, cells, _ in rows:
                self._show(text, cells, grown)
            self._refit(grown)


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)
