"""Lab 8's Part B on Mininet, h2 running Linux's TCP (needs root and Mininet: marked
``root``; run it under ``flock /tmp/tcplab-mininet.lock`` beside other Mininet runs).

Its solution (``08-linux-and-tcplab.linux.scn``) makes every check that ``needs:
h2=linux`` pass, its wrong solution fails the checks it names, and ``tcplab lab 8
--check`` grades the Mininet recording as any other -- together with a recording of
Part A made on the simulated network, all of the sheet is done.  Each run builds one
Mininet lab (about 10 s).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcplab.labsheet.checker import Checker
from tcplab.labsheet.cli import main
from tcplab.labsheet.runner import run_solution
from tcplab.labsheet.sheet import Sheet, load_sheet

pytestmark = pytest.mark.root

LABS = Path(__file__).resolve().parents[2] / "docs" / "labs"
SHEET = LABS / "08-linux-and-tcplab.md"
SOLUTIONS = LABS / "solutions"


@pytest.fixture(scope="module")
def sheet() -> Sheet:
    return load_sheet(SHEET)


def linux_part(sheet: Sheet) -> list[str]:
    return [ex.name for ex in sheet.exercises if ex.needs]


def checked(sheet: Sheet, events: list[dict[str, object]]) -> Checker:
    checker = Checker(sheet)
    checker.feed_all(events)
    return checker


def test_the_linux_part_has_checks(sheet: Sheet) -> None:
    assert len(linux_part(sheet)) >= 4
    assert sheet.setup.backend == "mininet" and sheet.setup.linux == ("h2",)


def test_the_solution_passes_every_linux_check_and_grades_as_any_recording(
        sheet: Sheet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "linux"
    events, failures = run_solution(sheet, SOLUTIONS / "08-linux-and-tcplab.linux.scn",
                                    record=record, backend="mininet")
    assert failures == []  # its own expect lines held
    assert events[0]["backend"] == "mininet"
    hosts = events[0]["hosts"]
    assert isinstance(hosts, list) and {"name": "h2", "ip": "10.0.0.2", "kernel": True} in hosts
    # Linux's moves are in the stream with the cause linux (the tracepoint's)
    assert any(e["kind"] == "state.changed" and e["host"] == "h2" and e["cause"] == "linux"
               and e["new"] == "SYN-RECEIVED" for e in events)
    checker = checked(sheet, events)
    assert {name: checker.missing(name) for name in linux_part(sheet)
            if name not in checker.done} == {}

    assert main(["8", "--check", str(record)]) == 1  # Part A was not done in this session
    lines = capsys.readouterr().out.splitlines()
    assert {f"PASS {name}" for name in linux_part(sheet)} <= set(lines)
    assert "FAIL time-wait-60s: expect-stayed c TIME-WAIT 60" in "\n".join(lines)
    assert re.fullmatch(r"\d of 8 exercises done", lines[-1])

    # Part A on the simulated network, Part B on Mininet: graded together, all done
    part_a = tmp_path / "sim"
    run_solution(sheet, SOLUTIONS / "08-linux-and-tcplab.scn", record=part_a)
    assert main(["8", "--check", str(part_a), str(record)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "8 of 8 exercises done"


def test_the_wrong_solution_fails_the_linux_checks_it_names(sheet: Sheet) -> None:
    path = SOLUTIONS / "08-linux-and-tcplab.linux.wrong.scn"
    match = re.search(r"^# fails: (.+)$", path.read_text(encoding="utf-8"), re.M)
    assert match is not None
    named = match[1].split()
    assert set(named) <= set(linux_part(sheet))
    events, _failures = run_solution(sheet, path, backend="mininet")
    checker = checked(sheet, events)
    assert [name for name in named if name in checker.done] == []
    for name in named:
        assert checker.missing(name)
    assert "linux-handshake" in checker.done  # what it did right still ticks
