"""The runner pool: at most ``size`` long-lived threads running handlers, one job each at a time.

Jobs are handed over with :meth:`RunnerPool.start`; a runner runs it (in a
fresh ``contextvars.Context``, as a thread of its own would) and puts the
outcome on the pool's *done* list, which the claiming thread collects with
:meth:`RunnerPool.take_done`. A job whose handler has not returned keeps its
slot (``busy``), also after a timeout, so no more than ``size`` handlers ever
run at once.

Prefetch: while handlers are short (their mean run time below
:data:`PREFETCH_BELOW`) the pool takes more jobs than it has threads
(:attr:`RunnerPool.ahead`): as many as its runners work through in
:data:`PREFETCH_BUDGET` (50 ms), :data:`PREFETCH_MOST` (100) at most. They wait
in the inbox, so the runners have work while the claiming thread's next round
trip is under way, and each round trip completes and claims up to ten times as
many jobs as the pool has threads (a statement's and a commit's fixed cost spread
over more of them; ``benchmarks/jobs_peers.md``). A long handler
turns it off at its next return; a prefetched job no runner took within
:data:`PREFETCH_HOLD` is given back by the ticker, and prefetch waits for the
next handler to return.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._context import JobContext

__all__ = ["Finished", "RunnerPool"]

log = logging.getLogger("chronolog.worker")

Finished = tuple[JobContext, Mapping[str, Any] | None]
"""A job whose handler returned, with the result to complete it with."""

PREFETCH_BELOW = 0.005
"""Seconds: prefetch while handlers take less than this on average."""
PREFETCH_HOLD = 1.0
"""Seconds a prefetched job may wait for a runner before the ticker gives it back."""
PREFETCH_BUDGET = 0.05
"""Seconds of work (at the mean run time) a pool takes beyond its threads."""
PREFETCH_MOST = 100
"""The most jobs a pool takes beyond its threads."""
_WEIGHT = 0.2
"""Weight of the newest run time in the running mean."""

Execute = Callable[[JobContext], tuple[Mapping[str, Any] | None] | None]
"""Runs one job: ``(result,)`` to complete it, None when it was settled otherwise."""


class RunnerPool:
    """Runner threads, the jobs handed to them, and the outcomes they leave."""

    def __init__(self, size: int, execute: Execute, name: str) -> None:
        self.size = size
        self._execute = execute
        self._name = name
        self.cond = threading.Condition()
        """Notified when a handler returns; guards ``busy`` and the done list."""
        self.busy = 0
        """Jobs handed over whose handler has not returned yet."""
        self._done: list[Finished] = []
        self._inbox: queue.SimpleQueue[JobContext | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._mean: float | None = None
        """Running mean of handler run times (None until one returned)."""
        self._target = 0
        """The claiming thread lingers until no more than this many jobs are busy."""
        self._stalled = False
        """A prefetched job waited too long (see :meth:`stall`): no prefetch until a
        handler returns."""

    @property
    def ahead(self) -> int:
        """How many jobs beyond its threads the pool takes (prefetch; see the module docstring)."""
        mean = self._mean
        if mean is None or mean >= PREFETCH_BELOW or self._stalled:
            return 0
        # As many as the runners work through in PREFETCH_BUDGET at the mean run time,
        # PREFETCH_MOST at most (larger batches gained nothing more: the round trip
        # then outlasts the work left for the runners meanwhile).
        return min(PREFETCH_MOST, int(self.size * PREFETCH_BUDGET / max(mean, 1e-6)))

    @property
    def free(self) -> int:
        """Jobs the pool can take now: slots no handler holds, plus the prefetch."""
        return self.size + self.ahead - self.busy

    def start(self, contexts: Sequence[JobContext]) -> None:
        """Hand claimed jobs to the runners, in order (runners are started while every
        existing one is busy)."""
        with self.cond:
            self.busy += len(contexts)
            # Every job handed over has an idle runner waiting for it: the pool
            # grows to ``size`` threads at most, as the load asks.
            while len(self._threads) < min(self.busy, self.size):
                runner = threading.Thread(
                    target=self._run,
                    name=f"chronolog-runner-{len(self._threads) + 1}",
                    daemon=True,
                )
                self._threads.append(runner)
                runner.start()
        put = self._inbox.put
        for ctx in contexts:
            put(ctx)

    def stall(self) -> None:
        """A prefetched job found no runner in time: stop prefetching until a handler
        returns (else the job given back could be claimed, and wait, again)."""
        self._stalled = True

    def take_done(self) -> list[Finished]:
        """The jobs finished since the last call."""
        with self.cond:
            done, self._done = self._done, []
            return done

    def has_done(self) -> bool:
        """Whether a finished job waits to be collected (no lock: a hint)."""
        return bool(self._done)

    def wait_done(
        self, until: float | None, stopping: threading.Event, poll: float, linger: float
    ) -> None:
        """Wait for a handler to return (or ``stopping``, or the ``until`` deadline), then
        linger up to ``linger`` seconds for the others still running, so that they
        are completed, and their slots refilled, together (with prefetch, until
        at most ``size`` jobs are left, which the runners work on during the next
        round trip: steady batches of the whole prefetch, not of whatever finished
        first)."""
        with self.cond:
            self._target = target = min(self.ahead, self.size)
            busy = self.busy
            while not self._done and self.busy >= busy and not stopping.is_set():
                timeout = poll
                if until is not None:
                    timeout = min(timeout, until - time.monotonic())
                if timeout <= 0 or not self.cond.wait(timeout):
                    return
            end = time.monotonic() + linger
            while self.busy > target and not stopping.is_set():
                left = end - time.monotonic()
                if left <= 0 or not self.cond.wait(left):
                    break

    def wake(self) -> None:
        """Wake whoever waits on the pool (a stop, a job settled elsewhere)."""
        with self.cond:
            self.cond.notify_all()

    def close(self) -> None:
        """Let every runner exit: idle ones at once, one inside a handler when it returns."""
        for _ in self._threads:
            self._inbox.put(None)
        self._threads = []

    def _run(self) -> None:
        """A runner: run the jobs handed over, one at a time, until told to stop."""
        thread = threading.current_thread()
        name = thread.name
        cond, inbox, execute = self.cond, self._inbox, self._execute
        while (ctx := inbox.get()) is not None:
            thread.name = f"job-{ctx.job.id}"
            outcome = None
            began = time.monotonic()
            try:
                # A fresh context per job, as a new thread would have: context
                # variables a handler sets do not leak into the next job.
                outcome = contextvars.Context().run(execute, ctx)
            except Exception:  # pragma: no cover - execute handles the handler's errors
                log.exception("chronolog worker %s: job %s: runner error", self._name, ctx.job.id)
            finally:
                thread.name = name
                took = time.monotonic() - began
                with cond:
                    # Only a handler that ran counts (not a job given back before it started).
                    if ctx.started >= began:
                        mean = self._mean
                        self._mean = took if mean is None else mean + _WEIGHT * (took - mean)
                        self._stalled = False
                    self.busy -= 1
                    if outcome is not None:
                        self._done.append((ctx, outcome[0]))
                    # Wake the claiming thread for the first finished job (it then
                    # lingers for the rest) and when no more than its target is left
                    # busy; waking it for every job only cost thread switches.
                    if outcome is None or len(self._done) == 1 or self.busy <= self._target:
                        cond.notify_all()
