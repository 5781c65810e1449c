"""What ``chronolog worker`` and ``chronolog exec`` print while they run: a line per
finished job (unless ``--quiet``), warnings and errors always, progress while a
``--burst`` drains (a Rich bar on a terminal, a plain line every few seconds
otherwise), and the exit summary in jobs, not attempts."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from rich.markup import escape
from rich.progress import Progress, TaskID

from ..jobs._outcomes import describe
from ..jobs.models import QueueInfo
from ..jobs.worker import JobOutcome, WorkerStats
from ._common import err_console, progress

__all__ = [
    "FLUSH_EVERY",
    "PLAIN_EVERY",
    "WorkerReport",
    "console_logging",
    "idle_hints",
    "print_hints",
    "print_summary",
]

PLAIN_EVERY = 5.0
"""Seconds between the plain progress lines of a ``--burst`` whose stderr is no terminal."""

FLUSH_EVERY = 0.2
"""Longest a per-job line waits in the buffer when stderr is not a terminal."""
_BATCH = 2048
"""Lines that make the writer write before FLUSH_EVERY is up."""

_STYLE = {logging.WARNING: "yellow", logging.ERROR: "bold red", logging.CRITICAL: "bold red"}


class _Lines:
    """The per-job lines on stderr.

    Not a terminal: plain text in batches, at most :data:`FLUSH_EVERY` seconds
    late (a line through Rich costs more than a no-op job, about 150 µs against
    80; a buffered plain one about 2). The outcomes are worded and written by a
    writer thread of their own, not by the worker's claiming thread that hands
    them over: that thread is a fast drain's bottleneck, and the writer's work
    fits in the time it spends in the database. A terminal: through the console,
    above the progress bar.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: list[JobOutcome] = []
        self._writing = threading.Lock()
        """Held while a flush writes: flushes write whole, in order."""
        self._writer: threading.Thread | None = None
        self.plain = not err_console.is_terminal

    def write(self, outcome: JobOutcome) -> None:
        if not self.plain:
            err_console.print(escape(describe(outcome)), highlight=False, soft_wrap=True)
            return
        with self._cond:
            pending = self._pending
            pending.append(outcome)
            if len(pending) == 1 or len(pending) >= _BATCH:
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._write_on, name="chronolog-lines", daemon=True
                    )
                    self._writer.start()
                self._cond.notify()

    def _write_on(self) -> None:
        """The writer thread: wait for a line, gather for up to FLUSH_EVERY (less when
        a batch fills), write."""
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                if len(self._pending) < _BATCH:
                    self._cond.wait(FLUSH_EVERY)
            self.flush()

    def flush(self) -> None:
        """Write the lines held back."""
        with self._writing:
            with self._cond:
                lines, self._pending = self._pending, []
            if lines:
                stream = err_console.file
                stream.write("\n".join(map(describe, lines)) + "\n")
                stream.flush()


_LINES = _Lines()


class _ConsoleHandler(logging.Handler):
    """chronolog's warnings and errors on stderr, after the job lines written so far."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _LINES.flush()
            style = _STYLE.get(record.levelno, "")
            text = escape(f"{record.levelname.lower()}: {record.getMessage()}")
            err_console.print(
                f"[{style}]{text}[/]" if style else text, highlight=False, soft_wrap=True
            )
        except Exception:  # pragma: no cover - logging must never break the worker
            self.handleError(record)


@contextlib.contextmanager
def console_logging() -> Iterator[None]:
    """Show chronolog's warnings and errors on stderr while the worker runs (the per-job
    lines come from :class:`WorkerReport`); put the loggers back afterwards."""
    root = logging.getLogger("chronolog")
    jobs = logging.getLogger("chronolog.worker.jobs")
    saved = (root.level, jobs.level)
    handler = _ConsoleHandler(logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    # The report prints each job's line itself, without a log record (cheaper).
    jobs.setLevel(logging.WARNING)
    try:
        yield
    finally:
        _LINES.flush()
        root.removeHandler(handler)
        root.setLevel(saved[0])
        jobs.setLevel(saved[1])


class WorkerReport:
    """The worker's ``on_outcome`` listener: a line per finished job (unless quiet) and,
    for a ``--burst``, how far the drain got.

    ``total``: the jobs waiting when it started (None: unknown, e.g. remote); it grows
    when more finish. On a terminal a Rich bar (the per-job lines print above it),
    otherwise a plain line at most every :data:`PLAIN_EVERY` seconds and at the end.
    """

    def __init__(self, total: int | None, *, lines: bool, progress: bool) -> None:
        self.lines = lines
        self.enabled = progress
        self.total = total
        self.done = 0
        self.outcomes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._terminal = err_console.is_terminal
        self._next_plain = time.monotonic() + PLAIN_EVERY

    def __enter__(self) -> WorkerReport:
        if self.enabled and self._terminal:
            self._bar = progress(total=self.total is not None)
            self._bar.__enter__()
            self._task = self._bar.add_task("draining", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        _LINES.flush()
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None
        elif self.enabled and self.done and not self._terminal:
            self._plain()

    def __call__(self, outcome: JobOutcome) -> None:
        """A job finished an attempt (a retried one is not done yet)."""
        if self.lines:
            _LINES.write(outcome)
        if outcome.outcome == "retrying" or not self.enabled:
            return
        with self._lock:
            self.done += 1
            self.outcomes[outcome.outcome] = self.outcomes.get(outcome.outcome, 0) + 1
            if self.total is not None and self.done > self.total:
                self.total = self.done
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=self.done, total=self.total)
            elif time.monotonic() >= self._next_plain:
                self._next_plain = time.monotonic() + PLAIN_EVERY
                self._plain()

    def _plain(self) -> None:
        _LINES.flush()
        of = "" if self.total is None else f" of {self.total}"
        detail = ", ".join(f"{n} {name}" for name, n in sorted(self.outcomes.items()))
        err_console.print(
            f"progress: {self.done}{of} jobs done ({detail})", highlight=False, soft_wrap=True
        )


def print_summary(name: str, stats: WorkerStats) -> None:
    """The exit line: jobs by their last outcome, then retries (``3 jobs: 1 completed, …``)."""
    err_console.print(
        f"worker {escape(name)} stopped: {escape(stats.summary())}",
        highlight=False,
        style="dim",
        soft_wrap=True,
    )


def idle_hints(named: Sequence[str], queues: Sequence[QueueInfo]) -> list[str]:
    """Why a ``--burst`` over the ``named`` queues may have found nothing to do: the ones
    paused with pending jobs, and the ones with no jobs at all (a typo, often)."""
    known = {q.name: q for q in queues}
    with_jobs = sorted(n for n, q in known.items() if any(q.counts.values()))
    hints: list[str] = []
    for name in dict.fromkeys(named):
        info = known.get(name)
        if info is not None and info.paused and info.pending:
            jobs = "job" if info.pending == 1 else "jobs"
            hints.append(
                f"queue {name} is paused with {info.pending} pending {jobs}: "
                f"chronolog queues resume {name}"
            )
        elif info is None or not any(info.counts.values()):
            others = f" (queues with jobs: {', '.join(with_jobs)})" if with_jobs else ""
            hints.append(f"queue {name} has no jobs{others}")
    return hints


def print_hints(hints: Sequence[str]) -> None:
    """``hint:`` lines on stderr."""
    for hint in hints:
        err_console.print(f"[yellow]hint:[/] {escape(hint)}", highlight=False, soft_wrap=True)
