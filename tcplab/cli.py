"""The ``tcplab`` command: subcommands dispatch to their packages."""

from __future__ import annotations

import argparse
import sys


def _pkt(argv: list[str]) -> int:
    from tcplab.pkt.cli import main as pkt_main

    return pkt_main(argv)


COMMANDS = {
    "pkt": (_pkt, "run packetdrill-syntax scripts against tcplab's TCP engine"),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="tcplab", description="A terminal network lab for TCP.")
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to do")
    if not args or args[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if args else 2
    if args[0] not in COMMANDS:
        parser.error(f"unknown command {args[0]!r} (choose from {', '.join(sorted(COMMANDS))})")
    handler, _ = COMMANDS[args[0]]
    return handler(args[1:])
