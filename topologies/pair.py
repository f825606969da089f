"""Two hosts on one switch: h1 - s1 - h2.  The default topology.

The plainest lab: both links are clean, so everything you see is TCP itself -- the
handshakes, the teardown orders, TIME-WAIT.  Add trouble live from the command line, e.g.
``link h1 s1 loss=5% delay=20ms``.  The switch is a learning bridge in the simulated
backend and an Open vSwitch in Mininet.

Run it with ``tcplab run pair`` (or just ``tcplab run``), or in Mininet itself with
``sudo mn --custom topologies/pair.py --topo pair --link tc``.
"""

from mininet.topo import Topo


class PairTopo(Topo):
    """h1 and h2, each linked to switch s1."""

    def build(self) -> None:
        s1 = self.addSwitch("s1")
        for name in ("h1", "h2"):
            self.addLink(self.addHost(name), s1)


topos = {"pair": PairTopo}
