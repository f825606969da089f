"""A connection is composed, not inherited: one TCB shared by a sending part and a
receiving part, the receiver calling the sender and never the other way, and the
connection's public attributes reading the parts' variables without letting anyone
outside write them."""

from __future__ import annotations

import ast
import inspect

import pytest

from tcplab.tcp import arrival, recovery, sender, tcb
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.states import State

# every public name of Connection before it was split into parts (issue 13)
PUBLIC = ("abort", "board", "cc", "close", "config", "connect", "error", "flush",
          "get_timer", "handle_timer", "icmp_error", "in_flight", "irs", "iss", "listen",
          "local", "max_snd_wnd", "next_event", "open_from_cookie", "passive", "prr",
          "rack", "rcv_adv", "rcv_nxt", "rcv_room", "rcv_up", "rcv_window", "rcv_wscale",
          "readable", "receive", "recv", "remote", "retransmits", "rtt", "sack_ok",
          "segments_to_send", "send", "send_queue", "settings_changed", "shutdown",
          "snd_max", "snd_mss", "snd_nxt", "snd_una", "snd_up", "snd_wl1", "snd_wl2",
          "snd_wnd", "snd_wscale", "snd_wscale_offered", "spawn", "state", "status",
          "syn_ack_for_cookie", "syn_acked", "takes_new_syn", "ts_ok", "ts_recent",
          "urgent_pending", "urgent_signals")


def _connected(cfg: Config) -> tuple[Connection, Connection]:
    """A client and a server through the three-way handshake at time 0."""
    listener = Connection(("10.0.0.2", 80), cfg)
    listener.listen(0.0)
    client = Connection(("10.0.0.1", 4000), cfg)
    client.connect(("10.0.0.2", 80), 0.0)
    syn = client.segments_to_send()[0]
    server = listener.spawn(("10.0.0.1", 4000))
    server.receive(syn, 0.0)
    for seg in server.segments_to_send():
        client.receive(seg, 0.0)
    for seg in client.segments_to_send():
        server.receive(seg, 0.0)
    assert client.state is State.ESTABLISHED and server.state is State.ESTABLISHED
    return client, server


def _imports(module: object) -> set[str]:
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    return {node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module}


def test_the_parts_share_one_tcb() -> None:
    client, server = _connected(Config())
    for conn in (client, server):
        assert isinstance(conn.tcb, tcb.Tcb)
        assert conn.tx.tcb is conn.tcb and conn.rx.tcb is conn.tcb
        assert conn.rx.tx is conn.tx
        assert not isinstance(conn, (sender.Sender, arrival.Arrival, tcb.Tcb))
    assert client.tcb is not server.tcb


def test_the_sender_never_reaches_the_receiver() -> None:
    for module in (sender, recovery, tcb):
        assert "tcplab.tcp.arrival" not in _imports(module)
        assert "tcplab.tcp.connection" not in _imports(module)
    assert "rx" not in sender.Sender.__slots__ + recovery.LossRecovery.__slots__
    assert "tcplab.tcp.connection" not in _imports(arrival)


def test_loss_recovery_is_a_part_of_the_sender_not_its_base() -> None:
    client, _server = _connected(Config())
    loss = client.tx.loss
    assert isinstance(loss, recovery.LossRecovery)
    assert recovery.LossRecovery not in type(client.tx).__mro__
    # it shares the TCB, and resends through the sender that owns it
    assert loss.tcb is client.tcb and loss.out is client.tx
    assert "tcplab.tcp.sender" not in _imports(recovery)
    # the Transmit interface it is given is what the sender offers
    assert {"send_data_segment", "send_fin", "send_syn"} <= set(dir(sender.Sender))


def test_the_public_api_is_what_it_was() -> None:
    conn = Connection(("10.0.0.1", 1))
    missing = [name for name in PUBLIC if not hasattr(conn, name)]
    assert missing == []


def test_the_views_read_the_parts() -> None:
    client, server = _connected(Config())
    client.send(b"x" * 5000, 0.0)
    for seg in client.segments_to_send():
        server.receive(seg, 0.0)
    t = client.tcb
    assert (client.snd_una, client.snd_nxt, client.snd_max) == (t.snd_una, t.snd_nxt, t.snd_max)
    sent = client.in_flight  # (Nagle holds back the last partial segment)
    assert 0 < sent == t.in_flight == (t.snd_nxt - t.snd_una) & 0xFFFFFFFF
    assert client.cc is client.tx.loss.cc and client.rtt is client.tx.loss.rtt
    assert server.rcv_nxt == server.tcb.rcv_nxt == (client.iss + 1 + sent) & 0xFFFFFFFF
    assert server.readable == sent and client.send_queue == 5000
    assert client.state is State.ESTABLISHED is t.state


@pytest.mark.parametrize("name", ["snd_una", "rcv_nxt", "cc", "error", "urgent_signals",
                                  "in_flight", "state", "rtt"])
def test_nothing_outside_writes_a_part_through_the_connection(name: str) -> None:
    conn = Connection(("10.0.0.1", 1))
    before = getattr(conn, name)
    with pytest.raises(AttributeError):
        setattr(conn, name, before)


def test_the_host_may_rebind_a_childs_address_and_config() -> None:
    listener = Connection(("0.0.0.0", 80))
    listener.listen(0.0)
    child = listener.spawn(("10.0.0.9", 4000))
    cfg = Config()
    child.local = ("10.0.0.2", 80)
    child.config = cfg
    assert child.tcb.local == ("10.0.0.2", 80) and child.tcb.config is cfg

