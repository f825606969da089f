"""The sockets table: every socket of every host at the cursor, one row each.

Rows come from a :class:`~tcplab.lab.snapshot.Snapshot` -- the fold of the events up
to the dashboard's cursor -- never from the lab's live objects, so a live run and its
replay show the same table at the same instant.  Cells are compared with what is
shown, so a redraw touches only what changed; a state change flashes for a second of
run time.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tcplab.lab.snapshot import Key, Snapshot, SocketRow
from tcplab.tcp.states import State
from tcplab.tui.widgets.colors import STATE_COLORS

FLASH_SECONDS = 1.0
# timers beside the state: the TIME-WAIT countdown is what people watch
COLUMNS = ("name", "host", "local", "remote", "state", "timers", "sendq", "recvq", "una/nxt",
           "rcv.nxt", "wnd", "cwnd", "ssthresh", "flight", "srtt/rto")
# widths that hold every value a column can take (a cell never grows its column)
WIDTHS = {"name": 6, "host": 5, "local": 21, "remote": 21, "state": 12, "timers": 20,
          "sendq": 9, "recvq": 9, "una/nxt": 21, "rcv.nxt": 10, "wnd": 21, "cwnd": 10,
          "ssthresh": 10, "flight": 10, "srtt/rto": 14}
UNLIMITED = 1 << 30     # the engine's "infinite" ssthresh


def _timers(row: SocketRow, now: float) -> str:
    return " ".join(f"{name} {max(deadline - now, 0):.1f}s" for name, deadline in row.timers)


def _state(row: SocketRow, now: float) -> Text:
    style = STATE_COLORS[State(row.state)]
    if row.path and 0 <= now - row.changed < FLASH_SECONDS:
        style = "bold reverse " + style
    return Text(row.state, style=style)


def socket_row(name: str, row: SocketRow, now: float) -> tuple[Any, ...]:
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


class SocketsTable(DataTable[Any]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.selected: Key | None = None
        self.sort_by = 0
        self.filter_text = ""
        self._row_keys: list[str] = []
        self._cells: dict[str, dict[str, Any]] = {}  # what each row shows now
        self._keys: dict[str, Key] = {}
        self._live: set[Key] = set()     # rows with countdowns or a flash running

    def on_mount(self) -> None:
        for col in COLUMNS:
            self.add_column(col, key=col, width=WIDTHS[col])

    @property
    def count(self) -> int:
        return len(self._row_keys)

    def resort(self) -> None:
        self._row_keys = []

    def select(self, key: Key) -> None:
        """Put the cursor on a socket's row (a breakpoint fired on it)."""
        text = f"{key[0]}/{key[1]}"
        if text in self._row_keys:
            self.move_cursor(row=self._row_keys.index(text))
            self.selected = key

    def update_rows(self, snap: Snapshot, now: float, touched: set[Key] | None = None
                    ) -> None:
        """Show the fold ``snap`` at time ``now``.  ``touched``: the sockets that changed
        since the last call, when ``snap`` only went on from the last one (a live run);
        then only their rows and the running countdowns and flashes are redrawn -- with
        a thousand sockets, every row on every redraw costs too much.  None: every row
        (a seek; also a new socket, a sort or a filter)."""
        partial = (touched is not None and not self.sort_by and not self.filter_text
                   and all(f"{h}/{sid}" in self._cells for h, sid in touched))
        if partial:
            assert touched is not None
            self._some_rows(snap, now, touched)
        else:
            self._all_rows(snap, now)
        if self._row_keys and 0 <= self.cursor_row < len(self._row_keys):
            self.selected = self._keys[self._row_keys[self.cursor_row]]
        elif not self._row_keys:
            self.selected = None

    def _some_rows(self, snap: Snapshot, now: float, touched: set[Key]) -> None:
        live = self._live
        for key in touched:
            row = snap.rows.get(key)
            if row is not None:
                self._show(f"{key[0]}/{key[1]}",
                           socket_row(snap.name_of(key) or "", row, now))
                if row.timers or 0 <= now - row.changed < FLASH_SECONDS:
                    live.add(key)
        for key in list(live - touched):
            row = snap.rows.get(key)
            if row is None:
                live.discard(key)
                continue
            # countdowns move with the clock alone, a flash ends by itself
            text = f"{key[0]}/{key[1]}"
            self._show(text, socket_row(snap.name_of(key) or "", row, now))
            if not row.timers and now - row.changed >= FLASH_SECONDS:
                live.discard(key)

    def _show(self, text: str, cells: tuple[Any, ...]) -> None:
        shown = self._cells[text]
        for name, value in zip(COLUMNS, cells, strict=True):
            if not _same(shown.get(name), value):
                self.update_cell(text, name, value)
                shown[name] = value

    def _all_rows(self, snap: Snapshot, now: float) -> None:
        rows: list[tuple[str, tuple[Any, ...], Key]] = []
        needle = self.filter_text.lower()
        self._live = set()
        for key, row in sorted(snap.rows.items(), key=lambda kv: _natural(kv[0])):
            cells = socket_row(snap.name_of(key) or "", row, now)
            if needle and needle not in " ".join(
                    c.plain if isinstance(c, Text) else str(c) for c in cells).lower():
                continue
            rows.append((f"{key[0]}/{key[1]}", cells, key))
            if row.timers or 0 <= now - row.changed < FLASH_SECONDS:
                self._live.add(key)
        col = self.sort_by
        if col:
            rows.sort(key=lambda r: str(r[1][col]))
        keys = [r[0] for r in rows]
        self._keys = {r[0]: r[2] for r in rows}
        if keys != self._row_keys:
            cursor_key = self._row_keys[self.cursor_row] if (
                self._row_keys and 0 <= self.cursor_row < len(self._row_keys)) else None
            self.clear()
            self._cells = {}
            for text, cells, _ in rows:
                self.add_row(*cells, key=text)
                self._cells[text] = dict(zip(COLUMNS, cells, strict=True))
            self._row_keys = keys
            if cursor_key in keys:
                self.move_cursor(row=keys.index(cursor_key))
        else:
            for text, cells, _ in rows:
                self._show(text, cells)
        if self._row_keys and 0 <= self.cursor_row < len(self._row_keys):
            self.selected = self._keys[self._row_keys[self.cursor_row]]
        elif not self._row_keys:
            self.selected = None
