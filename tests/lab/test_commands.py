"""The command language: every form parses, renders back, and every mistake is named."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcplab.lab import units
from tcplab.lab.commands import (
    COMMAND_NAMES,
    HELP,
    TCP_FEATURES,
    USAGE,
    Abort,
    Break,
    BreakOn,
    Breaks,
    Close,
    Command,
    CommandError,
    Connect,
    ConnName,
    ConnTuple,
    Drop,
    Endpoint,
    Expect,
    ExpectReceived,
    ExpectSeen,
    Flow,
    Hold,
    Link,
    Listen,
    Pause,
    Release,
    Restart,
    Resume,
    Rewind,
    SegmentKind,
    SendBytes,
    SendFile,
    SendText,
    Shutdown,
    Step,
    Tcp,
    Unbreak,
    Wait,
    parse_line,
    parse_script,
)
from tcplab.tcp.segment import ACK, FIN, PSH, RST, SYN
from tcplab.tcp.states import State

C1 = ConnName("c1")

FORMS: list[tuple[str, Command, str]] = [
    ("listen h2:80", Listen(Endpoint("h2", 80)), "listen h2:80"),
    ("listen 10.0.0.2:8080", Listen(Endpoint("10.0.0.2", 8080)), "listen 10.0.0.2:8080"),
    ("connect h1 h2:80", Connect("h1", None, Endpoint("h2", 80)), "connect h1 h2:80"),
    ("connect h1:5000 h2:80 as c1", Connect("h1", 5000, Endpoint("h2", 80), "c1"),
     "connect h1:5000 h2:80 as c1"),
    ("listen h2:80 SACK=off ts=off", Listen(Endpoint("h2", 80), (("sack", False),
                                                                 ("timestamps", False))),
     "listen h2:80 sack=off timestamps=off"),
    ("connect h1 h2:80 as c1 nagle=off wscale=off",
     Connect("h1", None, Endpoint("h2", 80), "c1", (("wscale", False), ("nagle", False))),
     "connect h1 h2:80 as c1 wscale=off nagle=off"),
    ("tcp h1 sack=on", Tcp("h1", (("sack", True),)), "tcp h1 sack=on"),
    ("tcp h2 read=on nagle=off", Tcp("h2", (("nagle", False), ("read", True))),
     "tcp h2 nagle=off read=on"),
    ("listen h2:80 read=off", Listen(Endpoint("h2", 80), (("read", False),)),
     "listen h2:80 read=off"),
    ("link h1 s1 burst=1%,25%", Link("h1", "s1", burst=(0.01, 0.25)),
     "link h1 s1 burst=1%,25%"),
    ('send c1 "hi\\n\\t\\\\\\"\\x00\\xff"', SendText(C1, b'hi\n\t\\"\x00\xff'),
     'send c1 "hi\\n\\t\\\\\\"\\x00\\xff"'),
    ("send c1 hello", SendText(C1, b"hello"), 'send c1 "hello"'),
    ('send c1 "héllo"', SendText(C1, "héllo".encode()), 'send c1 "h\\xc3\\xa9llo"'),
    ("send c1' --bytes 100000", SendBytes(ConnName("c1", True), 100000),
     "send c1' --bytes 100000"),
    ('send c1 --file "/tmp/a b.bin"', SendFile(C1, "/tmp/a b.bin"),
     'send c1 --file "/tmp/a b.bin"'),
    ("send c1 --file data.bin", SendFile(C1, "data.bin"), 'send c1 --file "data.bin"'),
    ("shutdown c1", Shutdown(C1), "shutdown c1"),
    ("close h1:40000>h2:80", Close(ConnTuple(Endpoint("h1", 40000), Endpoint("h2", 80))),
     "close h1:40000>h2:80"),
    ("abort c1'", Abort(ConnName("c1", True)), "abort c1'"),
    ("link h1 s1 loss=5% delay=20ms jitter=5ms bw=10mbit",
     Link("h1", "s1", loss=0.05, delay=0.02, jitter=0.005, bw=10e6),
     "link h1 s1 loss=5% delay=20ms jitter=5ms bw=10mbit"),
    ("link h1 s1 loss=5 delay=20 bw=10", Link("h1", "s1", loss=0.05, delay=0.02, bw=10e6),
     "link h1 s1 loss=5% delay=20ms bw=10mbit"),
    ("link h1 s1 delay=0.02s jitter=20000us bw=10Mbps",
     Link("h1", "s1", delay=0.02, jitter=0.02, bw=10e6),
     "link h1 s1 delay=20ms jitter=20ms bw=10mbit"),
    ("link s1 s2 bw=500kbit", Link("s1", "s2", bw=500e3), "link s1 s2 bw=500kbit"),
    ("link s1 s2 bw=1gbit", Link("s1", "s2", bw=1e9), "link s1 s2 bw=1gbit"),
    ("link h1 s1 loss=0 bw=unlimited", Link("h1", "s1", loss=0.0, bw=0.0),
     "link h1 s1 loss=0% bw=unlimited"),
    ("link h1 s1 dup=1% reorder=2% queue=100", Link("h1", "s1", dup=0.01, reorder=0.02,
                                                    queue=100),
     "link h1 s1 dup=1% reorder=2% queue=100"),
    ("link h1 s1 down", Link("h1", "s1", up=False), "link h1 s1 down"),
    ("link h1 s1 UP dir=s1>h1", Link("h1", "s1", up=True, direction=Flow("s1", "h1")),
     "link h1 s1 up dir=s1>h1"),
    ("link h1 s1 loss=10% dir=h1>s1", Link("h1", "s1", loss=0.1, direction=Flow("h1", "s1")),
     "link h1 s1 loss=10% dir=h1>s1"),
    ("wait 0.5", Wait(0.5), "wait 0.5"),
    ("wait 500ms", Wait(0.5), "wait 0.5"),
    ("wait 2", Wait(2.0), "wait 2"),
    ("expect c1 TIME-WAIT", Expect(C1, State.TIME_WAIT), "expect c1 TIME-WAIT"),
    ("expect c1 time_wait", Expect(C1, State.TIME_WAIT), "expect c1 TIME-WAIT"),
    ("expect-seen c1' closing", ExpectSeen(ConnName("c1", True), State.CLOSING),
     "expect-seen c1' CLOSING"),
    ("expect-received c1 100000", ExpectReceived(C1, 100000), "expect-received c1 100000"),
    ("hold h1>h2 FIN", Hold(Flow("h1", "h2"), SegmentKind.FIN), "hold h1>h2 FIN"),
    ("hold h2>h1 syn_ack count=2", Hold(Flow("h2", "h1"), SegmentKind.SYN_ACK, 2),
     "hold h2>h1 SYN-ACK count=2"),
    ("hold 10.0.0.1>10.0.0.2 any", Hold(Flow("10.0.0.1", "10.0.0.2"), SegmentKind.ANY),
     "hold 10.0.0.1>10.0.0.2 ANY"),
    ("release h1>h2", Release(Flow("h1", "h2")), "release h1>h2"),
    ("release all", Release(None), "release all"),
    ("drop h1>h2 FIN", Drop(Flow("h1", "h2"), SegmentKind.FIN, 1), "drop h1>h2 FIN count=1"),
    ("drop h2>h1 ACK count=3", Drop(Flow("h2", "h1"), SegmentKind.ACK, 3),
     "drop h2>h1 ACK count=3"),
    ("drop h1>h2 SYN,ACK", Drop(Flow("h1", "h2"), SegmentKind.SYN_ACK),
     "drop h1>h2 SYN-ACK count=1"),
    ("pause", Pause(), "pause"),
    ("RESUME", Resume(), "resume"),
    ("restart h2", Restart("h2"), "restart h2"),
    ("RESTART 10.0.0.2", Restart("10.0.0.2"), "restart 10.0.0.2"),
    ("step", Step(), "step"),
    ("STEP 5", Step(count=5), "step 5"),
    ("step 100ms", Step(seconds=0.1), "step 100ms"),
    ("step 1.5s", Step(seconds=1.5), "step 1.5s"),
    ("break c1 closing", Break(BreakOn.STATE, C1, State.CLOSING), "break c1 CLOSING"),
    ("break c1' TIME_WAIT", Break(BreakOn.STATE, ConnName("c1", True), State.TIME_WAIT),
     "break c1' TIME-WAIT"),
    ("break h1:5000>h2:80 FIN-WAIT-2",
     Break(BreakOn.STATE, ConnTuple(Endpoint("h1", 5000), Endpoint("h2", 80)),
           State.FIN_WAIT_2), "break h1:5000>h2:80 FIN-WAIT-2"),
    ("break ANY time-wait", Break(BreakOn.STATE, None, State.TIME_WAIT),
     "break any TIME-WAIT"),
    ("break send fin", Break(BreakOn.SEND, kind=SegmentKind.FIN), "break send FIN"),
    ("break send SYN,ACK", Break(BreakOn.SEND, kind=SegmentKind.SYN_ACK),
     "break send SYN-ACK"),
    ("break drop", Break(BreakOn.DROP), "break drop"),
    ("breaks", Breaks(), "breaks"),
    ("unbreak 2", Unbreak(2), "unbreak 2"),
    ("unbreak ALL", Unbreak(None), "unbreak all"),
    ("rewind 2.5", Rewind(2.5), "rewind 2.5"),
    ("rewind 500ms", Rewind(0.5), "rewind 0.5"),
    ("  listen h2:80   # a comment", Listen(Endpoint("h2", 80)), "listen h2:80"),
    ('send c1 "a # not a comment"', SendText(C1, b"a # not a comment"),
     'send c1 "a # not a comment"'),
]


@pytest.mark.parametrize(("line", "command", "canonical"), FORMS)
def test_every_form_parses_and_renders_canonically(line: str, command: Command,
                                                   canonical: str) -> None:
    assert parse_line(line) == command
    assert command.to_line() == canonical
    assert parse_line(canonical) == command


def test_every_command_word_has_a_form_and_help() -> None:
    assert {command.name for _, command, _ in FORMS} == set(COMMAND_NAMES)
    assert list(HELP) == list(COMMAND_NAMES)
    for name, text in HELP.items():
        assert text.startswith(name) and " -- " in text and "\n" not in text


@pytest.mark.parametrize("line", ["", "   ", "# comment", "   # indented comment"])
def test_blank_and_comment_lines_are_nothing(line: str) -> None:
    assert parse_line(line) is None


TCP_USAGE = ("[sack=off] [timestamps=off] [wscale=off] [nagle=off] [keepalive=on] [rack=off] "
             "[syncookies=off] [read=off]")
LISTEN_USAGE = f"listen HOST:PORT {TCP_USAGE}"
CONNECT_USAGE = f"connect HOST[:PORT] HOST:PORT [as NAME] {TCP_USAGE}"
HOST_USAGE = ("tcp HOST [sack=on|off] [timestamps=on|off] [wscale=on|off] [nagle=on|off] "
              "[keepalive=on|off] [rack=on|off] [syncookies=on|off] [read=on|off]")


def test_usage_shows_every_switch() -> None:
    """listen, connect and tcp name every switch there is; send names --urgent."""
    assert USAGE["listen"] == LISTEN_USAGE
    assert USAGE["connect"] == CONNECT_USAGE
    assert USAGE["tcp"] == HOST_USAGE
    for word in ("listen", "connect", "tcp"):
        assert all(f"[{key}=" in USAGE[word] for key in TCP_FEATURES), word
    assert USAGE["send"] == ('send CONN [--urgent] "text" | send CONN --bytes N '
                             '| send CONN --file PATH')

ERRORS = [
    ("conect h1 h2:80", "unknown command 'conect' (did you mean 'connect'?)"),
    ("frobnicate", "unknown command 'frobnicate'"),
    ("listen h2", "missing port in 'h2'"),
    ("listen h2:", "missing port in 'h2:'"),
    ("listen :80", "missing host in ':80'"),
    ("listen h1::80", "unknown host syntax 'h1::80' (expected HOST:PORT like h2:80)"),
    ("listen h2:70000", "port 70000 out of range 1..65535"),
    ("listen h2:0", "port 0 out of range 1..65535"),
    ("listen h2:http", "bad port 'http' in 'h2:http' (expected a number 1..65535)"),
    ("listen 10.0.0.300:80", "bad IPv4 address '10.0.0.300'"),
    ("listen h!:80", "bad host 'h!' (expected a name like h1 or an IPv4 address)"),
    ("listen", f"listen needs HOST:PORT (usage: {LISTEN_USAGE})"),
    ("listen h2:80 h3:80", f"unexpected 'h3:80' after listen (usage: {LISTEN_USAGE})"),
    ("connect h1 h2:80 as", f"connect needs a NAME after 'as' (usage: {CONNECT_USAGE})"),
    ("connect h1 h2:80 as 9x", "bad connection name '9x' (names start with a letter, "
                               "then letters, digits, _ or -)"),
    ("connect h1 h2:80 c1", f"unexpected 'c1' after connect (usage: {CONNECT_USAGE})"),
    ("send c1", 'send needs "text", --bytes N or --file PATH (usage: send CONN [--urgent] '
                '"text" | send CONN --bytes N | send CONN --file PATH)'),
    ('send c1 ""', "nothing to send: the text is empty"),
    ('send c1 "abc', 'unterminated string: missing closing "'),
    ('send c1 "a\\qb"', "bad escape '\\\\q' in string (use \\n \\t \\\\ \\\" or \\xNN)"),
    ('send c1 "\\xZZ"', "bad escape '\\\\xZZ' in string (use \\n \\t \\\\ \\\" or \\xNN)"),
    ('send c1 a"b', "stray quote in 'a\"b' (strings start with a quote)"),
    ('send c1 "a"b', "text right after a closing quote: 'b'"),
    ("send c1 --byte 5", "unknown option '--byte' (did you mean '--bytes'?)"),
    ("send c1 --bytes 0", "bad value for --bytes: '0' (must be at least 1)"),
    ("send c1 --bytes 1e5", "bad value for --bytes: '1e5' (expected a whole number like 100)"),
    ("close c1''", "bad connection \"c1''\" (expected a name like c1, c1' or h1:40000>h2:80)"),
    ("close h1:1>h2", "missing port in 'h2'"),
    ("close h1:1>", "bad connection 'h1:1>' (expected HOST:PORT>HOST:PORT)"),
    ("link h1 s1", "link h1 s1 needs at least one of loss=, delay=, jitter=, bw=, dup=, "
                   "reorder=, burst=, queue=, up, down"),
    ("link h1 h1 up", "a link joins two different nodes, not h1 and h1"),
    ("link h1", "link needs two nodes (usage: link A B [loss=5%] [delay=20ms] [jitter=5ms] "
                "[bw=10mbit] [dup=1%] [reorder=2%] [burst=P%,R%] [queue=100] [up|down] [dir=A>B])"),
    ("link h1 s1 loss=5x", "bad value for loss: '5x' (expected a percentage like 5%)"),
    ("link h1 s1 loss=150%", "bad value for loss: '150%' "
                             "(a percentage must be between 0% and 100%)"),
    ("link h1 s1 loss=-1", "bad value for loss: '-1' (expected a percentage like 5%)"),
    ("link h1 s1 delay=5h", "bad value for delay: '5h' (expected a duration like 20ms, 0.5s "
                            "or 200us (bare numbers are ms))"),
    ("link h1 s1 bw=fast", "bad value for bw: 'fast' (expected a bandwidth like 10mbit or "
                           "500kbit, or unlimited (bare numbers are mbit))"),
    ("link h1 s1 bw=0", "bad value for bw: '0' (0 would carry nothing: write bw=unlimited "
                        "for no limit)"),
    ("link h1 s1 bw=1bit", "bad value for bw: '1bit' (1 bit/s is below 1 kbit/s, the smallest "
                           "bandwidth; write bw=unlimited for no limit)"),
    ("link h1 s1 delay=100000s", "bad value for delay: '100000s' (100000s is over 60s, "
                                 "the longest)"),
    ("link h1 s1 jitter=60001ms", "bad value for jitter: '60001ms' (60.001s is over 60s, "
                                  "the longest)"),
    ("link h1 s1 queue=0", "bad value for queue: '0' (must be at least 1)"),
    ("link h1 s1 queue=1.5", "bad value for queue: '1.5' (expected a whole number like 100)"),
    ("link h1 s1 los=5", "unknown link parameter 'los=5' (did you mean 'loss'?)"),
    ("link h1 s1 sideways", "unknown link parameter 'sideways'"),
    ("link h1 s1 loss 5% delay 5ms", "loss takes its value after '=', as in loss=5%"),
    ("link h1 s1 loss=1 loss=2", "loss given twice"),
    ("link h1 s1 up down", "up/down given twice"),
    ("step 0", "bad value for step: '0' (must be at least 1)"),
    ("step 1.5", "bad value for step: '1.5' (a number of events like 5, or a duration with "
                 "its unit like 100ms or 1.5s)"),
    ("step 0ms", "bad value for step: '0ms' (a duration above 0)"),
    ("step 2 3", "unexpected '3' after step (usage: step | step N | step 100ms)"),
    ("break c1", "break needs a STATE (usage: break CONN STATE | break any STATE | "
                 "break send KIND | break drop)"),
    ("break send", "break needs a segment KIND (usage: break CONN STATE | break any STATE | "
                   "break send KIND | break drop)"),
    ("break send FINN", "unknown segment kind 'FINN' (did you mean 'FIN'?)"),
    ("break c1 CLOSED-ISH", "unknown state 'CLOSED-ISH' (did you mean 'CLOSED'?)"),
    ("break drop now", "unexpected 'now' after break (usage: break CONN STATE | "
                       "break any STATE | break send KIND | break drop)"),
    ("unbreak 0", "bad value for unbreak: '0' (must be at least 1)"),
    ("unbreak some", "bad value for unbreak: 'some' (expected a whole number like 100)"),
    ("rewind", "rewind needs a time (usage: rewind SECONDS (or rewind 500ms))"),
    ("rewind soon", "bad value for rewind: 'soon' (expected a duration like 20ms, 0.5s or "
                    "200us (bare numbers are s))"),
    ("link h1 s1 dir=h1>s2 loss=1", "dir=h1>s2 is not a direction of link h1 s1 "
                                    "(use h1>s1 or s1>h1)"),
    ("link h1 s1 dir=h1>s1", "dir= says which direction to change, but nothing is changed"),
    ("wait soon", "bad value for wait: 'soon' (expected a duration like 20ms, 0.5s or 200us "
                  "(bare numbers are s))"),
    ("wait -1", "bad value for wait: '-1' (expected a duration like 20ms, 0.5s or 200us "
                "(bare numbers are s))"),
    ("expect c1 TIMEWAIT", "unknown state 'TIMEWAIT' (did you mean 'TIME-WAIT'?)"),
    ("expect c1 OPEN", "unknown state 'OPEN' (one of CLOSED, LISTEN, SYN-SENT, SYN-RECEIVED, "
                       "ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, "
                       "TIME-WAIT)"),
    ("expect c1", "expect needs a STATE (usage: expect CONN STATE)"),
    ("expect-received c1 lots", "bad value for expect-received: 'lots' "
                                "(expected a whole number like 100)"),
    ("hold h1>h2 FINN", "unknown segment kind 'FINN' (did you mean 'FIN'?)"),
    ("hold h1 FIN", "bad direction 'h1' (expected SRC>DST like h1>h2)"),
    ("hold h1>h2>h3 FIN", "bad direction 'h1>h2>h3' (expected SRC>DST like h1>h2)"),
    ("hold h1>h2 FIN count=0", "bad value for count: '0' (must be at least 1)"),
    ("hold h1>h2 FIN times=2", "unexpected 'times=2' after hold "
                               "(usage: hold SRC>DST KIND [count=N])"),
    ("drop h1>h2", "drop needs a segment KIND (usage: drop SRC>DST KIND [count=N])"),
    ("release", "release needs SRC>DST or all (usage: release SRC>DST | release all)"),
    ("pause now", "unexpected 'now' after pause (usage: pause)"),
    ("restart", "restart needs a HOST (usage: restart HOST)"),
    ("restart h1 h2", "unexpected 'h2' after restart (usage: restart HOST)"),
    ("restart h1:80", "bad host 'h1:80' (expected a name like h1 or an IPv4 address)"),
]


@pytest.mark.parametrize(("line", "reason"), ERRORS)
def test_errors_name_the_reason(line: str, reason: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_line(line, 3)
    assert caught.value.reason == reason
    assert caught.value.line_no == 3
    assert str(caught.value) == f"line 3: {reason}"


@pytest.mark.parametrize("key", list(units.LINK_PARAMS))
def test_a_link_parameter_without_equals_is_shown_its_example_and_the_example_reads(
        key: str) -> None:
    example = units.LINK_PARAMS[key].example
    with pytest.raises(CommandError) as caught:
        parse_line(f"link h1 s1 {key} {example}")
    assert caught.value.reason == f"{key} takes its value after '=', as in {key}={example}"
    assert parse_line(f"link h1 s1 {key}={example}").to_line().startswith("link h1 s1 ")


def test_error_without_line_number_is_just_the_reason() -> None:
    with pytest.raises(CommandError) as caught:
        parse_line("listen h1::80")
    assert str(caught.value) == "unknown host syntax 'h1::80' (expected HOST:PORT like h2:80)"
    assert caught.value.line_no is None
    assert isinstance(caught.value, ValueError)


def test_parse_script_numbers_lines_and_skips_comments() -> None:
    script = "# handshake\nlisten h2:80\n\nconnect h1 h2:80 as c1  # go\nwait 1\n"
    assert parse_script(script) == [
        (2, Listen(Endpoint("h2", 80))),
        (4, Connect("h1", None, Endpoint("h2", 80), "c1")),
        (5, Wait(1.0)),
    ]


def test_parse_script_reports_every_bad_line_at_once() -> None:
    script = "listen h2:80\nconect h1 h2:80\nwait 1\nexpect c1 OPEN-ISH\n"
    with pytest.raises(CommandError) as caught:
        parse_script(script)
    error = caught.value
    assert [e.line_no for e in error.errors] == [2, 4]
    assert error.line_no == 2
    assert error.reason == "unknown command 'conect' (did you mean 'connect'?)"
    lines = str(error).splitlines()
    assert len(lines) == 2
    assert lines[0] == "line 2: unknown command 'conect' (did you mean 'connect'?)"
    assert lines[1].startswith("line 4: unknown state 'OPEN-ISH'")


def test_parse_script_single_error_is_that_error() -> None:
    with pytest.raises(CommandError) as caught:
        parse_script("pause\nwait x\n")
    assert str(caught.value).startswith("line 2: bad value for wait: 'x'")
    assert caught.value.errors == (caught.value,)


@pytest.mark.parametrize(("kind", "flags", "length", "expected"), [
    (SegmentKind.SYN, SYN, 0, True),
    (SegmentKind.SYN, SYN | ACK, 0, False),
    (SegmentKind.SYN_ACK, SYN | ACK, 0, True),
    (SegmentKind.SYN_ACK, SYN, 0, False),
    (SegmentKind.ACK, ACK, 0, True),
    (SegmentKind.ACK, ACK | PSH, 10, False),
    (SegmentKind.ACK, FIN | ACK, 0, False),
    (SegmentKind.FIN, FIN | ACK, 0, True),
    (SegmentKind.FIN, FIN | ACK | PSH, 5, True),
    (SegmentKind.FIN, ACK, 0, False),
    (SegmentKind.RST, RST | ACK, 0, True),
    (SegmentKind.RST, ACK, 0, False),
    (SegmentKind.DATA, ACK | PSH, 1, True),
    (SegmentKind.DATA, FIN | ACK, 0, False),
    (SegmentKind.ANY, RST, 0, True),
])
def test_segment_kinds_match(kind: SegmentKind, flags: int, length: int,
                             expected: bool) -> None:
    assert kind.matches(flags, length) is expected


# ------------------------------------------------------------------ round trip, generated

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,7}", fullmatch=True)
ips = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
hosts = st.one_of(names, ips)
endpoints = st.builds(Endpoint, hosts, st.integers(1, 65535))
conns = st.one_of(st.builds(ConnName, names, st.booleans()),
                  st.builds(ConnTuple, endpoints, endpoints))
flows = st.builds(Flow, hosts, hosts)
fractions = st.floats(0, 1, allow_nan=False)
seconds = st.floats(0, 1e6, allow_nan=False)
counts = st.integers(1, 10**12)
positive_seconds = st.floats(0, 1e6, allow_nan=False, exclude_min=True)


@st.composite
def links(draw: st.DrawFn) -> Link:
    a, b = draw(st.lists(names, min_size=2, max_size=2, unique=True))
    loss, dup, reorder = (draw(st.none() | fractions) for _ in range(3))
    # a link's limits (units.MIN_BANDWIDTH, MAX_DELAY); bw 0 is "unlimited"
    delay, jitter = (draw(st.none() | st.floats(0, 60, allow_nan=False)) for _ in range(2))
    bw = draw(st.none() | st.just(0.0) | st.floats(1000, 1e12))
    queue = draw(st.none() | st.integers(1, 10**6))
    up = draw(st.none() | st.booleans())
    if (loss, dup, reorder, delay, jitter, bw, queue, up) == (None,) * 8:
        up = True  # a link command changes something
    direction = draw(st.sampled_from([None, Flow(a, b), Flow(b, a)]))
    return Link(a, b, loss=loss, delay=delay, jitter=jitter, bw=bw, dup=dup, reorder=reorder,
                queue=queue, up=up, direction=direction)


commands = st.one_of(
    st.builds(Listen, endpoints),
    st.builds(Connect, hosts, st.none() | st.integers(1, 65535), endpoints, st.none() | names),
    st.builds(SendText, conns, st.binary(min_size=1)),
    st.builds(SendBytes, conns, counts),
    st.builds(SendFile, conns, st.binary(min_size=1).map(os.fsdecode)),
    st.builds(Shutdown, conns), st.builds(Close, conns), st.builds(Abort, conns),
    links(),
    st.builds(Wait, seconds),
    st.builds(Expect, conns, st.sampled_from(State)),
    st.builds(ExpectSeen, conns, st.sampled_from(State)),
    st.builds(ExpectReceived, conns, st.integers(0, 10**12)),
    st.builds(Hold, flows, st.sampled_from(SegmentKind), st.none() | counts),
    st.builds(Release, st.none() | flows),
    st.builds(Drop, flows, st.sampled_from(SegmentKind), counts),
    st.just(Pause()), st.just(Resume()), st.builds(Restart, hosts),
    st.builds(Step, st.none() | counts), st.builds(Step, st.none(), positive_seconds),
    # any/send/drop in the first place are keywords: such a connection needs its four-tuple
    st.builds(Break, st.just(BreakOn.STATE), st.none() | conns.filter(
        lambda c: str(c).rstrip("'").lower() not in ("any", "send", "drop")),
        st.sampled_from(State)),
    st.builds(Break, st.just(BreakOn.SEND), kind=st.sampled_from(SegmentKind)),
    st.just(Break(BreakOn.DROP)), st.just(Breaks()), st.builds(Unbreak, st.none() | counts),
    st.builds(Rewind, seconds),
)


@given(commands)
def test_to_line_round_trips(command: Command) -> None:
    line = command.to_line()
    assert "\n" not in line
    assert parse_line(line) == command


# --------------------------------------------------------------------------------- units

@given(fractions)
def test_percent_round_trips(value: float) -> None:
    assert units.parse_percent(units.format_percent(value)) == value


@given(seconds)
def test_duration_round_trips(value: float) -> None:
    assert units.parse_duration(units.format_duration(value)) == value


@given(st.floats(0, 1e15))
def test_bandwidth_round_trips(value: float) -> None:
    assert units.parse_bandwidth(units.format_bandwidth(value)) == value


@pytest.mark.parametrize(("text", "bare", "seconds"), [
    ("20ms", "ms", 0.02), ("0.02s", "ms", 0.02), ("20000us", "ms", 0.02), ("20", "ms", 0.02),
    ("20", "us", 0.00002), ("1.5", "s", 1.5), ("10msec", "us", 0.01), (".5s", "ms", 0.5),
])
def test_durations(text: str, bare: str, seconds: float) -> None:
    assert units.parse_duration(text, bare) == seconds


@pytest.mark.parametrize(("text", "bits"), [
    ("10mbit", 10e6), ("500kbit", 500e3), ("1gbit", 1e9), ("10Mbps", 10e6), ("10", 10e6),
    ("0.5", 500e3), ("64bit", 64.0), ("0", 0.0),
])
def test_bandwidths(text: str, bits: float) -> None:
    assert units.parse_bandwidth(text) == bits


def test_formats_pick_readable_units() -> None:
    assert units.format_duration(0.02) == "20ms"
    assert units.format_duration(1.5) == "1.5s"
    assert units.format_duration(0.00025) == "250us"
    assert units.format_duration(0.0) == "0"
    assert units.format_bandwidth(1.5e6) == "1.5mbit"
    assert units.format_percent(0.07) == "7%"
    with pytest.raises(ValueError, match="non-negative"):
        units.format_number(-1.0)
