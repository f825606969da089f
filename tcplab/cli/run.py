"""``tcplab run``: start a lab on a backend, optionally run a scenario, record it.

Exit status: 0 when every command worked and every ``expect`` held; 1 when one did
not; 2 for a usage error (bad topology, unreadable or malformed scenario).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import commands as C
from tcplab.lab.backend import Backend
from tcplab.lab.events import EventBus
from tcplab.lab.headless import Printer
from tcplab.lab.lab import Lab
from tcplab.lab.record import Recorder, RecordError
from tcplab.lab.session import RunInputs, announce
from tcplab.lab.topology import TopologyError, TopologySpec, load_topology
from tcplab.tcp.config import Config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tcplab run", description="Run a TCP lab.")
    p.add_argument("topology", nargs="?", default=None,
                   help="a topology file (PATH[:name]) or a builtin name; default: pair")
    p.add_argument("--backend", choices=("auto", "sim", "mininet"), default="auto",
                   help="auto = Mininet when root and Mininet is usable, else sim")
    p.add_argument("--switch", choices=("linuxbridge", "ovs"), default="linuxbridge",
                   help="Mininet's switches: Linux bridges, or Open vSwitch (userspace "
                        "datapath; needs openvswitch-switch installed and running)")
    p.add_argument("--seed", type=int, default=1, help="seed of the run's randomness")
    p.add_argument("--scenario", metavar="FILE", help="commands to run, one per line")
    p.add_argument("--pace", type=float, default=None, metavar="S",
                   help="with --scenario in the dashboard: a demo, one command every S "
                        "seconds of wall time, each shown with the comments above it "
                        "(Space pauses, n runs the next command)")
    p.add_argument("--record", metavar="DIR",
                   help="write events.jsonl, capture.pcapng (every link) and "
                        "capture-HOST.pcapng (each host's own view, for Wireshark)")
    p.add_argument("--headless", action="store_true", help="no dashboard: print lines")
    p.add_argument("--virtual-time", action="store_true",
                   help="run the simulated clock as fast as possible (deterministic)")
    p.add_argument("--msl", type=float, default=None, metavar="SECONDS",
                   help="maximum segment lifetime: TIME-WAIT lasts 2*MSL (default 30, "
                        "RFC 9293; labs often use 1-5)")
    p.add_argument("--rto-min", type=float, default=None, metavar="SECONDS",
                   help="the lower bound of the retransmission timeout (default 1, "
                        "RFC 6298 §2.4; Linux uses 0.2)")
    p.add_argument("--keepalive", type=float, default=None, metavar="SECONDS",
                   help="idle time before keep-alive probes, on sockets that turn them on "
                        "(keepalive=on); probes then go every SECONDS/5, at most 75 s "
                        "(default 7200, RFC 9293; labs often use 5-30)")
    p.add_argument("--stack", action="append", default=[], metavar="HOST=linux|tcplab",
                   help="whose TCP runs on HOST: linux makes it a kernel host (Linux's TCP; "
                        "Mininet only), tcplab a stack host; all=linux for every host; "
                        "repeatable")
    p.add_argument("-v", "--verbose", action="store_true", help="print every segment too")
    return p


def mininet_unusable() -> str | None:
    """Why the Mininet backend cannot run here (one line naming the fix), or None."""
    if os.geteuid() != 0:
        return "not root (run it with sudo)"
    for tool, package in (("mnexec", "mininet"), ("brctl", "bridge-utils"),
                          ("nft", "nftables"), ("ethtool", "ethtool"), ("ip", "iproute2")):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install {package})"
    try:
        import mininet.net  # noqa: F401  (the Python package, beside Debian's mnexec)
    except Exception:  # ImportError, or distutils missing under a new Python
        return "the mininet Python package cannot be imported (pip install mininet setuptools)"
    return None


def choose_backend(kind: str, seed: int, virtual: bool, config: Config | None = None,
                   switch: str = "linuxbridge") -> tuple[Backend, str | None]:
    """The backend to use and, for ``auto`` falling back to sim, the one-line reason
    (also when ``--switch`` does not apply to the simulated network)."""
    if kind == "mininet":
        if virtual:
            raise SystemExit("tcplab run: --virtual-time needs the simulated network "
                             "(--backend sim); Mininet hosts run on the wall clock")
        why = mininet_unusable()
        if why is not None:
            raise SystemExit(f"tcplab run: cannot use Mininet: {why}")
    ignored = ("; --switch ovs is ignored: the simulated network has no Mininet switches"
               if switch != "linuxbridge" else "")
    if kind == "sim":
        return SimBackend(seed, virtual=virtual, config=config), ignored.lstrip("; ") or None
    why = "--virtual-time" if virtual else mininet_unusable()
    if why is not None:
        return (SimBackend(seed, virtual=virtual, config=config),
                f"using the simulated network ({why}){ignored}")
    from tcplab.backends.mininet.backend import MininetBackend
    from tcplab.backends.mininet.net import ovs_unusable

    if switch == "ovs" and (why := ovs_unusable()) is not None:
        raise SystemExit(f"tcplab run: cannot use Open vSwitch: {why}")
    return MininetBackend(seed, config=config, switch=switch), None


STACKS = ("linux", "tcplab")


def apply_stacks(topo: TopologySpec, choices: list[str]) -> TopologySpec:
    """``topo`` with each ``HOST=linux|tcplab`` of ``--stack`` applied, in order (so
    ``all=linux --stack h1=tcplab`` leaves h1 on tcplab's stack)."""
    names = [h.name for h in topo.hosts]
    kernel = {h.name: h.kernel for h in topo.hosts}
    for choice in choices:
        host, sep, stack = choice.partition("=")
        if not sep or stack not in STACKS:
            raise SystemExit(f"tcplab run: --stack {choice}: write HOST=linux or "
                             f"HOST=tcplab (or all=linux)")
        if host != "all" and host not in kernel:
            raise SystemExit(f"tcplab run: --stack {choice}: no host {host!r} in "
                             f"{topo.name} (hosts: {', '.join(names)})")
        for name in names if host == "all" else [host]:
            kernel[name] = stack == "linux"
    return replace(topo, hosts=tuple(replace(h, kernel=kernel[h.name]) for h in topo.hosts))


def load_scenario(path: str) -> list[tuple[int, C.Command]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"tcplab run: cannot read scenario {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SystemExit(f"tcplab run: scenario {path} is not UTF-8 text") from None
    try:
        return C.parse_script(text)
    except C.CommandError as exc:
        lines = "\n".join(f"{path}: {e}" for e in exc.errors)
        raise SystemExit(f"{lines}\ntcplab run: scenario has errors; nothing was run") from None


def main(argv: list[str]) -> int:
    # under `tcplab serve` the dashboard draws in a browser: Textual's web driver owns
    # file descriptor 1 for its protocol, so everything printed goes to stderr instead
    web = "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")
    if web:
        sys.stdout = sys.stderr
    args = build_parser().parse_args(argv)
    # checked before anything is built: a Mininet lab takes time to make
    problem = ("--headless needs --scenario FILE" if args.headless and not args.scenario
               else "--pace needs --scenario FILE" if args.pace is not None
               and not args.scenario
               else "--pace plays a demo in the dashboard: not with --headless"
               if args.pace is not None and args.headless
               else "--pace must be between 0 and 3600 seconds" if args.pace is not None
               and not 0 <= args.pace <= 3600
               else f"{args.record} already holds a recording: record into another "
                    f"directory (or delete it first)"
               if args.record and (Path(args.record) / "events.jsonl").exists() else None)
    if problem is not None:
        print(f"tcplab run: {problem}", file=sys.stderr)
        return 2
    try:
        topo: TopologySpec = load_topology(args.topology)
    except TopologyError as exc:
        print(f"tcplab run: {exc}", file=sys.stderr)
        return 2
    try:
        script = load_scenario(args.scenario) if args.scenario else None
        if args.msl is not None and not 0 <= args.msl <= 3600:
            raise SystemExit("tcplab run: --msl must be between 0 and 3600 seconds")
        if args.rto_min is not None and not 0.001 <= args.rto_min <= 60:
            raise SystemExit("tcplab run: --rto-min must be between 0.001 and 60 seconds")
        if args.keepalive is not None and not 1 <= args.keepalive <= 86400:
            raise SystemExit("tcplab run: --keepalive must be between 1 and 86400 seconds")
        topo = apply_stacks(topo, args.stack)
        settings = RunInputs.of(topo, backend="", mechanism="", seed=args.seed,
                                virtual=args.virtual_time, msl=args.msl,
                                keepalive=args.keepalive, rto_min=args.rto_min)
        backend, notice = choose_backend(args.backend, args.seed, args.virtual_time,
                                         settings.config(), args.switch)
        linux = [h.name for h in topo.hosts if h.kernel]
        if args.stack and linux and backend.name != "mininet":
            raise SystemExit(f"tcplab run: --stack: {', '.join(linux)} would run Linux's TCP, "
                             f"which needs the Mininet backend: "
                             f"{notice or 'run as root with --backend mininet'}")
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    inputs = replace(settings, backend=backend.name, mechanism=backend.mechanism,
                     notice=notice)
    bus = EventBus()
    lab = Lab(topo, backend, bus)
    if not args.headless:
        lab.keep_timeline(inputs.header())  # the dashboard draws every event of the run
    recorder = None
    if args.record:
        try:
            recorder = Recorder(args.record, inputs.header())
        except RecordError as exc:
            print(f"tcplab run: {exc}", file=sys.stderr)
            return 2
        bus.subscribe(recorder.event)
        backend.add_tap(recorder.frame)
        backend.add_host_tap(recorder.host_frame)
    printer = Printer(verbose=args.verbose)
    unsub = bus.subscribe(printer)
    try:
        try:
            lab.start()
        except (RuntimeError, OSError, ValueError) as exc:
            # the backend could not build the lab (a name taken, a tool failing): one line
            print(f"tcplab run: cannot start the lab: {exc}", file=sys.stderr)
            return 2
        if inputs.mechanism != backend.mechanism:
            # Mininet finds out how it can impair links only as it starts
            inputs = replace(inputs, mechanism=backend.mechanism)
            if recorder is not None:
                recorder.set_header(inputs.header())
        announce(lab, inputs)
        if args.headless and script is not None:
            return run_script(lab, script, printer)
        unsub()
        if not web and (not sys.stdout.isatty() or not sys.stdin.isatty()):
            # no terminal for the dashboard: a plain prompt (or the scenario) instead
            bus.subscribe(printer)
            return run_script(lab, script, printer) if script is not None else console(lab)
        from tcplab.tui.app import TcplabApp
        from tcplab.tui.demo import captions

        app = TcplabApp(lab, seed=args.seed, recording=recorder is not None, scenario=script,
                        captions=captions(Path(args.scenario).read_text(encoding="utf-8"))
                        if args.scenario else None, pace=args.pace)
        return app.run() or 0
    except KeyboardInterrupt:
        return 130
    finally:
        lab.stop()
        if recorder is not None:
            recorder.close()


def run_script(lab: Lab, script: list[tuple[int, C.Command]], printer: Printer) -> int:
    failed = 0
    for line_no, cmd in script:
        result = lab.execute(cmd, line_no)
        if not result.ok:
            failed += 1
            if isinstance(cmd, C.Expect | C.ExpectSeen | C.ExpectReceived):
                printer.line(lab.now(), f"FAIL line {line_no}: {cmd.to_line()}")
    printer.line(lab.now(), "all expectations held" if not failed
                 else f"{failed} command(s) or expectation(s) failed")
    return 1 if failed else 0


def console(lab: Lab) -> int:
    """A line-by-line command prompt (the dashboard replaces it when it lands)."""
    print("tcplab: type commands (help for the list, quit to leave)", flush=True)
    while True:
        try:
            line = input("tcplab> ")
        except EOFError:
            return 0
        word = line.strip()
        if word in ("quit", "exit"):
            return 0
        if word == "help":
            print("\n".join(C.HELP.values()))
            continue
        result = lab.execute(line)
        if result.ok and result.message:
            print(result.message)
