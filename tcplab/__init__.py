"""tcplab: a terminal network lab for TCP."""

__version__ = "0.1.0"
