"""The headless printer: the event stream as lines on a terminal.

Each state change is one line, for example
``t=0.100 h1 10.0.0.1:40000>10.0.0.2:80 SYN-SENT -> ESTABLISHED (rcv SYN,ACK)``;
commands that fail, link changes and notices get a line too.  ``verbose`` adds every
segment sent and every drop.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tcplab.lab import events as L
from tcplab.stack import events as H
from tcplab.tcp.segment import describe


def _addr(a: tuple[str, int] | None) -> str:
    return f"{a[0]}:{a[1]}" if a is not None else "*:*"


class Printer:
    """Prints the event stream as lines on ``out`` (standard output by default): a
    subscriber for the event bus (see the module docstring)."""

    def __init__(self, out: TextIO | None = None, verbose: bool = False) -> None:
        self.out = out if out is not None else sys.stdout
        self.verbose = verbose

    def line(self, t: float, text: str) -> None:
        """Print ``t=SECONDS text`` and flush, so the line is seen as it happens."""
        print(f"t={t:.3f} {text}", file=self.out, flush=True)

    def __call__(self, e: L.LabEvent) -> None:
        """Print ``e``'s line, if it gets one (segments and drops only when
        ``verbose``)."""
        if isinstance(e, H.StateChanged):
            self.line(e.t, f"{e.host} {_addr(e.local)}>{_addr(e.remote)} "
                           f"{e.old} -> {e.new} ({e.cause})")
        elif isinstance(e, L.CommandDone):
            if not e.ok:
                self.line(e.t, f"error: {e.message}")
            elif self.verbose:
                self.line(e.t, f"> {e.line}: {e.message}")
        elif isinstance(e, L.Notice):
            self.line(e.t, f"notice: {e.text}")
        elif isinstance(e, L.LinkChanged):
            self.line(e.t, f"link {e.direction} {e.params}")
        elif isinstance(e, L.BreakHit):
            self.line(e.t, f"breakpoint {e.number} ({e.spec}): {e.detail}")
        elif isinstance(e, L.RunRewound):
            self.line(e.t, f"rewound to t={e.to:g}: the first {e.keep} events stand, "
                           f"a new branch starts")
        elif isinstance(e, H.ConnectionFailed | H.SoftError):
            self.line(e.t, f"{e.host} socket {e.sid}: {e.reason}")
        elif not self.verbose:
            return
        elif isinstance(e, H.SegmentSent):
            self.line(e.t, f"{e.host} > {_addr(e.src)}>{_addr(e.dst)} {describe(e.segment)}")
        elif isinstance(e, L.LinkDropped):
            self.line(e.t, f"link {e.direction} dropped ({e.reason}): {e.summary}")
        elif isinstance(e, H.SegmentDropped):
            self.line(e.t, f"{e.host} dropped ({e.reason}): {e.summary}")
        elif isinstance(e, L.LinkHeld):
            self.line(e.t, f"link {e.direction} holding: {e.summary}")
