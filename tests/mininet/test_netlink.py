"""backends/mininet/netlink.py in a scratch namespace (root)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcplab.backends.mininet import netlink as N


@pytest.fixture
def ns() -> Iterator[str]:
    proc = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    path = f"/proc/{proc.pid}/ns/net"
    deadline = time.monotonic() + 5
    while Path(path).resolve() == Path("/proc/self/ns/net").resolve():
        assert time.monotonic() < deadline
        time.sleep(0.01)  # until unshare has made the namespace
    try:
        yield path
    finally:
        proc.kill()
        proc.wait()


def test_links_are_made_seen_and_deleted_with_their_peer(ns: str) -> None:
    with N.route(ns) as ipr:
        ipr.link("add", ifname="tl0", kind="veth", peer="tl1")
    assert {"tl0", "tl1"} <= set(N.link_names(ns))
    assert N.delete_link("tl0", ns) is True
    assert not {"tl0", "tl1"} & set(N.link_names(ns))
    assert N.delete_link("tl0", ns) is False


def test_a_rate_is_an_htb_class_and_can_be_changed(ns: str) -> None:
    with N.route(ns) as ipr:
        ipr.link("add", ifname="tl0", kind="veth", peer="tl1")
    for rate in (10_000_000, 2_000_000):
        N.set_rate(ns, "tl0", rate)
        with N.route(ns) as ipr:
            index = ipr.link_lookup(ifname="tl0")[0]
            (cls,) = ipr.get_classes(index=index)
            assert cls.get_nested("TCA_OPTIONS", "TCA_HTB_PARMS")["rate"] == rate // 8


def test_the_netem_probe_answers_yes_or_no_and_leaves_nothing() -> None:
    # either netem works or the kernel lacks it: never "cannot test" (a probe that broke)
    assert N.netem_missing() in (None, "this kernel has no netem")
    assert not [n for n in Path("/run/netns").glob("tcplab-probe-*")]
