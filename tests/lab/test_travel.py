"""Moving the clock on purpose: pause, step, breakpoints, and waits run a slice at a time.

The simulated network over zero-delay links is the hard case throughout: a whole
handshake, a simultaneous close or a transfer happens at one virtual instant, so what
is checked is that the clock stops *between scheduler entries*, not between instants.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import pytest

from tcplab.backends.sim import backend as sim_backend
from tcplab.backends.sim.backend import SimBackend
from tcplab.lab.events import BreakHit, CommandDone, EventBus, LabEvent
from tcplab.lab.lab import Lab, Result
from tcplab.lab.topology import load_topology
from tcplab.netem.clock import Scheduler
from tcplab.stack import events as H
from tcplab.tcp.states import State


class Run:
    """A started lab on the pair topology (zero-delay links) and every event."""

    def __init__(self, virtual: bool = True) -> None:
        self.backend = SimBackend(1, virtual=virtual)
        self.lab = Lab(load_topology("pair"), self.backend)
        self.events: list[LabEvent] = []
        self.lab.bus.subscribe(self.events.append)
        self.lab.start()

    def ok(self, *lines: str) -> Result:
        result = Result(True, "")
        for line in lines:
            result = self.lab.execute(line)
            assert result.ok, f"{line}: {result.message}"
        return result

    def of(self, cls: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    def established(self) -> None:
        self.ok("listen h2:80", "connect h1 h2:80 as c1", "wait 1", "expect c1 ESTABLISHED")


# ------------------------------------------------------------------------------ pause

def test_pause_under_virtual_time_never_moves_the_clock(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    run = Run()
    run.established()
    run.ok("close c1", "wait 0.05", "close c1'", "wait 0.05", "expect c1 TIME-WAIT")
    assert run.lab.now() == 1.1
    # the lab has been open for half a minute of wall time: that must not matter
    later = time.monotonic() + 30
    monkeypatch.setattr(sim_backend.time, "monotonic", lambda: later)
    before = len(run.events)
    run.ok("pause")
    assert run.lab.now() == 1.1
    run.backend.catch_up()
    run.lab.sync()
    assert run.lab.now() == 1.1
    run.ok("resume")
    run.backend.catch_up()
    assert run.lab.now() == 1.1
    assert run.ok("expect c1 TIME-WAIT").ok  # not expired by a jump to t=31
    assert not [e for e in run.events[before:] if isinstance(e, H.StateChanged)]


def test_pause_under_real_time_freezes_the_clock_where_it_is() -> None:
    run = Run(virtual=False)
    run.ok("pause")
    frozen = run.lab.now()
    time.sleep(0.02)
    run.lab.sync()
    assert run.lab.now() == frozen
    run.ok("resume")
    time.sleep(0.02)
    run.lab.sync()
    assert run.lab.now() > frozen


# ------------------------------------------------------------------------------- step

def test_step_on_the_real_clock_is_refused_unless_paused() -> None:
    run = Run(virtual=False)
    result = run.lab.execute("step")
    assert result == Result(False, "step works while the clock is paused: pause first")
    assert run.of(CommandDone)[-1].message == result.message


def test_step_under_virtual_time_needs_no_pause() -> None:
    run = Run()  # that clock never moves by itself
    run.ok("listen h2:80", "connect h1 h2:80 as c1")
    assert " S " in run.ok("step").message


def test_step_runs_one_event_and_says_what_it_was() -> None:
    run = Run()
    run.ok("listen h2:80", "connect h1 h2:80 as c1", "pause")
    # ARP goes first and publishes nothing: the first step is the entry that sent the SYN
    first = run.ok("step").message
    assert first.startswith("t=0.000 h1 sent 10.0.0.1:") and " S " in first
    second = run.ok("step").message
    assert second.startswith("t=0.000 h2 received ")
    assert "h2 socket 2 LISTEN -> SYN-RECEIVED (rcv SYN)" in second
    assert run.lab.socket_info(run_c1())[1].state is State.SYN_SENT  # type: ignore[union-attr]
    assert run.lab.now() == 0.0


def run_c1() -> Any:
    from tcplab.lab import commands as C

    return C.ConnName("c1")


def test_step_n_and_step_duration() -> None:
    run = Run()
    run.ok("link h1 s1 delay=10ms", "listen h2:80", "connect h1 h2:80 as c1", "pause")
    message = run.ok("step 2").message
    # ARP there and back, then the SYN (10 ms each way on h1-s1)
    assert message.startswith("2 events to t=0.030000; the last: t=0.030 h2 received")
    message = run.ok("step 100ms").message
    assert message.startswith("ran the clock 100ms to t=0.130000 (")
    assert run.lab.now() == pytest.approx(0.13)
    run.ok("expect c1 ESTABLISHED")
    assert run.ok("step").message == ("nothing to run: no frame is in flight and no timer "
                                      "is armed")


class NoScheduler:
    """The parts of a backend the refusals need, like Mininet's: no scheduler."""

    name = "mininet"
    virtual = False
    paused = False
    ips: ClassVar[dict[str, str]] = {}

    def now(self) -> float:
        return 0.0

    def catch_up(self) -> None:
        pass

    def end_instant(self) -> None:
        pass

    def replica(self) -> None:
        return None


@pytest.mark.parametrize(("line", "reason"), [
    ("step", "step needs the simulated backend: Mininet hosts run on the wall clock"),
    ("break send FIN", "break needs the simulated backend: Mininet hosts run on the wall "
                       "clock"),
    ("rewind 1", "rewind needs the simulated backend: Mininet hosts run on the wall clock "
                 "and cannot be re-run"),
])
def test_mininet_refuses_with_the_reason(line: str, reason: str) -> None:
    lab = Lab(load_topology("pair"), NoScheduler(), EventBus())  # type: ignore[arg-type]
    result = lab.execute(line)
    assert not result.ok
    assert result.message.startswith(reason)


# ------------------------------------------------------------------------- breakpoints

def test_a_breakpoint_stops_a_wait_in_the_middle_of_an_instant() -> None:
    run = Run()
    run.established()
    run.ok("break c1 CLOSING", "close c1", "close c1'")
    result = run.ok("wait 10")
    assert result.message.startswith("stopped at t=1.000000 by breakpoint 1 "
                                     "(break c1 CLOSING): h1 10.0.0.1:")
    assert run.lab.now() == 1.0
    run.ok("expect c1 CLOSING")  # zero-delay links: CLOSING lasts zero time
    hit = run.of(BreakHit)
    assert [(h.number, h.spec, h.host, h.sid) for h in hit] == [
        (1, "break c1 CLOSING", "h1", 1)]
    assert "FIN-WAIT-1 -> CLOSING" in hit[0].detail
    # the hit comes after the state change that fired it and before the wait's result
    i = run.events.index(hit[0])
    into_closing = [j for j, e in enumerate(run.events) if isinstance(e, H.StateChanged)
                    and e.host == "h1" and e.new is State.CLOSING]
    assert into_closing and into_closing[0] < i
    done = run.events[i + 1:]
    assert next(e.line for e in done if isinstance(e, CommandDone)) == "wait 10"
    run.ok("wait 1", "expect c1 TIME-WAIT")  # the rest of the instant, then on


def test_breakpoint_on_the_accepted_side_before_it_exists() -> None:
    run = Run()
    message = run.ok("break c1' ESTABLISHED").message
    assert message == "breakpoint 1: break c1' ESTABLISHED (c1' names no connection yet)"
    run.ok("listen h2:80", "connect h1 h2:80 as c1")
    assert "by breakpoint 1 (break c1' ESTABLISHED): h2 " in run.ok("wait 5").message
    assert run.lab.now() == 0.0


def test_break_send_and_break_drop() -> None:
    run = Run()
    run.established()
    run.ok("break send FIN", "break drop", "drop h2>h1 ACK")
    # the command itself sends the FIN: the hit comes with its result
    run.ok("close c1")
    assert [h.spec for h in run.of(BreakHit)] == ["break send FIN"]
    assert run.of(BreakHit)[0].detail.startswith("h1 sent ")
    message = run.ok("wait 5").message
    assert "by breakpoint 2 (break drop): link h2>s1 dropped (filter)" in message
    assert run.of(BreakHit)[-1].sid is None and run.of(BreakHit)[-1].host == ""
    assert run.ok("breaks").message == "1: break send FIN; 2: break drop"
    assert run.ok("unbreak 1").message == "removed breakpoint 1 (break send FIN)"
    assert run.lab.execute("unbreak 1") == Result(False, "no breakpoint 1 (breaks lists them)")
    assert run.ok("unbreak all").message == "removed 1 breakpoint"
    assert run.ok("breaks").message == "no breakpoints"


def test_break_any_state() -> None:
    run = Run()
    run.ok("break any SYN-RECEIVED", "listen h2:80", "connect h1 h2:80 as c1")
    assert "breakpoint 1 (break any SYN-RECEIVED): h2 " in run.ok("wait 1").message


# ----------------------------------------------------------------- slices and interrupt

def test_a_wait_runs_in_slices_and_can_be_interrupted_mid_instant() -> None:
    run = Run()
    run.established()
    run.ok("send c1 --bytes 99999999999")  # zero-delay: all of it at one instant
    lab = run.lab
    before = len(run.events)
    lab.start_wait(10)
    assert lab.waiting
    started = time.perf_counter()
    assert lab.run_slice(0.05) is False
    assert time.perf_counter() - started < 0.5
    assert lab.now() == 1.0 and lab.waiting
    # another command while it runs: refused, nothing published
    refused = lab.execute("close c1")
    assert not refused.ok and "'wait 10' is running" in refused.message
    assert not [e for e in run.events[before:] if isinstance(e, CommandDone)]
    lab.interrupt()
    assert not lab.waiting
    done = run.of(CommandDone)[-1]
    assert done.line == "wait 10" and done.t == 1.0
    assert done.message.startswith("interrupted at t=1.000000 after ")
    assert done.message.endswith(" scheduler entries")
    assert lab.last_result == Result(True, done.message)
    assert lab.run_slice(0.05) is True  # nothing running


def test_execute_drives_the_slices_to_the_end() -> None:
    run = Run()
    run.established()
    run.ok("send c1 --bytes 2000000")
    assert run.ok("wait 2").message == "waited 2 s"
    assert run.lab.now() == 3.0
    run.ok("expect-received c1 2000000")


def test_stop_ends_a_running_wait_with_its_event() -> None:
    run = Run()
    run.established()
    run.ok("send c1 --bytes 99999999999")
    run.lab.start_wait(5)
    run.lab.run_slice(0.01)
    run.lab.stop()
    assert run.of(CommandDone)[-1].message.startswith("interrupted at t=1.000000")


def test_the_scheduler_stops_between_entries_of_one_instant() -> None:
    sched = Scheduler()
    ran: list[int] = []

    def entry(i: int) -> None:
        ran.append(i)
        if i == 2:
            sched.stop = True
    for i in range(5):
        sched.call_at(1.0, lambda i=i: entry(i))
    assert sched.run_until(2.0) is False
    assert ran == [0, 1, 2] and sched.now == 1.0
    sched.stop = False
    assert sched.run(2.0, 1) == 1 and ran == [0, 1, 2, 3]
    assert sched.run_until(2.0) is True and sched.now == 2.0 and ran == [0, 1, 2, 3, 4]
