"""The cancel watch: a thread that tells running handlers their job was cancelled,
promptly instead of at the next heartbeat (up to a third of the lease later).

While the worker runs jobs it asks its source which of them are cancelled,
waiting between looks for a cancel to happen (``source.cancelled(ids,
wait=…)``): locally that wait wakes on the store's ``jobs_cancel`` topic
(PostgreSQL ``NOTIFY`` from any process; on SQLite, this process's cancels,
and a look every poll interval for the others'); a remote worker's source
long-polls the server, which waits on the same topic. A source without
``cancelled`` is left to the heartbeats.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import ChronologError

if TYPE_CHECKING:
    from .worker import Worker

__all__ = ["LOCAL_WAIT", "CancelWatch"]

log = logging.getLogger("chronolog.worker")

LOCAL_WAIT = 1.0
"""Seconds one look waits for a cancel (it returns early on one): bounds how long
stopping the watch takes, and the worst case should a wake-up be lost."""

Check = Callable[..., list[int]]


class CancelWatch:
    """One thread per worker, idle while the worker runs no job."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (nothing when the source cannot say which jobs were cancelled)."""
        check: Check | None = getattr(self._worker.source, "cancelled", None)
        if check is None or not callable(check):
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(check,), name="chronolog-cancel-watch", daemon=True
        )
        self._thread.start()

    def poke(self) -> None:
        """A job started: watch it too."""
        self._poke.set()

    def stop(self) -> None:
        """Stop watching. A local wait is woken (the thread ends at once); a remote
        long-poll under way is left to end by itself (the thread is a daemon, touches
        no store, and says nothing once stopped)."""
        self._stop.set()
        self._poke.set()
        wake = getattr(self._worker.source, "wake_cancel_watch", None)
        if wake is not None:
            wake()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(LOCAL_WAIT + 0.5 if wake is not None else 0.2)

    def _run(self, check: Check) -> None:
        w = self._worker
        wait = getattr(w.source, "cancel_wait", LOCAL_WAIT)
        failures = 0
        while not self._stop.is_set():
            self._poke.clear()
            ids = [ctx.id for ctx in w.running() if not ctx.finished]
            if not ids:
                self._poke.wait(LOCAL_WAIT)
                continue
            try:
                found: Sequence[int] = check(ids, wait=wait)
                failures = 0
            except Exception as exc:  # the source is away, or closed under a long-poll
                if self._stop.is_set():
                    return
                if not isinstance(exc, ChronologError):
                    log.exception("chronolog worker %s: cancel watch error", w.name)
                failures += 1
                # The heartbeats still carry cancels; say so once, then back off.
                if failures == 1:
                    log.warning(
                        "chronolog worker %s: cancel watch failed (%s); heartbeats carry "
                        "cancels meanwhile",
                        w.name,
                        exc,
                    )
                self._stop.wait(min(30.0, 2.0**failures))
                continue
            for job_id in found:
                ctx = w.jobs.get(job_id)
                if ctx is not None and not ctx.finished:
                    ctx.stop("cancelled")
