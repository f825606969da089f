"""The simulated backend: hosts, switches and links in one process.

Theory of operation
-------------------
Nothing here runs on its own. A :class:`~tcplab.netem.clock.Scheduler`
holds a virtual clock and a heap of calls due at given times; whoever drives the
run advances it - as fast as possible (``run_until_idle``) for ``--virtual-time``
and tests, or to the elapsed wall time (``run_until``) for the dashboard.

:class:`~tcplab.backends.sim.network.SimNetwork` owns the nodes (sans-I/O hosts
and :class:`~tcplab.backends.sim.switch.LearningSwitch`\\ es, which speak the same
node protocol) and the :class:`~tcplab.netem.link.Link`\\ s between their
interfaces. Each link is two independent
:class:`~tcplab.netem.link.LinkDirection`\\ s; a direction decides a
frame's fate (dropped, held, or delivered at a computed time) when it is sent
and puts its arrival on the scheduler. When a frame arrives or a timer fires,
the network calls into the node, then collects what the node wants to send and
re-arms the node's single timer entry.

Determinism: one ``random.Random`` made from the run's seed is passed to the
network and shared by every link direction; the scheduler breaks ties between
equal times by insertion order; node, port and link orders are the order they
were added. Nothing reads the wall clock or iterates a set. So the same topology,
seed and commands give the same frames at the same virtual times.

Every frame movement ("sent", "delivered", "dropped" with a reason) goes to the
network's ``on_frame`` observers, from which the lab builds its event stream and
the recorder its pcapng files (every link's "sent" frames; each host's "sent" and
"delivered" ones).
"""

from tcplab.backends.sim.network import FrameEvent, FrameObserver, Node, SimNetwork
from tcplab.backends.sim.switch import LearningSwitch
from tcplab.netem.clock import Handle, Scheduler
from tcplab.netem.link import (
    DirectionStats,
    FrameFilter,
    GilbertElliott,
    Link,
    LinkDirection,
    LinkParams,
)

__all__ = [
    "DirectionStats",
    "FrameEvent",
    "FrameFilter",
    "FrameObserver",
    "GilbertElliott",
    "Handle",
    "LearningSwitch",
    "Link",
    "LinkDirection",
    "LinkParams",
    "Node",
    "Scheduler",
    "SimNetwork",
]
