"""The ``tcplab`` command: subcommands dispatch to their packages."""

from __future__ import annotations

import argparse
import sys


def _pkt(argv: list[str]) -> int:
    from tcplab.pkt.cli import main as pkt_main

    return pkt_main(argv)


def _run(argv: list[str]) -> int:
    from tcplab.cli.run import main as run_main

    return run_main(argv)


def _bench(argv: list[str]) -> int:
    from tcplab.bench import main as bench_main

    return bench_main(argv)


def _replay(argv: list[str]) -> int:
    from tcplab.cli.replay import main as replay_main

    return replay_main(argv)


def _clean(argv: list[str]) -> int:
    from tcplab.backends.mininet.clean import main as clean_main

    return clean_main(argv)


def _serve(argv: list[str]) -> int:
    from tcplab.tui.serve import main as serve_main

    return serve_main(argv)


def _lab(argv: list[str]) -> int:
    from tcplab.labsheet.cli import main as lab_main

    return lab_main(argv)


COMMANDS = {
    "run": (_run, "run a lab (simulated network or Mininet)"),
    "pkt": (_pkt, "run packetdrill-syntax scripts against tcplab's TCP engine"),
    "replay": (_replay, "open a recording again: the dashboard, --at T --json, --verify"),
    "bench": (_bench, "measure the engine, the dashboard, replay and the Mininet backend"),
    "clean": (_clean, "remove what crashed Mininet labs left behind (never runs mn -c)"),
    "lab": (_lab, "a lab sheet beside the dashboard, its checks ticking (--check DIR grades "
                  "a recording)"),
    "serve": (_serve, "the dashboard in a web browser, each tab its own lab (textual-serve)"),
}


def _looks_like_run(word: str) -> bool:
    """An option, a topology file or a builtin topology name: arguments for `run`."""
    if word.startswith("-") or ".py" in word or "/" in word:
        return True
    from tcplab.lab.topology import builtin_topologies

    return word.split(":", 1)[0] in builtin_topologies()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="tcplab", description="A terminal network lab for TCP.")
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to do")
    if not args or (args[0] not in COMMANDS and args[0] not in ("-h", "--help")
                    and _looks_like_run(args[0])):
        # plain `tcplab`, `tcplab topologies/pair.py` or `tcplab --seed 3` open the lab
        args = ["run", *args]
    if args[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if args[0] not in COMMANDS:
        parser.error(f"unknown command {args[0]!r} (choose from {', '.join(sorted(COMMANDS))})")
    handler, _ = COMMANDS[args[0]]
    return handler(args[1:])
