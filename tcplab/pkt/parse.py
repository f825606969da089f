"""Parse packetdrill-syntax scripts into typed events.

Theory of operation
-------------------
A script is read as *logical lines*: comments (``//`` and ``/* */``) are removed,
and physical lines are joined while a ``(``, ``[`` or ``{`` is still open, so a
syscall may span lines.  Each logical line keeps the number of its first physical
line, which every error and every runner message quotes.

Lines are either option lines (``--name=value``, only before the first event) or
events.  An event starts with a time (``0.1``, ``+0.1``, ``0.1...0.2``,
``+0...+0.2``) followed by one of:

* ``<`` / ``>`` -- an inbound / outbound TCP packet (:class:`Packet`);
* a backtick shell command -- kept but never run (:class:`Command`);
* ``name(args) = result [ERRNO (text)]`` -- a syscall (:class:`Syscall`).

Two exceptions carry the line number: :class:`ScriptError` for text that is not
valid in this language (the runner reports FAIL) and :class:`Unsupported` for valid
packetdrill outside tcplab's subset (the runner reports SKIP).  Option *values* are
interpreted by the runner, which knows their meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import EllipsisType
from typing import NamedTuple

from tcplab.tcp import segment as sg


class ScriptError(Exception):
    """Invalid script text; ``lineno`` is 1-based (0 = the file as a whole)."""

    def __init__(self, lineno: int, message: str) -> None:
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno
        self.message = message


class Unsupported(ScriptError):
    """Valid packetdrill that tcplab does not run; the script is skipped."""


# --- syscall argument expressions -------------------------------------------------

class Name(NamedTuple):
    """A symbolic constant such as ``SOCK_STREAM`` (resolved by the runner)."""

    name: str


class Str(NamedTuple):
    value: str


class Array(NamedTuple):
    items: tuple[Expr, ...]


class Struct(NamedTuple):
    fields: tuple[tuple[str | None, Expr], ...]


class Call(NamedTuple):
    func: str
    args: tuple[Expr, ...]


class Or(NamedTuple):
    terms: tuple[Expr, ...]


Expr = EllipsisType | int | Name | Str | Array | Struct | Call | Or


# --- events ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Time:
    """When an event happens.  ``relative`` times count from the previous event's
    actual time; ``end`` is set for ``a...b`` ranges (same base as ``start``)."""

    relative: bool
    start: float
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Packet:
    lineno: int
    text: str
    time: Time
    inbound: bool
    flags: int
    seq: int
    length: int
    ack: int | None
    win: int | None
    options: tuple[sg.Option, ...] | None   # None: no ``<...>`` part written
    any_options: bool                       # ``<...>``: options not checked


@dataclass(frozen=True, slots=True)
class Syscall:
    lineno: int
    text: str
    time: Time
    name: str
    args: tuple[Expr, ...]
    result: int
    errno: str | None


@dataclass(frozen=True, slots=True)
class Command:
    """A backtick shell command: listed in verbose output, never run."""

    lineno: int
    text: str
    time: Time


Event = Packet | Syscall | Command


@dataclass(frozen=True, slots=True)
class OptionLine:
    lineno: int
    name: str
    value: str | None


@dataclass(frozen=True, slots=True)
class Script:
    path: str
    options: tuple[OptionLine, ...]
    events: tuple[Event, ...]


SYSCALLS = frozenset({
    "socket", "bind", "listen", "accept", "connect", "write", "send", "read", "recv",
    "close", "shutdown", "setsockopt", "getsockopt", "fcntl",
})

_FLAG_BITS = {"S": sg.SYN, "F": sg.FIN, "R": sg.RST, "P": sg.PSH, ".": sg.ACK}
_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_TIME_RE = re.compile(
    rf"(?P<rel>\+)?(?P<start>{_NUM})(?:\.\.\.(?P<rel2>\+)?(?P<end>{_NUM}))?(?=\s|$)")
_OPTION_LINE_RE = re.compile(r"--(?P<name>[A-Za-z0-9_-]+)(?:=(?P<value>.*))?$")
_SEQ_RE = re.compile(r"(\d+):(\d+)\((\d+)\)$")
_U32 = 0xFFFFFFFF


def parse_file(path: str) -> Script:
    """Read and parse a script; OSError propagates for the caller to report."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return parse_text(text, path)


def parse_text(text: str, path: str = "<script>") -> Script:
    options: list[OptionLine] = []
    events: list[Event] = []
    for lineno, line in _logical_lines(text):
        if line.startswith("--"):
            if events:
                raise ScriptError(lineno, "option lines must come before the first event")
            m = _OPTION_LINE_RE.match(line)
            if not m:
                raise ScriptError(lineno, f"bad option line {line!r}")
            options.append(OptionLine(lineno, m.group("name"), m.group("value")))
            continue
        events.append(parse_event(line, lineno))
    return Script(path, tuple(options), tuple(events))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Strip comments, join lines inside open brackets; (first line number, text)."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    depth = 0
    in_block_comment = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line, in_block_comment = _strip_comments(raw, in_block_comment, lineno)
        if line.lstrip().startswith("%{"):
            raise Unsupported(lineno, "python blocks (%{ }%) are not supported")
        if not line.strip() and not buf:
            continue
        if not buf:
            start = lineno
        buf.append(line.strip())
        depth += _bracket_balance(line)
        if depth <= 0:
            joined = " ".join(part for part in buf if part)
            if joined:
                out.append((start, joined))
            buf, depth = [], 0
    if in_block_comment:
        raise ScriptError(start or 1, "unterminated /* comment")
    if buf:
        raise ScriptError(start, "unbalanced brackets at end of file")
    return out


def _strip_comments(line: str, in_block: bool, lineno: int) -> tuple[str, bool]:
    out: list[str] = []
    i, quote = 0, ""
    while i < len(line):
        if in_block:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 2, False
            continue
        ch = line[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"`":
            quote = ch
        elif line.startswith("//", i):
            break
        elif line.startswith("/*", i):
            in_block = True
            i += 2
            continue
        out.append(ch)
        i += 1
    if quote == '"':
        raise ScriptError(lineno, "unterminated string")
    return "".join(out), in_block


def _bracket_balance(line: str) -> int:
    depth, quote = 0, ""
    for ch in line:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return depth


def parse_event(line: str, lineno: int) -> Event:
    """One logical line that starts with a time."""
    if line.startswith("*"):
        raise Unsupported(lineno, "'*' (any time) events are not supported")
    m = _TIME_RE.match(line)
    if not m:
        raise ScriptError(lineno, f"expected a time at the start of {line!r}")
    start = float(m.group("start"))
    end = float(m.group("end")) if m.group("end") else None
    relative = bool(m.group("rel"))
    if end is not None and not relative and m.group("rel2"):
        raise ScriptError(lineno, "a range starting at an absolute time must end at one")
    if end is not None and end < start:
        raise ScriptError(lineno, "time range ends before it starts")
    time = Time(relative, start, end)
    rest = line[m.end():].strip()
    if not rest:
        raise ScriptError(lineno, "nothing after the time")
    if rest[0] in "<>":
        return _parse_packet(rest, lineno, line, time)
    if rest[0] == "`":
        if not rest.endswith("`") or len(rest) < 2:
            raise ScriptError(lineno, "unterminated backtick command")
        return Command(lineno, line, time)
    return _parse_syscall(rest, lineno, line, time)


# --- packets -------------------------------------------------------------------------

def _parse_packet(rest: str, lineno: int, line: str, time: Time) -> Packet:
    inbound = rest[0] == "<"
    body = rest[1:].strip()
    opts_text = None
    if body.endswith(">"):
        lt = body.rfind("<")
        if lt < 0:
            raise ScriptError(lineno, "'>' without '<' in the options")
        opts_text, body = body[lt + 1:-1].strip(), body[:lt].strip()
    words = body.split()
    if not words:
        raise ScriptError(lineno, "missing flags")
    if words[0].startswith("[") or words[0] in ("udp", "icmp", "-"):
        raise Unsupported(lineno, f"packet type {words[0]!r} is not supported")
    flags = _parse_flags(words[0], lineno)
    if len(words) < 2:
        raise ScriptError(lineno, "missing seq:end(len)")
    m = _SEQ_RE.match(words[1])
    if not m:
        raise ScriptError(lineno, f"bad sequence range {words[1]!r}, expected seq:end(len)")
    seq, end, length = (int(g) for g in m.groups())
    if (seq + length) & _U32 != end & _U32:
        raise ScriptError(lineno, f"{words[1]}: end is not seq + len")
    ack = win = None
    i = 2
    while i < len(words):
        key = words[i]
        if key in ("urg", "ecn", "mpls"):
            raise Unsupported(lineno, f"'{key}' in packets is not supported")
        if key not in ("ack", "win") or i + 1 >= len(words):
            raise ScriptError(lineno, f"unexpected {key!r} in packet")
        value = _uint(words[i + 1], lineno, key, _U32 if key == "ack" else 0xFFFF)
        if key == "ack":
            ack = value
        else:
            win = value
        i += 2
    if ack is not None and not flags & sg.ACK:
        raise ScriptError(lineno, "'ack N' given but the '.' flag is missing")
    options = None
    any_options = False
    if opts_text is not None:
        if opts_text == "...":
            if inbound:
                raise ScriptError(lineno, "<...> is only allowed on outbound packets")
            any_options = True
        else:
            options = parse_options(opts_text, lineno)
    return Packet(lineno, line, time, inbound, flags, seq, length, ack, win, options,
                  any_options)


def _parse_flags(word: str, lineno: int) -> int:
    flags = 0
    for ch in word:
        if ch in "EWU":
            raise Unsupported(lineno, f"flag {ch!r} (ECN/URG) is not supported")
        if ch not in _FLAG_BITS:
            raise ScriptError(lineno, f"bad TCP flags {word!r} (use S . P F R)")
        flags |= _FLAG_BITS[ch]
    return flags


def _uint(text: str, lineno: int, what: str, limit: int) -> int:
    if not text.isdigit() or int(text) > limit:
        raise ScriptError(lineno, f"bad {what} value {text!r}")
    return int(text)


def parse_options(text: str, lineno: int) -> tuple[sg.Option, ...]:
    """The inside of ``<...>``: ``mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7``."""
    out: list[sg.Option] = []
    for item in (part.strip() for part in text.split(",")):
        words = item.split()
        if not words:
            raise ScriptError(lineno, "empty TCP option")
        kind = words[0]
        if kind == "nop" and len(words) == 1:
            out.append(sg.NOP)
        elif kind == "eol" and len(words) == 1:
            out.append(sg.EOL)
        elif kind == "sackOK" and len(words) == 1:
            out.append(sg.SACK_PERMITTED)
        elif kind == "mss" and len(words) == 2:
            out.append(sg.Mss(_uint(words[1], lineno, "mss", 0xFFFF)))
        elif kind == "wscale" and len(words) == 2:
            out.append(sg.WScale(_uint(words[1], lineno, "wscale", 0xFF)))
        elif kind == "TS" and len(words) == 5 and words[1] == "val" and words[3] == "ecr":
            out.append(sg.Timestamps(_uint(words[2], lineno, "TS val", _U32),
                                     _uint(words[4], lineno, "TS ecr", _U32)))
        elif kind == "sack" and len(words) >= 2:
            out.append(sg.Sack(tuple(_sack_block(w, lineno) for w in words[1:])))
        elif kind in ("FO", "md5", "exp", "mptcp", "tarr", "tcp_ao"):
            raise Unsupported(lineno, f"TCP option {kind!r} is not supported")
        else:
            raise ScriptError(lineno, f"bad TCP option {item!r}")
    return tuple(out)


def _sack_block(word: str, lineno: int) -> tuple[int, int]:
    left, sep, right = word.partition(":")
    if not sep:
        raise ScriptError(lineno, f"bad SACK block {word!r}, expected left:right")
    return _uint(left, lineno, "SACK", _U32), _uint(right, lineno, "SACK", _U32)


# --- syscalls ------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"""\s*(?:(?P<ell>\.\.\.)|(?P<hex>-?0x[0-9a-fA-F]+)|(?P<num>-?\d+)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>"[^"]*")|(?P<punct>[()\[\]{},=|]))""", re.X)


class _Tokens:
    def __init__(self, text: str, lineno: int) -> None:
        self.lineno = lineno
        self.items: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN_RE.match(text, pos)
            if not m or m.end() == pos:
                raise ScriptError(lineno, f"unexpected text {text[pos:].strip()!r}")
            kind = m.lastgroup or ""
            self.items.append((kind, m.group(kind)))
            pos = m.end()
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.items[self.pos] if self.pos < len(self.items) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise ScriptError(self.lineno, f"expected {value!r}, found {tok[1] or 'end of line'!r}")
        if tok[0] == "end":
            raise ScriptError(self.lineno, "unexpected end of line")
        self.pos += 1
        return tok


_RESULT_RE = re.compile(
    r"(?P<res>[^\s(]+)\s*(?P<errno>[A-Z][A-Z0-9]*)?\s*(?:\((?P<text>.*)\))?$")


def _parse_syscall(rest: str, lineno: int, line: str, time: Time) -> Syscall:
    eq = _top_level_equals(rest)
    if eq < 0:
        raise ScriptError(lineno, "syscall without '= result'")
    toks = _Tokens(rest[:eq], lineno)
    kind, name = toks.take()
    if kind != "name":
        raise ScriptError(lineno, f"expected a packet or a syscall, found {name!r}")
    if name not in SYSCALLS:
        raise Unsupported(lineno, f"syscall {name}() is not supported")
    toks.take("(")
    args = _expr_list(toks, ")")
    if toks.peek()[0] != "end":
        raise ScriptError(lineno, f"unexpected {toks.peek()[1]!r} before '='")
    # The text in parentheses after the result ("(Operation now in progress)") is
    # informational only.
    m = _RESULT_RE.match(rest[eq + 1:].strip())
    if not m:
        raise ScriptError(lineno, "bad syscall result, expected '= N [ERRNO (text)]'")
    res_toks = _Tokens(m.group("res"), lineno)
    result = const_int(_expr(res_toks), lineno)
    if res_toks.peek()[0] != "end":
        raise ScriptError(lineno, f"bad syscall result {m.group('res')!r}")
    errno = m.group("errno")
    if errno is not None and not errno.startswith("E"):
        raise ScriptError(lineno, f"expected an errno name, found {errno!r}")
    if (errno is None) != (result != -1):
        raise ScriptError(lineno, "an errno goes with (and only with) the result -1")
    return Syscall(lineno, line, time, name, args, result, errno)


def _top_level_equals(text: str) -> int:
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch == '"':
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0:
            return i
    return -1


def _expr_list(toks: _Tokens, close: str) -> tuple[Expr, ...]:
    items: list[Expr] = []
    if toks.peek()[1] == close:
        toks.take()
        return ()
    while True:
        items.append(_expr(toks))
        if toks.take()[1] == close:
            return tuple(items)
        if toks.items[toks.pos - 1][1] != ",":
            raise ScriptError(toks.lineno, f"expected ',' or {close!r}")


def _expr(toks: _Tokens) -> Expr:
    terms = [_atom(toks)]
    while toks.peek()[1] == "|":
        toks.take()
        terms.append(_atom(toks))
    return terms[0] if len(terms) == 1 else Or(tuple(terms))


def _atom(toks: _Tokens) -> Expr:
    kind, text = toks.take()
    if kind == "ell":
        return ...
    if kind == "hex":
        return int(text, 16)
    if kind == "num":
        return int(text)
    if kind == "str":
        return Str(text[1:-1])
    if kind == "name":
        if toks.peek()[1] == "(":
            toks.take()
            return Call(text, _expr_list(toks, ")"))
        return Name(text)
    if text == "[":
        return Array(_expr_list(toks, "]"))
    if text == "{":
        return _struct(toks)
    raise ScriptError(toks.lineno, f"unexpected {text!r}")


def _struct(toks: _Tokens) -> Struct:
    fields: list[tuple[str | None, Expr]] = []
    while toks.peek()[1] != "}":
        key: str | None = None
        if toks.peek()[0] == "name" and toks.pos + 1 < len(toks.items) \
                and toks.items[toks.pos + 1][1] == "=":
            key = toks.take()[1]
            toks.take("=")
        fields.append((key, _expr(toks)))
        if toks.peek()[1] == ",":
            toks.take()
    toks.take("}")
    return Struct(tuple(fields))


CONSTANTS = {
    "AF_INET": 2, "PF_INET": 2, "AF_INET6": 10, "PF_INET6": 10,
    "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_NONBLOCK": 0o4000,
    "IPPROTO_TCP": 6, "IPPROTO_IP": 0, "SOL_SOCKET": 1, "SOL_TCP": 6,
    "SO_REUSEADDR": 2, "SO_ERROR": 4, "SO_SNDBUF": 7, "SO_RCVBUF": 8, "TCP_NODELAY": 1,
    "SO_KEEPALIVE": 9, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 6,
    "IP_TOS": 1, "IP_TTL": 2,
    "F_GETFL": 3, "F_SETFL": 4, "O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2,
    "O_NONBLOCK": 0o4000, "SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,
}


def const_int(expr: Expr, lineno: int) -> int:
    """Evaluate an integer expression made of numbers and known constants."""
    if isinstance(expr, int):
        return expr
    if isinstance(expr, Name):
        if expr.name in CONSTANTS:
            return CONSTANTS[expr.name]
        raise Unsupported(lineno, f"constant {expr.name} is not supported")
    if isinstance(expr, Or):
        value = 0
        for term in expr.terms:
            value |= const_int(term, lineno)
        return value
    raise ScriptError(lineno, f"expected a number, found {expr!r}")
