"""What a lab sheet is, once read: its setup, its exercises and the roles their checks
give connections.  :mod:`tcplab.labsheet.sheet` reads a sheet's Markdown into these."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tcplab.lab import commands as C
from tcplab.labsheet import conditions as K
from tcplab.labsheet.tracker import Sock, Tracker


class SheetError(ValueError):
    """A sheet that cannot be read; ``str()`` names the file and line of every problem."""


@dataclass(frozen=True, slots=True)
class Role:
    """A name a check gives a connection: ``role c = h1 > h2:80`` stands for a connection
    that h1 opened to port 80 of h2 (from any port, or ``h1:5000``), ``after d`` one opened
    after the connection ``d`` stands for, ``role l = listener h2:80`` a listening socket."""

    name: str
    line: int
    dst_host: str
    dst_port: int
    src_host: str | None = None      # None: a listener
    src_port: int | None = None
    after: str | None = None

    @property
    def listener(self) -> bool:
        return self.src_host is None

    def describe(self) -> str:
        if self.listener:
            return f"listener on {self.dst_host}:{self.dst_port}"
        src = self.src_host if self.src_port is None else f"{self.src_host}:{self.src_port}"
        return f"connection from {src} to {self.dst_host}:{self.dst_port}"

    def matches(self, sock: Sock, tracker: Tracker) -> bool:
        if self.listener:
            return (sock.listener and sock.local[1] == self.dst_port
                    and sock.host == self.dst_host)
        if not sock.active or sock.host != self.src_host or sock.remote is None:
            return False
        if self.src_port is not None and sock.local[1] != self.src_port:
            return False
        return (sock.remote[1] == self.dst_port
                and tracker.host_name(sock.remote[0]) == self.dst_host)


@dataclass(frozen=True, slots=True)
class Exercise:
    name: str
    title: str
    line: int
    rfc: str = ""
    task: str = ""
    hint: str = ""
    roles: tuple[Role, ...] = ()
    conditions: tuple[K.Condition, ...] = ()
    needs: tuple[str, ...] = ()   # hosts that must run Linux's TCP for it (needs: h2=linux)

    def states(self) -> set[str]:
        """The connection states its conditions are about."""
        return {s for cond in self.conditions for s in cond.states()}


@dataclass(frozen=True, slots=True)
class Setup:
    topology: str = "pair"
    clock: str = "virtual"
    msl: float | None = None
    keepalive: float | None = None
    seed: int | None = None
    backend: str = "sim"           # where the lab runs when it can: sim or mininet
    linux: tuple[str, ...] = ()    # hosts running Linux's TCP (stack: h2=linux; Mininet)
    commands: tuple[tuple[int, C.Command], ...] = ()


@dataclass(frozen=True, slots=True)
class Sheet:
    id: str
    title: str
    path: Path
    text: str
    setup: Setup
    exercises: tuple[Exercise, ...] = field(default=())

    def exercise(self, name: str) -> Exercise:
        for ex in self.exercises:
            if ex.name == name:
                return ex
        raise KeyError(name)
