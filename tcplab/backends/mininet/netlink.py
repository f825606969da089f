"""The Mininet backend's netlink work, through pyroute2.

Links are inspected and deleted, scratch namespaces made, and qdiscs (netem where the
kernel has it, htb for a bandwidth) set with netlink messages, not by running ``ip``
and ``tc``: errors come back as numbers, not as text to parse, and nothing depends on
the version of iproute2.  A namespace is named by a path (``/proc/PID/ns/net`` of a
Mininet host's shell) or None for the root namespace.  ``nft`` and ``ethtool`` stay
command lines: pyroute2 speaks neither's netlink family in full.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute, NetNS
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_NEWQDISC, TC_H_ROOT
from pyroute2.netlink.rtnl.tcmsg import sched_netem, tcmsg


@contextmanager
def route(ns: str | None = None) -> Iterator[Any]:
    """An rtnetlink socket in the root namespace (None) or the one at path ``ns`` (for
    which pyroute2 forks a helper: not in a process with signal handlers of its own)."""
    sock = IPRoute() if ns is None else NetNS(ns)
    try:
        yield sock
    finally:
        sock.close()


def link_names(ns: str | None = None) -> list[str]:
    with route(ns) as ipr:
        return [str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()]


def delete_link(name: str, ns: str | None = None) -> bool:
    """Delete interface ``name`` (a veth's peer goes with it); True when it existed."""
    with route(ns) as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            return False
        try:
            ipr.link("del", index=found[0])
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return False  # gone meanwhile (its veth peer was deleted)
            raise
        return True


def helper(*args: str) -> list[str]:
    """The command line running this module with ``args`` (in a namespace of its own:
    ``unshare``, or a Mininet host's through ``mnexec``), importable from a checkout."""
    root = str(Path(__file__).resolve().parents[3])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return ["env", f"PYTHONPATH={path}", sys.executable, "-m", __name__, *args]


def netem_missing() -> str | None:
    """None when this kernel has netem, else why not (one line).  Found out on a veth pair
    in a scratch namespace (``unshare --net``, a child process: pyroute2 would fork the
    lab itself to enter a new namespace), so no lab interface is touched."""
    try:
        done = subprocess.run(["unshare", "--net", *helper("probe")], capture_output=True,
                              text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot test for netem ({exc})"
    answer = done.stdout.strip()
    if done.returncode == 0 and answer:
        return None if answer == "ok" else answer
    lines = done.stderr.strip().splitlines()
    return f"cannot test for netem ({lines[-1] if lines else f'status {done.returncode}'})"


def _probe() -> str:
    """In a fresh namespace: "ok" when a netem qdisc can be added, else why not."""
    with route() as ipr:
        ipr.link("add", ifname="tcplab0", kind="veth", peer="tcplab1")
        try:
            ipr.nlm_request_batch([netem_request(ipr.link_lookup(ifname="tcplab0")[0],
                                                 {"delay": 1000, "rate": "1000000bit"})])
        except NetlinkError as exc:
            if exc.code == errno.ENOENT:  # "Specified qdisc kind is unknown"
                return "this kernel has no netem"
            return f"netem test failed: {exc}"
    return "ok"


def netem_request(index: int, params: dict[str, Any]) -> tcmsg:
    """The RTM_NEWQDISC message of ``tc qdisc replace dev INDEX root netem ...``, from
    pyroute2's netem keywords (``delay``/``jitter`` in µs, ``loss``/``duplicate``/
    ``prob_reorder`` in percent, ``limit`` in packets, ``rate`` as "<n>bit").

    Built by hand: pyroute2's ``tc("replace", "netem", rate=...)`` also sends ``rate``
    as a TCA_RATE rate estimator, which the kernel refuses (ERANGE)."""
    msg = tcmsg()
    msg["index"] = index
    msg["parent"] = TC_H_ROOT
    msg["handle"] = 0
    msg["attrs"] = [["TCA_KIND", "netem"], ["TCA_OPTIONS", sched_netem.get_parameters(params)]]
    msg["header"]["type"] = RTM_NEWQDISC
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
    return msg


def replace_netem(ns: str | None, ifname: str, params: dict[str, Any]) -> None:
    """Put a netem qdisc with ``params`` (:func:`netem_request`) at ``ifname``'s root."""
    with route(ns) as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise NetlinkError(errno.ENODEV, f"no interface {ifname}")
        ipr.nlm_request_batch([netem_request(found[0], params)])


def set_rate(ns: str | None, ifname: str, bits_per_s: int) -> None:
    """An htb root qdisc limiting ``ifname`` to ``bits_per_s`` (one default class)."""
    with route(ns) as ipr:
        index = ipr.link_lookup(ifname=ifname)[0]
        kinds = {q.get_attr("TCA_KIND") for q in ipr.get_qdiscs(index=index)
                 if q["parent"] == 0xFFFFFFFF}
        if "htb" not in kinds:  # a second `replace` of an htb root is refused: change its class
            ipr.tc("replace", "htb", index, 0x10000, default=0x10001)
        ipr.tc("replace-class", "htb", index, 0x10001, parent=0x10000,
               rate=f"{bits_per_s}bit", ceil=f"{bits_per_s}bit", burst=16 * 1514)


def main(argv: list[str]) -> int:
    """``probe`` (in a fresh namespace: is there netem?) or ``netem IFNAME JSON`` (in the
    namespace it is run in: put that netem qdisc on IFNAME).  One line out, or one on
    stderr and status 1."""
    try:
        if argv == ["probe"]:
            print(_probe())
            return 0
        if len(argv) == 3 and argv[0] == "netem":
            replace_netem(None, argv[1], json.loads(argv[2]))
            return 0
    except NetlinkError as exc:
        why = "this kernel has no netem" if exc.code == errno.ENOENT else str(exc)
        print(f"netem on {argv[1]}: {why}", file=sys.stderr)
        return 1
    print("usage: netlink probe | netlink netem IFNAME JSON", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
