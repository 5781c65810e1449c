"""Workers: claim jobs, run their handlers, heartbeat, log, finish; shut down gracefully.

A :class:`Worker` talks to its queue only through :class:`JobSource`, the
few fenced verbs a worker needs. ``cl.jobs`` is one; an HTTP client offering
the same verbs makes the same worker run on another host.

Threads: the calling thread claims and finishes jobs; a pool of at most
``concurrency`` long-lived runner threads runs the handlers (async handlers on
one shared event loop thread, awaited by their runner); a ticker thread
flushes job log lines, sends heartbeats and enforces per-job timeouts.

Batching: the calling thread completes every job that finished since its last
round and refills all the free slots in one ``complete_and_claim`` call (one
transaction, one commit; on a remote source one request), lingering a few
milliseconds for handlers about to finish. When it has no slot to fill it
completes with ``complete_many`` alone.
A claim that came back short (the queue had less than asked) is not repeated
on every completion: only once jobs may have arrived (the source's wake
generation moved) or after a re-check interval.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import queue
import signal
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, Protocol

from .._time import utcnow
from ..errors import ChronologError, LeaseLost, NotFound, ValidationError
from .models import Job
from .queue import DEFAULT_LEASE, default_worker_name

__all__ = ["Handler", "JobContext", "JobSource", "Worker", "WorkerStats", "current_job"]

log = logging.getLogger("chronolog.worker")

# How long the claiming thread waits, once a handler has finished, for the
# others still running to finish too, so that one transaction completes them
# all and one claim refills every slot. Short: a slot stays empty meanwhile.
LINGER = 0.002
# After a claim came back short, how often a busy worker looks again when no
# wake-up said jobs arrived (an idle worker waits for work with its source's
# poll interval instead).
RECHECK = 1.0

Handler = Callable[["JobContext"], Any]
"""A job handler: ``handler(ctx)`` (or ``async def``) returning a JSON object, None or raising."""


class JobSource(Protocol):
    """The verbs a worker needs from a queue (``cl.jobs``, or later a remote client)."""

    @property
    def poll_interval(self) -> float: ...

    def claim(
        self,
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
    ) -> list[Job]: ...

    def heartbeat(
        self,
        job_id: int,
        lease: int,
        *,
        progress: float | None = None,
        progress_text: str | None = None,
        pid: int | None = None,
        extend: timedelta | float = DEFAULT_LEASE,
    ) -> bool: ...

    def log_many(
        self,
        job_id: int,
        lease: int,
        lines: Sequence[tuple[str, str, Mapping[str, Any] | None, datetime]],
    ) -> None: ...

    def complete_many(
        self, items: Sequence[tuple[int, int, Mapping[str, Any] | None]]
    ) -> list[int]: ...

    def complete_and_claim(
        self,
        done: Sequence[tuple[int, int, Mapping[str, Any] | None]],
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
    ) -> tuple[list[int], list[Job]]: ...

    def fail(
        self,
        job_id: int,
        lease: int,
        error: str,
        *,
        retry: bool = True,
        retry_in: timedelta | float | None = None,
    ) -> Job: ...

    def release(self, job_id: int, lease: int, reason: str = ...) -> Job: ...

    def wake_generation(self) -> int: ...

    def wait_for_work(self, seen: int, timeout: float) -> bool: ...


_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "chronolog_job", default=None
)


def current_job() -> JobContext | None:
    """The job the calling code runs for, inside a handler (else None)."""
    return _current.get()


class JobContext:
    """What a handler gets: the job, a log, progress, and a flag telling it to stop.

    ``cancelled`` is set when the job was cancelled, timed out, lost its
    lease or the worker is shutting down past its grace period: a long
    handler should check it (``ctx.cancelled.is_set()``) and return.
    """

    def __init__(self, job: Job, worker: Worker) -> None:
        self.job = job
        self.cancelled = threading.Event()
        self.reason: str | None = None
        self.started = time.monotonic()
        self._worker = worker
        self._lock = threading.Lock()
        # Held while lines are taken and written, so that the ticker's flush and
        # the runner's last one cannot store a job's lines out of order.
        self._flushing = threading.Lock()
        self._lines: list[tuple[str, str, Mapping[str, Any] | None, datetime]] = []
        self._progress: tuple[float | None, str | None, int | None] | None = None
        self._finished = False
        self.future: Future[Any] | None = None

    @property
    def id(self) -> int:
        """The job id."""
        return self.job.id

    @property
    def payload(self) -> dict[str, Any]:
        """The job's payload (an empty dict when it has none)."""
        return dict(self.job.payload or {})

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
        self._worker._beat(self)

    def _take_lines(self) -> list[tuple[str, str, Mapping[str, Any] | None, datetime]]:
        with self._lock:
            lines, self._lines = self._lines, []
            return lines

    def _finish(self) -> bool:
        """Claim the right to finish the job (complete, fail or release): True once."""
        with self._lock:
            if self._finished:
                return False
            self._finished = True
            return True

    def _stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.cancelled.set()
        future = self.future
        if future is not None:
            future.cancel()


class _Capture(logging.Handler):
    """Route ``logging`` records emitted inside a handler to that job's log."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = _current.get()
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


@dataclass
class WorkerStats:
    """What a worker did during :meth:`Worker.run`."""

    claimed: int = 0
    completed: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)


class Worker:
    """Run handlers for jobs of ``queues`` (None: every queue) with ``concurrency`` at a time.

    ``handlers`` maps job kinds to functions (sync or async) taking a
    :class:`JobContext`; or give one callable to handle every kind. A
    handler's return value (a JSON object, or None) becomes the job result;
    an exception fails the attempt (retried with back-off while attempts
    remain). Handlers run at least once: after a crash, an expired lease
    hands the job to another worker.
    """

    def __init__(
        self,
        source: JobSource,
        handlers: Mapping[str, Handler] | Handler,
        *,
        queues: Sequence[str] | str | None = None,
        concurrency: int = 1,
        lease: float = DEFAULT_LEASE.total_seconds(),
        timeout: float | None = None,
        grace: float = 30.0,
        name: str | None = None,
        capture_logging: bool = True,
        poll_interval: float | None = None,
        maintenance: Callable[[], object] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.source = source
        self.handlers = handlers
        self.queues = queues
        self.concurrency = concurrency
        self.lease = float(lease)
        self.timeout = timeout
        self.grace = grace
        self.name = name or default_worker_name()
        self.capture_logging = capture_logging
        self.poll_interval = poll_interval if poll_interval is not None else source.poll_interval
        # Housekeeping the workers do themselves so nobody schedules a cron
        # (retention's run_if_due); called from the ticker, errors only logged.
        self.maintenance = maintenance
        self.stats = WorkerStats()
        # Claimed jobs not yet finished (completed, failed, released or forgotten).
        self._running: dict[int, JobContext] = {}
        self._done: list[tuple[JobContext, Mapping[str, Any] | None]] = []
        # Jobs handed to the runner pool whose handler has not returned yet. A
        # timed-out sync handler keeps its slot until it returns, so no more
        # than ``concurrency`` handlers ever run at once.
        self._busy = 0
        self._inbox: queue.SimpleQueue[JobContext | None] = queue.SimpleQueue()
        self._runners: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._ticker_stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------

    def stop(self, grace: float | None = None) -> None:
        """Stop claiming; running jobs get ``grace`` seconds (default: the worker's) to finish."""
        if grace is not None:
            self.grace = grace
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._stopping.is_set():  # a second signal: do not wait any longer
            self.grace = 0.0
        log.info("chronolog worker %s: signal %s, shutting down", self.name, signum)
        self.stop()

    def run(
        self, *, burst: bool = False, max_jobs: int | None = None, install_signals: bool = False
    ) -> WorkerStats:
        """Work until :meth:`stop` (or SIGTERM/SIGINT with ``install_signals``).

        ``burst``: return once no job is due and none is running.
        ``max_jobs``: stop claiming after that many jobs.
        """
        previous: dict[signal.Signals, Any] = {}
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self._on_signal)
        capture = _Capture() if self.capture_logging else None
        root = logging.getLogger()
        old_level = root.level
        if capture is not None:
            root.addHandler(capture)
            if root.level > logging.INFO:
                root.setLevel(logging.INFO)
        ticker = threading.Thread(target=self._tick, name="chronolog-ticker", daemon=True)
        ticker.start()
        try:
            self._loop_main(burst, max_jobs)
            self._drain()
        finally:
            self._ticker_stop.set()
            ticker.join(5)
            # Idle runners exit at once; one still inside a handler (timed out
            # or released) exits when the handler returns.
            for _ in self._runners:
                self._inbox.put(None)
            self._runners = []
            if capture is not None:
                root.removeHandler(capture)
                root.setLevel(old_level)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._loop_thread is not None:
                    self._loop_thread.join(5)
                self._loop.close()
                self._loop = None
        return self.stats

    # -- the claiming loop ------------------------------------------------------------------

    def _loop_main(self, burst: bool, max_jobs: int | None) -> None:
        # The wake generation before the last claim that came back short, and
        # when to look again regardless; None: the last claim filled every slot.
        short: int | None = None
        recheck_at = 0.0
        recheck = min(RECHECK, self.poll_interval)
        while not self._stopping.is_set():
            with self._cond:
                done, self._done = self._done, []
            free = self.concurrency - self._busy
            # Nothing of ours runs but the jobs about to be completed.
            idle = len(self._running) <= len(done)
            if (max_jobs is not None and max_jobs - self.stats.claimed <= 0 and idle) or (
                burst and idle and free <= 0  # only timed-out handlers hold the slots
            ):
                self._settle(done)
                return
            if max_jobs is not None:
                free = min(free, max_jobs - self.stats.claimed)
            claiming = free > 0 and (
                short is None
                or (burst and idle)
                or time.monotonic() >= recheck_at
                or self.source.wake_generation() != short
            )
            if not claiming:
                self._settle(done)
                if idle and free > 0 and short is not None:
                    # Nothing of ours runs and the queue was empty: wait for work.
                    self.source.wait_for_work(short, max(0.0, recheck_at - time.monotonic()))
                    short = None
                    continue
                self._wait_done(None if short is None else recheck_at)
                continue
            seen = self.source.wake_generation()
            try:
                completed, jobs = self.source.complete_and_claim(
                    [(c.id, c.job.lease, r) for c, r in done],
                    self.queues,
                    self.name,
                    limit=free,
                    lease=self.lease,
                )
            except ChronologError as exc:
                # Nothing happened: complete the finished jobs on their own (a
                # result the queue refuses fails its job only), then claim again.
                self._settle(done)
                if not (done and isinstance(exc, ValidationError)):
                    log.warning("chronolog worker %s: claim failed: %s", self.name, exc)
                    self._stopping.wait(1.0)
                continue
            self._account(done, set(completed))
            for job in jobs:
                self._start(job)
            if len(jobs) < free:
                short, recheck_at = seen, time.monotonic() + recheck
            else:
                short = None
            if not jobs and not self._running:
                if burst:
                    return
                self.source.wait_for_work(seen, self.poll_interval)
                short = None  # woken (or the poll is up): claim again
                continue
            self._wait_done(None if short is None else recheck_at)

    def _wait_done(self, until: float | None) -> None:
        """Wait for finished handlers (or stop, or ``until``), then linger for the rest."""
        with self._cond:
            busy = self._busy
            while not self._done and self._busy >= busy and not self._stopping.is_set():
                timeout = self.poll_interval
                if until is not None:
                    timeout = min(timeout, until - time.monotonic())
                if timeout <= 0 or not self._cond.wait(timeout):
                    return
            # Handlers still running may be about to finish: wait a moment so
            # that one transaction completes them and one claim refills their slots.
            end = time.monotonic() + LINGER
            while self._busy > 0 and not self._stopping.is_set():
                left = end - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    break

    def _drain(self) -> None:
        """After stop: wait ``grace`` for running jobs, then release the rest."""
        deadline = time.monotonic() + self.grace
        while self._running and time.monotonic() < deadline:
            self._flush_done()
            with self._cond:
                if not self._done:
                    self._cond.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        self._flush_done()
        for ctx in list(self._running.values()):
            ctx._stop("shutdown")
            if ctx._finish():
                self._flush_lines(ctx)
                try:
                    self.source.release(
                        ctx.id, ctx.job.lease, "worker shut down before the job finished"
                    )
                    self.stats.released += 1
                except (LeaseLost, NotFound):
                    self.stats.lost += 1
            self._running.pop(ctx.id, None)

    def _start(self, job: Job) -> None:
        self.stats.claimed += 1
        ctx = JobContext(job, self)
        self._running[job.id] = ctx
        with self._cond:
            self._busy += 1
            # Every job handed over has an idle runner waiting for it: the pool
            # grows to ``concurrency`` threads at most, as the load asks.
            if len(self._runners) < self._busy:
                runner = threading.Thread(
                    target=self._runner,
                    name=f"chronolog-runner-{len(self._runners) + 1}",
                    daemon=True,
                )
                self._runners.append(runner)
                runner.start()
        self._inbox.put(ctx)

    def _runner(self) -> None:
        """A pool thread: run the jobs handed over, one at a time, until told to stop."""
        thread = threading.current_thread()
        name = thread.name
        while (ctx := self._inbox.get()) is not None:
            thread.name = f"job-{ctx.id}"
            outcome = None
            try:
                # A fresh context per job, as a new thread would have: context
                # variables a handler sets do not leak into the next job.
                outcome = contextvars.Context().run(self._execute, ctx)
            except Exception:  # pragma: no cover - _execute handles the handler's errors
                log.exception("chronolog worker %s: job %s: runner error", self.name, ctx.id)
            finally:
                thread.name = name
                with self._cond:
                    self._busy -= 1
                    if outcome is not None:
                        self._done.append((ctx, outcome[0]))
                    # Wake the claiming thread for the first finished job (it then
                    # lingers for the rest) and when none is left running; waking
                    # it for every job only cost thread switches.
                    if outcome is None or len(self._done) == 1 or self._busy == 0:
                        self._cond.notify_all()

    def _flush_done(self) -> None:
        with self._cond:
            done, self._done = self._done, []
        self._settle(done)

    def _settle(self, done: Sequence[tuple[JobContext, Mapping[str, Any] | None]]) -> None:
        """Complete finished jobs with ``complete_many`` (when no claim goes with them)."""
        if not done:
            return
        try:
            completed = set(self.source.complete_many([(c.id, c.job.lease, r) for c, r in done]))
        except ValidationError as exc:
            if len(done) == 1:  # the handler's result is refused (not JSON, too large)
                ctx = done[0][0]
                self._fail(ctx, f"result refused: {exc}", retry=False)
                return
            for one in done:  # find the culprit; the others complete
                self._settle([one])
            return
        except ChronologError as exc:
            log.warning("chronolog worker %s: complete failed: %s", self.name, exc)
            completed = set()
        self._account(done, completed)

    def _account(
        self, done: Sequence[tuple[JobContext, Mapping[str, Any] | None]], completed: set[int]
    ) -> None:
        for ctx, _ in done:
            self._running.pop(ctx.id, None)
            if ctx.id in completed:
                self.stats.completed += 1
            else:
                self.stats.lost += 1
                log.warning(
                    "chronolog worker %s: job %s finished but its lease was lost", self.name, ctx.id
                )

    # -- running one job ----------------------------------------------------------------------

    def _handler(self, kind: str) -> Handler | None:
        if callable(self.handlers) and not isinstance(self.handlers, Mapping):
            return self.handlers
        return self.handlers.get(kind)

    def _execute(self, ctx: JobContext) -> tuple[Mapping[str, Any] | None] | None:
        """Run the job's handler; ``(result,)`` to complete it, None when it is settled already."""
        if ctx._finished:
            return None  # released before a runner took it
        ctx.started = time.monotonic()
        _current.set(ctx)
        handler = self._handler(ctx.job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {ctx.job.kind!r} in worker {self.name}")
            if inspect.iscoroutinefunction(handler):
                ctx.future = asyncio.run_coroutine_threadsafe(
                    _in_context(handler, ctx), self._event_loop()
                )
                if ctx.cancelled.is_set():
                    ctx.future.cancel()
                result = ctx.future.result()
            else:
                result = handler(ctx)
            if isinstance(result, Awaitable):
                raise TypeError("a sync handler returned an awaitable; declare it async def")
        except BaseException as exc:
            if not ctx._finish():
                return None  # timed out, cancelled or released meanwhile: settled elsewhere
            self._flush_lines(ctx)
            if ctx.reason == "cancelled":
                self._forget(ctx)
                return None
            text = f"{type(exc).__name__}: {exc}".strip()
            ctx.log("error", text, traceback="".join(traceback.format_exception(exc))[-8000:])
            self._flush_lines(ctx)
            self._fail(ctx, text, retry=not isinstance(exc, LookupError) or handler is not None)
            return None
        if not ctx._finish():
            return None
        self._flush_lines(ctx)
        if ctx.reason == "cancelled":
            self._forget(ctx)
            return None
        return (result if result is None or isinstance(result, Mapping) else {"value": result},)

    def _forget(self, ctx: JobContext) -> None:
        self.stats.cancelled += 1
        with self._cond:
            self._running.pop(ctx.id, None)
            self._cond.notify_all()

    def _fail(self, ctx: JobContext, error: str, *, retry: bool = True) -> None:
        try:
            self.source.fail(ctx.id, ctx.job.lease, error, retry=retry)
            self.stats.failed += 1
        except (LeaseLost, NotFound):
            self.stats.lost += 1
        except ChronologError as exc:
            self.stats.errors.append(str(exc))
            log.warning("chronolog worker %s: could not fail job %s: %s", self.name, ctx.id, exc)
        with self._cond:
            self._running.pop(ctx.id, None)
            self._cond.notify_all()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._cond:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._loop_thread = threading.Thread(
                    target=loop.run_forever, name="chronolog-async", daemon=True
                )
                self._loop_thread.start()
                self._loop = loop
            return self._loop

    # -- the ticker: log lines, heartbeats, timeouts --------------------------------------------

    def _tick(self) -> None:
        beat_every = max(0.05, self.lease / 3)
        next_beat = time.monotonic() + beat_every
        while not self._ticker_stop.wait(0.2):
            now = time.monotonic()
            for ctx in list(self._running.values()):
                if ctx._finished:
                    continue
                self._flush_lines(ctx)
                if self.timeout is not None and now - ctx.started > self.timeout:
                    self._time_out(ctx)
                elif now >= next_beat or ctx._progress is not None:
                    self._beat(ctx)
            if now >= next_beat:
                next_beat = now + beat_every
            if self.maintenance is not None:
                try:
                    self.maintenance()
                except ChronologError as exc:
                    log.warning("chronolog worker %s: maintenance failed: %s", self.name, exc)

    def _time_out(self, ctx: JobContext) -> None:
        ctx._stop("timeout")
        if ctx._finish():
            error = f"timed out after {self.timeout:g} s"
            ctx.log("error", error)
            self._flush_lines(ctx)
            self._fail(ctx, error)

    def _beat(self, ctx: JobContext) -> None:
        with ctx._lock:
            progress, ctx._progress = ctx._progress, None
        fraction, text, pid = progress or (None, None, None)
        try:
            go_on = self.source.heartbeat(
                ctx.id,
                ctx.job.lease,
                progress=fraction,
                progress_text=text,
                pid=pid,
                extend=self.lease,
            )
        except (LeaseLost, NotFound):
            ctx._stop("lease lost")
            return
        except ChronologError as exc:
            log.warning(
                "chronolog worker %s: heartbeat of job %s failed: %s", self.name, ctx.id, exc
            )
            return
        if not go_on:
            ctx._stop("cancelled")

    def _flush_lines(self, ctx: JobContext) -> None:
        if not ctx._lines:  # the common case, without taking a lock
            return
        with ctx._flushing:
            lines = ctx._take_lines()
            if not lines:
                return
            try:
                self.source.log_many(ctx.id, ctx.job.lease, lines)
            except (LeaseLost, NotFound):
                ctx._stop("lease lost")
            except ChronologError as exc:
                log.warning(
                    "chronolog worker %s: log of job %s not written: %s", self.name, ctx.id, exc
                )


async def _in_context(handler: Callable[[JobContext], Awaitable[Any]], ctx: JobContext) -> Any:
    _current.set(ctx)  # the task runs in a copy of the loop thread's context: set it here
    return await handler(ctx)
