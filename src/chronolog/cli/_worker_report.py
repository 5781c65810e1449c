"""What ``chronolog worker`` and ``chronolog exec`` print while they run: a line per
finished job (unless ``--quiet``), warnings and errors always, progress while a
``--burst`` drains (a Rich bar on a terminal, a plain line every few seconds
otherwise), and the exit summary in jobs, not attempts."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from rich.markup import escape
from rich.progress import Progress, TaskID

from ..jobs.worker import JobOutcome, WorkerStats
from ._common import err_console, progress

__all__ = ["PLAIN_EVERY", "DrainProgress", "console_logging", "print_summary"]

PLAIN_EVERY = 5.0
"""Seconds between the plain progress lines of a ``--burst`` whose stderr is no terminal."""

_STYLE = {logging.WARNING: "yellow", logging.ERROR: "bold red", logging.CRITICAL: "bold red"}


class _ConsoleHandler(logging.Handler):
    """chronolog's log records on stderr, through the console a progress bar shares."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            style = _STYLE.get(record.levelno, "")
            prefix = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
            err_console.print(
                f"[{style}]{escape(prefix + message)}[/]" if style else escape(message),
                highlight=False,
                soft_wrap=True,
            )
        except Exception:  # pragma: no cover - logging must never break the worker
            self.handleError(record)


@contextlib.contextmanager
def console_logging(*, quiet: bool) -> Iterator[None]:
    """Show chronolog's warnings and errors on stderr, and (unless ``quiet``) the
    worker's line per finished job; put the loggers back as they were afterwards."""
    root = logging.getLogger("chronolog")
    worker = logging.getLogger("chronolog.worker")
    saved = (root.level, root.propagate, worker.level)
    handler = _ConsoleHandler()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    # Printed here; the root logger's handlers (if the caller set any) see them too.
    worker.setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        worker.setLevel(saved[2])


class DrainProgress:
    """The worker's ``on_outcome`` listener that shows how far a ``--burst`` got.

    ``total``: the jobs waiting when it started (None: unknown, e.g. remote); it grows
    when more finish. On a terminal a Rich bar (the per-job lines print above it),
    otherwise a plain line at most every :data:`PLAIN_EVERY` seconds and at the end.
    """

    def __init__(self, total: int | None, *, enabled: bool) -> None:
        self.enabled = enabled
        self.total = total
        self.done = 0
        self.outcomes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._terminal = err_console.is_terminal
        self._next_plain = time.monotonic() + PLAIN_EVERY

    def __enter__(self) -> DrainProgress:
        if self.enabled and self._terminal:
            self._bar = progress(total=self.total is not None)
            self._bar.__enter__()
            self._task = self._bar.add_task("draining", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None
        elif self.enabled and self.done and not self._terminal:
            self._plain()

    def __call__(self, outcome: JobOutcome) -> None:
        """A job finished an attempt (a retried one is not done yet)."""
        if outcome.outcome == "retrying":
            return
        with self._lock:
            self.done += 1
            self.outcomes[outcome.outcome] = self.outcomes.get(outcome.outcome, 0) + 1
            if self.total is not None and self.done > self.total:
                self.total = self.done
            if not self.enabled:
                return
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=self.done, total=self.total)
            elif time.monotonic() >= self._next_plain:
                self._next_plain = time.monotonic() + PLAIN_EVERY
                self._plain()

    def _plain(self) -> None:
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
