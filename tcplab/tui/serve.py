"""``tcplab serve``: the dashboard in a web browser, one lab per browser tab.

Theory of operation
-------------------
textual-serve runs a small HTTP server (aiohttp).  Its page draws a terminal
(xterm.js) and opens a websocket; for each websocket it starts the *app command* as a
child process, with Textual's web driver, and passes keys and screen updates between
the two.  So every browser tab gets its own ``python -m tcplab run ...`` process: its
own lab, clock and dashboard, nothing shared with the other tabs -- a classroom on one
machine, each student with their own network.  Closing the tab ends its process.

With ``--lab N`` each tab runs ``tcplab lab N --record-dir ROOT`` instead: the sheet's
panel with its ticks, and a recording in a new directory under ROOT (``--record-dir``,
default ``./recordings``) made by that tab's process, with the tab's ticks beside it --
every tab its own student, to grade with ``tcplab lab N --check ROOT/DIR``.  The sheet
and the lab arguments are checked when the server starts, not in each tab.

This module only builds that command line and starts the server; it never imports a
backend (the child process does, as ``tcplab run`` always does).  The simulated backend
is the default here (``--backend sim`` unless the arguments choose one): a classroom
machine has no Mininet for every tab.  The server listens on 127.0.0.1 unless
``--host`` says otherwise, and says where it listens when it starts, because every
client of the server can start a lab (a process) on this machine.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_RECORD_DIR = "./recordings"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcplab serve",
        allow_abbrev=False,  # --record is tcplab run's, not short for --record-dir
        description="Serve the dashboard over HTTP: each browser tab runs its own lab "
                    "(the simulated network unless RUN ARGS choose a --backend).",
        epilog="RUN ARGS are those of `tcplab run` (for example --topology, --seed, "
               "--scenario, --virtual-time), or with --lab those of `tcplab lab` (--seed, "
               "--backend); they apply to every tab's lab.")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine "
                             f"only; 0.0.0.0 lets other machines connect)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--lab", metavar="SHEET",
                        help="each tab runs `tcplab lab SHEET` (a lab number, a sheet's name "
                             "or a path), recorded into a new directory under --record-dir")
    parser.add_argument("--record-dir", metavar="ROOT", default=None,
                        help=f"with --lab: where each tab's recording directory is made "
                             f"(default {DEFAULT_RECORD_DIR})")
    return parser


def app_command(run_args: list[str]) -> str:
    """The shell command each browser tab runs: ``python -m tcplab run ...``."""
    args = list(run_args)
    if not any(a == "--backend" or a.startswith("--backend=") for a in args):
        args = ["--backend", "sim", *args]
    return shlex.join([sys.executable, "-m", "tcplab", "run", *args])


def lab_command(sheet: str, record_root: Path, lab_args: list[str]) -> str:
    """The shell command each browser tab runs with ``--lab``: ``python -m tcplab lab
    SHEET --record-dir ROOT ...`` (the simulated network unless ``lab_args`` choose)."""
    args = list(lab_args)
    if not any(a == "--backend" or a.startswith("--backend=") for a in args):
        args = ["--backend", "sim", *args]
    return shlex.join([sys.executable, "-m", "tcplab", "lab", sheet,
                       "--record-dir", str(record_root), *args])


def check_lab(sheet: str, lab_args: list[str]) -> str:
    """The sheet's file, as an absolute path, once the sheet and the arguments are known
    to be good; SheetError or ValueError with the reason otherwise."""
    from tcplab.labsheet.cli import build_parser as lab_parser
    from tcplab.labsheet.cli import find_sheet
    from tcplab.labsheet.sheet import load_sheet

    path = find_sheet(sheet)
    load_sheet(path)  # a sheet with mistakes: refused here, not in every tab
    parser = lab_parser()
    parser.exit_on_error = False
    try:
        known, unknown = parser.parse_known_args([str(path), *lab_args])
    except argparse.ArgumentError as exc:
        raise ValueError(str(exc)) from None
    if unknown:
        raise ValueError(f"not an option of tcplab lab: {' '.join(unknown)}")
    for flag in ("check", "record", "record_dir", "restart"):
        if getattr(known, flag):
            raise ValueError(f"--{flag.replace('_', '-')} is serve's to set, not the tabs'")
    return str(path.resolve())


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def announce(host: str, port: int, command: str, record_root: Path | None = None,
             sheet: str = "") -> str:
    """What the server says when it starts."""
    shown = f"[{host}]" if ":" in host else host
    lines = [f"tcplab serve: listening on http://{shown}:{port}/ -- open it in a browser; "
             f"each tab runs its own lab",
             f"  each tab runs: {command}"]
    if record_root is not None:
        lines.append(f"  each tab records into a new directory under {record_root} (its "
                     f"name shows in the tab's panel); grade one with: tcplab lab {sheet} "
                     f"--check {record_root}/NAME")
    if _loopback(host):
        lines.append("  only this machine can connect (--host 0.0.0.0 lets others in)")
    else:
        lines.append(f"  WARNING: anyone who can reach {host} can start labs (processes) on "
                     f"this machine")
    lines.append("  Ctrl+C stops the server")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = build_parser()
    options, run_args = parser.parse_known_args(argv)
    if not 0 < options.port < 65536:
        parser.error(f"--port must be 1..65535, not {options.port}")
    try:
        from textual_serve.server import Server
    except ImportError:
        print("tcplab serve: needs the textual-serve package (pip install textual-serve)",
              file=sys.stderr)
        return 2
    record_root: Path | None = None
    if options.lab is not None:
        from tcplab.labsheet.sheet import SheetError

        try:
            sheet = check_lab(options.lab, run_args)
            record_root = Path(options.record_dir or DEFAULT_RECORD_DIR).resolve()
            record_root.mkdir(parents=True, exist_ok=True)
        except (SheetError, ValueError) as exc:
            print(f"tcplab serve: --lab {options.lab}: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"tcplab serve: cannot make {options.record_dir or DEFAULT_RECORD_DIR}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2
        command = lab_command(sheet, record_root, run_args)
    elif options.record_dir is not None:
        parser.error("--record-dir needs --lab SHEET (tcplab run's tabs record nothing)")
    else:
        command = app_command(run_args)

    class Quiet(Server):
        """textual-serve, saying what tcplab says instead of its banner."""

        async def on_startup(self, app: object) -> None:
            print(announce(options.host, options.port, command, record_root,
                           options.lab or ""), flush=True)

    server = Quiet(command, host=options.host, port=options.port, title="tcplab")
    try:
        server.serve()
    except OSError as error:  # the port is taken, the address is not this machine's
        print(f"tcplab serve: cannot listen on {options.host}:{options.port}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 1
    return 0
