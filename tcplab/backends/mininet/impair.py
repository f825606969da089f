"""Where each link direction's impairments live, and putting them there.

Theory of operation
-------------------
A topology gives every link direction a delay, jitter, loss, bandwidth...; the command
``link`` changes them live.  Which machinery carries them out depends on the kernel and
on what sits at each end of the direction:

* **netem** -- when the kernel has ``sch_netem`` (found out at start by adding one on a
  scratch veth pair in a scratch namespace), a netem qdisc on the direction's sending
  interface does everything, for every kind of node, exactly as Mininet's ``TCLink``
  would.
* **agent egress** -- without netem, a direction whose sender is a stack host is impaired
  in that host's agent as the frames leave (the agent runs the shared
  link model against the real clock).
* **agent ingress** -- else, a direction whose receiver is a stack host is impaired in
  that host's agent as the frames come in.
* **bridge** -- neither end a stack host (switch to switch, switch to kernel host, kernel
  host to switch): an nft rule in the root namespace's ``bridge`` family drops the
  direction's frames at random (``numgen random mod 10000 < N``) or all of them while it
  is down.  Delay, jitter, duplication, reordering and bandwidth cannot be had there
  without netem: they are refused with a :class:`~tcplab.lab.events.Notice` and the
  direction's state shows what is really in effect.
* **none** -- two kernel hosts cabled directly, without netem: nothing can be applied.

Values are checked with the shared :class:`~tcplab.netem.link.LinkParams`, so both backends
refuse the same mistakes with the same words.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tcplab.backends.mininet import netlink
from tcplab.lab.backend import LinkState
from tcplab.lab.topology import LinkParams as TopoParams
from tcplab.lab.topology import LinkSpec, TopologySpec
from tcplab.netem.link import LinkParams

Mode = Literal["netem", "egress", "ingress", "bridge", "none"]
NFT_CHAIN = "lossfw"      # not "fwd": nft refuses that name for a chain
DEFAULT_QUEUE = 1000      # packets, netem's and the simulated link's default limit
CHANGEABLE = ("delay", "jitter", "loss", "bw", "dup", "reorder", "queue", "up")
_BRIDGE_CAN = frozenset(("loss", "up", "queue"))


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one direction (``src`` -> ``dst`` on ``link``) is impaired."""

    link: str
    src: str
    dst: str
    mode: Mode
    node: str       # agent host, netem's sending node, or the switch of a bridge rule
    ifname: str     # the interface on ``node`` where it happens
    match: str = ""  # bridge: the nft match naming the port ("oifname X" / "iifname X")

    @property
    def label(self) -> str:
        return f"{self.src}>{self.dst}"


def link_name(ln: LinkSpec) -> str:
    return f"{ln.a}-{ln.b}"


def place(topo: TopologySpec, stack_ifaces: dict[str, str], netem: bool
          ) -> dict[tuple[str, str], Placement]:
    """Placement of every direction, keyed by (link name, src).

    ``stack_ifaces``: stack host -> the interface its agent runs on.
    """
    switches = set(topo.switches)
    out: dict[tuple[str, str], Placement] = {}
    for ln in topo.links:
        name = link_name(ln)
        for src, dst, s_if, d_if in ((ln.a, ln.b, ln.intf_a, ln.intf_b),
                                     (ln.b, ln.a, ln.intf_b, ln.intf_a)):
            if netem:
                p = Placement(name, src, dst, "netem", src, s_if)
            elif stack_ifaces.get(src) == s_if:
                p = Placement(name, src, dst, "egress", src, s_if)
            elif stack_ifaces.get(dst) == d_if:
                p = Placement(name, src, dst, "ingress", dst, d_if)
            elif src in switches:
                p = Placement(name, src, dst, "bridge", src, s_if, f"oifname {s_if}")
            elif dst in switches:
                p = Placement(name, src, dst, "bridge", dst, d_if, f"iifname {d_if}")
            else:
                p = Placement(name, src, dst, "none", src, s_if)
            out[(name, src)] = p
    return out


def initial_state(p: Placement) -> LinkState:
    return LinkState(p.link, p.src, p.dst, 0.0, 0.0, 0.0, None, 0.0, 0.0, DEFAULT_QUEUE, True)


def topo_changes(params: TopoParams) -> dict[str, Any]:
    """A topology direction's TCLink options as ``link`` changes (only what is set)."""
    changes: dict[str, Any] = {}
    for key in ("delay", "jitter", "loss"):
        if getattr(params, key):
            changes[key] = getattr(params, key)
    if params.bw is not None:
        changes["bw"] = params.bw
    if params.max_queue is not None:
        changes["queue"] = params.max_queue
    return changes


def checked(state: LinkState, changes: dict[str, Any]) -> LinkState:
    """``state`` with ``changes``; ValueError (one line) for unknown names or bad values."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ValueError(f"unknown link parameter {unknown[0]!r} "
                         f"(known: {', '.join(CHANGEABLE)})")
    new = dataclasses.replace(state, **changes)
    LinkParams(delay=new.delay, jitter=new.jitter, loss=new.loss, dup=new.dup,
               reorder=new.reorder, bw=new.bw, queue=new.queue, up=new.up)
    return new


def agent_changes(state: LinkState) -> dict[str, Any]:
    """The whole of a direction's state in the agent protocol's ``impair`` form."""
    return {key: getattr(state, key) for key in CHANGEABLE}


def netem_params(state: LinkState) -> dict[str, Any]:
    """The netem qdisc for ``state`` in pyroute2's keywords (µs, percent, packets,
    bit/s); a down direction loses everything."""
    params: dict[str, Any] = {"limit": state.queue}
    if state.delay or state.jitter:
        params["delay"] = round(state.delay * 1e6)
        if state.jitter:
            params["jitter"] = round(state.jitter * 1e6)
    loss = 1.0 if not state.up else state.loss
    if loss:
        params["loss"] = loss * 100
    if state.dup:
        params["duplicate"] = state.dup * 100
    if state.reorder:
        params["prob_reorder"] = state.reorder * 100
    if state.bw is not None:
        params["rate"] = f"{state.bw:.0f}bit"
    return params


def bridge_rule(p: Placement, state: LinkState) -> str | None:
    """The nft rule carrying a bridge direction's loss (or its being down), if any."""
    # A counter per rule: `nft list table bridge tcplab_<id>` shows how much each dropped.
    if not state.up:
        return f"{p.match} counter drop"
    if state.loss:
        threshold = round(state.loss * 10000)
        return (f"{p.match} numgen random mod 10000 < {threshold} counter drop" if threshold
                else None)
    return None


class Impairments:
    """The impairments of every direction, applied where :func:`place` put them.

    The callables reach the outside world: ``agent(host, ifname, where, changes)``,
    ``run(node, what, argv, stdin)`` (node None: the root namespace) and ``notice(text)``.
    """

    def __init__(self, placements: dict[tuple[str, str], Placement], lab_id: str,
                 agent: Callable[[str, str, str, dict[str, Any]], None],
                 run: Callable[[str | None, str, Sequence[str], str | None], None],
                 notice: Callable[[str], None], why_no_netem: str | None) -> None:
        self.placements = placements
        self.table = f"tcplab_{lab_id}"
        self.states = {key: initial_state(p) for key, p in placements.items()}
        self._agent = agent
        self._run = run
        self._notice = notice
        self._why = why_no_netem or "no netem"
        self._table_made = False

    @property
    def nft_table(self) -> str | None:
        """"bridge tcplab_<id>" once created, for the state record."""
        return f"bridge {self.table}" if self._table_made else None

    def set(self, keys: Sequence[tuple[str, str]], changes: dict[str, Any]) -> None:
        """Change the directions ``keys``; all-or-nothing when a value is bad."""
        new = {key: checked(self.states[key], changes) for key in keys}
        bridge_touched = False
        for key, state in new.items():
            p = self.placements[key]
            state = self._possible(p, state, changes)
            if p.mode in ("egress", "ingress"):
                self._agent(p.node, p.ifname, p.mode, agent_changes(state))
            elif p.mode == "netem":
                self._run(p.node, f"netem on {p.ifname}",
                          netlink.helper("netem", p.ifname, json.dumps(netem_params(state))),
                          None)
            elif p.mode == "bridge":
                bridge_touched = True
            self.states[key] = state
        if bridge_touched:
            self._apply_bridge_rules()

    def _possible(self, p: Placement, state: LinkState, changes: dict[str, Any]) -> LinkState:
        """What of ``state`` the direction's mechanism can carry out; a Notice for the rest."""
        if p.mode in ("netem", "egress", "ingress"):
            return state
        can = _BRIDGE_CAN if p.mode == "bridge" else frozenset(("queue",))
        base = initial_state(p)
        refused = [key for key in changes if key not in can and getattr(state, key) !=
                   getattr(base, key)]
        if not refused:
            return state
        where = ("between switches and kernel hosts only loss and up/down apply (nft bridge "
                 "rules)" if p.mode == "bridge" else "nothing applies on a direct link "
                 "between two kernel hosts")
        self._notice(f"link {p.label}: {', '.join(refused)} not applied: {self._why}, and "
                     f"{where}")
        return dataclasses.replace(state, **{key: getattr(base, key) for key in refused})

    def _apply_bridge_rules(self) -> None:
        """Rewrite the whole chain in one nft transaction (a flush and the rules)."""
        lines = []
        if not self._table_made:
            lines += [f"add table bridge {self.table}",
                      f"add chain bridge {self.table} {NFT_CHAIN} "
                      "{ type filter hook forward priority 0; policy accept; }"]
        lines.append(f"flush chain bridge {self.table} {NFT_CHAIN}")
        for key, p in sorted(self.placements.items()):
            if p.mode == "bridge" and (rule := bridge_rule(p, self.states[key])) is not None:
                lines.append(f"add rule bridge {self.table} {NFT_CHAIN} {rule}")
        self._run(None, f"nft table {self.table}", ["nft", "-f", "-"], "\n".join(lines) + "\n")
        self._table_made = True
