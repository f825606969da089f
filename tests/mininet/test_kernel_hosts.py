"""Kernel hosts driven by the command language (needs root and Mininet).

h1 runs tcplab's stack, h2 runs Linux's TCP; the h2 link loses 5% each way (nft bridge
rules: this kernel has no netem).  Every teardown order, both roles: the data arrives
whole (sha256 on both ends), both ends' states are as expected, and Linux's states are
events with the cause ``linux`` -- SYN-RECEIVED too, which lasts less than a poll.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_mininet_lab import Run, topology_file

from tcplab.lab.events import Notice
from tcplab.stack.events import SegmentReceived, SegmentSent, StateChanged, TcbSampled
from tcplab.tcp.states import State

S = State


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tag = f"{random.randrange(1 << 16):04x}"
    path = topology_file(tmp_path_factory.mktemp("topo"), "mixed", f"""
        sw = self.addSwitch("k{tag}")
        self.addLink(self.addHost("h1"), sw)
        self.addLink(self.addHost("h2", kernel=True), sw, loss=5)
    """)
    run = Run(path)
    yield run
    run.stop()


def linux_moves(run: Run, host: str, sid: int) -> list[State]:
    moves = [e for e in run.watch.events if isinstance(e, StateChanged)
             and (e.host, e.sid) == (host, sid)]
    assert all(e.cause == "linux" for e in moves)
    return [moves[0].old, *(e.new for e in moves)] if moves else []


def unacked(run: Run, name: str, accepted: bool) -> int:
    """Bytes one end of ``name`` sent and has not seen acknowledged."""
    host, sid = run.sid(name, accepted)
    rows = {(h, info.id): info for h, info in run.lab.sockets()}
    return rows[(host, sid)].status.send_queue


def linux_path(run: Run, name: str, accepted: bool) -> State:
    """Where a Linux end in FIN-WAIT-1 must pass on, from the segments that reached it.

    The link loses 5%, so h1's released FIN may be lost: the ACK of Linux's FIN then
    comes first (FIN-WAIT-2), or a retransmitted FIN brings both at once (TIME-WAIT,
    which Linux reaches through FIN-WAIT-2).  RFC 9293 §3.10.7.4.
    """
    host, sid = run.sid(name, accepted)
    mine = [e.segment for e in run.watch.events if isinstance(e, SegmentSent)
            and (e.host, e.sid) == (host, sid) and e.segment.flags & 0x01]
    assert mine, "Linux sent its FIN"
    fin_acked = (mine[0].seq + len(mine[0].payload) + 1) & 0xFFFFFFFF
    for e in run.watch.events:
        if not (isinstance(e, SegmentReceived) and (e.host, e.sid) == (host, sid)):
            continue
        acks_fin = bool(e.segment.flags & 0x10) and e.segment.ack == fin_acked
        if e.segment.flags & 0x01:
            return S.TIME_WAIT if acks_fin else S.CLOSING
        if acks_fin:
            return S.FIN_WAIT_2
    raise AssertionError("Linux's end received neither h1's FIN nor the ACK of its own")


# (who connects, who closes first): the four teardown orders of the issue in both roles
CASES = [("h1", "client"), ("h1", "server"), ("h1", "both"), ("h1", "abort"),
         ("h2", "client"), ("h2", "server"), ("h2", "both"), ("h2", "abort")]


@pytest.mark.parametrize(("client", "first"), CASES)
def test_tcplab_and_linux_in_either_role(mixed: Run, client: str, first: str,
                                         tmp_path: Path) -> None:
    server = "h2" if client == "h1" else "h1"
    port = 7000 + CASES.index((client, first))
    name = f"k{port}"
    payload = random.Random(port).randbytes(60_000)
    (tmp_path / "data").write_bytes(payload)
    mixed.connect(name, port, src=client, dst=server)
    mixed.ok(f"send {name} --file {tmp_path / 'data'}")
    mixed.ok(f"send {name}' --file {tmp_path / 'data'}")
    mixed.until(lambda: len(mixed.got(name)) == len(payload)
                and len(mixed.got(name, True)) == len(payload), "the data both ways", 60)
    digest = hashlib.sha256(payload).hexdigest()
    assert hashlib.sha256(mixed.got(name)).hexdigest() == digest
    assert hashlib.sha256(mixed.got(name, True)).hexdigest() == digest
    if first == "abort":
        mixed.ok(f"abort {name}")
        # a RST is sent once and the link loses 5%: if it was lost, data from the other
        # end meets no connection and draws a RST of its own (RFC 9293 §3.10.7.1)
        try:
            mixed.until(lambda: mixed.state(name, True) is S.CLOSED, "the RST taken", 3)
        except AssertionError:
            mixed.ok(f"send {name}' \"x\"")
            mixed.until(lambda: mixed.state(name, True) is S.CLOSED, "the RST taken", 30)
        assert S.ESTABLISHED in mixed.seen(name, True)
        return
    ends = {name: False, f"{name}'": True}  # a name -> is it the accepted side
    if first == "both":
        # a real simultaneous close: what h1 sends waits in its queue until h2 closed too,
        # so each FIN reaches a side in FIN-WAIT-1 (both go through CLOSING)
        stack_end = name if client == "h1" else f"{name}'"
        # every byte acknowledged first: with h1's ACKs held, Linux's FIN would wait
        # behind a lost data segment it could never have acknowledged
        mixed.until(lambda: all(unacked(mixed, name, a) == 0 for a in (False, True)),
                    "both ends' data acknowledged", 30)
        mixed.ok("hold h1>h2 ANY")
        mixed.ok(f"close {stack_end}")
        mixed.ok(f"close {name if stack_end != name else name + chr(39)}")
        # h2's FIN reached h1 (it may take an RTO on the lossy link): h1 is in CLOSING,
        # with its own FIN and its ACK of h2's still held
        mixed.until(lambda: S.CLOSING in mixed.seen(name, stack_end != name)
                    and S.FIN_WAIT_1 in mixed.seen(name, stack_end == name),
                    "h2's FIN at h1", 30)
        mixed.ok("release h1>h2")
        for conn, accepted in ends.items():
            mixed.until(lambda a=accepted: mixed.state(name, a) in (S.TIME_WAIT, S.CLOSED),
                        f"{conn} done", 40)
        # tcplab's end took h2's FIN in FIN-WAIT-1 (its own FIN was held): CLOSING
        assert S.CLOSING in mixed.seen(name, stack_end != name)
        # Linux's end goes where the first of h1's released segments to arrive leads it
        linux_accepted = stack_end == name
        assert linux_path(mixed, name, linux_accepted) in mixed.seen(name, linux_accepted)
        return
    closer = name if first == "client" else f"{name}'"
    other = f"{name}'" if closer == name else name
    mixed.ok(f"close {closer}")
    mixed.until(lambda: mixed.state(name, ends[other]) is S.CLOSE_WAIT, "CLOSE-WAIT", 30)
    mixed.ok(f"close {other}")
    mixed.until(lambda: mixed.state(name, ends[closer]) is S.TIME_WAIT,
                "TIME-WAIT at the side that closed first", 40)
    mixed.until(lambda: mixed.state(name, ends[other]) is S.CLOSED, "the other closed", 40)
    assert S.FIN_WAIT_2 in mixed.seen(name, ends[closer])
    assert S.LAST_ACK in mixed.seen(name, ends[other])


def test_a_kernel_hosts_sockets_and_segments_are_in_the_stream(mixed: Run) -> None:
    mixed.connect("kk", 7100, src="h1", dst="h2")
    host, sid = mixed.sid("kk", accepted=True)
    assert host == "h2"
    moves = linux_moves(mixed, "h2", sid)
    # the tracepoint makes SYN-RECEIVED visible (a poll every 100 ms would miss it)
    assert moves[:3] == [S.LISTEN, S.SYN_RECEIVED, S.ESTABLISHED]
    rows = {(h, info.id): info for h, info in mixed.lab.sockets()}
    assert rows[("h2", sid)].state is S.ESTABLISHED
    segs = [e for e in mixed.watch.events if isinstance(e, SegmentSent | SegmentReceived)
            and e.host == "h2" and e.sid == sid]
    assert any(isinstance(e, SegmentSent) and e.segment.flags & 0x12 == 0x12 for e in segs)
    # its sequence variables come from those segments: ISS from its SYN,ACK, IRS from
    # the SYN, and after some data each way SND.UNA = SND.NXT and RCV.NXT past the data
    syn_ack = next(e.segment for e in segs if isinstance(e, SegmentSent))
    syn = next(e.segment for e in segs if isinstance(e, SegmentReceived))
    # every time is the kernel's: SYN-RECEIVED from the SYN's arrival (Linux's tracepoint
    # says so only when the ACK comes), before its SYN,ACK; ESTABLISHED after the ACK
    t_syn = next(e.t for e in segs if isinstance(e, SegmentReceived))
    t_syn_ack = next(e.t for e in segs if isinstance(e, SegmentSent))
    t_ack = [e.t for e in segs if isinstance(e, SegmentReceived)][1]
    when = {e.new: e.t for e in mixed.watch.events if isinstance(e, StateChanged)
            and (e.host, e.sid) == ("h2", sid)}
    assert t_syn == when[S.SYN_RECEIVED] <= t_syn_ack < t_ack <= when[S.ESTABLISHED]
    mixed.ok('send kk "hello"')
    mixed.ok("send kk' \"hi\"")
    def settled() -> bool:
        st = {(h, i.id): i for h, i in mixed.lab.sockets()}[("h2", sid)].status
        return (st.snd_una, st.snd_nxt, st.rcv_nxt) == (
            (syn_ack.seq + 3) & 0xFFFFFFFF, (syn_ack.seq + 3) & 0xFFFFFFFF,
            (syn.seq + 6) & 0xFFFFFFFF)
    mixed.until(settled, "h2's variables after the data", 15)
    status = {(h, i.id): i for h, i in mixed.lab.sockets()}[("h2", sid)].status
    assert (status.iss, status.irs) == (syn_ack.seq, syn.seq) and status.snd_wnd > 0
    samples = [e for e in mixed.watch.events if isinstance(e, TcbSampled)
               and (e.host, e.sid) == ("h2", sid)]
    assert samples and samples[-1].iss == syn_ack.seq and samples[-1].rcv_nxt == status.rcv_nxt
    notices = [e.text for e in mixed.watch.events if isinstance(e, Notice)]
    assert any("h2 runs Linux's TCP; state changes from the sock:inet_sock_set_state "
               "tracepoint (exact)" in n for n in notices)
    mixed.ok("abort kk")
