"""Backends: where the lab's hosts and links actually run.

``sim`` runs everything in one process on a virtual or real-time clock and is
deterministic under a seed; ``mininet`` runs each host in a Mininet namespace
with real links shaped by tc/netem. The lab drives either through the same
commands and sees the same event stream.
"""
