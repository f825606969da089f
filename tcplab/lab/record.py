"""Recording a run: the event stream as JSON Lines and the frames as pcapng.

Theory of operation
-------------------
``--record DIR`` writes two files:

* ``events.jsonl`` -- one JSON object per line.  The first is a header
  ``{"kind": "header", "schema": 2, ...}``: the run's inputs
  (:class:`~tcplab.lab.session.RunInputs`: tcplab version, topology with its file's
  text, backend, clock, seed, settings); every other line is one event's ``to_dict()`` (see
  ``docs/recording.md`` for each kind's fields).  Keys keep their order and floats
  are written by ``repr``, so two runs with the same seed under virtual time give
  byte-identical files.
* ``capture.pcapng`` -- every frame as it enters a link, one pcapng interface per
  link (named like ``h1-s1``), timestamps from the run's clock; open it in Wireshark.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from tcplab.lab.events import LabEvent
from tcplab.lab.pcapng import PcapngWriter

EVENTS_FILE = "events.jsonl"
PCAP_FILE = "capture.pcapng"


class Recorder:
    def __init__(self, directory: str | Path, header: dict[str, Any]) -> None:
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._events: IO[str] = open(  # noqa: SIM115 -- closed by close()
                self.dir / EVENTS_FILE, "w", encoding="utf-8")
        except OSError as exc:
            raise RecordError(f"cannot record into {self.dir}: {exc.strerror}") from None
        self._pcap = PcapngWriter(self.dir / PCAP_FILE)
        self._ifaces: dict[str, int] = {}
        self._write(header)

    def _write(self, obj: dict[str, Any]) -> None:
        self._events.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")

    def event(self, event: LabEvent) -> None:
        self._write(event.to_dict())

    def frame(self, link: str, frame: bytes, t: float) -> None:
        iface = self._ifaces.get(link)
        if iface is None:
            iface = self._ifaces[link] = self._pcap.add_interface(link)
        self._pcap.write(iface, t, frame)

    def close(self) -> None:
        self._events.close()
        self._pcap.close()


class RecordError(Exception):
    pass
