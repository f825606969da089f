"""tcplab's host stack: Ethernet, ARP, IPv4 and TCP sockets around the engine, sans-I/O.

Theory of operation
-------------------
A :class:`~tcplab.stack.host.Host` is one IPv4 endpoint.  Like the engine in
:mod:`tcplab.tcp`, it does no I/O and reads no clock: frames go in with
``receive_frame(ifname, frame, now)`` and come out of ``frames_to_send()``, user
calls go through the socket API (``listen``, ``connect``, ``send``, ``recv``,
``shutdown``, ``close``, ``abort``, ``accept``), time advances only through
``handle_timer(now)`` when ``get_timer()`` says so, and everything observable is
drained from ``next_event()`` as typed events (:mod:`tcplab.stack.events`).  The
in-process simulated network and a Mininet agent reading an AF_PACKET socket
drive the same object the same way.

Layers, bottom up, each a module:

* :mod:`~tcplab.stack.ethernet` -- Ethernet II frames and MAC helpers;
* :mod:`~tcplab.stack.arp` -- RFC 826 packets and a cache with expiry, a bounded
  queue per unresolved next hop, retries and "arp timeout";
* :mod:`~tcplab.stack.ipv4` -- header checks and building, ICMP echo, route lookup;
* :mod:`~tcplab.stack.iplayer` -- a host's interfaces tying the three together;
* :mod:`~tcplab.stack.host` -- TCP demux, listeners with their backlog, ephemeral
  ports, RSTs for closed ports, the socket API, the timer heap;
* :mod:`~tcplab.stack.sockets` -- socket records, the :class:`SocketInfo` snapshot
  and :class:`HostError`.

Determinism: a host takes the run's seeded ``random.Random`` and draws from it only
at construction (ISN secret, first IP ID, first ephemeral port); timers fire in
(deadline, insertion) order; no dict or set order leaks into what is sent.
"""

from tcplab.stack.host import Host
from tcplab.stack.iplayer import InterfaceInfo
from tcplab.stack.sockets import HostError, SocketInfo

__all__ = ["Host", "HostError", "InterfaceInfo", "SocketInfo"]
