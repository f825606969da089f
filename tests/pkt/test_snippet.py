"""%{ }% blocks: what is accepted, what is refused (with the line), how it evaluates."""

from __future__ import annotations

import pytest

from tcplab.pkt.errors import ScriptError, Unsupported
from tcplab.pkt.snippet import SnippetFailed, compile_snippet, run_snippet, snippet_source
from tcplab.pkt.tcpinfo import NAMES

VALUES = {name: 0 for name in NAMES} | {
    "tcpi_snd_cwnd": 10, "tcpi_state": 1, "TCPI_ESTABLISHED": 1, "tcpi_options": 7,
    "TCPI_OPT_SACK": 2, "tcpi_rto": 200_000}


def check(source: str, values: dict[str, int] | None = None, lineno: int = 10) -> None:
    run_snippet(compile_snippet(source, lineno, NAMES), values or VALUES)


@pytest.mark.parametrize("source", [
    "assert tcpi_snd_cwnd == 10",
    "assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd",
    "assert tcpi_snd_cwnd == 10, 'cwnd=%d' % tcpi_snd_cwnd",
    "assert tcpi_state == TCPI_ESTABLISHED and tcpi_options & TCPI_OPT_SACK",
    "assert 100_000 <= tcpi_rto < 300_000",
    "assert tcpi_rto // 1000 == 200 and tcpi_rto / 1e6 == 0.2",
    "assert tcpi_snd_cwnd in (10, 20) and tcpi_snd_cwnd not in [1, 2]",
    "assert not tcpi_lost or tcpi_lost > 1",
    "assert (tcpi_snd_cwnd if tcpi_state == 1 else 0) == -(-10)",
    "assert ~tcpi_options & 8 and tcpi_options ^ 1 == 6 and tcpi_options >> 1 == 3",
    "tcpi_snd_cwnd * 2 + 1\npass\nassert True",
    "assert tcpi_snd_cwnd == 10; assert tcpi_state == 1",
])
def test_accepted_blocks_that_hold(source: str) -> None:
    check(source)


def test_a_false_assert_names_the_line_and_the_values() -> None:
    with pytest.raises(SnippetFailed) as info:
        check("\nassert tcpi_state == TCPI_ESTABLISHED\n"
              "assert tcpi_snd_cwnd == 12, 'cwnd=%d' % tcpi_snd_cwnd\n")
    assert info.value.lineno == 12
    assert str(info.value) == ("line 12: expected `assert tcpi_snd_cwnd == 12, 'cwnd=%d' % "
                               "tcpi_snd_cwnd`, actual: false with tcpi_snd_cwnd=10 "
                               "(message: cwnd=10)")


@pytest.mark.parametrize(("source", "what"), [
    ("import os", "an import"),
    ("x = 1", "an assignment"),
    ("tcpi_rto += 1", "an assignment"),
    ("assert print(tcpi_rto)", "a function call"),
    ("assert tcpi_rto.real", "an attribute"),
    ("assert (1, 2)[0]", "a subscript"),
    ("assert (lambda: 1)", "a lambda"),
    ("assert [x for x in (1, 2)]", "ListComp"),
    ("assert 2 ** 10", "Pow"),
    ("assert tcpi_rto is None", "that comparison"),
    ("assert b'x'", "the constant b'x'"),
    ("for i in (1,): pass", "For"),
    ("def f(): pass", "FunctionDef"),
])
def test_refused_constructs_name_the_script_line(source: str, what: str) -> None:
    with pytest.raises(ScriptError) as info:
        compile_snippet("\n" + source, 20, NAMES)
    assert not isinstance(info.value, Unsupported)
    assert info.value.lineno == 21
    assert what in str(info.value)


def test_an_unknown_name_is_unsupported_with_its_name() -> None:
    with pytest.raises(Unsupported) as info:
        compile_snippet("assert tcpi_snd_cwnd == 10\nassert tcpi_pacing_rate > 0", 5, NAMES)
    assert info.value.lineno == 6
    assert "tcpi_pacing_rate" in str(info.value)


@pytest.mark.parametrize(("source", "why"), [
    ("assert tcpi_rto / tcpi_lost", "ZeroDivisionError"),
    ("assert 'x' * 100000000", "not allowed on strings"),
    ("assert 'cwnd' + 1", "not allowed on strings"),
    ("assert 1 << 100000", "too large"),
    ("assert '%099999d' % 1", "format widths"),
    ("assert 'a' < 1", "TypeError"),
])
def test_blocks_that_cannot_be_evaluated_fail_with_the_line(source: str, why: str) -> None:
    with pytest.raises(ScriptError) as info:
        check(source, lineno=7)
    assert info.value.lineno == 7
    assert why in str(info.value)


def test_source_of_a_multi_line_block_keeps_line_numbers() -> None:
    source = snippet_source("", ["    assert tcpi_rto > 0", "    assert tcpi_lost == 0"])
    assert source == "\nassert tcpi_rto > 0\nassert tcpi_lost == 0"
    snippet = compile_snippet(source, 30, NAMES)
    assert [s.lineno for s in snippet.statements] == [31, 32]


def test_a_last_line_continued_into_nothing_still_compiles() -> None:
    # packetdrill runs code after the block, so scripts may end it with ";\"
    source = snippet_source(" assert tcpi_rto > 0;\\", ["   assert tcpi_lost == 0;\\", ""])
    snippet = compile_snippet(source, 3, NAMES)
    assert [s.text for s in snippet.statements] == ["assert tcpi_rto > 0",
                                                    "assert tcpi_lost == 0"]
    run_snippet(snippet, VALUES)
