"""Building and tearing down the Mininet network of a :class:`TopologySpec`.

Theory of operation
-------------------
The topology file was already read into a :class:`TopologySpec` (addresses, MACs, port
numbers, interface names exactly as Mininet would choose them), so the network is built
from the spec rather than from the file: hosts with their IP and MAC, switches as
``LinuxBridge`` (it works without the Open vSwitch kernel module) or, when asked,
Open vSwitch with its userspace datapath in standalone mode (a learning switch without
a controller; the kernel datapath needs a module many kernels lack), links as plain veth
pairs with the spec's interface names.  Link shaping is not Mininet's business here
(:mod:`tcplab.backends.mininet.impair` decides where it lives), so no ``TCLink``.

Host interfaces live in the hosts' namespaces, but switch ports and bridges live in the
root namespace, where another lab -- or a dead one -- may already use the same names.
Mininet would silently delete such an interface before creating its own, so the names
are checked first and a clash stops the start with one line instead.

Commands run inside a host with ``mnexec -a <pid>`` (the host's shell pid), in parallel
when there are many, since start-up time is a figure users see.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from tcplab.backends.mininet import netlink
from tcplab.lab.topology import LinkSpec, TopologySpec

OFFLOADS = ("tx", "tso", "gso", "gro")
SWITCHES = ("linuxbridge", "ovs")
OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"


class NetError(Exception):
    """The network cannot be built or used; the message is one line for the user."""


def root_names(topo: TopologySpec) -> tuple[list[str], list[str]]:
    """(switch ports, bridges): the names this topology creates in the root namespace."""
    switches = set(topo.switches)
    ports = [intf for ln in topo.links
             for node, intf in ((ln.a, ln.intf_a), (ln.b, ln.intf_b)) if node in switches]
    return ports, list(topo.switches)


def host_interfaces(topo: TopologySpec, host: str) -> list[LinkSpec]:
    """The links of ``host`` in topology order (its first is where its address lives)."""
    return [ln for ln in topo.links if host in (ln.a, ln.b)]


def host_ifname(link: LinkSpec, host: str) -> str:
    return link.intf_a if link.a == host else link.intf_b


def ovs_unusable() -> str | None:
    """Why Open vSwitch cannot build switches here (one line naming the fix), or None."""
    if shutil.which("ovs-vsctl") is None:
        return "ovs-vsctl not found (apt-get install openvswitch-switch)"
    try:
        done = subprocess.run(["ovs-vsctl", "--timeout=3", "show"], capture_output=True,
                              text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is None or done.returncode != 0:
        return f"Open vSwitch is not running (start it: {OVS_CTL} start --system-id=random)"
    return None


def check_free(topo: TopologySpec) -> None:
    """Refuse to start when a root-namespace name this topology needs is taken."""
    from tcplab.backends.mininet.clean import link_exists

    ports, bridges = root_names(topo)
    for name in [*bridges, *ports]:
        if len(name) > 15:
            raise NetError(f"interface name {name!r} is longer than Linux's 15 characters: "
                           f"rename the node in the topology")
        if link_exists(name):
            raise NetError(f"interface {name} already exists in the root namespace (another "
                           f"lab is running, or one died: run `sudo tcplab clean`)")


class Network:
    """A started Mininet network (see the module docstring)."""

    def __init__(self, topo: TopologySpec, net: Any) -> None:
        self.topo = topo
        self.net = net
        self.stopped = False

    def node(self, name: str) -> Any:
        return self.net.get(name)

    def pid(self, host: str) -> int:
        return int(self.node(host).pid)

    def mac(self, host: str, ifname: str) -> str:
        return str(self.node(host).intf(ifname).MAC())

    def in_host(self, host: str, argv: Sequence[str]) -> list[str]:
        """``argv`` made to run inside ``host``'s namespaces."""
        return ["mnexec", "-a", str(self.pid(host)), *argv]

    def stop(self) -> None:
        """Stop switches, links and host shells; safe to call twice."""
        if self.stopped:
            return
        self.stopped = True
        self.net.stop()


def run_all(commands: Sequence[tuple[str, Sequence[str], str | None]]) -> None:
    """Run (what, argv, stdin) commands in parallel; the first failure raises NetError."""
    procs = []
    for what, argv, stdin in commands:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else None,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
        except OSError as exc:
            raise NetError(f"{what}: cannot run {argv[0]}: {exc.strerror}") from None
        procs.append((what, proc, stdin))
    failed = None
    for what, proc, stdin in procs:
        _, err = proc.communicate(stdin)
        if proc.returncode != 0 and failed is None:
            last = (err or "").strip().splitlines()
            failed = f"{what}: {last[-1] if last else 'failed'}"
    if failed is not None:
        raise NetError(failed)


def build(topo: TopologySpec, switch: str = "linuxbridge") -> Network:
    """Build and start the Mininet network (``switch``: one of :data:`SWITCHES`); on
    failure nothing is left behind."""
    try:
        from mininet.link import Link
        from mininet.log import setLogLevel
        from mininet.net import Mininet
        from mininet.node import Host, OVSSwitch
        from mininet.nodelib import LinuxBridge
    except Exception as exc:  # ImportError, or distutils missing under a new Python
        raise NetError(f"cannot import Mininet ({exc}): pip install mininet setuptools"
                       ) from None
    check_free(topo)
    # Mininet's warnings about bridge-nf sysctls do not apply: nothing here uses iptables.
    setLogLevel("error")
    net = Mininet(topo=None, build=False, controller=None, switch=LinuxBridge, host=Host,
                  link=Link, autoSetMacs=False)
    network = Network(topo, net)
    try:
        for spec in topo.hosts:
            net.addHost(spec.name, ip=f"{spec.ip}/{spec.prefix_len}", mac=spec.mac)
        for index, name in enumerate(topo.switches, start=1):
            # Mininet derives a datapath id from digits in the name and refuses a name
            # without any ("core"); an explicit id lets every name work, bridge or OVS
            dpid = f"{index:016x}"
            if switch == "ovs":
                net.addSwitch(name, cls=OVSSwitch, datapath="user", failMode="standalone",
                              dpid=dpid)
            else:
                net.addSwitch(name, dpid=dpid)
        for ln in topo.links:
            net.addLink(ln.a, ln.b, port1=ln.port_a, port2=ln.port_b,
                        intfName1=ln.intf_a, intfName2=ln.intf_b)
        net.build()
        net.start()
    except Exception as exc:
        try:
            network.stop()
        finally:
            for name in [*root_names(topo)[0], *topo.switches]:
                with contextlib.suppress(OSError, NetlinkError):
                    netlink.delete_link(name)
        raise NetError(f"building the Mininet network failed: {exc}") from None
    return network


def offload_commands(network: Network) -> list[tuple[str, Sequence[str], str | None]]:
    """ethtool commands turning offloads off on every lab interface, so AF_PACKET readers
    see ordinary frames with finished checksums (no TSO/GRO giants)."""
    topo = network.topo
    switches = set(topo.switches)
    flags = [word for name in OFFLOADS for word in (name, "off")]
    commands: list[tuple[str, Sequence[str], str | None]] = []
    for ln in topo.links:
        for node, intf in ((ln.a, ln.intf_a), (ln.b, ln.intf_b)):
            argv = ["ethtool", "-K", intf, *flags]
            if node not in switches:
                argv = network.in_host(node, argv)
            commands.append((f"offloads off on {intf}", argv, None))
    return commands


def silence_kernel_tcp(network: Network, host: str) -> tuple[str, Sequence[str], str]:
    """An nft table in ``host``'s namespace dropping TCP to its address at input, so the
    kernel never answers the stack's peers (a RST racing the userspace SYN,ACK).  The
    AF_PACKET socket still sees the frames; the table dies with the namespace."""
    ip = network.topo.host(host).ip
    rules = ("table inet tcplab {\n"
             "  chain in {\n"
             "    type filter hook input priority 0; policy accept;\n"
             f"    ip daddr {ip} meta l4proto tcp drop\n"
             "  }\n"
             "}\n")
    return (f"nft rule silencing {host}'s kernel TCP",
            network.in_host(host, ["nft", "-f", "-"]), rules)
