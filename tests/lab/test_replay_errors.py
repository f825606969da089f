"""``tcplab replay`` says what is wrong with a recording before anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcplab.cli import main


def test_a_missing_recording_is_named_even_without_a_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "nope")]) == 2  # pytest gives no terminal
    assert capsys.readouterr().err.startswith(f"tcplab replay: no recording at {tmp_path}/nope")


@pytest.mark.parametrize(("schema", "why"), [
    (1, "schema 1 recordings lack the TCB samples"),
    (3, "it was made by a newer tcplab: replay it with that version"),
    ("x", "not a schema this tcplab knows"),
])
def test_a_recording_of_another_schema_says_which_and_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], schema: object, why: str) -> None:
    (tmp_path / "events.jsonl").write_text(json.dumps({"kind": "header", "schema": schema})
                                           + "\n")
    assert main(["replay", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"recording schema {schema!r}; this tcplab reads schema 2 ({why}" in err
