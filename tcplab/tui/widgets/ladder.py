"""The ladder: a connection's segments between two time lanes, its two ends.

Left is the selected socket, right its peer.  Each line is one segment, an arrow from
the lane that sent it to the lane that received it, with each lane's time beside it
(sent at one end, arrived at the other), so the arrow "slants" from its send time to
its arrival time: it leaves high (``‾``) and lands low (``_``).  A segment the network
dropped ends in a cross (``✕``) at the link that lost it -- a third of the way for the
sender's first hop, two thirds for a later one -- with the reason; a retransmission is
labelled ``rtx``, a segment a ``hold`` kept in the network ``held`` with a ``‖`` on
its arrow.  Each lane also shows its socket's state where it changes (as RFC 9293's
own ladders do).  Labels are packetdrill-like (``P. 1:1461(1460) ack 1``) and shorten
to keep one line per segment at any width.  Sequence numbers are relative to each
side's ISN.  Send and arrival times come from
:func:`tcplab.tui.history.flights`, which ``export ladder`` draws from too.

The pane scrolls and follows the newest segment
(:class:`~tcplab.tui.widgets.history_log.HistoryLog`); when only the last lines
changed (a segment in flight arrived), only those are drawn again.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.widgets import Static

from tcplab.lab.snapshot import SocketRow
from tcplab.lab.timeline import Timeline
from tcplab.tcp.states import State
from tcplab.tui import history
from tcplab.tui.history import Flight, Marker, SegRecord, flights, states_after
from tcplab.tui.widgets.colors import ROLE, STATE_COLORS, role
from tcplab.tui.widgets.history_log import HistoryLog
from tcplab.tui.widgets.runs import put

SEGMENT_FILTERS = ("all", "SYN", "FIN", "RST", "data", "rtx", "drops")
TIME_W = 8
STATE_W = 12
NARROW = 80         # below this width the lanes show no states
TAIL = 200          # lines at the end that may change (segments in flight) in place


def _flag_style(rec: SegRecord) -> str:
    """The label's colour, from the palette of the theme in use (dark or light)."""
    if rec.dropped:
        return role("error")
    if "R" in rec.flags:
        return role("error", "bold")
    if "S" in rec.flags:
        return STATE_COLORS[State.SYN_SENT]
    if "F" in rec.flags:
        return STATE_COLORS[State.FIN_WAIT_1]
    if rec.retransmission:
        return STATE_COLORS[State.CLOSE_WAIT]
    return role("ok") if not rec.length else ""


def _state_style(name: str) -> str:
    try:
        return f"bold {STATE_COLORS[State(name)]}"
    except ValueError:
        return "bold"


def keep(rec: SegRecord | Marker, which: str) -> bool:
    """The segment filter: by flags, retransmissions or drops."""
    if isinstance(rec, Marker):
        return which == "all"
    return {"all": True, "SYN": "S" in rec.flags, "FIN": "F" in rec.flags,
            "RST": "R" in rec.flags, "data": rec.length > 0, "rtx": rec.retransmission,
            "drops": bool(rec.dropped)}.get(which, True)


def labels(rec: SegRecord) -> list[str]:
    """The segment's label, longest first: each drops a detail of the one before."""
    end = (rec.seq + rec.length) & 0xFFFFFFFF
    tags = "".join(f" {tag}" for tag, on in (("rtx", rec.retransmission), ("held", rec.held),
                                             (f"({rec.refused})", rec.refused)) if on)
    short = "".join(f" {tag}" for tag, on in (("rtx", rec.retransmission), ("H", rec.held),
                                              ("✕", rec.refused)) if on)
    ack = "." in rec.flags
    full = f"{rec.flags} {rec.seq}:{end}({rec.length})"
    return [rec.label + tags,
            full + (f" ack {rec.ack}" if ack else "") + tags,
            full + (f" a{rec.ack}" if ack else "") + tags,
            f"{rec.flags} {rec.seq}({rec.length})" + short,
            rec.flags]


HIGH, MID, LOW = "‾", "─", "_"


def _slant(length: int, rightwards: bool, gap: int = 0) -> str:
    """An arrow's body that leaves high and lands low, in the direction it goes; with a
    ``gap`` (for its label) in the middle, each side steps from its end to the middle."""
    if length <= 0:
        return ""
    side = (length - gap) // 2
    first = side - side // 2
    body = (HIGH * first + MID * (side - first) + " " * gap
            + MID * (side // 2) + LOW * (length - gap - side - side // 2))
    return body if rightwards else body[::-1]


def _arrow(f: Flight, width: int, left_host: str) -> Text:
    """The part between the lanes: ``width`` cells."""
    rec = f.rec
    right = rec.outbound
    style = _flag_style(rec)
    line_style = role("error", "bold") if rec.dropped else "dim"
    text = Text()
    if rec.dropped:
        # where it was lost, from the sender: its first hop, or a later one
        src, _, dst = rec.link.partition(">")
        first_hop = src == left_host if right else dst != left_host
        cross = width // 3 if first_hop else (2 * width) // 3
        if not right:
            cross = width - 1 - cross
        # the shaft from the sender to the cross; the label inside it, or after the
        # cross with the reason
        shaft = cross if right else width - cross - 1
        outside = width - shaft - 1
        reasons = [f" {rec.dropped} {rec.link}" if rec.link else f" {rec.dropped}",
                   f" {rec.dropped}", ""]
        inside, label, reason = True, labels(rec)[-1], ""
        # the sequence numbers and the reason matter most, then the link, then detail
        names = labels(rec)
        tiers = [(reasons[0], names[:-1]), (reasons[1], names[:-1]),
                 *((why, names) for why in reasons)]
        chosen = False
        for why, options in tiers:
            for option in options:
                if len(option) + 2 <= shaft - 2 and len(why) <= outside:
                    inside, label, reason, chosen = True, option, why, True
                elif len(option) + 1 + len(why) <= outside:
                    inside, label, reason, chosen = False, option, why, True
                if chosen:
                    break
            if chosen:
                break
        body = _slant(shaft, right)
        if inside:
            at = (shaft - len(label) - 2) // 2
            pieces = [(body[:at], line_style), (f" {label} ", style),
                      (body[at + len(label) + 2:], line_style)]
            note = reason
        else:
            pieces = [(body, line_style)]
            note = f" {label}{reason}"
        note = note[:outside]
        if right:
            for piece, s in pieces:
                put(text, piece, style=s)
            put(text, "✕", style=role("error", "bold"))
            put(text, note.ljust(outside), style=role("error", "bold"))
        else:
            put(text, note.rjust(outside)[-outside:] if outside else "",
                style=role("error", "bold"))
            put(text, "✕", style=role("error", "bold"))
            for piece, s in pieces:
                put(text, piece, style=s)
        return text
    shaft = width - 1
    label = next((x for x in labels(rec) if len(x) + 2 <= shaft - 4), "")
    gap = len(label) + 2 if label else 0
    body = _slant(shaft, right, gap)
    at = (shaft - gap) // 2 if right else shaft - gap - (shaft - gap) // 2
    if rec.held:
        # where the network kept it: a pause sign on the sender's side of the label
        mark = max(at // 2, 0) if right else at + gap + (shaft - at - gap) // 2
        body = body[:mark] + "‖" + body[mark + 1:]
    if right:
        head, tail = "", "▶"
    else:
        head, tail = "◀", ""
    put(text, head, style=line_style)
    put(text, body[:at], style=line_style)
    if label:
        put(text, f" {label} ", style=style)
    put(text, body[at + gap:], style=line_style)
    put(text, tail, style=line_style)
    return text


LineCache = dict[tuple[object, ...], Text]


def ladder_rows(own: list[SegRecord | Marker], peer: list[SegRecord | Marker],
                width: int, which: str = "all", left_host: str = "",
                cache: LineCache | None = None) -> list[Text]:
    """One line per segment of ``own`` (the selected socket's ladder), ``width``
    cells wide; ``peer`` (the other end's ladder, may be empty) gives arrival times
    and the peer's states.  ``cache`` keeps the lines made, by what they show: a
    redraw makes only the lines of new or changed segments (the returned Texts are
    shared: do not change them)."""
    states = width >= NARROW
    state_w = STATE_W if states else 0
    side = TIME_W + 1 + (state_w + 1 if states else 0)
    arrow_w = max(width - 2 * side - 2, 8)
    mine = states_after(own)
    theirs = states_after(peer)
    shown_l = shown_r = ""
    lines: list[Text] = []
    for f in flights(own, peer):
        rec = f.rec
        # the state on each side after this segment, written where it changes
        left_state = mine.get(id(rec), "")
        right_state = theirs.get(id(f.other), "") if f.other is not None else ""
        ls = left_state if left_state and left_state != shown_l else ""
        rs = right_state if right_state and right_state != shown_r else ""
        shown_l = left_state or shown_l
        shown_r = right_state or shown_r
        if not keep(rec, which):
            continue
        # an incoming segment not arrived yet (still in the network): "…" on this side
        t_left: float | None = rec.t if rec.outbound else f.arrived
        t_right = f.arrived if rec.outbound else (f.sent if f.other is not None else None)
        if rec.dropped and not rec.outbound:
            t_left, t_right = None, rec.t  # the peer sent it; it never reached us
        key = (t_left, t_right, rec.outbound, rec.flags, rec.seq, rec.ack, rec.window,
               rec.length, rec.dropped, rec.link, rec.retransmission, rec.held, rec.refused,
               ls, rs,
               width, left_host, ROLE["ok"])  # the palette: a theme switch redraws
        if cache is not None:
            made = cache.get(key)
            if made is not None:
                lines.append(made)
                continue
        line = Text()
        put(line, _time(t_left), style="dim")
        put(line, " ")
        if states:
            put(line, f"{ls[:state_w]:<{state_w}} ", style=_state_style(ls) if ls else "")
        put(line, "│", style="bold")
        line.append_text(_arrow(f, arrow_w, left_host))
        put(line, "│", style="bold")
        if states:
            put(line, f" {rs[:state_w]:<{state_w}}", style=_state_style(rs) if rs else "")
        put(line, " ")
        # a refused segment its peer socket did not send (the host answered): no time
        unknown = " " * TIME_W if rec.refused and f.other is None else None
        put(line, unknown or _time(t_right), style="dim")
        lines.append(line)
        if cache is not None:
            cache[key] = line
    if cache is not None and len(cache) > 3 * max(len(lines), 1000):
        cache.clear()  # seldom: a long run, another connection, another width
    return lines


def _time(t: float | None) -> str:
    return f"{t:{TIME_W}.3f}" if t is not None else " " * (TIME_W - 1) + "…"


def ladder_header(left: str, right: str, which: str, width: int = 100,
                  left_state: str = "", right_state: str = "") -> Text:
    """The lanes' names over the ladder (and each end's state now)."""
    states = width >= NARROW
    side = TIME_W + 1 + (STATE_W + 1 if states else 0)
    inner = max(width - 2 * side - 2, 8)
    lname, rname = _lane_names(left, right, left_state, right_state, inner)
    text = Text()
    put(text, f"{'time':>{TIME_W}} " + (f"{'state':<{STATE_W}} " if states else ""),
                style="dim")
    middle = lname + rname.rjust(inner - len(lname))
    put(text, "┌" + middle + "┐", style="bold")
    put(text, (f" {'state':<{STATE_W}}" if states else "") + f" {'time':>{TIME_W}}",
                style="dim")
    if which != "all":
        put(text, f"  showing {which} (f)", style="italic")
    return text


def _short(name: str) -> str:
    """``h1 10.0.0.1:41128`` as ``h1:41128``: the host and port say which end it is."""
    host, _, addr = name.partition(" ")
    return f"{host}:{addr.rsplit(':', 1)[1]}" if ":" in addr else name


def _lane_names(left: str, right: str, left_state: str, right_state: str, inner: int
                ) -> tuple[str, str]:
    """Both lanes' names in ``inner`` cells, shortened until they fit: without the
    states (the lanes show them too), then as host:port, then cut in halves."""
    def with_state(name: str, state: str) -> str:
        return name + (f" ({state})" if state else "")

    for lname, rname in ((with_state(left, left_state), with_state(right, right_state)),
                         (left, right),
                         (with_state(_short(left), left_state),
                          with_state(_short(right), right_state)),
                         (_short(left), _short(right))):
        if len(lname) + len(rname) + 2 <= inner:  # two spaces apart: two names
            return lname, rname
    half = inner // 2
    return _short(left)[: half - 1], _short(right)[-(inner - half - 1):]


def ladder_lines(records: list[SegRecord | Marker], which: str = "all",
                 width: int = 100) -> list[Text]:
    """The ladder of one end alone (no peer: no arrival times)."""
    return ladder_rows(records, [], width, which)


class Ladder(HistoryLog):
    """The scrollable ladder (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._line_cache_rows: LineCache = {}

    def show_connection(self, timeline: Timeline, row: SocketRow, peer: SocketRow | None,
                        n: int, which: str, head: Static, left: str, right: str) -> None:
        """Draw ``row``'s ladder after the first ``n`` events (``head`` gets the lanes'
        names), as wide as the pane."""
        width = self.scrollable_content_region.width or max(self.app.size.width - 6, 40)
        own = history.ladder(timeline, row, n)
        other = history.ladder(timeline, peer, n) if peer is not None else []
        head.update(ladder_header(left, right, which, width, row.state,
                                  peer.state if peer is not None else ""))
        lines = ladder_rows(own, other, width, which, row.host, self._line_cache_rows)
        if not lines:
            lines = [Text("(no segments yet)", style="dim")]
        # a theme switch (another palette) draws every line again, in its colours
        self.show((row.key, which, timeline.rewinds, width, ROLE["ok"]), lines)

    def on_resize(self, event: events.Resize) -> None:
        # (RichLog's own on_resize runs too: Textual calls each class's handler)
        redraw = getattr(self.app, "refresh_all", None)
        if redraw is not None:
            self.call_after_refresh(redraw)  # the labels fit the new width

    def show(self, context: object, lines: list[Text]) -> None:
        self._replace_changed_tail(context, [line.plain for line in lines])
        super().show(context, lines)

    def _replace_changed_tail(self, context: object, plain: list[str]) -> None:
        """Forget the shown lines from the first one among the last ``TAIL`` that
        changed (a segment in flight got its arrival time): the pane then appends
        from there instead of drawing everything again."""
        shown: list[str] = self._plain
        if context != self._shown_for or not self.following or not shown:
            return
        m = len(shown)
        anchor_i = max(0, m - TAIL)
        anchor = shown[anchor_i]
        for j in range(len(plain) - 1, max(-1, len(plain) - 4 * TAIL), -1):
            if plain[j] != anchor:
                continue
            k = 0
            while anchor_i + k < m and j + k < len(plain) and shown[anchor_i + k] == plain[j + k]:
                k += 1
            cut = anchor_i + k
            if cut < m and cut > 0:
                self._truncate(cut)
            return

    def _truncate(self, keep_lines: int) -> None:
        # RichLog keeps one rendered strip per line (no wrapping here)
        lines: list[Any] = self.lines
        del lines[keep_lines:]
        self._plain = self._plain[:keep_lines]
        self._line_cache.clear()
        self.virtual_size = Size(self.virtual_size.width, len(lines))
