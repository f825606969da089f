"""``%{ }%`` blocks: Python assertions over TCP_INFO, checked and evaluated safely.

Theory of operation
-------------------
packetdrill hands a ``%{ }%`` block to a Python interpreter with the socket's
``struct tcp_info`` bound to ``tcpi_*`` names; scripts use it for checks such as
``assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd``.  tcplab never runs script text as
code: :func:`compile_snippet` parses the block with :mod:`ast` when the script is
parsed and accepts only

* statements: ``assert test[, message]``, a bare expression, ``pass``;
* expressions: numbers, strings, ``True``/``False``/``None``, tuples and lists,
  names, arithmetic and bit operators, comparisons (``in`` too), ``and``/``or``/
  ``not`` and ``a if c else b``.

Anything else (calls, attributes, subscripts, assignments, imports, ...) is a
:class:`ScriptError` naming the script line; a name that :mod:`tcplab.pkt.tcpinfo`
does not offer is :class:`Unsupported` (the script is skipped, naming it).
:func:`run_snippet` then walks the checked tree with its own small evaluator, which
also refuses operations that could grow without bound (repeating a string, huge
shifts).  A failed assert raises :class:`SnippetFailed` with the statement's line
and the values of the names it read.
"""

from __future__ import annotations

import ast
import operator
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tcplab.pkt.errors import ScriptError, Unsupported

Value = int | float | str | bool | None | tuple["Value", ...]

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: operator.contains(b, a),
    ast.NotIn: lambda a, b: not operator.contains(b, a),
}
_EXPRESSIONS = (ast.Constant, ast.Name, ast.Tuple, ast.List, ast.BoolOp, ast.UnaryOp,
                ast.BinOp, ast.Compare, ast.IfExp)
_MAX_SHIFT = 64
# '%99999d' or '%.99999f' would build a huge string
_WIDE_FORMAT = re.compile(r"%[-+ #0-9.]*?(?:\*|\d{4,})")


class SnippetFailed(Exception):
    """An assert in a ``%{ }%`` block was false."""

    def __init__(self, lineno: int, text: str, actual: str) -> None:
        super().__init__(f"line {lineno}: expected `{text}`, actual: {actual}")
        self.lineno = lineno


@dataclass(frozen=True, slots=True)
class Statement:
    lineno: int              # the script's line
    text: str                # the statement as written
    node: ast.stmt
    names: tuple[str, ...]   # the names it reads, in order of first use


@dataclass(frozen=True, slots=True)
class Snippet:
    lineno: int
    statements: tuple[Statement, ...]


def snippet_source(first: str, rest: list[str]) -> str:
    """The block's Python text: what follows ``%{`` on its line, then the other lines
    dedented together (scripts indent them freely).  Line 1 is the ``%{`` line."""
    return "\n".join([first.strip(), *textwrap.dedent("\n".join(rest)).split("\n")]) \
        if rest else first.strip()


def compile_snippet(source: str, lineno: int, offered: frozenset[str]) -> Snippet:
    """Parse and check a block whose first line is the script's line ``lineno``."""
    source = source.rstrip()
    if source.endswith("\\"):
        # packetdrill runs more code after the block, so a last "...;\" continues
        # into it; here the block ends there
        source = source[:-1]
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as err:
        at = lineno + (err.lineno or 1) - 1
        raise ScriptError(at, f"%{{ }}% is not valid Python: {err.msg}") from None
    statements: list[Statement] = []
    unknown: list[tuple[int, str]] = []
    for stmt in tree.body:
        line = lineno + stmt.lineno - 1
        _check_statement(stmt, line)
        names: list[str] = []
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and node.id not in names:
                names.append(node.id)
                if node.id not in offered:
                    unknown.append((lineno + node.lineno - 1, node.id))
        text = ast.get_source_segment(source, stmt) or ast.unparse(stmt)
        statements.append(Statement(line, " ".join(text.split()), stmt, tuple(names)))
    if unknown:
        line, name = unknown[0]
        raise Unsupported(line, f"%{{ }}% uses {name}, which tcplab's TCP_INFO does not offer")
    return Snippet(lineno, tuple(statements))


def _check_statement(stmt: ast.stmt, line: int) -> None:
    if isinstance(stmt, ast.Assert):
        _check_expression(stmt.test, line)
        if stmt.msg is not None:
            _check_expression(stmt.msg, line)
    elif isinstance(stmt, ast.Expr):
        _check_expression(stmt.value, line)
    elif not isinstance(stmt, ast.Pass):
        raise ScriptError(line, f"%{{ }}% may hold only assert statements and expressions, "
                                f"not {_describe(stmt)}")


def _check_expression(expr: ast.expr, line: int) -> None:
    for node in ast.walk(expr):
        if isinstance(node, ast.expr) and not isinstance(node, _EXPRESSIONS):
            raise ScriptError(line, f"%{{ }}% may not use {_describe(node)} "
                                    f"(only names, constants, arithmetic, comparisons, "
                                    f"and/or/not)")
        bad = (isinstance(node, ast.BinOp) and type(node.op) not in _BINOPS) \
            or (isinstance(node, ast.UnaryOp) and type(node.op) not in _UNARY) \
            or (isinstance(node, ast.Compare)
                and any(type(op) not in _COMPARE for op in node.ops)) \
            or (isinstance(node, ast.Constant) and not isinstance(
                node.value, int | float | str | None))
        if bad:
            raise ScriptError(line, f"%{{ }}% may not use {_describe(node)}")


def _describe(node: ast.AST) -> str:
    names = {ast.Call: "a function call", ast.Attribute: "an attribute",
             ast.Subscript: "a subscript", ast.Assign: "an assignment",
             ast.AugAssign: "an assignment", ast.AnnAssign: "an assignment",
             ast.Import: "an import", ast.ImportFrom: "an import", ast.Lambda: "a lambda"}
    for kind, text in names.items():
        if isinstance(node, kind):
            return text
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return f"the operator {type(node.op).__name__}"
    if isinstance(node, ast.Compare):
        return "that comparison"
    if isinstance(node, ast.Constant):
        return f"the constant {node.value!r}"
    return f"'{type(node).__name__}'"


def run_snippet(snippet: Snippet, values: Mapping[str, int]) -> None:
    """Evaluate every statement; SnippetFailed for a false assert, ScriptError when
    the block itself is wrong (a division by zero, adding a string to a number...)."""
    for stmt in snippet.statements:
        try:
            if isinstance(stmt.node, ast.Assert):
                if not _eval(stmt.node.test, values):
                    read = ", ".join(f"{n}={values[n]}" for n in stmt.names
                                     if n.startswith("tcpi_"))
                    actual = f"false with {read}" if read else "false"
                    if stmt.node.msg is not None:
                        actual += f" (message: {_eval(stmt.node.msg, values)})"
                    raise SnippetFailed(stmt.lineno, stmt.text, actual)
            elif isinstance(stmt.node, ast.Expr):
                _eval(stmt.node.value, values)
        except (ArithmeticError, TypeError, ValueError) as err:
            raise ScriptError(stmt.lineno, f"%{{ }}%: {type(err).__name__}: {err}") from None


def _eval(node: ast.expr, values: Mapping[str, int]) -> Value:
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, int | float | str):
            return value
        raise TypeError(f"constant {value!r}")  # refused when compiled
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_eval(e, values) for e in node.elts)
    if isinstance(node, ast.BoolOp):
        result: Value = None
        for operand in node.values:
            result = _eval(operand, values)
            if isinstance(node.op, ast.And) != bool(result):
                return result
        return result
    if isinstance(node, ast.IfExp):
        chosen = node.body if _eval(node.test, values) else node.orelse
        return _eval(chosen, values)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, values))  # type: ignore[no-any-return]
    if isinstance(node, ast.BinOp):
        return _binop(node.op, _eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    raise TypeError(f"cannot evaluate {type(node).__name__}")  # refused when compiled


def _binop(op: ast.operator, left: Value, right: Value) -> Value:
    if isinstance(left, str | tuple) or isinstance(right, str | tuple):
        # only string formatting ('cwnd=%d' % x) and joining: nothing that can repeat
        if not (isinstance(op, ast.Mod) and isinstance(left, str)) and not (
                isinstance(op, ast.Add) and type(left) is type(right)):
            raise TypeError(f"{type(op).__name__} is not allowed on strings or tuples")
        if isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise ValueError("format widths above 999 are not allowed")
    elif isinstance(op, ast.LShift | ast.RShift) and isinstance(right, int) \
            and abs(right) > _MAX_SHIFT:
        raise ValueError(f"shift by {right} is too large")
    return _BINOPS[type(op)](left, right)  # type: ignore[no-any-return]
