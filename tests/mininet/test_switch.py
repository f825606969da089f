"""``tcplab run --switch``: Open vSwitch when asked and usable, a one-line fix otherwise.

This machine has no Open vSwitch, so the real OVS lab is not built here; what is tested
is the way there: a missing ``ovs-vsctl`` and an OVS that does not answer each stop the
run before anything is built, with one line naming the fix, and the simulated network
takes the flag with a notice.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from tcplab.backends.mininet import net as N
from tcplab.backends.mininet.backend import MininetBackend, MininetError
from tcplab.backends.mininet.clean import runtime_base
from tcplab.cli.run import main
from tcplab.lab.events import EventBus
from tcplab.lab.lab import Lab
from tcplab.lab.topology import load_topology

NOT_INSTALLED = "ovs-vsctl not found (apt-get install openvswitch-switch)"
NOT_RUNNING = ("Open vSwitch is not running (start it: "
               "/usr/share/openvswitch/scripts/ovs-ctl start --system-id=random)")


@pytest.fixture
def no_ovs(monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which
    monkeypatch.setattr(N.shutil, "which",
                        lambda name: None if name == "ovs-vsctl" else real(name))


@pytest.fixture
def ovs_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``ovs-vsctl`` that fails the way it does when ovsdb-server is not running."""
    fake = tmp_path / "ovs-vsctl"
    fake.write_text("#!/bin/sh\necho 'ovs-vsctl: unix:/var/run/openvswitch/db.sock: database "
                    "connection failed (No such file or directory)' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


def run_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_ovs_not_installed_stops_the_run_with_the_fix(
        no_ovs: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert N.ovs_unusable() == NOT_INSTALLED
    before = set(os.listdir(runtime_base())) if runtime_base().is_dir() else set()
    status, _out, err = run_lines(capsys, "--backend", "mininet", "--switch", "ovs")
    assert status == 2
    assert err == f"tcplab run: cannot use Open vSwitch: {NOT_INSTALLED}\n"
    after = set(os.listdir(runtime_base())) if runtime_base().is_dir() else set()
    assert after == before     # nothing was built


def test_ovs_not_running_stops_the_run_with_the_fix(
        ovs_down: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert N.ovs_unusable() == NOT_RUNNING
    status, _out, err = run_lines(capsys, "--switch", "ovs")   # auto picks Mininet as root
    assert status == 2
    assert err == f"tcplab run: cannot use Open vSwitch: {NOT_RUNNING}\n"


def test_the_backend_checks_too_before_building(ovs_down: None) -> None:
    backend = MininetBackend(switch="ovs")
    lab = Lab(load_topology("pair"), backend, EventBus())
    with pytest.raises(MininetError, match=r"^cannot use Open vSwitch: Open vSwitch is not "):
        lab.start()
    assert backend.network is None and not (runtime_base() / backend.lab_id).exists()
    with pytest.raises(ValueError, match="switch must be one of linuxbridge, ovs"):
        MininetBackend(switch="openflow")


def test_the_simulated_network_takes_the_flag_with_a_notice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.txt"
    scenario.write_text("listen h2:80\n")
    status, out, _err = run_lines(capsys, "--backend", "sim", "--switch", "ovs", "--headless",
                                  "--scenario", str(scenario))
    assert status == 0
    assert "--switch ovs is ignored: the simulated network has no Mininet switches" in out
    with pytest.raises(SystemExit) as exited:
        main(["--switch", "cisco"])
    assert exited.value.code == 2 and "invalid choice: 'cisco'" in capsys.readouterr().err
