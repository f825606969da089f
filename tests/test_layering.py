"""The doors between tcplab's packages open one way (docs/architecture.md draws them):

    tui -> lab -> stack -> tcp;  backends plug into lab;  netem is shared by the backends.

Every import is counted, also those inside functions and under ``TYPE_CHECKING``: a
lazy import is still a door."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tcplab"

# package -> the tcplab packages it must never import
FORBIDDEN: dict[str, set[str]] = {
    "tcp": {"stack", "lab", "backends", "tui", "netem", "pkt", "cli", "benches", "labsheet"},
    "stack": {"lab", "backends", "tui", "netem", "pkt", "cli", "benches", "labsheet"},
    "netem": {"tcp", "stack", "lab", "backends", "tui", "pkt", "cli", "benches", "labsheet"},
    "lab": {"backends", "tui", "pkt", "cli", "benches"},
    "backends.sim": {"backends.mininet", "tui", "cli", "benches", "pkt"},
    "backends.mininet": {"backends.sim", "tui", "cli", "benches", "pkt"},
    "tui": {"backends", "cli", "benches", "pkt", "lab.lab"},  # the lab: through LabPort
    "pkt": {"stack", "lab", "backends", "tui", "netem", "cli", "benches"},
}


def _package(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "backends" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, tcplab-relative module) of every ``tcplab`` import in a file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("tcplab."):
                found.append((node.lineno, name.removeprefix("tcplab.")))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _crossings(path: Path, root: Path = ROOT) -> list[str]:
    rel = path.relative_to(root).with_suffix("")
    own = _package(".".join(rel.parts))
    banned = FORBIDDEN.get(own, set())
    return [f"{path.relative_to(root)}:{line} {own} imports tcplab.{name}"
            for line, name in imports_of(path)
            if any(name == b or name.startswith(b + ".") for b in banned)]


def test_every_door_opens_one_way() -> None:
    crossings = [c for path in _modules() for c in _crossings(path)]
    assert crossings == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    # the rule above is only as good as its parser: a lazy import inside a function,
    # like the ones that used to join lab and the backends, is found
    fake = tmp_path / "lab" / "probe.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from tcplab.backends.sim.backend import SimBackend\n",
                    encoding="utf-8")
    assert _crossings(fake, tmp_path) == [
        "lab/probe.py:2 lab imports tcplab.backends.sim.backend"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_each_ruled_package_exists(package: str) -> None:
    assert (ROOT / package.replace(".", "/")).is_dir()
