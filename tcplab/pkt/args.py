"""Syscall arguments and results: a small expression language and its constants.

Theory of operation
-------------------
A syscall line's arguments are C-like expressions (``3``, ``0x802``, ``...``,
``SOCK_STREAM|SOCK_NONBLOCK``, ``"192.0.2.1"``, ``[1]``, ``{sa_family=AF_INET,
sin_port=htons(8080)}``, ``{msg_name(...)=..., msg_iov(1)=[{..., 100}]}``).
:class:`Tokens` splits the text and :func:`expr` builds a tree of the small value
types below; nothing is evaluated here except by :func:`const_int`, which turns a
number or an OR of known constants into an int for the runner.
"""

from __future__ import annotations

import re
from types import EllipsisType
from typing import NamedTuple

from tcplab.pkt.errors import ScriptError, Unsupported


class Name(NamedTuple):
    """A symbolic constant such as ``SOCK_STREAM`` (resolved by the runner)."""

    name: str


class Str(NamedTuple):
    value: str


class Array(NamedTuple):
    items: tuple[Expr, ...]


class Struct(NamedTuple):
    """``{key=value, ...}``; a ``msg_iov(1)=`` key is stored as ``msg_iov``."""

    fields: tuple[tuple[str | None, Expr], ...]


class Call(NamedTuple):
    func: str
    args: tuple[Expr, ...]


class Or(NamedTuple):
    terms: tuple[Expr, ...]


Expr = EllipsisType | int | Name | Str | Array | Struct | Call | Or

_TOKEN_RE = re.compile(r"""\s*(?:(?P<ell>\.\.\.)|(?P<hex>-?0x[0-9a-fA-F]+)|(?P<num>-?\d+)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>"[^"]*")|(?P<punct>[()\[\]{},=|]))""", re.X)


class Tokens:
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

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        at = self.pos + ahead
        return self.items[at] if at < len(self.items) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise ScriptError(self.lineno, f"expected {value!r}, found {tok[1] or 'end of line'!r}")
        if tok[0] == "end":
            raise ScriptError(self.lineno, "unexpected end of line")
        self.pos += 1
        return tok


def expr_list(toks: Tokens, close: str) -> tuple[Expr, ...]:
    items: list[Expr] = []
    if toks.peek()[1] == close:
        toks.take()
        return ()
    while True:
        items.append(expr(toks))
        if toks.take()[1] == close:
            return tuple(items)
        if toks.items[toks.pos - 1][1] != ",":
            raise ScriptError(toks.lineno, f"expected ',' or {close!r}")


def expr(toks: Tokens) -> Expr:
    terms = [_atom(toks)]
    while toks.peek()[1] == "|":
        toks.take()
        terms.append(_atom(toks))
    return terms[0] if len(terms) == 1 else Or(tuple(terms))


def _atom(toks: Tokens) -> Expr:
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
            return Call(text, expr_list(toks, ")"))
        return Name(text)
    if text == "[":
        return Array(expr_list(toks, "]"))
    if text == "{":
        return _struct(toks)
    raise ScriptError(toks.lineno, f"unexpected {text!r}")


def _struct(toks: Tokens) -> Struct:
    fields: list[tuple[str | None, Expr]] = []
    while toks.peek()[1] != "}":
        key = _struct_key(toks)
        fields.append((key, expr(toks)))
        if toks.peek()[1] == ",":
            toks.take()
    toks.take("}")
    return Struct(tuple(fields))


def _struct_key(toks: Tokens) -> str | None:
    """``name=`` or ``name(...)=`` (packetdrill's ``msg_iov(1)=``); None: no key."""
    if toks.peek()[0] != "name":
        return None
    if toks.peek(1)[1] == "=":
        key = toks.take()[1]
        toks.take("=")
        return key
    if toks.peek(1)[1] == "(":
        depth, ahead = 0, 1
        while toks.peek(ahead)[0] != "end":
            text = toks.peek(ahead)[1]
            depth += (text == "(") - (text == ")")
            if depth == 0:
                break
            ahead += 1
        if toks.peek(ahead + 1)[1] == "=":
            key = toks.take()[1]
            toks.take("(")
            expr_list(toks, ")")
            toks.take("=")
            return key
    return None


CONSTANTS = {
    "AF_INET": 2, "PF_INET": 2, "AF_INET6": 10, "PF_INET6": 10,
    "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_NONBLOCK": 0o4000,
    "IPPROTO_TCP": 6, "IPPROTO_IP": 0, "SOL_IP": 0, "SOL_SOCKET": 1, "SOL_TCP": 6,
    "SO_REUSEADDR": 2, "SO_ERROR": 4, "SO_SNDBUF": 7, "SO_RCVBUF": 8, "TCP_NODELAY": 1,
    "SO_KEEPALIVE": 9, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 6, "TCP_MAXSEG": 2,
    "IP_TOS": 1, "IP_TTL": 2,
    "F_GETFL": 3, "F_SETFL": 4, "O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2,
    "O_NONBLOCK": 0o4000, "SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,
    "MSG_OOB": 1, "MSG_DONTWAIT": 0x40,
}


def const_int(value: Expr, lineno: int) -> int:
    """Evaluate an integer expression made of numbers and known constants."""
    if isinstance(value, int):
        return value
    if isinstance(value, Name):
        if value.name in CONSTANTS:
            return CONSTANTS[value.name]
        raise Unsupported(lineno, f"constant {value.name} is not supported")
    if isinstance(value, Or):
        result = 0
        for term in value.terms:
            result |= const_int(term, lineno)
        return result
    raise ScriptError(lineno, f"expected a number, found {value!r}")
