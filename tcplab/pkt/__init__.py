"""``tcplab pkt``: packetdrill-syntax scripts run against tcplab's TCP engine.

A script is a deterministic test of one connection: the runner drives the engine
(:mod:`tcplab.tcp`) directly with a virtual clock, plays the remote host, and
checks every segment the engine sends.  ``tcplab pkt [flags] FILE...`` prints
``PASS|FAIL|SKIP <path> [reason]`` per script and ``N passed, N failed, N skipped``.

The supported subset
--------------------
* Option lines before the first event: ``--tolerance_usecs=N``,
  ``--tolerance_percent=P`` (an event may also stray P% of the interval since the
  previous one), ``--tcp_ts_tick_usecs=N`` (accepted; TS val is not compared),
  ``--ip_version=ipv4`` and the command-line flags (``--mss=N``, ``--wscale=N``, ``--rcvbuf=N``,
  ``--no-sack``, ``--no-timestamps``, ``--delayed-ack-ms=N``, ``--msl-ms=N``,
  ``--tolerance-ms=N``, ``--options=strict|unordered|ignore``, ``--ignore-window``,
  ``--ignore-psh``).  A script's option lines override the command line.
* Times: absolute (``0.1``), relative (``+0.1``, counted from the previous line's
  actual time: an outbound line's segment time, a blocking call's start), ranges
  ``a...b`` / ``+a...+b`` / ``+a~+b`` (the event must happen inside), and ``*`` on
  outbound packets (any time).  Shell commands in backticks, with or without a time,
  on one line or several, are accepted and never run (``-v`` names each).
* ``%{ ... }%`` blocks (after a time or alone, on one line or several) are checked
  as packetdrill does on Linux: ``assert`` statements and expressions over the
  connection's TCP_INFO (:mod:`tcplab.pkt.tcpinfo` lists the names: ``tcpi_state``
  with ``TCPI_*`` states, ``tcpi_ca_state`` with ``TCP_CA_*``, ``tcpi_snd_cwnd``,
  ``tcpi_rto``, ``tcpi_unacked``, ``tcpi_options`` with ``TCPI_OPT_*``...).  Only
  names, constants, arithmetic, comparisons and and/or/not are allowed
  (:mod:`tcplab.pkt.snippet`); a name tcplab does not offer makes the script SKIP,
  naming it.
* Syscalls: ``socket``, ``bind``, ``listen``, ``accept``, ``connect`` (``-1
  EINPROGRESS`` when non-blocking), ``write``/``send``, ``read``/``recv``, ``close``,
  ``shutdown`` (SHUT_RD/WR/RDWR), ``setsockopt``/``getsockopt`` (SO_REUSEADDR,
  SO_RCVBUF, SO_SNDBUF, SO_ERROR, TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE,
  TCP_KEEPINTVL, TCP_KEEPCNT, TCP_MAXSEG, IP_TTL, IP_TOS), ``fcntl`` (F_GETFL, F_SETFL
  O_NONBLOCK), ``sendmsg`` with a plain iovec (``{msg_name(...)=..., msg_iov(2)=[{...,
  40}, {..., 20}], msg_flags=0}``); ``...`` is "any argument"; results ``= N`` or
  ``= -1 ERRNO (text)``.  The fd a script gives ``socket``/``accept`` is the fd it gets.
  ``send``/``sendmsg`` with ``MSG_OOB`` send urgent data (RFC 9293 §3.8.5); other
  send flags and all recv flags SKIP.
  A blocking call that cannot finish at once stays pending while the following
  packet lines run and is checked when it returns (inside ``a...b`` when the line
  has a range); another syscall line while it is pending is a failure.
* Packets: ``<`` inbound, ``>`` outbound; flags from ``S . P F R U``;
  ``seq:end(len)``; ``ack N`` (on an inbound line without ``.`` it is sent with the
  ACK bit clear, as packetdrill does); ``win N``; ``urg N`` (the urgent pointer);
  options ``<mss N,sackOK,TS val V ecr E,nop,eol,wscale W,sack a:b c:d>``, and
  ``<...>`` on outbound lines (options not checked).  An outbound line without
  ``<...>`` expects no options at all.  An outbound line longer than the engine's
  segments takes the full-sized segments the engine sent at the same instant as one,
  as Linux's TSO hands them to packetdrill.
* Anything else (ECN, UDP/ICMP, IPv6, ``*`` on other lines, other syscalls or
  socket options, packetdrill options like ``--mtu``) makes the script SKIP with the
  line and the reason -- never a silent pass.

Numbering rules
---------------
* Inbound ``seq``, outbound ``ack`` and outbound SACK blocks are relative to a fixed
  base of 1,000,000,000 (non-zero on purpose).
* Outbound ``seq`` (a RST's too), inbound ``ack`` and inbound SACK blocks are relative
  to the engine's ISN, re-learnt from every SYN the engine sends.
* Timestamps: an outbound ``TS val`` is not compared (it is the engine's clock) but
  ``ecr`` is, exactly: inbound ``TS val`` numbers are sent as written.  The first
  outbound line that writes ``TS val V`` teaches the offset (engine val - V); from
  then on an inbound ``ecr E`` is sent as ``E + offset``, so scripts can echo the
  numbers they wrote for the engine, as in packetdrill.
* An inbound line without ``win`` carries window 65535; on an outbound line a
  missing ``win`` is not checked (``--ignore-window`` skips all window checks).
* Option comparison: ``strict`` (the default) is the exact list in wire order;
  ``unordered`` compares the meaningful options as a multiset (NOP/EOL ignored, the
  block order inside one SACK option still counts); ``ignore`` skips them.

Addresses and timing
--------------------
What the engine sends waits, in order, for the outbound lines: syscalls, ``%{ }%``
blocks and shell commands may come between (as in packetdrill), but an inbound line
fails on a segment sent before it and not listed before it.

The engine is 192.168.0.1 and the script's side 192.0.2.1.  ``connect`` goes to
port 8080 (or the sockaddr's), from the bound port or an ephemeral one from 40000;
``bind(fd, ..., ...)`` binds 8080 and SYNs to a listener come from port 50000.
Inbound packets go to the connection of the last socket that called ``connect`` or
``listen`` (for a listener: its live child, or a new child for a SYN).  Segments
must come out within the tolerance (default 4 ms) of their line's time; timers run
only up to the last line's time plus the tolerance, and any segment sent by then
and not listed is "sent an extra segment".
"""
