"""A name keeps pointing at its own connection, and `send --file` takes regular files."""

from __future__ import annotations

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology


def make_lab() -> Lab:
    lab = Lab(load_topology("pair"), SimBackend(1, virtual=True))
    lab.start()
    return lab


def test_accepted_side_is_not_confused_with_a_later_connection_on_the_same_ports() -> None:
    lab = make_lab()
    for line in ("listen h2:80", "connect h1:5000 h2:80 as c1", "wait 0.2", 'send c1 "abc"',
                 "wait 0.2", "close c1", "close c1'", "wait 70",
                 "connect h1:5000 h2:80 as c2", "wait 0.2", "expect c2' ESTABLISHED"):
        result = lab.execute(line)
        assert result.ok, (line, result.message)
    # c1' is still the first accepted socket (closed), not the new one on the same ports
    assert lab.execute("expect c1' CLOSED").ok
    assert lab.execute("expect-received c1 3").ok
    assert lab.execute("expect-received c2 0").ok


def test_send_file_refuses_what_is_not_a_regular_file() -> None:
    lab = make_lab()
    for line in ("listen h2:80", "connect h1 h2:80 as c1", "wait 0.2"):
        assert lab.execute(line).ok
    result = lab.execute("send c1 --file /dev/zero")
    assert not result.ok and "not a regular file" in result.message
    result = lab.execute("send c1 --file /no/such/file")
    assert not result.ok
