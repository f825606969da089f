"""``tcplab serve``: the dashboard in a web browser, one lab per browser tab.

Theory of operation
-------------------
textual-serve runs a small HTTP server (aiohttp).  Its page draws a terminal
(xterm.js) and opens a websocket; for each websocket it starts the *app command* as a
child process, with Textual's web driver, and passes keys and screen updates between
the two.  So every browser tab gets its own ``python -m tcplab run ...`` process: its
own lab, clock and dashboard, nothing shared with the other tabs -- a classroom on one
machine, each student with their own network.  Closing the tab ends its process.

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

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcplab serve",
        description="Serve the dashboard over HTTP: each browser tab runs its own lab "
                    "(the simulated network unless RUN ARGS choose a --backend).",
        epilog="RUN ARGS are those of `tcplab run` (for example --topology, --seed, "
               "--scenario, --virtual-time); they apply to every tab's lab.")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine "
                             f"only; 0.0.0.0 lets other machines connect)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port to listen on (default {DEFAULT_PORT})")
    return parser


def app_command(run_args: list[str]) -> str:
    """The shell command each browser tab runs: ``python -m tcplab run ...``."""
    args = list(run_args)
    if not any(a == "--backend" or a.startswith("--backend=") for a in args):
        args = ["--backend", "sim", *args]
    return shlex.join([sys.executable, "-m", "tcplab", "run", *args])


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def announce(host: str, port: int, command: str) -> str:
    """What the server says when it starts."""
    shown = f"[{host}]" if ":" in host else host
    lines = [f"tcplab serve: listening on http://{shown}:{port}/ -- open it in a browser; "
             f"each tab runs its own lab",
             f"  each tab runs: {command}"]
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
    command = app_command(run_args)

    class Quiet(Server):
        """textual-serve, saying what tcplab says instead of its banner."""

        async def on_startup(self, app: object) -> None:
            print(announce(options.host, options.port, command), flush=True)

    server = Quiet(command, host=options.host, port=options.port, title="tcplab")
    try:
        server.serve()
    except OSError as error:  # the port is taken, the address is not this machine's
        print(f"tcplab serve: cannot listen on {options.host}:{options.port}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 1
    return 0
