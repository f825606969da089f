"""Parsers of the values inside commands: names, hosts, ports, connections, states,
segment kinds, counts and durations.  Each raises :class:`ParseFail` with a one-line reason."""

from __future__ import annotations

import difflib
import ipaddress

from tcplab.lab import units
from tcplab.lab.commands.lexer import ParseFail
from tcplab.lab.commands.model import (
    NAME_RE,
    ConnName,
    ConnRef,
    ConnTuple,
    Endpoint,
    Flow,
    SegmentKind,
)
from tcplab.tcp.states import State


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` naming the choice closest to a mistyped ``word``, or ""
    when none is close; appended to an error's reason."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def name(text: str, what: str) -> str:
    """``text`` as a name (a connection's, a host's): a letter, then letters, digits,
    ``_`` or ``-``; ``what`` names it in the error."""
    if not NAME_RE.fullmatch(text):
        raise ParseFail(f"bad {what} {text!r} (names start with a letter, then letters, digits, "
                        f"_ or -)")
    return text


def host(text: str) -> str:
    """A host as typed: a name (``h1``) or an IPv4 address; which host it is, the lab
    resolves when the command runs."""
    if NAME_RE.fullmatch(text):
        return text
    if text[:1].isdigit():
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ParseFail(f"bad IPv4 address {text!r}") from None
        return text
    raise ParseFail(f"bad host {text!r} (expected a name like h1 or an IPv4 address)")


def port(text: str, whole: str) -> int:
    """A TCP port number 1..65535 (``whole`` is the word it came from, for the error)."""
    if not text:
        raise ParseFail(f"missing port in {whole!r}")
    if not (text.isascii() and text.isdigit()):
        raise ParseFail(f"bad port {text!r} in {whole!r} (expected a number 1..65535)")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ParseFail(f"port {port} out of range 1..65535")
    return port


def host_port(text: str, port_required: bool = True) -> tuple[str, int | None]:
    """``HOST:PORT`` as ``(host, port)``; with ``port_required`` false a bare ``HOST``
    gives ``(host, None)``."""
    if text.count(":") > 1:
        raise ParseFail(f"unknown host syntax {text!r} (expected HOST:PORT like h2:80)")
    host_text, colon, port_text = text.partition(":")
    if not host_text:
        raise ParseFail(f"missing host in {text!r}")
    if not colon:
        if port_required:
            raise ParseFail(f"missing port in {text!r}")
        return host(host_text), None
    return host(host_text), port(port_text, text)


def endpoint(text: str) -> Endpoint:
    """``HOST:PORT`` (``h2:80``) as an :class:`Endpoint`."""
    host_name, number = host_port(text)
    assert number is not None
    return Endpoint(host_name, number)


def conn(text: str) -> ConnRef:
    """A connection reference: a name (``c1``), its accepted end (``c1'``) or a four-tuple
    (``h1:40000>h2:80``)."""
    if ">" in text:
        local, _, remote = text.partition(">")
        if not local or not remote or ">" in remote:
            raise ParseFail(f"bad connection {text!r} (expected HOST:PORT>HOST:PORT)")
        return ConnTuple(endpoint(local), endpoint(remote))
    accepted = text.endswith("'")
    base = text[:-1] if accepted else text
    if not NAME_RE.fullmatch(base):
        raise ParseFail(f"bad connection {text!r} (expected a name like c1, c1' "
                        f"or h1:40000>h2:80)")
    return ConnName(base, accepted)


def flow(text: str, what: str = "direction") -> Flow:
    """``SRC>DST`` (``h1>h2``) as a :class:`Flow`; ``what`` names it in the error."""
    src, arrow, dst = text.partition(">")
    if not arrow or not src or not dst or ">" in dst:
        raise ParseFail(f"bad {what} {text!r} (expected SRC>DST like h1>h2)")
    return Flow(host(src), host(dst))


def state(text: str) -> State:
    """A TCP state (RFC 9293 §3.3.2) as typed in any case, ``_`` for ``-`` (``time_wait``
    is TIME-WAIT); an unknown one suggests the closest."""
    wanted = text.upper().replace("_", "-")
    for state in State:
        if state.value == wanted:
            return state
    names = [state.value for state in State]
    hint = suggest(wanted, names) or f" (one of {', '.join(names)})"
    raise ParseFail(f"unknown state {text!r}{hint}")


def kind(text: str) -> SegmentKind:
    """A :class:`SegmentKind` as typed in any case (``syn,ack`` and ``syn_ack`` are
    SYN-ACK); an unknown one suggests the closest."""
    wanted = text.upper().replace("_", "-").replace(",", "-")
    for kind in SegmentKind:
        if kind.value == wanted:
            return kind
    names = [kind.value for kind in SegmentKind]
    hint = suggest(wanted, names) or f" (one of {', '.join(names)})"
    raise ParseFail(f"unknown segment kind {text!r}{hint}")


def count(text: str, what: str, minimum: int) -> int:
    """A whole number of at least ``minimum`` (``what`` names it in the error)."""
    try:
        value = units.parse_count(text)
    except units.UnitError as error:
        raise ParseFail(f"bad value for {what}: {text!r} ({error})") from None
    if value < minimum:
        raise ParseFail(f"bad value for {what}: {text!r} (must be at least {minimum})")
    return value


def seconds(raw: str, command: str) -> float:
    """A duration whose bare numbers are seconds (wait, step, rewind)."""
    try:
        return units.parse_duration(raw, bare="s")
    except units.UnitError as error:
        raise ParseFail(f"bad value for {command}: {raw!r} ({error})") from None
