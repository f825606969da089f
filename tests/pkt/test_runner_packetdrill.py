"""The runner with the packetdrill grammar of published suites: %{ }% checks, outbound
time ranges and '*', TSO-sized outbound lines, sendmsg, MSG_OOB, fd numbers, shell
commands in verbose output."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from tcplab.pkt.cli import main
from tcplab.pkt.compare import Settings
from tcplab.pkt.run import _Runner
from tcplab.tcp import segment as sg
from tcplab.tcp.connection import Connection

HANDSHAKE = """--no-timestamps
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0    < S 0:0(0) win 65535 <mss 1000,nop,nop,sackOK,nop,wscale 7>
+0    > S. 0:0(0) ack 1 <...>
+.01  < . 1:1(0) ack 1 win 502
+0    accept(3, ..., ...) = 4
"""   # the last line of HANDSHAKE is line 8


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str,
        *flags: str) -> tuple[int, str]:
    path = tmp_path / "t.pkt"
    path.write_text(body)
    code = main([*flags, str(path)])
    out = capsys.readouterr().out.splitlines()
    first = out[0].replace(f"{path}", "t.pkt")
    return code, first if not flags or "-v" not in flags else "\n".join(out)


def test_a_false_tcp_info_assert_fails_with_its_line_and_values(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = HANDSHAKE + "+0 %{\nassert tcpi_state == TCPI_ESTABLISHED\n" \
                       "assert tcpi_snd_cwnd == 12, tcpi_snd_cwnd\n}%\n"
    code, out = run(tmp_path, capsys, body)
    assert code == 1
    assert out == ("FAIL t.pkt line 11: expected `assert tcpi_snd_cwnd == 12, tcpi_snd_cwnd`, "
                   "actual: false with tcpi_snd_cwnd=10 (message: 10)")
    code, _ = run(tmp_path, capsys, body.replace("== 12", "== 10"))
    assert code == 0


def test_tcp_info_names_tcplab_lacks_skip_and_bad_blocks_fail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, capsys, HANDSHAKE + "+0 %{ assert tcpi_reordering == 3 }%\n")
    assert code == 0
    assert out == ("SKIP t.pkt line 9: %{ }% uses tcpi_reordering, which tcplab's TCP_INFO "
                   "does not offer")
    code, out = run(tmp_path, capsys, HANDSHAKE + "+0 %{ open('/etc/passwd') }%\n")
    assert code == 1
    assert out.startswith("FAIL t.pkt line 9: %{ }% may not use a function call")
    code, out = run(tmp_path, capsys, HANDSHAKE + "+0 close(4) = 0 %{\n")
    assert out.startswith("FAIL t.pkt line 9: a %{ }% block must start its line")


def test_the_block_reads_the_connection_inbound_packets_go_to(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = """--no-timestamps
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    %{ assert tcpi_state == TCPI_CLOSE }%
"""
    code, out = run(tmp_path, capsys, body)
    assert out == ("FAIL t.pkt line 3: expected `+0 %{ assert tcpi_state == TCPI_CLOSE }%`, "
                   "actual: no socket to read TCP_INFO from")
    active = """--no-timestamps
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0    connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0    > S 0:0(0) <...>
+0    %{ assert tcpi_state == TCPI_SYN_SENT }%
+1    > S 0:0(0) <...>
+0    %{ assert tcpi_total_retrans == 1 and tcpi_unacked == 1 }%
+0    %{ assert tcpi_rto == 2000000, tcpi_rto }%
"""
    code, out = run(tmp_path, capsys, active)
    assert code == 0, out


def test_syscalls_checks_and_commands_leave_sent_segments_to_outbound_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = "--delayed-ack-ms=0\n" + HANDSHAKE + """+.1 < P. 1:11(10) ack 1 win 502
+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0 `echo the ACK waits`
+0 > . 1:1(0) ack 11
"""
    code, out = run(tmp_path, capsys, body)
    assert code == 0, out
    # so may syscalls; an inbound line may not
    code, out = run(tmp_path, capsys, body.replace("`echo the ACK waits`", "close(3) = 0"))
    assert code == 0, out
    inbound = body.replace("`echo the ACK waits`", "< . 11:11(0) ack 1 win 502")
    code, out = run(tmp_path, capsys, inbound)
    assert "line 12: expected `+0 < . 11:11(0) ack 1 win 502`, actual: sent an extra " \
           "segment: `> . 1:1(0) ack 11 win " in out


def test_timers_run_on_time_while_sent_segments_wait(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two writes a second apart, both segments listed after the second: the RTO of
    # the first (RFC 6298: 1 s) comes at its time, before the second write's data.
    body = "--no-rack\n" + HANDSHAKE + """+0 write(4, ..., 10) = 10
+1.5 write(4, ..., 10) = 10
0.01 > P. 1:11(10) ack 1
1.01 > P. 1:11(10) ack 1
"""
    code, out = run(tmp_path, capsys, body)
    assert code == 0, out


def test_a_retransmission_timeout_is_the_loss_state(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = "--no-rack\n" + HANDSHAKE + """+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 1
+0 %{ assert tcpi_ca_state == TCP_CA_Open }%
+1 > P. 1:11(10) ack 1
+0 %{ assert tcpi_ca_state == TCP_CA_Loss and tcpi_total_retrans == 1 }%
+.01 < . 1:1(0) ack 11 win 502
+0 %{ assert tcpi_ca_state == TCP_CA_Open, tcpi_ca_state }%
"""
    code, out = run(tmp_path, capsys, body)
    assert code == 0, out


def test_outbound_time_ranges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The delayed ACK leaves 40 ms after the data.
    data = HANDSHAKE + "+.1 < P. 1:11(10) ack 1 win 502\n"
    code, out = run(tmp_path, capsys, data + "+.03~+.05 > . 1:1(0) ack 11\n")
    assert code == 0, out
    code, out = run(tmp_path, capsys, data + "+.05~+.06 > . 1:1(0) ack 11\n")
    assert out.startswith("FAIL t.pkt line 10: expected `+.05~+.06 > . 1:1(0) ack 11` at "
                          "0.160...0.170 s, actual: `> . 1:1(0) ack 11 win ")
    assert out.endswith("at 0.150 s (early by more than 4 ms)")
    code, out = run(tmp_path, capsys, data + "+.01~+.02 > . 1:1(0) ack 11\n")
    assert "line 10: expected `+.01~+.02 > . 1:1(0) ack 11`, actual: sent nothing" in out
    # '*': whenever it comes.
    code, out = run(tmp_path, capsys, data + "* > . 1:1(0) ack 11\n")
    assert code == 0, out


def test_tolerance_percent_widens_long_intervals(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The first retransmission comes 1 s after the data (RFC 6298 with RACK-TLP off; the
    # tail loss probe would come first); a line 20 ms off is 2%.
    body = "--no-rack\n" + HANDSHAKE + "+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1\n" \
                       "+1.02 > P. 1:11(10) ack 1\n"
    code, out = run(tmp_path, capsys, body)
    assert "early by more than 4 ms" in out
    code, out = run(tmp_path, capsys, "--tolerance_percent=3\n" + body)
    assert code == 0, out


def test_tso_sized_lines_take_full_segments_sent_together(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = HANDSHAKE + "+0 write(4, ..., 3000) = 3000\n+0 > P. 1:3001(3000) ack 1\n"
    code, out = run(tmp_path, capsys, body)
    assert code == 0, out
    # Less than the whole burst: the rest is an extra segment.
    code, out = run(tmp_path, capsys, body.replace("P. 1:3001(3000)", ". 1:2001(2000)"))
    assert "sent an extra segment: `> P. 2001:3001(1000) ack 1 win " in out
    # More than was sent at once.
    short = HANDSHAKE + "+0 write(4, ..., 1000) = 1000\n+0 > P. 1:2001(2000) ack 1\n"
    code, out = run(tmp_path, capsys, short)
    assert "actual: `> P. 1:1001(1000) ack 1 win " in out
    assert "at 0.010 s (length 1000 instead of 2000)" in out


def test_coalescing_takes_only_a_burst_of_full_contiguous_segments() -> None:
    runner = _Runner(Settings(), lambda _line: None)
    conn = Connection(("192.168.0.1", 8080))
    runner.conns.append(conn)
    mss = conn.status().mss

    def seg(seq: int, n: int, flags: int = sg.ACK) -> sg.Segment:
        return sg.Segment(8080, 50000, seq, 7, flags, 100, (), bytes(n))

    def take(first: sg.Segment, rest: list[tuple[float, sg.Segment]],
             want: int) -> tuple[int, int, int]:
        runner.pending = deque(rest)
        merged, parts = runner.coalesce(first, 0.0, want)
        return len(merged.payload), parts, merged.flags

    tail = seg(100 + 2 * mss, 10, sg.ACK | sg.PSH)
    assert take(seg(100, mss), [(0.0, seg(100 + mss, mss)), (0.0, tail)], 2 * mss + 10) \
        == (2 * mss + 10, 3, sg.ACK | sg.PSH)
    assert take(seg(100, mss), [(0.5, seg(100 + mss, mss))], 2 * mss)[1] == 1   # later
    assert take(seg(100, mss), [(0.0, seg(101 + mss, mss))], 2 * mss)[1] == 1   # a gap
    assert take(seg(100, mss // 2), [(0.0, seg(100 + mss // 2, mss // 2))], mss)[1] == 1
    assert take(seg(100, mss), [(0.0, seg(100 + mss, 10)), (0.0, seg(110 + mss, 10))],
                mss + 20)[:2] == (mss + 10, 2)          # a short one ends the burst


def test_sendmsg_fd_numbers_and_msg_oob(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    body = HANDSHAKE.replace("= 4", "= 6") + (
        "+0 sendmsg(6, {msg_name(...)=..., msg_iov(3)=[{..., 10}, {..., 0}, {..., 5}], "
        "msg_flags=0}, 0) = 15\n+0 > P. 1:16(15) ack 1\n")
    code, out = run(tmp_path, capsys, body)
    assert code == 0, out
    # MSG_OOB: urgent data (RFC 9293 §3.8.5), the pointer just after its last byte
    oob = HANDSHAKE + "+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1\n" \
                      "+0 send(4, ..., 5, MSG_OOB) = 5\n+0 > P.U 11:16(5) ack 1 urg 5\n"
    code, out = run(tmp_path, capsys, oob)
    assert code == 0, out
    code, out = run(tmp_path, capsys, oob.replace("urg 5", "urg 4"))
    assert out.endswith("(urg 5 instead of 4)")
    code, out = run(tmp_path, capsys, HANDSHAKE + "+0 recv(4, ..., 1, MSG_OOB) = 1\n")
    assert out.startswith("SKIP t.pkt line 9: recv() flags (MSG_OOB")
    control = HANDSHAKE + "+0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1}], " \
                          "msg_control=[{cmsg_level=SOL_TCP}]}, 0) = 1\n"
    code, out = run(tmp_path, capsys, control)
    assert out == "SKIP t.pkt line 9: sendmsg() with msg_control is not supported (only a " \
                  "plain iovec)"


def test_verbose_names_every_shell_command(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    body = "`../common/defaults.sh\nsysctl -q x=1`\n" + HANDSHAKE + "`/tmp/restore.sh`\n"
    code, out = run(tmp_path, capsys, body, "-v")
    assert code == 0, out
    assert "ignored (shell commands are not run): `../common/defaults.sh sysctl -q x=1`" in out
    assert "ignored (shell commands are not run): `/tmp/restore.sh`" in out
