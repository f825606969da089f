"""Every lab sheet in docs/labs: it reads, its solution makes every check pass on the
simulated network, its wrong solution fails the checks it names, every exercise says
which RFC section it shows, and together the checks are about all eleven states.

The exercises that need Linux's TCP (``needs: h2=linux``) have their own solutions,
``NN-name.linux.scn`` and ``.linux.wrong.scn``, run on Mininet by test_linux_part.py;
on the simulated network they are left out, and say why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcplab.labsheet.checker import Checker
from tcplab.labsheet.runner import run_solution
from tcplab.labsheet.sheet import Sheet, load_sheet
from tcplab.tcp.states import State

LABS = Path(__file__).resolve().parents[2] / "docs" / "labs"
SOLUTIONS = LABS / "solutions"
SHEETS = sorted(LABS.glob("[0-9][0-9]-*.md"))


def test_there_are_at_least_eight_sheets() -> None:
    assert len(SHEETS) >= 8


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.stem)
def test_every_exercise_says_which_rfc_section_it_shows(path: Path) -> None:
    sheet = load_sheet(path)
    for ex in sheet.exercises:
        assert re.search(r"RFC \d+ §\d", ex.rfc), f"{path.name}: {ex.name} has no RFC section"
        assert ex.hint, f"{path.name}: {ex.name} has no hint"


def test_every_state_is_the_subject_of_a_check() -> None:
    covered: set[str] = set()
    for path in SHEETS:
        for ex in load_sheet(path).exercises:
            covered |= ex.states()
    assert {s.value for s in State} - covered == set()
    assert len(State) == 11


def run(sheet: Sheet, script: Path) -> Checker:
    events, failures = run_solution(sheet, script)
    # a solution's own expect lines are self-checks: they must hold (other commands may
    # fail on purpose, like a connect to a port in use)
    assert [f for f in failures if "expect" in f] == [], failures
    checker = Checker(sheet)
    checker.feed_all(events)
    return checker


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.stem)
def test_the_solution_passes_every_check(path: Path) -> None:
    sheet = load_sheet(path)
    solution = SOLUTIONS / f"{path.stem}.scn"
    assert solution.is_file(), f"{path.name} has no solution {solution.name}"
    checker = run(sheet, solution)
    missing = {ex.name: checker.missing(ex.name) for ex in sheet.exercises
               if ex.name not in checker.done and not ex.needs}
    assert missing == {}
    for ex in sheet.exercises:
        if ex.needs:  # never ticked on tcplab's behaviour
            assert ex.name not in checker.done
            assert checker.missing(ex.name).startswith("needs Linux's TCP on ")


WRONG = sorted(p for p in SOLUTIONS.glob("*.wrong.scn") if ".linux." not in p.name)


def test_most_sheets_have_a_wrong_solution() -> None:
    assert len(WRONG) >= 6


@pytest.mark.parametrize("path", WRONG, ids=lambda p: p.name.split(".")[0])
def test_the_wrong_solution_fails_the_checks_it_names(path: Path) -> None:
    sheet = load_sheet(LABS / f"{path.name.split('.')[0]}.md")
    match = re.search(r"^# fails: (.+)$", path.read_text(encoding="utf-8"), re.M)
    assert match is not None, f"{path.name} has no '# fails:' line"
    named = match[1].split()
    assert set(named) <= {ex.name for ex in sheet.exercises}
    checker = run(sheet, path)
    assert [name for name in named if name in checker.done] == []
    for name in named:
        assert checker.missing(name)  # says what was not seen
