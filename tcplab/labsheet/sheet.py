"""Lab sheets: Markdown a student reads, with the parts the program reads.

A sheet (docs/labs/README.md is the specification) is Markdown with two kinds of fenced
blocks the program reads:

* one ``lab-setup`` block: ``key: value`` settings (``id``, ``topology``, ``clock``,
  ``msl``, ``keepalive``, ``seed``, ``backend``, ``stack``) and command-language lines
  run when the lab starts;
* one ``check NAME`` block per exercise: ``rfc:``, ``task:``, ``hint:``, ``needs:``
  lines, ``role`` declarations and conditions (:mod:`tcplab.labsheet.conditions`).

Everything else is prose.  :func:`parse_sheet` reads a whole sheet (into the classes of
:mod:`tcplab.labsheet.model`) and reports every bad line at once, each as
``PATH:LINE: reason``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from pathlib import Path

from tcplab.lab import commands as C
from tcplab.lab import units
from tcplab.labsheet import conditions as K
from tcplab.labsheet.model import Exercise, Role, Setup, Sheet, SheetError
from tcplab.labsheet.tracker import SegmentFilter
from tcplab.tcp.states import State

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
EXERCISE_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_ROLE_RE = re.compile(r"(?P<src>[A-Za-z][\w-]*)(?::(?P<sport>\d+))?\s*>\s*"
                      r"(?P<dst>[A-Za-z][\w-]*):(?P<dport>\d+)(?:\s+after\s+(?P<after>\S+))?")
_LISTENER_RE = re.compile(r"listener\s+(?P<dst>[A-Za-z][\w-]*):(?P<dport>\d+)")
SETTINGS = ("id", "topology", "clock", "msl", "keepalive", "seed", "backend", "stack")
EXERCISE_KEYS = ("rfc", "task", "hint", "title", "needs")
BACKENDS = ("sim", "mininet")
CONDITIONS = ("expect", "expect-seen", "expect-not-seen", "expect-stayed", "expect-received",
              "expect-transition", "expect-error", "expect-sent", "expect-not-sent",
              "expect-retransmitted", "expect-dropped", "expect-timer",
              "expect-command-error")
TIMERS = ("rtx", "persist", "delack", "time-wait", "keepalive", "rack")  # timer.fired names
__all__ = ["Exercise", "Role", "Setup", "Sheet", "SheetError", "load_sheet", "parse_sheet",
           "student_markdown"]

WHYS = ("rto", "fast", "sack", "probe", "tlp", "rack")  # as segment.retransmitted says


class _Fail(Exception):
    pass


class _Quiet(Exception):
    """A line that fails only because an earlier one did: not reported again."""


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _tokens(text: str) -> list[str]:
    """Words split at whitespace; a word in double quotes keeps its spaces."""
    out: list[str] = []
    for match in re.finditer(r'"([^"]*)"|(\S+)', text):
        if match.group(1) is not None:
            out.append('"' + match.group(1))  # marked as quoted
        else:
            if '"' in match.group(2):
                raise _Fail(f"stray quote in {match.group(2)!r}")
            out.append(match.group(2))
    return out


def _state(word: str) -> str:
    wanted = word.upper().replace("_", "-")
    names = tuple(s.value for s in State)
    if wanted not in names:
        hint = _suggest(wanted, names) or f" (one of {', '.join(names)})"
        raise _Fail(f"unknown state {word!r}{hint}")
    return wanted


def _kind(word: str) -> C.SegmentKind:
    wanted = word.upper().replace("_", "-").replace(",", "-")
    for kind in C.SegmentKind:
        if kind.value == wanted:
            return kind
    names = tuple(k.value for k in C.SegmentKind)
    raise _Fail(f"unknown segment kind {word!r}{_suggest(wanted, names)} "
                f"(one of {', '.join(names)})")


def _number(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise _Fail(f"bad {what} {text!r} (expected a whole number)")
    return int(text)


class _CheckParser:
    """The lines of one ``check`` block."""

    def __init__(self, hosts: tuple[str, ...], linux: tuple[str, ...] = ()) -> None:
        self.hosts = hosts
        self.linux = linux
        self.roles: dict[str, Role] = {}
        self.keys: dict[str, str] = {}
        self.conditions: list[K.Condition] = []
        self.bad_roles: set[str] = set()

    def host(self, name: str) -> str:
        if self.hosts and name not in self.hosts:
            raise _Fail(f"unknown host {name!r} (the topology's hosts: {', '.join(self.hosts)})")
        return name

    def line(self, line_no: int, text: str) -> None:
        head, colon, rest = text.partition(":")
        if colon and head.strip().lower() in EXERCISE_KEYS and " " not in head.strip():
            key = head.strip().lower()
            if key in self.keys:
                raise _Fail(f"{key}: given twice")
            self.keys[key] = rest.strip()
            return
        words = _tokens(text)
        if words[0] == "role":
            self.role(line_no, text)
            return
        if words[0] not in CONDITIONS:
            known = (*CONDITIONS, "role", *(k + ":" for k in EXERCISE_KEYS))
            raise _Fail(f"unknown condition {words[0]!r}{_suggest(words[0], known)}")
        self.conditions.append(self.condition(line_no, text.strip(), words))

    def role(self, line_no: int, text: str) -> None:
        m = re.fullmatch(r"\s*role\s+(\S+)\s*=\s*(.*?)\s*", text)
        if m is None:
            raise _Fail("a role reads: role NAME = HOST[:PORT] > HOST:PORT [after ROLE] "
                        "or role NAME = listener HOST:PORT")
        name, spec = m.group(1), m.group(2)
        self.bad_roles.add(name)  # until it is declared: no second error where it is used
        if not NAME_RE.fullmatch(name):
            raise _Fail(f"bad role name {name!r} (a letter, then letters, digits, _ or -)")
        if name in self.roles:
            raise _Fail(f"role {name} declared twice")
        if (lm := _LISTENER_RE.fullmatch(spec)) is not None:
            self.roles[name] = Role(name, line_no, self.host(lm["dst"]),
                                    self.port(lm["dport"]))
            return
        rm = _ROLE_RE.fullmatch(spec)
        if rm is None:
            raise _Fail(f"bad role {spec!r} (expected HOST[:PORT] > HOST:PORT like "
                        f"h1 > h2:80, optionally 'after ROLE', or listener HOST:PORT)")
        after = rm["after"]
        if after is not None and after not in self.roles:
            raise _Fail(f"after {after}: no role {after} declared above")
        self.roles[name] = Role(name, line_no, self.host(rm["dst"]), self.port(rm["dport"]),
                                self.host(rm["src"]),
                                None if rm["sport"] is None else self.port(rm["sport"]), after)

    @staticmethod
    def port(text: str) -> int:
        port = int(text)
        if not 1 <= port <= 65535:
            raise _Fail(f"port {port} out of range 1..65535")
        return port

    def subject(self, word: str, hosts_too: bool) -> K.Subject:
        accepted = word.endswith("'")
        base = word[:-1] if accepted else word
        if base in self.bad_roles and base not in self.roles:
            raise _Quiet
        if base in self.roles:
            if accepted and self.roles[base].listener:
                raise _Fail(f"{word}: a listener has no other end")
            return K.Subject(base, accepted)
        if hosts_too and not accepted and NAME_RE.fullmatch(base) and (
                not self.hosts or base in self.hosts):
            return K.Subject(base, host=True)
        declared = ", ".join(self.roles) or "none"
        what = "a role or a host" if hosts_too else "a role"
        raise _Fail(f"{word!r} is not {what} of this check (roles: {declared}; declare one "
                    f"with role {base} = h1 > h2:80)")

    def options(self, words: list[str], allowed: tuple[str, ...]) -> dict[str, str]:
        found: dict[str, str] = {}
        for word in words:
            m = re.fullmatch(r"([a-z]+)(>=|<=|=)(\S+)", word)
            if m is None or m[1] not in allowed:
                raise _Fail(f"unexpected {word!r} (allowed: "
                            f"{', '.join(a + '=' for a in allowed) or 'nothing more'})")
            if m[1] in found:
                raise _Fail(f"{m[1]} given twice")
            if m[2] != "=" and m[1] != "count":
                raise _Fail(f"{m[1]} takes =, not {m[2]}")
            found[m[1]] = m[2] + m[3]
        return found

    @staticmethod
    def count(opts: dict[str, str]) -> tuple[int, str]:
        raw = opts.get("count", ">=1")
        op = raw[:2] if raw[:2] in (">=", "<=") else "="
        return _number(raw[len(op):], "count"), op

    def condition(self, line_no: int, text: str, words: list[str]) -> K.Condition:
        word, args = words[0], words[1:]

        def need(n: int, usage: str) -> None:
            if len(args) < n:
                raise _Fail(f"{word} needs {usage}")

        if word in ("expect", "expect-seen", "expect-not-seen"):
            need(2, "ROLE STATE")
            if len(args) > 2:
                raise _Fail(f"unexpected {args[2]!r} after {word} ROLE STATE")
            subject, state = self.subject(args[0], False), _state(args[1])
            if word == "expect":
                return K.InState(line_no, text, subject, state)
            return K.Seen(line_no, text, subject, state, never=word == "expect-not-seen")
        if word == "expect-stayed":
            need(3, "ROLE STATE SECONDS")
            if len(args) > 3:
                raise _Fail(f"unexpected {args[3]!r} after {word} ROLE STATE SECONDS")
            try:
                seconds = units.parse_duration(args[2], bare="s")
            except units.UnitError as exc:
                raise _Fail(f"bad duration {args[2]!r} ({exc})") from None
            return K.Stayed(line_no, text, self.subject(args[0], False), _state(args[1]),
                            seconds)
        if word == "expect-received":
            need(2, "ROLE BYTES (or >=BYTES)")
            if len(args) > 2:
                raise _Fail(f"unexpected {args[2]!r} after {word} ROLE BYTES")
            at_least = args[1].startswith(">=")
            return K.Received(line_no, text, self.subject(args[0], False),
                              _number(args[1].removeprefix(">="), "byte count"), at_least)
        if word == "expect-transition":
            need(3, 'ROLE OLD NEW ["cause"]')
            cause = None
            if len(args) == 4 and args[3].startswith('"'):
                cause = args[3][1:]
            elif len(args) > 3:
                raise _Fail(f'unexpected {args[3]!r} (the cause goes in quotes: "rcv SYN")')
            return K.Transition(line_no, text, self.subject(args[0], False), _state(args[1]),
                                _state(args[2]), cause)
        if word == "expect-error":
            need(2, "ROLE ERRNAME (like ECONNRESET)")
            if not re.fullmatch(r"E[A-Z]+", args[1]) or len(args) > 2:
                raise _Fail(f"expect-error takes ROLE ERRNAME like ECONNREFUSED, not "
                            f"{' '.join(args[1:])!r}")
            return K.ErrorSeen(line_no, text, self.subject(args[0], False), args[1])
        if word == "expect-command-error":
            if len(args) != 1 or not args[0].startswith('"') or len(args[0]) < 2:
                raise _Fail('expect-command-error takes the text of the error in quotes: '
                            'expect-command-error "in use"')
            return K.CommandFailed(line_no, text, K.Subject("", host=True), args[0][1:])
        if word == "expect-timer":
            need(2, f"ROLE|HOST TIMER ({', '.join(TIMERS)})")
            if args[1] not in TIMERS:
                raise _Fail(f"unknown timer {args[1]!r}{_suggest(args[1], TIMERS)} "
                            f"(one of {', '.join(TIMERS)})")
            count, op = self.count(self.options(args[2:], ("count",)))
            return K.TimerFired(line_no, text, self.subject(args[0], True), args[1], count, op)
        if word == "expect-dropped":
            need(2, "SRC>DST KIND")
            src, arrow, dst = args[0].partition(">")
            if not arrow or not src or not dst:
                raise _Fail(f"bad direction {args[0]!r} (expected SRC>DST like h1>h2)")
            opts = self.options(args[2:], ("count",))
            count, op = self.count(opts)
            return K.Dropped(line_no, text, K.Subject(self.host(src), host=True),
                             self.host(dst), SegmentFilter(_kind(args[1])), count, op)
        # expect-sent, expect-not-sent, expect-retransmitted
        need(2, "ROLE|HOST KIND")
        retransmitted = word == "expect-retransmitted"
        allowed = ("option", "window") + (("why",) if retransmitted else ()) + (
            () if word == "expect-not-sent" else ("count",))
        opts = self.options(args[2:], allowed)
        why = opts.get("why", "=")[1:] or None
        if why is not None and why not in WHYS:
            raise _Fail(f"unknown why={why} (one of {', '.join(WHYS)})")
        window = opts.get("window")
        flt = SegmentFilter(_kind(args[1]), opts.get("option", "=")[1:].lower() or None,
                            None if window is None else _number(window[1:], "window"),
                            retransmitted, why)
        count, op = self.count(opts)
        return K.Segments(line_no, text, self.subject(args[0], True), flt, count, op,
                          never=word == "expect-not-sent")

    def finish(self, name: str, title: str, line_no: int) -> Exercise:
        if not any(not c.negative() for c in self.conditions):
            raise _Fail(f"check {name} needs at least one condition that something "
                        f"happened (expect-not-* alone would hold before anything did)")
        needs = self.needs(self.keys.get("needs"))
        used = {r for c in self.conditions for r in c.roles()}
        for role in self.roles.values():
            if role.name not in used and not any(r.after == role.name
                                                 for r in self.roles.values()):
                raise _Fail(f"role {role.name} (line {role.line}) is used by no condition")
        return Exercise(name, self.keys.get("title") or title, line_no,
                        self.keys.get("rfc", ""), self.keys.get("task") or
                        self.keys.get("title") or title, self.keys.get("hint", ""),
                        tuple(self.roles.values()), tuple(self.conditions), needs)

    def needs(self, text: str | None) -> tuple[str, ...]:
        """``needs: h2=linux``: the hosts that must run Linux's TCP for the check."""
        if text is None:
            return ()
        hosts = _linux_hosts(text, "needs")
        for host in hosts:
            if host not in self.linux:
                raise _Fail(f"needs: {host}=linux, but the setup does not run Linux on "
                            f"{host} (add stack: {host}=linux to the lab-setup)")
        return hosts


def _linux_hosts(text: str, key: str) -> tuple[str, ...]:
    """The hosts of ``HOST=linux ...`` (``stack:`` and ``needs:``)."""
    hosts: list[str] = []
    for word in text.replace(",", " ").split():
        host, sep, stack = word.partition("=")
        if not sep or stack != "linux" or not NAME_RE.fullmatch(host):
            raise _Fail(f"{key}: {word!r} is not HOST=linux (like {key}: h2=linux)")
        if host not in hosts:
            hosts.append(host)
    if not hosts:
        raise _Fail(f"{key}: name a host, like {key}: h2=linux")
    return tuple(hosts)


def _setup_line(setup: Setup, seen: set[str], text: str, line_no: int
                ) -> tuple[Setup, str | None]:
    """One line of the setup block: a ``key: value`` setting or a command."""
    m = re.fullmatch(r"\s*([a-z]+):\s*(.*?)\s*", text)
    if m is None:
        try:
            cmd = C.parse_line(text, line_no)
        except C.CommandError as exc:
            raise _Fail(exc.reason) from None
        if cmd is None:
            return setup, None
        return replace(setup, commands=(*setup.commands, (line_no, cmd))), None
    key, value = m[1], m[2]
    if key not in SETTINGS:
        raise _Fail(f"unknown setting {key}:{_suggest(key, SETTINGS)} "
                    f"(one of {', '.join(s + ':' for s in SETTINGS)})")
    if key in seen:
        raise _Fail(f"{key}: given twice")
    seen.add(key)
    if key == "id":
        if not EXERCISE_RE.fullmatch(value):
            raise _Fail(f"bad id {value!r} (lower-case letters, digits and -)")
        return setup, value
    if key == "topology":
        return replace(setup, topology=value), None
    if key == "clock":
        if value not in ("virtual", "real"):
            raise _Fail(f"clock: {value!r} is not virtual or real")
        return replace(setup, clock=value), None
    if key == "seed":
        return replace(setup, seed=_number(value, "seed")), None
    if key == "backend":
        if value not in BACKENDS:
            raise _Fail(f"backend: {value!r} is not {' or '.join(BACKENDS)}")
        return replace(setup, backend=value), None
    if key == "stack":
        return replace(setup, linux=_linux_hosts(value, "stack")), None
    try:
        seconds = float(value)
    except ValueError:
        raise _Fail(f"{key}: {value!r} is not a number of seconds") from None
    if seconds < 0:
        raise _Fail(f"{key}: must not be negative")
    if key == "msl":
        return replace(setup, msl=seconds), None
    return replace(setup, keepalive=seconds), None


def _hosts_of(topology: str) -> tuple[str, ...]:
    """The topology's host names, to check the names a sheet uses (empty: unknown)."""
    from tcplab.lab.topology import TopologyError, load_topology

    try:
        return tuple(h.name for h in load_topology(topology).hosts)
    except (TopologyError, OSError):
        return ()


@dataclass(frozen=True, slots=True)
class _Block:
    """A fenced block tcplab reads: its opening line's number, its info string, the
    heading it is under, and its lines with their numbers."""

    line: int
    info: str
    heading: str
    body: list[tuple[int, str]]


def _blocks(lines: list[str], path: Path, errors: list[str]) -> tuple[str, list[_Block]]:
    """The sheet's title (its first level-1 heading) and its lab-setup and check blocks."""
    title = heading = ""
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^(```+|~~~+)\s*(.*)$", lines[i])
        if fence is None:
            if (h := re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", lines[i])) is not None:
                heading = h[2]
                title = title or (heading if len(h[1]) == 1 else "")
            i += 1
            continue
        opening, info = i + 1, fence[2].strip()
        body: list[tuple[int, str]] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(fence[1]):
            body.append((i + 1, lines[i]))
            i += 1
        if i >= len(lines):
            errors.append(f"{path}:{opening}: a fenced block is not closed")
        i += 1
        if info == "lab-setup" or info.split(" ", 1)[0] == "check":
            blocks.append(_Block(opening, info, heading, body))
    return title, blocks


def _past_blanks(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def student_markdown(text: str) -> str:
    """The sheet as a student reads it in the dashboard: without its ``check`` blocks,
    whose conditions would give the answers away (``expect-seen c' TIME-WAIT`` answers
    "which end waits?").  The ``lab-setup`` block stays: it is what the lab did before
    the student typed anything (the link's delay, the listener), which the prose refers
    to.  The ``<details>`` a sheet folds a check block into (so that a web page shows it
    folded away) goes with the block."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^(```+|~~~+)\s*(.*)$", lines[i])
        if fence is None:
            out.append(lines[i])
            i += 1
            continue
        end = i + 1   # the closing fence, as _blocks finds it
        while end < len(lines) and not lines[end].startswith(fence[1]):
            end += 1
        if fence[2].strip().split(" ", 1)[0] != "check":
            out.extend(lines[i:end + 1])
            i = end + 1
            continue
        # the block, the <details> that folds it away on a web page, and a blank line
        while out and not out[-1].strip():
            out.pop()
        if out and out[-1].lstrip().startswith("<details"):
            out.pop()
            while out and not out[-1].strip():
                out.pop()
        i = _past_blanks(lines, end + 1)
        if i < len(lines) and lines[i].strip() == "</details>":
            i = _past_blanks(lines, i + 1)
        out.append("")
    return "\n".join(out) + "\n"


def _meaningful(body: list[tuple[int, str]]) -> list[tuple[int, str]]:
    return [(n, text) for n, text in body
            if text.strip() and not text.lstrip().startswith("#")]


def parse_sheet(text: str, path: Path | str = "sheet.md") -> Sheet:
    """Read a sheet; :class:`SheetError` lists every bad line."""
    path = Path(path)
    errors: list[str] = []
    title, blocks = _blocks(text.splitlines(), path, errors)
    setup = Setup()
    setup_line: int | None = None
    settings: set[str] = set()
    sheet_id = path.stem
    for block in blocks:
        if block.info != "lab-setup":
            continue
        if setup_line is not None:
            errors.append(f"{path}:{block.line}: a second lab-setup block (the first is at "
                          f"line {setup_line})")
            continue
        setup_line = block.line
        for line_no, text_line in _meaningful(block.body):
            try:
                setup, new_id = _setup_line(setup, settings, text_line, line_no)
            except _Fail as exc:
                errors.append(f"{path}:{line_no}: {exc}")
                continue
            if new_id is not None:
                sheet_id = new_id
    if setup_line is None:
        errors.append(f"{path}: no lab-setup block (a fenced block whose first line is "
                      f"```lab-setup)")
    hosts = _hosts_of(setup.topology)
    if setup_line is not None and not hosts:
        errors.append(f"{path}:{setup_line}: topology {setup.topology!r} cannot be loaded")
    if setup.linux:
        unknown = [h for h in setup.linux if hosts and h not in hosts]
        if unknown:
            errors.append(f"{path}:{setup_line}: stack: no host {unknown[0]!r} in the "
                          f"topology (its hosts: {', '.join(hosts)})")
        if setup.backend != "mininet":
            errors.append(f"{path}:{setup_line}: stack: Linux's TCP runs only on Mininet "
                          f"(add backend: mininet)")
    exercises = _exercises([b for b in blocks if b.info != "lab-setup"], hosts, path, errors,
                           setup.linux)
    if not any(b.info != "lab-setup" for b in blocks):
        errors.append(f"{path}: no exercise (a fenced block opened by ```check NAME)")
    if errors:
        raise SheetError("\n".join(errors))
    return Sheet(sheet_id, title or sheet_id, path, text, setup, tuple(exercises))


def _exercises(blocks: list[_Block], hosts: tuple[str, ...], path: Path,
               errors: list[str], linux: tuple[str, ...] = ()) -> list[Exercise]:
    exercises: list[Exercise] = []
    names: dict[str, int] = {}
    for block in blocks:
        parts = block.info.split()
        if len(parts) != 2 or not EXERCISE_RE.fullmatch(parts[1]):
            errors.append(f"{path}:{block.line}: a check block is opened by ```check NAME, "
                          f"NAME in lower-case letters, digits and - (got {block.info!r})")
            continue
        name = parts[1]
        if name in names:
            errors.append(f"{path}:{block.line}: check {name} is there twice (first at line "
                          f"{names[name]})")
            continue
        names[name] = block.line
        parser = _CheckParser(hosts, linux)
        bad = False
        for line_no, text_line in _meaningful(block.body):
            try:
                parser.line(line_no, text_line)
            except _Quiet:
                bad = True
            except _Fail as exc:
                errors.append(f"{path}:{line_no}: {exc}")
                bad = True
        if bad:
            continue
        try:
            exercises.append(parser.finish(name, block.heading or name, block.line))
        except _Fail as exc:
            errors.append(f"{path}:{block.line}: {exc}")
    return exercises


def load_sheet(path: Path | str) -> Sheet:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SheetError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SheetError(f"{path} is not UTF-8 text") from None
    return parse_sheet(text, path)
