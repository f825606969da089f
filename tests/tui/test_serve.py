"""``tcplab serve`` end to end, in a real headless Chromium.

The test starts ``tcplab serve`` on a free port, starts Chromium headless with its
DevTools protocol on another, and drives the page as a user would: it waits for the
dashboard, types commands into the page (``:`` then the line, Enter), and checks that
a socket changes state.  The browser draws the terminal on a canvas, so the screen is
read from what the page receives: the DevTools protocol reports every websocket frame
the page gets, which carries the dashboard's output (text between ANSI sequences);
a table row is written as one run of text, so a row with ``ESTABLISHED`` in it shows
the page has that row on screen.  A screenshot of the page is saved to
``tests/artifacts/serve-dashboard.png`` (its path is printed).

Everything waits with a deadline; the server and the browser are killed in a
``finally`` (by their own process ids).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tcplab.labsheet.cli import main as lab_main
from tcplab.tui.serve import announce, app_command, check_lab, lab_command
from tcplab.tui.serve import main as serve_main

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
TIMEOUT = 30.0
ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|.)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("no chromium: install the Debian package chromium (scripts/test does)")


def kill(proc: subprocess.Popen[bytes]) -> None:
    """End a process we started, and its children (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


async def wait_http(url: str, what: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + TIMEOUT
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"{what} exited with {proc.returncode}"
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return await response.text()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not answer {url} within {TIMEOUT} s")


class Page:
    """One browser page over the DevTools protocol: commands, and the text of every
    websocket frame it received."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.frames: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.webSocketFrameReceived":
                response = data["params"]["response"]
                payload = response["payloadData"]
                raw = base64.b64decode(payload) if response["opcode"] == 2 else payload.encode()
                self.frames.append(ANSI.sub("", raw.decode("utf-8", "replace")))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, TIMEOUT)
        assert "error" not in reply, (method, reply)
        return dict(reply.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def text(self) -> str:
        return "".join(self.frames)

    async def wait_for(self, ok: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            text = self.text()
            if ok(text):
                return text
            await asyncio.sleep(0.2)
        raise AssertionError(f"the page never showed {what}; it got: {self.text()[-2000:]!r}")

    async def type(self, text: str) -> None:
        await self.send("Input.insertText", text=text)

    async def enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                            windowsVirtualKeyCode=13, nativeVirtualKeyCode=13,
                            **({"text": "\r"} if kind == "keyDown" else {}))

    async def command(self, line: str) -> None:
        """``:`` opens the command line, then the line and Enter, as a user types them."""
        await self.type(":")
        await asyncio.sleep(0.3)
        await self.type(line)
        await asyncio.sleep(0.2)
        await self.enter()
        await asyncio.sleep(0.5)


@asynccontextmanager
async def browser(tmp_path: Path) -> AsyncIterator[Page]:
    port = free_port()
    # no other host resolves: the page's web-font link fails at once, offline or not
    proc = subprocess.Popen(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         f"--remote-debugging-port={port}", f"--user-data-dir={tmp_path / 'chromium'}",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--window-size=1600,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        await wait_http(f"http://127.0.0.1:{port}/json/version", "chromium", proc)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            target = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"],
                                          max_msg_size=0) as ws:
                page = Page(ws)
                try:
                    yield page
                finally:
                    page.reader.cancel()
    finally:
        kill(proc)


def test_app_command_defaults_to_the_simulated_backend() -> None:
    command = app_command(["--seed", "3"])
    assert command.endswith("-m tcplab run --backend sim --seed 3")
    assert app_command(["--backend", "mininet"]).endswith("run --backend mininet")
    assert "only this machine" in announce("127.0.0.1", 8000, command)
    assert "WARNING" in announce("0.0.0.0", 8000, command)


def test_serve_in_headless_chromium(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(_serve_in_chromium(tmp_path), 4 * TIMEOUT))


async def _serve_in_chromium(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tcplab", "serve", "--port", str(port), "--virtual-time",
         "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
    try:
        index = await wait_http(f"http://127.0.0.1:{port}/", "tcplab serve", server)
        assert "textual-terminal" in index
        async with browser(tmp_path) as page:
            await page.send("Network.enable")
            await page.send("Page.enable")
            await page.send("Page.navigate", url=f"http://127.0.0.1:{port}/")
            # the dashboard is up: its status line, and the page shows the terminal
            await page.wait_for(lambda t: "tcplab · live" in t and "backend sim" in t,
                                "the dashboard's status line")
            assert await page.evaluate(
                "document.body.classList.contains('-first-byte') && "
                "!!document.querySelector('.textual-terminal canvas')")
            await page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
            for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 1"):
                await page.command(line)
            row = r"c1\s+h1\s+10\.0\.0\.1:\d+\s+10\.0\.0\.2:80\s+{}"
            await page.wait_for(lambda t: re.search(row.format("ESTABLISHED"), t) is not None,
                                "c1 ESTABLISHED in the sockets table")
            for line in ("close c1", "wait 0.5"):
                await page.command(line)
            await page.wait_for(lambda t: re.search(row.format("FIN-WAIT-2"), t) is not None,
                                "c1 FIN-WAIT-2 after close c1")
            await asyncio.sleep(0.5)
            shot = await page.send("Page.captureScreenshot", format="png")
            ARTIFACTS.mkdir(exist_ok=True)
            path = ARTIFACTS / "serve-dashboard.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            print(f"screenshot of the page: {path}")
            assert path.stat().st_size > 10_000
    finally:
        kill(server)
        output = server.stdout.read().decode(errors="replace") if server.stdout else ""
    assert "listening on http://127.0.0.1:" in output, output


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _session_text(ws: aiohttp.ClientWebSocketResponse, ok: Callable[[str], bool],
                        seconds: float = TIMEOUT) -> str:
    """What a session's websocket carried (ANSI sequences removed) until that text
    satisfies ``ok``, or ``seconds`` passed; what is not read yet stays queued for the
    next call."""
    out: list[str] = []
    deadline = time.monotonic() + seconds
    while not ok("".join(out)) and (left := deadline - time.monotonic()) > 0:
        try:
            # (receive's own timeout would close the websocket)
            message = await asyncio.wait_for(ws.receive(), left)
        except TimeoutError:
            break
        if message.type == aiohttp.WSMsgType.BINARY:
            out.append(ANSI.sub("", message.data.decode("utf-8", "replace")))
        elif message.type != aiohttp.WSMsgType.TEXT:
            break
    return "".join(out)


def _has(*parts: str) -> Callable[[str], bool]:
    return lambda text: all(part in text for part in parts)


def test_each_tab_runs_its_own_lab() -> None:
    """Two sessions (two browser tabs, without the browser): a listener opened in the
    first one is not in the second one's lab."""
    asyncio.run(asyncio.wait_for(_two_sessions(), 4 * TIMEOUT))


async def _two_sessions() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tcplab", "serve", "--port", str(port), "--virtual-time"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        cwd=ROOT)
    try:
        await wait_http(f"http://127.0.0.1:{port}/", "tcplab serve", server)
        url = f"http://127.0.0.1:{port}/ws?width=120&height=40"
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url, max_msg_size=0) as first, \
                session.ws_connect(url, max_msg_size=0) as second:
            for ws in (first, second):
                assert "0 sockets" in await _session_text(ws, _has("0 sockets"))
            await first.send_json(["stdin", ":listen h2:80\r"])
            assert "1 sockets" in await _session_text(first, _has("1 sockets"))
            await second.send_json(["stdin", ":wait 1\r"])
            # everything the second tab got since it showed 0 sockets, up to its status
            # line at t=1.000 with its count of sockets (the same line, after the clock)
            later = await _session_text(
                second, lambda t: re.search(r"t=1\.000[^\n]*? sockets", t) is not None)
            assert "t=1.000" in later and "1 sockets" not in later
    finally:
        kill(server)


def test_the_lab_command_records_each_tab_under_the_root(tmp_path: Path) -> None:
    sheet = check_lab("1", ["--seed", "2"])
    assert sheet.endswith("docs/labs/01-handshake.md") and Path(sheet).is_absolute()
    command = lab_command(sheet, tmp_path, ["--seed", "2"])
    assert command.endswith(f"-m tcplab lab {sheet} --record-dir {tmp_path} --backend sim "
                            f"--seed 2")
    assert "--backend mininet" in lab_command(sheet, tmp_path, ["--backend", "mininet"])
    assert f"grade one with: tcplab lab 1 --check {tmp_path}/NAME" in announce(
        "127.0.0.1", 8000, command, tmp_path, "1")


@pytest.mark.parametrize("argv, reason", [
    (["--lab", "99"], "no lab sheet '99'"),
    (["--lab", "1", "--virtual-time"], "not an option of tcplab lab: --virtual-time"),
    (["--lab", "1", "--backend", "ns3"], "invalid choice: 'ns3'"),
    (["--lab", "1", "--check", "x"], "--check is serve's to set"),
])
def test_a_bad_lab_is_refused_before_the_server_starts(
        argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert serve_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcplab serve: --lab ") and reason in err and err.count("\n") == 1


def test_record_dir_needs_a_lab(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        serve_main(["--record-dir", "x"])
    assert "--record-dir needs --lab SHEET" in capsys.readouterr().err


def test_each_tab_of_a_lab_is_recorded_on_its_own(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """``tcplab serve --lab 1``: two tabs, each the lab's panel and its own recording
    directory; the one where the student did the handshake grades PASS handshake, the
    other FAIL -- as an instructor grades them."""
    root = tmp_path / "recordings"
    asyncio.run(asyncio.wait_for(_two_lab_sessions(root, tmp_path / "data"), 4 * TIMEOUT))
    dirs = sorted(root.iterdir())
    assert len(dirs) == 2 and all(re.fullmatch(r"\d{8}-\d{6}-\d+", d.name) for d in dirs)
    results = {}
    for d in dirs:
        header = json.loads((d / "events.jsonl").read_text(encoding="utf-8").splitlines()[0])
        assert header["sheet"] == "01-handshake"
        assert lab_main(["1", "--check", str(d)]) == 1
        results[d] = capsys.readouterr().out.splitlines()
    passed = [d for d, lines in results.items() if lines[0] == "PASS handshake"]
    assert len(passed) == 1   # the tab where the handshake was done, and only that one
    other = next(d for d in dirs if d not in passed)
    assert results[other][0].startswith("FAIL handshake: ")
    # each tab's ticks were its own, beside its recording, not in the user's progress file
    progress = json.loads((passed[0] / "progress.json").read_text(encoding="utf-8"))
    assert "handshake" in progress["done"] and not (tmp_path / "data").exists()


async def _commands_recorded(root: Path, counts: list[int]) -> None:
    """Wait until the recording directories under ``root`` hold, on disk, that many
    ``command`` events each (in any order): the server has flushed them."""
    def recorded() -> list[int]:
        found = []
        for d in root.iterdir() if root.is_dir() else ():
            try:
                lines = (d / "events.jsonl").read_text(encoding="utf-8").splitlines()
            except OSError:
                lines = []
            n = 0
            for text in lines:
                with contextlib.suppress(ValueError):  # a line still being written
                    n += json.loads(text).get("kind") == "command"
            found.append(n)
        return sorted(found)
    deadline = time.monotonic() + TIMEOUT
    while recorded() != counts and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert recorded() == counts, f"commands recorded per tab: {recorded()}, not {counts}"


async def _two_lab_sessions(root: Path, data: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tcplab", "serve", "--port", str(port), "--lab", "1",
         "--record-dir", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=ROOT, env={**os.environ, "XDG_DATA_HOME": str(data)})
    try:
        await wait_http(f"http://127.0.0.1:{port}/", "tcplab serve", server)
        url = f"http://127.0.0.1:{port}/ws?width=140&height=40"
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url, max_msg_size=0) as first, \
                session.ws_connect(url, max_msg_size=0) as second:
            for ws in (first, second):
                shown = await _session_text(ws, _has("0 of 4 exercises done", "recording: 20"))
                assert "0 of 4 exercises done" in shown and "recording: 20" in shown
            for line in ("connect h1 h2:80 as c1", "wait 1"):
                await first.send_json(["stdin", f":{line}\r"])
                await asyncio.sleep(0.5)
            assert "1 of 4 exercises done" in await _session_text(
                first, _has("1 of 4 exercises done"))
            await second.send_json(["stdin", ":wait 1\r"])
            await first.send_json(["stdin", ":wait 1\r"])  # a command flushes the events
            await _commands_recorded(root, [1, 3])
    finally:
        kill(server)
        output = server.stdout.read().decode(errors="replace") if server.stdout else ""
    assert f"each tab records into a new directory under {root}" in output, output
