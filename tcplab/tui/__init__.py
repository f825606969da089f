"""The Textual dashboard (``tcplab`` / ``tcplab run TOPOLOGY``, and ``tcplab replay DIR``).

It talks to the lab only through the command language and the event stream: every pane
is drawn from the stream's timeline, so the same screens show the simulated network,
Mininet, or a replayed recording, at any instant of it.
"""
