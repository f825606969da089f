"""Topology files: the shipped ones, Mininet's numbering, the stand-in Topo, the errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tcplab.lab.topology import (
    TOPOLOGY_DIR,
    HostSpec,
    LinkParams,
    TopologyError,
    TopologySpec,
    builtin_topologies,
    load_topology,
)

CLEAN = LinkParams()


def ends(spec: TopologySpec) -> list[tuple[str, str]]:
    return [(link.intf_a, link.intf_b) for link in spec.links]


def write(tmp_path: Path, body: str, name: str = "topo.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_builtins_are_the_shipped_files() -> None:
    assert builtin_topologies() == ["direct", "dumbbell", "pair", "wan"]
    assert all((TOPOLOGY_DIR / f"{name}.py").is_file() for name in builtin_topologies())


def test_default_is_pair_two_hosts_on_a_switch() -> None:
    spec = load_topology(None)
    assert spec.name == "pair"
    assert spec.hosts == (HostSpec("h1", "10.0.0.1", 8, "00:00:00:00:00:01"),
                          HostSpec("h2", "10.0.0.2", 8, "00:00:00:00:00:02"))
    assert spec.switches == ("s1",)
    assert ends(spec) == [("h1-eth0", "s1-eth1"), ("h2-eth0", "s1-eth2")]
    assert [(link.port_a, link.port_b) for link in spec.links] == [(0, 1), (0, 2)]
    assert all(link.ab == link.ba == CLEAN for link in spec.links)
    assert spec.summary.startswith("Two hosts on one switch")


def test_direct() -> None:
    spec = load_topology("direct")
    assert [host.name for host in spec.hosts] == ["h1", "h2"]
    assert spec.switches == ()
    assert ends(spec) == [("h1-eth0", "h2-eth0")]


def test_dumbbell_has_a_shaped_bottleneck() -> None:
    spec = load_topology("dumbbell")
    assert [(h.name, h.ip) for h in spec.hosts] == [
        ("h1", "10.0.0.1"), ("h2", "10.0.0.2"), ("h3", "10.0.0.3"), ("h4", "10.0.0.4")]
    assert spec.switches == ("s1", "s2")
    assert ends(spec) == [("h1-eth0", "s1-eth1"), ("h2-eth0", "s1-eth2"),
                          ("h3-eth0", "s2-eth1"), ("h4-eth0", "s2-eth2"),
                          ("s1-eth3", "s2-eth3")]
    bottleneck = spec.links[-1]
    assert bottleneck.ab == bottleneck.ba == LinkParams(delay=0.01, bw=10e6, max_queue=100)
    assert all(link.ab == CLEAN for link in spec.links[:-1])


def test_wan_has_a_long_lossy_link() -> None:
    spec = load_topology("wan")
    assert ends(spec) == [("h1-eth0", "s1-eth1"), ("s1-eth2", "h2-eth0")]
    wan = spec.links[1]
    assert wan.params_from("h2") == wan.params_from("s1") == LinkParams(
        delay=0.1, jitter=0.005, loss=0.02, bw=5e6)
    assert spec.links[0].ab == CLEAN


def test_describe_lists_hosts_switches_and_shaping() -> None:
    text = load_topology("dumbbell").describe()
    lines = text.splitlines()
    assert lines[0].startswith("topology dumbbell (") and "dumbbell.py): A dumbbell" in lines[0]
    assert "  host h3  10.0.0.3/8  00:00:00:00:00:03" in lines
    assert "  switches s1 s2" in lines
    assert "  link s1-eth3 <-> s2-eth3  delay=10ms bw=10mbit queue=100" in lines
    assert "  link h1-eth0 <-> s1-eth1" in lines


TRICKY = """\
    '''Tricky: natural order, explicit addresses, ports, options and several links.'''
    from mininet.topo import Topo

    class Tricky(Topo):
        def build(self, n=3):
            s1 = self.addSwitch('s1')
            for name in ('h10', 'h2', 'h1'):
                self.addLink(self.addHost(name), s1)
            self.addHost('h3', ip='10.0.1.1/24', mac='02:00:00:00:00:AA', kernel=True)
            self.addHost('h4', ip='192.168.0.4')
            self.addLink('h3', s1, port2=7, delay=250, params1={'loss': 10, 'delay': '5ms'})
            self.addLink('h3', 'h4', params1={'bw': 2}, params2={'bw': 1, 'jitter': '1ms'},
                         intfName1='h3-wan')
            self.addLink('h4', 'h3', max_queue_size=50, use_tbf=False)

    topos = {'tricky': Tricky, 'small': lambda: Tricky(n=1)}
"""


def test_mininet_numbering_and_options(tmp_path: Path) -> None:
    spec = load_topology(f"{write(tmp_path, TRICKY)}:tricky")
    assert spec.name == "tricky"
    assert spec.hosts == (
        HostSpec("h1", "10.0.0.1", 8, "00:00:00:00:00:01"),
        HostSpec("h2", "10.0.0.2", 8, "00:00:00:00:00:02"),
        HostSpec("h3", "10.0.1.1", 24, "02:00:00:00:00:aa", kernel=True),
        HostSpec("h4", "192.168.0.4", 8, "00:00:00:00:00:04"),
        HostSpec("h10", "10.0.0.5", 8, "00:00:00:00:00:05"),
    )
    by_ends = {(link.a, link.b): link for link in spec.links}
    # Ports follow addLink call order: h10 was linked first, so it has s1-eth1.
    assert by_ends["h10", "s1"].intf_b == "s1-eth1"
    assert by_ends["h1", "s1"].intf_b == "s1-eth3"
    h3s1 = by_ends["h3", "s1"]
    assert (h3s1.intf_a, h3s1.intf_b) == ("h3-eth0", "s1-eth7")
    # A bare-number delay is microseconds (as tc reads it) and overrides params1's delay.
    assert h3s1.ab == LinkParams(delay=0.00025, loss=0.1)
    assert h3s1.ba == LinkParams(delay=0.00025)
    h3h4 = by_ends["h3", "h4"]
    assert (h3h4.intf_a, h3h4.intf_b) == ("h3-wan", "h4-eth0")
    assert h3h4.params_from("h3") == LinkParams(bw=2e6)
    assert h3h4.params_from("h4") == LinkParams(bw=1e6, jitter=0.001)
    h4h3 = by_ends["h4", "h3"]
    assert (h4h3.intf_a, h4h3.intf_b) == ("h4-eth1", "h3-eth2")
    assert h4h3.ab == h4h3.ba == LinkParams(max_queue=50)
    assert "h3>h4: bw=2mbit; h4>h3: jitter=1ms bw=1mbit" in spec.describe()
    assert "(kernel TCP)" in spec.describe()


def test_shim_reads_files_exactly_like_mininet(tmp_path: Path) -> None:
    path = write(tmp_path, TRICKY)
    for name in ("tricky", "small"):
        assert load_topology(f"{path}:{name}", shim=True) == \
            load_topology(f"{path}:{name}", shim=False)
    for name in builtin_topologies():
        assert load_topology(name, shim=True) == load_topology(name, shim=False)


def test_shim_topo_defaults_and_views(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        import mininet.topo

        class Opts(mininet.topo.Topo):
            def build(self):
                self.addSwitch('s1')
                self.addHost('h1')
                self.addHost('h2', ip='10.9.9.9/16')
                self.addLink('h1', 's1')
                self.addLink('h2', 's1', delay='1ms')
                assert self.hosts() == ['h1', 'h2'] and self.switches() == ['s1']
                assert self.nodeInfo('h2') == {'ip': '10.9.9.9/16'}
                assert self.linkInfo('s1', 'h1')['port2'] == 1
                assert [l[:2] for l in self.links(withKeys=True)] == [('h1', 's1'), ('h2', 's1')]

        topos = {'opts': lambda: Opts(lopts={'loss': 1}, hopts={'kernel': True})}
    """)
    spec = load_topology(str(path), shim=True)
    assert spec == load_topology(str(path), shim=False)
    assert spec.host("h1").kernel and not spec.host("h2").kernel
    assert spec.links[0].ab == LinkParams(loss=0.01)
    assert spec.links[1].ab == LinkParams(delay=0.001)


def test_stand_in_is_used_when_mininet_cannot_be_imported(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "mininet" or m.startswith("mininet.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mininet", None)  # makes `import mininet` fail
    assert load_topology("dumbbell").links[-1].ab.bw == 10e6
    path = write(tmp_path, """\
        from mininet.topo import Topo
        from mininet.link import TCLink
        topos = {}
    """)
    with pytest.raises(TopologyError) as caught:
        load_topology(str(path))
    assert str(caught.value) == (f"{path}:2: error while loading: ImportError: mininet.link is "
                                 f"not available: Mininet cannot be imported here and only "
                                 f"mininet.topo is emulated")


def test_real_mininet_is_used_when_available(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        from mininet.topo import Topo, SingleSwitchTopo
        topos = {'single': lambda: SingleSwitchTopo(k=3)}
    """)
    spec = load_topology(str(path))
    assert [h.name for h in spec.hosts] == ["h1", "h2", "h3"]
    assert ends(spec)[2] == ("h3-eth0", "s1-eth3")


def test_name_selection(tmp_path: Path) -> None:
    path = write(tmp_path, TRICKY)
    assert load_topology(f"{path}:small").name == "small"
    with pytest.raises(TopologyError) as several:
        load_topology(str(path))
    assert str(several.value) == (f"{path} defines several topologies (small, tricky); "
                                  f"choose one with {path}:NAME")
    with pytest.raises(TopologyError) as unknown:
        load_topology(f"{path}:big")
    assert str(unknown.value) == f"{path}: no topology 'big' in topos (it has small, tricky)"
    assert load_topology("pair:pair").name == "pair"


BROKEN = [
    ("topos = {\n", "{path}:1: syntax error: '{{' was never closed"),
    ("x = 1\n", "{path}: no 'topos' dict (a Mininet custom topology file defines "
                "topos = {{'name': MyTopo}})"),
    ("topos = {'t': 3}\n", "{path}: topos['t'] is not a Topo class or function"),
    ("topos = {'t': lambda: 3}\n", "{path}: topos['t'] did not build a Topo (got int)"),
    ("raise RuntimeError('boom')\n", "{path}:1: error while loading: RuntimeError: boom"),
    ("from mininet.topo import Topo\n"
     "class T(Topo):\n"
     "    def build(self):\n"
     "        self.addHost('h1')\n"
     "        self.addLink('h1', 'h9')\n"
     "topos = {'t': T}\n",
     "{path}:5: link to unknown node 'h9' (add it with addHost or addSwitch first)"),
    ("from mininet.topo import Topo\n"
     "class T(Topo):\n"
     "    def build(self):\n"
     "        1 / 0\n"
     "topos = {'t': T}\n",
     "{path}:4: building topology 't' failed: ZeroDivisionError: division by zero"),
]


@pytest.mark.parametrize("shim", [True, False])
@pytest.mark.parametrize(("body", "message"), BROKEN)
def test_broken_files(tmp_path: Path, body: str, message: str, shim: bool) -> None:
    path = write(tmp_path, body)
    with pytest.raises(TopologyError) as caught:
        load_topology(str(path), shim=shim)
    assert str(caught.value) == message.format(path=path)


def _link_file(options: str, host_options: str = "") -> str:
    return ("from mininet.topo import Topo\n"
            "class T(Topo):\n"
            "    def build(self):\n"
            f"        self.addHost('h1'{host_options})\n"
            "        self.addHost('h2')\n"
            f"        self.addLink('h1', 'h2'{options})\n"
            "topos = {'t': T}\n")


BAD_VALUES = [
    (", delay='abc'", "link h1-h2: bad delay 'abc' (expected a duration like 20ms, 0.5s or "
                      "200us (bare numbers are us))"),
    (", jitter=[1]", "link h1-h2: bad jitter [1] (expected a string like '10ms')"),
    (", loss='5%'", "link h1-h2: bad loss '5%' (expected a percentage from 0 to 100, "
                    "a number as TCLink takes it)"),
    (", loss=101", "link h1-h2: bad loss 101 (expected a percentage from 0 to 100, "
                   "a number as TCLink takes it)"),
    (", bw=5000", "link h1-h2: bad bw 5000 (expected Mbit/s from 0 to 1000, "
                  "a number as TCLink takes it)"),
    (", max_queue_size=2.5", "link h1-h2: bad max_queue_size 2.5 (expected whole packets)"),
    (", max_queue_size=0", "link h1-h2: bad max_queue_size 0 (expected a packet count from 1 "
                           "to 2.14748e+09, a number as TCLink takes it)"),
    (", bw=0.0005", "link h1-h2: bad bw 0.0005 (500 bit/s is below 1 kbit/s, the smallest "
                    "bandwidth; write bw=unlimited for no limit; bw is in Mbit/s, 0 or none "
                    "for no limit)"),
    (", delay='61s'", "link h1-h2: bad delay '61s' (61s is over 60s, the longest)"),
    (", jitter=100000000000", "link h1-h2: bad jitter 100000000000 (100000s is over 60s, "
                              "the longest)"),
    (", dealy='10ms'", "link h1-h2: unknown link option 'dealy' (did you mean 'delay'?)"),
    (", params1=3", "link h1-h2: params1 must be a dict of options"),
]


@pytest.mark.parametrize(("options", "problem"), BAD_VALUES)
def test_bad_link_values(tmp_path: Path, options: str, problem: str) -> None:
    path = write(tmp_path, _link_file(options))
    with pytest.raises(TopologyError) as caught:
        load_topology(str(path))
    assert str(caught.value) == f"{path}: {problem}"


def test_link_limits_are_allowed(tmp_path: Path) -> None:
    """The smallest bandwidth and the longest delay and jitter are themselves fine; bw=0
    is TCLink's "no limit"."""
    path = write(tmp_path, _link_file(", bw=0.001, delay='60s', jitter=60000000, "
                                      "max_queue_size=1"))
    link = load_topology(str(path)).links[0]
    assert link.ab == LinkParams(delay=60.0, jitter=60.0, bw=1000.0, max_queue=1)
    assert link.ab.describe() == "delay=60s jitter=60s bw=1kbit queue=1"
    unlimited = write(tmp_path, _link_file(", bw=0"), "unlimited.py")
    assert load_topology(str(unlimited)).links[0].ab.bw is None


@pytest.mark.parametrize(("host_options", "problem"), [
    (", ip='10.0.0.300/8'", "host h1: bad ip '10.0.0.300/8' (expected like '10.0.1.1/24')"),
    (", ip=5", "host h1: ip must be a string like '10.0.1.1/24'"),
    (", ip='10.0.0.2'", "hosts h1 and h2 both have address 10.0.0.2"),
    (", mac='zz'", "host h1: bad mac 'zz' (expected like '00:00:00:00:00:01')"),
    (", kernel='yes'", "host h1: kernel must be True or False, not 'yes'"),
    (", ip='127.0.0.5/8'", "host h1: '127.0.0.5/8' is a loopback address, not a host's address"),
    (", ip='224.0.0.1'", "host h1: '224.0.0.1' is a multicast address, not a host's address"),
    (", ip='0.0.0.3/8'", "host h1: '0.0.0.3/8' is an unspecified address, not a host's address"),
    (", ip='10.0.0.255/24'", "host h1: '10.0.0.255/24' is its network's own or broadcast "
                             "address, not a host's address"),
    (", ip='10.0.1.0/24'", "host h1: '10.0.1.0/24' is its network's own or broadcast "
                           "address, not a host's address"),
])
def test_bad_host_values(tmp_path: Path, host_options: str, problem: str) -> None:
    path = write(tmp_path, _link_file("", host_options))
    with pytest.raises(TopologyError) as caught:
        load_topology(str(path))
    assert str(caught.value) == f"{path}: {problem}"


def test_bad_node_name(tmp_path: Path) -> None:
    path = write(tmp_path, _link_file("").replace("'h1'", "'h 1'"))
    with pytest.raises(TopologyError) as caught:
        load_topology(str(path))
    assert str(caught.value) == (f"{path}: node name 'h 1' cannot be used in commands "
                                 f"(start with a letter, then letters, digits, _ or -)")


def test_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match=r"^unknown topology 'dumbel' \(did you mean "
                                            r"'dumbbell'\? builtin: direct, dumbbell, pair, "
                                            r"wan; or give a path to a \.py file\)$"):
        load_topology("dumbel")
    missing = tmp_path / "nope.py"
    with pytest.raises(TopologyError, match=f"^topology file not found: {missing}$"):
        load_topology(str(missing))
    with pytest.raises(TopologyError, match=r"^bad topology 'pair:'"):
        load_topology("pair:")


def test_every_error_is_one_line(tmp_path: Path) -> None:
    for body, _ in BROKEN:
        with pytest.raises(TopologyError) as caught:
            load_topology(str(write(tmp_path, body)))
        assert "\n" not in str(caught.value)
