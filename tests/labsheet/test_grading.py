"""``tcplab lab SHEET --check DIR``: the output lines and exit codes are a contract; a
recording from another sheet, or of another setup, is refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcplab.cli import main as tcplab_main
from tcplab.labsheet.cli import main
from tcplab.labsheet.runner import run_solution
from tcplab.labsheet.sheet import load_sheet

LABS = Path(__file__).resolve().parents[2] / "docs" / "labs"
SHEET_1 = LABS / "01-handshake.md"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "good"
    run_solution(load_sheet(SHEET_1), LABS / "solutions" / "01-handshake.scn", record=out)
    return out


@pytest.fixture(scope="module")
def wrong(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "wrong"
    run_solution(load_sheet(SHEET_1), LABS / "solutions" / "01-handshake.wrong.scn",
                 record=out)
    return out


def test_the_recording_names_its_sheet(good: Path) -> None:
    header = json.loads((good / "events.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert header["kind"] == "header" and header["sheet"] == "01-handshake"


def test_a_recording_that_does_everything_passes(good: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(SHEET_1), "--check", str(good)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "PASS handshake", "PASS data-both-ways", "PASS refused", "PASS simultaneous-open",
        "4 of 4 exercises done"]


def test_a_recording_that_misses_some_says_what_was_not_seen(
        wrong: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["1", "--check", str(wrong)]) == 1   # a lab number finds the sheet
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["PASS handshake", "PASS data-both-ways"]
    assert lines[2] == "FAIL refused: no connection from h1 to h2:81 was seen (role c)"
    assert lines[3].startswith("FAIL simultaneous-open: expect-seen a SYN-RECEIVED: a never "
                               "was SYN-RECEIVED")
    assert lines[4] == "2 of 4 exercises done"
    assert len(lines) == 5


def test_through_the_tcplab_command(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tcplab_main(["lab", "01-handshake", "--check", str(good)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "4 of 4 exercises done"


def test_a_recording_of_another_sheet_is_refused(good: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["2", "--check", str(good)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (f"tcplab lab: {good} is not a recording of "
                                    f"02-teardown-orders: it was recorded for sheet "
                                    f"01-handshake, not 02-teardown-orders")


def test_a_run_recording_is_graded_when_its_setup_is_the_sheets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # made with tcplab run --record: no sheet in its header, the setup typed by hand
    scenario = tmp_path / "mine.scn"
    scenario.write_text("listen h2:80\nconnect h1 h2:81 as x\nwait 1\n", encoding="utf-8")
    rec = tmp_path / "run"
    assert tcplab_main(["run", "--headless", "--virtual-time", "--record", str(rec),
                        "--scenario", str(scenario)]) == 0
    capsys.readouterr()
    assert main(["1", "--check", str(rec)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "PASS refused" in out and out[-1] == "1 of 4 exercises done"
    # the same with another MSL than lab 2's is refused, naming the difference
    assert main(["2", "--check", str(rec)]) == 2
    err = capsys.readouterr().err
    assert "its run does not have the sheet's setup: --msl the default (the sheet's: 5 s)" \
        in err


def test_what_cannot_be_graded_is_one_line(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["1", "--check", str(tmp_path / "none")]) == 2
    assert "no recording at" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "events.jsonl").write_text("not json\n", encoding="utf-8")
    assert main(["1", "--check", str(tmp_path / "bad")]) == 2
    assert "the first line is not JSON" in capsys.readouterr().err
    assert main(["42", "--check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcplab lab: no lab sheet '42' (sheets: 01-handshake, ")
    assert main([str(tmp_path / "nope.md"), "--check", str(tmp_path)]) == 2
    assert "no sheet at" in capsys.readouterr().err


def test_a_broken_sheet_is_reported_by_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "mine.md"
    sheet.write_text("# T\n```lab-setup\ntopology: pair\n```\n```check a\nexpect-seen c X\n"
                     "```\n", encoding="utf-8")
    assert main([str(sheet), "--check", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"tcplab lab: {sheet}:6: ")


def test_the_dashboard_needs_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["1"]) == 2   # under pytest stdout is not a terminal
    assert "the dashboard needs a terminal" in capsys.readouterr().err


def test_a_lab_recording_re_executes_byte_for_byte(good: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # the sheet's setup is in the recording as commands: replay --verify needs no sheet
    assert tcplab_main(["replay", str(good), "--verify"]) == 0
    assert capsys.readouterr().out.startswith("verified ")


def test_the_sessions_of_a_student_are_graded_together(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = load_sheet(SHEET_1)
    first, second = tmp_path / "monday", tmp_path / "tuesday"
    run_solution(sheet, "connect h1 h2:80 as c1\nwait 1\nconnect h1 h2:81 as c2\nwait 1\n",
                 record=first)
    run_solution(sheet, "connect h1 h2:80 as x\nwait 1\nsend x \"hello\"\nsend x' \"world!\"\n"
                        "wait 1\nconnect h1:5000 h2:6000 as a\nconnect h2:6000 h1:5000 as b\n"
                        "wait 1\n", record=second)
    assert main(["1", "--check", str(first)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "2 of 4 exercises done"
    assert main(["1", "--check", str(first), str(second)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "PASS handshake", "PASS data-both-ways", "PASS refused", "PASS simultaneous-open",
        "4 of 4 exercises done"]


def test_a_session_never_records_over_another(good: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    before = (good / "events.jsonl").read_bytes()
    assert main(["1", "--record", str(good)]) == 2
    assert "already holds a recording; record this session into another directory" in \
        capsys.readouterr().err
    assert (good / "events.jsonl").read_bytes() == before


SHEET_8 = LABS / "08-linux-and-tcplab.md"
LINUX_PART = ["linux-handshake", "linux-time-wait", "simultaneous-close-linux", "linux-abort"]


def test_a_simulated_recording_of_lab_8_leaves_its_linux_part_undone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "sim"
    run_solution(load_sheet(SHEET_8), LABS / "solutions" / "08-linux-and-tcplab.scn",
                 record=record)
    assert main(["8", "--check", str(record)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == ["PASS syn-options", "PASS time-wait-60s", "PASS closed-port",
                         "PASS rto-doubles"]
    # h2 ran tcplab's TCP: a check about Linux cannot pass on it, and says why
    assert lines[4:8] == [f"FAIL {name}: needs Linux's TCP on h2, which ran tcplab's TCP in "
                          f"this run (do it in a lab on Mininet, as root)"
                          for name in LINUX_PART]
    assert lines[8:] == ["4 of 8 exercises done"]


NOT_ROOT = "not root (run it with sudo)"


def test_without_mininet_lab_8_says_so_in_one_line_and_runs_the_rest(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tcplab.labsheet.runner import choose_backend

    monkeypatch.setattr("tcplab.cli.run.mininet_unusable", lambda: NOT_ROOT)
    notice = ("the 4 exercises about Linux's TCP on h2 need root and Mininet, and here: "
              "not root (run it with sudo); the other 4 run on the simulated network, "
              "with tcplab's TCP on h2")
    assert choose_backend(load_sheet(SHEET_8)) == ("sim", notice)
    assert main(["8"]) == 2   # no terminal under pytest: the line comes first all the same
    assert capsys.readouterr().err.splitlines() == [
        f"tcplab lab: {notice}",
        "tcplab lab: the dashboard needs a terminal (or use --check DIR to grade a recording)"]
    assert main(["8", "--backend", "mininet"]) == 2
    assert capsys.readouterr().err == f"tcplab lab: cannot use Mininet: {NOT_ROOT}\n"
    assert choose_backend(load_sheet(SHEET_1)) == ("sim", None)   # sheets without Linux


def test_with_mininet_lab_8_runs_there_unless_told_otherwise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tcplab.labsheet.runner import choose_backend

    monkeypatch.setattr("tcplab.cli.run.mininet_unusable", lambda: None)
    sheet = load_sheet(SHEET_8)
    assert choose_backend(sheet) == ("mininet", None)
    kind, notice = choose_backend(sheet, "sim")
    assert kind == "sim" and notice is not None
    assert notice.startswith("the 4 exercises about Linux's TCP on h2 need Mininet "
                             "(not --backend sim); the other 4 run on the simulated network")
