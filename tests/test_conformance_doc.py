"""docs/conformance.md stays true: every RFC 9293 Appendix B requirement once, every proof real.

Theory of operation
-------------------
The matrix is the one markdown table in docs/conformance.md whose header row is
``| ID | Requirement | Section | Status | Proof |``.  :func:`parse_matrix` turns its rows
into :class:`Row` values; the ``check_*`` functions return lists of one-line problems, each
starting with the row's ID, so a failing test names every bad row at once instead of
stopping at the first.

A proof is checked by reading files, never by importing them: a node id
``tests/x/test_y.py::test_z`` (or ``::TestClass::test_z``) must name a file under ``tests/``
whose syntax tree defines that test function where pytest would collect it; a ``.pkt``
script must exist under ``tests/``.  Importing would run module code and would make this
test depend on the engine being importable, which is exactly what a "done" row claims and
what the named test itself must show.

The expected numbers of rows per kind are hard-coded from the RFC, so deleting a row to
silence a failure is itself a failure.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "conformance.md"

HEADER = ("ID", "Requirement", "Section", "Status", "Proof")
STATUSES = ("done", "not yet", "n/a")
KIND_ORDER = ("MUST", "SHLD", "REC", "MAY")

# RFC 9293 Appendix B (Table 8, "TCP Requirements Summary") labels MUST-1..MUST-69,
# SHLD-1..SHLD-31, REC-1 and MAY-1..MAY-18; a few labels appear there twice (IPv4/IPv6
# or several cases) and are one row each in the matrix.
APPENDIX_B_COUNTS = {"MUST": 69, "SHLD": 31, "REC": 1, "MAY": 18}

ID_RE = re.compile(r"(MUST|SHLD|REC|MAY)-([1-9][0-9]*)")
# Every labelled sentence of RFC 9293 is in Section 3 (the functional specification).
SECTION_RE = re.compile(r"3(\.[1-9][0-9]*)+")
NA_REASON_RE = re.compile(r"\(.+\)$")
PARAM_SUFFIX_RE = re.compile(r"\[.*\]$")


class MatrixError(Exception):
    """The table cannot be read at all (missing, or a row with the wrong shape)."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # 1-based line in the document, for error messages
    id: str
    requirement: str
    section: str
    status: str
    proofs: tuple[str, ...]


def _cells(line: str) -> list[str]:
    inner = line.strip()
    if inner.endswith("|"):
        inner = inner[:-1]
    return [cell.strip() for cell in inner[1:].split("|")]


def parse_matrix(text: str) -> list[Row]:
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines)
              if line.lstrip().startswith("|") and tuple(_cells(line)) == HEADER]
    if len(starts) != 1:
        raise MatrixError(f"expected one table headed {' | '.join(HEADER)}, found {len(starts)}")
    sep = starts[0] + 1
    if sep >= len(lines) or not all(re.fullmatch(r":?-+:?", c) for c in _cells(lines[sep])):
        raise MatrixError(f"line {sep + 1}: the header row must be followed by |---|...")
    rows: list[Row] = []
    for i in range(sep + 1, len(lines)):
        line = lines[i]
        if not line.lstrip().startswith("|"):
            break
        cells = _cells(line)
        if len(cells) != len(HEADER):
            raise MatrixError(f"line {i + 1}: expected {len(HEADER)} cells, got {len(cells)}")
        ident, requirement, section, status, proof = cells
        # Backticks are allowed so proofs can render as code.
        proofs = tuple(p.strip().strip("`") for p in proof.split(",") if p.strip())
        rows.append(Row(i + 1, ident, requirement, section, status, proofs))
    return rows


def _sort_key(ident: str) -> tuple[int, int] | None:
    m = ID_RE.fullmatch(ident)
    if m is None:
        return None
    return KIND_ORDER.index(m.group(1)), int(m.group(2))


def check_ids(rows: list[Row]) -> list[str]:
    """Well-formed, unique, and in order: MUST, SHLD, REC, MAY, each by number."""
    problems: list[str] = []
    seen: set[str] = set()
    previous: tuple[int, int] | None = None
    for row in rows:
        key = _sort_key(row.id)
        if key is None:
            problems.append(f"{row.id}: line {row.line}: malformed ID "
                            "(want MUST-n, SHLD-n, REC-n or MAY-n)")
            continue
        if row.id in seen:
            problems.append(f"{row.id}: line {row.line}: appears more than once")
        elif previous is not None and key < previous:
            problems.append(f"{row.id}: line {row.line}: out of order")
        seen.add(row.id)
        previous = key if previous is None else max(previous, key)
    return problems


def check_fields(rows: list[Row]) -> list[str]:
    """Status is one of the three; sections look like 3.x; n/a rows give a reason."""
    problems: list[str] = []
    for row in rows:
        if row.status not in STATUSES:
            problems.append(f"{row.id}: status {row.status!r} is not one of {STATUSES}")
        if not SECTION_RE.fullmatch(row.section):
            problems.append(f"{row.id}: section {row.section!r} is not an RFC 9293 §3 number")
        if not row.requirement:
            problems.append(f"{row.id}: empty requirement")
        if row.status == "n/a" and not NA_REASON_RE.search(row.requirement):
            problems.append(f"{row.id}: n/a without a reason in parentheses at the end")
        if row.status == "done" and not row.proofs:
            problems.append(f"{row.id}: done but names no proof")
    return problems


def check_counts(rows: list[Row], expected: dict[str, int]) -> list[str]:
    """Exactly kind-1..kind-N for each kind, nothing else."""
    problems: list[str] = []
    present = {row.id for row in rows}
    for kind, count in expected.items():
        want = {f"{kind}-{n}" for n in range(1, count + 1)}
        have = {i for i in present if i.startswith(f"{kind}-")}
        problems += [f"{i}: missing from the matrix" for i in sorted(want - have)]
        problems += [f"{i}: not in RFC 9293 Appendix B" for i in sorted(have - want)]
    return problems


def _defines_test(tree: ast.Module, names: list[str]) -> bool:
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    if len(names) == 1:
        return any(isinstance(n, functions) and n.name == names[0] for n in tree.body)
    cls, name = names
    return any(isinstance(c, ast.ClassDef) and c.name == cls
               and any(isinstance(n, functions) and n.name == name for n in c.body)
               for c in tree.body)


def check_proof(ref: str, root: Path) -> str | None:
    """None when ``ref`` names an existing test or script, else why not."""
    path_part, *names = ref.split("::")
    rel = PurePosixPath(path_part)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or rel.parts[0] != "tests":
        return f"{ref}: must be a path under tests/, relative to the repository root"
    target = root.joinpath(*rel.parts)
    if not names:
        if rel.suffix != ".pkt":
            return f"{ref}: neither a pytest node id (file.py::test_name) nor a .pkt script"
        return None if target.is_file() else f"{ref}: no such script"
    if rel.suffix != ".py" or len(names) > 2:
        return f"{ref}: a node id is tests/.../test_x.py::test_name or ::TestClass::test_name"
    # A parametrized id (test_x[case]) names the function test_x.
    names[-1] = PARAM_SUFFIX_RE.sub("", names[-1])
    if not names[-1].startswith("test") or (len(names) == 2 and not names[0].startswith("Test")):
        return f"{ref}: pytest would not collect it (functions test*, classes Test*)"
    if not target.is_file():
        return f"{ref}: no such file {path_part}"
    try:
        tree = ast.parse(target.read_text(encoding="utf-8"), filename=str(target))
    except SyntaxError as exc:
        return f"{ref}: {path_part} does not parse: {exc.msg} (line {exc.lineno})"
    if not _defines_test(tree, names):
        return f"{ref}: {path_part} defines no {'::'.join(names)}"
    return None


def check_proofs(rows: list[Row], root: Path) -> list[str]:
    """Every proof on every row exists, not only on done rows: a stale one misleads too."""
    problems: list[str] = []
    for row in rows:
        for ref in row.proofs:
            why = check_proof(ref, root)
            if why is not None:
                problems.append(f"{row.id}: {why}")
    return problems


def check_matrix(rows: list[Row], root: Path) -> list[str]:
    return check_ids(rows) + check_fields(rows) + check_proofs(rows, root)


# --- the real document -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return parse_matrix(DOC.read_text(encoding="utf-8"))


def test_ids_are_well_formed_unique_and_in_order(rows: list[Row]) -> None:
    assert check_ids(rows) == []


def test_row_counts_match_rfc_9293_appendix_b(rows: list[Row]) -> None:
    assert check_counts(rows, APPENDIX_B_COUNTS) == []
    assert len(rows) == sum(APPENDIX_B_COUNTS.values())


def test_statuses_sections_and_reasons_are_valid(rows: list[Row]) -> None:
    assert check_fields(rows) == []


def test_every_named_proof_exists(rows: list[Row]) -> None:
    assert check_proofs(rows, ROOT) == []


# --- the checker itself, on throwaway documents -------------------------------------------


def _doc(*lines: str) -> str:
    return "\n".join(["# t", "", "| ID | Requirement | Section | Status | Proof |",
                      "|---|---|---|---|---|", *lines, "", "after the table"])


def _ids(problems: list[str]) -> set[str]:
    return {p.split(":", 1)[0] for p in problems}


def test_checker_flags_bogus_proofs_and_accepts_real_ones(tmp_path: Path) -> None:
    (tmp_path / "tests" / "pkt").mkdir(parents=True)
    (tmp_path / "tests" / "pkt" / "ok.pkt").write_text("0 socket(...) = 3\n")
    (tmp_path / "tests" / "test_real.py").write_text(
        "def test_present():\n    assert True\n\n"
        "def helper():\n    return 1\n\n"
        "class TestGroup:\n    async def test_method(self):\n        assert True\n")
    (tmp_path / "tests" / "test_broken.py").write_text("def test_x(:\n")
    text = _doc(
        "| MUST-1 | good | 3.1 | done | tests/test_real.py::test_present, "
        "`tests/test_real.py::TestGroup::test_method`, tests/pkt/ok.pkt |",
        "| MUST-2 | missing function | 3.1 | done | tests/test_real.py::test_missing |",
        "| MUST-3 | missing file | 3.1 | done | tests/test_gone.py::test_present |",
        "| MUST-4 | missing script | 3.1 | done | tests/pkt/gone.pkt |",
        "| MUST-5 | not a test | 3.1 | done | tests/test_real.py::helper |",
        "| MUST-6 | no proof | 3.1 | done | |",
        "| MUST-7 | no reason | 3.1 | n/a | |",
        "| MUST-8 | bad status | 3.1 | maybe | |",
        "| MUST-9 | bad section | 9.9 | not yet | |",
        "| MUST-10 | stale proof on an open row | 3.1 | not yet | tests/test_real.py::test_old |",
        "| MUST-11 | method outside its class | 3.1 | done | tests/test_real.py::test_method |",
        "| MUST-12 | escapes tests/ | 3.1 | done | ../elsewhere.pkt |",
        "| MUST-13 | unparsable file | 3.1 | done | tests/test_broken.py::test_x |",
        "| MUST-14 | parametrized | 3.1 | done | tests/test_real.py::test_present[a-b] |",
        "| MUST-15 | a rule (lab has no such layer) | 3.1 | n/a | |",
    )
    problems = check_matrix(parse_matrix(text), tmp_path)
    assert _ids(problems) == {f"MUST-{n}" for n in range(2, 14)}
    assert any("test_missing" in p for p in problems)


def test_checker_flags_bad_ids_and_counts() -> None:
    rows = parse_matrix(_doc(
        "| MUST-2 | a | 3.1 | not yet | |",
        "| MUST-1 | b | 3.1 | not yet | |",
        "| MUST-1 | c | 3.1 | not yet | |",
        "| MUST-01 | d | 3.1 | not yet | |",
        "| SHOULD-3 | e | 3.1 | not yet | |",
        "| MAY-1 | f | 3.1 | not yet | |",
        "| SHLD-1 | g | 3.1 | not yet | |",
    ))
    problems = check_ids(rows)
    assert "MUST-1: line 6: out of order" in problems
    assert "MUST-1: line 7: appears more than once" in problems
    assert _ids(problems) == {"MUST-1", "MUST-01", "SHOULD-3", "SHLD-1"}
    assert check_counts(rows, {"MUST": 3, "MAY": 1}) == [
        "MUST-3: missing from the matrix", "MUST-01: not in RFC 9293 Appendix B"]


@pytest.mark.parametrize("text", [
    "no table here\n",
    _doc("| MUST-1 | four cells | 3.1 | not yet |"),
    _doc("| MUST-1 | six | cells | 3.1 | not yet | |"),
])
def test_parser_refuses_a_malformed_table(text: str) -> None:
    with pytest.raises(MatrixError):
        parse_matrix(text)
