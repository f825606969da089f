"""``tcplab pkt``: run packetdrill-syntax scripts and print one verdict per script.

Theory of operation
-------------------
Flags are parsed by hand against the same names a script's option lines use, so
:meth:`~tcplab.pkt.compare.Settings.apply` gives both the same meaning and the same
errors.  Each file is parsed and run independently; an unreadable file or a script
with a syntax error is a FAIL, never a traceback.  The output is a contract::

    PASS <path>
    FAIL <path> line N: expected `<script line>`, actual: <what the engine did>
    SKIP <path> line N: <why>
    N passed, N failed, N skipped

and the exit status is 0 only when nothing failed (2 for bad command-line input).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from tcplab.pkt.compare import SettingError, Settings
from tcplab.pkt.parse import ScriptError, Unsupported, parse_file
from tcplab.pkt.run import Outcome, run_script

USAGE = ("usage: tcplab pkt [--ignore-window] [--options strict|unordered|ignore] "
         "[--tolerance-ms N] [--mss N] [--wscale N] [--rcvbuf N] [--no-sack] "
         "[--no-timestamps] [--delayed-ack-ms N] [--msl-ms N] [--ignore-psh] [-v] FILE...")
HELP = """
Runs packetdrill-syntax scripts against tcplab's TCP engine under a virtual clock and
prints PASS, FAIL or SKIP per script, then "N passed, N failed, N skipped".

  --ignore-window          do not compare the window of outbound segments
  --options MODE           compare options: strict (default), unordered or ignore
  --tolerance-ms N         timing tolerance for outbound segments (default 4)
  --mss N, --wscale N      the MSS and window scale shift the engine offers
  --rcvbuf N               the engine's receive buffer in bytes
  --no-sack                the engine does not offer SACK
  --no-timestamps          the engine does not offer timestamps
  --no-rack                no RACK-TLP (RFC 8985): RFC 6675 loss rules, RTO for tail loss
  --delayed-ack-ms N       delayed ACK timeout (0: acknowledge at once)
  --msl-ms N               maximum segment lifetime (TIME-WAIT is twice it)
  --ignore-psh             compare flags without PSH
  -v                       print each line, segment and ignored backtick line

The same flags may stand as option lines at the top of a script (--msl-ms=1000);
a script's option lines override the command line, and may also be packetdrill's
--tolerance_usecs, --tolerance_percent and --tcp_ts_tick_usecs.  Scripts may check
TCP_INFO with Linux's names: %{ assert tcpi_snd_cwnd == 10 }%.  Shell commands in
backticks are never run (-v names them).  Details: tcplab/pkt/__init__.py.
"""
_VALUE_FLAGS = frozenset({"options", "tolerance-ms", "mss", "wscale", "rcvbuf",
                          "delayed-ack-ms", "msl-ms"})
_BOOL_FLAGS = frozenset({"ignore-window", "no-sack", "no-timestamps", "no-rack", "ignore-psh"})


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> tuple[Settings, bool, list[str]]:
    """(settings, verbose, files); raises UsageError with a one-line message."""
    settings = Settings()
    verbose = False
    files: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            files.extend(args)
            break
        if arg in ("-v", "--verbose"):
            verbose = True
            continue
        if not arg.startswith("--") or arg == "-":
            if arg.startswith("-") and arg != "-":
                raise UsageError(f"unknown flag {arg}")
            files.append(arg)
            continue
        name, eq, value = arg[2:].partition("=")
        if name in _VALUE_FLAGS and not eq:
            if not args:
                raise UsageError(f"--{name} needs a value")
            value, eq = args.pop(0), "="
        if name not in _VALUE_FLAGS | _BOOL_FLAGS:
            raise UsageError(f"unknown flag --{name}")
        try:
            settings.apply(name, value if eq else None)
        except SettingError as err:
            raise UsageError(str(err)) from None
    if not files:
        raise UsageError("no script files given")
    return settings, verbose, files


def run_file(path: str, settings: Settings, log: Callable[[str], None] | None = None) -> Outcome:
    """Parse and run one script file; every problem becomes an Outcome."""
    try:
        script = parse_file(path)
    except OSError as err:
        return Outcome("FAIL", f"cannot read the script: {err.strerror or err}")
    except UnicodeDecodeError:
        return Outcome("FAIL", "cannot read the script: not UTF-8 text")
    except Unsupported as err:
        return Outcome("SKIP", str(err))
    except ScriptError as err:
        return Outcome("FAIL", f"{err} (parse error)")
    return run_script(script, settings, log)


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE + "\n" + HELP, end="")
        return 0
    try:
        settings, verbose, files = parse_args(argv)
    except UsageError as err:
        print(f"tcplab pkt: error: {err}\n{USAGE}", file=sys.stderr)
        return 2
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for path in files:
        log = (lambda line: print(f"  {line}", flush=True)) if verbose else None
        if verbose:
            print(f"== {path}")
        outcome = run_file(path, settings, log)
        counts[outcome.status] += 1
        print(f"{outcome.status} {path}" + (f" {outcome.reason}" if outcome.reason else ""),
              flush=True)
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    return 1 if counts["FAIL"] else 0
