"""One job: its metadata and its log, tailed live while it runs; retry and cancel."""

from __future__ import annotations

import threading
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Header, RichLog, Static

from ..errors import ChronologError
from ..jobs import Job, JobLog, Pipeline
from .live import LiveScreen
from .render import age, clock, state_style, state_text

__all__ = ["JobDetailScreen"]

_LIVE = ("pending", "running")
_CANCELLABLE = ("waiting", "pending", "running")
_DONE = ("completed", "failed", "cancelled")
_LEVEL_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}


class _NewLines(Message, bubble=False):
    """The tail thread read lines after the last one shown."""

    def __init__(self, lines: list[JobLog]) -> None:
        super().__init__()
        self.lines = lines


_Read = tuple[Job, datetime, list[JobLog], Pipeline | None]


class JobDetailScreen(LiveScreen[_Read]):
    """A job's state, attempts, worker, pid, timings and errors over its scrolling log.

    The log tail wakes on this process's log appends at once, and otherwise
    reads new lines (``after`` the last id: one index range) once a second
    while the job is pending or running; it reads them in its own thread and
    hands them to the screen.
    """

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "back", "Back"),
        Binding("R", "retry", "Retry"),
        Binding("c", "cancel", "Cancel"),
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id
        self.job: Job | None = None
        self.last_line = 0
        self._stop = threading.Event()
        self._tail: threading.Thread | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="meta", classes="line")
        yield Static(id="pipeline", classes="line")
        yield Static("Log", classes="section")
        yield RichLog(id="log", wrap=False, highlight=False, markup=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"job {self.job_id}"
        self.reload()
        if self.chrono.live:
            self._tail = threading.Thread(
                target=self._follow, name="chronolog-tui-tail", daemon=True
            )
            self._tail.start()

    def on_unmount(self) -> None:
        self._stop.set()
        if self._tail is not None:
            self._tail.join(5)

    def _follow(self) -> None:
        source = self.chrono.source
        quiet = 0.0
        while not self._stop.is_set():
            if self.job is None or self.job.state not in _LIVE:
                self._stop.wait(0.25)
                continue
            try:
                # Short waits, so that leaving the screen never waits long for this thread.
                woke = source.wait_logs(self.job_id, 0.25)
            except ChronologError:
                woke = False
            quiet = 0.0 if woke else quiet + 0.25
            if (woke or quiet >= 1.0) and not self._stop.is_set():
                quiet = 0.0
                try:
                    lines = source.job_logs(self.job_id, self.last_line)
                except ChronologError:
                    continue  # the store is away: the next round tries again
                if lines:
                    self.post_message(_NewLines(lines))

    @on(_NewLines)
    def _new_lines(self, message: _NewLines) -> None:
        self.append(message.lines)

    def read(self) -> _Read:
        """The job, the clock, the log lines after the last one shown, and its pipeline."""
        source = self.chrono.source
        job = source.job(self.job_id)
        pipeline = source.pipeline_of(self.job_id) if job.pipeline_id is not None else None
        return job, source.now(), source.job_logs(self.job_id, self.last_line), pipeline

    def show(self, data: _Read) -> None:
        """Draw the job's metadata and pipeline, and append its new log lines."""
        job, now, lines, pipeline = data
        self.job = job
        self.query_one("#meta", Static).update(_meta(job, now))
        stages = self.query_one("#pipeline", Static)
        stages.update(_pipeline(pipeline, job) if pipeline is not None else "")
        stages.display = pipeline is not None
        self.append(lines)

    def append(self, lines: list[JobLog]) -> None:
        """Append the lines not shown yet (two reads may overlap: each line shows once)."""
        log = self.query_one("#log", RichLog)
        for line in lines:
            if line.id > self.last_line:
                log.write(_line(line))
                self.last_line = line.id

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_retry(self) -> None:
        self._operate("retry")

    def action_cancel(self) -> None:
        self._operate("cancel")

    def _operate(self, verb: str) -> None:
        source = self.chrono.source
        try:
            job = source.retry(self.job_id) if verb == "retry" else source.cancel(self.job_id)
        except ChronologError as exc:
            self.chrono.report(exc)
        else:
            self.notify(f"job {job.id}: {job.state}")
        self.reload()


def _meta(job: Job, now: datetime) -> Text:
    text = Text()
    text.append(f"{job.kind}", style="bold")
    text.append(f"  job {job.id}  queue {job.queue}", style="dim")
    if job.subject is not None:
        text.append(f"  {job.subject[0]}/{job.subject[1]}", style="dim")
    text.append("\nState ")
    text.append_text(state_text(job.state))
    text.append(f"  attempt {job.attempt}/{job.max_attempts}")
    # As the dashboard: a completed job is done whatever its last heartbeat said; a failed
    # or cancelled one says where it stopped, if it said.
    if job.state == "completed":
        text.append("  100%")
    elif job.progress is not None and job.state in _DONE:
        text.append(f"  stopped at {round(job.progress * 100)}%")
    elif job.progress is not None:
        text.append(f"  {round(job.progress * 100)}%")
    if job.progress_text:
        text.append(f" {job.progress_text}")
    text.append(f"\nWorker {job.worker or '-'}  pid {job.pid or '-'}")
    if job.heartbeat_at is not None:
        text.append(f"  heartbeat {age(job.heartbeat_at, now)} ago")
    text.append(f"\nCreated  {clock(job.created_at)}   started {clock(job.started_at)}")
    text.append(f"\nFinished {clock(job.finished_at)}")
    # How long the current attempt ran: while running, and once finished; a job sent
    # back to pending by a retry has not started its new attempt yet.
    if job.started_at is not None and job.state == "running":
        text.append(f"   running for {age(job.started_at, now)}")
    elif job.started_at is not None and job.finished_at is not None and job.state in _DONE:
        text.append(f"   took {age(job.started_at, job.finished_at)}")
    if job.depends_on:
        text.append("\nAfter " + ", ".join(f"#{d}" for d in job.depends_on))
        if job.state == "waiting":
            text.append(f"  waiting for {job.waiting_for}", style="cyan")
        if job.on_failure == "run":
            text.append("  (runs even if they fail)", style="dim")
    if job.dependents:
        text.append(f"\n{job.dependents} job{'s' if job.dependents > 1 else ''} run after it")
    for err in job.errors[-3:]:
        text.append(f"\nattempt {err.attempt}: ", style="bold red")
        text.append(err.error.splitlines()[0] if err.error else "", style="red")
    keys = []
    if job.state in ("failed", "cancelled"):
        keys.append("[R] retry")
    if job.state in _CANCELLABLE:
        keys.append("[c] cancel")
    if keys:
        text.append("\n" + "  ".join(keys), style="bold")
    return text


def _line(line: JobLog) -> Text:
    text = Text(line.at.strftime("%H:%M:%S "), style="dim")
    text.append(f"{line.level.upper():7} ", style=_LEVEL_STYLE.get(line.level, ""))
    text.append(line.message)
    if line.fields:
        text.append("  " + " ".join(f"{k}={v}" for k, v in line.fields.items()), style="dim")
    return text


def _pipeline(pipeline: Pipeline, job: Job) -> Text:
    """A pipeline's stages in order, the shown job's in reverse video."""
    text = Text()
    text.append(f"Pipeline #{pipeline.id} {pipeline.name}", style="bold")
    text.append(f"  {pipeline.done}/{len(pipeline.jobs)} done  ")
    text.append_text(state_text(pipeline.state))
    text.append("\n")
    for n, stage in enumerate(pipeline.jobs):
        if n:
            text.append(" → ", style="dim")
        style = state_style(stage.state) + (" reverse" if stage.id == job.id else "")
        text.append(f"#{stage.id} {stage.kind} {stage.state}", style=style)
    return text
