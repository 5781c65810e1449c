"""The runner pool: at most ``size`` long-lived threads running handlers, one job each at a time.

Jobs are handed over with :meth:`RunnerPool.start`; a runner runs it (in a
fresh ``contextvars.Context``, as a thread of its own would) and puts the
outcome on the pool's *done* list, which the claiming thread collects with
:meth:`RunnerPool.take_done`. A job whose handler has not returned keeps its
slot (``busy``), also after a timeout, so no more than ``size`` handlers ever
run at once.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._context import JobContext

__all__ = ["Finished", "RunnerPool"]

log = logging.getLogger("chronolog.worker")

Finished = tuple[JobContext, Mapping[str, Any] | None]
"""A job whose handler returned, with the result to complete it with."""

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

    @property
    def free(self) -> int:
        """Slots no handler holds."""
        return self.size - self.busy

    def start(self, ctx: JobContext) -> None:
        """Hand a claimed job to a runner (one is started if every existing one is busy)."""
        with self.cond:
            self.busy += 1
            # Every job handed over has an idle runner waiting for it: the pool
            # grows to ``size`` threads at most, as the load asks.
            if len(self._threads) < self.busy:
                runner = threading.Thread(
                    target=self._run,
                    name=f"chronolog-runner-{len(self._threads) + 1}",
                    daemon=True,
                )
                self._threads.append(runner)
                runner.start()
        self._inbox.put(ctx)

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
        are completed, and their slots refilled, together."""
        with self.cond:
            busy = self.busy
            while not self._done and self.busy >= busy and not stopping.is_set():
                timeout = poll
                if until is not None:
                    timeout = min(timeout, until - time.monotonic())
                if timeout <= 0 or not self.cond.wait(timeout):
                    return
            end = time.monotonic() + linger
            while self.busy > 0 and not stopping.is_set():
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
            try:
                # A fresh context per job, as a new thread would have: context
                # variables a handler sets do not leak into the next job.
                outcome = contextvars.Context().run(execute, ctx)
            except Exception:  # pragma: no cover - execute handles the handler's errors
                log.exception("chronolog worker %s: job %s: runner error", self._name, ctx.job.id)
            finally:
                thread.name = name
                with cond:
                    self.busy -= 1
                    if outcome is not None:
                        self._done.append((ctx, outcome[0]))
                    # Wake the claiming thread for the first finished job (it then
                    # lingers for the rest) and when none is left running; waking
                    # it for every job only cost thread switches.
                    if outcome is None or len(self._done) == 1 or self.busy == 0:
                        cond.notify_all()
