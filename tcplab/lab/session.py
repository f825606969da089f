"""What a run is a function of: its inputs, written as a recording's header.

Theory of operation
-------------------
A simulated run is a pure function of its topology, seed, clock, TCP settings and
timed commands (the design's "time travel by determinism").  :class:`RunInputs`
holds everything but the commands -- the topology file's whole text included, so a
recording can be re-executed on another machine without the file -- and is written
as the first line of ``events.jsonl`` (:meth:`RunInputs.header`).  The commands are
in the stream itself: every ``command`` event has the line and the time it ran.

:func:`announce` publishes the notices every run starts with, from the inputs alone,
so a re-executed run starts with the very same lines as the recorded one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tcplab import __version__
from tcplab.lab.events import SCHEMA_VERSION, Notice
from tcplab.lab.lab import Lab
from tcplab.lab.topology import TopologySpec
from tcplab.tcp.config import Config


@dataclass(frozen=True, slots=True)
class RunInputs:
    """Everything a run depends on except its commands (see the module docstring)."""

    topology: str             # the topology's name in its file
    topology_file: str        # the file's name, without its directory
    topology_text: str        # the file's whole text
    backend: str              # "sim" or "mininet"
    mechanism: str            # how links are impaired, for the user
    seed: int
    clock: str                # "virtual" or "real"
    msl: float | None = None
    keepalive: float | None = None
    notice: str | None = None  # why this backend was chosen, when it was a fallback
    hosts: tuple[tuple[str, str, bool], ...] = ()  # (name, ip, kernel) of every host
    sheet: str | None = None  # the lab sheet's id when `tcplab lab` ran it (no effect on the run)
    rto_min: float | None = None  # --rto-min: the RTO's lower bound (RFC 6298 §2.4), seconds

    @classmethod
    def of(cls, topo: TopologySpec, *, backend: str, mechanism: str, seed: int,
           virtual: bool, msl: float | None = None, keepalive: float | None = None,
           notice: str | None = None, rto_min: float | None = None) -> RunInputs:
        """The inputs of a run about to start on ``topo``; the topology file is read now,
        and an unreadable one is kept as "" (only a re-execution will miss it)."""
        try:
            text = Path(topo.source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""  # the run goes on; only its re-execution will say what is missing
        return cls(topo.name, Path(topo.source).name, text, backend, mechanism, seed,
                   "virtual" if virtual else "real", msl, keepalive, notice,
                   tuple((h.name, h.ip, h.kernel) for h in topo.hosts), rto_min=rto_min)

    def config(self) -> Config | None:
        """The TCP settings the command line asked for (None: the defaults)."""
        settings: dict[str, float] = {}
        if self.msl is not None:
            settings["msl"] = self.msl
        if self.keepalive is not None:
            settings["keepalive_idle"] = self.keepalive
            settings["keepalive_interval"] = min(75.0, self.keepalive / 5)
        if self.rto_min is not None:
            settings["rto_min"] = self.rto_min
        return Config(**settings) if settings else None  # type: ignore[arg-type]

    def header(self) -> dict[str, Any]:
        """The recording's first line (schema :data:`SCHEMA_VERSION`)."""
        out: dict[str, Any] = {"kind": "header", "schema": SCHEMA_VERSION,
                               "tcplab": __version__}
        for key, value in asdict(self).items():
            if key == "hosts":
                value = [{"name": n, "ip": ip, "kernel": k} for n, ip, k in value]
            if key in ("sheet", "rto_min") and value is None:
                continue  # written only by `tcplab lab`: other headers stay as they were
            out[key] = value
        return out

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> RunInputs:
        """The inputs a header names; ValueError with the reason when it cannot say."""
        if header.get("kind") != "header":
            raise ValueError("the first line is not a recording header")
        schema = header.get("schema")
        if schema != SCHEMA_VERSION:
            newer = isinstance(schema, int) and schema > SCHEMA_VERSION
            raise ValueError(f"recording schema {schema!r}: this tcplab reads schema "
                             f"{SCHEMA_VERSION} ("
                             + ("made by a newer tcplab: use that version" if newer
                                else "re-record the run with this version") + ")")
        try:
            hosts = tuple((str(h["name"]), str(h["ip"]), bool(h["kernel"]))
                          for h in header.get("hosts", ()))
            return cls(str(header["topology"]), str(header["topology_file"]),
                       str(header["topology_text"]), str(header["backend"]),
                       str(header["mechanism"]), int(header["seed"]), str(header["clock"]),
                       _opt_float(header.get("msl")), _opt_float(header.get("keepalive")),
                       None if header.get("notice") is None else str(header["notice"]),
                       hosts, None if header.get("sheet") is None else str(header["sheet"]),
                       rto_min=_opt_float(header.get("rto_min")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the header lacks or garbles {exc}") from None


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def announce(lab: Lab, inputs: RunInputs) -> None:
    """The notices every run starts with; the lab keeps ``inputs`` (a rewind re-runs
    its start, these notices included)."""
    lab.inputs = inputs
    now = lab.now()
    if inputs.notice:
        lab.bus.publish(Notice(now, "", inputs.notice))
    hosts = ", ".join(f"{name}={ip}" for name, ip, _ in inputs.hosts)
    lab.bus.publish(Notice(now, "", f"topology {inputs.topology}: {hosts}; links: "
                           f"{inputs.mechanism}; seed {inputs.seed}; {inputs.clock} time"))
