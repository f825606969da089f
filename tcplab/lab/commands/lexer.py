"""The command language's tokenizer: words, quoted strings with escapes, comments.

Parse errors are raised as :class:`ParseFail`, which carries no line number yet; the
parser adds it when it turns the failure into a ``CommandError``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_ESCAPES = {"n": b"\n", "t": b"\t", "\\": b"\\", '"': b'"'}


class ParseFail(Exception):
    """A parse error without a line number yet."""


@dataclass(frozen=True, slots=True)
class Token:
    """One word or string of a command line: ``text`` as typed (a string's bytes decoded
    as a file name would be), ``data`` its bytes, ``quoted`` whether it was a string (so
    ``"as"`` is never the keyword ``as``)."""

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
            raise ParseFail(f"bad escape {shown!r} in string (use \\n \\t \\\\ \\\" or \\xNN)")
    raise ParseFail("unterminated string: missing closing \"")


def tokenize(line: str) -> list[Token]:
    """Split ``line`` into words and decoded strings, up to a ``#`` comment."""
    tokens: list[Token] = []
    i = 0
    while i < len(line):
        if line[i].isspace():
            i += 1
        elif line[i] == "#":
            break
        elif line[i] == '"':
            data, i = _read_string(line, i)
            if i < len(line) and not line[i].isspace():
                raise ParseFail(f"text right after a closing quote: {line[i:].split()[0]!r}")
            tokens.append(Token(os.fsdecode(data), data, True))
        else:
            end = i
            while end < len(line) and not line[end].isspace():
                end += 1
            word = line[i:end]
            if '"' in word:
                raise ParseFail(f"stray quote in {word!r} (strings start with a quote)")
            tokens.append(Token(word, word.encode("utf-8", "surrogateescape"), False))
            i = end
    return tokens
