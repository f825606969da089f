"""Network emulation both backends share: the scheduler and the link model.

Theory of operation
-------------------
:class:`~tcplab.netem.clock.Scheduler` is a heap of calls due at given times over a
clock that is either virtual (jumped by whoever drives the run) or the wall clock.
:class:`~tcplab.netem.link.LinkDirection` decides each frame's fate on one direction
of a link -- loss (Bernoulli or Gilbert-Elliott), delay and jitter, bandwidth and a
drop-tail queue, duplication, reordering, up/down, and the hold/drop filters of
teardown races -- and puts its arrival on the scheduler.

The simulated backend runs every host and link of a lab on one scheduler; each
Mininet agent runs its host's two link directions (egress and ingress) on its own, so
the kernel's missing ``sch_netem`` costs nothing. Neither backend imports the other:
both import this package.
"""
