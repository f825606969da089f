"""Tokenizer and parsers of the command language (see the package docstring)."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from tcplab.lab import units
from tcplab.lab.commands.model import (
    COMMAND_NAMES,
    NAME_RE,
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
)
from tcplab.tcp.states import State

# --------------------------------------------------------------------------- tokenizer

_ESCAPES = {"n": b"\n", "t": b"\t", "\\": b"\\", '"': b'"'}


class _Fail(Exception):
    """A parse error without a line number yet."""


@dataclass(frozen=True, slots=True)
class _Token:
    text: str             # for strings: the bytes decoded as a file name would be
    data: bytes
    quoted: bool


def _read_string(line: str, start: int) -> tuple[bytes, int]:
    """Decode the string whose opening quote is at ``start``; return it and the end index."""
    out = bytearray()
    i = start + 1
    while i < len(line):
        char = line[i]
        if char == '"':
            return bytes(out), i + 1
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            i += 1
            continue
        code = line[i + 1: i + 2]
        if code in _ESCAPES:
            out += _ESCAPES[code]
            i += 2
        elif code == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", line[i + 2: i + 4]):
            out.append(int(line[i + 2: i + 4], 16))
            i += 4
        else:
            shown = line[i: i + 4] if code == "x" else line[i: i + 2]
            raise _Fail(f"bad escape {shown!r} in string (use \\n \\t \\\\ \\\" or \\xNN)")
    raise _Fail("unterminated string: missing closing \"")


def _tokenize(line: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(line):
        if line[i].isspace():
            i += 1
        elif line[i] == "#":
            break
        elif line[i] == '"':
            data, i = _read_string(line, i)
            if i < len(line) and not line[i].isspace():
                raise _Fail(f"text right after a closing quote: {line[i:].split()[0]!r}")
            tokens.append(_Token(os.fsdecode(data), data, True))
        else:
            end = i
            while end < len(line) and not line[end].isspace():
                end += 1
            word = line[i:end]
            if '"' in word:
                raise _Fail(f"stray quote in {word!r} (strings start with a quote)")
            tokens.append(_Token(word, word.encode("utf-8", "surrogateescape"), False))
            i = end
    return tokens


# ----------------------------------------------------------------------- value parsers

def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _name(text: str, what: str) -> str:
    if not NAME_RE.fullmatch(text):
        raise _Fail(f"bad {what} {text!r} (names start with a letter, then letters, digits, "
                    f"_ or -)")
    return text


def _host(text: str) -> str:
    if NAME_RE.fullmatch(text):
        return text
    if text[:1].isdigit():
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise _Fail(f"bad IPv4 address {text!r}") from None
        return text
    raise _Fail(f"bad host {text!r} (expected a name like h1 or an IPv4 address)")


def _port(text: str, whole: str) -> int:
    if not text:
        raise _Fail(f"missing port in {whole!r}")
    if not (text.isascii() and text.isdigit()):
        raise _Fail(f"bad port {text!r} in {whole!r} (expected a number 1..65535)")
    port = int(text)
    if not 1 <= port <= 65535:
        raise _Fail(f"port {port} out of range 1..65535")
    return port


def _host_port(text: str, port_required: bool = True) -> tuple[str, int | None]:
    if text.count(":") > 1:
        raise _Fail(f"unknown host syntax {text!r} (expected HOST:PORT like h2:80)")
    host, colon, port = text.partition(":")
    if not host:
        raise _Fail(f"missing host in {text!r}")
    if not colon:
        if port_required:
            raise _Fail(f"missing port in {text!r}")
        return _host(host), None
    return _host(host), _port(port, text)


def _endpoint(text: str) -> Endpoint:
    host, port = _host_port(text)
    assert port is not None
    return Endpoint(host, port)


def _conn(text: str) -> ConnRef:
    if ">" in text:
        local, _, remote = text.partition(">")
        if not local or not remote or ">" in remote:
            raise _Fail(f"bad connection {text!r} (expected HOST:PORT>HOST:PORT)")
        return ConnTuple(_endpoint(local), _endpoint(remote))
    accepted = text.endswith("'")
    base = text[:-1] if accepted else text
    if not NAME_RE.fullmatch(base):
        raise _Fail(f"bad connection {text!r} (expected a name like c1, c1' "
                    f"or h1:40000>h2:80)")
    return ConnName(base, accepted)


def _flow(text: str, what: str = "direction") -> Flow:
    src, arrow, dst = text.partition(">")
    if not arrow or not src or not dst or ">" in dst:
        raise _Fail(f"bad {what} {text!r} (expected SRC>DST like h1>h2)")
    return Flow(_host(src), _host(dst))


def _state(text: str) -> State:
    wanted = text.upper().replace("_", "-")
    for state in State:
        if state.value == wanted:
            return state
    names = [state.value for state in State]
    hint = _suggest(wanted, names) or f" (one of {', '.join(names)})"
    raise _Fail(f"unknown state {text!r}{hint}")


def _kind(text: str) -> SegmentKind:
    wanted = text.upper().replace("_", "-").replace(",", "-")
    for kind in SegmentKind:
        if kind.value == wanted:
            return kind
    names = [kind.value for kind in SegmentKind]
    hint = _suggest(wanted, names) or f" (one of {', '.join(names)})"
    raise _Fail(f"unknown segment kind {text!r}{hint}")


def _count(text: str, what: str, minimum: int) -> int:
    try:
        value = units.parse_count(text)
    except units.UnitError as error:
        raise _Fail(f"bad value for {what}: {text!r} ({error})") from None
    if value < minimum:
        raise _Fail(f"bad value for {what}: {text!r} (must be at least {minimum})")
    return value


# ---------------------------------------------------------------------- command parsers

class _Args:
    """The tokens after the command word, consumed left to right."""

    def __init__(self, command: str, tokens: list[_Token]) -> None:
        self.command = command
        self.tokens = tokens
        self.pos = 0

    def usage(self) -> str:
        return f"(usage: {USAGE[self.command]})"

    def take(self, what: str) -> _Token:
        if self.pos >= len(self.tokens):
            raise _Fail(f"{self.command} needs {what} {self.usage()}")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def done(self) -> None:
        if self.pos < len(self.tokens):
            extra = self.tokens[self.pos]
            raise _Fail(f"unexpected {extra.text!r} after {self.command} {self.usage()}")

    def option(self, key: str, minimum: int) -> int | None:
        """An optional trailing ``key=N``."""
        token = self.peek()
        if token is None:
            return None
        name, eq, value = token.text.partition("=")
        if not eq or name.lower() != key:
            raise _Fail(f"unexpected {token.text!r} after {self.command} {self.usage()}")
        self.pos += 1
        return _count(value, key, minimum)


def _tcp_options(args: _Args) -> TcpOptions:
    """``sack=off timestamps=on ...`` to the end of the line."""
    found: dict[str, bool] = {}
    while (token := args.peek()) is not None:
        args.pos += 1
        key, eq, raw = token.text.partition("=")
        key = {"ts": "timestamps"}.get(key.lower(), key.lower())
        if not eq:
            args.pos -= 1
            args.done()  # "unexpected ... after ..." with the usage
        if key not in TCP_FEATURES:
            raise _Fail(f"unknown TCP option {token.text!r} (expected "
                        f"{', '.join(f + '=on|off' for f in TCP_FEATURES)})"
                        f"{_suggest(key, list(TCP_FEATURES))}")
        if key in found:
            raise _Fail(f"{key} given twice")
        value = raw.lower()
        if value not in ("on", "off"):
            raise _Fail(f"bad value for {key}: {raw!r} (expected on or off)")
        found[key] = value == "on"
    return tuple((key, found[key]) for key in TCP_FEATURES if key in found)


def _p_listen(args: _Args) -> Command:
    endpoint = _endpoint(args.take("HOST:PORT").text)
    return Listen(endpoint, _tcp_options(args))


def _p_tcp(args: _Args) -> Command:
    host = _name(args.take("a HOST").text, "host")
    options = _tcp_options(args)
    if not options:
        raise _Fail("tcp HOST needs at least one of "
                    + ", ".join(f"{f}=" for f in TCP_FEATURES))
    return Tcp(host, options)


def _p_connect(args: _Args) -> Command:
    local_host, local_port = _host_port(args.take("a local HOST").text, port_required=False)
    remote = _endpoint(args.take("a remote HOST:PORT").text)
    conn_name = None
    token = args.peek()
    if token is not None and token.text == "as" and not token.quoted:
        args.pos += 1
        conn_name = _name(args.take("a NAME after 'as'").text, "connection name")
    return Connect(local_host, local_port, remote, conn_name, _tcp_options(args))


def _p_send(args: _Args) -> Command:
    conn = _conn(args.take("a connection").text)
    token = args.take('"text", --bytes N or --file PATH')
    urgent = not token.quoted and token.text == "--urgent"
    if urgent:
        token = args.take('"text" after --urgent')
    command: Command
    if token.quoted or not token.text.startswith("--"):
        if not token.data:
            raise _Fail("nothing to send: the text is empty")
        command = SendText(conn, token.data, urgent)
    elif urgent:
        raise _Fail('--urgent takes a "text"')
    elif token.text == "--bytes":
        command = SendBytes(conn, _count(args.take("a byte count after --bytes").text,
                                         "--bytes", 1))
    elif token.text == "--file":
        path = args.take("a PATH after --file").text
        if not path:
            raise _Fail("--file needs a non-empty PATH")
        command = SendFile(conn, path)
    else:
        raise _Fail(f"unknown option {token.text!r}{_suggest(token.text, ['--bytes', '--file'])}")
    args.done()
    return command


def _p_conn_only(cls: type[Shutdown | Close | Abort]) -> Callable[[_Args], Command]:
    def parse(args: _Args) -> Command:
        conn = _conn(args.take("a connection").text)
        args.done()
        return cls(conn)
    return parse


_DURATION_KEYS = ("delay", "jitter")
_LINK_KEYS = ("loss", "delay", "jitter", "bw", "dup", "reorder", "burst", "queue", "dir", "up",
              "down")


def _p_link(args: _Args) -> Command:
    a = _name(args.take("two nodes").text, "node")
    b = _name(args.take("two nodes").text, "node")
    if a == b:
        raise _Fail(f"a link joins two different nodes, not {a} and {b}")
    numbers: dict[str, float] = {}
    queue: int | None = None
    up: bool | None = None
    direction: Flow | None = None
    burst: tuple[float, float] | None = None
    seen: set[str] = set()
    while (token := args.peek()) is not None:
        args.pos += 1
        key, eq, raw = token.text.partition("=")
        key = key.lower()
        if not eq and key in ("up", "down"):
            if up is not None:
                raise _Fail("up/down given twice")
            up = key == "up"
            continue
        if not eq or key not in _LINK_KEYS or key in ("up", "down"):
            raise _Fail(f"unknown link parameter {token.text!r}{_suggest(key, _LINK_KEYS)}")
        if key in seen:
            raise _Fail(f"{key} given twice")
        seen.add(key)
        if key == "dir":
            direction = _direction(raw, a, b)
        elif key == "burst":
            burst = _burst(raw)
        elif key == "queue":
            queue = _count(raw, "queue", 1)
        else:
            numbers[key] = _link_number(key, raw)
    if not seen and up is None:
        raise _Fail(f"link {a} {b} needs at least one of loss=, delay=, jitter=, bw=, dup=, "
                    f"reorder=, burst=, queue=, up, down")
    if seen == {"dir"} and up is None:
        raise _Fail("dir= says which direction to change, but nothing is changed")
    return Link(a, b, loss=numbers.get("loss"), delay=numbers.get("delay"),
                jitter=numbers.get("jitter"), bw=numbers.get("bw"), dup=numbers.get("dup"),
                reorder=numbers.get("reorder"), queue=queue, up=up, direction=direction,
                burst=burst)


def _burst(raw: str) -> tuple[float, float]:
    """``burst=P%,R%``: Gilbert-Elliott bursty loss, P the chance to enter the lossy
    state per frame, R the chance to leave it; ``burst=0`` turns it off."""
    if raw in ("0", "0%", "off"):
        return (0.0, 0.0)
    p_text, comma, r_text = raw.partition(",")
    if not comma:
        raise _Fail(f"bad value for burst: {raw!r} (expected P%,R% like burst=1%,25%, or 0)")
    try:
        p, r = units.parse_percent(p_text), units.parse_percent(r_text)
    except units.UnitError as error:
        raise _Fail(f"bad value for burst: {raw!r} ({error})") from None
    if r == 0 and p > 0:
        raise _Fail("bad value for burst: R must be above 0% (or the loss never ends)")
    return (p, r)


def _link_number(key: str, raw: str) -> float:
    try:
        if key in _DURATION_KEYS:
            seconds = units.parse_duration(raw, bare="ms")
            units.check_delay(seconds)
            return seconds
        if key == "bw":  # Link.bw 0: unlimited
            return units.parse_link_bandwidth(raw, bare="mbit") or 0.0
        return units.parse_percent(raw)
    except units.UnitError as error:
        raise _Fail(f"bad value for {key}: {raw!r} ({error})") from None


def _direction(raw: str, a: str, b: str) -> Flow:
    flow = _flow(raw, "dir")
    if {flow.src, flow.dst} != {a, b}:
        raise _Fail(f"dir={raw} is not a direction of link {a} {b} (use {a}>{b} or {b}>{a})")
    return flow


def _seconds(raw: str, command: str) -> float:
    """A duration whose bare numbers are seconds (wait, step, rewind)."""
    try:
        return units.parse_duration(raw, bare="s")
    except units.UnitError as error:
        raise _Fail(f"bad value for {command}: {raw!r} ({error})") from None


def _p_wait(args: _Args) -> Command:
    seconds = _seconds(args.take("a duration").text, "wait")
    args.done()
    return Wait(seconds)


def _p_expect_state(cls: type[Expect | ExpectSeen]) -> Callable[[_Args], Command]:
    def parse(args: _Args) -> Command:
        conn = _conn(args.take("a connection").text)
        state = _state(args.take("a STATE").text)
        args.done()
        return cls(conn, state)
    return parse


def _p_expect_received(args: _Args) -> Command:
    conn = _conn(args.take("a connection").text)
    count = _count(args.take("a byte count").text, "expect-received", 0)
    args.done()
    return ExpectReceived(conn, count)


def _p_filter(args: _Args) -> Hold:
    """``hold``/``drop SRC>DST KIND [count=N]``: the words both take."""
    flow = _flow(args.take("SRC>DST").text)
    kind = _kind(args.take("a segment KIND").text)
    count = args.option("count", 1)
    args.done()
    return Hold(flow, kind, count)


def _p_drop(args: _Args) -> Command:
    held = _p_filter(args)  # a drop without count drops one segment
    return Drop(held.flow, held.kind, 1 if held.count is None else held.count)


def _p_release(args: _Args) -> Command:
    text = args.take("SRC>DST or all").text
    args.done()
    return Release(None if text.lower() == "all" else _flow(text))


def _p_restart(args: _Args) -> Command:
    host = _host(args.take("a HOST").text)
    args.done()
    return Restart(host)


def _p_step(args: _Args) -> Command:
    token = args.peek()
    if token is None:
        return Step()
    args.pos += 1
    args.done()
    raw = token.text
    if raw.isascii() and raw.isdigit():
        return Step(count=_count(raw, "step", 1))
    if not re.fullmatch(r"[\d.]+[A-Za-z]+", raw):
        raise _Fail(f"bad value for step: {raw!r} (a number of events like 5, or a duration "
                    f"with its unit like 100ms or 1.5s)")
    seconds = _seconds(raw, "step")
    if seconds <= 0:
        raise _Fail(f"bad value for step: {raw!r} (a duration above 0)")
    return Step(seconds=seconds)


_BREAK_WORDS = ("any", "send", "drop")


def _p_break(args: _Args) -> Command:
    first = args.take("what to watch")
    word = first.text.lower() if not first.quoted else ""
    command: Command
    if word == "drop":
        command = Break(BreakOn.DROP)
    elif word == "send":
        command = Break(BreakOn.SEND, kind=_kind(args.take("a segment KIND").text))
    else:
        # a connection named any, send or drop is reached by its four-tuple
        conn = None if word == "any" else _conn(first.text)
        command = Break(BreakOn.STATE, conn=conn, state=_state(args.take("a STATE").text))
    args.done()
    return command


def _p_unbreak(args: _Args) -> Command:
    raw = args.take("a breakpoint number or all").text
    args.done()
    return Unbreak(None if raw.lower() == "all" else _count(raw, "unbreak", 1))


def _p_rewind(args: _Args) -> Command:
    seconds = _seconds(args.take("a time").text, "rewind")
    args.done()
    return Rewind(seconds)


def _p_bare(cls: type[Pause | Resume | Breaks]) -> Callable[[_Args], Command]:
    def parse(args: _Args) -> Command:
        args.done()
        return cls()
    return parse


_PARSERS: dict[str, Callable[[_Args], Command]] = {
    "listen": _p_listen,
    "tcp": _p_tcp,
    "connect": _p_connect,
    "send": _p_send,
    "shutdown": _p_conn_only(Shutdown),
    "close": _p_conn_only(Close),
    "abort": _p_conn_only(Abort),
    "link": _p_link,
    "wait": _p_wait,
    "expect": _p_expect_state(Expect),
    "expect-seen": _p_expect_state(ExpectSeen),
    "expect-received": _p_expect_received,
    "hold": _p_filter,
    "release": _p_release,
    "drop": _p_drop,
    "pause": _p_bare(Pause),
    "resume": _p_bare(Resume),
    "restart": _p_restart,
    "step": _p_step,
    "break": _p_break,
    "breaks": _p_bare(Breaks),
    "unbreak": _p_unbreak,
    "rewind": _p_rewind,
}
assert set(_PARSERS) == set(COMMAND_NAMES)


# ------------------------------------------------------------------------------- API

def parse_line(text: str, line_no: int | None = None) -> Command | None:
    """Parse one line; None for a blank line or a comment.  Raises :class:`CommandError`."""
    try:
        tokens = _tokenize(text)
        if not tokens:
            return None
        word = tokens[0].text.lower()
        parser = _PARSERS.get(word)
        if parser is None:
            raise _Fail(f"unknown command {tokens[0].text!r}{_suggest(word, COMMAND_NAMES)}")
        return parser(_Args(word, tokens[1:]))
    except _Fail as error:
        raise CommandError(str(error), line_no) from None
    except UnicodeEncodeError:
        raise CommandError("the line contains text that is not valid Unicode", line_no) from None


def parse_script(text: str) -> list[tuple[int, Command]]:
    """Parse a whole scenario; returns (line number, command) pairs, numbered from 1.

    Every line is checked: one :class:`CommandError` reports all the bad lines at once.
    """
    commands: list[tuple[int, Command]] = []
    errors: list[CommandError] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        try:
            command = parse_line(line, line_no)
        except CommandError as error:
            errors.append(error)
            continue
        if command is not None:
            commands.append((line_no, command))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        first = errors[0]
        raise CommandError(first.reason, first.line_no, tuple(errors))
    return commands
