"""The agent's interfaces and their link ops: ``impair``, ``filter`` and ``release``.

Theory of operation
-------------------
Each interface of an agent is a :class:`Port`: its packet socket and two
:class:`~tcplab.netem.link.LinkDirection`\\ s, *egress* (host -> wire) and
*ingress* (wire -> host), the link model both backends share run on the agent's
real-clock scheduler.  A direction joins the frames' path only once an op
configures it: until then frames go straight between the host and the socket,
which spares every frame of an unimpaired link (the common case, and the one
``tcplab bench`` measures) a trip through the direction and the scheduler.  Once
in the path a direction stays there, so frames still in flight on it are never
overtaken.  :class:`LinkOps` serves the control ops that configure them:
``impair`` sets delay, jitter, loss... of one direction (used where the kernel has no
netem), ``filter`` adds a hold/drop filter on an egress -- segment filters always act
where the segment leaves a stack host -- and ``release`` lets held frames go.  A held
segment is announced as a ``LinkHeld`` event with ``direction`` = ``"<ifname>:egress"``;
the lab relabels it with the link's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tcplab.backends.mininet import protocol as P
from tcplab.backends.mininet.packetio import PacketSocket
from tcplab.lab import commands as C
from tcplab.lab.events import LabEvent, LinkHeld
from tcplab.lab.peek import summary, tcp_of
from tcplab.netem.link import LinkDirection

_NUMBER = (int, float)
_IMPAIR_TYPES: dict[str, tuple[type | None, ...]] = {
    "delay": _NUMBER, "jitter": _NUMBER, "loss": _NUMBER, "dup": _NUMBER, "reorder": _NUMBER,
    "bw": (int, float, None), "queue": (int,), "up": (bool,),
}


FrameSend = Callable[[bytes, float], None]


class Port:
    """One interface: its packet socket, its two link directions, and the way each
    direction's frames go now (``send_out``, ``send_in``: frame, now)."""

    __slots__ = ("egress", "egress_engaged", "ifname", "ingress", "ingress_engaged", "io",
                 "send_in", "send_out")

    def __init__(self, ifname: str, io: PacketSocket, egress: LinkDirection,
                 ingress: LinkDirection, to_wire: Callable[[bytes], None],
                 to_host: Callable[[bytes], None]) -> None:
        self.ifname = ifname
        self.io = io
        self.egress = egress
        self.ingress = ingress
        self.send_out: FrameSend = lambda frame, now: to_wire(frame)
        self.send_in: FrameSend = lambda frame, now: to_host(frame)
        self.egress_engaged = False
        self.ingress_engaged = False

    def engage(self, where: str) -> LinkDirection:
        """The direction ``where``, from now on in its frames' path."""
        if where == "egress":
            self.send_out = self.egress.send
            self.egress_engaged = True
            return self.egress
        self.send_in = self.ingress.send
        self.ingress_engaged = True
        return self.ingress


class LinkOps:
    """The ``impair``, ``filter`` and ``release`` ops over an agent's ports."""

    def __init__(self, name: str, ports: dict[str, Port], clock: Callable[[], float],
                 publish: Callable[[LabEvent], None]) -> None:
        self.name = name
        self.ports = ports
        self.clock = clock
        self._publish = publish

    def direction(self, args: dict[str, Any], where: str = "egress") -> LinkDirection:
        port = self.ports.get(args["ifname"])
        if port is None:
            raise ValueError(f"no interface {args['ifname']!r} (have {', '.join(self.ports)})")
        if where not in ("egress", "ingress"):
            raise ValueError(f"where must be egress or ingress, not {where!r}")
        return port.engage(where)

    def impair(self, args: dict[str, Any]) -> dict[str, Any]:
        direction = self.direction(args, args["where"])
        changes: dict[str, Any] = args["changes"]
        for key, value in changes.items():
            allowed = _IMPAIR_TYPES.get(key)
            if allowed is None:
                raise ValueError(f"unknown parameter {key!r} (have {', '.join(_IMPAIR_TYPES)})")
            if not P._is(value, allowed):
                raise ValueError(f"{key}={value!r} has the wrong type")
        direction.set(**changes)
        p = direction.params
        return {"state": {"delay": p.delay, "jitter": p.jitter, "loss": p.loss, "bw": p.bw,
                          "dup": p.dup, "reorder": p.reorder, "queue": p.queue, "up": p.up}}

    def filter(self, args: dict[str, Any]) -> dict[str, Any]:
        # egress: segments this host sends; ingress: segments it gets from a peer that
        # has no agent of its own (a kernel host), held before they reach the stack
        where = args.get("where") or "egress"
        direction = self.direction(args, where)
        try:
            kind = C.SegmentKind(args["kind"])
        except ValueError:
            raise ValueError(f"kind must be one of {', '.join(k.value for k in C.SegmentKind)}"
                             ) from None
        action = args["action"]
        if action not in ("hold", "drop"):
            raise ValueError(f"action must be hold or drop, not {action!r}")
        raw_ips = args["ips"]
        ips: tuple[str, str] | None = None
        if raw_ips is not None:
            if len(raw_ips) != 2 or not all(isinstance(ip, str) for ip in raw_ips):
                raise ValueError("ips must be [src, dst]")
            ips = (raw_ips[0], raw_ips[1])
        label = f"{args['ifname']}:{where}"

        def pred(frame: bytes) -> bool:
            tcp = tcp_of(frame)
            if tcp is None:
                return False
            if ips is not None and (tcp.src[0], tcp.dst[0]) != ips:
                return False
            seg = tcp.segment
            if not kind.matches(seg.flags, len(seg.payload)):
                return False
            if action == "hold":
                self._publish(LinkHeld(self.clock(), self.name, label, summary(frame)))
            return True

        direction.add_filter(pred, "hold" if action == "hold" else "drop", args["count"])
        return {}

    def release(self, args: dict[str, Any]) -> dict[str, Any]:
        if args["ifname"] is None:
            dirs = [d for port in self.ports.values() for d in (port.egress, port.ingress)]
        else:
            dirs = [self.direction(args, args.get("where") or "egress")]
        return {"released": sum(direction.end_holds() for direction in dirs)}
