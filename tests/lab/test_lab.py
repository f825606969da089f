"""The lab's executor through its Python API: commands, names, links, filters, errors.

The headline property: a command that fails says which line and why, publishes exactly
one failed ``command`` event, and changes nothing -- no socket, no link parameter, no
filter, no name, no time, no randomness drawn.  The tests compare a full snapshot of the
lab before and after.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import commands as C
from tcplab.lab.backend import LinkState
from tcplab.lab.events import CommandDone, LabEvent, LinkChanged, LinkDropped, LinkHeld
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.stack import events as H
from tcplab.tcp.config import Config
from tcplab.tcp.states import State


class Recorded:
    """A started lab on the pair topology plus every event it published."""

    def __init__(self, topology: str = "pair", seed: int = 1) -> None:
        self.backend = SimBackend(seed, virtual=True)
        self.lab = Lab(load_topology(topology), self.backend)
        self.events: list[LabEvent] = []
        self.lab.bus.subscribe(self.events.append)
        self.lab.start()

    def ok(self, *lines: str) -> None:
        for line in lines:
            result = self.lab.execute(line)
            assert result.ok, f"{line}: {result.message}"

    def snapshot(self) -> dict[str, Any]:
        lab = self.lab
        sockets = [(host, s.id, s.kind, s.state, s.local, s.remote, s.bytes_sent,
                    s.bytes_delivered) for host, s in lab.sockets()]
        # filters and held frames live in the simulated links themselves
        filters = [(d.name, len(d.filters), len(d.held))
                   for link in self.backend.net.links for d in (link.forward, link.reverse)]
        names = {k: (v.host, v.sid) for k, v in lab.names.items()}
        return {"sockets": sockets, "links": lab.links(), "filters": filters, "names": names,
                "now": lab.now(), "pending": self.backend.next_time(),
                "delivered": dict(lab.delivered), "rng": self.backend.rng.getstate()}


@pytest.fixture
def rec() -> Recorded:
    """h2 listens on 80; c1 = h1:5000 -> h2:80 is established and has moved 5 bytes."""
    r = Recorded()
    r.ok("link h1 s1 delay=10ms", "listen h2:80", "connect h1:5000 h2:80 as c1", "wait 0.2",
         'send c1 "hello"', "wait 0.2")
    return r


BAD_COMMANDS = [
    ("listen h9:80", "unknown host 'h9' (hosts: h1, h2)"),
    ("listen 10.0.0.9:80", "unknown host '10.0.0.9'"),
    ("connect h1 h7:80 as c2", "unknown host 'h7'"),
    ("listen h2:80", "port 80 in use on h2"),
    ("connect h1:5000 h2:80 as c2", "port 5000 in use on h1"),
    ("connect h1 h2:80 as c1", "name 'c1' is already taken"),
    ("close c9", "no connection named 'c9'"),
    ('send c9 "x"', "no connection named 'c9'"),
    ("expect-seen c9 CLOSED", "no connection named 'c9'"),
    ("abort h1:4000>h2:80", "no connection h1:4000>h2:80"),
    ("send c1 --file /nonexistent/f", "cannot read /nonexistent/f: No such file or directory"),
    ("link h1 s1 loss=150%", "bad value for loss: '150%'"),
    ("link h1 s1 delay=fast", "bad value for delay: 'fast'"),
    ("link h1 s1 loss=5% dir=h2>s1", "dir=h2>s1 is not a direction of link h1 s1"),
    ("link h1 h2 loss=5%", "no link between h1 and h2"),
    ("link h1 s1 loss=5% colour=red", "unknown link parameter 'colour=red'"),
    ("wait soon", "bad value for wait: 'soon'"),
    ("expect c1 ESTABLISHD", "unknown state 'ESTABLISHD' (did you mean 'ESTABLISHED'?)"),
    ("hold h1>h9 FIN", "unknown host 'h9'"),
    ("drop h1>s1 BOGUS", "unknown segment kind 'BOGUS'"),
    ("frobnicate h1", "unknown command 'frobnicate'"),
    ("lisen h2:81", "unknown command 'lisen' (did you mean 'listen'?)"),
    ("connect h1 h2:80 as", "connect needs a NAME after 'as'"),
    ("expect c1 TIME-WAIT", "expect c1 TIME-WAIT: state is ESTABLISHED"),
    ("expect-seen c1' TIME-WAIT",
     "expect-seen c1' TIME-WAIT: visited LISTEN -> SYN-RECEIVED -> ESTABLISHED"),
    ("expect-received c1 6", "expect-received c1 6: the peer application got 5 bytes"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_COMMANDS)
def test_bad_command_is_an_error_that_changes_nothing(
        rec: Recorded, line: str, reason: str) -> None:
    before = rec.snapshot()
    rec.events.clear()
    result = rec.lab.execute(line, 12)
    assert not result.ok
    assert result.message.startswith("line 12: ") and reason in result.message
    assert "\n" not in result.message and "Traceback" not in result.message
    assert rec.events == [CommandDone(before["now"], "", line, False, result.message)]
    assert rec.snapshot() == before


def test_commands_from_objects_and_text_agree(rec: Recorded) -> None:
    by_text = rec.lab.execute("expect c1 ESTABLISHED")
    by_object = rec.lab.execute(C.Expect(C.ConnName("c1"), State.ESTABLISHED))
    assert by_text == by_object
    assert by_text.ok and by_text.message == "expect c1 ESTABLISHED: state is ESTABLISHED"


def test_every_command_publishes_one_command_event(rec: Recorded) -> None:
    rec.events.clear()
    rec.ok('send c1 "abc"')
    done = [e for e in rec.events if isinstance(e, CommandDone)]
    assert done == [CommandDone(rec.lab.now(), "", 'send c1 "abc"', True,
                                "sending 3 bytes on c1")]
    rec.events.clear()
    assert rec.lab.execute("   # only a comment").ok
    assert rec.events == []


def test_names_tuples_and_the_accepted_side(rec: Recorded) -> None:
    lab = rec.lab
    # c1 is h1:5000>h2:80, c1' is the same connection seen from h2
    assert lab.socket_info(C.ConnName("c1"))[:1] == ("h1",)
    tuple_ref = C.parse_line("expect h1:5000>h2:80 ESTABLISHED")
    assert tuple_ref is not None and lab.execute(tuple_ref).ok
    rec.ok('send h2:80>h1:5000 "reply"', "wait 0.1", "expect-received c1' 5",
           "expect-received h1:5000>h2:80 5", "expect-received h2:80>10.0.0.1:5000 5")
    host, info, seen = lab.socket_info(C.ConnName("c1", accepted=True))
    assert host == "h2" and info is not None and info.local == ("10.0.0.2", 80)
    assert seen == [State.LISTEN, State.SYN_RECEIVED, State.ESTABLISHED]


def test_a_name_keeps_its_history_after_the_socket_is_gone(rec: Recorded) -> None:
    rec.ok("abort c1", "wait 0.1", "expect c1 CLOSED", "expect c1' CLOSED",
           "expect-seen c1 ESTABLISHED", "expect-seen c1' SYN-RECEIVED")
    # the name stays taken even though its socket is gone
    assert not rec.lab.execute("connect h1 h2:80 as c1").ok
    resets = [e for e in rec.events if isinstance(e, H.ConnectionFailed)]
    assert [(e.host, e.reason) for e in resets] == [("h2", "connection reset by peer")]


def test_accepted_side_before_accept_is_a_clear_error() -> None:
    rec = Recorded()
    rec.ok("connect h1 h2:81 as c1")  # the RST is still on its way
    result = rec.lab.execute("close c1'")
    assert not result.ok and result.message == "c1': no accepted connection yet on h2"


def test_link_changes_live_per_direction_and_back_to_zero() -> None:
    rec = Recorded()
    assert rec.lab.backend.find_link("s1", "h1") == "h1-s1"

    def states() -> tuple[LinkState, LinkState]:
        return rec.lab.backend.link_states("h1-s1")

    untouched = rec.lab.backend.link_states("h2-s1")
    started = [e for e in rec.events if isinstance(e, LinkChanged)]
    assert {e.direction for e in started} == {"h1>s1", "s1>h1", "h2>s1", "s1>h2"}
    del rec.events[:]  # every link's starting parameters, published by Lab.start
    rec.ok("link h1 s1 loss=5% delay=20ms jitter=2ms bw=10mbit dup=1% reorder=2% queue=50")
    assert [(d.src, d.dst) for d in states()] == [("h1", "s1"), ("s1", "h1")]
    for d in states():
        assert (d.loss, d.delay, d.jitter, d.bw, d.dup, d.reorder, d.queue, d.up) == (
            0.05, 0.02, 0.002, 10e6, 0.01, 0.02, 50, True)
    rec.ok("link s1 h1 delay=0 loss=0 dir=h1>s1", "link h1 s1 down dir=s1>h1")
    fwd, rev = states()
    assert (fwd.delay, fwd.loss, fwd.up) == (0.0, 0.0, True)
    assert (rev.delay, rev.loss, rev.up) == (0.02, 0.05, False)
    rec.ok("link h1 s1 bw=unlimited queue=1000 up")
    assert all(d.bw is None and d.queue == 1000 and d.up for d in states())
    assert rec.lab.backend.link_states("h2-s1") == untouched
    changed = [e for e in rec.events if isinstance(e, LinkChanged)]
    assert [e.direction for e in changed][:2] == ["h1>s1", "s1>h1"]
    assert changed[0].params.startswith("loss=5% delay=20ms jitter=2ms bw=10mbit")


def test_link_down_drops_frames_with_that_reason() -> None:
    rec = Recorded()
    rec.ok("link h2 s1 down", "listen h2:80", "connect h1 h2:80 as c1", "wait 0.5",
           "expect c1 SYN-SENT", "link h2 s1 up", "wait 5", "expect c1 ESTABLISHED")
    reasons = {e.reason for e in rec.events if isinstance(e, LinkDropped)}
    assert reasons == {"link down"}


def test_hold_and_release(rec: Recorded) -> None:
    rec.ok("hold h1>h2 DATA", 'send c1 "held back"', "wait 0.5", "expect-received c1 5")
    held = [e for e in rec.events if isinstance(e, LinkHeld)]
    # Within the 0.5 s the sender's RACK tail-loss probe (RFC 8985 §7) resends the last
    # segment, and the filter holds that copy too: every held frame is one and the same
    # 9-byte segment (same sequence range), and release hands all copies on.
    assert len(held) >= 1 and {e.direction for e in held} == {"h1>h2"}
    assert {e.summary.split()[2] for e in held} == {held[0].summary.split()[2]}
    assert "(9)" in held[0].summary
    assert rec.lab.execute("release all").message == f"released {len(held)} held segments"
    rec.ok("wait 0.1", "expect-received c1 14")


def test_drop_count_catches_exactly_that_many() -> None:
    rec = Recorded()
    rec.ok("listen h2:80", "drop h1>h2 SYN count=2", "connect h1 h2:80 as c1", "wait 2",
           "expect c1 SYN-SENT", "wait 3", "expect c1 ESTABLISHED")
    dropped = [e for e in rec.events if isinstance(e, LinkDropped)]
    assert [e.reason for e in dropped] == ["filter", "filter"]
    seqs = {e.segment.seq for e in dropped if e.segment is not None}
    assert len(seqs) == 1  # the first SYN and its retransmission


def test_send_bytes_then_close_sends_everything_first(rec: Recorded) -> None:
    rec.ok("send c1 --bytes 300000", "close c1", "expect c1 ESTABLISHED", "wait 5",
           "expect-received c1 300005", "expect c1 FIN-WAIT-2", "expect c1' CLOSE-WAIT")


def test_pause_freezes_the_clock_and_resume_restarts_it(rec: Recorded) -> None:
    t0 = rec.lab.now()
    rec.ok("pause", "wait 1")
    assert rec.lab.now() == t0
    rec.ok("resume", "wait 1")
    assert rec.lab.now() == pytest.approx(t0 + 1)


def test_expect_received_counts_exactly(rec: Recorded) -> None:
    assert "exactly" in C.HELP["expect-received"]
    assert not rec.lab.execute("expect-received c1 3").ok  # 5 bytes were delivered
    assert rec.lab.execute("expect-received c1 5").ok


def test_read_off_closes_the_window_and_the_sender_probes_it() -> None:
    """A receiving application that stops reading (``read=off``): its buffer fills, its
    TCP offers a window of 0 and the sender probes it on the persist timer, backing off
    (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17); reading again reopens the window and the
    transfer ends.  (Unscaled windows: the zero window is then exact.)"""
    rec = Recorded()
    rec.ok("link h1 s1 delay=10ms", "listen h2:80 read=off wscale=off",
           "connect h1:5000 h2:80 as c1", "wait 0.2", "send c1 --bytes 1000000", "wait 10",
           "expect-received c1 0")
    zero = [e for e in rec.events if isinstance(e, H.SegmentSent) and e.host == "h2"
            and e.segment.window == 0]
    assert zero, "h2 never offered a zero window"
    persists = [e.t for e in rec.events if isinstance(e, H.TimerFired) and e.host == "h1"
                and e.name == "persist"]
    assert len(persists) >= 3
    gaps = [b - a for a, b in itertools.pairwise(persists)]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps))  # backs off
    probes = [e for e in rec.events if isinstance(e, H.Retransmitted) and e.host == "h1"
              and e.why == "probe"]
    assert probes and all(e.length == 1 for e in probes)
    assert rec.lab.execute("tcp h2 read=on").message == "h2: its application reads again"
    # the full receive buffer is read at once; the window opens and the rest follows
    rec.ok(f"expect-received c1 {Config().rcvbuf}", "wait 20", "expect-received c1 1000000")
    reopened = [e for e in rec.events if isinstance(e, H.SegmentSent) and e.host == "h2"
                and e.t > zero[-1].t and e.segment.window > 0]
    assert reopened


def test_tcp_host_read_off_stops_every_socket_until_read_on(rec: Recorded) -> None:
    result = rec.lab.execute("tcp h2 read=off sack=off")
    assert result.message == "h2: new sockets use sack=off; its application stops reading"
    rec.ok('send c1 "more"', "wait 1", "expect-received c1 5")
    rec.ok("tcp h2 read=on", "expect-received c1 9")


def test_read_off_on_a_listener_holds_for_the_connections_it_accepts() -> None:
    rec = Recorded()
    rec.ok("listen h2:80 read=off", "connect h1 h2:80 as c1", "wait 0.2", 'send c1 "x"',
           "wait 1", "expect-received c1 0", "tcp h2 read=on", "expect-received c1 1")


class _NoReading:
    """A host API without ``set_reading``, as a Mininet agent's is."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        if name == "set_reading":
            raise AttributeError(name)
        return getattr(self._app, name)


def test_tcp_host_read_is_refused_where_the_host_cannot_take_it(
        rec: Recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    app = rec.backend.app
    monkeypatch.setattr(rec.backend, "app", lambda host: _NoReading(app(host)))
    before = rec.snapshot()
    result = rec.lab.execute("tcp h2 read=off")
    assert not result.ok and result.message == (
        "tcp h2 read=: only the simulated network's hosts take it (on Mininet, give "
        "read=off to listen or connect)")
    assert rec.snapshot() == before
