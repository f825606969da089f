"""The Mininet backend: real namespaces and links, tcplab's own stack on every host.

Theory of operation
-------------------
Mininet builds the topology (hosts as network namespaces, ``LinuxBridge`` switches,
veth links; :mod:`.net`).  In each stack host's namespace the lab starts one **agent**
(:mod:`.agent`): a process holding a :class:`~tcplab.stack.host.Host` inside a
:class:`~tcplab.lab.app.HostApp`, on an AF_PACKET socket per interface
(:mod:`.packetio`).  The kernel keeps the interface's address, so ARP and ``ping``
keep working (the kernel answers echo requests; the agent does not feed them to the
stack), and an nft rule in the namespace drops TCP to that address at the input hook,
so the kernel's TCP never answers the stack's segments.  AF_PACKET sees frames before
that hook, and frames it sends skip it.  Offloads are off on lab interfaces so
frames are ordinary 1514-byte frames with finished checksums.  A *kernel host* has no
agent: Linux programs run there, to test the stack against Linux's TCP.

**Control** (:mod:`.protocol`): one unix stream socket per agent at
``<rundir>/<host>.sock`` (rundir 0700, socket 0600; path sockets cross namespaces,
abstract ones would not).  JSON lines, version 3: requests with an id get exactly one
reply each; host events, link drops/holds and (with ``capture``) frames are pushed
as they happen, once per turn of the agent's loop (a frame names where the agent saw
it: :data:`~.protocol.FRAME_DIRS`; :mod:`.capture` makes the recorder's link and host
captures of them).  The events a request causes are pushed before its reply.  Events
cross as the one event codec writes them (:mod:`tcplab.lab.codec`: the objects of
``events.jsonl``, many to a line) and the lab reads them back into the typed events
the simulated backend publishes (:func:`~.protocol.events_from_line`); a segment's
payload crosses as its length and first 16 bytes, as it is recorded, and the bytes
themselves once, in a delivery.  Agent-side names need
relabelling by the lab: a ``LinkDropped`` from an agent has ``link`` = the interface
name and ``direction`` = ``"egress"``/``"ingress"``; a ``LinkHeld`` has ``direction`` =
``"<ifname>:egress"``; ``host`` is the agent's host.  Times are
``time.monotonic() - epoch`` with the epoch the lab passes to every agent, so all
streams share one clock.  A bad request gets an error reply and changes nothing; the
agent never exits on input.

**Impairments** (:mod:`.impair` decides where each link direction's live): with
netem in the kernel, on the interface; without it, in the agents.  Each agent
interface has an egress and an ingress
:class:`~tcplab.netem.link.LinkDirection` -- the link model both backends share
model (delay, jitter, loss, bandwidth, dup, reorder, hold/drop filters) -- on one
scheduler run against the real clock, set with the ``impair`` and ``filter`` ops.
Segment filters (``hold``/``drop``) always act on an agent's egress.

**Lifetime and cleanup**: an agent exits 0 on ``quit``, SIGTERM or SIGINT, removing
its socket file; it asks the kernel for SIGTERM when its parent dies
(``PR_SET_PDEATHSIG``, per *thread*: start agents from a thread that lives as long as
the lab).  If a control client stops reading, the agent stops reading its packet
sockets beyond 64 MiB of queued output, rather than grow.  What a killed lab leaves
behind is removed by ``tcplab clean`` (:mod:`.clean`), never by ``mn -c``.
"""
