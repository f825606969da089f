"""The socket options a script may set and read, and what each means to the engine.

Theory of operation
-------------------
A script names an option the Linux way (``setsockopt(4, IPPROTO_TCP, TCP_NODELAY,
[1], 4)``); :func:`option_name` accepts only the (level, name) pairs in
:data:`SUPPORTED` and answers "unsupported" for the rest.  :func:`set_option` turns
the option into a :class:`~tcplab.tcp.config.Config` field, checks it on a copy first
(a refused value -- EINVAL -- changes nothing), then sets it on every config the socket
has and tells its connections (:meth:`Connection.settings_changed`), so a new value
takes effect at once, as in Linux.  :func:`option_value` reads one back.
"""

from __future__ import annotations

from dataclasses import replace

from tcplab.pkt import parse as ps
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection

SUPPORTED = {("SOL_SOCKET", "SO_REUSEADDR"), ("SOL_SOCKET", "SO_RCVBUF"),
             ("SOL_SOCKET", "SO_SNDBUF"), ("SOL_SOCKET", "SO_ERROR"),
             ("IPPROTO_TCP", "TCP_NODELAY"), ("SOL_TCP", "TCP_NODELAY"),
             ("SOL_SOCKET", "SO_KEEPALIVE"), ("IPPROTO_IP", "IP_TTL"), ("IPPROTO_IP", "IP_TOS"),
             *((level, name) for level in ("IPPROTO_TCP", "SOL_TCP")
               for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_MAXSEG"))}


def option_name(call: ps.Syscall, level: ps.Expr, name: ps.Expr) -> str:
    if not isinstance(level, ps.Name) or not isinstance(name, ps.Name) \
            or (level.name, name.name) not in SUPPORTED:
        shown = name.name if isinstance(name, ps.Name) else "given as a number"
        raise ps.Unsupported(call.lineno, f"socket option {shown} is not supported")
    return name.name


def int_arg(expr: ps.Expr, lineno: int) -> int:
    if isinstance(expr, ps.Array) and len(expr.items) == 1:
        expr = expr.items[0]
    return ps.const_int(expr, lineno)


def set_option(opt: str, number: int, configs: list[Config], conns: list[Connection],
               now: float) -> None:
    """Set ``opt`` to ``number``; ValueError (and nothing changed) when it is refused."""
    if opt == "SO_REUSEADDR":
        return
    attr, setting = {"SO_RCVBUF": ("rcvbuf", number), "SO_SNDBUF": ("sndbuf", number),
                     "TCP_NODELAY": ("nagle", not number),
                     "SO_KEEPALIVE": ("keepalive", bool(number)),
                     "TCP_KEEPIDLE": ("keepalive_idle", float(number)),
                     "TCP_KEEPINTVL": ("keepalive_interval", float(number)),
                     "TCP_KEEPCNT": ("keepalive_probes", number),
                     "IP_TTL": ("ttl", number), "IP_TOS": ("tos", number),
                     # the MSS we advertise, and the most we send (Linux's user_mss)
                     "TCP_MAXSEG": ("mss", number)}[opt]
    trial = replace(configs[0])
    setattr(trial, attr, setting)
    trial.validate()
    for cfg in configs:
        setattr(cfg, attr, setting)
    for conn in conns:
        conn.settings_changed(now)


def option_value(opt: str, cfg: Config) -> int:
    """What ``getsockopt`` reads for ``opt`` (not SO_ERROR, which is the socket's)."""
    return {"SO_REUSEADDR": 0, "SO_RCVBUF": cfg.rcvbuf, "SO_SNDBUF": cfg.sndbuf,
            "TCP_NODELAY": int(not cfg.nagle), "SO_KEEPALIVE": int(cfg.keepalive),
            "TCP_KEEPIDLE": int(cfg.keepalive_idle),
            "TCP_KEEPINTVL": int(cfg.keepalive_interval),
            "TCP_KEEPCNT": cfg.keepalive_probes, "IP_TTL": cfg.ttl, "IP_TOS": cfg.tos,
            "TCP_MAXSEG": cfg.mss}[opt]
