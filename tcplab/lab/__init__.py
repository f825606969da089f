"""The lab: hosts and links, the command language, topologies and the one event stream.

Theory of operation
-------------------
A run starts from a *topology* (:mod:`tcplab.lab.topology`): an ordinary Mininet
custom-topology file, loaded into a plain :class:`~tcplab.lab.topology.TopologySpec`
(hosts with Mininet's default addresses, switches, links with their ports and TCLink
parameters) that any backend can build -- the simulated network or Mininet itself.

Everything a person or a script asks of the lab is a line of the *command language*
(:mod:`tcplab.lab.commands`): the dashboard's command line, scenario files and the Mininet
control channel all parse the same text into the same typed, immutable commands with the
same error messages.  Parsing is separate from execution, so a whole scenario is checked
before anything runs.  Values with units (``5%``, ``20ms``, ``10mbit``) are read and
written by :mod:`tcplab.lab.units`, shared by both.
"""
