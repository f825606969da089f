"""The parsers of the command language, one per command word (see the package docstring).

The tokenizer is in :mod:`~tcplab.lab.commands.lexer`, the value parsers in
:mod:`~tcplab.lab.commands.values` and the ``link`` parameters in
:mod:`~tcplab.lab.commands.link_params`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tcplab.lab.commands import values as v
from tcplab.lab.commands.lexer import ParseFail, Token, tokenize
from tcplab.lab.commands.link_params import parse_link
from tcplab.lab.commands.model import (
    COMMAND_NAMES,
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
    Drop,
    Expect,
    ExpectReceived,
    ExpectSeen,
    Hold,
    Listen,
    Pause,
    Release,
    Restart,
    Resume,
    Rewind,
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

# ---------------------------------------------------------------------- command parsers

class _Args:
    """The tokens after the command word, consumed left to right."""

    def __init__(self, command: str, tokens: list[Token]) -> None:
        self.command = command
        self.tokens = tokens
        self.pos = 0

    def usage(self) -> str:
        return f"(usage: {USAGE[self.command]})"

    def take(self, what: str) -> Token:
        if self.pos >= len(self.tokens):
            raise ParseFail(f"{self.command} needs {what} {self.usage()}")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def done(self) -> None:
        if self.pos < len(self.tokens):
            extra = self.tokens[self.pos]
            raise ParseFail(f"unexpected {extra.text!r} after {self.command} {self.usage()}")

    def option(self, key: str, minimum: int) -> int | None:
        """An optional trailing ``key=N``."""
        token = self.peek()
        if token is None:
            return None
        name, eq, value = token.text.partition("=")
        if not eq or name.lower() != key:
            raise ParseFail(f"unexpected {token.text!r} after {self.command} {self.usage()}")
        self.pos += 1
        return v.count(value, key, minimum)


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
            raise ParseFail(f"unknown TCP option {token.text!r} (expected "
                            f"{', '.join(f + '=on|off' for f in TCP_FEATURES)})"
                            f"{v.suggest(key, list(TCP_FEATURES))}")
        if key in found:
            raise ParseFail(f"{key} given twice")
        value = raw.lower()
        if value not in ("on", "off"):
            raise ParseFail(f"bad value for {key}: {raw!r} (expected on or off)")
        found[key] = value == "on"
    return tuple((key, found[key]) for key in TCP_FEATURES if key in found)


def _p_listen(args: _Args) -> Command:
    endpoint = v.endpoint(args.take("HOST:PORT").text)
    return Listen(endpoint, _tcp_options(args))


def _p_tcp(args: _Args) -> Command:
    host = v.name(args.take("a HOST").text, "host")
    options = _tcp_options(args)
    if not options:
        raise ParseFail("tcp HOST needs at least one of "
                        + ", ".join(f"{f}=" for f in TCP_FEATURES))
    return Tcp(host, options)


def _p_connect(args: _Args) -> Command:
    local_host, local_port = v.host_port(args.take("a local HOST").text, port_required=False)
    remote = v.endpoint(args.take("a remote HOST:PORT").text)
    conn_name = None
    token = args.peek()
    if token is not None and token.text == "as" and not token.quoted:
        args.pos += 1
        conn_name = v.name(args.take("a NAME after 'as'").text, "connection name")
    return Connect(local_host, local_port, remote, conn_name, _tcp_options(args))


def _p_send(args: _Args) -> Command:
    conn = v.conn(args.take("a connection").text)
    token = args.take('"text", --bytes N or --file PATH')
    urgent = not token.quoted and token.text == "--urgent"
    if urgent:
        token = args.take('"text" after --urgent')
    command: Command
    if token.quoted or not token.text.startswith("--"):
        if not token.data:
            raise ParseFail("nothing to send: the text is empty")
        command = SendText(conn, token.data, urgent)
    elif urgent:
        raise ParseFail('--urgent takes a "text"')
    elif token.text == "--bytes":
        command = SendBytes(conn, v.count(args.take("a byte count after --bytes").text,
                                         "--bytes", 1))
    elif token.text == "--file":
        path = args.take("a PATH after --file").text
        if not path:
            raise ParseFail("--file needs a non-empty PATH")
        command = SendFile(conn, path)
    else:
        hint = v.suggest(token.text, ["--bytes", "--file"])
        raise ParseFail(f"unknown option {token.text!r}{hint}")
    args.done()
    return command


def _p_conn_only(cls: type[Shutdown | Close | Abort]) -> Callable[[_Args], Command]:
    def parse(args: _Args) -> Command:
        conn = v.conn(args.take("a connection").text)
        args.done()
        return cls(conn)
    return parse


def _p_link(args: _Args) -> Command:
    a = v.name(args.take("two nodes").text, "node")
    b = v.name(args.take("two nodes").text, "node")
    words = [token.text for token in args.tokens[args.pos:]]
    args.pos = len(args.tokens)
    return parse_link(a, b, words)


def _p_wait(args: _Args) -> Command:
    seconds = v.seconds(args.take("a duration").text, "wait")
    args.done()
    return Wait(seconds)


def _p_expect_state(cls: type[Expect | ExpectSeen]) -> Callable[[_Args], Command]:
    def parse(args: _Args) -> Command:
        conn = v.conn(args.take("a connection").text)
        state = v.state(args.take("a STATE").text)
        args.done()
        return cls(conn, state)
    return parse


def _p_expect_received(args: _Args) -> Command:
    conn = v.conn(args.take("a connection").text)
    count = v.count(args.take("a byte count").text, "expect-received", 0)
    args.done()
    return ExpectReceived(conn, count)


def _p_filter(args: _Args) -> Hold:
    """``hold``/``drop SRC>DST KIND [count=N]``: the words both take."""
    flow = v.flow(args.take("SRC>DST").text)
    kind = v.kind(args.take("a segment KIND").text)
    count = args.option("count", 1)
    args.done()
    return Hold(flow, kind, count)


def _p_drop(args: _Args) -> Command:
    held = _p_filter(args)  # a drop without count drops one segment
    return Drop(held.flow, held.kind, 1 if held.count is None else held.count)


def _p_release(args: _Args) -> Command:
    text = args.take("SRC>DST or all").text
    args.done()
    return Release(None if text.lower() == "all" else v.flow(text))


def _p_restart(args: _Args) -> Command:
    host = v.host(args.take("a HOST").text)
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
        return Step(count=v.count(raw, "step", 1))
    if not re.fullmatch(r"[\d.]+[A-Za-z]+", raw):
        raise ParseFail(f"bad value for step: {raw!r} (a number of events like 5, or a duration "
                        f"with its unit like 100ms or 1.5s)")
    seconds = v.seconds(raw, "step")
    if seconds <= 0:
        raise ParseFail(f"bad value for step: {raw!r} (a duration above 0)")
    return Step(seconds=seconds)


_BREAK_WORDS = ("any", "send", "drop")


def _p_break(args: _Args) -> Command:
    first = args.take("what to watch")
    word = first.text.lower() if not first.quoted else ""
    command: Command
    if word == "drop":
        command = Break(BreakOn.DROP)
    elif word == "send":
        command = Break(BreakOn.SEND, kind=v.kind(args.take("a segment KIND").text))
    else:
        # a connection named any, send or drop is reached by its four-tuple
        conn = None if word == "any" else v.conn(first.text)
        command = Break(BreakOn.STATE, conn=conn, state=v.state(args.take("a STATE").text))
    args.done()
    return command


def _p_unbreak(args: _Args) -> Command:
    raw = args.take("a breakpoint number or all").text
    args.done()
    return Unbreak(None if raw.lower() == "all" else v.count(raw, "unbreak", 1))


def _p_rewind(args: _Args) -> Command:
    seconds = v.seconds(args.take("a time").text, "rewind")
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
        tokens = tokenize(text)
        if not tokens:
            return None
        word = tokens[0].text.lower()
        parser = _PARSERS.get(word)
        if parser is None:
            raise ParseFail(f"unknown command {tokens[0].text!r}{v.suggest(word, COMMAND_NAMES)}")
        return parser(_Args(word, tokens[1:]))
    except ParseFail as error:
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
