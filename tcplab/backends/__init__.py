"""Backends: where the lab's hosts and links actually run.

``sim`` runs everything in one process on a virtual or real-time clock and is
deterministic under a seed; ``mininet`` runs each host in a Mininet namespace, its
links shaped by netem where the kernel has it and by the agents' own queues
(:mod:`tcplab.netem`) where it does not. The lab drives either through the same
commands and sees the same event stream.
"""
