"""TCP features on and off per socket (listen/connect options) and per host (`tcp`),
and bursty (Gilbert-Elliott) loss on a link: what the labs compare."""

from __future__ import annotations

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.commands import ConnName
from tcplab.lab.events import LabEvent
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology
from tcplab.stack import events as H
from tcplab.tcp.segment import SYN, Mss, SackPermitted, Timestamps, WScale


def make_lab() -> tuple[Lab, list[LabEvent]]:
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    seen: list[LabEvent] = []
    lab.bus.subscribe(seen.append)
    lab.start()
    return lab, seen


def syn_options(seen: list[LabEvent], host: str) -> set[type]:
    syns = [e.segment for e in seen if isinstance(e, H.SegmentSent) and e.host == host
            and e.segment.flags & SYN]
    assert syns, f"{host} sent no SYN"
    return {type(o) for o in syns[0].options}


def run(lab: Lab, *lines: str) -> None:
    for line in lines:
        result = lab.execute(line)
        assert result.ok, (line, result.message)


def test_defaults_offer_everything() -> None:
    lab, seen = make_lab()
    run(lab, "listen h2:80", "connect h1 h2:80 as c1", "wait 0.1")
    assert {Mss, SackPermitted, Timestamps, WScale} <= syn_options(seen, "h1")
    assert {Mss, SackPermitted, Timestamps, WScale} <= syn_options(seen, "h2")


def test_per_socket_options_leave_features_out_of_the_handshake() -> None:
    lab, seen = make_lab()
    run(lab, "listen h2:80 sack=off", "connect h1 h2:80 as c1 wscale=off timestamps=off",
        "wait 0.1", "expect c1 ESTABLISHED")
    client = syn_options(seen, "h1")
    assert SackPermitted in client and Timestamps not in client and WScale not in client
    server = syn_options(seen, "h2")  # only what both offered, and never SACK here
    assert server == {Mss}
    _, info, _ = lab.socket_info(ConnName("c1"))
    assert info is not None
    assert (info.status.sack, info.status.timestamps, info.status.snd_wscale) == (False,
                                                                                   False, 0)


def test_host_defaults_apply_to_later_sockets_and_nagle_off_sends_at_once() -> None:
    lab, seen = make_lab()
    run(lab, "tcp h1 sack=off nagle=off", "listen h2:80", "connect h1 h2:80 as c1",
        "wait 0.1")
    assert SackPermitted not in syn_options(seen, "h1")
    # with Nagle off, a second small write leaves before the first is acknowledged
    run(lab, "link h1 s1 delay=50ms", "send c1 a", "send c1 b")
    small = [e for e in seen if isinstance(e, H.SegmentSent) and e.host == "h1"
             and e.segment.payload in (b"a", b"b")]
    assert [e.segment.payload for e in small] == [b"a", b"b"]
    assert small[0].t == small[1].t


def test_a_bad_tcp_option_is_an_error_and_changes_nothing() -> None:
    lab, _ = make_lab()
    result = lab.execute("listen h2:80 sack=maybe")
    assert not result.ok and "on or off" in result.message
    assert lab.sockets() == []


def test_bursty_loss_drops_in_runs_and_turns_off() -> None:
    lab, seen = make_lab()
    run(lab, "listen h2:80", "connect h1 h2:80 as c1", "wait 0.1",
        "link h1 s1 burst=3%,20% dir=h1>s1")
    state = next(s for s in lab.links() if (s.src, s.dst) == ("h1", "s1"))
    assert state.burst == (0.03, 0.2)
    run(lab, "send c1 --bytes 600000", "wait 300", "expect-received c1 600000")
    drops = [e for e in seen if type(e).__name__ == "LinkDropped"]
    assert drops, "bursty loss dropped nothing"
    run(lab, "link h1 s1 burst=0")
    state = next(s for s in lab.links() if (s.src, s.dst) == ("h1", "s1"))
    assert state.burst is None
