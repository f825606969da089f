"""``tcplab replay DIR``: a recording, opened again.

Three ways: the dashboard read-only over it, with a timeline to move through (no root
needed, whichever backend made it); ``--at T --json``, the sockets table at time T as
one JSON object for scripts (``{"t": T, "sockets": [...]}``, one entry per socket that
exists at T); ``--verify``, which re-executes a simulated-backend recording from its
inputs and commands and compares the events byte for byte.

Exit status: 0 done; 1 ``--verify`` found a difference; 2 a usage error or a recording
that cannot be read or re-executed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tcplab.lab.replay import events_file, sockets_at
from tcplab.lab.timeline import RecordingError
from tcplab.lab.units import parse_duration


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tcplab replay",
        description="Open a recording (made with tcplab run --record DIR) again.")
    p.add_argument("directory", metavar="DIR", help="the recording's directory")
    p.add_argument("--at", metavar="T", help="the time to look at, in seconds (or 500ms)")
    p.add_argument("--json", action="store_true",
                   help="with --at: print the sockets table at T as one JSON object")
    p.add_argument("--verify", action="store_true",
                   help="re-execute a simulated-backend recording and compare its events "
                        "byte for byte")
    return p


def _time(text: str) -> float:
    try:
        value = parse_duration(text, bare="s")
    except ValueError as exc:
        raise SystemExit(f"tcplab replay: --at {text}: {exc}") from None
    return value



def _table(obj: dict[str, Any]) -> str:
    lines = [f"t={obj['t']:g}"]
    for s in obj["sockets"]:
        remote = s["remote"] or "*"
        tcb = "" if s["cwnd"] is None else (
            f"  una/nxt {s['snd_una']}/{s['snd_nxt']} rcv.nxt {s['rcv_nxt']} "
            f"cwnd {s['cwnd']} rto {s['rto']:g}s")
        lines.append(f"{s['name'] or '-':6} {s['host']:4} {s['local']:>21} {remote:>21} "
                     f"{s['state']:12}{tcb}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    directory = Path(args.directory)
    try:
        if args.verify:
            if args.at is not None or args.json:
                raise SystemExit("tcplab replay: --verify takes no --at or --json")
            from tcplab.backends.sim.backend import SimBackend
            from tcplab.lab.rerun import verify

            return verify(directory, sys.stdout, SimBackend)
        if args.json and args.at is None:
            raise SystemExit("tcplab replay: --json needs --at T")
        if args.at is not None:
            obj = sockets_at(directory, _time(args.at))
            print(json.dumps(obj) if args.json else _table(obj))
            return 0
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    except RecordingError as exc:
        print(f"tcplab replay: {exc}", file=sys.stderr)
        return 2
    from tcplab.lab.timeline import Timeline

    try:  # a recording that cannot be read says so first, terminal or not
        timeline = Timeline.load(events_file(directory))
    except RecordingError as exc:
        print(f"tcplab replay: {exc}", file=sys.stderr)
        return 2
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        timeline.close()
        print("tcplab replay: the dashboard needs a terminal (or use --at T --json)",
              file=sys.stderr)
        return 2
    from tcplab.tui.app import TcplabApp

    try:
        return TcplabApp(None, timeline=timeline).run() or 0
    finally:
        timeline.close()
