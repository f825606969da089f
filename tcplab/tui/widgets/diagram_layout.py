"""The state diagram's geometry: boxes placed like RFC 9293 Figure 5, arrows routed
between them on a character grid, every arrow labelled.

Theory of operation
-------------------
Nothing here lists an edge: the arrows are the rows of
:data:`tcplab.tcp.states.TRANSITIONS`, grouped by (from, to).

* **Tiers.**  A state's tier (its row of boxes) is the length of the longest path to it
  from CLOSED over the forward moves of the table (moves to CLOSED and to the same state
  left out), which gives Figure 5's order: CLOSED, LISTEN/SYN-SENT, SYN-RECEIVED,
  ESTABLISHED, FIN-WAIT-1/CLOSE-WAIT, FIN-WAIT-2/CLOSING/LAST-ACK, TIME-WAIT.  Within a
  tier a state takes Figure 5's side (:data:`SIDE`): the active closer on the left, the
  passive one on the right.
* **Two CLOSED boxes**, as in the RFC's figure: the top one is where connections start
  (and where LISTEN and SYN-SENT go back on CLOSE); the bottom one is where they end.
* **Main moves and exits.**  The moves of the normal life of a connection (every move
  that does not end in CLOSED, and the orderly ends: CLOSE, the ACK of the last FIN, the
  2MSL timeout) are arrows between boxes.  The others -- resets, aborts, timeouts, ICMP
  errors -- lead from every state to CLOSED; drawn between boxes they would hide the
  figure, so each state's are one arrow in a list of exits beside or below it
  (:func:`exit_lines`), as the RFC's figure leaves them to the text.
* **Routing.**  Each arrow is a cheapest path on the grid (A*): a step costs 1, a
  bend more, crossing another arrow at a right angle much more, and running along
  another arrow, through a box or through an arrowhead is not allowed.  It leaves its
  box through a side (the border shows a tee) and ends in an arrowhead against the
  target box.  A move to the same state (TIME-WAIT's re-ACK) is a loop under its box.
* **Labels** (``rcv FIN / snd ACK``) go beside the arrow's longest straight run, in
  free cells with a space around them; an arrow with no room for its label gets a
  number and its label goes under the figure.

The layout depends only on the table, so it is computed once (:func:`layout`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cache

from tcplab.tcp.states import TRANSITIONS, State, Transition, Trigger

S = State
SIDE: dict[State, int] = {   # Figure 5's columns: 0 left, 1 centre, 2 right
    S.CLOSED: 1, S.LISTEN: 1, S.ESTABLISHED: 1, S.CLOSING: 1,
    S.SYN_RECEIVED: 0, S.FIN_WAIT_1: 0, S.FIN_WAIT_2: 0, S.TIME_WAIT: 0,
    S.SYN_SENT: 2, S.CLOSE_WAIT: 2, S.LAST_ACK: 2,
}
BOX_W = 16
BOX_H = 3
GAP = 2                      # rows between two tiers of boxes
COLUMN_X = (1, 39, 77)
SIDE_ENTRY = 0              # extra cost of entering a box of another tier from the side
WIDTH = COLUMN_X[2] + BOX_W + 1
ORDERLY = frozenset((Trigger.CLOSE, Trigger.RCV_ACK_OF_FIN, Trigger.TIME_WAIT_TIMEOUT))

N, E, SO, W = 1, 2, 4, 8     # the directions a line leaves a cell to
_STEP = {N: (0, -1), E: (1, 0), SO: (0, 1), W: (-1, 0)}
_BACK = {N: SO, SO: N, E: W, W: E}
LIGHT = {N | SO: "│", E | W: "─", SO | E: "┌", SO | W: "┐", N | E: "└", N | W: "┘",
         N | SO | E: "├", N | SO | W: "┤", E | W | SO: "┬", E | W | N: "┴",
         N | E | SO | W: "┼", N: "│", SO: "│", E: "─", W: "─"}
HEAVY = {N | SO: "┃", E | W: "━", SO | E: "┏", SO | W: "┓", N | E: "┗", N | W: "┛",
         N: "┃", SO: "┃", E: "━", W: "━"}
HEADS = {N: "▲", E: "▶", SO: "▼", W: "◀"}


def label_of(row: Transition) -> str:
    """``rcv SYN / snd SYN,ACK``: the event, then what is sent."""
    return row.trigger.value + (f" / snd {row.sends}" if row.sends else "")


def is_main(row: Transition) -> bool:
    """A move of a connection's normal life (an arrow between boxes)."""
    return row.next is not S.CLOSED or row.trigger in ORDERLY


@dataclass(slots=True)
class Box:
    state: State
    x: int
    y: int
    w: int = BOX_W
    h: int = BOX_H
    bottom: bool = False      # the second CLOSED box, where connections end

    def inside(self, x: int, y: int) -> bool:
        return self.x <= x < self.x + self.w and self.y <= y < self.y + self.h


@dataclass(slots=True)
class Edge:
    """One arrow: the table rows it stands for and where it is drawn."""

    src: State
    dst: State
    rows: tuple[Transition, ...]
    cells: dict[tuple[int, int], int] = field(default_factory=dict)  # cell -> line bits
    head: tuple[int, int, int] = (0, 0, SO)                         # x, y, direction
    port: tuple[int, int, str] = (0, 0, "")                          # the tee on the border
    label_at: tuple[int, int] | None = None
    note: int = 0             # its number when the label went under the figure

    @property
    def label(self) -> str:
        return "; ".join(label_of(r) for r in self.rows)


@dataclass(slots=True)
class Layout:
    width: int
    height: int
    boxes: list[Box]
    edges: list[Edge]
    exits: list[Edge]         # per state, its moves to CLOSED that are not main ones

    def box_of(self, state: State, bottom: bool = False) -> Box:
        return next(b for b in self.boxes if b.state is state and b.bottom == bottom)


def tiers() -> dict[State, int]:
    """Longest path from CLOSED over the forward moves (see the module docstring)."""
    tier = {S.CLOSED: 0}
    forward = [(r.state, r.next) for r in TRANSITIONS
               if r.next is not S.CLOSED and r.next is not r.state]
    for _ in range(len(State)):
        for a, b in forward:
            if a in tier and tier.get(b, -1) < tier[a] + 1:
                tier[b] = tier[a] + 1
    return tier


@cache
def layout() -> Layout:
    tier = tiers()
    bottom_tier = max(tier.values())
    pitch = BOX_H + GAP
    boxes = [Box(s, COLUMN_X[SIDE[s]], tier[s] * pitch) for s in State]
    boxes.append(Box(S.CLOSED, COLUMN_X[2], bottom_tier * pitch, bottom=True))
    height = bottom_tier * pitch + BOX_H + 1  # a row for the loop under the last tier
    router = _Router(WIDTH, height, boxes)
    groups: dict[tuple[State, State, bool], list[Transition]] = {}
    exits: dict[State, list[Transition]] = {}
    for row in TRANSITIONS:
        if is_main(row):
            to_bottom = row.next is S.CLOSED and tier[row.state] > tier[S.LISTEN]
            groups.setdefault((row.state, row.next, to_bottom), []).append(row)
        else:
            exits.setdefault(row.state, []).append(row)
    edges: list[Edge] = []
    # loops first, with their labels: they have one place only
    order = sorted(groups.items(), key=lambda item: (item[0][0] is not item[0][1],
                                                     _distance(boxes, *item[0])))
    for (src, dst, to_bottom), rows in order:
        edge = Edge(src, dst, tuple(rows))
        a = next(b for b in boxes if b.state is src and not b.bottom)
        b = next(b for b in boxes if b.state is dst and b.bottom == to_bottom)
        if src is dst:
            router.loop(edge, a)
            router.place_label(edge)
        else:
            router.route(edge, a, b)
        edges.append(edge)
    notes = 0
    for edge in sorted(edges, key=lambda e: len(e.cells)):
        if edge.label_at is None and not router.place_label(edge):
            notes += 1
            edge.note = notes
    exit_edges = [Edge(s, S.CLOSED, tuple(rows)) for s, rows in
                  sorted(exits.items(), key=lambda item: (tier[item[0]], SIDE[item[0]]))]
    return Layout(WIDTH, height, boxes, [e for e in edges], exit_edges)


def _distance(boxes: list[Box], src: State, dst: State, to_bottom: bool) -> int:
    a = next(b for b in boxes if b.state is src and not b.bottom)
    b = next(b for b in boxes if b.state is dst and b.bottom == to_bottom)
    return abs(a.x - b.x) + abs(a.y - b.y)


class _Router:
    """The grid arrows are routed on (see the module docstring)."""

    def __init__(self, width: int, height: int, boxes: list[Box]) -> None:
        self.w, self.h = width, height
        self.boxes = boxes
        self.bits: dict[tuple[int, int], int] = {}
        self.taken: set[tuple[int, int]] = set()   # arrowheads, tees, labels
        self.text: dict[tuple[int, int], str] = {}  # label characters
        self.near: set[tuple[int, int]] = set()    # cells beside a box's border
        self.box_cells = {(x, y) for b in boxes for x in range(b.x, b.x + b.w)
                          for y in range(b.y, b.y + b.h)}
        for b in boxes:
            for x in range(b.x - 1, b.x + b.w + 1):
                for y in range(b.y - 1, b.y + b.h + 1):
                    if not b.inside(x, y):
                        self.near.add((x, y))

    def boxed(self, x: int, y: int) -> bool:
        return (x, y) in self.box_cells

    def _ports(self, box: Box) -> list[tuple[int, int, int]]:
        """Cells beside a box's sides (not its corners) and the direction away."""
        out = []
        for x in range(box.x + 2, box.x + box.w - 2):
            out += [(x, box.y - 1, N), (x, box.y + box.h, SO)]
        for y in range(box.y + 1, box.y + box.h - 1):
            out += [(box.x - 1, y, W), (box.x + box.w, y, E)]
        return [p for p in out if 0 <= p[0] < self.w and 0 <= p[1] < self.h]

    def _free(self, x: int, y: int) -> bool:
        return (0 <= x < self.w and 0 <= y < self.h and not self.boxed(x, y)
                and (x, y) not in self.taken)

    def route(self, edge: Edge, a: Box, b: Box) -> None:
        goals = {(x, y): d for x, y, d in ((x, y, _BACK[d]) for x, y, d in self._ports(b))
                 if self._free(x, y) and (x, y) not in self.bits}
        # A*: cost so far plus the distance left to the cells around the target box
        x0, x1, y0, y1 = b.x - 1, b.x + b.w, b.y - 1, b.y + b.h

        def left(x: int, y: int) -> int:
            return max(x0 - x, 0, x - x1) + max(y0 - y, 0, y - y1)

        heap: list[tuple[int, int, int, int, int, int]] = []
        came: dict[tuple[int, int, int], tuple[int, int, int] | None] = {}
        best: dict[tuple[int, int, int], int] = {}
        for x, y, d in self._ports(a):
            if self._free(x, y) and (x, y) not in self.bits:
                # a port on the side facing the target costs less
                cost = 0 if _faces(a, b, d) else 6
                heapq.heappush(heap, (cost + left(x, y), cost, x, y, d, 0))
                best[(x, y, d)] = cost
                came[(x, y, d)] = None
        end: tuple[int, int, int] | None = None
        done: set[tuple[int, int, int]] = set()
        while heap:
            _f, cost, x, y, d, _ = heapq.heappop(heap)
            if (x, y, d) in done:
                end = (x, y, d)
                break
            if cost > best.get((x, y, d), 1 << 30):
                continue
            if goals.get((x, y)) == d:
                # into a box of another tier from above or below, as the figure reads
                side = d in (E, W) and a.y != b.y
                done.add((x, y, d))
                extra = SIDE_ENTRY if side else 0
                heapq.heappush(heap, (cost + extra, cost + extra, x, y, d, -1))
                continue
            for nd in (N, E, SO, W):
                if nd == _BACK[d]:
                    continue
                dx, dy = _STEP[nd]
                nx, ny = x + dx, y + dy
                if not self._free(nx, ny):
                    continue
                step = 1 + (4 if nd != d else 0)
                here = self.bits.get((nx, ny), 0)
                if here:
                    # only a straight crossing at a right angle, never along a line
                    if nd != d or here not in (N | SO, E | W) or here & (nd | _BACK[nd]):
                        continue
                    step += 12
                if (nx, ny) in self.near and (nx, ny) not in goals:
                    step += 1  # keep off other boxes' borders
                if (x, y) in self.bits and nd != d:
                    continue  # no bend on a crossing
                ncost = cost + step
                if ncost < best.get((nx, ny, nd), 1 << 30):
                    best[(nx, ny, nd)] = ncost
                    came[(nx, ny, nd)] = (x, y, d)
                    heapq.heappush(heap, (ncost + left(nx, ny), ncost, nx, ny, nd, len(came)))
        if end is None:
            raise AssertionError(f"no route for {edge.src} -> {edge.dst}")
        path: list[tuple[int, int, int]] = []
        node: tuple[int, int, int] | None = end
        while node is not None:
            path.append(node)
            node = came[node]
        path.reverse()
        sx, sy, sd = path[0]
        edge.port = (sx - _STEP[sd][0], sy - _STEP[sd][1], _tee(sd))
        self.taken.add(edge.port[:2])
        for i, (x, y, d) in enumerate(path[:-1]):
            out = path[i + 1][2]
            bits = _BACK[d] | out
            edge.cells[(x, y)] = bits
            self.bits[(x, y)] = self.bits.get((x, y), 0) | bits
        hx, hy, hd = path[-1]
        edge.head = (hx, hy, hd)
        self.taken.add((hx, hy))

    def loop(self, edge: Edge, box: Box) -> None:
        """A move to the same state: out of the box's bottom and back in, a row below."""
        y = box.y + box.h
        x0, x1 = box.x + 3, box.x + 7
        edge.port = (x0, y - 1, _tee(SO))
        edge.cells[(x0, y)] = N | E
        for x in range(x0 + 1, x1):
            edge.cells[(x, y)] = E | W
        edge.head = (x1, y, N)
        for cell, bits in edge.cells.items():
            self.bits[cell] = self.bits.get(cell, 0) | bits
        self.taken |= {(x1, y), (x0, y - 1)}

    def place_label(self, edge: Edge) -> bool:
        text = edge.label
        spots = self._label_spots(edge, len(text))
        # first where no other arrow runs right beside it (it would seem to be that
        # arrow's label), then anywhere free
        for strict in (True, False):
            for x, y in spots:
                if self._fits(edge, x, y, len(text), strict):
                    edge.label_at = (x, y)
                    for i, ch in enumerate(text):
                        self.text[(x + i, y)] = ch
                    self.taken |= {(x + i, y) for i in range(-1, len(text) + 1)}
                    return True
        return False

    def _fits(self, edge: Edge, x: int, y: int, length: int, strict: bool) -> bool:
        if x < 0 or x + length >= self.w:
            return False
        cells = [(x + i, y) for i in range(-1, length + 1)]
        if not all(0 <= cx < self.w and 0 <= cy < self.h and not self.boxed(cx, cy)
                   and (cx, cy) not in self.bits and (cx, cy) not in self.taken
                   for cx, cy in cells):
            return False
        if strict:
            for cx in (x - 2, x + length + 1):
                if (cx, y) in self.bits and (cx, y) not in edge.cells:
                    return False
        return True

    def _label_spots(self, edge: Edge, length: int) -> list[tuple[int, int]]:
        """Where a label may start: beside each vertical run, above or below each
        horizontal one, the longest runs first, the middle of a run first."""
        runs = _runs(edge)
        spots: list[tuple[int, int]] = []
        for cells, vertical in sorted(runs, key=lambda r: -len(r[0])):
            middle = sorted(cells, key=lambda c: abs(cells.index(c) - len(cells) // 2))
            for x, y in middle:
                if vertical:
                    spots += [(x + 2, y), (x - 1 - length, y)]
                else:
                    mid = x - length // 2
                    spots += [(mid, y - 1), (mid, y + 1)]
        hx, hy, _ = edge.head
        return [*spots, (hx + 2, hy), (hx - 1 - length, hy)]


def _runs(edge: Edge) -> list[tuple[list[tuple[int, int]], bool]]:
    """The straight runs of an arrow (cells of a vertical run, or of a horizontal one)."""
    runs: list[tuple[list[tuple[int, int]], bool]] = []
    for cell, bits in edge.cells.items():
        for vertical, want in ((True, N | SO), (False, E | W)):
            if bits == want:
                if runs and runs[-1][1] == vertical and _next_to(runs[-1][0][-1], cell):
                    runs[-1][0].append(cell)
                else:
                    runs.append(([cell], vertical))
    hx, hy, hd = edge.head
    head_vertical = hd in (N, SO)
    if runs and runs[-1][1] == head_vertical and _next_to(runs[-1][0][-1], (hx, hy)):
        runs[-1][0].append((hx, hy))
    elif not runs:
        runs.append(([(hx, hy)], head_vertical))
    return runs


def _next_to(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1


def _faces(a: Box, b: Box, d: int) -> bool:
    """Does leaving ``a`` in direction ``d`` head towards ``b``?"""
    if d == SO:
        return b.y >= a.y + a.h
    if d == N:
        return b.y + b.h <= a.y
    if d == E:
        return b.x >= a.x + a.w
    return b.x + b.w <= a.x


def _tee(d: int) -> str:
    """The border character where an arrow leaves a box in direction ``d``."""
    return {N: "┴", SO: "┬", E: "├", W: "┤"}[d]
