"""End to end: the real ``tcplab run --backend sim`` in a tmux terminal, driven by keys,
read back with ``capture-pane``: listen, connect, send, close both sides, and watch the
active closer's TIME-WAIT count down to CLOSED.

Each test runs its own tmux server (``-S``, a socket in the test's temporary directory)
so it cannot touch anyone else's sessions, and kills it in a ``finally``.  The command
is typed into the session's shell (stderr not redirected: Textual draws on the
terminal), so if tcplab fails to start, its error is on the screen in the assertion.

The sockets table is read by name (the first cell of a row) and the countdown by its
text (``time-wait 59.0s``), wherever the timers column is.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# wide enough for the sockets table's timers column, where the countdown shows
WIDTH, HEIGHT = 200, 40
TIMEOUT = 15.0


def tcplab_command() -> str:
    script = Path(sys.executable).parent / "tcplab"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m tcplab"


class Terminal:
    """One tmux session on a private server."""

    def __init__(self, socket: Path, session: str) -> None:
        self.socket = socket
        self.session = session

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True,
                              text=True, timeout=10, check=True)
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", text)

    def wait_for(self, ok: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        while True:
            screen = self.screen()
            if ok(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}")
            time.sleep(0.1)

    def wait_text(self, needle: str) -> str:
        return self.wait_for(lambda s: needle in s, repr(needle))

    def run(self, line: str, expect: str) -> str:
        """Type a command line (the command box has the focus) and wait for its result."""
        assert f"ok {expect}" not in self.screen(), "the result would not tell this line's"
        self.type(line)
        self.keys("Enter")
        return self.wait_text(f"ok {expect}")


@contextmanager
def tcplab_in_tmux(tmp: Path, *args: str, size: tuple[int, int] = (WIDTH, HEIGHT)
                   ) -> Iterator[Terminal]:
    term = Terminal(tmp / "tmux.sock", f"tcplab-e2e-{uuid.uuid4().hex[:8]}")
    term.tmux("new-session", "-d", "-s", term.session, "-x", str(size[0]), "-y", str(size[1]),
              "-c", str(ROOT))
    try:
        term.type(" ".join([tcplab_command(), "run", "--backend", "sim", *args]))
        term.keys("Enter")
        term.wait_text("clock t=")  # the status bar: the dashboard is up
        term.wait_text("l Listen")   # the footer's bindings: the table has the focus
        term.keys(":")
        # with the command line focused, the footer drops the single-letter bindings
        term.wait_for(lambda s: "l Listen" not in s, "the command line to take the focus")
        yield term
    finally:
        subprocess.run(["tmux", "-S", str(term.socket), "kill-session", "-t", term.session],
                       capture_output=True, timeout=10, check=False)


def row(screen: str, name: str) -> str:
    """The sockets table row of a named connection."""
    for line in screen.splitlines():
        cells = line.split()
        if cells and cells[0] == name:
            return line
    raise AssertionError(f"no row {name!r} on the screen:\n{screen}")


def countdown(screen: str, name: str) -> float:
    found = re.search(r"time-wait (\d+\.\d)s", row(screen, name))
    assert found, f"no TIME-WAIT countdown for {name}:\n{screen}"
    return float(found.group(1))


def has_state(name: str, state: str) -> Callable[[str], bool]:
    def ok(screen: str) -> bool:
        try:
            return f" {state} " in row(screen, name)
        except AssertionError:
            return False
    return ok


def test_time_wait_counts_down_to_closed_in_virtual_time(tmp_path: Path) -> None:
    with tcplab_in_tmux(tmp_path, "--virtual-time", "--seed", "1") as term:
        term.run("listen h2:80", "h2 listening on port 80")
        term.run("connect h1 h2:80 as c1", "connecting c1")
        screen = term.run("wait 1", "waited 1 s")
        assert " ESTABLISHED " in row(screen, "c1") and " ESTABLISHED " in row(screen, "c1'")
        term.run('send c1 "hello"', "sending 5 bytes on c1")
        screen = term.run("wait 1", "waited 1 s")
        assert re.search(r" 6/6 ", row(screen, "c1")), "SYN + 5 bytes acknowledged"
        term.run("close c1", "close c1")
        screen = term.run("wait 1", "waited 1 s")
        assert " FIN-WAIT-2 " in row(screen, "c1") and " CLOSE-WAIT " in row(screen, "c1'")
        term.run("close c1'", "close c1'")
        screen = term.run("wait 1", "waited 1 s")
        assert " TIME-WAIT " in row(screen, "c1") and " CLOSED " in row(screen, "c1'")
        first = countdown(screen, "c1")
        screen = term.run("wait 30", "waited 30 s")
        assert " TIME-WAIT " in row(screen, "c1")
        assert countdown(screen, "c1") == first - 30
        screen = term.run("wait 31", "waited 31 s")
        assert " CLOSED " in row(screen, "c1")
        assert "time-wait" not in row(screen, "c1")
        assert "virtual clock t=65.000" in screen


def test_time_wait_counts_down_in_real_time(tmp_path: Path) -> None:
    with tcplab_in_tmux(tmp_path, "--seed", "1") as term:
        term.run("listen h2:80", "h2 listening on port 80")
        term.run("connect h1 h2:80 as c1", "connecting c1")
        term.wait_for(has_state("c1'", "ESTABLISHED"), "c1' ESTABLISHED")
        term.run('send c1 "hello"', "sending 5 bytes on c1")
        term.run("close c1", "close c1")
        term.wait_for(has_state("c1", "FIN-WAIT-2"), "c1 FIN-WAIT-2")
        term.run("close c1'", "close c1'")
        screen = term.wait_for(has_state("c1", "TIME-WAIT"), "c1 TIME-WAIT")
        first = countdown(screen, "c1")
        time.sleep(1.2)
        screen = term.screen()
        second = countdown(screen, "c1")
        assert " TIME-WAIT " in row(screen, "c1")
        assert 0.5 <= first - second <= 3.0, (first, second)


def test_a_word_typed_into_the_table_changes_nothing_at_100x30(tmp_path: Path) -> None:
    """At 100x30, with c1 selected in the sockets table, the user types ``wait 1``
    without ``:``.  Its w (shutdown) asks first and its a cancels that; the letters go
    to the command line, space does not pause: c1 stays ESTABLISHED, nothing ran,
    and Enter then runs the line the user meant."""
    with tcplab_in_tmux(tmp_path, "--virtual-time", "--seed", "1", size=(100, 30)) as term:
        term.run("listen h2:80", "h2 listening on port 80")
        term.run("connect h1 h2:80 as c1", "connecting c1")
        term.run("wait 1", "waited 1 s")
        term.keys("Escape")  # back to the table: its letters are offered again
        term.wait_text("w Shutdown")
        for _ in range(3):
            term.keys("Up")  # to the first row, c1 (h1's socket)
        before = term.wait_for(has_state("c1", "ESTABLISHED"), "c1 ESTABLISHED")
        assert "? Help" in before.splitlines()[-1], "the footer offers help at 100 columns"
        term.type("wait 1")
        screen = term.wait_for(lambda s: re.search(r"wait 1\s*▎", s) is not None,
                               "the line 'wait 1' in the command line")
        assert " ESTABLISHED " in row(screen, "c1") and " ESTABLISHED " in row(screen, "c1'")
        assert "(paused)" not in screen and "shutdown c1?" not in screen
        assert "t=1.000" in screen.splitlines()[0], "no time passed"
        term.keys("Enter")
        screen = term.wait_text("virtual clock t=2.000")
        assert " ESTABLISHED " in row(screen, "c1") and " ESTABLISHED " in row(screen, "c1'")
