"""Markers by path, so a contributor without root has a fast loop.

``root``: the test builds Mininet labs (network namespaces, bridges, nft rules) and needs
root with Debian's Mininet packages.  Without root such a test is skipped with the reason,
except when ``CI`` is set: there a skipped root test would hide a broken lab, so it fails.
``scripts/test`` (run as root) always runs them all; ``pytest -m "not root"`` runs the rest.

``dashboard``: the test starts the Textual app (in-process under its test pilot, in tmux,
or served to a browser).  Each start costs about a second of Textual's own, so these are
two thirds of the non-root time: ``pytest -m "not root and not dashboard"`` is the fast
loop for work outside ``tcplab/tui``.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest

pytest_plugins = ["tcplab.pkt.pytest_plugin", "pytester"]

HERE = Path(__file__).parent
ROOT_DIRS = (HERE / "mininet",)
# files whose every test drives the whole app; elsewhere in these directories the app's
# tests are the async ones (under Textual's pilot)
DASHBOARD_FILES = tuple(HERE / f for f in (
    "tui/test_time_travel.py", "tui/test_pilot.py", "tui/test_keys.py",
    "tui/test_snapshots.py", "tui/test_snapshots_panes.py", "tui/test_serve.py",
    "tui/test_looking_back.py", "tui/test_e2e_tmux.py",
    "labsheet/test_labsheet_dashboard.py"))
DASHBOARD_DIRS = (HERE / "tui", HERE / "labsheet")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "root: builds Mininet labs; needs root (skipped without it, unless CI)")
    config.addinivalue_line(
        "markers", "dashboard: starts the Textual app (about a second each)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(d) for d in ROOT_DIRS):
            item.add_marker(pytest.mark.root)
        if item.path in DASHBOARD_FILES or (
                any(item.path.is_relative_to(d) for d in DASHBOARD_DIRS)
                and inspect.iscoroutinefunction(getattr(item, "function", None))):
            item.add_marker(pytest.mark.dashboard)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") is None or os.geteuid() == 0:
        return
    reason = "needs root: it builds Mininet labs (run scripts/test as root)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so it may not be skipped")
    pytest.skip(reason)
