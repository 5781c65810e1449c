"""The claim loop: the worker's calling thread completes finished jobs and refills free
slots, one ``complete_and_claim`` per batch, until stopped; then the graceful drain.

Batching: every job that finished since the last round is completed, and
every free slot refilled, by one call (one statement and one round trip on
PostgreSQL, one transaction on SQLite, one request for a remote source),
lingering :data:`LINGER` for handlers about to finish. With no slot to fill
it completes with ``complete_many`` alone. The claim rides along with every
completion (it costs no extra round trip); with nothing to complete, a claim
that came back short (the queue had less than asked) is repeated only once
jobs may have arrived (the source's wake generation moved) or after
:data:`RECHECK`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ChronologError, Forbidden, Unauthorized, ValidationError
from ._runners import Finished

if TYPE_CHECKING:
    from .worker import Worker

__all__ = ["BACKOFF_CAP", "LINGER", "RECHECK", "ClaimLoop"]

log = logging.getLogger("chronolog.worker")

# How long the claiming thread waits, once a handler has finished, for the
# others still running to finish too, so that one transaction completes them
# all and one claim refills every slot. Short: a slot stays empty meanwhile.
LINGER = 0.002
# After a claim came back short, how often a busy worker looks again when no
# wake-up said jobs arrived (an idle worker waits for work with its source's
# poll interval instead).
RECHECK = 1.0
# The longest wait between claims while the source keeps failing (a server or
# database away): 1 s, 2 s, 4 s … up to this.
BACKOFF_CAP = 30.0


def _items(done: Sequence[Finished]) -> list[tuple[int, int, Mapping[str, Any] | None]]:
    return [(c.job.id, c.job.lease, r) for c, r in done]


class ClaimLoop:
    """The calling thread's part of a :class:`~chronolog.jobs.worker.Worker`."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._failures = 0
        """Claims in a row that failed (for the back-off)."""

    def _refused(self, exc: ChronologError, what: str) -> None:
        """A claim or wait failed: stop for good on refused credentials, else back off."""
        w = self._worker
        if isinstance(exc, Unauthorized | Forbidden):
            w.fatal(exc)
            return
        self._failures += 1
        delay = min(BACKOFF_CAP, 2.0 ** (self._failures - 1))
        log.warning(
            "chronolog worker %s: %s failed (%d in a row): %s; retrying in %g s",
            w.name,
            what,
            self._failures,
            exc,
            delay,
        )
        w.stopping.wait(delay)

    def run(self, burst: bool, max_jobs: int | None) -> None:
        """Claim, start and complete jobs until the worker stops (see the module docstring)."""
        w = self._worker
        source, pool, stats, stopping = w.source, w.pool, w.stats, w.stopping
        claim_most = source.claim_most
        # The wake generation before the last claim that came back short, and
        # when to look again regardless; None: the last claim filled every slot.
        short: int | None = None
        recheck_at = 0.0
        recheck = min(RECHECK, w.poll_interval)
        while not stopping.is_set():
            done = pool.take_done()
            free = min(pool.free, claim_most)
            # Nothing of ours runs but the jobs about to be completed.
            idle = len(w.jobs) <= len(done)
            if (max_jobs is not None and max_jobs - stats.claimed <= 0 and idle) or (
                burst and idle and free <= 0  # only timed-out handlers hold the slots
            ):
                self.settle(done)
                return
            if max_jobs is not None:
                free = min(free, max_jobs - stats.claimed)
            claiming = free > 0 and (
                short is None
                # A claim rides along with completions at no extra round trip: a
                # claim that came back short because other workers held the rows
                # (SKIP LOCKED) must not idle this worker while jobs wait.
                or bool(done)
                or (burst and idle)
                or time.monotonic() >= recheck_at
                or source.wake_generation() != short
            )
            if not claiming:
                self.settle(done)
                if idle and free > 0 and short is not None:
                    # Nothing of ours runs and the queue was empty: wait for work.
                    try:
                        source.wait_for_work(short, max(0.0, recheck_at - time.monotonic()))
                    except ChronologError as exc:  # a remote long-poll
                        self._refused(exc, "waiting for work")
                    short = None
                    continue
                pool.wait_done(
                    None if short is None else recheck_at, stopping, w.poll_interval, LINGER
                )
                continue
            seen = source.wake_generation()
            try:
                completed, jobs = source.complete_and_claim(
                    _items(done),
                    w.queues,
                    w.name,
                    limit=free,
                    lease_seconds=w.lease_seconds,
                    kinds=w.kinds,
                )
            except ChronologError as exc:
                # Nothing happened: complete the finished jobs on their own (a
                # result the queue refuses fails its job only), then claim again.
                self.settle(done)
                if not (done and isinstance(exc, ValidationError)):
                    self._refused(exc, "claim")
                continue
            self._failures = 0
            self.account(done, completed)
            w.start(jobs)
            if len(jobs) < free:
                short, recheck_at = seen, time.monotonic() + recheck
            else:
                short = None
            if not jobs and not w.jobs:
                if burst:
                    return
                try:
                    source.wait_for_work(seen, w.poll_interval)
                except ChronologError as exc:  # a remote long-poll
                    self._refused(exc, "waiting for work")
                short = None  # woken (or the poll is up): claim again
                continue
            pool.wait_done(None if short is None else recheck_at, stopping, w.poll_interval, LINGER)

    def drain(self) -> None:
        """After stop: wait ``grace`` for running jobs, then release the rest."""
        w = self._worker
        pool = w.pool
        # Prefetched jobs go back at once, not after the grace: those beyond the
        # runners' free slots. The runners take jobs in the order they were handed
        # over, so the first untaken ones are theirs and run (a job claimed a moment
        # ago, which its runner has not picked up yet, is as good as started).
        untaken = [ctx for ctx in w.jobs.values() if not ctx.taken]
        free_slots = max(0, pool.size - (len(w.jobs) - len(untaken)))
        for ctx in untaken[free_slots:]:
            w.give_back(ctx, "worker shut down before the job started")
        deadline = time.monotonic() + w.grace
        while w.jobs and time.monotonic() < deadline:
            self.settle(pool.take_done())
            with pool.cond:
                if not pool.has_done():
                    pool.cond.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        self.settle(pool.take_done())
        for ctx in list(w.jobs.values()):
            w.give_back(ctx, "worker shut down before the job finished")

    def settle(self, done: Sequence[Finished]) -> None:
        """Complete finished jobs with ``complete_many`` (when no claim goes with them)."""
        if not done:
            return
        w = self._worker
        try:
            completed = w.source.complete_many(_items(done))
        except ValidationError as exc:
            if len(done) == 1:  # the handler's result is refused (not JSON, too large)
                w.fail(done[0][0], f"result refused: {exc}", retry=False)
                return
            for one in done:  # find the culprit; the others complete
                self.settle([one])
            return
        except ChronologError as exc:
            log.warning("chronolog worker %s: complete failed: %s", w.name, exc)
            if isinstance(exc, Unauthorized | Forbidden):
                w.fatal(exc)
            completed = []
        self.account(done, completed)

    def account(self, done: Sequence[Finished], completed: Sequence[int]) -> None:
        """Count finished jobs as completed, or lost when their lease was."""
        w = self._worker
        stats, jobs = w.stats, w.jobs
        if not done:
            return
        if len(completed) == len(done):  # the usual case: every one of them
            quiet = not (w.reporting or stats.retrying_ids)
            for ctx, _ in done:
                jobs.pop(ctx.job.id, None)
                if not quiet:
                    w.outcome(ctx, "completed")
            if quiet:  # counted in one go: nobody listens per job
                stats.count(0, "completed", len(done))
            stats.completed += len(done)
            return
        ok = set(completed)
        for ctx, _ in done:
            jobs.pop(ctx.job.id, None)
            if ctx.job.id in ok:
                stats.completed += 1
                w.outcome(ctx, "completed")
            else:
                stats.lost += 1
                w.outcome(ctx, "lost")
                log.warning(
                    "chronolog worker %s: job %s finished but its lease was lost",
                    w.name,
                    ctx.job.id,
                )
