"""A student's progress through a sheet, kept between sessions.

One JSON file per sheet, ``$XDG_DATA_HOME/tcplab/progress/<sheet id>.json`` (by default
``~/.local/share/tcplab/progress/``): which exercises are done, and when (wall clock),
and the failed attempts seen.  The lab itself starts afresh each session -- the setup is
applied again -- so every exercise is written to stand on its own after the setup.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def data_home() -> Path:
    """``$XDG_DATA_HOME`` when set to an absolute path, else ``~/.local/share``."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    return Path.home() / ".local" / "share"


def progress_path(sheet_id: str) -> Path:
    return data_home() / "tcplab" / "progress" / f"{sheet_id}.json"


@dataclass(slots=True)
class Progress:
    sheet: str
    path: Path
    done: dict[str, str] = field(default_factory=dict)    # exercise -> when (ISO time)
    failed: dict[str, int] = field(default_factory=dict)  # exercise -> failed attempts

    @classmethod
    def load(cls, sheet_id: str, path: Path | None = None) -> Progress:
        """The saved progress (a missing or unreadable file: none yet)."""
        path = path or progress_path(sheet_id)
        progress = cls(sheet_id, path)
        try:
            raw: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return progress
        if isinstance(raw, dict) and raw.get("sheet") == sheet_id:
            done = raw.get("done", {})
            failed = raw.get("failed", {})
            if isinstance(done, dict):
                progress.done = {str(k): str(v) for k, v in done.items()}
            if isinstance(failed, dict):
                progress.failed = {str(k): int(v) for k, v in failed.items()
                                   if isinstance(v, int)}
        return progress

    def mark_done(self, exercise: str) -> None:
        self.done.setdefault(exercise, time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def mark_failed(self, exercise: str) -> None:
        self.failed[exercise] = self.failed.get(exercise, 0) + 1

    def save(self) -> str | None:
        """Write the file (atomically); the reason when it cannot be written."""
        body = {"sheet": self.sheet, "done": self.done, "failed": self.failed}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            return f"cannot save progress to {self.path}: {exc.strerror}"
        return None
