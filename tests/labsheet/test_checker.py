"""The checker over a real run's events: every condition kind, when it holds and when it
does not; roles bound by what a connection is, whatever the student named it; attempts."""

from __future__ import annotations

from typing import Any

import pytest

from tcplab.labsheet.checker import Attempt, Checker, Tick
from tcplab.labsheet.runner import run_solution
from tcplab.labsheet.sheet import Sheet, parse_sheet

SETUP = """# Test

```lab-setup
topology: pair
clock: virtual
msl: 5
link h1 s1 delay=20ms
listen h2:80
```
"""

# A run with something of everything, its connections named unlike any check's roles.
STORY = """
connect h1 h2:80 as web
wait 1
send web "hello"
send web' "world!"
wait 1
drop h1>h2 FIN
close web
wait 2
close web'
wait 12
connect h1 h2:81 as nobody
wait 1
connect h1 h2:80 as gone
wait 1
abort gone
wait 1
connect h1:5000 h2:80 as p
wait 1
close p
wait 100ms
close p'
wait 100ms
connect h1:5000 h2:80 as p2
"""


def sheet_with(*checks: str) -> Sheet:
    blocks = "\n".join(f"```check x{i}\n{body}\n```\n" for i, body in enumerate(checks))
    return parse_sheet(SETUP + blocks, "test.md")


@pytest.fixture(scope="module")
def story() -> list[dict[str, Any]]:
    events, failures = run_solution(sheet_with("role c = h1 > h2:80\nexpect c CLOSED"), STORY)
    assert failures == ["line 24: port 5000 in use on h1"]  # the story's last connect
    return events


def holds(events: list[dict[str, Any]], body: str) -> bool:
    checker = Checker(sheet_with(body))
    checker.feed_all(events)
    return "x0" in checker.done


C = "role c = h1 > h2:80\n"


@pytest.mark.parametrize(("body", "expected"), [
    (C + "expect c TIME-WAIT", True),
    (C + "expect c CLOSING", False),
    (C + "expect-seen c FIN-WAIT-2", True),
    (C + "expect-seen c CLOSING", False),
    (C + "expect-seen c' CLOSE-WAIT", True),
    (C + "expect-seen c CLOSED\nexpect-not-seen c TIME-WAIT", True),       # gone
    (C + "expect-seen c CLOSED\nexpect-not-seen c ESTABLISHED", False),
    (C + "expect-stayed c TIME-WAIT 10", True),
    (C + "expect-stayed c TIME-WAIT 11", False),
    (C + "expect-received c 5", True),
    (C + "expect-received c 6", False),
    (C + "expect-received c' 6", True),
    (C + "expect-received c >=4", True),
    (C + "expect-received c >=7", False),
    (C + 'expect-transition c ESTABLISHED CLOSED "ABORT"', True),
    (C + 'expect-transition c ESTABLISHED CLOSED "rcv RST"', False),
    (C + "expect-transition c' ESTABLISHED CLOSED", True),
    ("role c = h1 > h2:81\nexpect-error c ECONNREFUSED", True),
    ("role c = h1 > h2:81\nexpect-error c ETIMEDOUT", False),
    (C + "expect-error c' ECONNRESET", True),
    ("expect-sent h2 RST", True),
    ("expect-sent h2 RST count>=5", False),
    ("expect-sent h2 RST count<=1", True),
    (C + "expect-sent c RST", True),
    (C + "expect-seen c TIME-WAIT\nexpect-not-sent c RST", True),          # web
    (C + "expect-seen c TIME-WAIT\nexpect-not-sent c FIN", False),
    (C + "expect-sent c DATA count=1\nexpect-received c 5", True),
    (C + "expect-sent c DATA count=2", False),
    (C + "expect-sent c SYN option=wscale window=65535", True),
    (C + "expect-sent c SYN window=1", False),
    (C + "expect-sent c' SYN-ACK option=sackok", True),
    (C + "expect-retransmitted c FIN", True),
    (C + "expect-retransmitted c' FIN", False),
    (C + "expect-retransmitted c DATA", False),
    ("expect-dropped h1>h2 FIN", True),
    ("expect-dropped h2>h1 FIN", False),
    ("expect-dropped h1>h2 FIN count=2", False),
    (C + "expect-timer c time-wait", True),
    (C + "expect-timer c keepalive", False),
    ("expect-timer h1 time-wait count=1", True),    # web's; p's is still running
    ("expect-timer h1 time-wait count>=2", False),
    ('expect-command-error "in use"', True),
    ('expect-command-error "no route"', False),
    ("role l = listener h2:80\nexpect l LISTEN", True),
    ("role l = listener h2:81\nexpect l LISTEN", False),
    ("role a = h1:5000 > h2:80\nexpect a TIME-WAIT", True),
    ("role a = h1:5000 > h2:80\nexpect-seen a' TIME-WAIT", False),
    ("role a = h1:5001 > h2:80\nexpect-seen a ESTABLISHED", False),
])
def test_each_condition_kind(story: list[dict[str, Any]], body: str, expected: bool) -> None:
    assert holds(story, body) is expected


def test_roles_take_any_connection_and_need_distinct_ones(story: list[dict[str, Any]]) -> None:
    # web and gone are two connections from h1 to h2:80: one closed normally, one aborted
    two = "role a = h1 > h2:80\nrole b = h1 > h2:80\nexpect-seen a TIME-WAIT\n" \
          "expect-transition b ESTABLISHED CLOSED \"ABORT\""
    assert holds(story, two)
    # one connection cannot play both roles
    same = "role a = h1 > h2:80\nrole b = h1 > h2:80\nexpect-seen a TIME-WAIT\n" \
           "expect-seen b TIME-WAIT\nexpect-stayed b TIME-WAIT 10\nexpect-error a' ECONNRESET"
    assert not holds(story, same)


def test_after_orders_the_roles(story: list[dict[str, Any]]) -> None:
    later = "role a = h1 > h2:80\nrole b = h1 > h2:80 after a\nexpect-seen a TIME-WAIT\n" \
            "expect-transition b ESTABLISHED CLOSED \"ABORT\""
    assert holds(story, later)
    earlier = "role a = h1 > h2:80\nrole b = h1 > h2:80 after a\n" \
              "expect-transition a ESTABLISHED CLOSED \"ABORT\"\nexpect-retransmitted b FIN"
    assert not holds(story, earlier)  # the FIN was lost before the abort


def test_an_exercise_ticks_once_at_the_moment_it_holds(story: list[dict[str, Any]]) -> None:
    checker = Checker(sheet_with(C + "expect c TIME-WAIT", C + "expect-seen c' CLOSE-WAIT"))
    news = checker.feed_all(story)
    ticks = [n for n in news if isinstance(n, Tick)]
    assert [t.exercise for t in ticks] == ["x1", "x0"]   # CLOSE-WAIT comes before TIME-WAIT
    assert 3.0 < ticks[1].t < 5.0 and checker.done["x0"] == ticks[1].t
    assert checker.missing("x0") == ""


def test_missing_names_the_condition_and_what_was_found(story: list[dict[str, Any]]) -> None:
    checker = Checker(sheet_with(C + "expect-seen c TIME-WAIT\nexpect-seen c CLOSING",
                                 "role c = h1 > h2:99\nexpect c ESTABLISHED"))
    checker.feed_all(story)
    assert checker.missing("x0").startswith(
        "expect-seen c CLOSING: c never was CLOSING: SYN-SENT -> ESTABLISHED -> ")
    assert checker.missing("x1") == "no connection from h1 to h2:99 was seen (role c)"


def test_a_failed_attempt_is_reported_when_its_command_is_over() -> None:
    sheet = sheet_with(C + "expect-seen c CLOSING\nexpect-seen c' CLOSING")
    events, _ = run_solution(sheet, "connect h1 h2:80 as c1\nwait 1\nclose c1\nwait 100ms\n"
                                    "close c1'\nwait 100ms\nwait 11\n")
    checker = Checker(sheet)
    news = checker.feed_all(events)
    attempts = [n for n in news if isinstance(n, Attempt)]
    assert len(attempts) == 1
    attempt = attempts[0]
    assert attempt.exercise == "x0" and attempt.who.startswith("c1 (h1:")
    assert attempt.missing.startswith("expect-seen c CLOSING: c never was CLOSING")
    assert "x0" not in checker.done


def test_a_second_attempt_that_works_ticks() -> None:
    sheet = sheet_with(C + "expect-seen c CLOSING\nexpect-seen c' CLOSING")
    script = ("connect h1 h2:80 as first\nwait 1\nclose first\nwait 1\nclose first'\nwait 11\n"
              "connect h1 h2:80 as second\nwait 1\nhold h1>h2 FIN\nhold h2>h1 FIN\n"
              "close second\nclose second'\nwait 100ms\nrelease all\nwait 1\n")
    events, failures = run_solution(sheet, script)
    assert failures == []
    checker = Checker(sheet)
    news = checker.feed_all(events)
    assert [type(n).__name__ for n in news] == ["Attempt", "Tick"]


def test_connections_of_an_earlier_exercise_are_no_attempts_at_the_next() -> None:
    sheet = sheet_with(C + "expect-seen c ESTABLISHED", C + "expect-seen c CLOSING")
    events, _ = run_solution(sheet, "connect h1 h2:80 as c1\nwait 1\nclose c1\nwait 1\n"
                                    "close c1'\nwait 11\n")
    checker = Checker(sheet)
    news = checker.feed_all(events)
    assert [type(n).__name__ for n in news] == ["Tick"]  # c1 was made for x0
