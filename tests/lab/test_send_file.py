"""What ``send --file`` takes, for the lab and the Mininet agents alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tcplab.lab import app


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1000)
    assert app.read_send_file(str(tmp_path / "f")) == b"x" * 1000


def test_a_fifo_is_refused_without_blocking_and_so_is_a_missing_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match=r"pipe: not a regular file$"):
        app.read_send_file(str(tmp_path / "pipe"))
    with pytest.raises(ValueError, match=r"^cannot read .*nope: No such file or directory$"):
        app.read_send_file(str(tmp_path / "nope"))


def test_more_than_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "SEND_FILE_LIMIT", 10)
    (tmp_path / "big").write_bytes(b"y" * 11)
    with pytest.raises(ValueError, match=r"big: more than the 0 MiB a send takes$"):
        app.read_send_file(str(tmp_path / "big"))
