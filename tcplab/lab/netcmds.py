"""The commands that act on the network rather than on sockets: ``link``, ``hold``,
``drop`` and ``release``, carried out on a :class:`~tcplab.lab.lab.Lab`'s backend, and
how a link's parameters are written back in the command language."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tcplab.lab import commands as C
from tcplab.lab import units
from tcplab.lab.backend import FilterSpec, LinkState
from tcplab.lab.errors import LabError
from tcplab.lab.events import LinkChanged

if TYPE_CHECKING:
    from tcplab.lab.lab import Lab


def set_link(lab: Lab, cmd: C.Link) -> str:
    """``link A B ...``: change a link's parameters (one direction with ``dir=``)."""
    a, b = cmd.a, cmd.b
    link = lab.backend.find_link(a, b)
    if link is None:
        raise LabError(f"no link between {a} and {b}")
    direction: tuple[str, str] | None = None
    if cmd.direction is not None:
        direction = (cmd.direction.src, cmd.direction.dst)
        if set(direction) != {a, b}:
            raise LabError(f"dir={cmd.direction} is not a direction of link {a}-{b}")
    changes: dict[str, Any] = {}
    for name in ("loss", "delay", "jitter", "dup", "reorder", "up"):
        value = getattr(cmd, name)
        if value is not None:
            changes[name] = value
    if cmd.bw is not None:
        changes["bw"] = cmd.bw or None
    if cmd.queue is not None:
        changes["queue"] = cmd.queue or 1000
    if cmd.burst is not None:
        changes["burst"] = None if cmd.burst == (0.0, 0.0) else cmd.burst
    try:
        lab.backend.set_link(link, direction, changes)
    except ValueError as exc:
        raise LabError(str(exc)) from None
    states = [st for st in lab.backend.link_states(link)
              if direction is None or (st.src, st.dst) == direction]
    for st in states:
        lab.bus.publish(LinkChanged(lab.now(), "", link, f"{st.src}>{st.dst}",
                                     describe_params(st)))
    return f"link {link}: " + "; ".join(
        f"{st.src}>{st.dst} {describe_params(st)}" for st in states)

def _spec(lab: Lab, flow: C.Flow, kind: C.SegmentKind, action: str,
      count: int | None) -> FilterSpec:
    src, dst = flow.src, flow.dst
    if lab.backend.find_link(src, dst) is not None:
        return FilterSpec(src, dst, kind, action, count)
    shost, dhost = lab._host(src), lab._host(dst)
    return FilterSpec(shost, dhost, kind, action, count, (lab._ip(shost), lab._ip(dhost)))

def add_filter(lab: Lab, cmd: C.Hold | C.Drop) -> str:
    """``hold`` or ``drop``: a filter on the segments of a flow."""
    action = "hold" if isinstance(cmd, C.Hold) else "drop"
    spec = _spec(lab, cmd.flow, cmd.kind, action, cmd.count)
    try:
        lab.backend.add_filter(spec)
    except ValueError as exc:
        raise LabError(str(exc)) from None
    count = "all" if cmd.count is None else f"the next {cmd.count}"
    return f"{action}: {count} {cmd.kind} segments {cmd.flow}"

def release(lab: Lab, cmd: C.Release) -> str:
    """``release``: deliver the held segments of a flow, or all."""
    if cmd.flow is None:
        released = lab.backend.release(None, None)
    else:
        spec = _spec(lab, cmd.flow, C.SegmentKind.ANY, "hold", None)
        released = lab.backend.release(spec.src, spec.dst)
    return f"released {released} held segments"


def describe_params(params: LinkState) -> str:
    """In the command language's notation, as :func:`tcplab.lab.units.describe_link`
    writes a link direction."""
    return units.describe_link(loss=params.loss, delay=params.delay, jitter=params.jitter,
                               bw=params.bw, queue=params.queue, dup=params.dup,
                               reorder=params.reorder, burst=params.burst, up=params.up)
