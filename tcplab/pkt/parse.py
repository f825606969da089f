"""Parse packetdrill-syntax scripts into typed events.

Theory of operation
-------------------
A script is read as *logical lines*: comments (``//`` and ``/* */``) are removed,
and physical lines are joined while a ``(``, ``[`` or ``{`` is still open, so a
syscall may span lines.  Two kinds of block are read whole before that, because
their text is not packetdrill's: a backtick shell command (it may span lines) and
a ``%{ ... }%`` Python block (``//`` is Python's floor division there).  Each
logical line keeps the number of its first physical line, which every error and
every runner message quotes.

Lines are either option lines (``--name=value``, before the first event; backtick
commands may come first) or events.  An event starts with a time (``0.1``,
``+0.1``, ``0.1...0.2``, ``+.1~+.105``, ``*`` on outbound packets) followed by one of:

* ``<`` / ``>`` -- an inbound / outbound TCP packet (:class:`Packet`);
* a backtick shell command -- kept but never run (:class:`Command`);
* ``%{ ... }%`` -- assertions over TCP_INFO (:class:`PyBlock`, :mod:`tcplab.pkt.snippet`);
* ``name(args) = result [ERRNO (text)]`` -- a syscall (:class:`Syscall`).

Commands and Python blocks may also stand without a time (they happen at ``+0``).
Two exceptions carry the line number: :class:`ScriptError` for text that is not
valid in this language (the runner reports FAIL) and :class:`Unsupported` for valid
packetdrill outside tcplab's subset (the runner reports SKIP).  Option *values* are
interpreted by the runner, which knows their meaning; syscall arguments are parsed
by :mod:`tcplab.pkt.args`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from tcplab.pkt import tcpinfo
from tcplab.pkt.args import (
    CONSTANTS,
    Array,
    Call,
    Expr,
    Name,
    Or,
    Str,
    Struct,
    Tokens,
    const_int,
    expr,
    expr_list,
)
from tcplab.pkt.errors import ScriptError, Unsupported
from tcplab.pkt.snippet import Snippet, compile_snippet, snippet_source
from tcplab.tcp import segment as sg

__all__ = ["CONSTANTS", "SYSCALLS", "Array", "Call", "Command", "Event", "Expr", "Name",
           "OptionLine", "Or", "Packet", "PyBlock", "Script", "ScriptError", "Str",
           "Struct", "Syscall", "Time", "Unsupported", "const_int", "parse_event",
           "parse_file", "parse_options", "parse_text"]


# --- events ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Time:
    """When an event happens.  ``relative`` times count from the previous event's
    actual time; ``end`` is set for ``a...b`` / ``a~b`` ranges (same base as
    ``start``); ``any_time`` is packetdrill's ``*``."""

    relative: bool
    start: float
    end: float | None = None
    any_time: bool = False


NOW = Time(True, 0.0)   # the time of a command or Python block written without one


@dataclass(frozen=True, slots=True)
class Packet:
    lineno: int
    text: str
    time: Time
    inbound: bool
    flags: int
    seq: int
    length: int
    ack: int | None     # inbound: sent even without the '.' flag, as packetdrill does
    win: int | None
    options: tuple[sg.Option, ...] | None   # None: no ``<...>`` part written
    any_options: bool                       # ``<...>``: options not checked
    urg: int | None = None                  # ``urg N``: the urgent pointer field


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


@dataclass(frozen=True, slots=True)
class PyBlock:
    """A ``%{ }%`` block: checked against the connection's TCP_INFO."""

    lineno: int
    text: str
    time: Time
    snippet: Snippet


Event = Packet | Syscall | Command | PyBlock


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
    "close", "shutdown", "setsockopt", "getsockopt", "fcntl", "sendmsg",
})

_FLAG_BITS = {"S": sg.SYN, "F": sg.FIN, "R": sg.RST, "P": sg.PSH, ".": sg.ACK, "U": sg.URG}
_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_TIME_RE = re.compile(
    rf"(?P<rel>\+)?(?P<start>{_NUM})(?:(?:\.\.\.|~)(?P<rel2>\+)?(?P<end>{_NUM}))?(?=\s|$)")
_OPTION_LINE_RE = re.compile(r"--(?P<name>[A-Za-z0-9_-]+)(?:=(?P<value>.*))?$")
_SEQ_RE = re.compile(r"(\d+):(\d+)\((\d+)\)$")
# a line that opens a block read whole: [time] ` or [time] %{
_BLOCK_RE = re.compile(r"\s*(?P<time>[-+*.~0-9]+\s+)?(?P<open>`|%\{)")
_U32 = 0xFFFFFFFF


class _Line(NamedTuple):
    lineno: int
    text: str
    python: str | None = None   # a %{ }% block's source (``text`` is its time)


def parse_file(path: str) -> Script:
    """Read and parse a script; OSError propagates for the caller to report."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return parse_text(text, path)


def parse_text(text: str, path: str = "<script>") -> Script:
    options: list[OptionLine] = []
    events: list[Event] = []
    for line in _logical_lines(text):
        lineno = line.lineno
        if line.python is not None:
            time = _parse_time(line.text, lineno)[0] if line.text else NOW
            _not_any_time(time, lineno, "%{ }% blocks")
            snippet = compile_snippet(line.python, lineno, tcpinfo.NAMES)
            shown = f"{line.text} %{{ {' '.join(line.python.split())} }}%".strip()
            events.append(PyBlock(lineno, shown, time, snippet))
            continue
        if line.text.startswith("--"):
            if any(not isinstance(e, Command) for e in events):
                raise ScriptError(lineno, "option lines must come before the first event")
            m = _OPTION_LINE_RE.match(line.text)
            if not m:
                raise ScriptError(lineno, f"bad option line {line.text!r}")
            options.append(OptionLine(lineno, m.group("name"), m.group("value")))
            continue
        events.append(parse_event(line.text, lineno))
    return Script(path, tuple(options), tuple(events))


def _logical_lines(text: str) -> list[_Line]:
    """Strip comments, join lines inside open brackets, read blocks whole."""
    raw = text.splitlines()
    out: list[_Line] = []
    buf: list[str] = []
    start = 0
    depth = 0
    in_block_comment = False
    i = 0
    while i < len(raw):
        lineno = i + 1
        if not buf and not in_block_comment:
            m = _BLOCK_RE.match(raw[i])
            if m:
                i = _read_block(raw, i, m, out)
                continue
        line, in_block_comment = _strip_comments(raw[i], in_block_comment, lineno)
        i += 1
        if "%{" in line:
            raise ScriptError(lineno, "a %{ }% block must start its line (after an optional "
                                      "time)")
        if "}%" in line:
            raise ScriptError(lineno, "'}%' without a '%{' that opens its line")
        if not line.strip() and not buf:
            continue
        if not buf:
            start = lineno
        buf.append(line.strip())
        depth += _bracket_balance(line)
        if depth <= 0:
            joined = " ".join(part for part in buf if part)
            if joined:
                out.append(_Line(start, joined))
            buf, depth = [], 0
    if in_block_comment:
        raise ScriptError(start or 1, "unterminated /* comment")
    if buf:
        raise ScriptError(start, "unbalanced brackets at end of file")
    return out


def _read_block(raw: list[str], i: int, m: re.Match[str], out: list[_Line]) -> int:
    """Read a backtick command or a %{ }% block that opens at line ``i``; returns the
    index of the line after it."""
    lineno = i + 1
    python = m.group("open") == "%{"
    close = "}%" if python else "`"
    time = (m.group("time") or "").strip()
    first = raw[i][m.end():]
    body: list[str] = []
    j = i
    text = first
    while close not in text:
        j += 1
        if j >= len(raw):
            what = "%{ block (no '}%')" if python else "backtick command"
            raise ScriptError(lineno, f"unterminated {what}")
        body.append(text)
        text = raw[j]
    inside, after = text.split(close, 1)
    after = after.strip()
    if after and not after.startswith("//"):
        raise ScriptError(j + 1, f"unexpected {after!r} after {close!r}")
    if python:
        source = snippet_source(body[0], [*body[1:], inside]) if body else inside.strip()
        out.append(_Line(lineno, time, source))
    else:
        command = " ".join(part.strip() for part in [*body, inside] if part.strip())
        out.append(_Line(lineno, f"{time} `{command}`".strip()))
    return j + 1


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


def _parse_time(line: str, lineno: int) -> tuple[Time, str]:
    """The time at the start of ``line`` and the rest of the line."""
    if line.startswith("*"):
        return Time(True, 0.0, any_time=True), line[1:].strip()
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
    return Time(relative, start, end), line[m.end():].strip()


def _not_any_time(time: Time, lineno: int, what: str) -> None:
    if time.any_time:
        raise Unsupported(lineno, f"'*' (any time) is supported on outbound packets, "
                                  f"not on {what}")


def parse_event(line: str, lineno: int) -> Event:
    """One logical line: a time (or none, for a backtick command) and an event."""
    if line.startswith("`"):
        time, rest = NOW, line
    else:
        time, rest = _parse_time(line, lineno)
    if not rest:
        raise ScriptError(lineno, "nothing after the time")
    if rest[0] in "<>":
        pkt = _parse_packet(rest, lineno, line, time)
        if not pkt.inbound or not time.any_time:
            return pkt
    _not_any_time(time, lineno, "inbound packets, syscalls or commands")
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
    fields: dict[str, int] = {}
    i = 2
    while i < len(words):
        key = words[i]
        if key in ("ecn", "mpls"):
            raise Unsupported(lineno, f"'{key}' in packets is not supported")
        if key not in ("ack", "win", "urg") or i + 1 >= len(words):
            raise ScriptError(lineno, f"unexpected {key!r} in packet")
        fields[key] = _uint(words[i + 1], lineno, key, _U32 if key == "ack" else 0xFFFF)
        i += 2
    ack, win, urg = fields.get("ack"), fields.get("win"), fields.get("urg")
    if ack is not None and not flags & sg.ACK and not inbound:
        # packetdrill sends an inbound one with the ACK bit clear and the field set;
        # the engine never sends such a segment
        raise ScriptError(lineno, "'ack N' on an outbound packet needs the '.' flag")
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
                  any_options, urg)


def _parse_flags(word: str, lineno: int) -> int:
    flags = 0
    for ch in word:
        if ch in "EW":
            raise Unsupported(lineno, f"flag {ch!r} (ECN) is not supported")
        if ch not in _FLAG_BITS:
            raise ScriptError(lineno, f"bad TCP flags {word!r} (use S . P F R U)")
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


# --- syscalls ------------------------------------------------------------------------

_RESULT_RE = re.compile(
    r"(?P<res>[^\s(]+)\s*(?P<errno>[A-Z][A-Z0-9]*)?\s*(?:\((?P<text>.*)\))?$")


def _parse_syscall(rest: str, lineno: int, line: str, time: Time) -> Syscall:
    called = re.match(r"([A-Za-z_]\w*)\s*\(", rest)
    if called and called.group(1) not in SYSCALLS:
        raise Unsupported(lineno, f"syscall {called.group(1)}() is not supported")
    eq = _top_level_equals(rest)
    if eq < 0:
        raise ScriptError(lineno, "syscall without '= result'")
    toks = Tokens(rest[:eq], lineno)
    kind, name = toks.take()
    if kind != "name" or name not in SYSCALLS:
        raise ScriptError(lineno, f"expected a packet or a syscall, found {name!r}")
    toks.take("(")
    args = expr_list(toks, ")")
    if toks.peek()[0] != "end":
        raise ScriptError(lineno, f"unexpected {toks.peek()[1]!r} before '='")
    # The text in parentheses after the result ("(Operation now in progress)") is
    # informational only.
    m = _RESULT_RE.match(rest[eq + 1:].strip())
    if not m:
        raise ScriptError(lineno, "bad syscall result, expected '= N [ERRNO (text)]'")
    res_toks = Tokens(m.group("res"), lineno)
    result = const_int(expr(res_toks), lineno)
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
