"""What a handler sees of its job: :class:`JobContext`, :func:`current_job`, and the
``logging`` capture that turns a handler's log records into job log lines."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from .._time import utcnow
from .models import Job

__all__ = [
    "Capture",
    "JobContext",
    "LogLine",
    "PermanentError",
    "current_job",
    "outside_job",
    "set_current",
]

LogLine = tuple[str, str, Mapping[str, Any] | None, datetime]
"""A job log line waiting to be written: (level, message, fields, at)."""

_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "chronolog_job", default=None
)
set_current: Callable[[JobContext | None], Any] = _current.set
"""Make a context the current job of the calling code (a runner, an async task)."""


def current_job() -> JobContext | None:
    """The job the calling code runs for, inside a handler (else None)."""
    return _current.get()


class PermanentError(Exception):
    """Raised by a handler when its job can never succeed, however often it is retried
    (bad input, a missing file named in the payload …): the job fails at once, its
    remaining attempts unspent, with this message as its error."""


@contextlib.contextmanager
def outside_job() -> Iterator[None]:
    """Run the worker's own calls (heartbeats, log writes, fails) outside the job's
    context, so what they log — a remote worker's ``httpx`` "HTTP Request: POST …"
    lines — is not captured as the job's log lines."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


class JobContext:
    """What a handler gets: the job, a log, progress, and a flag telling it to stop.

    ``cancelled`` is set when the job was cancelled, timed out, lost its
    lease or the worker is shutting down past its grace period: a long
    handler should check it (``ctx.cancelled.is_set()``) and return.
    """

    __slots__ = (
        "__weakref__",
        "_beat",
        "_cancelled",
        "_finished",
        "_flushing",
        "_lines",
        "_lock",
        "_progress",
        "future",
        "job",
        "reason",
        "started",
        "taken",
    )

    def __init__(self, job: Job, beat: Callable[[JobContext], None]) -> None:
        self.job = job
        self.reason: str | None = None
        self.started = time.monotonic()
        self.taken = False
        """Whether a runner took the job (False while it waits, prefetched, for a slot)."""
        self.future: Future[Any] | None = None
        # Made on first use: most jobs are never cancelled, log nothing and send
        # no progress, and a threading.Event costs more than a no-op job's handler.
        self._cancelled: threading.Event | None = None
        self._lock = threading.Lock()
        # Held while lines are taken and written, so that the ticker's flush and
        # the runner's last one cannot store a job's lines out of order.
        self._flushing: threading.Lock | None = None
        self._lines: list[LogLine] = []
        self._progress: tuple[float | None, str | None, int | None] | None = None
        self._finished = False
        self._beat = beat

    @property
    def id(self) -> int:
        """The job id."""
        return self.job.id

    @property
    def payload(self) -> dict[str, Any]:
        """The job's payload (an empty dict when it has none)."""
        return dict(self.job.payload or {})

    @property
    def cancelled(self) -> threading.Event:
        """Set when the handler should stop (see the class docstring)."""
        event = self._cancelled
        if event is None:
            with self._lock:
                if self._cancelled is None:
                    self._cancelled = threading.Event()
                event = self._cancelled
        return event

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Add a line to the job's log (written within a fraction of a second)."""
        with self._lock:
            self._lines.append((level, message, fields or None, utcnow()))

    def progress(self, fraction: float | None = None, text: str | None = None) -> None:
        """Report progress (0..1 and a short text); sent with the next heartbeat."""
        with self._lock:
            self._progress = (fraction, text, None if self._progress is None else self._progress[2])

    def set_pid(self, pid: int) -> None:
        """Record the pid doing the work (``chronolog exec`` records its child); sent at once."""
        with self._lock:
            old = self._progress or (None, None, None)
            self._progress = (old[0], old[1], pid)
        self._beat(self)

    def flushing(self) -> threading.Lock:
        """The lock held while this job's lines are taken and written."""
        lock = self._flushing
        if lock is None:
            with self._lock:
                if self._flushing is None:
                    self._flushing = threading.Lock()
                lock = self._flushing
        return lock

    def take_lines(self) -> list[LogLine]:
        """The lines logged since the last call."""
        with self._lock:
            lines, self._lines = self._lines, []
            return lines

    def take_progress(self) -> tuple[float | None, str | None, int | None] | None:
        """The progress reported since the last call (None: nothing new)."""
        with self._lock:
            progress, self._progress = self._progress, None
            return progress

    @property
    def progress_pending(self) -> bool:
        """Whether progress was reported since it was last sent."""
        return self._progress is not None

    def finish(self) -> bool:
        """Claim the right to finish the job (complete, fail or release): True once."""
        with self._lock:
            if self._finished:
                return False
            self._finished = True
            return True

    @property
    def finished(self) -> bool:
        """Whether the job was finished (or is being finished) by someone."""
        return self._finished

    def stop(self, reason: str) -> None:
        """Tell the handler to stop (``reason``: cancelled, timeout, lease lost, shutdown)."""
        if self.reason is None:
            self.reason = reason
        self.cancelled.set()
        future = self.future
        if future is not None:
            future.cancel()


class Capture(logging.Handler):
    """Route ``logging`` records emitted inside a handler to that job's log."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = _current.get()
        # chronolog's and the database layer's own records never speak for the job;
        # the worker's own calls (a remote worker's HTTP requests) run outside_job().
        if ctx is None or record.name.startswith(("chronolog", "sqlalchemy")):
            return
        try:
            fields: dict[str, Any] = {"logger": record.name}
            if record.exc_info:
                fields["exception"] = "".join(traceback.format_exception(*record.exc_info))[-4000:]
            ctx.log(_level(record.levelno), record.getMessage(), **fields)
        except Exception:  # pragma: no cover - logging must never break the handler
            self.handleError(record)


def _level(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    return "info" if levelno >= logging.INFO else "debug"
