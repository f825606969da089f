"""``tcplab run --stack HOST=linux|tcplab``: which hosts run Linux's TCP."""

from __future__ import annotations

import re

import pytest

from tcplab.cli import main
from tcplab.cli.run import apply_stacks
from tcplab.lab.topology import load_topology


def kernels(choices: list[str]) -> dict[str, bool]:
    topo = apply_stacks(load_topology(None), choices)
    return {h.name: h.kernel for h in topo.hosts}


def test_choices_apply_in_order() -> None:
    assert kernels([]) == {"h1": False, "h2": False}
    assert kernels(["h2=linux"]) == {"h1": False, "h2": True}
    assert kernels(["all=linux"]) == {"h1": True, "h2": True}
    assert kernels(["all=linux", "h1=tcplab"]) == {"h1": False, "h2": True}


@pytest.mark.parametrize(("choice", "says"), [
    ("h2", "write HOST=linux or HOST=tcplab"),
    ("h2=bsd", "write HOST=linux or HOST=tcplab"),
    ("h9=linux", "no host 'h9' in pair (hosts: h1, h2)"),
])
def test_mistakes_are_refused_with_the_reason(choice: str, says: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(says)):
        apply_stacks(load_topology(None), [choice])



def test_linux_on_the_simulated_network_is_refused_before_anything_runs(
        capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "--backend", "sim", "--stack", "h2=linux", "--headless", "--scenario",
               "scenarios/handshake.scn"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "h2 would run Linux's TCP, which needs the Mininet backend" in err
    assert "Traceback" not in err
