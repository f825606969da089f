"""The command language: one line, one command, parsed into a typed immutable value.

Theory of operation
-------------------
The dashboard's command line, scenario files and the Mininet control channel all speak
this language, so they share this parser and its error messages.  It only *parses*: the
lab's executor decides whether ``h9`` exists or port 80 is in use.

A line is split into tokens at whitespace.  A token starting with ``"`` is a string with
the escapes ``\\n \\t \\\\ \\" \\xNN`` and runs to its closing quote; a ``#`` at the start
of a token begins a comment.  The first token names the command; its parser consumes the
rest and builds one of the frozen dataclasses of :mod:`~tcplab.lab.commands.model`
(the tokenizer is in :mod:`~tcplab.lab.commands.lexer`, the parsers in
:mod:`~tcplab.lab.commands.parse`, :mod:`~tcplab.lab.commands.values` and
:mod:`~tcplab.lab.commands.link_params`).  Every command renders back to
canonical text with ``to_line()``, and ``parse_line(cmd.to_line()) == cmd`` always holds
(values with units go through :mod:`tcplab.lab.units`, which makes that exact).

Names follow one rule: hosts, nodes and connection names match
``[A-Za-z][A-Za-z0-9_-]*``; a host may also be a dotted IPv4 address.  A connection is
referred to by its ``as`` name, by ``c1'`` for the side that ``listen`` accepted, or by its
four-tuple ``h1:40000>h2:80``.

Numbers in ``link``: ``loss``/``dup``/``reorder`` are percentages (``5%`` or ``5``);
``delay``/``jitter`` are durations whose bare numbers are milliseconds; ``bw`` is a
bandwidth of at least 1 kbit/s whose bare number is Mbit/s as in Mininet, or
``bw=unlimited``; delays and jitters are at most 60 s; ``queue`` is a packet count, at
least 1.  ``wait`` and ``rewind``
take seconds; ``step`` takes a count of events (``step 5``) or a duration with its unit
(``step 100ms``).  ``break send KIND`` takes the kinds of ``hold`` and ``drop``; ``any``,
``send`` and ``drop`` right after ``break`` are keywords, not connection names.
"""

from tcplab.lab.commands.model import (
    COMMAND_NAMES,
    HELP,
    TCP_FEATURES,
    USAGE,
    Abort,
    Break,
    BreakOn,
    Breaks,
    Close,
    Command,
    CommandError,
    Connect,
    ConnName,
    ConnRef,
    ConnTuple,
    Drop,
    Endpoint,
    Expect,
    ExpectReceived,
    ExpectSeen,
    Flow,
    Hold,
    Link,
    Listen,
    Pause,
    Release,
    Restart,
    Resume,
    Rewind,
    SegmentKind,
    SendBytes,
    SendFile,
    SendText,
    Shutdown,
    Step,
    Tcp,
    TcpOptions,
    Unbreak,
    Wait,
    quote,
)
from tcplab.lab.commands.parse import parse_line, parse_script

__all__ = [
    "COMMAND_NAMES",
    "HELP",
    "TCP_FEATURES",
    "USAGE",
    "Abort",
    "Break",
    "BreakOn",
    "Breaks",
    "Close",
    "Command",
    "CommandError",
    "ConnName",
    "ConnRef",
    "ConnTuple",
    "Connect",
    "Drop",
    "Endpoint",
    "Expect",
    "ExpectReceived",
    "ExpectSeen",
    "Flow",
    "Hold",
    "Link",
    "Listen",
    "Pause",
    "Release",
    "Restart",
    "Resume",
    "Rewind",
    "SegmentKind",
    "SendBytes",
    "SendFile",
    "SendText",
    "Shutdown",
    "Step",
    "Tcp",
    "TcpOptions",
    "Unbreak",
    "Wait",
    "parse_line",
    "parse_script",
    "quote",
]
