"""Two hosts on a direct link: h1 - h2, no switch in between.

The smallest possible network: one cable.  Useful when you want every segment on one link
(one interface in the pcapng) and no switch learning to think about, e.g. when holding or
dropping a single FIN.

Run it with ``tcplab run direct``, or in Mininet with
``sudo mn --custom topologies/direct.py --topo direct --link tc``.
"""

from mininet.topo import Topo


class DirectTopo(Topo):
    """h1 linked straight to h2."""

    def build(self) -> None:
        self.addLink(self.addHost("h1"), self.addHost("h2"))


topos = {"direct": DirectTopo}
