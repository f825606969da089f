"""pytest plugin: every ``*.pkt`` file under a ``tests`` directory is a test item.

Theory of operation
-------------------
Each script runs with the default settings (its own option lines still apply):

* PASS -> the item passes;
* FAIL -> the item fails with the runner's one-line reason (line number, expected
  line, what the engine did) -- no Python traceback;
* SKIP -> the item *fails* too, because a skipped script proves nothing and the
  project does not go green by skipping.  A script that is knowingly outside the
  supported subset says so with a comment ``// skip-ok: <why>``; only then is it
  reported as a pytest skip, with the runner's reason and the script's.

Enable it with ``pytest_plugins = ["tcplab.pkt.pytest_plugin"]`` in a conftest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.pkt.cli import run_file
from tcplab.pkt.compare import Settings


class PktFailure(Exception):
    """A script did not pass; the message is the runner's reason."""


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".pkt" and "tests" in file_path.parts:
        return PktFile.from_parent(parent, path=file_path)
    return None


class PktFile(pytest.File):
    def collect(self) -> list[PktItem]:
        return [PktItem.from_parent(self, name=self.path.name)]


class PktItem(pytest.Item):
    def runtest(self) -> None:
        outcome = run_file(str(self.path), Settings())
        if outcome.status == "PASS":
            return
        if outcome.status == "SKIP":
            mark = _skip_ok(self.path)
            if mark is not None:
                pytest.skip(f"{outcome.reason} (skip-ok: {mark})")
            raise PktFailure(f"SKIP is not a pass: {outcome.reason} "
                             f"(mark the script `// skip-ok: <why>` if that is intended)")
        raise PktFailure(outcome.reason)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: str | None = None) -> str:
        if isinstance(excinfo.value, PktFailure):
            return f"{self.path}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"pkt: {self.path.name}"


def _skip_ok(path: Path) -> str | None:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stripped = line.strip()
        if stripped.startswith("//") and stripped[2:].strip().startswith("skip-ok:"):
            return stripped[2:].strip()[len("skip-ok:"):].strip()
    return None
