"""A dumbbell: h1, h2 on s1 -- bottleneck -- s2 with h3, h4.

The classic congestion lab.  The s1-s2 link is the bottleneck: 10 Mbit/s, 10 ms each way
and a 100-packet queue, while the host links are unshaped.  Run two transfers across it at
once (h1 to h3 and h2 to h4) and watch them share the bottleneck, fill its queue and lose
segments to it.

Run it with ``tcplab run dumbbell``, or in Mininet with
``sudo mn --custom topologies/dumbbell.py --topo dumbbell --link tc``.
"""

from mininet.topo import Topo


class DumbbellTopo(Topo):
    """Two hosts on each side of a shaped switch-to-switch link."""

    def build(self) -> None:
        s1 = self.addSwitch("s1")
        s2 = self.addSwitch("s2")
        for host, switch in (("h1", s1), ("h2", s1), ("h3", s2), ("h4", s2)):
            self.addLink(self.addHost(host), switch)
        # Added last so the bottleneck is port 3 (s1-eth3, s2-eth3) on both switches.
        self.addLink(s1, s2, bw=10, delay="10ms", max_queue_size=100)


topos = {"dumbbell": DumbbellTopo}
