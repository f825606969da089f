"""Topologies: Mininet custom-topology files, read into a plain description.

Theory of operation
-------------------
A topology file is what ``mn --custom FILE --topo NAME`` runs: Python that builds
``mininet.topo.Topo`` objects and publishes them in a ``topos`` dict whose values are Topo
subclasses or functions returning a Topo.  The loader runs the file, builds the chosen
topology and reads it back the way ``Mininet.buildFromTopo`` does, so the
:class:`TopologySpec` holds what Mininet itself would build:

* hosts in natural order (h1, h2, ..., h10) get 10.0.0.1/8, 10.0.0.2/8, ... (Mininet's
  ``ipBase`` numbering) and MACs 00:00:00:00:00:01, ... (its ``autoSetMacs``); an explicit
  ``ip=``/``mac=`` wins, and an ``ip`` without a prefix length is a /8 as in Mininet;
* ports are numbered as ``Topo.addLink`` numbers them -- in call order, from 0 on a host
  and from 1 on a switch -- and interfaces are named ``NODE-ethPORT``;
* link options are ``TCLink``'s: ``delay``/``jitter`` as ``tc`` reads them (a bare number
  is microseconds; at most 60 s), ``loss`` in percent, ``bw`` in Mbit/s (0 or absent:
  unlimited; else at least 1 kbit/s), ``max_queue_size`` in packets (at least 1).
  TCLink shapes traffic as it *leaves* an interface, so ``params1`` is the a->b
  direction and ``params2`` b->a; as in Mininet's ``Link``, options given to ``addLink``
  itself override both.

A ``kernel=True`` host option (ignored by Mininet) marks a host that the Mininet backend
leaves to the Linux kernel's TCP instead of tcplab's stack.

When ``mininet.topo`` cannot be imported (no Mininet, or a Python without ``distutils``),
the file's ``import mininet.topo`` is answered by :class:`ShimTopo`, a stand-in with
Mininet's semantics for everything topology files use.  Mistakes in a file -- a syntax
error, no ``topos``, a link to an unknown node, ``delay='abc'`` -- raise
:class:`TopologyError` with one line naming the file (and the line when known).
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import ipaddress
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tcplab.lab import units
from tcplab.lab.commands.model import NAME_RE
from tcplab.stack.ipv4 import special

TOPOLOGY_DIR = Path(__file__).resolve().parents[2] / "topologies"
DEFAULT_TOPOLOGY = "pair"

_IP_BASE = int(ipaddress.IPv4Address("10.0.0.0"))  # Mininet's default ipBase 10.0.0.0/8
_IP_PREFIX = 8
_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
_BW_MAX_MBIT = 1000  # TCIntf.bwParamMax: Mininet ignores larger bw values

# Options Mininet's Link, TCLink and Intf accept; those tcplab does not model are ignored.
_SHAPING = ("bw", "delay", "jitter", "loss", "max_queue_size")
_LINK_OPTIONS = frozenset((
    *_SHAPING, "node1", "node2", "port1", "port2", "intfName1", "intfName2", "params1", "params2",
    "cls", "cls1", "cls2", "intf", "addr1", "addr2", "fast", "mac", "ip", "ifconfig", "up",
    "speedup", "use_hfsc", "use_tbf", "latency_ms", "enable_ecn", "enable_red", "gro",
    "txo", "rxo",
))


class TopologyError(ValueError):
    """A topology that cannot be loaded; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class LinkParams:
    """Shaping of one link direction (as TCLink applies it on the sending interface)."""

    delay: float = 0.0            # seconds
    jitter: float = 0.0           # seconds
    loss: float = 0.0             # fraction 0..1
    bw: float | None = None       # bits/s; None: unlimited
    max_queue: int | None = None  # packets; None: the backend's default

    def describe(self) -> str:
        """Command-language notation (``delay=10ms bw=10mbit``); empty when unshaped."""
        shaping = {"delay": self.delay or None, "jitter": self.jitter or None,
                   "loss": self.loss or None, "bw": self.bw, "queue": self.max_queue}
        return " ".join(units.link_word(key, value) for key, value in shaping.items()
                        if value is not None)


@dataclass(frozen=True, slots=True)
class HostSpec:
    """One host as Mininet would build it: its name, IPv4 address and prefix length, MAC,
    and ``kernel`` for a host left to the Linux kernel's TCP (Mininet backend only)."""

    name: str
    ip: str
    prefix_len: int
    mac: str
    kernel: bool = False


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """A link between nodes ``a`` and ``b``; ``ab`` shapes a->b traffic, ``ba`` b->a."""

    a: str
    b: str
    port_a: int
    port_b: int
    intf_a: str
    intf_b: str
    ab: LinkParams
    ba: LinkParams

    def params_from(self, node: str) -> LinkParams:
        """The shaping of traffic that ``node`` (one of the two ends) sends on this link."""
        if node not in (self.a, self.b):
            raise ValueError(f"{node} is not an end of link {self.a}-{self.b}")
        return self.ab if node == self.a else self.ba


@dataclass(frozen=True, slots=True)
class TopologySpec:
    """A whole topology read from a file (see the module docstring): hosts in Mininet's
    natural order, switch names, links in the order the file added them."""

    name: str
    source: str           # the file it came from
    summary: str          # first line of the file's docstring ("" if none)
    hosts: tuple[HostSpec, ...]
    switches: tuple[str, ...]
    links: tuple[LinkSpec, ...]

    def host(self, name: str) -> HostSpec:
        """The host named ``name``; KeyError when there is none."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def describe(self) -> str:
        """A few lines for ``--help`` and headless output."""
        title = f"topology {self.name} ({self.source})"
        lines = [f"{title}: {self.summary}" if self.summary else title]
        for host in self.hosts:
            kernel = "  (kernel TCP)" if host.kernel else ""
            lines.append(f"  host {host.name}  {host.ip}/{host.prefix_len}  {host.mac}{kernel}")
        if self.switches:
            lines.append(f"  switches {' '.join(self.switches)}")
        for link in self.links:
            ends = f"  link {link.intf_a} <-> {link.intf_b}"
            if link.ab == link.ba:
                shaping = link.ab.describe()
            else:
                shaping = (f"{link.a}>{link.b}: {link.ab.describe() or 'unshaped'}; "
                           f"{link.b}>{link.a}: {link.ba.describe() or 'unshaped'}")
            lines.append(f"{ends}  {shaping}" if shaping else ends)
        return "\n".join(lines)


def _natural(text: str) -> list[int | str]:
    """Mininet's natural sort key: h2 before h10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class ShimTopo:
    """Stand-in for ``mininet.topo.Topo`` when Mininet cannot be imported.

    Same constructor (``hopts``/``sopts``/``lopts`` defaults, then ``build``), the same port
    numbering and the same sorted views.  ``links()`` without ``sort`` lists links in the
    order they were added.
    """

    def __init__(self, *args: Any, **params: Any) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}
        self._links: list[tuple[str, str, int, dict[str, Any]]] = []
        self._ports: dict[str, dict[int, tuple[str, int]]] = {}
        self.hopts: dict[str, Any] = params.pop("hopts", {})
        self.sopts: dict[str, Any] = params.pop("sopts", {})
        self.lopts: dict[str, Any] = params.pop("lopts", {})
        self.build(*args, **params)

    def build(self, *args: Any, **params: Any) -> None:
        """Override to add nodes and links."""

    def addNode(self, name: str, **opts: Any) -> str:
        """``Topo.addNode``: a node with options ``opts``; returns its name."""
        self._nodes[name] = opts
        return name

    def addHost(self, name: str, **opts: Any) -> str:
        """``Topo.addHost``: a host (the constructor's ``hopts`` when no option is
        given)."""
        return self.addNode(name, **(opts or self.hopts))

    def addSwitch(self, name: str, **opts: Any) -> str:
        """``Topo.addSwitch``: a switch (``sopts`` when no option is given)."""
        return self.addNode(name, isSwitch=True, **(opts or self.sopts))

    def addLink(self, node1: str, node2: str, port1: int | None = None,
                port2: int | None = None, key: int | None = None, **opts: Any) -> int:
        """``Topo.addLink``: a link between ``node1`` and ``node2``; an unnumbered port
        gets its node's next free number (from 0 on a host, 1 on a switch), and the result
        is the link's key, unique among the links between the same two nodes."""
        opts = dict(opts or self.lopts)
        # Like Topo.addPort: next free number, counting from 0 on hosts and 1 on switches.
        for node in (node1, node2):
            self._ports.setdefault(node, {})
        if port1 is None:
            port1 = len(self._ports[node1]) + (1 if self.isSwitch(node1) else 0)
        if port2 is None:
            port2 = len(self._ports[node2]) + (1 if self.isSwitch(node2) else 0)
        self._ports[node1][port1] = (node2, port2)
        self._ports[node2][port2] = (node1, port1)
        if key is None:
            same = [k for a, b, k, _ in self._links if {a, b} == {node1, node2}]
            key = max([0, *same]) + 1
        opts.update(node1=node1, node2=node2, port1=port1, port2=port2)
        self._links.append((node1, node2, key, opts))
        return key

    def isSwitch(self, name: str) -> bool:
        """``Topo.isSwitch``: whether ``name`` was added as a switch."""
        return bool(self._nodes[name].get("isSwitch", False))

    def nodes(self, sort: bool = True) -> list[str]:
        """``Topo.nodes``: every node's name, in natural order (h2 before h10) unless
        ``sort`` is false."""
        return sorted(self._nodes, key=_natural) if sort else list(self._nodes)

    def hosts(self, sort: bool = True) -> list[str]:
        """``Topo.hosts``: the host names, in natural order unless ``sort`` is false."""
        return [name for name in self.nodes(sort) if not self.isSwitch(name)]

    def switches(self, sort: bool = True) -> list[str]:
        """``Topo.switches``: the switch names, in natural order unless ``sort`` is
        false."""
        return [name for name in self.nodes(sort) if self.isSwitch(name)]

    def links(self, sort: bool = False, withKeys: bool = False,
              withInfo: bool = False) -> list[tuple[Any, ...]]:
        """``Topo.links``: ``(a, b)`` per link, then its key and its options when asked;
        in the order added, or by the ends' natural order with ``sort``."""
        links = list(self._links)
        if sort:
            links.sort(key=lambda link: (_natural(link[0]), _natural(link[1])))
        return [(a, b) + ((key,) if withKeys else ()) + ((info,) if withInfo else ())
                for a, b, key, info in links]

    def nodeInfo(self, name: str) -> dict[str, Any]:
        """``Topo.nodeInfo``: the options a node was added with."""
        return self._nodes[name]

    def linkInfo(self, src: str, dst: str, key: int | None = None) -> dict[str, Any]:
        """``Topo.linkInfo``: the options of the link between ``src`` and ``dst`` (the one
        with ``key``, else the lowest key); KeyError when there is none."""
        found = {k: info for a, b, k, info in self._links if {a, b} == {src, dst}}
        return found[min(found) if key is None else key]


def builtin_topologies() -> list[str]:
    """Names of the topology files shipped in the repository's ``topologies/`` folder."""
    if not TOPOLOGY_DIR.is_dir():
        return []
    return sorted(p.stem for p in TOPOLOGY_DIR.glob("*.py") if not p.stem.startswith("_"))


def load_topology(spec: str | None = None, *, shim: bool | None = None) -> TopologySpec:
    """Load ``None`` (the default), a builtin name, or ``PATH[:name]``.

    ``shim``: None uses Mininet's own ``Topo`` when it can be imported; True forces the
    stand-in, False requires Mininet.
    """
    path, name = _resolve(spec)
    if shim is None:
        shim = not _mininet_importable()
    namespace = _run_file(path, shim)
    topos = namespace.get("topos")
    if not isinstance(topos, dict) or not topos:
        raise TopologyError(f"{path}: no 'topos' dict (a Mininet custom topology file defines "
                            f"topos = {{'name': MyTopo}})")
    names = sorted(str(key) for key in topos)
    if name is None:
        if len(topos) > 1:
            raise TopologyError(f"{path} defines several topologies ({', '.join(names)}); "
                                f"choose one with {path}:NAME")
        name = names[0]
    elif name not in topos:
        raise TopologyError(f"{path}: no topology {name!r} in topos (it has {', '.join(names)})")
    factory = topos[name]
    if not callable(factory):
        raise TopologyError(f"{path}: topos[{name!r}] is not a Topo class or function")
    topo = _build(path, name, factory)
    doc = namespace.get("__doc__")
    summary = doc.strip().splitlines()[0] if isinstance(doc, str) and doc.strip() else ""
    return _read(topo, name, path, summary)


# ----------------------------------------------------------------------- running the file

def _resolve(spec: str | None) -> tuple[Path, str | None]:
    text = DEFAULT_TOPOLOGY if spec is None else spec
    base, name = text, None
    if ":" in text and not Path(text).is_file():
        base, _, name = text.rpartition(":")
        if not name or not base:
            raise TopologyError(f"bad topology {text!r} (expected NAME, PATH or PATH:NAME)")
    if "/" in base or base.endswith(".py") or Path(base).is_file():
        path = Path(base)
        if not path.is_file():
            raise TopologyError(f"topology file not found: {path}")
        return path, name
    builtins_ = builtin_topologies()
    if base not in builtins_:
        close = difflib.get_close_matches(base, builtins_, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TopologyError(f"unknown topology {base!r} ({hint}builtin: "
                            f"{', '.join(builtins_) or 'none'}; or give a path to a .py file)")
    return TOPOLOGY_DIR / f"{base}.py", name


def _mininet_importable() -> bool:
    try:
        importlib.import_module("mininet.topo")
    except Exception:  # ImportError, or a Mininet that breaks on import (no distutils)
        return False
    return True


def _shim_import(real: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
    package = ModuleType("mininet")
    topo = ModuleType("mininet.topo")
    vars(topo)["Topo"] = ShimTopo
    vars(package)["topo"] = topo
    modules = {"mininet": package, "mininet.topo": topo}

    def hooked(name: str, globals: Mapping[str, object] | None = None,
               locals: Mapping[str, object] | None = None,
               fromlist: tuple[str, ...] | None = (), level: int = 0) -> ModuleType:
        if level == 0 and (name == "mininet" or name.startswith("mininet.")):
            if name not in modules:
                raise ImportError(f"{name} is not available: Mininet cannot be imported here "
                                  f"and only mininet.topo is emulated")
            return modules[name] if fromlist else package
        return real(name, globals, locals, fromlist, level)

    return hooked


def _run_file(path: Path, shim: bool) -> dict[str, Any]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TopologyError(f"cannot read topology file {path}: {error}") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as error:
        raise TopologyError(f"{path}:{error.lineno}: syntax error: {error.msg}") from None
    namespace: dict[str, Any] = {"__name__": "tcplab_topology", "__file__": str(path)}
    if shim:
        env = dict(vars(builtins))
        env["__import__"] = _shim_import(builtins.__import__)
        namespace["__builtins__"] = env
    try:
        exec(code, namespace)
    except (Exception, SystemExit) as error:
        raise TopologyError(f"{_where(path, error)}: error while loading: "
                            f"{type(error).__name__}: {error}") from None
    return namespace


def _where(path: Path, error: BaseException) -> str:
    """``path:line`` of the innermost frame of the topology file in the traceback."""
    line = None
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == str(path):
            line = lineno
    return f"{path}:{line}" if line is not None else str(path)


def _build(path: Path, name: str, factory: Callable[[], Any]) -> Any:
    try:
        topo = factory()
    except (Exception, SystemExit) as error:
        frames = list(traceback.walk_tb(error.__traceback__))
        # Topo.isSwitch looks the node up: a KeyError there is addLink naming a missing node.
        if (isinstance(error, KeyError) and frames
                and frames[-1][0].f_code.co_name == "isSwitch"):
            raise TopologyError(f"{_where(path, error)}: link to unknown node "
                                f"{error.args[0]!r} (add it with addHost or addSwitch first)"
                                ) from None
        raise TopologyError(f"{_where(path, error)}: building topology {name!r} failed: "
                            f"{type(error).__name__}: {error}") from None
    if not all(hasattr(topo, m) for m in ("hosts", "switches", "links", "nodeInfo")):
        raise TopologyError(f"{path}: topos[{name!r}] did not build a Topo "
                            f"(got {type(topo).__name__})")
    return topo


# ------------------------------------------------------------------- reading the Topo

def _read(topo: Any, name: str, path: Path, summary: str) -> TopologySpec:
    host_names: list[str] = list(topo.hosts())
    switch_names: list[str] = list(topo.switches())
    for node in host_names + switch_names:
        if not isinstance(node, str) or not NAME_RE.fullmatch(node):
            raise TopologyError(f"{path}: node name {node!r} cannot be used in commands "
                                f"(start with a letter, then letters, digits, _ or -)")
    hosts = tuple(_host(path, host, index, topo.nodeInfo(host))
                  for index, host in enumerate(host_names, start=1))
    seen: dict[str, str] = {}
    for host in hosts:
        if host.ip in seen:
            raise TopologyError(f"{path}: hosts {seen[host.ip]} and {host.name} both have "
                                f"address {host.ip}")
        seen[host.ip] = host.name
    nodes = set(host_names) | set(switch_names)
    links = tuple(_link(path, nodes, a, b, info)
                  for a, b, info in topo.links(sort=True, withInfo=True))
    return TopologySpec(name, str(path), summary, hosts, tuple(switch_names), links)


def _host(path: Path, name: str, index: int, info: Mapping[str, Any]) -> HostSpec:
    where = f"{path}: host {name}"
    ip_text = info.get("ip")
    if ip_text is None:
        ip, prefix = str(ipaddress.IPv4Address(_IP_BASE + index)), _IP_PREFIX
    else:
        if not isinstance(ip_text, str):
            raise TopologyError(f"{where}: ip must be a string like '10.0.1.1/24'")
        try:
            interface = ipaddress.IPv4Interface(ip_text if "/" in ip_text
                                                else f"{ip_text}/{_IP_PREFIX}")
        except ValueError:
            raise TopologyError(f"{where}: bad ip {ip_text!r} (expected like '10.0.1.1/24')"
                                ) from None
        ip, prefix = str(interface.ip), interface.network.prefixlen
        why = special(interface.ip.packed)
        if why is None and prefix < 31 and interface.ip in (
                interface.network.network_address, interface.network.broadcast_address):
            why = "its network's own or broadcast address"
        if why is not None:  # RFC 1122 §3.2.1.3: no host has such an address
            raise TopologyError(f"{where}: {ip_text!r} is {why}, not a host's address")
    mac = info.get("mac")
    if mac is None:
        mac = ":".join(f"{byte:02x}" for byte in index.to_bytes(6, "big"))
    elif not isinstance(mac, str) or not _MAC.fullmatch(mac):
        raise TopologyError(f"{where}: bad mac {mac!r} (expected like '00:00:00:00:00:01')")
    kernel = info.get("kernel", False)
    if not isinstance(kernel, bool):
        raise TopologyError(f"{where}: kernel must be True or False, not {kernel!r}")
    return HostSpec(name, ip, prefix, mac.lower(), kernel)


def _link(path: Path, nodes: set[str], a: str, b: str, info: Mapping[str, Any]) -> LinkSpec:
    where = f"{path}: link {a}-{b}"
    for node in (a, b):
        if node not in nodes:
            raise TopologyError(f"{where}: unknown node {node!r}")
    for option in info:
        if option not in _LINK_OPTIONS:
            close = difflib.get_close_matches(option, sorted(_LINK_OPTIONS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TopologyError(f"{where}: unknown link option {option!r}{hint}")
    shared = {key: info[key] for key in _SHAPING if key in info}
    ends = []
    for key in ("params1", "params2"):
        own = info.get(key) or {}
        if not isinstance(own, Mapping):
            raise TopologyError(f"{where}: {key} must be a dict of options")
        ends.append(_params(where, {**own, **shared}))
    port_a, port_b = info["port1"], info["port2"]
    intf_a = info.get("intfName1") or f"{a}-eth{port_a}"
    intf_b = info.get("intfName2") or f"{b}-eth{port_b}"
    return LinkSpec(a, b, port_a, port_b, intf_a, intf_b, ends[0], ends[1])


def _params(where: str, options: Mapping[str, Any]) -> LinkParams:
    def duration(key: str) -> float:
        value = options.get(key)
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TopologyError(f"{where}: bad {key} {value!r} (expected a string like '10ms')")
        try:
            return units.parse_delay(str(value), bare="us")
        except units.UnitError as error:
            raise TopologyError(f"{where}: bad {key} {value!r} ({error})") from None

    def number(key: str, low: float, high: float, meaning: str) -> int | float | None:
        value = options.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not low <= value <= high:
            raise TopologyError(f"{where}: bad {key} {value!r} (expected {meaning} "
                                f"from {low:g} to {high:g}, a number as TCLink takes it)")
        return value

    loss = number("loss", 0, 100, "a percentage")
    mbit = number("bw", 0, _BW_MAX_MBIT, "Mbit/s")
    bw = None
    if mbit:  # TCIntf: bw=0 sets no limit; anything else is a rate, of at least 1 kbit/s
        bw = units.from_number(mbit, "mbit")
        try:
            units.check_bandwidth(bw)
        except units.UnitError as error:
            raise TopologyError(f"{where}: bad bw {float(mbit)!r} ({error}; bw is in Mbit/s, "
                                f"0 or none for no limit)") from None
    queue = number("max_queue_size", 1, 2**31 - 1, "a packet count")
    if queue is not None and not float(queue).is_integer():
        raise TopologyError(f"{where}: bad max_queue_size {float(queue)!r} "
                            f"(expected whole packets)")
    return LinkParams(
        delay=duration("delay"),
        jitter=duration("jitter"),
        loss=0.0 if loss is None else units.from_number(loss, "%"),
        bw=bw,
        max_queue=None if queue is None else int(queue),
    )
