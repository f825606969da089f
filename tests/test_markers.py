"""The ``root`` marker of tests/conftest.py: skipped without root, failing under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")
# the snapshot plugin's session hooks do not nest in an in-process run
NO_SNAPSHOTS = ("-p", "no:textual-snapshot", "-p", "no:syrupy")


@pytest.fixture
def tree(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.replace(
        'pytest_plugins = ["tcplab.pkt.pytest_plugin", "pytester"]', ""))
    (pytester.path / "mininet").mkdir()
    (pytester.path / "mininet" / "test_marker_probe_lab.py").write_text("def test_builds_a_lab():\n"
                                                          "    assert True\n")
    (pytester.path / "test_marker_probe_unit.py").write_text("def test_pure():\n    assert True\n")
    return pytester


def test_without_root_a_root_test_is_skipped_with_the_reason(
        tree: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    result = tree.runpytest(*NO_SNAPSHOTS, "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*needs root: it builds Mininet labs*"])


def test_under_ci_a_root_test_without_root_fails(
        tree: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("CI", "1")
    tree.runpytest(*NO_SNAPSHOTS).assert_outcomes(passed=1, errors=1)


def test_not_root_deselects_them(tree: pytest.Pytester) -> None:
    tree.runpytest(*NO_SNAPSHOTS, "-m", "not root").assert_outcomes(passed=1, deselected=1)
