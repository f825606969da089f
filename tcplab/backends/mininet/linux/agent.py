"""The agent of a kernel host: Linux's TCP, driven and watched over the agents' channel.

``python -m tcplab.backends.mininet.linux.agent`` takes the stack agent's arguments
(:mod:`tcplab.backends.mininet.agent`) and speaks the same control protocol, so the lab
drives a kernel host exactly like a stack host (``listen``, ``connect``, ``write``,
``shutdown``, ``close``, ``abort``, ``socket(s)``, ``command``).  What differs is
inside: the ops act on :class:`~.host.KernelHost` (real sockets), and the events are
made from what the kernel reports --

* ``state.changed`` with the cause ``linux``: from the tracepoint (exact) or from
  sock_diag dumps (every 100 ms), :mod:`.host`;
* ``tcb.sample``: the connection's TCP_INFO as the dump gives it (the kernel does not
  report SND.UNA and the other sequence variables: they are 0);
* ``data.delivered``: the bytes the application read;
* ``segment.sent`` / ``segment.received``: every TCP segment on the interface, from a
  capture socket (:mod:`.sniff`), with the socket it belongs to where known.

The loop is the stack agent's: it wakes for the control socket, a frame, a state
change on the tracepoint, and every :data:`TICK` to read and write the sockets.
Link impairments on a kernel host's cable are applied by nft bridge rules or by the
stack host at the other end (:mod:`..impair`), never here.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys

from tcplab.backends.mininet.agent import BURST, Agent, IfaceSpec
from tcplab.backends.mininet.agent import main as agent_main
from tcplab.backends.mininet.linux.diag import SockDiag
from tcplab.backends.mininet.linux.host import (
    NO_THRESHOLD,
    BytesRead,
    KernelHost,
    Observation,
    StateSeen,
)
from tcplab.backends.mininet.linux.sniff import Sniffer
from tcplab.backends.mininet.linux.trace import StateTrace, instance_name, open_trace
from tcplab.backends.mininet.protocol import frame_to_wire
from tcplab.lab.backend import HostApi
from tcplab.lab.events import Notice
from tcplab.lab.peek import tcp_of
from tcplab.stack import events as H
from tcplab.tcp.config import Config
from tcplab.tcp.segment import SYN
from tcplab.tcp.states import Trigger

TICK = 0.01  # seconds: how often the sockets are read and written when nothing woke us


def event_of(host: str, obs: Observation) -> H.StateChanged | H.Delivered | H.TcbSampled:
    """An observation of the kernel as the event a stack host would have published."""
    if isinstance(obs, StateSeen):
        return H.StateChanged(t=obs.t, host=host, sid=obs.sid, old=obs.old, new=obs.new,
                              trigger=Trigger.LINUX, local=obs.local, remote=obs.remote)
    if isinstance(obs, BytesRead):
        return H.Delivered(obs.t, host, obs.sid, obs.data)
    w, row = obs.wire, obs.row
    # SND.MAX is SND.NXT: Linux never moves SND.NXT back (see .wireview)
    head = (obs.t, host, obs.sid, w.iss, w.irs, w.snd_una, w.snd_nxt, w.snd_nxt, w.rcv_nxt,
            w.snd_wnd, w.rcv_wnd)
    if row is None:  # no dump has shown the socket yet: its TCP_INFO is unknown
        return H.TcbSampled(*head, 0, 0, 0, None, None, 0.0, 0, 0, obs.timers)
    ssthresh = NO_THRESHOLD if row.ssthresh is None else row.ssthresh
    return H.TcbSampled(*head, row.cwnd or 0, ssthresh,
                        (row.unacked or 0) * (row.mss or 0), row.srtt, row.rttvar,
                        row.rto or 0.0, row.sendq, row.recvq, obs.timers)


class KernelAgent(Agent):
    """Linux's TCP on a host's interfaces, driven over a unix socket."""

    def _make_app(self, ifaces: list[IfaceSpec], gateway: str | None,
                  config: Config | None) -> HostApi:
        self.sniffers: list[Sniffer] = []
        self.diag = SockDiag()
        trace = open_trace(instance_name(os.getpid()), self.local_ips)
        self.trace = trace if isinstance(trace, StateTrace) else None
        # said once, when the lab connects (docs: which way a lab follows Linux's states)
        self.how = ("state changes from the sock:inet_sock_set_state tracepoint (exact)"
                    if self.trace is not None else
                    f"state changes from sock_diag every 100 ms ({trace}): a state "
                    f"shorter than that is missed")
        self.kernel = KernelHost(self.local_ips, self.diag, self.trace, self.epoch,
                                 drain=self._drain)
        return self.kernel

    def __init__(self, name: str, control: str, epoch: float, ifaces: list[IfaceSpec],
                 gateway: str | None = None, seed: int = 0, config: Config | None = None
                 ) -> None:
        super().__init__(name, control, epoch, ifaces, gateway, seed, config)
        if self.trace is not None:
            self.sel.register(self.trace, selectors.EVENT_READ, lambda mask: self._after_host())
        self._timer.set(self.sched.now + TICK)

    def _add_port(self, ifname: str) -> None:
        sniffer = Sniffer(ifname)
        self.sniffers.append(sniffer)
        self.sel.register(sniffer, selectors.EVENT_READ, lambda mask: self._on_frames(sniffer))

    def _on_frames(self, sniffer: Sniffer) -> None:
        self._take_frames(sniffer)
        self._after_host()

    def _drain(self) -> None:
        for sniffer in self.sniffers:
            while self._take_frames(sniffer) == BURST:
                pass

    def _take_frames(self, sniffer: Sniffer) -> int:
        """Publish the frames waiting on ``sniffer`` (at most BURST); how many there were."""
        kernel = self.kernel
        frames = sniffer.recv_frames(BURST)
        clock = self.clock()
        for direction, frame, stamp in frames:
            # the kernel's time for the frame, on the lab's clock (never ahead of it)
            now = clock if stamp is None else min(clock, stamp - self.epoch)
            if self.capture:
                self._push({"frame": frame_to_wire(sniffer.ifname, direction, now, frame)})
            tcp = tcp_of(frame)
            if tcp is None:
                continue
            syn = bool(tcp.segment.flags & SYN)
            out = direction == "out"
            sid = (kernel.sid_of(tcp.src, tcp.dst, syn) if out
                   else kernel.sid_of(tcp.dst, tcp.src, syn))
            if sid is not None:
                kernel.segment(sid, out, tcp.segment, now)
            event = H.SegmentSent if out else H.SegmentReceived
            self._publish(event(now, self.name, sid, tcp.src, tcp.dst, tcp.segment,
                                sniffer.ifname))
        return len(frames)

    def _after_host(self) -> None:
        now = self.sched.now
        for obs in self.kernel.poll(now):
            self._publish(event_of(self.name, obs))
        # Idle, the agent sleeps until something wakes it (a frame, the tracepoint, a
        # request of the lab): 100 wake-ups a second of two idle kernel hosts cost the
        # stack hosts beside them ~4% of a core during mininet_MBps
        self._timer.set(None if self.kernel.idle else now + TICK)

    def _fire(self) -> None:
        self._after_host()

    def _on_accept(self, listener: socket.socket) -> None:
        super()._on_accept(listener)
        self._publish(Notice(self.sched.now, self.name, f"{self.name} runs Linux's TCP; "
                                                        f"{self.how}"))

    def close(self) -> None:
        for sniffer in getattr(self, "sniffers", []):
            sniffer.close()
        if getattr(self, "trace", None) is not None:
            assert self.trace is not None
            self.trace.close()
        if hasattr(self, "kernel"):
            for sid, conn in list(self.kernel.app.conns.items()):
                if conn.sock is not None:
                    self.kernel.app.abort(sid)
            self.diag.close()
        super().close()


def main(argv: list[str] | None = None) -> int:
    return agent_main(argv, KernelAgent)


if __name__ == "__main__":
    sys.exit(main())
