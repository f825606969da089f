"""The ``tcplab`` command: subcommands dispatch to their packages."""

from __future__ import annotations

import argparse
import sys


def _pkt(argv: list[str]) -> int:
    from tcplab.pkt.cli import main as pkt_main

    return pkt_main(argv)


def _run(argv: list[str]) -> int:
    from tcplab.lab.cli import main as run_main

    return run_main(argv)


def _bench(argv: list[str]) -> int:
    from tcplab.bench import main as bench_main

    return bench_main(argv)


COMMANDS = {
    "run": (_run, "run a lab (simulated network or Mininet)"),
    "pkt": (_pkt, "run packetdrill-syntax scripts against tcplab's TCP engine"),
    "bench": (_bench, "measure the engine (and later the lab and dashboard)"),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="tcplab", description="A terminal network lab for TCP.")
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to do")
    if not args:
        args = ["run"]  # plain `tcplab` opens the lab
    if args[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if args[0] not in COMMANDS:
        parser.error(f"unknown command {args[0]!r} (choose from {', '.join(sorted(COMMANDS))})")
    handler, _ = COMMANDS[args[0]]
    return handler(args[1:])
