"""The teardown-race scenarios with Linux at either end (needs root and Mininet):
``tcplab run --backend mininet --stack HOST=linux --headless --scenario FILE`` exits 0,
every expect line holding against Linux's TCP.  The ones that wait out a 60 s TIME-WAIT
run once each, for time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = [(s, h) for s in ("lost-fin", "rst-race", "half-close") for h in ("h1", "h2")]
CASES += [("simultaneous-close", "h2"), ("lost-last-ack", "h1"),
          ("time-wait-assassination", "h1")]


@pytest.mark.parametrize(("scenario", "host"), CASES)
def test_scenario_holds_with_linux_at(scenario: str, host: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tcplab", "run", "--backend", "mininet", "--stack",
         f"{host}=linux", "--headless", "--scenario", f"scenarios/{scenario}.scn"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    fails = [line for line in done.stdout.splitlines() if "FAIL" in line or "error" in line]
    assert done.returncode == 0, "\n".join(fails) or done.stderr[-2000:]
    assert done.stdout.splitlines()[-1].endswith("all expectations held")
    assert f"{host} runs Linux's TCP" in done.stdout
