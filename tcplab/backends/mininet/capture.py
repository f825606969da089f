"""The agents' captured frames, handed to the lab's taps: per link and per host.

Theory of operation
-------------------
When the lab has a tap, every agent pushes each frame its interfaces carry as a
``frame`` message naming the interface, a direction (:data:`~.wire.FRAME_DIRS`) and
its time on the run's clock.  :class:`FrameCapture` turns those into the two views
the recorder writes:

* the link's (``add_tap``): a frame as it enters a link, named by the link.  A frame
  leaving a stack host is taken as it reaches the wire; one entering a stack host
  only when the other end has no agent (a switch or a kernel host), since a frame
  between two stack hosts is already there from the sender's side;
* the host's (``add_host_tap``): what the host sent, as it put it on the wire
  (before the agent's own link model may lose it), and what it received, as it
  reached the host (after).  A kernel host's agent watches Linux's frames on its
  interfaces (:mod:`.linux.sniff`) and reports them the same way, so it has a file
  of its own wherever it is cabled (docs/recording.md).

Frames of one :meth:`FrameCapture.flush` (one ``catch_up`` of the backend) are
merged from the agents by time, as events are.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any

from tcplab.backends.mininet.protocol import frame_from_wire
from tcplab.lab.backend import FrameDirection, HostFrameTap

FrameTap = Callable[[str, bytes, float], None]  # (link name, frame, t)
_HostFrame = tuple[float, str, str, FrameDirection, bytes]  # t, host, ifname, direction, data

# The agents' frame directions (wire.FRAME_DIRS) by what they tell each capture.
_WIRE_DIRS = frozenset({"out", "in", "wire-out", "wire-in"})
_HOST_DIRS = frozenset({"out", "in", "host-out", "host-in"})
_OUT_DIRS = frozenset({"out", "host-out", "wire-out"})


class FrameCapture:
    """The taps and the cabling they need; ``agents`` is the backend's live collection
    of hosts with an agent that reports frames (stack and kernel hosts alike)."""

    def __init__(self, agents: Container[str]) -> None:
        self.taps: list[FrameTap] = []
        self.host_taps: list[HostFrameTap] = []
        self._agents = agents
        # (host, ifname) -> (link, peer node)
        self._cables: dict[tuple[str, str], tuple[str, str]] = {}
        self._frames: list[tuple[float, str, bytes]] = []
        self._host_frames: list[_HostFrame] = []

    @property
    def wanted(self) -> bool:
        """Whether the agents should capture at all."""
        return bool(self.taps or self.host_taps)

    def cable(self, link: str, a: str, intf_a: str, b: str, intf_b: str) -> None:
        self._cables[(a, intf_a)] = (link, b)
        self._cables[(b, intf_b)] = (link, a)

    def frame(self, host: str, raw: Any) -> None:
        """One ``frame`` message of ``host``'s agent (ProtocolError if malformed)."""
        frame = frame_from_wire(raw)
        cable = self._cables.get((host, frame.ifname))
        if cable is None:
            return
        link, peer = cable
        at_wire = frame.dir in _WIRE_DIRS
        out = frame.dir in _OUT_DIRS
        if self.taps and at_wire and (out or peer not in self._agents):
            self._frames.append((frame.t, link, frame.data))
        if not self.host_taps:
            return
        if frame.dir in _HOST_DIRS:
            self._host_frames.append((frame.t, host, frame.ifname,
                                      "sent" if out else "received", frame.data))

    def flush(self) -> None:
        """Hand the frames gathered so far to the taps, in time order."""
        frames, self._frames = self._frames, []
        frames.sort(key=lambda f: f[0])
        for t, link, data in frames:
            for tap in self.taps:
                tap(link, data, t)
        host_frames, self._host_frames = self._host_frames, []
        host_frames.sort(key=lambda f: f[0])
        for t, host, ifname, direction, data in host_frames:
            for host_tap in self.host_taps:
                host_tap(host, ifname, direction, data, t)
