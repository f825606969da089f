"""A sheet's lab, built from its setup: for the dashboard, and headless for solutions.

:func:`choose_backend` says where the lab runs: the simulated network, or Mininet when
the setup asks for it (``backend: mininet``, hosts running Linux's TCP with ``stack:``)
and this machine can run it -- otherwise the simulated network, with a one-line notice
that the exercises needing Linux are left out.  :func:`inputs_for` turns the setup into
the run's inputs (the recording header then names the sheet); :func:`start_lab` starts
a lab on a backend and applies the setup's commands; :func:`run_solution` runs a command
file in it headless and returns every event as its recorded dict -- what CI feeds a
:class:`Checker`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tcplab.lab import codec
from tcplab.lab import commands as C
from tcplab.lab.backend import Backend
from tcplab.lab.lab import Lab, Result
from tcplab.lab.session import RunInputs, announce
from tcplab.lab.topology import TopologySpec, load_topology
from tcplab.labsheet.sheet import Sheet, SheetError


def as_record(event: Any) -> dict[str, Any]:
    """An event's recorded form: the dict a line of ``events.jsonl`` holds."""
    # encoded() keeps the last event's record: the timeline made it already (read-only)
    return codec.encoded(event)[0]


def topology_of(sheet: Sheet) -> TopologySpec:
    from tcplab.lab.topology import TopologyError

    try:
        return load_topology(sheet.setup.topology)
    except TopologyError as exc:
        raise SheetError(f"{sheet.path}: {exc}") from None


def inputs_for(sheet: Sheet, topo: TopologySpec, seed: int, backend: Backend,
               notice: str | None = None) -> RunInputs:
    setup = sheet.setup
    inputs = RunInputs.of(topo, backend=backend.name, mechanism=backend.mechanism,
                          seed=seed, virtual=backend.virtual, msl=setup.msl,
                          keepalive=setup.keepalive, notice=notice)
    return replace(inputs, sheet=sheet.id)


def apply_setup(lab: Lab, sheet: Sheet) -> list[tuple[int, Result]]:
    """Run the setup's commands; the ones that failed, with their sheet lines."""
    failed = []
    for line_no, cmd in sheet.setup.commands:
        result = lab.execute(cmd)
        if not result.ok:
            failed.append((line_no, result))
    return failed


def start_lab(lab: Lab, sheet: Sheet, inputs: RunInputs) -> RunInputs:
    """Start ``lab`` as ``tcplab run`` does, then apply the sheet's setup.  Returns the
    inputs as the started lab has them (Mininet finds out how it impairs links only as
    it starts: a recording's header is then rewritten with them)."""
    try:
        lab.start()
    except (RuntimeError, OSError, ValueError) as exc:  # a name taken, a tool failing
        raise SheetError(f"cannot start the lab: {exc}") from None
    if inputs.mechanism != lab.backend.mechanism:
        inputs = replace(inputs, mechanism=lab.backend.mechanism)
    announce(lab, inputs)
    failed = apply_setup(lab, sheet)
    if failed:
        line_no, result = failed[0]
        raise SheetError(f"{sheet.path}:{line_no}: the setup command failed: {result.message}")
    return inputs


def choose_backend(sheet: Sheet, forced: str | None = None) -> tuple[str, str | None]:
    """Where the sheet's lab runs (``sim`` or ``mininet``: ``forced`` by ``--backend``,
    else the setup's), and the one line saying which exercises are left out when the
    hosts of ``stack:`` will not run Linux.  SheetError when ``--backend mininet`` was
    asked for and this machine cannot run Mininet."""
    wanted = forced or sheet.setup.backend
    if wanted == "mininet":
        from tcplab.cli.run import mininet_unusable

        why = mininet_unusable()
        if why is None:
            return "mininet", None
        if forced == "mininet":
            raise SheetError(f"cannot use Mininet: {why}")
        return "sim", left_out(sheet, f"need root and Mininet, and here: {why}")
    return "sim", left_out(sheet, "need Mininet (not --backend sim)") if sheet.setup.linux \
        else None


def left_out(sheet: Sheet, why: str) -> str:
    """The notice of a run on the simulated network of a sheet with Linux exercises."""
    linux = [ex for ex in sheet.exercises if ex.needs]
    hosts = " and ".join(sheet.setup.linux)
    return (f"the {len(linux)} exercises about Linux's TCP on {hosts} {why}; the other "
            f"{len(sheet.exercises) - len(linux)} run on the simulated network, with "
            f"tcplab's TCP on {hosts}")


def mininet_lab(sheet: Sheet, seed: int | None = None, notice: str | None = None
                ) -> tuple[Lab, RunInputs]:
    """A lab of the sheet on Mininet (needs root), the hosts of ``stack:`` running
    Linux's TCP; not started."""
    from tcplab.backends.mininet.backend import MininetBackend

    topo = topology_of(sheet)
    linux = sheet.setup.linux
    topo = replace(topo, hosts=tuple(replace(h, kernel=h.kernel or h.name in linux)
                                     for h in topo.hosts))
    seed = seed if seed is not None else sheet.setup.seed if sheet.setup.seed is not None else 1
    settings = RunInputs.of(topo, backend="", mechanism="", seed=seed, virtual=False,
                            msl=sheet.setup.msl, keepalive=sheet.setup.keepalive)
    backend = MininetBackend(seed, config=settings.config())
    return Lab(topo, backend), inputs_for(sheet, topo, seed, backend, notice)


def sim_lab(sheet: Sheet, seed: int | None = None, virtual: bool = True,
            notice: str | None = None) -> tuple[Lab, RunInputs]:
    """A lab of the sheet on the simulated network, not started (``virtual``: under
    virtual time, as solutions always run)."""
    from tcplab.backends.sim.backend import SimBackend

    topo = topology_of(sheet)
    seed = seed if seed is not None else sheet.setup.seed if sheet.setup.seed is not None else 1
    settings = RunInputs.of(topo, backend="", mechanism="", seed=seed, virtual=virtual,
                            msl=sheet.setup.msl, keepalive=sheet.setup.keepalive)
    backend = SimBackend(seed, virtual=virtual, config=settings.config())
    return Lab(topo, backend), inputs_for(sheet, topo, seed, backend, notice)


def run_solution(sheet: Sheet, script: str | Path, seed: int | None = None,
                 record: Path | None = None, backend: str = "sim"
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """Run a command file after the sheet's setup, headless: on the simulated network
    under virtual time, or on Mininet (``backend="mininet"``, root) on the wall clock
    (``record``: into that directory too, as ``tcplab lab --record`` does).
    Returns the events (header first) and the commands that failed (``expect`` lines
    of the file included), as ``line N: message``."""
    from tcplab.lab.record import Recorder

    text = script.read_text(encoding="utf-8") if isinstance(script, Path) else script
    commands = C.parse_script(text)
    lab, inputs = mininet_lab(sheet, seed) if backend == "mininet" else sim_lab(sheet, seed)
    events: list[dict[str, Any]] = [inputs.header()]
    lab.bus.subscribe(lambda ev: events.append(as_record(ev)))
    recorder = None
    if record is not None:
        recorder = Recorder(record, inputs.header())
        lab.bus.subscribe(recorder.event)
        lab.backend.add_tap(recorder.frame)
        lab.backend.add_host_tap(recorder.host_frame)
    failures = []
    try:
        started = start_lab(lab, sheet, inputs)
        if started != inputs:
            events[0] = started.header()
            if recorder is not None:
                recorder.set_header(started.header())
        for line_no, cmd in commands:
            result = lab.execute(cmd, line_no)
            if not result.ok:
                failures.append(result.message)
    finally:
        lab.stop()
        if recorder is not None:
            recorder.close()
    return events, failures
