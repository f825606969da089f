"""The packetdrill grammar published suites use: ranges with '~', '*' times, backtick
commands without a time or over several lines, %{ }% blocks, inbound 'ack N' without
'.', sendmsg with a plain iovec, and the option lines that go with them."""

from __future__ import annotations

import pytest

from tcplab.pkt.compare import Numbering, SettingError, Settings, differences, render
from tcplab.pkt.parse import (
    Command,
    Packet,
    PyBlock,
    ScriptError,
    Struct,
    Syscall,
    Time,
    Unsupported,
    parse_event,
    parse_text,
)
from tcplab.tcp import segment as sg


@pytest.mark.parametrize(("text", "time"), [
    ("+.1~+.105 > P. 3001:4001(1000) ack 1", Time(True, 0.1, 0.105)),
    ("0.3~0.31 > . 1:1(0) ack 1", Time(False, 0.3, 0.31)),
    ("* > S. 0:0(0) ack 1 <...>", Time(True, 0.0, any_time=True)),
])
def test_range_and_any_times(text: str, time: Time) -> None:
    assert parse_event(text, 1).time == time


def test_inbound_ack_without_the_ack_flag_is_sent_with_the_bit_clear() -> None:
    pkt = parse_event("+0 < P 1:11(10) ack 5 win 502", 1)
    assert isinstance(pkt, Packet) and pkt.inbound
    assert pkt.flags == sg.PSH and pkt.ack == 5
    nb = Numbering(out_base=7000)
    seg = nb.inbound(pkt, 50000, 8080)
    assert not seg.flags & sg.ACK
    assert seg.ack == 7005          # the field is there, relative to the engine's ISN
    with pytest.raises(ScriptError, match=r"outbound packet needs the '\.' flag"):
        parse_event("+0 > P 1:11(10) ack 5", 1)


def test_backtick_commands_without_time_and_over_several_lines() -> None:
    script = parse_text("""// set up
`../common/defaults.sh`
--tolerance_usecs=10000
`
sysctl -q net.ipv4.tcp_sack=1 # a shell comment
sysctl -q a.b=1 \\
\t  c.d=2`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 `echo one
echo two`   // trailing comment
+0 close(3) = 0
`/tmp/restore_${PPID}.sh`
""")
    assert [o.name for o in script.options] == ["tolerance_usecs"]
    kinds = [(type(e).__name__, e.lineno) for e in script.events]
    assert kinds == [("Command", 2), ("Command", 4), ("Syscall", 8), ("Command", 9),
                     ("Syscall", 11), ("Command", 12)]
    second = script.events[1]
    assert isinstance(second, Command) and second.time == Time(True, 0.0)
    assert second.text == "`sysctl -q net.ipv4.tcp_sack=1 # a shell comment " \
                          "sysctl -q a.b=1 \\ c.d=2`"
    assert script.events[3].text == "+0 `echo one echo two`"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("0 close(3) = 0\n`never closed\n", 2, "unterminated backtick command"),
    ("0 close(3) = 0\n+0 %{\nassert tcpi_state == 1\n", 2, "unterminated %{ block"),
    ("0 close(3) = 0 %{ assert 1 }%\n", 1, "must start its line"),
    ("0 close(3) = 0\nassert 1 }%\n", 2, "'}%' without a '%{'"),
    ("0 %{ assert 1 }% junk\n", 1, "unexpected 'junk'"),
    ("0 %{ assert tcpi_state == }%\n", 1, "not valid Python"),
])
def test_block_errors_name_their_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ScriptError) as info:
        parse_text(text)
    assert not isinstance(info.value, Unsupported)
    assert info.value.lineno == line
    assert message in str(info.value)


def test_python_blocks_single_multi_line_timed_and_not() -> None:
    script = parse_text("""0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+.01 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
   +0 %{
assert tcpi_state == TCPI_ESTABLISHED
# '//' below is floor division, not a comment
assert tcpi_rto // 1000 >= 200
}%
%{
    assert tcpi_options & TCPI_OPT_SACK
    assert tcpi_snd_ssthresh > 0; tcpi_lost
}%
""")
    blocks = [e for e in script.events if isinstance(e, PyBlock)]
    assert [(b.lineno, b.time) for b in blocks] == [
        (2, Time(True, 0.01)), (3, Time(True, 0.0)), (8, Time(True, 0.0))]
    assert [s.lineno for s in blocks[1].snippet.statements] == [4, 6]
    assert blocks[0].snippet.statements[0].text == \
        "assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd"
    assert [s.text for s in blocks[2].snippet.statements] == [
        "assert tcpi_options & TCPI_OPT_SACK", "assert tcpi_snd_ssthresh > 0", "tcpi_lost"]


def test_a_name_tcplab_does_not_offer_skips_naming_it() -> None:
    with pytest.raises(Unsupported) as info:
        parse_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                   "+0 %{\nassert tcpi_reordering == 3, tcpi_reordering\n}%\n")
    assert info.value.lineno == 3
    assert "tcpi_reordering" in str(info.value)


def test_sendmsg_struct_keys_with_counts() -> None:
    call = parse_event("+0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 40}, {..., 20}], "
                       "msg_flags=0}, 0) = 60", 1)
    assert isinstance(call, Syscall) and call.name == "sendmsg"
    msg = call.args[1]
    assert isinstance(msg, Struct)
    assert [k for k, _ in msg.fields] == ["msg_name", "msg_iov", "msg_flags"]


def test_unknown_syscalls_skip_before_their_arguments_are_read() -> None:
    with pytest.raises(Unsupported, match=r"recvmsg\(\)"):
        parse_event("+0 recvmsg(4, {msg_control=[{cmsg_level=SOL_TCP, cmsg_data=8000}]}, 0)"
                    " = 2000", 1)


def test_packetdrill_timing_options() -> None:
    st = Settings()
    st.apply("tcp_ts_tick_usecs", "1000")
    st.apply("tolerance_percent", "1")
    assert st.ts_tick == pytest.approx(0.001)
    assert st.tolerance_percent == 1
    with pytest.raises(SettingError):
        st.apply("tcp_ts_tick_usecs", "0")


def test_urgent_flag_and_pointer() -> None:
    pkt = parse_event("+0 > P.U 11:16(5) ack 1 urg 5", 1)
    assert isinstance(pkt, Packet)
    assert pkt.flags == sg.PSH | sg.ACK | sg.URG and pkt.urg == 5
    inbound = parse_event("+0 < P.U 1:4(3) ack 16 win 502 urg 3", 1)
    assert isinstance(inbound, Packet)
    seg = Numbering().inbound(inbound, 50000, 8080)
    assert seg.flags & sg.URG and seg.urgent == 3
    with pytest.raises(Unsupported, match="ECN"):
        parse_event("+0 < S.E 0:0(0) win 1", 1)
    with pytest.raises(ScriptError, match="bad urg value"):
        parse_event("+0 < P.U 1:4(3) ack 1 urg 70000", 1)


def test_urgent_pointer_is_compared_and_shown() -> None:
    nb = Numbering(out_base=7000)
    seg = sg.Segment(8080, 50000, 7011, nb.in_base + 1, sg.PSH | sg.ACK | sg.URG, 100, (),
                     bytes(5), 5)
    assert render(seg, nb) == "> PU. 11:16(5) ack 1 win 100 urg 5"
    line = parse_event("+0 > P.U 11:16(5) ack 1 urg 4", 1)
    assert isinstance(line, Packet)
    assert differences(line, seg, nb, Settings()) == ["urg 5 instead of 4"]
    plain = parse_event("+0 > P. 11:16(5) ack 1", 1)
    assert isinstance(plain, Packet)
    assert differences(plain, seg, nb, Settings()) == ["flags PU. instead of P."]
