"""Per-connection settings.  Defaults follow the RFCs; labs shorten the timers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(slots=True)
class Config:
    """Per-connection settings (a socket's options); :meth:`validate` checks them."""
    mss: int = 1460                 # the MSS we advertise (MTU - 40)
    rcvbuf: int = 262144            # receive buffer: bounds RCV.WND
    sndbuf: int = 262144            # send buffer: bounds unsent + unacknowledged bytes
    window_scaling: bool = True     # offer the window scale option (RFC 7323 §2)
    wscale: int = 7                 # shift we offer (RFC 7323 §2.3); used only if both offer
    sack: bool = True               # offer SACK-permitted (RFC 2018)
    timestamps: bool = True         # offer timestamps (RFC 7323 §3)
    nagle: bool = True              # RFC 9293 §3.7.4; False = TCP_NODELAY
    delayed_ack: float = 0.04       # seconds; 0 = acknowledge every segment at once
    rto_initial: float = 1.0        # RFC 6298 §2.1
    rto_min: float = 1.0            # RFC 6298 §2.4
    rto_max: float = 60.0           # RFC 6298 §2.5
    syn_retries: int = 7            # SYN / SYN,ACK retransmissions: 183 s, and RFC 9293
                                    # §3.8.3 wants at least 3 minutes for a SYN (MUST-23)
    retries: int = 15               # data / FIN retransmissions before giving up (R2)
    r1: int = 3                     # retransmissions of one segment before the application
                                    # and IP hear of trouble (RFC 9293 §3.8.3, SHLD-10)
    user_timeout: float | None = None  # RFC 9293 §3.8.3: give up after this long unacknowledged
    msl: float = 30.0               # TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2)
    initial_window: int = 10        # segments (RFC 6928)
    # RFC 6528 key.  Unless given, 16 bytes from os.urandom, read once when the Config is
    # made (the one read of the outside world in tcplab/tcp: a constant would make every
    # keyless engine's ISNs predictable, MUST-9).  A simulated host passes one drawn from
    # the run's seed, so that a seed replays a run exactly.
    isn_secret: bytes = field(default_factory=lambda: os.urandom(16))
    challenge_ack_limit: int = 10   # per second (RFC 5961 §7)
    invalid_ack_interval: float = 0.5  # at most one ACK per this many seconds in answer to
                                    # unacceptable segments without text (Linux's
                                    # tcp_invalid_ratelimit): no ACK storms
    keepalive: bool = False         # RFC 9293 §3.8.4: off unless asked (MUST-24, MUST-25)
    keepalive_idle: float = 7200.0  # idle seconds before the first probe (MUST-27, MUST-28)
    keepalive_interval: float = 75.0  # between unanswered probes (as Linux)
    keepalive_probes: int = 9       # unanswered probes before giving up (MUST-29: > 1)
    ttl: int = 64                   # IP TTL of the segments sent (RFC 9293 §3.9.2, MUST-49)
    tos: int = 0                    # IP Diffserv byte of the segments sent (MUST-48)
    rack: bool = True               # RACK-TLP loss detection (RFC 8985); False = RFC 6675
    syn_cookies: bool = True        # a listener with a full SYN queue answers with SYN
                                    # cookies (RFC 4987 §3.6) instead of dropping SYNs
                                    # DupThresh/IsLost rules, RTO for tail losses

    def validate(self) -> None:
        """Raise ValueError, with a one-line reason, if a setting is out of range."""
        if not 88 <= self.mss <= 65495:
            raise ValueError(f"mss {self.mss} out of range 88..65495")
        if not 0 <= self.wscale <= 14:
            raise ValueError(f"wscale {self.wscale} out of range 0..14 (RFC 7323 §2.3)")
        if self.rcvbuf < 1 or self.sndbuf < 1:
            raise ValueError("buffers must be positive")
        if self.delayed_ack < 0 or self.delayed_ack >= 0.5:
            raise ValueError("delayed_ack must be at least 0 and under 0.5 s "
                             "(RFC 1122 §4.2.3.2)")
        if self.rto_min <= 0 or self.rto_initial <= 0 or self.rto_max < self.rto_min:
            raise ValueError("RTO bounds must be positive and rto_max >= rto_min")
        if self.msl < 0:
            raise ValueError("msl must be >= 0")
        if self.r1 < 1:
            raise ValueError("r1 must be at least 1 retransmission")
        if self.keepalive_idle <= 0 or self.keepalive_interval <= 0:
            raise ValueError("keep-alive times must be positive")
        if not 1 <= self.ttl <= 255:
            raise ValueError("ttl must be 1..255")
        if not 0 <= self.tos <= 255 or self.tos & 3:
            # the two low bits are ECN's (RFC 3168), which tcplab does not use
            raise ValueError("tos must be a Diffserv byte 0..252 with the ECN bits clear")
        if self.invalid_ack_interval < 0:
            raise ValueError("invalid_ack_interval must be >= 0")
        if self.keepalive_probes < 2:
            # RFC 9293 §3.8.4 (MUST-29): one unanswered probe proves nothing
            raise ValueError("keepalive_probes must be at least 2")
