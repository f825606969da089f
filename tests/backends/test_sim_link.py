"""One link direction: every impairment, live changes, filters, determinism."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tcplab.netem.clock import Scheduler
from tcplab.netem.link import GilbertElliott, Link, LinkDirection, LinkParams


class Wire:
    """A direction plus a record of what it delivered and dropped, and when."""

    def __init__(self, seed: int = 1, **params: Any) -> None:
        self.sched = Scheduler()
        self.delivered: list[tuple[float, bytes]] = []
        self.dropped: list[tuple[float, bytes, str]] = []
        self.dir = LinkDirection(
            "a>b",
            self.sched,
            random.Random(seed),
            LinkParams(**params),
            lambda f: self.delivered.append((self.sched.now, f)),
            lambda f, r: self.dropped.append((self.sched.now, f, r)),
        )

    def send_at(self, t: float, frame: bytes) -> None:
        self.sched.run_until(t)
        self.dir.send(frame, t)

    def finish(self) -> None:
        self.sched.run_until_idle(limit=1e6)

    @property
    def order(self) -> list[int]:
        return [int.from_bytes(f[:4], "big") for _, f in self.delivered]


def frame(i: int, size: int = 100) -> bytes:
    return i.to_bytes(4, "big") + bytes(size - 4)


def test_zero_params_deliver_fifo_with_exact_delay() -> None:
    w = Wire(delay=0.010)
    sends = [0.0, 0.0, 0.0005, 0.002, 0.0021]
    for i, t in enumerate(sends):
        w.send_at(t, frame(i))
    w.finish()
    assert w.order == [0, 1, 2, 3, 4]
    assert [t for t, _ in w.delivered] == [t + 0.010 for t in sends]
    assert w.dropped == []


def test_perfect_link_draws_no_random_numbers() -> None:
    rng = random.Random(7)
    state = rng.getstate()
    sched = Scheduler()
    d = LinkDirection("a>b", sched, rng, LinkParams(delay=0.01), lambda f: None, lambda f, r: None)
    for i in range(50):
        d.send(frame(i), 0.0)
    sched.run_until(1.0)
    assert rng.getstate() == state


def test_bandwidth_serialises_frames_back_to_back() -> None:
    w = Wire(bw=10e6, delay=0.005)
    for i in range(10):
        w.send_at(0.0, frame(i, 1500))
    w.finish()
    times = [t for t, _ in w.delivered]
    # 1500 B * 8 / 10 Mbit/s = 1.2 ms per frame, then the propagation delay.
    assert times == pytest.approx([0.005 + 0.0012 * (k + 1) for k in range(10)])
    assert w.order == list(range(10))


def test_bandwidth_idle_wire_starts_at_send_time() -> None:
    w = Wire(bw=8e6)
    w.send_at(0.0, frame(0, 1000))
    w.send_at(0.5, frame(1, 1000))
    w.finish()
    assert [t for t, _ in w.delivered] == pytest.approx([0.001, 0.501])


def test_queue_full_drops_then_drains() -> None:
    w = Wire(bw=1e6, queue=5)
    for i in range(8):
        w.send_at(0.0, frame(i, 1250))  # 10 ms each
    assert w.dir.queue_length(0.0) == 5
    assert [(f[3], r) for _, f, r in w.dropped] == [(i, "queue full") for i in (5, 6, 7)]
    w.send_at(0.025, frame(8, 1250))  # two frames done by then: room again
    w.finish()
    assert w.order == [0, 1, 2, 3, 4, 8]
    assert w.delivered[-1][0] == pytest.approx(0.060)
    assert w.dir.stats.dropped == {"queue full": 3}


def test_random_loss_rate_within_bounds() -> None:
    w = Wire(seed=3, loss=0.10)
    n = 10_000
    for i in range(n):
        w.dir.send(frame(i), 0.0)
    w.finish()
    lost = len(w.dropped)
    # Binomial sd = sqrt(n p (1-p)) = 30; allow five of them.
    assert 850 <= lost <= 1150
    assert {r for _, _, r in w.dropped} == {"link loss"}
    assert lost + len(w.delivered) == n
    assert w.dir.stats.sent_frames == n
    assert w.dir.stats.delivered_frames == len(w.delivered)
    assert w.dir.stats.delivered_bytes == 100 * len(w.delivered)


def _loss_runs(w: Wire, n: int) -> list[int]:
    lost = {int.from_bytes(f[:4], "big") for _, f, _ in w.dropped}
    runs, current = [], 0
    for i in range(n):
        if i in lost:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs


def test_gilbert_elliott_losses_come_in_bursts() -> None:
    n = 20_000
    w = Wire(seed=5, burst=GilbertElliott(p=0.01, r=0.25))
    for i in range(n):
        w.dir.send(frame(i), 0.0)
    runs = _loss_runs(w, n)
    # Stationary bad-state share p/(p+r) ~ 3.8%; mean burst 1/r = 4 frames.
    assert 0.025 < len(w.dropped) / n < 0.055
    assert 3.0 < sum(runs) / len(runs) < 5.0
    # Independent loss at the same rate gives runs barely longer than 1.
    v = Wire(seed=5, loss=len(w.dropped) / n)
    for i in range(n):
        v.dir.send(frame(i), 0.0)
    random_runs = _loss_runs(v, n)
    assert sum(random_runs) / len(random_runs) < 1.2


def test_duplication() -> None:
    w = Wire(dup=1.0, delay=0.001)
    for i in range(3):
        w.send_at(0.0, frame(i))
    w.finish()
    assert w.order == [0, 0, 1, 1, 2, 2]
    assert {t for t, _ in w.delivered} == {0.001}

    half = Wire(seed=2, dup=0.5)
    for i in range(2000):
        half.dir.send(frame(i), 0.0)
    half.finish()
    assert 2850 <= len(half.delivered) <= 3150


def test_jitter_varies_delay_but_never_reorders() -> None:
    w = Wire(seed=11, delay=0.010, jitter=0.005)
    sends = [i * 0.001 for i in range(300)]
    for i, t in enumerate(sends):
        w.send_at(t, frame(i))
    w.finish()
    assert w.order == list(range(300))
    latencies = [d - s for (d, _), s in zip(w.delivered, sends, strict=True)]
    assert min(latencies) >= 0.005 - 1e-12
    assert max(latencies) > 0.0145  # FIFO clamping can only add to the jittered delay
    assert len({round(x, 9) for x in latencies}) > 100
    times = [t for t, _ in w.delivered]
    assert times == sorted(times)


def test_reorder_lets_later_frames_overtake() -> None:
    w = Wire(seed=4, delay=0.010, reorder=0.25)
    n = 400
    for i in range(n):
        w.send_at(i * 0.001, frame(i))
    w.finish()
    assert sorted(w.order) == list(range(n))
    assert w.order != list(range(n))
    late = [
        idx for idx, (t, f) in enumerate(w.delivered)
        if t - 0.001 * int.from_bytes(f[:4], "big") > 0.010 + 1e-9
    ]  # fmt: skip
    # Reordered frames carry delay + extra (= delay here): about a quarter of them.
    assert 60 < len(late) < 140
    for idx in late:
        t, f = w.delivered[idx]
        assert t == pytest.approx(0.001 * int.from_bytes(f[:4], "big") + 0.020)


def test_reorder_is_visible_on_a_zero_delay_link() -> None:
    w = Wire(seed=1, reorder=1.0)
    w.send_at(0.0, frame(0))
    w.dir.set(reorder=0.0)
    w.send_at(0.0005, frame(1))
    w.finish()
    assert w.order == [1, 0]
    assert w.delivered[1][0] == pytest.approx(0.001)


def test_link_down_drops_new_and_in_flight_frames_then_recovers() -> None:
    w = Wire(delay=0.010)
    w.send_at(0.0, frame(0))  # in flight across the outage
    w.send_at(0.001, frame(1))
    w.dir.set(up=False)
    w.send_at(0.002, frame(2))
    w.dir.set(up=True)
    w.send_at(0.003, frame(3))
    w.finish()
    assert w.order == [3]
    assert [(t, int.from_bytes(f[:4], "big"), r) for t, f, r in w.dropped] == [
        (0.002, 2, "link down"),
        (0.010, 0, "link down"),
        (0.011, 1, "link down"),
    ]


def test_delay_change_affects_only_later_frames_and_keeps_fifo() -> None:
    w = Wire(delay=0.100)
    w.send_at(0.0, frame(0))
    w.dir.set(delay=0.0)
    w.send_at(0.010, frame(1))  # would arrive at 0.010 but may not pass frame 0
    w.send_at(0.200, frame(2))
    w.finish()
    assert w.delivered == [(0.100, frame(0)), (0.100, frame(1)), (0.200, frame(2))]


def test_parameters_go_back_to_zero_live() -> None:
    w = Wire(loss=1.0, bw=1e3, jitter=0.5)
    w.send_at(0.0, frame(0))
    assert w.dropped[0][2] == "link loss"
    w.dir.set(loss=0.0, bw=None, jitter=0.0)
    w.send_at(2.0, frame(1))  # after frame 0's 0.8 s on the slow wire
    w.finish()
    assert w.delivered == [(2.0, frame(1))]


def test_bad_parameters_are_rejected_and_change_nothing() -> None:
    with pytest.raises(ValueError, match="loss must be between"):
        LinkParams(loss=1.5)
    with pytest.raises(ValueError, match="delay must be a time"):
        LinkParams(delay=-1)
    with pytest.raises(ValueError, match="bw must be a rate"):
        LinkParams(bw=0)
    with pytest.raises(ValueError, match="burst r"):
        LinkParams(burst=GilbertElliott(p=0.1, r=2.0))
    w = Wire(delay=0.01)
    with pytest.raises(ValueError, match="unknown link parameter 'latency'"):
        w.dir.set(latency=0.5)
    with pytest.raises(ValueError, match="queue must be"):
        w.dir.set(queue=0)
    assert w.dir.params == LinkParams(delay=0.01)


def test_link_set_changes_both_directions_or_neither() -> None:
    sched, rng = Scheduler(), random.Random(0)

    def mk(name: str) -> LinkDirection:
        return LinkDirection(name, sched, rng, LinkParams(), lambda f: None, lambda f, r: None)

    link = Link("h1-h2", "h1", "h2", "h1-eth0", "h2-eth0", mk("h1>h2"), mk("h2>h1"))
    link.set(delay=0.02, loss=0.05)
    assert link.direction("h1", "h2").params == link.direction("h2", "h1").params
    assert link.forward.params.delay == 0.02
    with pytest.raises(ValueError):
        link.set(delay=0.5, loss=2.0)
    assert link.forward.params.delay == link.reverse.params.delay == 0.02
    with pytest.raises(ValueError, match="does not go from h1 to h3"):
        link.direction("h1", "h3")


def test_hold_filter_with_count_and_release_in_order() -> None:
    w = Wire(delay=0.010)
    flt = w.dir.add_filter(lambda f: f[3] % 2 == 1, "hold", count=2)
    for i in range(6):
        w.send_at(0.001 * i, frame(i))
    assert [int.from_bytes(f[:4], "big") for f in w.dir.held] == [1, 3]
    assert flt.matched == 2 and w.dir.filters == ()  # count used up: removed
    w.sched.run_until(0.5)
    assert w.order == [0, 2, 4, 5]
    assert w.dir.release() == 2
    w.finish()
    assert w.order == [0, 2, 4, 5, 1, 3]
    assert [t for t, _ in w.delivered[-2:]] == [0.510, 0.510]
    assert w.dir.held == ()


def test_release_part_and_drop_the_rest() -> None:
    w = Wire()
    w.dir.add_filter(lambda f: True, "hold")
    for i in range(3):
        w.dir.send(frame(i), 0.0)
    assert w.dir.release(1) == 1
    assert w.dir.drop_held() == 2
    w.finish()
    assert w.order == [0]
    assert [r for _, _, r in w.dropped] == ["filter", "filter"]


def test_drop_filter_with_count_then_first_match_wins() -> None:
    w = Wire()
    drop = w.dir.add_filter(lambda f: f[3] >= 2, "drop", count=1)
    hold = w.dir.add_filter(lambda f: f[3] >= 2, "hold")
    for i in range(5):
        w.dir.send(frame(i), 0.0)
    w.finish()
    assert w.order == [0, 1]
    assert [(f[3], r) for _, f, r in w.dropped] == [(2, "filter")]
    assert [f[3] for f in w.dir.held] == [3, 4]
    assert (drop.matched, hold.matched) == (1, 2)
    w.dir.remove_filter(hold)
    w.dir.send(frame(9), 0.0)
    w.finish()
    assert w.order == [0, 1, 9]


def test_filter_arguments_are_checked() -> None:
    w = Wire()
    with pytest.raises(ValueError, match="'hold' or 'drop'"):
        w.dir.add_filter(lambda f: True, "keep")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="count must be at least 1"):
        w.dir.add_filter(lambda f: True, "drop", count=0)


def _schedule(seed: int) -> list[tuple[float, bytes]]:
    w = Wire(
        seed=seed, delay=0.01, jitter=0.004, loss=0.05, dup=0.05, reorder=0.05, bw=20e6,
        burst=GilbertElliott(p=0.02, r=0.3),
    )  # fmt: skip
    for i in range(500):
        w.send_at(i * 0.0003, frame(i, 200 + i % 900))
    w.finish()
    return w.delivered


def test_same_seed_same_schedule() -> None:
    assert _schedule(42) == _schedule(42)
    assert _schedule(42) != _schedule(43)
