"""The dashboard with a lab sheet beside it: ``tcplab lab SHEET``.

Theory of operation
-------------------
:class:`LabSheetApp` is the dashboard (:class:`~tcplab.tui.app.TcplabApp`) plus a panel
docked on the right: the exercises with their ticks, the current exercise (its task,
the RFC section it shows, and after a failed attempt the hint and what was missing),
and the sheet rendered as Markdown below -- without its check blocks, which would give
the answers away, and with its code blocks as plain text wrapped at the panel's edge.
``F2`` hides and shows the panel.

The panel's ticks come from a :class:`~tcplab.labsheet.checker.Checker` subscribed to
the lab's event bus: every event, as its recorded dict, is fed to it -- the same code
``tcplab lab SHEET --check DIR`` runs over a recording.  Connections that ended are
judged between commands (:meth:`Checker.settle`), so an attempt is not called failed
before its instant is over.  Ticks and failed attempts go into the progress file at
once, so quitting loses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownBlock, MarkdownFence

from tcplab.lab.port import LabPort
from tcplab.labsheet.checker import Attempt, Checker, Tick
from tcplab.labsheet.progress import Progress
from tcplab.labsheet.runner import as_record
from tcplab.labsheet.sheet import Exercise, Sheet, student_markdown
from tcplab.tui.app import TcplabApp

SETTLE_EVERY = 0.25   # seconds between two judgements of ended connections


def _plain_heading(text: str) -> str:
    """A heading as its words, whether Markdown source or rendered."""
    return " ".join(text.replace("`", "").replace("*", "").split())


class SheetFence(MarkdownFence):
    """A code block of a sheet: plain text, wrapped at the panel's edge.  Textual's own
    guesses a language for a block without one, and in the command language a ``'``
    (``close c2'``, the other end) opened a string that coloured every line after it;
    and it scrolled sideways, so a long line was cut at the panel's edge."""

    DEFAULT_CSS = """
    SheetFence {
        overflow: hidden hidden;
    }
    SheetFence > Label {
        width: 1fr;
        padding: 0 1;  /* the panel is narrow, and short at 30 rows */
    }
    """

    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False,
                  dark: bool = False) -> Content:
        return Content("\n".join(code.splitlines()))

    @property
    def allow_horizontal_scroll(self) -> bool:
        return False


class SheetMarkdown(Markdown):
    """The sheet, with its code blocks as :class:`SheetFence`."""

    def get_block_class(self, block_name: str) -> type[MarkdownBlock]:
        if block_name == "fence":
            return SheetFence
        return super().get_block_class(block_name)


class LabSheetApp(TcplabApp):
    """The dashboard with the sheet's panel (see the module docstring)."""

    TITLE = "tcplab lab"
    CSS: ClassVar[str] = """
    #lab-sheet {
        dock: right;
        width: 40%;
        min-width: 34;
        max-width: 72;
        border-left: solid $primary;
        padding: 0 0 0 1;
    }
    #lab-sheet.-hidden {
        display: none;
    }
    #lab-progress {
        height: auto;
        max-height: 45%;
    }
    #lab-task {
        height: auto;
        max-height: 50%;
        border-top: solid $primary;
        border-bottom: solid $primary;
        overflow-y: auto;
    }
    #lab-doc {
        height: 1fr;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "toggle_sheet", "Sheet"),
        Binding("f3", "sheet_page(-1)", "Sheet ↑", show=False),
        Binding("f4", "sheet_page(1)", "Sheet ↓", show=False),
        Binding("f5", "goto_current", "Current exercise", show=False),
    ]

    def __init__(self, lab: LabPort, sheet: Sheet, progress: Progress,
                 record_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(lab, **kwargs)
        self.record_dir = record_dir  # a directory made for this session (--record-dir)
        self.sheet = sheet
        self.progress = progress
        self.checker = self._new_checker()
        # done in an earlier session: the current exercise is the first one after them
        self.checker.previously_done = frozenset(progress.done)
        self.last_attempt: dict[str, Attempt] = {}
        self.news = ""           # the last tick or failed attempt, for the task box
        self._sheet_dirty = True
        lab.subscribe(self._check_event)

    def _new_checker(self) -> Checker:
        """A checker that knows the run's hosts (and which of them run Linux's TCP)."""
        checker = Checker(self.sheet)
        checker.feed({**self.timeline.header, "kind": "header"})
        return checker

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield from super().compose()
        with Vertical(id="lab-sheet"):
            yield Static("", id="lab-progress")
            yield Static("", id="lab-task")
            with VerticalScroll(id="lab-doc"):
                # the check blocks would give the answers away
                yield SheetMarkdown(student_markdown(self.sheet.text), id="lab-markdown")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(SETTLE_EVERY, self._settle)
        self._show_sheet()
        self.call_after_refresh(self._fit, self.size.width)

    def action_toggle_sheet(self) -> None:
        self.query_one("#lab-sheet").toggle_class("-hidden")
        self._fit(self.size.width)

    def action_sheet_page(self, direction: int) -> None:
        doc = self.query_one("#lab-doc", VerticalScroll)
        if direction > 0:
            doc.scroll_page_down()
        else:
            doc.scroll_page_up()

    def action_goto_current(self) -> None:
        """Scroll the sheet to the section of the current exercise."""
        ex = self.current()
        markdown = self.query_one("#lab-markdown", Markdown)
        # every exercise done: the questions at the end of the sheet
        wanted = _plain_heading(ex.title if ex is not None else "Questions")
        for _level, label, block_id in markdown.table_of_contents:
            if block_id and _plain_heading(label) == wanted:
                found = markdown.query(f"#{block_id}")
                if found:
                    self.query_one("#lab-doc", VerticalScroll).scroll_to_widget(
                        found.first(), top=True, animate=False)
                return

    def on_markdown_table_of_contents_updated(self, _event: Markdown.TableOfContentsUpdated
                                              ) -> None:
        self.call_after_refresh(self.action_goto_current)

    def on_resize(self, event: Any) -> None:
        # Textual calls the dashboard's own handler too, after this one: fit after it
        self.call_after_refresh(self._fit, event.size.width)

    def _fit(self, width: int) -> None:
        """The dashboard's narrow layout (no hosts column) when the sheet leaves it less
        than 100 columns."""
        panel = self.query_one("#lab-sheet")
        shown = min(max(int(width * 0.4), 34), 72)  # as the CSS sizes it
        left = width if panel.has_class("-hidden") else width - shown
        self.screen.set_class(left < 100, "-narrow")

    # -- checking -----------------------------------------------------------------------
    def _check_event(self, event: Any) -> None:
        record = as_record(event)
        if record["kind"] == "run.rewound":
            self._rewound(int(record["keep"]))
            return
        self._take(self.checker.feed(record))

    def _rewound(self, keep: int) -> None:
        """A rewind re-ran the lab to an earlier time without publishing the events it
        re-made (the timeline keeps its first ``keep``): the checker starts again from
        those.  What was done in the abandoned branch stays done."""
        old = self.checker
        self.checker = self._new_checker()
        self.checker.previously_done = old.previously_done
        for i in range(min(keep, len(self.timeline))):
            self.checker.feed(self.timeline.event(i))
        self.checker.done = {**old.done, **self.checker.done}
        self._sheet_dirty = True

    def _settle(self) -> None:
        if not self.waiting:  # between commands: the instant is over
            self._take(self.checker.settle())
        if self._sheet_dirty and self.is_running:
            self._show_sheet()

    def _take(self, news: list[Tick | Attempt]) -> None:
        if not news:
            return
        self._sheet_dirty = True
        for item in news:
            if isinstance(item, Tick):
                first = item.exercise not in self.progress.done
                self.progress.mark_done(item.exercise)
                self.news = f"✔ {item.exercise} done at t={item.t:.3f}"
                if first and self.is_running:
                    self.notify(f"exercise {item.exercise} done", title="✔ check passed")
                    self.call_after_refresh(self.action_goto_current)
            else:
                self.progress.mark_failed(item.exercise)
                self.last_attempt[item.exercise] = item
                self.news = f"✘ {item.exercise}: an attempt ended without the check"
                if self.is_running:
                    self.notify(f"{item.who} ended, but: {item.missing}",
                                title=f"✘ {item.exercise} not yet", severity="warning")
        problem = self.progress.save()
        if problem is not None and self.is_running:
            self.notify(problem, severity="error")

    # -- drawing ------------------------------------------------------------------------
    def done(self, name: str) -> bool:
        return name in self.checker.done or name in self.progress.done

    def current(self) -> Exercise | None:
        return self.checker.current(frozenset(self.progress.done))

    def _show_sheet(self) -> None:
        self._sheet_dirty = False
        exercises = self.sheet.exercises
        count = sum(1 for ex in exercises if self.done(ex.name))
        current = self.current()
        text = Text()
        text.append(f"{self.sheet.title}\n", style="bold")
        text.append(f"{count} of {len(exercises)} exercises done\n",
                    style="green" if count == len(exercises) else "")
        for ex in exercises:
            if ex.name in self.checker.done:
                text.append(" ✔ ", style="bold green")
            elif ex.name in self.progress.done:
                text.append(" ✔ ", style="green")  # in an earlier session
            elif current is not None and ex.name == current.name:
                text.append(" ▶ ", style="bold yellow")
            elif self.checker.unavailable(ex):
                text.append(" – ", style="dim")
            else:
                text.append(" · ", style="dim")
            text.append(ex.name, style="bold" if current is not None and ex.name == current.name
                        else "")
            if ex.name in self.progress.done and ex.name not in self.checker.done:
                text.append(" (earlier)", style="dim")
            elif ex.name in self.last_attempt:
                text.append("  ✘ tried", style="red")
            elif ex.name not in self.progress.done and self.checker.unavailable(ex):
                text.append(" (needs Linux)", style="dim")
            text.append("\n")
        left_out = [ex for ex in exercises if not self.done(ex.name)
                    and self.checker.unavailable(ex)]
        if left_out:
            text.append(f"– needs Linux's TCP on {' and '.join(left_out[0].needs)}: "
                        f"a lab on Mininet, as root (sudo)\n", style="dim")
        if self.record_dir is not None:  # the name a student hands in (tcplab serve --lab)
            text.append(f"recording: {Path(self.record_dir).name}\n")
        text.append("F2 hide · F3/F4 scroll · F5 this part", style="dim")
        self.query_one("#lab-progress", Static).update(text)
        self.query_one("#lab-task", Static).update(self._task_text(current))

    def _task_text(self, ex: Exercise | None) -> Text:
        text = Text()
        attempt = self.last_attempt.get(ex.name) if ex is not None else None
        if self.news and not (attempt is not None and self.news.startswith("✘")):
            text.append(self.news + "\n", style="bold")
        if ex is None:
            left_out = [e.name for e in self.sheet.exercises if not self.done(e.name)]
            if left_out:  # only the ones this run cannot check are left
                text.append(f"Every exercise that can be done here is done. The others "
                            f"({', '.join(left_out)}) need Linux's TCP: do them in a lab "
                            f"on Mininet, as root.", style="yellow")
                return text
            text.append("Every exercise is done. Answer the sheet's questions; q quits.",
                        style="green")
            return text
        text.append(f"{ex.name}: ", style="bold yellow")
        text.append(f"{ex.title}\n", style="bold")
        text.append(ex.task + "\n")
        if attempt is not None:
            # the hint first: the box may be too short for everything
            if ex.hint:
                text.append("hint: ", style="bold")
                text.append(ex.hint + "\n")
            text.append(f"✘ {attempt.who} ended without ", style="red")
            text.append(attempt.missing + "\n")
        if ex.rfc:
            text.append(ex.rfc + "\n", style="dim")
        return text
