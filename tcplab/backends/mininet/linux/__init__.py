"""Linux's TCP as a lab host: real sockets driven like tcplab's own applications.

Theory of operation
-------------------
A kernel host runs Linux's TCP, not tcplab's.  Its agent (the same control channel and
event model as a stack host's) carries out the command language with real sockets and
reports what the kernel does, from three sources:

* :mod:`.sockets` -- :class:`~.sockets.KernelApp`, the application: non-blocking
  sockets for ``listen``/``connect``/``send``/``shutdown``/``close``/``abort``
  (``SO_LINGER`` 0, so Linux sends a RST); it reads everything that arrives, as the
  lab's own applications do, and writes queued bytes as the socket takes them;
* :mod:`.diag` -- every TCP socket of the namespace over netlink ``sock_diag``
  (pyroute2's ``DiagSocket``), TIME-WAIT and not-yet-accepted ones included, with
  their ``TCP_INFO``: the sockets table's rows and TCB columns;
* :mod:`.trace` -- the ``sock:inet_sock_set_state`` tracepoint, which sees every state
  change, also those shorter than a poll (CLOSING, SYN-RECEIVED on a fast link).  Where
  tracefs cannot be used, state changes are found by polling ``sock_diag`` and a state
  that lasted less than a poll is missed; the agent says which way it works.

:mod:`.states` spells Linux's states the RFC 9293 way (``SYN_RECV`` is SYN-RECEIVED).
"""
