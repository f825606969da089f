"""A long, lossy WAN link: h1 - s1 ==== h2.

h1 reaches its switch over a clean link; the s1-h2 link is a slow, distant path:
100 ms each way with 5 ms of jitter, 2% loss in each direction and 5 Mbit/s.  A round
trip takes over 200 ms, so retransmission timeouts, fast retransmit and a window that has
to grow before the pipe is full are all easy to see.  (Under Mininet's netem, jitter may
also reorder segments.)

Run it with ``tcplab run wan``, or in Mininet with
``sudo mn --custom topologies/wan.py --topo wan --link tc``.
"""

from mininet.topo import Topo


class WanTopo(Topo):
    """h1 on s1; h2 at the far end of a long, lossy link."""

    def build(self) -> None:
        s1 = self.addSwitch("s1")
        self.addLink(self.addHost("h1"), s1)
        self.addLink(s1, self.addHost("h2"), delay="100ms", jitter="5ms", loss=2, bw=5)


topos = {"wan": WanTopo}
