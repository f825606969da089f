"""``tcplab lab SHEET``: a lab sheet in the dashboard, or a recording graded against it.

SHEET is a path to a sheet, or a lab's number (``3`` finds ``docs/labs/03-*.md``), or a
sheet's file name without ``.md``.

``--record-dir ROOT`` records into a new directory under ROOT, made for the session, and
keeps the session's ticks there too (``progress.json``) instead of the user's progress
file: ``tcplab serve --lab N`` starts one such session per browser tab, each its own
student, on one machine and one account.

Exit status: the dashboard's; with ``--check DIR...`` 0 when every exercise passed, 1 when
one did not, 2 when the sheet or the recording cannot be used (the reason on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from tcplab.labsheet.sheet import Sheet, SheetError, load_sheet

LABS_DIR = Path(__file__).resolve().parents[2] / "docs" / "labs"


def sheet_dirs() -> list[Path]:
    """Where sheets are looked for by number: ./docs/labs, then the repository's."""
    dirs = [Path.cwd() / "docs" / "labs", LABS_DIR]
    return [d for i, d in enumerate(dirs) if d.is_dir() and d.resolve() not in
            {x.resolve() for x in dirs[:i]}]


def find_sheet(spec: str) -> Path:
    """The sheet file SHEET names; SheetError with the sheets there are otherwise."""
    path = Path(spec)
    if path.suffix == ".md" or path.exists():
        if not path.is_file():
            raise SheetError(f"no sheet at {spec}")
        return path
    for folder in sheet_dirs():
        sheets = sorted(folder.glob("[0-9]*.md"))
        if spec.isdigit():
            found = [p for p in sheets if p.stem.split("-", 1)[0].lstrip("0") ==
                     spec.lstrip("0")]
        else:
            found = [p for p in sheets if p.stem == spec]
        if found:
            return found[0]
    known = [p.stem for d in sheet_dirs() for p in sorted(d.glob("[0-9]*.md"))]
    listing = ", ".join(known) if known else "none found (no docs/labs folder)"
    raise SheetError(f"no lab sheet {spec!r} (sheets: {listing})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tcplab lab",
        description="Do a lab sheet in the dashboard (its checks tick as you go), or "
                    "grade a recording against it.")
    p.add_argument("sheet", metavar="SHEET",
                   help="a lab number (3), a sheet's name (03-teardown-races) or a path")
    p.add_argument("--check", metavar="DIR", nargs="+",
                   help="grade the recording in DIR (or the recordings of several sessions "
                        "together): one PASS/FAIL line per exercise")
    p.add_argument("--record", metavar="DIR",
                   help="record the session into DIR (events.jsonl names the sheet), "
                        "for --check later")
    p.add_argument("--record-dir", metavar="ROOT",
                   help="record into a new directory under ROOT, made for this session "
                        "(its name is shown in the panel), with the session's ticks kept "
                        "there too: what tcplab serve --lab runs for each browser tab")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the run (default: the sheet's, else 1)")
    p.add_argument("--restart", action="store_true",
                   help="forget the progress saved for this sheet and start again")
    p.add_argument("--backend", choices=("sim", "mininet"), default=None,
                   help="where the lab runs (default: the sheet's, sim for most; a sheet "
                        "with Linux hosts asks for mininet, which needs root, and falls "
                        "back to sim without it)")
    return p


def load(spec: str) -> Sheet:
    return load_sheet(find_sheet(spec))


def new_session_dir(root: Path) -> Path:
    """A directory of its own under ``root`` for one session's recording, named for the
    time and the process (``20261203-170512-4242``: short enough for the panel to show;
    the recording's header names the sheet)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    for n in range(100):
        path = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{root}: no free name for a session directory")


def main(argv: list[str]) -> int:
    # under `tcplab serve --lab` the dashboard draws in a browser: Textual's web driver
    # owns file descriptor 1 for its protocol, so everything printed goes to stderr
    web = "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")
    if web:
        sys.stdout = sys.stderr
    args = build_parser().parse_args(argv)
    try:
        sheet = load(args.sheet)
    except SheetError as exc:
        print(f"tcplab lab: {exc}", file=sys.stderr)
        return 2
    if args.check is not None:
        if args.record is not None:
            print("tcplab lab: --check grades a recording; --record makes one: not both",
                  file=sys.stderr)
            return 2
        from tcplab.labsheet.grade import Refused, check_recording, report

        try:
            checkers = [check_recording(sheet, Path(d)) for d in args.check]
        except Refused as exc:
            print(f"tcplab lab: {exc}", file=sys.stderr)
            return 2
        return report(checkers, sys.stdout)
    if args.record_dir is not None:
        if args.record is not None:
            print("tcplab lab: --record DIR or --record-dir ROOT, not both", file=sys.stderr)
            return 2
        try:
            args.record = str(new_session_dir(Path(args.record_dir)))
        except OSError as exc:
            print(f"tcplab lab: cannot make a directory under {args.record_dir}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2
    if args.record is not None and (Path(args.record) / "events.jsonl").exists():
        print(f"tcplab lab: {args.record} already holds a recording; record this session "
              f"into another directory and hand in both (tcplab lab {args.sheet} --check "
              f"{args.record} OTHER grades them together)", file=sys.stderr)
        return 2
    from tcplab.labsheet.runner import choose_backend

    try:
        backend, notice = choose_backend(sheet, args.backend)
    except SheetError as exc:
        print(f"tcplab lab: {exc}", file=sys.stderr)
        return 2
    if notice is not None:  # stays on the terminal when the dashboard ends
        print(f"tcplab lab: {notice}", file=sys.stderr)
    if not web and (not sys.stdout.isatty() or not sys.stdin.isatty()):
        print("tcplab lab: the dashboard needs a terminal (or use --check DIR to grade a "
              "recording)", file=sys.stderr)
        return 2
    return live(sheet, args.record, args.seed, args.restart, backend, notice,
                own_progress=args.record_dir is not None)


class Session:
    """A lab session of a sheet: the lab (its setup applied), the dashboard with the
    sheet beside it, the recorder when asked for.  :meth:`close` ends them."""

    def __init__(self, sheet: Sheet, record: str | None = None, seed: int | None = None,
                 restart: bool = False, backend: str = "sim",
                 notice: str | None = None, own_progress: bool = False) -> None:
        from tcplab.lab.record import Recorder
        from tcplab.labsheet.progress import Progress
        from tcplab.labsheet.runner import mininet_lab, sim_lab, start_lab
        from tcplab.tui.labsheet import LabSheetApp

        if backend == "mininet":  # on the wall clock, whatever clock: says
            lab, inputs = mininet_lab(sheet, seed, notice)
        else:
            lab, inputs = sim_lab(sheet, seed, virtual=sheet.setup.clock == "virtual",
                                  notice=notice)
        lab.keep_timeline(inputs.header())
        self.lab = lab
        self.recorder: Recorder | None = None
        if record is not None:  # RecordError: nothing started yet
            self.recorder = Recorder(record, inputs.header())
            lab.bus.subscribe(self.recorder.event)
            lab.backend.add_tap(self.recorder.frame)
            lab.backend.add_host_tap(self.recorder.host_frame)
        # a session of its own (--record-dir): its ticks beside its recording
        progress = Progress.load(sheet.id, Path(record) / "progress.json"
                                 if own_progress and record is not None else None)
        if restart:
            progress.done.clear()
            progress.failed.clear()
            progress.save()
        # the app subscribes before the lab starts: its checker sees the setup too
        self.app = LabSheetApp(lab, sheet, progress, seed=inputs.seed,
                               recording=self.recorder is not None,
                               record_dir=record if own_progress else None)
        try:
            started = start_lab(lab, sheet, inputs)
        except SheetError:
            self.close()
            raise
        if started != inputs and self.recorder is not None:
            self.recorder.set_header(started.header())

    def close(self) -> None:
        self.lab.stop()
        if self.recorder is not None:
            self.recorder.close()


def live(sheet: Sheet, record: str | None, seed: int | None, restart: bool,
         backend: str = "sim", notice: str | None = None, own_progress: bool = False
         ) -> int:
    """The dashboard with the sheet beside it."""
    from tcplab.lab.record import RecordError

    try:
        session = Session(sheet, record, seed, restart, backend, notice, own_progress)
    except (SheetError, RecordError) as exc:
        print(f"tcplab lab: {exc}", file=sys.stderr)
        return 2
    try:
        return session.app.run() or 0
    except KeyboardInterrupt:
        return 130
    finally:
        session.close()
