"""The demo scenarios in scenarios/ run headless and pass, and tell the story they promise.

Users run these files with ``tcplab run --scenario scenarios/NAME.scn``, so each one runs
here exactly that way (``--headless --virtual-time -v``, in this process) and must exit 0.
Each file's own ``expect`` lines check the states; the patterns below check the verbose
output for the event the demo is about (the dropped FIN, the re-ACK from TIME-WAIT, the
RST that crosses a FIN), so a scenario cannot pass for the wrong reason.  The lab sheets
in docs/labs/ may only name scenario files that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcplab.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.scn"))
LABS = sorted((ROOT / "docs" / "labs").glob("*.md"))

# Regular expressions that must each match a line of the verbose headless output.
STORY: dict[str, list[str]] = {
    "handshake.scn": [
        r"h1 > \S+ S \d+:\d+\(0\) win \d+ <mss 1460,sackOK",
        r"h2 \S+ LISTEN -> SYN-RECEIVED",
        r"h1 \S+ SYN-SENT -> ESTABLISHED",
    ],
    "simultaneous-close.scn": [
        r"link h1>h2 holding: \S+ F",
        r"link h2>h1 holding: \S+ F",
        r"h1 \S+ FIN-WAIT-1 -> CLOSING",
        r"h2 \S+ FIN-WAIT-1 -> CLOSING",
    ],
    "lost-fin.scn": [
        r"link h1>s1 dropped \(filter\): \S+ F",
        r"t=2\.\d+ h2 \S+ ESTABLISHED -> CLOSE-WAIT",
    ],
    "lost-last-ack.scn": [
        r"link h1>s1 dropped \(filter\): \S+ \. ",
        r"h1 \S+ TIME-WAIT -> TIME-WAIT \(rcv FIN",
        r"t=62\.\d+ h1 \S+ TIME-WAIT -> CLOSED",  # 60 s after the *second* ACK
    ],
    "rst-race.scn": [
        r"h1 \S+ ESTABLISHED -> CLOSED \(ABORT\)",
        r"h1 dropped \(no socket\)",
        r"h2 \S+ ESTABLISHED -> CLOSED \(rcv RST\)",
        r"link h1>h2 holding: \S+ R ",
        r"h2 \S+ FIN-WAIT-1 -> CLOSED \(rcv RST\)",
    ],
    "half-close.scn": [
        r"h1 \S+ ESTABLISHED -> FIN-WAIT-1 \(CLOSE \(shutdown",
        r"h2 > \S+ \S+ \d+:\d+\(1448\)",  # full-sized data segments from CLOSE-WAIT
    ],
    "lossy-transfer.scn": [
        r"link h1>s1 dropped \(link loss\)",
        r"h1 \S+ FIN-WAIT-1 -> FIN-WAIT-2",
    ],
    "loss-recovery.scn": [
        r"t=1\.000 link h1>s1 dropped \(filter\)",
        r"t=2\.000 link h1>s1 dropped \(filter\)",
    ],
    "keepalive.scn": [
        r"t=7201\.000 h1 > \S+ \. \d+:\d+\(0\) ack",  # the first probe, 2 h after the ACK
        r"h1 \S+ ESTABLISHED -> CLOSED \(keep-alive timeout \(9 probes unanswered\)\)",
    ],
    "time-wait-reuse.scn": [
        r"h2 \S+ TIME-WAIT -> CLOSED \(rcv SYN \(a new incarnation \(RFC 6191\)\)\)",
    ],
    "break-simultaneous-close.scn": [
        r"t=1\.000 breakpoint 1 \(break c1 CLOSING\): h1 \S+ FIN-WAIT-1 -> CLOSING",
        r"> wait 10: stopped at t=1\.000000 by breakpoint 1 \(break c1 CLOSING\)",
        r"t=1\.000 h1 \S+ CLOSING -> TIME-WAIT",  # CLOSING lasted zero time
    ],
    "time-wait-assassination.scn": [
        r"t=1\.500 h2 \S+ LAST-ACK -> CLOSED \(ABORT\)",
        r"t=1\.810 h1 \S+ FIN-WAIT-2 -> TIME-WAIT \(rcv FIN",
        r"h2 dropped \(ack in listen\)",
        r"t=1\.830 h1 \S+ TIME-WAIT -> CLOSED \(rcv RST",  # one round trip, not 2 MSL
    ],
    "teardown-orders.scn": [
        r"h2 \S+ CLOSE-WAIT -> LAST-ACK",
        r"h1 \S+ CLOSE-WAIT -> LAST-ACK",
    ],
}


def run_headless(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, list[str]]:
    code = main(["run", "--headless", "--virtual-time", "-v", "--scenario", str(path)])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out.splitlines()


def test_the_promised_scenarios_exist() -> None:
    names = {path.name for path in SCENARIOS}
    assert set(STORY) <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_passes_headless(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_headless(capsys, path)
    failures = [line for line in lines if " error: " in line or " FAIL " in line]
    assert code == 0, "\n".join(failures)
    assert lines[-1].endswith("all expectations held")
    for pattern in STORY.get(path.name, []):
        assert any(re.search(pattern, line) for line in lines), f"no line matches {pattern}"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_opens_with_what_to_watch(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    text = "\n".join(header)
    assert len(header) >= 3, "a scenario starts with a comment block"
    assert "What to watch" in text
    assert f"scenarios/{path.name}" in text, "the header shows how to run the file"


def test_lab_sheets_name_only_existing_scenarios() -> None:
    assert LABS, "docs/labs/ has lab sheets"
    named = {name for lab in LABS
             for name in re.findall(r"scenarios/([\w-]+\.scn)", lab.read_text("utf-8"))}
    assert named, "the lab sheets use the scenarios"
    assert named <= {path.name for path in SCENARIOS}
