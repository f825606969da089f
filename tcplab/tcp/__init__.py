"""tcplab's TCP engine: a sans-I/O RFC 9293 connection.

Theory of operation
-------------------
Nothing in this package reads a clock, touches a socket, starts a thread or keeps
global state.  A :class:`~tcplab.tcp.connection.Connection` is a plain object: the
caller feeds it received segments and user calls together with the current time
``now`` (seconds, any epoch), then drains what it produced:

* ``segments_to_send()`` -- :class:`~tcplab.tcp.segment.Segment` values to put on
  the wire (the caller adds IP and checksums, see :mod:`tcplab.tcp.codec`);
* ``next_event()`` -- typed events (:mod:`tcplab.tcp.events`): state changes with
  their cause, data readable, reset, errors;
* ``get_timer()`` -- the earliest deadline; call ``handle_timer(now)`` when it is due.

Because time is only a parameter, the same engine runs under a virtual clock (the
simulated lab, packetdrill-style scripts, property tests) and under a real one
(Mininet agents).  Many engines live in one process.

The eleven states and every legal move between them are data, in
:mod:`tcplab.tcp.states`; the engine, its tests, the docs and the dashboard's state
diagram all read that one table, and ``Connection.state`` is read-only: it moves only by
a declared row.  The engine's other small vocabularies (timers, reasons for a
retransmission, the recovery mode, shutdown directions) are enums in
:mod:`tcplab.tcp.kinds`.

This package imports nothing else from tcplab.
"""
