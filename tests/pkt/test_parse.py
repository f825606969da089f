"""The script parser: times, packets, options, syscalls and its two error kinds."""

from __future__ import annotations

import pytest

from tcplab.pkt.parse import (
    Array,
    Call,
    Event,
    Name,
    Or,
    Packet,
    ScriptError,
    Str,
    Struct,
    Syscall,
    Time,
    Unsupported,
    parse_event,
    parse_options,
    parse_text,
)
from tcplab.tcp import segment as sg


def event(line: str) -> Event:
    return parse_event(line, 1)


@pytest.mark.parametrize(("text", "time"), [
    ("0 close(3) = 0", Time(False, 0.0)),
    ("1.5 close(3) = 0", Time(False, 1.5)),
    ("+.1 close(3) = 0", Time(True, 0.1)),
    ("+0 close(3) = 0", Time(True, 0.0)),
    ("0.100...0.200 close(3) = 0", Time(False, 0.1, 0.2)),
    ("+0...+0.25 close(3) = 0", Time(True, 0.0, 0.25)),
    ("+0...0.25 close(3) = 0", Time(True, 0.0, 0.25)),
])
def test_times(text: str, time: Time) -> None:
    assert event(text).time == time


@pytest.mark.parametrize("text", ["x close(3) = 0", "0.2...0.1 close(3) = 0", "0",
                                  "0...+1 close(3) = 0"])
def test_bad_times(text: str) -> None:
    with pytest.raises(ScriptError):
        event(text)


def test_inbound_packet_with_options() -> None:
    pkt = event("+0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 7 ecr 0,nop,wscale 7>")
    assert isinstance(pkt, Packet)
    assert pkt.inbound and pkt.flags == sg.SYN
    assert (pkt.seq, pkt.length, pkt.ack, pkt.win) == (0, 0, None, 32792)
    assert pkt.options == (sg.Mss(1000), sg.SACK_PERMITTED, sg.Timestamps(7, 0), sg.NOP,
                           sg.WScale(7))
    assert not pkt.any_options


def test_outbound_packet_flags_ack_and_any_options() -> None:
    pkt = event("0.1 > FP. 1:1001(1000) ack 1 <...>")
    assert isinstance(pkt, Packet)
    assert not pkt.inbound
    assert pkt.flags == sg.FIN | sg.PSH | sg.ACK
    assert (pkt.seq, pkt.length, pkt.ack, pkt.win, pkt.options) == (1, 1000, 1, None, None)
    assert pkt.any_options


def test_sack_blocks_and_eol() -> None:
    assert parse_options("nop,nop,sack 1:2 3:4,eol", 1) == (
        sg.NOP, sg.NOP, sg.Sack(((1, 2), (3, 4))), sg.EOL)


@pytest.mark.parametrize("text", [
    "+0 < X 0:0(0) win 1",            # unknown flag
    "+0 < S 0:5(0) win 1",            # end != seq + len
    "+0 < S 0:0 win 1",               # no (len)
    "+0 > S 0:0(0) ack 1",            # ack without '.' on an outbound packet
    "+0 < S 0:0(0) win 70000",        # window does not fit 16 bits
    "+0 < S 0:0(0) win 1 <...>",      # <...> is for outbound lines only
    "+0 < S 0:0(0) win 1 <mss>",      # option without its value
    "+0 < S 0:0(0) win 1 <sack 1>",   # SACK block without ':'
    "+0 > S 0:0(0) bogus 3",
])
def test_bad_packets(text: str) -> None:
    with pytest.raises(ScriptError) as info:
        event(text)
    assert not isinstance(info.value, Unsupported)


@pytest.mark.parametrize(("text", "why"), [
    ("+0 < [ect0] S 0:0(0) win 1", "not supported"),
    ("+0 < SE 0:0(0) win 1", "ECN"),
    ("+0 < S 0:0(0) win 1 <FO abcd>", "FO"),
    ("+0 < udp (1)", "udp"),
    ("+0 poll([{fd=3}], 1, 0) = 1", "poll"),
    ("* < S 0:0(0) win 1", "any time"),
    ("* close(3) = 0", "any time"),
])
def test_unsupported(text: str, why: str) -> None:
    with pytest.raises(Unsupported) as info:
        event(text)
    assert why in str(info.value)


def test_syscall_arguments_and_errno() -> None:
    call = event('+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), '
                 'sin_addr=inet_addr("192.0.2.1")}, 16) = -1 EINPROGRESS (Operation now in '
                 'progress)')
    assert isinstance(call, Syscall)
    assert call.name == "connect"
    assert call.args == (3, Struct((("sa_family", Name("AF_INET")),
                                    ("sin_port", Call("htons", (8080,))),
                                    ("sin_addr", Call("inet_addr", (Str("192.0.2.1"),))))), 16)
    assert (call.result, call.errno) == (-1, "EINPROGRESS")


def test_syscall_or_expressions_arrays_and_hex_result() -> None:
    call = event("+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0")
    assert isinstance(call, Syscall)
    assert call.args[2] == Or((Name("O_RDWR"), Name("O_NONBLOCK")))
    opt = event("+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [4096], 4) = 0")
    assert isinstance(opt, Syscall) and opt.args[3] == Array((4096,))
    getfl = event("+0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)")
    assert isinstance(getfl, Syscall) and getfl.result == 0x802
    assert event("+0 accept(3, ..., ...) = 4").args == (3, ..., ...)  # type: ignore[union-attr]


@pytest.mark.parametrize("text", [
    "+0 close(3)",                    # no result
    "+0 close(3) = -1",               # -1 without an errno
    "+0 close(3) = 0 EBADF",          # errno without -1
    "+0 close(3 = 0",                 # unbalanced
    "+0 close(3) = 0 trailing junk",
])
def test_bad_syscalls(text: str) -> None:
    with pytest.raises(ScriptError):
        event(text)


def test_script_comments_options_commands_and_line_numbers() -> None:
    script = parse_text("""// a comment
--tolerance_usecs=10000
--msl-ms=1000
/* a block
   comment */
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3   // trailing comment
+0 `sysctl -q net.ipv4.tcp_timestamps=1`
+0 connect(3,
           ..., ...) = -1 EINPROGRESS (Operation now in progress)
""", "x.pkt")
    assert [(o.lineno, o.name, o.value) for o in script.options] == [
        (2, "tolerance_usecs", "10000"), (3, "msl-ms", "1000")]
    assert [type(e).__name__ for e in script.events] == ["Syscall", "Command", "Syscall"]
    assert [e.lineno for e in script.events] == [6, 7, 8]
    assert script.events[0].text == "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3"


def test_script_errors_carry_line_numbers() -> None:
    with pytest.raises(ScriptError) as info:
        parse_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\n+0 < Q 0:0(0)\n")
    assert info.value.lineno == 3
    assert str(info.value).startswith("line 3:")
    with pytest.raises(ScriptError) as late_option:
        parse_text("0 close(3) = 0\n--mss=1000\n")
    assert late_option.value.lineno == 2
    with pytest.raises(ScriptError) as python:
        parse_text("0 close(3) = 0\n%{\nprint(1)\n}%\n")
    assert python.value.lineno == 3
    assert "a function call" in str(python.value)
