"""backends/mininet/netlink.py in a scratch namespace (root)."""

from __future__ import annotations

import json
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


def test_the_netem_helper_puts_a_qdisc_there_or_says_the_kernel_has_none(ns: str) -> None:
    # run as the backend runs it in a Mininet host: inside the namespace, by command line
    with N.route(ns) as ipr:
        ipr.link("add", ifname="tl0", kind="veth", peer="tl1")
    params = {"limit": 500, "delay": 20000, "jitter": 1000, "loss": 2.5, "rate": "8000000bit"}
    pid = ns.split("/")[2]
    done = subprocess.run(["nsenter", "--net", f"--target={pid}",
                           *N.helper("netem", "tl0", json.dumps(params))],
                          capture_output=True, text=True, timeout=30, check=False)
    if N.netem_missing() is not None:
        assert (done.returncode, done.stderr.strip()) == (1, "netem on tl0: this kernel has no "
                                                             "netem")
        return
    assert done.returncode == 0, done.stderr
    with N.route(ns) as ipr:
        kinds = [q.get_attr("TCA_KIND") for q in ipr.get_qdiscs(
            index=ipr.link_lookup(ifname="tl0")[0])]
    assert "netem" in kinds


def test_the_netem_helper_names_a_missing_interface_and_refuses_nonsense(ns: str) -> None:
    pid = ns.split("/")[2]
    enter = ["nsenter", "--net", f"--target={pid}"]
    done = subprocess.run([*enter, *N.helper("netem", "nope0", "{}")], capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 1 and done.stderr.startswith("netem on nope0: ")
    done = subprocess.run([*enter, *N.helper("sideways")], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 2 and "usage" in done.stderr


def test_a_netem_request_carries_the_rate_in_netem_and_no_estimator() -> None:
    msg = N.netem_request(7, {"delay": 20000, "loss": 2.5, "rate": "8000000bit",
                              "limit": 500})
    msg.encode()
    back = type(msg)(msg.data)
    back.decode()
    assert (back["index"], back["parent"], back.get_attr("TCA_KIND")) == (7, 0xFFFFFFFF,
                                                                          "netem")
    assert back.get_attr("TCA_RATE") is None  # an estimator: the kernel says ERANGE
    opts = back.get_attr("TCA_OPTIONS")
    assert opts["limit"] == 500 and opts["loss"] == int((2**32 - 1) * 0.025)
    assert opts.get_attr("TCA_NETEM_RATE")["rate"] == 1_000_000  # bytes/s
