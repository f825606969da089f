"""The two ways a script can be wrong, shared by the parser and the runner."""

from __future__ import annotations


class ScriptError(Exception):
    """Invalid script text; ``lineno`` is 1-based (0 = the file as a whole)."""

    def __init__(self, lineno: int, message: str) -> None:
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno
        self.message = message


class Unsupported(ScriptError):
    """Valid packetdrill that tcplab does not run; the script is skipped."""


class Failure(Exception):
    """The script and the engine disagree; the message is the FAIL reason."""
