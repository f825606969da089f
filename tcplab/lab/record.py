"""Recording a run: the event stream as JSON Lines and the frames as pcapng.

Theory of operation
-------------------
``--record DIR`` writes these files:

* ``events.jsonl`` -- one JSON object per line.  The first is a header
  ``{"kind": "header", "schema": 2, ...}``: the run's inputs
  (:class:`~tcplab.lab.session.RunInputs`: tcplab version, topology with its file's
  text, backend, clock, seed, settings); every other line is one event as the event
  codec writes it (:func:`tcplab.lab.codec.line`; ``docs/recording.md`` gives each
  kind's fields).  Keys keep their order and each float has one spelling, so two
  runs with the same seed under virtual time give byte-identical files.
* ``capture.pcapng`` -- every frame as it enters a link, one pcapng interface per
  link (named like ``h1-s1``), timestamps from the run's clock.  A frame crossing two
  links is in it twice, which Wireshark's TCP analysis misreads as retransmissions.
* ``capture-<host>.pcapng`` (e.g. ``capture-h1.pcapng``) -- what one host's
  interfaces sent (as the host put it on the wire, before any link lost it) and
  received (what arrived, after link loss), one pcapng interface per host interface
  (named like ``h1-eth0``), each frame marked inbound or outbound.  Every frame is in
  it once, as a capture on that host would show it: the file to open in Wireshark.
  Written for every stack host named in the header from the start, and for any other
  host (a Mininet kernel host) once a frame of its interface is seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from tcplab.lab import codec
from tcplab.lab.events import CommandDone, LabEvent, RunRewound
from tcplab.lab.pcapng import PcapngWriter

EVENTS_FILE = "events.jsonl"
BRANCH_FILE = "events.branch-{k}.jsonl"  # a stream a rewind abandoned, K = 1, 2, ...
PCAP_FILE = "capture.pcapng"
HOST_PCAP_FILE = "capture-{host}.pcapng"


class Recorder:
    """Writes one run's recording into ``directory`` (see the module docstring).

    The header goes out at once; then subscribe :meth:`event` to the lab's bus and give
    :meth:`frame` and :meth:`host_frame` to the backend's taps
    (:meth:`~tcplab.lab.backend.Backend.add_tap`, ``add_host_tap``), and :meth:`close` at
    the end.  ``events.jsonl`` is flushed at every ``command`` event, so a lab killed
    later loses at most what came after its last command.  RecordError (one line) when the
    directory cannot be created or written."""

    _branches = 0  # rewinds seen: events.branch-K.jsonl files written

    def __init__(self, directory: str | Path, header: dict[str, Any]) -> None:
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._events: IO[bytes] = open(  # noqa: SIM115 -- closed by close()
                self.dir / EVENTS_FILE, "wb")
        except OSError as exc:
            raise RecordError(f"cannot record into {self.dir}: {exc.strerror}") from None
        self._pcap = PcapngWriter(self.dir / PCAP_FILE)
        self._ifaces: dict[str, int] = {}
        self._host_pcaps: dict[str, PcapngWriter] = {}
        self._host_ifaces: dict[tuple[str, str], int] = {}
        # Every stack host gets its file even if it never sends a frame; a kernel host's
        # frames may not be visible at all (Mininet), so its file waits for one.
        for host in header.get("hosts", ()):
            if not host.get("kernel"):
                self._host_pcap(host["name"])
        self._events.write(codec.dumps(header))

    def event(self, event: LabEvent) -> None:
        """Write ``event`` as its line of ``events.jsonl``; a ``run.rewound`` first moves
        the abandoned branch to ``events.branch-K.jsonl``, a ``command`` flushes the
        file."""
        if isinstance(event, RunRewound):
            self._branch(event.keep)
        self._events.write(codec.line(event))
        if isinstance(event, CommandDone):
            # a lab killed later loses at most what came since its last command
            self._events.flush()

    def _branch(self, keep: int) -> None:
        """A rewind: the abandoned stream stays as ``events.branch-K.jsonl`` and
        ``events.jsonl`` starts again as the header and the ``keep`` events the new
        branch shares with it, so it always holds the current branch (the one
        ``tcplab replay --verify`` re-executes).  The pcapng files are not cut: see
        docs/recording.md."""
        self._branches += 1
        current = self.dir / EVENTS_FILE
        branch = self.dir / BRANCH_FILE.format(k=self._branches)
        self._events.close()
        current.replace(branch)
        with open(branch, "rb") as old, open(current, "wb") as new:
            for number, line in enumerate(old):
                if number > keep:  # line 0 is the header
                    break
                new.write(line)
        self._events = open(current, "ab")  # noqa: SIM115 -- close()

    def set_header(self, header: dict[str, Any]) -> None:
        """Write the header again: what only a started backend knows (how Mininet
        impairs its links) was not known when recording began."""
        self._events.close()
        path = self.dir / EVENTS_FILE
        lines = path.read_bytes().splitlines(keepends=True)
        lines[0] = codec.dumps(header)
        path.write_bytes(b"".join(lines))
        self._events = open(path, "ab")  # noqa: SIM115 -- close()

    def frame(self, link: str, frame: bytes, t: float) -> None:
        """A link tap: ``frame`` entered ``link`` at run time ``t``; into
        ``capture.pcapng``, one interface per link, declared when its first frame
        comes."""
        iface = self._ifaces.get(link)
        if iface is None:
            iface = self._ifaces[link] = self._pcap.add_interface(link)
        self._pcap.write(iface, t, frame)

    def _host_pcap(self, host: str) -> PcapngWriter:
        pcap = self._host_pcaps.get(host)
        if pcap is None:
            pcap = self._host_pcaps[host] = PcapngWriter(
                self.dir / HOST_PCAP_FILE.format(host=host))
        return pcap

    def host_frame(self, host: str, ifname: str, direction: str, frame: bytes,
                   t: float) -> None:
        """``frame`` was ``"sent"`` or ``"received"`` by ``host``'s interface ``ifname``."""
        pcap = self._host_pcap(host)
        iface = self._host_ifaces.get((host, ifname))
        if iface is None:
            iface = self._host_ifaces[(host, ifname)] = pcap.add_interface(ifname)
        pcap.write(iface, t, frame, inbound=direction == "received")

    def close(self) -> None:
        """Flush and close every file (the events and each pcapng)."""
        self._events.close()
        self._pcap.close()
        for pcap in self._host_pcaps.values():
            pcap.close()


class RecordError(Exception):
    """A recording that cannot be written; the message is one line for the user."""

    pass
