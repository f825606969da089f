"""The checker over a real run's events: every condition kind, when it holds and when it
does not; roles bound by what a connection is, whatever the student named it; attempts."""

from __future__ import annotations

import re
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


def test_missing_names_the_connection_it_judged(story: list[dict[str, Any]]) -> None:
    """The closest binding may be another connection than the one the student meant
    (here the aborted one): the failure says which, by the student's name and ports."""
    checker = Checker(sheet_with(C + "expect-transition c ESTABLISHED CLOSED\n"
                                     "expect-seen c CLOSING",
                                 "role a = h1 > h2:80\nrole b = h1 > h2:80 after a\n"
                                 "expect-seen a TIME-WAIT\nexpect-seen b CLOSING"))
    checker.feed_all(story)
    assert re.fullmatch(r"expect-seen c CLOSING: c never was CLOSING: .*"
                        r" \(c was gone \(h1:\d+>h2:80\)\)", checker.missing("x0"))
    assert re.search(r"\(a was web \(h1:\d+>h2:80\), b was \w+ \(h1:\d+>h2:80\)\)$",
                     checker.missing("x1"))


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


LINUX_SHEET = """# Test

```lab-setup
topology: pair
backend: mininet
stack: h2=linux
```

```check linux
needs: h2=linux
role c = h1 > h2:80
expect-transition c' LISTEN SYN-RECEIVED "linux"
expect-sent c' SYN-ACK option=wscale
```
"""
H1, H2 = ["10.0.0.1", 40000], ["10.0.0.2", 80]


def kernel_run(h2_kernel: bool) -> list[dict[str, Any]]:
    """The events of a handshake with Linux on h2, as a Mininet run records them: Linux
    answers the SYN from a request socket, so its SYN-ACK comes before the socket's first
    state change; its TCP_INFO samples have no sequence numbers (0)."""
    def state(t: float, host: str, sid: int, local: list[Any], remote: list[Any] | None,
              old: str, new: str, cause: str) -> dict[str, Any]:
        return {"kind": "state.changed", "t": t, "host": host, "sid": sid, "local": local,
                "remote": remote, "old": old, "new": new, "cause": cause}

    syn_ack = {"seq": 7, "ack": 1001, "flags": "S.", "window": 43440, "len": 0,
               "options": ["mss 1460", "sackOK", "TS val 1 ecr 2", "nop", "wscale 9"]}
    return [
        {"kind": "header", "hosts": [{"name": "h1", "ip": H1[0], "kernel": False},
                                     {"name": "h2", "ip": H2[0], "kernel": h2_kernel}]},
        state(0.1, "h2", 1, ["0.0.0.0", 80], None, "CLOSED", "LISTEN", "linux"),
        state(0.2, "h1", 1, H1, H2, "CLOSED", "SYN-SENT", "active OPEN"),
        {"kind": "segment.sent", "t": 0.22, "host": "h2", "sid": 2, "src": H2, "dst": H1,
         "segment": syn_ack},
        state(0.24, "h1", 1, H1, H2, "SYN-SENT", "ESTABLISHED", "rcv SYN,ACK"),
        {"kind": "tcb.sample", "t": 0.24, "host": "h1", "sid": 1, "iss": 1000, "irs": 6},
        state(0.26, "h2", 2, H2, H1, "LISTEN", "SYN-RECEIVED", "linux"),
        state(0.26, "h2", 2, H2, H1, "SYN-RECEIVED", "ESTABLISHED", "linux"),
        {"kind": "tcb.sample", "t": 0.3, "host": "h2", "sid": 2, "iss": 0, "irs": 0},
    ]


def test_a_check_about_linux_reads_a_kernel_hosts_events() -> None:
    checker = Checker(parse_sheet(LINUX_SHEET, "t.md"))
    checker.feed_all(kernel_run(h2_kernel=True))
    assert "linux" in checker.done
    tracker = checker.tracker
    linux_end = tracker.socks[("h2", 2)]
    assert linux_end.iss is None   # a kernel host's 0: not known yet, no sequence number
    assert tracker.peer(linux_end) is tracker.socks[("h1", 1)]


def test_a_check_about_linux_never_ticks_on_tcplabs_tcp() -> None:
    checker = Checker(parse_sheet(LINUX_SHEET, "t.md"))
    checker.feed_all(kernel_run(h2_kernel=False))   # the same moves, but h2 ran tcplab
    assert checker.done == {}
    assert checker.current() is None
    assert checker.missing("linux") == ("needs Linux's TCP on h2, which ran tcplab's TCP in "
                                        "this run (do it in a lab on Mininet, as root)")
