"""Link parameters are read and written in one place, :mod:`tcplab.lab.units`.

Every kind of parameter (``units.LINK_PARAMS``) round-trips -- ``parse(format(v)) == v`` --
directly, through the command line (``link`` and ``to_line()``), through the lab (its
reply and ``link.changed`` events, read back and typed in again), through topology files
(a number there means what the same decimal means in a command, and ``describe()`` reads
back) and through the links pane, whose text reads back to the value it shows.
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.backends.sim.backend import SimBackend
from tcplab.lab import commands as C
from tcplab.lab import units
from tcplab.lab.events import LabEvent, LinkChanged
from tcplab.lab.lab import Lab
from tcplab.lab.topology import LinkParams, TopologyError, load_topology
from tcplab.tui.widgets.links import compact_params

PAIR = load_topology("pair")

# What a link can be set to, per kind (bw None: unlimited).
percents = st.floats(0, 1)
delays = st.floats(0, units.MAX_DELAY)
KINDS: dict[str, st.SearchStrategy[Any]] = {
    "loss": percents,
    "delay": delays,
    "jitter": delays,
    "bw": st.none() | st.floats(units.MIN_BANDWIDTH, 1e12),
    "dup": percents,
    "reorder": percents,
    "burst": st.just((0.0, 0.0)) | st.tuples(percents, st.floats(0, 1, exclude_min=True)),
    "queue": st.integers(1, 2**31 - 1),
}
some_params = st.fixed_dictionaries({}, optional=KINDS)


def words(values: dict[str, Any]) -> str:
    return " ".join(units.link_word(key, value) for key, value in values.items())


def test_every_parameter_kind_is_covered_here() -> None:
    assert set(KINDS) == set(units.LINK_PARAMS)


@settings(max_examples=300)
@given(st.data())
def test_every_kind_reads_back_what_it_writes(data: st.DataObject) -> None:
    for key, param in units.LINK_PARAMS.items():
        value = data.draw(KINDS[key], label=key)
        text = param.format(value)
        assert param.parse(text) == value, (key, text)
        assert param.read(text) == value, (key, text)
        assert " " not in text and "=" not in text


@given(st.booleans())
def test_up_and_down_read_back(up: bool) -> None:
    assert units.parse_up(units.format_up(up)) is up
    assert units.parse_up(units.format_up(up).upper()) is up


# ------------------------------------------------------------------------ command line

@settings(max_examples=300)
@given(some_params, st.none() | st.booleans())
def test_a_link_command_reads_back_every_value(values: dict[str, Any], up: bool | None) -> None:
    line = f"link h1 s1 {words(values)} {'' if up is None else units.format_up(up)}"
    if not values and up is None:
        with pytest.raises(C.CommandError, match="needs at least one of"):
            C.parse_line(line)
        return
    cmd = C.parse_line(line)
    assert isinstance(cmd, C.Link)
    for key in units.LINK_PARAMS:
        expected = values.get(key)
        if key == "bw" and "bw" in values:
            expected = values["bw"] or 0.0  # Link.bw: 0 is unlimited, None unchanged
        assert getattr(cmd, key) == expected, key
    assert cmd.up is up
    assert C.parse_line(cmd.to_line()) == cmd


@pytest.mark.parametrize(("word", "why"), [
    ("loss=101%", "a percentage must be between 0% and 100%"),
    ("dup=x", "expected a percentage like 5%"),
    ("reorder=-1%", "expected a percentage like 5%"),
    ("delay=61s", "61s is over 60s, the longest"),
    ("jitter=1m", "expected a duration like 20ms, 0.5s or 200us (bare numbers are ms)"),
    ("bw=0", "0 would carry nothing: write bw=unlimited for no limit"),
    ("bw=999bit", "999 bit/s is below 1 kbit/s, the smallest bandwidth"),
    ("bw=fast", "expected a bandwidth like 10mbit or 500kbit, or unlimited"),
    ("burst=1%", "expected P%,R% like burst=1%,25%, or 0"),
    ("burst=1%,x", "expected a percentage like 5%"),
    ("burst=1%,0%", "R must be above 0%, or the loss never ends"),
    ("queue=0", "must be at least 1"),
    ("queue=1.5", "expected a whole number like 100"),
])
def test_a_bad_value_is_one_line_naming_it(word: str, why: str) -> None:
    key, _, raw = word.partition("=")
    with pytest.raises(C.CommandError) as caught:
        C.parse_line(f"link h1 s1 {word}")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"bad value for {key}: {raw!r} (")
    assert why in message


# -------------------------------------------------------------------- the lab's notation

class PairLab:
    def __init__(self) -> None:
        self.lab = Lab(PAIR, SimBackend(1, virtual=True))
        self.events: list[LabEvent] = []
        self.lab.bus.subscribe(self.events.append)
        self.lab.start()

    def set(self, line: str) -> str:
        result = self.lab.execute(line)
        assert result.ok, f"{line}: {result.message}"
        return result.message

    def state(self, src: str, dst: str) -> dict[str, Any]:
        [st_] = [s for s in self.lab.links() if (s.src, s.dst) == (src, dst)]
        return {"loss": st_.loss, "delay": st_.delay, "jitter": st_.jitter, "bw": st_.bw,
                "dup": st_.dup, "reorder": st_.reorder, "queue": st_.queue,
                "burst": st_.burst or (0.0, 0.0), "up": st_.up}


# An unshaped link direction: what a description leaves out is at these values.
DEFAULTS: dict[str, Any] = {"loss": 0.0, "delay": 0.0, "jitter": 0.0, "bw": None, "dup": 0.0,
                            "reorder": 0.0, "burst": (0.0, 0.0), "queue": units.DEFAULT_QUEUE,
                            "up": True}


def read_back(description: str) -> dict[str, Any]:
    return {**DEFAULTS, **units.read_link_words(description)}


def describe(values: dict[str, Any]) -> str:
    burst = values["burst"]
    return units.describe_link(**{**values, "burst": None if burst == (0.0, 0.0) else burst})


@settings(max_examples=60, deadline=None)
@given(some_params, st.booleans())
def test_the_link_reply_and_event_read_back_and_type_in_again(
        values: dict[str, Any], up: bool) -> None:
    lab = PairLab()
    reply = lab.set(f"link h1 s1 {words(values)} {units.format_up(up)} dir=h1>s1")
    prefix = "link h1-s1: h1>s1 "
    assert reply.startswith(prefix)
    description = reply.removeprefix(prefix)
    assert [e.params for e in lab.events if isinstance(e, LinkChanged)][-1] == description
    assert read_back(description) == {**DEFAULTS, **values, "up": up} == lab.state("h1", "s1")
    # the description is itself a valid link command that sets the same state
    lab.set(f"link h2 s1 {description} dir=h2>s1")
    assert lab.state("h2", "s1") == lab.state("h1", "s1")


def test_the_event_notation_is_pinned() -> None:
    assert units.describe_link(loss=0.05, delay=0.02, jitter=0.0, bw=10e6, queue=1000) == (
        "loss=5% delay=20ms jitter=0ms bw=10mbit queue=1000 up")
    assert units.describe_link(loss=0.0, delay=0.0, jitter=0.002, bw=None, queue=50,
                               dup=0.01, reorder=0.02, burst=(0.01, 0.25), up=False) == (
        "loss=0% delay=0ms jitter=2ms bw=unlimited queue=50 dup=1% reorder=2% "
        "burst=1%,25% down")


# ------------------------------------------------------------------------ the links pane

def _reads_as(shown: str, value: float, parse: Any) -> None:
    """A readable ``20 ms`` / ``1.5 kbit/s`` reads back within its four digits."""
    got = parse(shown.replace(" ", "").removesuffix("/s"))
    assert abs(got - value) <= max(5e-4 * value, 1e-10), (shown, value)


@settings(max_examples=200, deadline=None)
@given(some_params)
def test_the_links_pane_shows_values_that_read_back(values: dict[str, Any]) -> None:
    values = {**DEFAULTS, **values}
    text = compact_params(describe(values))
    parts = text.split(", ")
    if values["delay"] or values["jitter"]:
        delay, _, jitter = parts.pop(0).partition(" ±")
        _reads_as(delay, values["delay"], units.parse_duration)
        if values["jitter"]:
            _reads_as(jitter, values["jitter"], units.parse_duration)
    if values["loss"]:
        assert units.parse_percent(parts.pop(0).removesuffix(" loss")) == values["loss"]
    if values["bw"] is not None:
        _reads_as(parts.pop(0), values["bw"], units.parse_bandwidth)
    for key in ("dup", "reorder", "burst"):
        if values[key] and values[key] != (0.0, 0.0):
            name, _, shown = parts.pop(0).partition(" ")
            assert name == key
            assert units.LINK_PARAMS[key].parse(shown) == values[key]
    if values["queue"] != units.DEFAULT_QUEUE:
        assert units.parse_queue(parts.pop(0).removeprefix("queue ")) == values["queue"]
    assert parts == ([] if text != "clean" else ["clean"])


def test_the_links_pane_shows_a_value_it_cannot_read_as_written() -> None:
    assert compact_params("loss=lots delay=soon jitter=0ms bw=fast up") == (
        "soon, lots loss, fast")
    assert compact_params("loss=5% delay=20ms jitter=0ms bw=10mbit queue=1000 down") == "DOWN"


# ---------------------------------------------------------------------- topology files

def _load(options: str) -> LinkParams:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "one.py"
        path.write_text(textwrap.dedent(f"""\
            from mininet.topo import Topo

            class One(Topo):
                def build(self):
                    self.addLink(self.addHost("h1"), self.addHost("h2"), {options})

            topos = {{"one": One}}
            """))
        spec = load_topology(str(path), shim=True)
    [link] = spec.links
    assert link.ab == link.ba
    return link.ab


@settings(max_examples=40, deadline=None)
@given(delay=delays, jitter=delays, loss=st.floats(0, 100),
       mbit=st.just(0) | st.floats(0.001, 1000), queue=st.integers(1, 2**31 - 1))
def test_a_topology_means_what_the_same_numbers_mean_in_a_command(
        delay: float, jitter: float, loss: float, mbit: float, queue: int) -> None:
    params = _load(f"delay={units.format_duration(delay)!r}, "
                   f"jitter={units.format_duration(jitter)!r}, loss={loss!r}, bw={mbit!r}, "
                   f"max_queue_size={queue}")
    # the same numbers typed in a command, with their units (TCLink's bw=0: no limit)
    bw = f"{units.format_number(mbit)}mbit" if mbit else "unlimited"
    typed = C.parse_line(
        f"link h1 h2 delay={units.format_duration(delay)} jitter={units.format_duration(jitter)}"
        f" loss={units.format_number(loss)}% bw={bw} queue={queue}")
    assert isinstance(typed, C.Link)
    assert (params.delay, params.jitter, params.loss, params.bw or 0.0, params.max_queue) == (
        typed.delay, typed.jitter, typed.loss, typed.bw, typed.queue)
    # and the topology's description is a link command that reads back the same values
    described_ = params.describe()
    if described_:
        back = C.parse_line(f"link h1 h2 {described_}")
        assert isinstance(back, C.Link)
        assert (back.delay or 0.0, back.jitter or 0.0, back.loss or 0.0, back.bw,
                back.queue) == (params.delay, params.jitter, params.loss, params.bw,
                                params.max_queue)


def test_topology_numbers_convert_like_typed_decimals() -> None:
    # loss=33.3 is the float nearest 0.333 (33.3 / 100 would be 0.33299999999999996)
    assert _load("loss=33.3, bw=3.3").describe() == "loss=33.3% bw=3.3mbit"
    assert _load("loss=33.3").loss == C.parse_line("link a b loss=33.3%").loss == 0.333


@pytest.mark.parametrize(("options", "why"), [
    ("delay='61s'", "bad delay '61s' (61s is over 60s, the longest)"),
    ("jitter='abc'", "bad jitter 'abc' (expected a duration like 20ms"),
    ("loss=101", "bad loss 101 (expected a percentage from 0 to 100"),
    ("bw=0.0005", "bad bw 0.0005 (500 bit/s is below 1 kbit/s"),
    ("max_queue_size=1.5", "bad max_queue_size 1.5 (expected whole packets)"),
])
def test_a_bad_topology_value_is_one_line_naming_it(options: str, why: str) -> None:
    with pytest.raises(TopologyError) as caught:
        _load(options)
    assert "\n" not in str(caught.value)
    assert f"link h1-h2: {why}" in str(caught.value)
