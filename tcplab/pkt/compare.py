"""Settings, sequence-number mapping and packet comparison for the script runner.

Theory of operation
-------------------
Scripts write numbers *relative*; the engine works with absolute 32-bit values.
:class:`Numbering` holds the three bases that translate between them:

* ``in_base`` -- the runner's fixed initial sequence number for the script's side:
  inbound ``seq``, outbound ``ack`` and outbound SACK blocks are relative to it;
* ``out_base`` -- the engine's ISN of the current connection (updated each time
  the engine sends a SYN): outbound ``seq``, inbound ``ack`` and inbound SACK
  blocks are relative to it;
* ``ts_offset`` -- engine TS clock minus script TS clock, learnt from the first
  outbound line that writes ``TS val V``: inbound ``ecr E`` is sent as
  ``E + ts_offset`` once it is known (as written before).

:func:`differences` compares one engine segment with one outbound script line and
lists what differs (empty list = match); :func:`render` prints an engine segment in
the same relative packetdrill syntax so a failure shows both side by side.
:class:`Settings` carries the comparison switches and the engine Config overrides;
command-line flags and a script's option lines go through the same
:meth:`Settings.apply`, so both spell and check them identically.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tcplab.pkt.parse import Packet
from tcplab.tcp import segment as sg
from tcplab.tcp.config import Config

MASK = 0xFFFFFFFF
IN_BASE = 1_000_000_000   # non-zero so that a confusion with absolute 0 shows
DEFAULT_INBOUND_WINDOW = 65535
OPTIONS_MODES = ("strict", "unordered", "ignore")

# flag name -> (Config field, scale from the flag's unit to the field's)
_CONFIG_FLAGS: dict[str, tuple[str, float]] = {
    "mss": ("mss", 1), "wscale": ("wscale", 1), "rcvbuf": ("rcvbuf", 1),
    "delayed-ack-ms": ("delayed_ack", 0.001), "msl-ms": ("msl", 0.001),
}
_BOOL_CONFIG_FLAGS = {"no-sack": "sack", "no-timestamps": "timestamps", "no-rack": "rack"}


class SettingError(ValueError):
    """A bad flag or option line; the message is one user-facing sentence."""


class UnsupportedSetting(SettingError):
    """A valid packetdrill option that tcplab does not implement."""


@dataclass(slots=True)
class Settings:
    ignore_window: bool = False
    options: str = "strict"
    tolerance: float = 0.004       # seconds; packetdrill's default is 4000 us
    tolerance_percent: float = 0.0  # of the interval since the previous event, if larger
    ts_tick: float | None = None   # --tcp_ts_tick_usecs, in seconds (TS val is not compared)
    ignore_psh: bool = False
    config_overrides: dict[str, int | float | bool] = field(default_factory=dict)

    def copy(self) -> Settings:
        return dataclasses.replace(self, config_overrides=dict(self.config_overrides))

    def apply(self, name: str, value: str | None) -> None:
        """Apply ``--name[=value]``; ``_`` and ``-`` are the same in names."""
        key = name.replace("_", "-")
        if key in ("ignore-window", "ignore-psh", *_BOOL_CONFIG_FLAGS):
            if value is not None:
                raise SettingError(f"--{name} takes no value")
            if key == "ignore-window":
                self.ignore_window = True
            elif key == "ignore-psh":
                self.ignore_psh = True
            else:
                self.config_overrides[_BOOL_CONFIG_FLAGS[key]] = False
            return
        if value is None or value == "":
            raise SettingError(f"--{name} needs a value")
        if key == "options":
            if value not in OPTIONS_MODES:
                raise SettingError(f"--options must be one of {', '.join(OPTIONS_MODES)}")
            self.options = value
        elif key == "tolerance-ms":
            self.tolerance = _number(name, value) / 1000
        elif key == "tolerance-usecs":
            self.tolerance = _number(name, value) / 1_000_000
        elif key == "tolerance-percent":
            self.tolerance_percent = _number(name, value)
        elif key == "tcp-ts-tick-usecs":
            # packetdrill uses it to check outbound TS val against the clock; tcplab
            # does not compare TS val (it is the engine's clock), so it only checks it
            tick = _number(name, value)
            if tick <= 0:
                raise SettingError(f"--{name} must be positive")
            self.ts_tick = tick / 1_000_000
        elif key == "ip-version":
            if value != "ipv4":
                raise UnsupportedSetting(f"--{name}={value}: only ipv4 is supported")
        elif key in _CONFIG_FLAGS:
            attr, scale = _CONFIG_FLAGS[key]
            number = _number(name, value)
            if scale == 1:
                if number != int(number):
                    raise SettingError(f"--{name} must be a whole number")
                self.config_overrides[attr] = int(number)
            else:
                self.config_overrides[attr] = number * scale
            try:
                self.config()
            except ValueError as err:
                del self.config_overrides[attr]
                raise SettingError(f"--{name}={value}: {err}") from None
        else:
            raise UnsupportedSetting(f"option --{name} is not supported")

    def config(self) -> Config:
        """The engine defaults with this run's overrides (validated)."""
        cfg = dataclasses.replace(Config(), **self.config_overrides)  # type: ignore[arg-type]
        cfg.validate()
        return cfg


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingError(f"--{name} needs a number, got {value!r}") from None
    if number < 0:
        raise SettingError(f"--{name} must not be negative")
    return number


@dataclass(slots=True)
class Numbering:
    in_base: int = IN_BASE
    out_base: int = 0
    ts_offset: int | None = None

    def saw(self, seg: sg.Segment) -> None:
        """Every engine segment passes here first: a SYN re-bases outbound numbers."""
        if seg.flags & sg.SYN:
            self.out_base = seg.seq

    def learn_ts(self, pkt: Packet, seg: sg.Segment) -> None:
        """Learn the TS clock offset from the first outbound line that writes one."""
        if self.ts_offset is not None or pkt.options is None:
            return
        got = seg.timestamps()
        for opt in pkt.options:
            if type(opt) is sg.Timestamps and got is not None:
                self.ts_offset = (got.val - opt.val) & MASK

    def inbound(self, pkt: Packet, src_port: int, dst_port: int) -> sg.Segment:
        """The engine-side segment for an inbound script line."""
        options: list[sg.Option] = []
        for opt in pkt.options or ():
            if type(opt) is sg.Timestamps and self.ts_offset is not None:
                opt = sg.Timestamps(opt.val, (opt.ecr + self.ts_offset) & MASK)
            elif type(opt) is sg.Sack:
                opt = sg.Sack(tuple(((a + self.out_base) & MASK, (b + self.out_base) & MASK)
                                    for a, b in opt.blocks))
            options.append(opt)
        ack = (pkt.ack + self.out_base) & MASK if pkt.ack is not None else 0
        window = pkt.win if pkt.win is not None else DEFAULT_INBOUND_WINDOW
        return sg.Segment(src_port, dst_port, (pkt.seq + self.in_base) & MASK, ack, pkt.flags,
                          window, tuple(options), bytes(pkt.length), pkt.urg or 0)


def differences(pkt: Packet, seg: sg.Segment, nb: Numbering, st: Settings) -> list[str]:
    """What differs between an outbound script line and the engine's segment."""
    diffs: list[str] = []
    got_flags, want_flags = seg.flags, pkt.flags
    if st.ignore_psh:
        got_flags &= ~sg.PSH
        want_flags &= ~sg.PSH
    if got_flags != want_flags:
        diffs.append(f"flags {sg.flags_str(seg.flags) or '(none)'} "
                     f"instead of {sg.flags_str(pkt.flags)}")
    seq = (seg.seq - nb.out_base) & MASK
    if seq != pkt.seq:
        diffs.append(f"seq {seq} instead of {pkt.seq}")
    if len(seg.payload) != pkt.length:
        diffs.append(f"length {len(seg.payload)} instead of {pkt.length}")
    if pkt.ack is not None and seg.flags & sg.ACK:
        ack = (seg.ack - nb.in_base) & MASK
        if ack != pkt.ack:
            diffs.append(f"ack {ack} instead of {pkt.ack}")
    if pkt.urg is not None and seg.urgent != pkt.urg:
        diffs.append(f"urg {seg.urgent} instead of {pkt.urg}")
    if pkt.win is not None and not st.ignore_window and seg.window != pkt.win:
        diffs.append(f"win {seg.window} instead of {pkt.win}")
    if not pkt.any_options and st.options != "ignore":
        got = [_norm(o, nb) for o in seg.options]
        want = [_norm(o, None) for o in pkt.options or ()]
        if st.options == "unordered":
            got = sorted(o for o in got if o[0] not in ("nop", "eol"))
            want = sorted(o for o in want if o[0] not in ("nop", "eol"))
        if got != want:
            diffs.append(f"options <{render_options(seg.options, nb)}> instead of "
                         f"<{render_options(pkt.options or (), None)}>")
    return diffs


def _norm(opt: sg.Option, nb: Numbering | None) -> tuple[object, ...]:
    """A comparable form: the outbound TS val is not compared (it is the engine's
    clock), the TS ecr is; engine SACK blocks become relative to ``in_base``."""
    if type(opt) is sg.Timestamps:
        return ("TS", opt.ecr)
    if type(opt) is sg.Sack:
        base = nb.in_base if nb is not None else 0
        return ("sack", tuple(((a - base) & MASK, (b - base) & MASK) for a, b in opt.blocks))
    return (type(opt).__name__.lower(), *opt)


def render_options(options: tuple[sg.Option, ...], nb: Numbering | None) -> str:
    """Options in script syntax; with ``nb``, engine values shown relative."""
    parts = []
    for opt in options:
        if nb is not None and type(opt) is sg.Timestamps and nb.ts_offset is not None:
            opt = sg.Timestamps((opt.val - nb.ts_offset) & MASK, opt.ecr)
        elif nb is not None and type(opt) is sg.Sack:
            opt = sg.Sack(tuple(((a - nb.in_base) & MASK, (b - nb.in_base) & MASK)
                                for a, b in opt.blocks))
        parts.append(sg.option_str(opt))
    return ",".join(parts)


def render(seg: sg.Segment, nb: Numbering) -> str:
    """An engine segment as an outbound script line (without the time)."""
    seq = (seg.seq - nb.out_base) & MASK
    n = len(seg.payload)
    text = f"> {sg.flags_str(seg.flags)} {seq}:{(seq + n) & MASK}({n})"
    if seg.flags & sg.ACK:
        text += f" ack {(seg.ack - nb.in_base) & MASK}"
    text += f" win {seg.window}"
    if seg.flags & sg.URG:
        text += f" urg {seg.urgent}"
    if seg.options:
        text += f" <{render_options(seg.options, nb)}>"
    return text
