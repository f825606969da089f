"""The sockets table: every socket of every host, one row each, kept current cheaply.

With a thousand sockets, reading every socket on every redraw costs too much: the whole
table is read at most once a second (or when sockets come or go, or a sort is on); in
between only the rows whose sockets had events are read again, and running timers count
down from the deadlines already known.  Cells are compared with what is shown, so a redraw
touches only what changed; a state change flashes for a second.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tcplab.lab.lab import Lab
from tcplab.stack.sockets import SocketInfo
from tcplab.tcp.states import State
from tcplab.tui.model import DashboardModel, Key
from tcplab.tui.widgets.colors import STATE_COLORS

FLASH_SECONDS = 1.0
FULL_EVERY = 1.0  # seconds between full rebuilds of the table
# timers beside the state: the TIME-WAIT countdown is what people watch
COLUMNS = ("name", "host", "local", "remote", "state", "timers", "sendq", "recvq", "una/nxt",
           "rcv.nxt", "wnd", "cwnd", "srtt/rto")



def _timers(info: SocketInfo, now: float) -> str:
    return " ".join(f"{name} {max(deadline - now, 0):.1f}s"
                    for name, deadline in sorted(info.status.timers.items()))


def socket_row(name: str, host: str, info: SocketInfo, now: float) -> tuple[Any, ...]:
    st = info.status
    state = Text(info.state.value, style=STATE_COLORS[info.state])
    remote = f"{info.remote[0]}:{info.remote[1]}" if info.remote else "*"
    if info.kind == "listener":
        return (name, host, f"{info.local[0]}:{info.local[1]}", remote, state,
                "", "", "", "", "", "", "", "")
    rel_una = (st.snd_una - st.iss) & 0xFFFFFFFF
    rel_nxt = (st.snd_nxt - st.iss) & 0xFFFFFFFF
    rel_rcv = (st.rcv_nxt - st.irs) & 0xFFFFFFFF
    srtt = f"{st.srtt * 1000:.0f}" if st.srtt is not None else "-"
    return (name, host, f"{info.local[0]}:{info.local[1]}", remote, state, _timers(info, now),
            str(st.send_queue), str(st.recv_queue), f"{rel_una}/{rel_nxt}", str(rel_rcv),
            f"{st.snd_wnd}/{st.rcv_wnd}", str(st.cwnd), f"{srtt}/{st.rto * 1000:.0f}ms")


class SocketsTable(DataTable[Any]):
    def __init__(self, lab: Lab, model: DashboardModel, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.lab = lab
        self.model = model
        self.selected: Key | None = None
        self.sort_by = 0
        self.filter_text = ""
        self._row_keys: list[str] = []
        self._infos: dict[str, tuple[str, SocketInfo]] = {}
        self._cells: dict[str, dict[str, Any]] = {}  # what each row shows now
        self._full_due = 0.0

    def on_mount(self) -> None:
        for col in COLUMNS:
            # fixed: update_cell does not grow a column, and update_width=True costs O(rows)
            self.add_column(col, key=col, width=20 if col == "timers" else None)

    def info(self, key: Key) -> SocketInfo | None:
        found = self._infos.get(f"{key[0]}/{key[1]}")
        return found[1] if found is not None else None

    @property
    def count(self) -> int:
        return len(self._infos)

    def resort(self) -> None:
        self._row_keys = []

    def update_rows(self, force: bool = False) -> None:
        """The whole table at most once a second (or when sockets come or go, or a sort
        is on); in between only the rows whose sockets had events, and the countdowns:
        with 1000 sockets, reading every socket on every refresh costs too much."""
        now = self.lab.now()
        touched = self.model.touched
        self.model.touched = set()
        wall = time.monotonic()
        unseen = any(f"{h}/{sid}" not in self._infos for h, sid in touched)
        if force or unseen or self.sort_by or wall >= self._full_due:
            self._full_due = wall + FULL_EVERY
            self._all_rows(now)
        else:
            self._some_rows(now, touched)
        table = self
        if self._row_keys and 0 <= table.cursor_row < len(self._row_keys):
            host, info = self._infos[self._row_keys[table.cursor_row]]
            self.selected = (host, info.id)
        elif not self._row_keys:
            self.selected = None

    def _all_rows(self, now: float) -> None:
        table = self
        rows: list[tuple[str, tuple[Any, ...], Key]] = []
        infos: dict[str, tuple[str, SocketInfo]] = {}
        needle = self.filter_text.lower()
        for host, info in self.lab.sockets():
            name = self.lab.name_of(host, info.id, info)
            row = socket_row(name, host, info, now)
            if needle and needle not in " ".join(str(c) for c in row).lower():
                continue
            key = f"{host}/{info.id}"
            infos[key] = (host, info)
            rows.append((key, row, (host, info.id)))
        col = self.sort_by
        if col:
            rows.sort(key=lambda r: str(r[1][col]))
        keys = [r[0] for r in rows]
        self._infos = infos
        if keys != self._row_keys:
            cursor_key = self._row_keys[table.cursor_row] if (
                self._row_keys and 0 <= table.cursor_row < len(self._row_keys)) else None
            table.clear()
            self._cells = {}
            for key, row, _ in rows:
                table.add_row(*row, key=key)
                self._cells[key] = dict(zip(COLUMNS, row, strict=True))
            self._row_keys = keys
            if cursor_key in keys:
                table.move_cursor(row=keys.index(cursor_key))
            return
        for key, row, sock in rows:
            self._show_row(table, key, row, sock, now)

    def _some_rows(self, now: float, touched: set[Key]) -> None:
        table = self
        for host, sid in touched:
            key = f"{host}/{sid}"
            if key not in self._cells:
                continue  # filtered out
            info = self.lab.socket(host, sid)
            if info is None:
                continue
            self._infos[key] = (host, info)
            row = socket_row(self.lab.name_of(host, sid, info), host, info, now)
            self._show_row(table, key, row, (host, sid), now)
        for key, (host, info) in self._infos.items():
            if (host, info.id) in touched:
                continue
            cells = self._cells.get(key)
            if cells is None:
                continue
            if info.status.timers and info.kind != "listener":
                text = _timers(info, now)  # countdowns move with the clock alone
                if cells["timers"] != text:
                    table.update_cell(key, "timers", text)
                    cells["timers"] = text
            flash = self.model.flash.get((host, info.id))
            if flash is not None and now - flash >= FLASH_SECONDS:
                del self.model.flash[(host, info.id)]
                cells["state"] = Text(info.state.value, style=STATE_COLORS[info.state])
                table.update_cell(key, "state", cells["state"])

    def _show_row(self, table: DataTable[Any], key: str, row: tuple[Any, ...], sock: Key,
                  now: float) -> None:
        cells = dict(zip(COLUMNS, row, strict=True))
        flash = self.model.flash.get(sock)
        if flash is not None and now - flash < FLASH_SECONDS:
            cells["state"] = Text(cells["state"].plain, style="bold reverse "
                                  + STATE_COLORS[State(cells["state"].plain)])
        elif flash is not None:
            del self.model.flash[sock]  # the flash is over: drawn plain once more
        # diff what is shown, not the SocketInfo: countdowns change with the clock
        prev = self._cells.get(key)
        if prev != cells:
            for col_name, value in cells.items():
                if prev is None or prev.get(col_name) != value:
                    table.update_cell(key, col_name, value)
            self._cells[key] = cells
