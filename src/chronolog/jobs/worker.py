"""Workers: claim jobs, run their handlers, heartbeat, log, finish; shut down gracefully.

A :class:`Worker` talks to its queue only through :class:`JobSource`, the
few fenced verbs a worker needs. ``cl.jobs`` is one; ``chronolog.Client``'s
``jobs`` offers the same verbs over HTTP, so the same worker runs on another
host.

A worker is several small roles, each in a module of its own (as River
splits producer, job executor and completer):

* :mod:`._claim_loop`: the calling thread completes finished jobs and
  refills free slots, one ``complete_and_claim`` per batch; the graceful
  drain on stop;
* :mod:`._runners`: a pool of at most ``concurrency`` long-lived runner
  threads that run the handlers;
* :mod:`._bridge`: async handlers on one shared event loop thread, each
  awaited by its runner;
* :mod:`._ticker`: a thread that writes job log lines, sends heartbeats, fires due
  schedules (:mod:`.schedules`, no leader: every worker does) and
  enforces per-job timeouts;
* :mod:`._context`: what a handler sees (:class:`JobContext`).

This module holds the worker itself: its settings, the jobs it holds, and
how one job runs (:meth:`Worker.execute`) and is failed or heartbeated.
"""

from __future__ import annotations

import inspect
import logging
import signal
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, Protocol

from ..errors import ChronologError, Forbidden, LeaseLost, NotFound, Unauthorized
from ._bridge import AsyncBridge
from ._cancel_watch import CancelWatch
from ._claim_loop import ClaimLoop
from ._context import Capture, JobContext, PermanentError, current_job, outside_job, set_current
from ._outcomes import JobOutcome, describe, summary
from ._registry import Registration
from ._runners import RunnerPool
from ._ticker import Ticker
from .models import Job
from .queue import DEFAULT_LEASE, default_worker_name
from .schedules import Schedules

__all__ = [
    "Handler",
    "JobContext",
    "JobOutcome",
    "JobSource",
    "PermanentError",
    "Worker",
    "WorkerStats",
    "current_job",
]

log = logging.getLogger("chronolog.worker")
jobs_log = logging.getLogger("chronolog.worker.jobs")
"""A line per finished job, at INFO (``chronolog worker`` shows them unless ``--quiet``)."""

Handler = Callable[["JobContext"], Any]
"""A job handler: ``handler(ctx)`` (or ``async def``) returning a JSON object, None or raising."""


class JobSource(Protocol):
    """The verbs a worker needs from a queue (``cl.jobs``, or a remote client's ``jobs``)."""

    @property
    def poll_interval(self) -> float: ...

    @property
    def claim_most(self) -> int:
        """The most jobs one claim may ask for."""
        ...

    def claim(
        self,
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease_seconds: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
        kinds: Sequence[str] | None = None,
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
        lease_seconds: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
        kinds: Sequence[str] | None = None,
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


@dataclass
class WorkerStats:
    """What a worker did during :meth:`Worker.run`.

    The counters count attempts (``failed``: attempts that failed, retried or
    not); ``jobs`` counts jobs by their last outcome in this run (see
    :data:`~chronolog.jobs._outcomes.OUTCOMES`): a job that failed twice and then
    completed is one completed job and two retries.
    """

    claimed: int = 0
    completed: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0
    cancelled: int = 0
    retried: int = 0
    """Failed attempts whose job went back to pending for another one."""
    errors: list[str] = field(default_factory=list)
    jobs: dict[str, int] = field(default_factory=dict)
    """Outcome → how many jobs ended this run with it (each job counted once)."""
    fatal: str | None = None
    """Why the worker stopped on its own (its token was refused), else None."""
    retrying_ids: set[int] = field(default_factory=set, repr=False)
    """Jobs whose last outcome is ``retrying`` (counted again when they end otherwise)."""

    def count(self, job_id: int, outcome: str, n: int = 1) -> None:
        """Count ``n`` jobs (``job_id`` when one) as ending with ``outcome``."""
        jobs = self.jobs
        if self.retrying_ids and job_id in self.retrying_ids:
            self.retrying_ids.discard(job_id)
            jobs["retrying"] -= 1  # the same job, now with a later outcome
            if not jobs["retrying"]:
                del jobs["retrying"]
        jobs[outcome] = jobs.get(outcome, 0) + n
        if outcome == "retrying":
            self.retried += 1
            self.retrying_ids.add(job_id)

    def summary(self) -> str:
        """``3 jobs: 1 completed, 2 failed; 4 retries``: jobs by last outcome, then retries."""
        return summary(self.jobs, self.retried)


class Worker:
    """Run handlers for jobs of ``queues`` (None: every queue) with ``concurrency`` at a time.

    ``handlers`` maps job kinds to functions (sync or async) taking a
    :class:`JobContext` (the worker then claims only those kinds); or give one
    callable to handle every kind. The worker registers itself in the worker
    registry (``cl.jobs.workers()``) while it runs, heartbeating every
    ``registry_beat`` seconds (default 10). A
    handler's return value (a JSON object, or None) becomes the job result;
    an exception fails the attempt (retried with back-off while attempts
    remain). Handlers run at least once: after a crash, an expired lease
    hands the job to another worker.

    A worker on a local store also fires the store's due schedules (at start
    and every half second; ``fire_schedules=False`` turns it off): each fire
    time enqueues one job however many workers fire it (``docs/schedules.md``).
    """

    def __init__(
        self,
        source: JobSource,
        handlers: Mapping[str, Handler] | Handler,
        *,
        queues: Sequence[str] | str | None = None,
        concurrency: int = 1,
        lease_seconds: float = DEFAULT_LEASE.total_seconds(),
        timeout: float | None = None,
        grace: float = 30.0,
        name: str | None = None,
        capture_logging: bool = True,
        poll_interval: float | None = None,
        maintenance: Callable[[], object] | None = None,
        fire_schedules: bool = True,
        registry_beat: float | None = None,
        on_outcome: Callable[[JobOutcome], object] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.source = source
        self.handlers = handlers
        self.queues = queues
        self.concurrency = concurrency
        self.lease_seconds = float(lease_seconds)
        self.timeout = timeout
        self.grace = grace
        self.name = name or default_worker_name()
        self.capture_logging = capture_logging
        self.on_outcome = on_outcome
        """Called (on a worker thread) with each finished attempt, after its INFO line."""
        self.poll_interval = poll_interval if poll_interval is not None else source.poll_interval
        self.stats = WorkerStats()
        self.stopping = threading.Event()
        self.jobs: dict[int, JobContext] = {}
        """Claimed jobs not yet finished (completed, failed, released or forgotten)."""
        self.pool = RunnerPool(concurrency, self.execute, self.name)
        self._bridge = AsyncBridge()
        # Housekeeping the workers do themselves so nobody schedules a cron
        # (retention's run_if_due); run by the ticker, errors only logged.
        self._ticker = Ticker(self, maintenance)
        # Schedules fire from every worker, no leader (jobs/schedules.py). A remote
        # source (chronolog.Client) has none to fire: its server fires them.
        schedules = getattr(source, "schedules", None)
        self.schedules: Schedules | None = (
            schedules if fire_schedules and isinstance(schedules, Schedules) else None
        )
        self._loop = ClaimLoop(self)
        # Tells running handlers of a cancel within a second (see _cancel_watch).
        self._cancels = CancelWatch(self)
        self._fatal: ChronologError | None = None
        # Whether the logging configuration asks for a line per job: decided before
        # the capture lowers the root logger's level to INFO for handlers' records.
        self._say = False
        # kind -> (its handler, whether it is async), looked up once per kind
        self._handlers: dict[str, tuple[Handler | None, bool]] = {}
        # A worker with a handler per kind claims only those kinds (a job of another
        # kind waits for a worker that has its handler); one callable handles any.
        self.kinds: tuple[str, ...] | None = (
            tuple(handlers) if isinstance(handlers, Mapping) and handlers else None
        )
        # Its entry in the worker registry (cl.jobs.workers()), heartbeated.
        self.registration = Registration(self, *(() if registry_beat is None else (registry_beat,)))

    # -- control -------------------------------------------------------------------------

    def stop(self, grace: float | None = None) -> None:
        """Stop claiming; running jobs get ``grace`` seconds (default: the worker's) to finish."""
        if grace is not None:
            self.grace = grace
        self.stopping.set()
        self.pool.wake()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping.is_set():  # a second signal: do not wait any longer
            self.grace = 0.0
        log.info("chronolog worker %s: signal %s, shutting down", self.name, signum)
        self.stop()

    def run(
        self, *, burst: bool = False, max_jobs: int | None = None, install_signals: bool = False
    ) -> WorkerStats:
        """Work until :meth:`stop` (or SIGTERM/SIGINT with ``install_signals``).

        ``burst``: return once no job is due and none is running.
        ``max_jobs``: stop claiming after that many jobs.

        Raises ``Unauthorized`` or ``Forbidden`` (after a graceful drain) when the
        source refuses the worker's credentials: retrying cannot help. Other errors
        of the source (a server or database away) are logged and retried with back-off.
        """
        previous: dict[signal.Signals, Any] = {}
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self._on_signal)
        self._say = jobs_log.isEnabledFor(logging.INFO)
        capture = Capture() if self.capture_logging else None
        root = logging.getLogger()
        old_level = root.level
        if capture is not None:
            root.addHandler(capture)
            if root.level > logging.INFO:
                root.setLevel(logging.INFO)
        self._ticker.start()
        self.registration.start()
        self._cancels.start()
        try:
            # Due fire times first, so a burst run ("run what is due, then exit") runs them.
            self.fire_schedules()
            self._loop.run(burst, max_jobs)
            self._loop.drain()
        finally:
            self.registration.stop()
            self._cancels.stop()
            self._ticker.stop()
            self.pool.close()
            if capture is not None:
                root.removeHandler(capture)
                root.setLevel(old_level)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._bridge.close()
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    def fire_schedules(self) -> None:
        """Enqueue the jobs of due schedules (each fire time once, whoever else fires it);
        the ticker calls it every ``FIRE_EVERY`` seconds. Errors are logged, never raised."""
        if self.schedules is None:
            return
        try:
            self.schedules.fire_due(self.name)
        except ChronologError as exc:
            log.warning("chronolog worker %s: firing schedules failed: %s", self.name, exc)

    def fatal(self, exc: ChronologError) -> None:
        """Stop for good: the source refused the worker's credentials (401/403)."""
        if self._fatal is None:
            self._fatal = exc
            self.stats.fatal = exc.message
            log.error("chronolog worker %s: stopping: %s", self.name, exc.message)
        self.stop(grace=0.0)

    @property
    def reporting(self) -> bool:
        """Whether finished jobs are told one by one (a log line or ``on_outcome``)."""
        return self._say or self.on_outcome is not None

    def outcome(self, ctx: JobContext, outcome: str, error: str | None = None) -> None:
        """Record a finished attempt: the job's last outcome, its INFO line, the listener."""
        self.stats.count(ctx.id, outcome)
        if not self._say and self.on_outcome is None:
            return
        done = JobOutcome(ctx.job, outcome, time.monotonic() - ctx.started, error)
        if self._say:
            jobs_log.info("%s", describe(done))
        if self.on_outcome is not None:
            try:
                self.on_outcome(done)
            except Exception:  # a listener must not break the worker
                log.exception("chronolog worker %s: on_outcome failed", self.name)

    # -- the jobs it holds -----------------------------------------------------------------

    def running(self) -> list[JobContext]:
        """The claimed jobs not finished yet (a snapshot)."""
        return list(self.jobs.values())

    def start(self, jobs: Sequence[Job]) -> None:
        """Take claimed jobs on and hand them to the runners (in claim order)."""
        if not jobs:
            return
        self.stats.claimed += len(jobs)
        beat, held = self.beat, self.jobs
        contexts = [JobContext(job, beat) for job in jobs]
        for ctx in contexts:
            held[ctx.job.id] = ctx
        self.pool.start(contexts)
        self._cancels.poke()

    # -- running one job -------------------------------------------------------------------

    def _handler(self, kind: str) -> tuple[Handler | None, bool]:
        found = self._handlers.get(kind)
        if found is None:
            handlers = self.handlers
            if callable(handlers) and not isinstance(handlers, Mapping):
                handler: Handler | None = handlers
            else:
                handler = handlers.get(kind)
            found = (handler, handler is not None and inspect.iscoroutinefunction(handler))
            self._handlers[kind] = found
        return found

    def execute(self, ctx: JobContext) -> tuple[Mapping[str, Any] | None] | None:
        """Run the job's handler (on a runner); ``(result,)`` to complete it, None when it
        is settled already (failed, cancelled, timed out or released)."""
        ctx.taken = True
        if ctx.finished:
            return None  # released before a runner took it
        ctx.started = time.monotonic()
        set_current(ctx)
        handler, is_async = self._handler(ctx.job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {ctx.job.kind!r} in worker {self.name}")
            if is_async:
                result = self._bridge.run(handler, ctx)
            else:
                result = handler(ctx)
                if result is not None and isinstance(result, Awaitable):
                    raise TypeError("a sync handler returned an awaitable; declare it async def")
        except BaseException as exc:
            if not ctx.finish():
                return None  # timed out, cancelled or released meanwhile: settled elsewhere
            self.flush_lines(ctx)
            if ctx.reason == "cancelled":
                self._forget(ctx)
                return None
            text = f"{type(exc).__name__}: {exc}".strip()
            # Retrying cannot help a job no handler takes, nor one its handler
            # declared hopeless: fail it now, its remaining attempts unspent.
            permanent = isinstance(exc, PermanentError) or (
                handler is None and isinstance(exc, LookupError)
            )
            if permanent:
                text = f"{text} (permanent: not retried)"
            ctx.log("error", text, traceback="".join(traceback.format_exception(exc))[-8000:])
            self.flush_lines(ctx)
            self.fail(ctx, text, retry=not permanent)
            return None
        if not ctx.finish():
            return None
        if ctx._lines:
            self.flush_lines(ctx)
        if ctx.reason == "cancelled":
            self._forget(ctx)
            return None
        return (result if result is None or isinstance(result, Mapping) else {"value": result},)

    def _forget(self, ctx: JobContext) -> None:
        self.stats.cancelled += 1
        self.outcome(ctx, "cancelled")
        self.jobs.pop(ctx.id, None)
        self.pool.wake()

    def give_back(self, ctx: JobContext, reason: str) -> None:
        """Release the job unfinished (pending again, the attempt not counted), unless it
        was settled already; stops its handler should it run."""
        ctx.stop("shutdown")
        if ctx.finish():
            self.flush_lines(ctx)
            try:
                with outside_job():
                    self.source.release(ctx.id, ctx.job.lease, reason)
                self.stats.released += 1
                self.outcome(ctx, "released")
            except (LeaseLost, NotFound):
                self.stats.lost += 1
                self.outcome(ctx, "lost")
            except ChronologError as exc:  # the source is away or refuses us
                self.stats.errors.append(str(exc))
                self.outcome(ctx, "lost", str(exc))
        self.jobs.pop(ctx.id, None)
        self.pool.wake()

    def fail(self, ctx: JobContext, error: str, *, retry: bool = True) -> None:
        """Fail the job's attempt (retried while attempts remain, unless ``retry`` is False)."""
        try:
            with outside_job():
                job = self.source.fail(ctx.id, ctx.job.lease, error, retry=retry)
            self.stats.failed += 1
            self.outcome(ctx, "retrying" if job.state == "pending" else "failed", error)
        except (LeaseLost, NotFound):
            self.stats.lost += 1
            self.outcome(ctx, "lost", error)
        except ChronologError as exc:
            self.stats.errors.append(str(exc))
            log.warning("chronolog worker %s: could not fail job %s: %s", self.name, ctx.id, exc)
            if isinstance(exc, Unauthorized | Forbidden):
                self.fatal(exc)
        self.jobs.pop(ctx.id, None)
        self.pool.wake()

    # -- the ticker's verbs: log lines, heartbeats, timeouts ------------------------------------

    def time_out(self, ctx: JobContext) -> None:
        """Stop a job that ran past the worker's ``timeout`` and fail its attempt."""
        ctx.stop("timeout")
        if ctx.finish():
            error = f"timed out after {self.timeout:g} s"
            ctx.log("error", error)
            self.flush_lines(ctx)
            self.fail(ctx, error)

    def beat(self, ctx: JobContext) -> None:
        """Renew a job's lease, with its progress; stop it when cancelled or its lease lost."""
        fraction, text, pid = ctx.take_progress() or (None, None, None)
        try:
            with outside_job():
                go_on = self.source.heartbeat(
                    ctx.id,
                    ctx.job.lease,
                    progress=fraction,
                    progress_text=text,
                    pid=pid,
                    extend=self.lease_seconds,
                )
        except (LeaseLost, NotFound):
            ctx.stop("lease lost")
            return
        except ChronologError as exc:
            log.warning(
                "chronolog worker %s: heartbeat of job %s failed: %s", self.name, ctx.id, exc
            )
            if isinstance(exc, Unauthorized | Forbidden):
                self.fatal(exc)
            return
        if not go_on:
            ctx.stop("cancelled")

    def flush_lines(self, ctx: JobContext) -> None:
        """Write the job's log lines logged so far."""
        if not ctx._lines:  # the common case, without taking a lock
            return
        with ctx.flushing():
            lines = ctx.take_lines()
            if not lines:
                return
            try:
                with outside_job():
                    self.source.log_many(ctx.id, ctx.job.lease, lines)
            except (LeaseLost, NotFound):
                ctx.stop("lease lost")
            except ChronologError as exc:
                log.warning(
                    "chronolog worker %s: log of job %s not written: %s", self.name, ctx.id, exc
                )
                if isinstance(exc, Unauthorized | Forbidden):
                    self.fatal(exc)
