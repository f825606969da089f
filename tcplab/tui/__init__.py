"""The Textual dashboard (``tcplab`` / ``tcplab run TOPOLOGY``).

It talks to the lab only through the command language and the event stream, so the
same screens show the simulated network, Mininet, or a replayed recording.
"""
