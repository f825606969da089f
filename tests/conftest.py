"""Markers by path, so a contributor without root has a fast loop.

``root``: the test builds Mininet labs (network namespaces, bridges, nft rules) and needs
root with Debian's Mininet packages.  Without root such a test is skipped with the reason,
except when ``CI`` is set: there a skipped root test would hide a broken lab, so it fails.
``scripts/test`` (run as root) always runs them all; ``pytest -m "not root"`` runs the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tcplab.pkt.pytest_plugin", "pytester"]

HERE = Path(__file__).parent
ROOT_DIRS = (HERE / "mininet",)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "root: builds Mininet labs; needs root (skipped without it, unless CI)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(d) for d in ROOT_DIRS):
            item.add_marker(pytest.mark.root)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") is None or os.geteuid() == 0:
        return
    reason = "needs root: it builds Mininet labs (run scripts/test as root)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so it may not be skipped")
    pytest.skip(reason)
