"""The command language's values: commands, connection references, errors, help texts.

Every command is a frozen dataclass whose class attribute ``name`` is its command word and
whose ``to_line()`` renders it as canonical text that :func:`~tcplab.lab.commands.parse_line`
reads back to an equal value.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, TypeAlias

from tcplab.lab import units
from tcplab.tcp.segment import ACK, FIN, RST, SYN
from tcplab.tcp.states import State

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class CommandError(ValueError):
    """A line that is not a valid command.  ``str()`` is ``line N: reason`` (or the reason).

    ``parse_script`` raises one CommandError for a whole script: ``line_no`` and ``reason``
    are its first error's, ``errors`` holds all of them and ``str()`` lists them, one a line.
    """

    def __init__(self, reason: str, line_no: int | None = None,
                 errors: tuple[CommandError, ...] = ()) -> None:
        self.reason = reason
        self.line_no = line_no
        self.errors: tuple[CommandError, ...] = errors or (self,)
        super().__init__(reason)

    def __str__(self) -> str:
        if len(self.errors) > 1:
            return "\n".join(str(error) for error in self.errors)
        return self.reason if self.line_no is None else f"line {self.line_no}: {self.reason}"


# ---------------------------------------------------------------------------- references

def quote(data: bytes) -> str:
    """``data`` as a quoted string of the command language."""
    return _quote(data)


def _quote(data: bytes) -> str:
    out = ['"']
    for byte in data:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """``host:port``; the host is a name or a dotted IPv4 address."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ConnName:
    """A connection named with ``as``; ``accepted`` selects the side ``listen`` accepted."""

    name: str
    accepted: bool = False

    def __str__(self) -> str:
        return self.name + ("'" if self.accepted else "")

    @property
    def peer(self) -> ConnName:
        """The other end of the same connection (``c1`` for ``c1'``)."""
        return ConnName(self.name, not self.accepted)


@dataclass(frozen=True, slots=True)
class ConnTuple:
    """A connection by its four-tuple, seen from ``local``'s host."""

    local: Endpoint
    remote: Endpoint

    def __str__(self) -> str:
        return f"{self.local}>{self.remote}"

    @property
    def peer(self) -> ConnTuple:
        """The same connection seen from the other end."""
        return ConnTuple(self.remote, self.local)


ConnRef: TypeAlias = ConnName | ConnTuple


@dataclass(frozen=True, slots=True)
class Flow:
    """One direction between two nodes: ``src>dst``."""

    src: str
    dst: str

    def __str__(self) -> str:
        return f"{self.src}>{self.dst}"


class SegmentKind(StrEnum):
    """Which segments ``hold`` and ``drop`` catch."""

    SYN = "SYN"          # SYN without ACK: an opening SYN
    SYN_ACK = "SYN-ACK"
    ACK = "ACK"          # a pure ACK: no SYN, FIN, RST and no data
    FIN = "FIN"          # any segment carrying FIN
    RST = "RST"
    DATA = "DATA"        # any segment carrying data
    ANY = "ANY"

    def matches(self, flags: int, payload_len: int) -> bool:
        """Whether a segment with these TCP flags and payload length is of this kind."""
        if self is SegmentKind.SYN:
            return flags & (SYN | ACK) == SYN
        if self is SegmentKind.SYN_ACK:
            return flags & (SYN | ACK) == SYN | ACK
        if self is SegmentKind.ACK:
            return flags & (SYN | FIN | RST | ACK) == ACK and payload_len == 0
        if self is SegmentKind.FIN:
            return bool(flags & FIN)
        if self is SegmentKind.RST:
            return bool(flags & RST)
        if self is SegmentKind.DATA:
            return payload_len > 0
        return True


# ------------------------------------------------------------------------------ commands
# Each command knows its command word (``name``) and renders itself as canonical text.

# TCP features a socket or host can turn on and off (the labs compare with and without)
# read= is the application's switch, not TCP's (it stops reading: the window closes), given
# the same way
TCP_FEATURES = ("sack", "timestamps", "wscale", "nagle", "keepalive", "rack", "syncookies",
                "read")
# each switch's value when not given (tcplab.tcp.config.Config): the usage of listen and
# connect shows the other value, the one worth typing
_SWITCH_DEFAULTS = {"sack": True, "timestamps": True, "wscale": True, "nagle": True,
                    "keepalive": False, "rack": True, "syncookies": True, "read": True}
assert set(_SWITCH_DEFAULTS) == set(TCP_FEATURES)
TcpOptions: TypeAlias = tuple[tuple[str, bool], ...]  # (feature, on), in TCP_FEATURES order


def _tcp_text(options: TcpOptions) -> str:
    return "".join(f" {key}={'on' if on else 'off'}" for key, on in options)


@dataclass(frozen=True, slots=True)
class Listen:
    """``listen HOST:PORT [switches]``: a passive OPEN (RFC 9293 §3.10.1) on one host's
    port; ``tcp`` turns TCP features (or the application's reading) off or on for this
    socket."""

    name: ClassVar[str] = "listen"
    endpoint: Endpoint
    tcp: TcpOptions = ()

    def to_line(self) -> str:
        """``listen h2:80`` and then each switch given (``sack=off``), in TCP_FEATURES
        order."""
        return f"listen {self.endpoint}{_tcp_text(self.tcp)}"


@dataclass(frozen=True, slots=True)
class Connect:
    """``connect HOST[:PORT] HOST:PORT [as NAME] [switches]``: an active OPEN (RFC 9293
    §3.10.1) from ``local_host`` to ``remote``; a fixed ``local_port`` makes a
    simultaneous open possible, and ``conn_name`` names the connection for later commands
    (``c1``; ``c1'`` is its accepted end)."""

    name: ClassVar[str] = "connect"
    local_host: str
    local_port: int | None  # None: an ephemeral port
    remote: Endpoint
    conn_name: str | None = None
    tcp: TcpOptions = ()

    def to_line(self) -> str:
        """``connect h1[:PORT] h2:80``, then ``as NAME`` and the switches when given."""
        local = self.local_host
        if self.local_port is not None:
            local += f":{self.local_port}"
        alias = f" as {self.conn_name}" if self.conn_name is not None else ""
        return f"connect {local} {self.remote}{alias}{_tcp_text(self.tcp)}"


@dataclass(frozen=True, slots=True)
class Tcp:
    """Defaults for the TCP sockets a host opens from now on."""

    name: ClassVar[str] = "tcp"
    host: str
    tcp: TcpOptions

    def to_line(self) -> str:
        """``tcp h1`` and then each switch given (``nagle=off``)."""
        return f"tcp {self.host}{_tcp_text(self.tcp)}"


@dataclass(frozen=True, slots=True)
class SendText:
    """``send CONN "text"``: queue these bytes on the connection (the application writes
    them all, however long the send buffer makes it wait); ``urgent``: as urgent data."""

    name: ClassVar[str] = "send"
    conn: ConnRef
    data: bytes
    urgent: bool = False  # --urgent: urgent data (RFC 9293 §3.8.5, MSG_OOB)

    def to_line(self) -> str:
        """``send CONN [--urgent] "..."`` with the bytes quoted and escaped so the line
        reads back to the same bytes."""
        return f"send {self.conn} {'--urgent ' if self.urgent else ''}{_quote(self.data)}"


@dataclass(frozen=True, slots=True)
class SendBytes:
    """``send CONN --bytes N``: queue ``count`` bytes of the printable test pattern (made
    as the socket takes them, so gigabytes never sit in memory)."""

    name: ClassVar[str] = "send"
    conn: ConnRef
    count: int

    def to_line(self) -> str:
        """``send CONN --bytes N``."""
        return f"send {self.conn} --bytes {self.count}"


@dataclass(frozen=True, slots=True)
class SendFile:
    """``send CONN --file PATH``: queue a regular file's contents (64 MiB at most, read
    when the command runs)."""

    name: ClassVar[str] = "send"
    conn: ConnRef
    path: str

    def to_line(self) -> str:
        """``send CONN --file "PATH"``, the path quoted as its bytes (any file name reads
        back the same)."""
        return f"send {self.conn} --file {_quote(os.fsencode(self.path))}"


@dataclass(frozen=True, slots=True)
class _OnConn:
    name: ClassVar[str]
    conn: ConnRef

    def to_line(self) -> str:
        return f"{self.name} {self.conn}"


@dataclass(frozen=True, slots=True)
class Shutdown(_OnConn):
    """``shutdown CONN``: close the sending side only (a FIN once queued bytes are
    written) and keep receiving."""

    name: ClassVar[str] = "shutdown"


@dataclass(frozen=True, slots=True)
class Close(_OnConn):
    """``close CONN``: CLOSE (RFC 9293 §3.10.4), a FIN once queued bytes are written."""

    name: ClassVar[str] = "close"


@dataclass(frozen=True, slots=True)
class Abort(_OnConn):
    """``abort CONN``: ABORT (RFC 9293 §3.10.5), a RST where the state calls for one;
    queued bytes are dropped."""

    name: ClassVar[str] = "abort"


@dataclass(frozen=True, slots=True)
class Link:
    """Change a link live; ``None`` leaves a parameter as it is.  ``direction`` None: both."""

    name: ClassVar[str] = "link"
    a: str
    b: str
    loss: float | None = None     # fraction 0..1
    delay: float | None = None    # seconds
    jitter: float | None = None   # seconds
    bw: float | None = None       # bits/s (at least 1 kbit/s); 0 = unlimited
    dup: float | None = None      # fraction 0..1
    reorder: float | None = None  # fraction 0..1
    burst: tuple[float, float] | None = None  # Gilbert-Elliott (p, r); (0, 0) turns it off
    queue: int | None = None      # packets (at least 1)
    up: bool | None = None
    direction: Flow | None = None

    def to_line(self) -> str:
        """``link A B``, then the parameters given in the units a person would type
        (``loss=5% delay=20ms``), ``up``/``down`` and ``dir=``."""
        parts = ["link", self.a, self.b]
        parts += [units.link_word(key, value) for key in units.LINK_PARAMS
                  if (value := getattr(self, key)) is not None]
        if self.up is not None:
            parts.append(units.format_up(self.up))
        if self.direction is not None:
            parts.append(f"dir={self.direction}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Wait:
    """``wait SECONDS``: let the run's clock go ``seconds`` forward (a breakpoint can end
    it early)."""

    name: ClassVar[str] = "wait"
    seconds: float

    def to_line(self) -> str:
        """``wait SECONDS``, in bare seconds (``wait 0.5``)."""
        return f"wait {units.format_number(self.seconds)}"


@dataclass(frozen=True, slots=True)
class _StateCheck:
    name: ClassVar[str]
    conn: ConnRef
    state: State

    def to_line(self) -> str:
        return f"{self.name} {self.conn} {self.state.value}"


@dataclass(frozen=True, slots=True)
class Expect(_StateCheck):
    """The connection is in ``state`` now (a name keeps its history: CLOSED when gone)."""

    name: ClassVar[str] = "expect"


@dataclass(frozen=True, slots=True)
class ExpectSeen(_StateCheck):
    """The connection has been in ``state`` at some time."""

    name: ClassVar[str] = "expect-seen"


@dataclass(frozen=True, slots=True)
class ExpectReceived:
    """Exactly ``count`` bytes were delivered to the peer's application: more would
    mean bytes delivered twice, which is as much a bug as bytes missing."""

    name: ClassVar[str] = "expect-received"
    conn: ConnRef
    count: int

    def to_line(self) -> str:
        """``expect-received CONN BYTES``."""
        return f"expect-received {self.conn} {self.count}"


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep matching segments in flight until ``release``; ``count`` None: all of them."""

    name: ClassVar[str] = "hold"
    flow: Flow
    kind: SegmentKind
    count: int | None = None

    def to_line(self) -> str:
        """``hold SRC>DST KIND``, then ``count=N`` when limited."""
        tail = "" if self.count is None else f" count={self.count}"
        return f"hold {self.flow} {self.kind.value}{tail}"


@dataclass(frozen=True, slots=True)
class Release:
    """Deliver held segments now; ``flow`` None: every held segment."""

    name: ClassVar[str] = "release"
    flow: Flow | None = None

    def to_line(self) -> str:
        """``release SRC>DST`` or ``release all``."""
        return f"release {self.flow if self.flow is not None else 'all'}"


@dataclass(frozen=True, slots=True)
class Drop:
    """``drop SRC>DST KIND [count=N]``: the network loses the next ``count`` segments of
    ``kind`` going that way (a deterministic loss, unlike ``link loss=``)."""

    name: ClassVar[str] = "drop"
    flow: Flow
    kind: SegmentKind
    count: int = 1

    def to_line(self) -> str:
        """``drop SRC>DST KIND count=N``, the count always written."""
        return f"drop {self.flow} {self.kind.value} count={self.count}"


@dataclass(frozen=True, slots=True)
class Restart:
    """Start a fresh agent on a Mininet host (its old sockets are gone)."""

    name: ClassVar[str] = "restart"
    host: str

    def to_line(self) -> str:
        """``restart HOST``."""
        return f"restart {self.host}"


@dataclass(frozen=True, slots=True)
class _Bare:
    name: ClassVar[str]

    def to_line(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Pause(_Bare):
    """``pause``: stop the simulated clock (a real one cannot stop)."""

    name: ClassVar[str] = "pause"


@dataclass(frozen=True, slots=True)
class Resume(_Bare):
    """``resume``: let a paused clock run again."""

    name: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True)
class Step:
    """While the clock is paused: run the next ``count`` events (scheduler entries that
    publish something), or the clock ``seconds`` forward.  Neither: one event."""

    name: ClassVar[str] = "step"
    count: int | None = None
    seconds: float | None = None

    def to_line(self) -> str:
        """``step``, ``step N`` or ``step DURATION`` (``step 100ms``)."""
        if self.seconds is not None:
            return f"step {units.format_duration(self.seconds)}"
        return "step" if self.count is None else f"step {self.count}"


class BreakOn(StrEnum):
    """What a breakpoint watches."""

    STATE = "state"   # a connection (or any: ``conn`` None) enters ``state``
    SEND = "send"     # a host sends a segment of ``kind``
    DROP = "drop"     # a link loses a frame, or a ``drop`` rule eats one


@dataclass(frozen=True, slots=True)
class Break:
    """Stop the clock right after an event: ``break c1 CLOSING``, ``break any TIME-WAIT``,
    ``break send FIN``, ``break drop``."""

    name: ClassVar[str] = "break"
    on: BreakOn
    conn: ConnRef | None = None        # STATE: None is any connection
    state: State | None = None         # STATE
    kind: SegmentKind | None = None    # SEND

    def to_line(self) -> str:
        """``break CONN STATE``, ``break any STATE``, ``break send KIND`` or ``break
        drop``."""
        if self.on is BreakOn.SEND:
            return f"break send {self.kind.value if self.kind else 'ANY'}"
        if self.on is BreakOn.DROP:
            return "break drop"
        target = "any" if self.conn is None else str(self.conn)
        return f"break {target} {self.state.value if self.state else '?'}"


@dataclass(frozen=True, slots=True)
class Breaks(_Bare):
    """``breaks``: list the breakpoints, numbered."""

    name: ClassVar[str] = "breaks"


@dataclass(frozen=True, slots=True)
class Unbreak:
    """Remove breakpoint ``number`` (None: all of them)."""

    name: ClassVar[str] = "unbreak"
    number: int | None = None

    def to_line(self) -> str:
        """``unbreak N`` or ``unbreak all``."""
        return f"unbreak {'all' if self.number is None else self.number}"


@dataclass(frozen=True, slots=True)
class Rewind:
    """Re-run the simulation from its start to ``seconds`` and go on from there."""

    name: ClassVar[str] = "rewind"
    seconds: float

    def to_line(self) -> str:
        """``rewind SECONDS``, in bare seconds."""
        return f"rewind {units.format_number(self.seconds)}"


Command: TypeAlias = (Listen | Connect | Tcp | SendText | SendBytes | SendFile | Shutdown | Close
                      | Abort | Link | Wait | Expect | ExpectSeen | ExpectReceived | Hold
                      | Release | Drop | Pause | Resume | Restart | Step | Break | Breaks
                      | Unbreak | Rewind)

_SOCKET_SWITCHES = " ".join(f"[{key}={'off' if _SWITCH_DEFAULTS[key] else 'on'}]"
                            for key in TCP_FEATURES)
_HOST_SWITCHES = " ".join(f"[{key}=on|off]" for key in TCP_FEATURES)

_SPEC: dict[str, tuple[str, str]] = {
    "listen": (f"listen HOST:PORT {_SOCKET_SWITCHES}",
               "open a listening socket (optionally without some TCP features; read=off: "
               "its application does not read what arrives)"),
    "connect": (f"connect HOST[:PORT] HOST:PORT [as NAME] {_SOCKET_SWITCHES}",
                "open a connection (a fixed local port allows simultaneous open; read=off: "
                "its application does not read)"),
    "tcp": (f"tcp HOST {_HOST_SWITCHES}",
            "set the TCP features of the sockets a host opens from now on (read=: its "
            "application stops or resumes reading every socket, now)"),
    "send": ('send CONN [--urgent] "text" | send CONN --bytes N | send CONN --file PATH',
             "send text (--urgent: as urgent data), N generated bytes, or a file's contents"),
    "shutdown": ("shutdown CONN", "close the sending side only (send FIN, keep receiving)"),
    "close": ("close CONN", "close the connection (send FIN)"),
    "abort": ("abort CONN", "abort the connection (send RST)"),
    "link": ("link A B [loss=5%] [delay=20ms] [jitter=5ms] [bw=10mbit] [dup=1%] [reorder=2%] "
             "[burst=P%,R%] [queue=100] [up|down] [dir=A>B]",
             "change a link live; both directions unless dir="),
    "wait": ("wait SECONDS (or wait 500ms)", "let time pass on the run's clock"),
    "expect": ("expect CONN STATE", "check the connection is in STATE now"),
    "expect-seen": ("expect-seen CONN STATE", "check the connection has been in STATE"),
    "expect-received": ("expect-received CONN BYTES",
                        "check the peer application has received exactly BYTES bytes"),
    "hold": ("hold SRC>DST KIND [count=N]",
             "keep segments of KIND (SYN, SYN-ACK, ACK, FIN, RST, DATA, ANY) in flight"),
    "release": ("release SRC>DST | release all", "deliver held segments now"),
    "drop": ("drop SRC>DST KIND [count=N]", "drop the next N segments of KIND (default 1)"),
    "pause": ("pause", "pause the simulated clock"),
    "resume": ("resume", "resume the simulated clock"),
    "restart": ("restart HOST",
                "start a new agent on a Mininet host whose agent died (its sockets are gone)"),
    "step": ("step | step N | step 100ms",
             "while paused or under a virtual clock: run the next event (or N events, or "
             "the clock 100 ms) and say what happened (simulated network)"),
    "break": ("break CONN STATE | break any STATE | break send KIND | break drop",
              "stop the clock right after a connection enters STATE, a host sends a KIND "
              "segment (SYN, SYN-ACK, ACK, FIN, RST, DATA, ANY) or a link drops one"),
    "breaks": ("breaks", "list the breakpoints, numbered"),
    "unbreak": ("unbreak N | unbreak all", "remove breakpoint N, or all of them"),
    "rewind": ("rewind SECONDS (or rewind 500ms)",
               "re-run the simulation from its start to that time and go on from there "
               "(a new branch)"),
}
COMMAND_NAMES: tuple[str, ...] = tuple(_SPEC)
USAGE: dict[str, str] = {name: usage for name, (usage, _) in _SPEC.items()}
HELP: dict[str, str] = {name: f"{usage} -- {what}" for name, (usage, what) in _SPEC.items()}
