"""The runner end to end against the real engine, through ``tcplab pkt``'s CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.pkt.cli import main, run_file
from tcplab.pkt.compare import Settings

SCRIPTS = sorted((Path(__file__).parent / "scripts" / "basic").glob("*.pkt"))

HANDSHAKE = """--no-timestamps
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0    < S 0:0(0) win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 7>
+0    > S. 0:0(0) ack 1 <...>
+.01  < . 1:1(0) ack 1 win 502
+0    accept(3, ..., ...) = 4
"""   # the last line of HANDSHAKE is line 8


def write(tmp_path: Path, body: str, name: str = "t.pkt") -> str:
    path = tmp_path / name
    path.write_text(body)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def test_examples_exist_and_pass() -> None:
    assert 5 <= len(SCRIPTS) <= 8
    for path in SCRIPTS:
        assert run_file(str(path), Settings()).status == "PASS", path


def test_summary_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, HANDSHAKE, "good.pkt")
    skipped = write(tmp_path, HANDSHAKE + "+0 poll([], 0, 0) = 0\n", "skip.pkt")
    code, out = run(capsys, good, skipped)
    assert code == 0
    assert out == [f"PASS {good}", f"SKIP {skipped} line 9: syscall poll() is not supported",
                   "1 passed, 0 failed, 1 skipped"]
    missing = str(tmp_path / "missing.pkt")
    code, out = run(capsys, good, missing)
    assert code == 1
    assert out[1].startswith(f"FAIL {missing} cannot read the script")
    assert out[-1] == "1 passed, 1 failed, 0 skipped"


def test_sent_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, HANDSHAKE + "+0 > P. 1:11(10) ack 1\n")
    code, out = run(capsys, path)
    assert code == 1
    assert out[0] == (f"FAIL {path} line 9: expected `+0 > P. 1:11(10) ack 1`, "
                      f"actual: sent nothing")


def test_sent_an_extra_segment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = HANDSHAKE + "+0 write(4, ..., 10) = 10\n+.1 < . 1:1(0) ack 11 win 502\n"
    code, out = run(capsys, write(tmp_path, body))
    assert code == 1
    assert "line 10: expected `+.1 < . 1:1(0) ack 11 win 502`, actual: sent an extra " \
           "segment: `> P. 1:11(10) ack 1 win 2048` at 0.010 s" in out[0]
    # At the end of the script too.
    code, out = run(capsys, write(tmp_path, HANDSHAKE + "+0 write(4, ..., 10) = 10\n"))
    assert "after line 9: expected nothing more, actual: sent an extra segment" in out[0]


def test_field_mismatch_shows_both_lines(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    body = HANDSHAKE + "+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1 win 999\n"
    _, out = run(capsys, write(tmp_path, body))
    assert out[0].endswith("actual: `> P. 1:11(10) ack 1 win 2048` at 0.010 s "
                           "(win 2048 instead of 999)")
    # --ignore-window makes the same script pass; an option line would too.
    code, out = run(capsys, "--ignore-window", write(tmp_path, body))
    assert code == 0


def test_timing_tolerance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The delayed ACK leaves at +40 ms: a line at +30 ms is outside the 4 ms tolerance
    # (the engine has sent nothing by then), one at +38 ms is inside it.
    data = HANDSHAKE + "+.1 < P. 1:11(10) ack 1 win 502\n"
    _, out = run(capsys, write(tmp_path, data + "+.03 > . 1:1(0) ack 11 <...>\n"))
    assert "sent nothing" in out[0]
    code, _ = run(capsys, write(tmp_path, data + "+.038 > . 1:1(0) ack 11 <...>\n"))
    assert code == 0
    code, _ = run(capsys, "--tolerance-ms", "20",
                  write(tmp_path, data + "+.025 > . 1:1(0) ack 11 <...>\n"))
    assert code == 0
    # Early: the segment went out at once but the line expects it 0.1 s later.
    early = HANDSHAKE + "+0 write(4, ..., 10) = 10\n+.1 > P. 1:11(10) ack 1 <...>\n"
    _, out = run(capsys, write(tmp_path, early))
    assert "early by more than 4 ms" in out[0]


def test_option_lines_override_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = "--delayed-ack-ms=0\n" + HANDSHAKE + \
        "+.1 < P. 1:11(10) ack 1 win 502\n+0 > . 1:1(0) ack 11 <...>\n"
    code, _ = run(capsys, "--delayed-ack-ms", "200", write(tmp_path, body))
    assert code == 0


def test_syscall_result_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = HANDSHAKE + "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 read(4, ..., 10) = 10\n"
    _, out = run(capsys, write(tmp_path, body))
    assert out[0].endswith("line 10: expected `+0 read(4, ..., 10) = 10`, actual: returned -1 "
                           "EAGAIN (Resource temporarily unavailable)")


def test_blocking_read_returns_when_data_arrives(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    body = HANDSHAKE + ("+0...0.2 read(4, ..., 100) = 10\n"
                        "+.2 < P. 1:11(10) ack 1 win 502\n")
    code, out = run(capsys, write(tmp_path, body))
    assert code == 0, out
    never = HANDSHAKE + "+0 read(4, ..., 100) = 10\n"
    _, out = run(capsys, write(tmp_path, never))
    assert "line 9: expected `+0 read(4, ..., 100) = 10`, actual: the call was still " \
           "blocked at the end of the script" in out[0]


def test_parse_errors_fail_with_line_numbers(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < Q 0:0(0)\n")
    code, out = run(capsys, path)
    assert code == 1
    assert out[0] == (f"FAIL {path} line 2: bad TCP flags 'Q' (use S . P F R U) (parse error)")
    bad_option = write(tmp_path, "--mss=many\n0 close(3) = 0\n")
    _, out = run(capsys, bad_option)
    assert out[0] == f"FAIL {bad_option} line 1: --mss needs a number, got 'many'"


@pytest.mark.parametrize("argv", [[], ["--bogus", "x.pkt"], ["--options", "sorted", "x.pkt"],
                                  ["--mss"], ["--wscale=20", "x.pkt"], ["-x", "x.pkt"]])
def test_bad_command_lines(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcplab pkt: error: ")
    assert "Traceback" not in err


def test_verbose_lists_lines_segments_and_ignored_commands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = HANDSHAKE + "+0 `echo hello`\n"
    code, out = run(capsys, "-v", write(tmp_path, body))
    assert code == 0
    text = "\n".join(out)
    assert "line 2: 0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3" in text
    assert "engine: > S. 0:0(0) ack 1 win 65535" in text
    assert "ignored (shell commands are not run): +0 `echo hello`" in text


def test_closed_port_and_listener_close(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing listens: a SYN is refused with RST,ACK (RFC 9293 §3.10.7.1).
    nothing = "--no-timestamps\n0 < S 0:0(0) win 65535\n+0 > R. 0:0(0) ack 1 win 0\n"
    code, out = run(capsys, write(tmp_path, nothing))
    assert code == 0, out
    # Closing a listener resets the connection nobody accepted (ABORT: RST, no ACK,
    # RFC 9293 §3.10.4).
    unaccepted = HANDSHAKE.replace("+0    accept(3, ..., ...) = 4\n", "") + \
        "+0 close(3) = 0\n+0 > R 1:1(0) <...>\n"
    code, out = run(capsys, "--ignore-window", write(tmp_path, unaccepted))
    assert code == 0, out


def test_nonblocking_accept_and_sockopts(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    body = """--no-timestamps
0  socket(..., SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 accept(3, ..., ...) = -1 EAGAIN (Resource temporarily unavailable)
+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [4096], 4) = 0
+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [4096], [4]) = 0
+0 setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0
+0 getsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], [4]) = 0
+0 fcntl(3, F_GETFL) = 0x802
+0 close(9) = -1 EBADF (Bad file descriptor)
"""
    code, out = run(capsys, write(tmp_path, body))
    assert code == 0, out


def test_pytest_plugin_turns_unmarked_skips_into_failures(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["tcplab.pkt.pytest_plugin"]')
    tests = pytester.mkdir("tests")
    (tests / "good.pkt").write_text(HANDSHAKE)
    (tests / "bad.pkt").write_text(HANDSHAKE + "+0 > P. 1:11(10) ack 1\n")
    (tests / "skip.pkt").write_text(HANDSHAKE + "+0 poll([], 0, 0) = 0\n")
    (tests / "marked.pkt").write_text("// skip-ok: needs poll()\n" + HANDSHAKE
                                      + "+0 poll([], 0, 0) = 0\n")
    # the inner session must not load plugins that keep global state (the snapshot
    # plugin cleans up its temporary directory when a session ends)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:textual-snapshot", "-rA")
    result.assert_outcomes(passed=1, failed=2, skipped=1)
    result.stdout.fnmatch_lines(["*bad.pkt: line 9: expected*actual: sent nothing*",
                                 "*SKIP is not a pass: line 9: syscall poll() is not supported*"])
