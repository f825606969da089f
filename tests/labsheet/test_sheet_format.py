"""The lab-sheet format: a good sheet reads into its setup and exercises; every kind of
mistake is reported with the file and the line, all of them at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.lab import commands as C
from tcplab.labsheet import conditions as K
from tcplab.labsheet.sheet import SheetError, load_sheet, parse_sheet, student_markdown

GOOD = '''# Lab 9 — A test sheet

Prose the program ignores.

```lab-setup
id: test-sheet
topology: pair
clock: virtual
msl: 5
seed: 3
link h1 s1 delay=20ms
listen h2:80
```

## Part A — the handshake

```check handshake
rfc: RFC 9293 §3.5
task: Open a connection.
hint: connect h1 h2:80
role c = h1 > h2:80
role l = listener h2:80
expect l LISTEN
expect-seen c' SYN-RECEIVED
expect-not-seen c CLOSING
expect-stayed c ESTABLISHED 500ms
expect-received c >=5
expect-received c' 6
expect-transition c SYN-SENT ESTABLISHED "rcv SYN,ACK"
expect-error c ECONNRESET
expect-sent h2 RST count<=3
expect-sent c SYN option=wscale window=65535
expect-not-sent c FIN
expect-retransmitted c FIN why=rto count>=2
expect-dropped h1>h2 DATA count=1
expect-timer c rtx
expect-timer h1 keepalive count>=2
expect-command-error "in use"
```

## Part B

```check reuse
role old = h1:5000 > h2:80
role new = h1:5000 > h2:80 after old
expect new ESTABLISHED
expect old CLOSED
```
'''


def test_a_good_sheet_reads_into_setup_and_exercises() -> None:
    sheet = parse_sheet(GOOD, Path("docs/labs/09-test.md"))
    assert sheet.id == "test-sheet"
    assert sheet.title == "Lab 9 — A test sheet"
    setup = sheet.setup
    assert (setup.topology, setup.clock, setup.msl, setup.seed) == ("pair", "virtual", 5.0, 3)
    assert [cmd for _, cmd in setup.commands] == [
        C.parse_line("link h1 s1 delay=20ms"), C.parse_line("listen h2:80")]
    assert [line for line, _ in setup.commands] == [11, 12]
    first, second = sheet.exercises
    assert first.name == "handshake" and first.title == "Part A — the handshake"
    assert (first.rfc, first.task, first.hint) == ("RFC 9293 §3.5", "Open a connection.",
                                                  "connect h1 h2:80")
    role = first.roles[0]
    assert (role.src_host, role.src_port, role.dst_host, role.dst_port) == ("h1", None,
                                                                          "h2", 80)
    assert first.roles[1].listener
    kinds = [type(c).__name__ for c in first.conditions]
    assert kinds == ["InState", "Seen", "Seen", "Stayed", "Received", "Received",
                     "Transition", "ErrorSeen", "Segments", "Segments", "Segments",
                     "Segments", "Dropped", "TimerFired", "TimerFired", "CommandFailed"]
    seen = first.conditions[1]
    assert isinstance(seen, K.Seen) and seen.subject == K.Subject("c", accepted=True)
    assert first.conditions[2].negative() and not seen.negative()
    stayed = first.conditions[3]
    assert isinstance(stayed, K.Stayed) and stayed.seconds == 0.5
    received = first.conditions[4]
    assert isinstance(received, K.Received) and received.at_least and received.count == 5
    exact = first.conditions[5]
    assert isinstance(exact, K.Received) and not exact.at_least
    transition = first.conditions[6]
    assert isinstance(transition, K.Transition) and transition.cause == "rcv SYN,ACK"
    host_sent = first.conditions[8]
    assert isinstance(host_sent, K.Segments) and host_sent.subject.host
    assert (host_sent.count, host_sent.op) == (3, "<=")
    sent = first.conditions[9]
    assert isinstance(sent, K.Segments)
    assert (sent.flt.kind, sent.flt.option, sent.flt.window) == (C.SegmentKind.SYN, "wscale",
                                                                 65535)
    rtx = first.conditions[11]
    assert isinstance(rtx, K.Segments) and rtx.flt.retransmitted and rtx.flt.why == "rto"
    assert (rtx.count, rtx.op) == (2, ">=")
    assert first.conditions[0].line == 23  # conditions keep their sheet line
    assert second.roles[1].after == "old"
    assert first.states() >= {"LISTEN", "SYN-RECEIVED", "CLOSING", "ESTABLISHED", "SYN-SENT"}


def test_the_id_defaults_to_the_file_name(tmp_path: Path) -> None:
    text = GOOD.replace("id: test-sheet\n", "")
    path = tmp_path / "09-test.md"
    path.write_text(text, encoding="utf-8")
    assert load_sheet(path).id == "09-test"


def errors_of(text: str) -> list[str]:
    with pytest.raises(SheetError) as info:
        parse_sheet(text, Path("s.md"))
    return str(info.value).splitlines()


SETUP = "# T\n\n```lab-setup\ntopology: pair\nlisten h2:80\n```\n\n"   # lines 1-6


@pytest.mark.parametrize(("body", "line", "words"), [
    ("```check a\nrole c = h1 > h2:80\nexpekt-seen c CLOSING\n```\n", 10,
     "unknown condition 'expekt-seen' (did you mean 'expect-seen'?)"),
    ("```check a\nrole c = h1 > h2:80\nexpect-seen c CLOSNG\n```\n", 10,
     "unknown state 'CLOSNG' (did you mean 'CLOSING'?)"),
    ("```check a\nexpect-seen c1 CLOSING\n```\n", 9,
     "'c1' is not a role of this check (roles: none; declare one with role c1 = "
     "h1 > h2:80)"),
    ("```check a\nrole c = h1 > h9:80\nexpect c CLOSED\n```\n", 9,
     "unknown host 'h9' (the topology's hosts: h1, h2)"),
    ("```check a\nrole c = h1 to h2\nexpect c CLOSED\n```\n", 9, "bad role 'h1 to h2'"),
    ("```check a\nrole c = h1 > h2:80 after d\nexpect c CLOSED\n```\n", 9,
     "after d: no role d declared above"),
    ("```check a\nrole c = h1 > h2:80\nexpect-not-seen c CLOSING\n```\n", 8,
     "needs at least one condition that something happened"),
    ("```check a\nrole c = h1 > h2:80\nrole d = h1 > h2:80\nexpect c CLOSED\n```\n", 8,
     "role d (line 10) is used by no condition"),
    ("```check a\nrole c = h1 > h2:80\nexpect-sent c SYN colour=red\n```\n", 10,
     "unexpected 'colour=red'"),
    ("```check a\nrole c = h1 > h2:80\nexpect-retransmitted c FIN why=luck\n```\n", 10,
     "unknown why=luck"),
    ("```check a\nrole c = h1 > h2:80\nexpect-sent c SYNN\n```\n", 10,
     "unknown segment kind 'SYNN'"),
    ("```check a\nrole c = h1 > h2:80\nexpect-timer c rtz\n```\n", 10, "unknown timer 'rtz'"),
    ("```check a\nrole l = listener h2:80\nexpect-seen l' LISTEN\n```\n", 10,
     "l': a listener has no other end"),
    ("```check Bad_Name\nrole c = h1 > h2:80\nexpect c CLOSED\n```\n", 8,
     "a check block is opened by ```check NAME"),
    ("```check a\nrole c = h1 > h2:80\nexpect c CLOSED\n```\n\n```check a\n"
     "role c = h1 > h2:80\nexpect c CLOSED\n```\n", 13, "check a is there twice (first at "
     "line 8)"),
    ("```check a\nrole c = h1 > h2:80\nexpect-stayed c TIME-WAIT ten\n```\n", 10,
     "bad duration 'ten'"),
    ("```check a\nrole c = h1 > h2:80\nexpect-command-error in use\n```\n", 10,
     "expect-command-error takes the text of the error in quotes"),
])
def test_a_mistake_in_a_check_names_its_line(body: str, line: int, words: str) -> None:
    errors = errors_of(SETUP + body)
    assert len(errors) == 1
    assert errors[0].startswith(f"s.md:{line}: ")
    assert words in errors[0]


@pytest.mark.parametrize(("setup", "line", "words"), [
    ("topology: pair\nclok: virtual\n", 5, "unknown setting clok: (did you mean 'clock'?)"),
    ("topology: pair\nlisten h2\n", 5, "missing port in 'h2'"),
    ("topology: pair\nclock: sometimes\n", 5, "clock: 'sometimes' is not virtual or real"),
    ("topology: pair\nmsl: -1\n", 5, "msl: must not be negative"),
    ("topology: pair\nmsl: 1\nmsl: 2\n", 6, "msl: given twice"),
    ("topology: nowhere\n", 3, "topology 'nowhere' cannot be loaded"),
    ("topology: pair\nbackend: qemu\n", 5, "backend: 'qemu' is not sim or mininet"),
    ("topology: pair\nbackend: mininet\nstack: h2=bsd\n", 6,
     "stack: 'h2=bsd' is not HOST=linux (like stack: h2=linux)"),
    ("topology: pair\nbackend: mininet\nstack: h9=linux\n", 3,
     "stack: no host 'h9' in the topology (its hosts: h1, h2)"),
    ("topology: pair\nstack: h2=linux\n", 3,
     "stack: Linux's TCP runs only on Mininet (add backend: mininet)"),
])
def test_a_mistake_in_the_setup_names_its_line(setup: str, line: int, words: str) -> None:
    text = f"# T\n\n```lab-setup\n{setup}```\n\n```check a\nrole c = h1 > h2:80\n" \
           f"expect c CLOSED\n```\n"
    errors = errors_of(text)
    assert any(e.startswith(f"s.md:{line}: ") and words in e for e in errors), errors


LINUX_SETUP = ("# T\n\n```lab-setup\ntopology: pair\nbackend: mininet\nstack: h2=linux\n"
               "```\n\n")  # lines 1-8


def test_a_check_can_need_linux_on_a_host_of_the_stack_setting() -> None:
    sheet = parse_sheet(LINUX_SETUP + "```check a\nneeds: h2=linux\nrole c = h1 > h2:80\n"
                        "expect-seen c' SYN-RECEIVED\n```\n\n```check b\n"
                        "role c = h1 > h2:80\nexpect c CLOSED\n```\n", Path("s.md"))
    assert (sheet.setup.backend, sheet.setup.linux) == ("mininet", ("h2",))
    assert [ex.needs for ex in sheet.exercises] == [("h2",), ()]
    assert parse_sheet(SETUP + "```check b\nrole c = h1 > h2:80\nexpect c CLOSED\n```\n",
                       Path("s.md")).setup.backend == "sim"  # the default


@pytest.mark.parametrize(("needs", "words"), [
    ("h1=linux", "needs: h1=linux, but the setup does not run Linux on h1 (add stack: "
                 "h1=linux to the lab-setup)"),
    ("linux", "needs: 'linux' is not HOST=linux"),
])
def test_a_check_needing_linux_elsewhere_is_refused(needs: str, words: str) -> None:
    errors = errors_of(LINUX_SETUP + f"```check a\nneeds: {needs}\nrole c = h1 > h2:80\n"
                       f"expect c CLOSED\n```\n")
    assert len(errors) == 1 and errors[0].startswith("s.md:9: ")  # the check's line
    assert words in errors[0]


def test_every_bad_line_is_reported_at_once() -> None:
    errors = errors_of(SETUP + "```check a\nrole c = h1 > h2:80\nexpect c CLOSNG\n"
                       "expect-seen c FINWAIT\nexpect c CLOSED\n```\n")
    assert [e.split(":")[1] for e in errors] == ["10", "11"]


def test_a_sheet_without_setup_or_exercise_says_so() -> None:
    assert errors_of("# T\n\nprose\n") == [
        "s.md: no lab-setup block (a fenced block whose first line is ```lab-setup)",
        "s.md: no exercise (a fenced block opened by ```check NAME)"]
    assert errors_of(SETUP) == ["s.md: no exercise (a fenced block opened by ```check NAME)"]


def test_an_unclosed_block_is_reported() -> None:
    errors = errors_of(SETUP + "```check a\nrole c = h1 > h2:80\nexpect c CLOSED\n")
    assert "s.md:8: a fenced block is not closed" in errors


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match=r"cannot read .*missing\.md"):
        load_sheet(tmp_path / "missing.md")
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(SheetError, match="is not UTF-8 text"):
        load_sheet(bad)


def test_the_students_sheet_has_no_check_blocks() -> None:
    """What the dashboard shows: the prose and the setup, not the checks' answers."""
    for path in sorted((Path(__file__).resolve().parents[2] / "docs" / "labs").glob("[0-9]*.md")):
        text = path.read_text(encoding="utf-8")
        shown = student_markdown(text)
        sheet = load_sheet(path)
        assert "```check" not in shown and "```lab-setup" in shown, path
        assert "details>" not in shown, path
        # on a web page every check block is folded away (GitHub shows <details> closed)
        assert text.count("<details><summary>") == len(sheet.exercises), path
        assert shown.count("```") == text.count("```") - 2 * len(sheet.exercises), path
        assert all(f"## {ex.title}" in shown for ex in sheet.exercises
                   if f"## {ex.title}" in text), path
    assert student_markdown("a\n\n```check x\nexpect c CLOSED\n```\n\nb\n") == "a\n\nb\n"
    folded = ("a\n\n<details><summary>x</summary>\n\n```check x\nexpect c CLOSED\n```\n\n"
              "</details>\n\nb\n")
    assert student_markdown(folded) == "a\n\nb\n"
