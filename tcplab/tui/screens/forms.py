"""Forms for the actions: each builds one command-language line and checks it before
anything is sent.  A bad port, an unknown host or a closed connection gets an inline
error and changes nothing; only a line that passes goes to the lab."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tcplab.lab import commands as C

Validator = Callable[[str], str | None]  # a command line -> an error, or None


class CommandForm(ModalScreen[str | None]):
    """A small form; dismissed with the command line to run, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: list[tuple[str, str, str]],
                 build: Callable[[dict[str, str]], str], validate: Validator) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields  # (key, label, default)
        self.build = build
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(self.title_text, id="form-title")
            for key, label, default in self.fields:
                yield Label(label)
                yield Input(value=default, id=f"f-{key}")
            yield Static("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def values(self) -> dict[str, str]:
        return {key: self.query_one(f"#f-{key}", Input).value.strip()
                for key, _, _ in self.fields}

    def submit(self) -> None:
        error_box = self.query_one("#form-error", Static)
        try:
            line = self.build(self.values())
            C.parse_line(line)
        except (C.CommandError, ValueError) as exc:
            error_box.update(f"[b red]{escape(str(exc))}[/]")
            return
        problem = self.validate(line)
        if problem:
            error_box.update(f"[b red]{escape(problem)}[/]")
            return
        self.dismiss(line)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def action_cancel(self) -> None:
        self.dismiss(None)


def _need(values: dict[str, str], key: str, what: str) -> str:
    value = values.get(key, "")
    if not value:
        raise ValueError(f"{what} is required")
    return value


def listen_form(validate: Validator, host: str) -> CommandForm:
    return CommandForm("listen: open a passive socket", [
        ("host", "host", host), ("port", "port", "80")],
        lambda v: f"listen {_need(v, 'host', 'host')}:{_need(v, 'port', 'port')}", validate)


def connect_form(validate: Validator, host: str, peer: str) -> CommandForm:
    def build(v: dict[str, str]) -> str:
        local = _need(v, "host", "host") + (f":{v['lport']}" if v["lport"] else "")
        name = f" as {v['name']}" if v["name"] else ""
        return f"connect {local} {_need(v, 'peer', 'remote host')}:{_need(v, 'port', 'port')}" \
               + name
    return CommandForm("connect: active open", [
        ("host", "from host", host), ("lport", "local port (empty: ephemeral)", ""),
        ("peer", "to host", peer), ("port", "port", "80"), ("name", "name (as)", "")],
        build, validate)


def send_form(validate: Validator, conn: str) -> CommandForm:
    def build(v: dict[str, str]) -> str:
        c = _need(v, "conn", "connection")
        if v["bytes"]:
            return f"send {c} --bytes {v['bytes']}"
        if v["file"]:
            return f"send {c} --file {C.quote(v['file'].encode())}"
        text = _need(v, "text", "text, a byte count or a file")
        return f"send {c} {C.quote(text.encode())}"
    return CommandForm("send: write to a connection", [
        ("conn", "connection", conn), ("text", "text", "hello"),
        ("bytes", "or a number of bytes", ""), ("file", "or a file", "")], build, validate)


def link_form(validate: Validator, a: str, b: str) -> CommandForm:
    def build(v: dict[str, str]) -> str:
        parts = [f"link {_need(v, 'a', 'node')} {_need(v, 'b', 'node')}"]
        for key in ("loss", "delay", "jitter", "bw"):
            if v[key]:
                parts.append(f"{key}={v[key]}")
        if v["state"]:
            parts.append(v["state"])
        if v["dir"]:
            parts.append(f"dir={v['dir']}")
        return " ".join(parts)
    return CommandForm("link: change a link (empty = unchanged)", [
        ("a", "node", a), ("b", "node", b), ("loss", "loss (e.g. 5%)", ""),
        ("delay", "delay (e.g. 20ms; at most 60s)", ""), ("jitter", "jitter", ""),
        ("bw", "bandwidth (e.g. 10mbit, at least 1kbit; or unlimited)", ""),
        ("state", "up or down", ""),
        ("dir", "direction (e.g. h1>s1; empty = both)", "")], build, validate)
