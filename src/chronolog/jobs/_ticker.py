"""The ticker: a thread that writes running jobs' log lines, sends their heartbeats,
enforces per-job timeouts, fires due schedules and runs the worker's housekeeping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ChronologError
from ._runners import PREFETCH_HOLD

if TYPE_CHECKING:
    from .worker import Worker

__all__ = ["FIRE_EVERY", "TICK", "Ticker"]

log = logging.getLogger("chronolog.worker")

TICK = 0.2
"""Seconds between the ticker's rounds (log lines are written within about that)."""

FIRE_EVERY = 0.5
"""Seconds between a worker's looks for due schedules (one index read when none is)."""


class Ticker:
    """Runs :meth:`tick` every :data:`TICK` seconds on a thread of its own until stopped."""

    def __init__(self, worker: Worker, maintenance: Callable[[], object] | None) -> None:
        self._worker = worker
        self._maintenance = maintenance
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="chronolog-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (waits for the round under way)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        worker = self._worker
        beat_every = max(0.05, worker.lease_seconds / 3)
        next_beat = time.monotonic() + beat_every
        next_fire = time.monotonic() + FIRE_EVERY  # run() fired once already
        while not self._stop.wait(TICK):
            now = time.monotonic()
            for ctx in worker.running():
                if ctx.finished:
                    continue
                if not ctx.taken:  # prefetched, waiting for a runner
                    if now - ctx.started > PREFETCH_HOLD:
                        worker.pool.stall()
                        worker.give_back(ctx, "prefetched, but no runner was free in time")
                    elif now >= next_beat:
                        worker.beat(ctx)
                    continue
                worker.flush_lines(ctx)
                if worker.timeout is not None and now - ctx.started > worker.timeout:
                    worker.time_out(ctx)
                elif now >= next_beat or ctx.progress_pending:
                    worker.beat(ctx)
            if now >= next_beat:
                next_beat = now + beat_every
            if worker.schedules is not None and now >= next_fire:
                next_fire = now + FIRE_EVERY
                try:
                    worker.schedules.fire_due(worker.name)
                except ChronologError as exc:
                    log.warning(
                        "chronolog worker %s: firing schedules failed: %s", worker.name, exc
                    )
            if self._maintenance is not None:
                try:
                    self._maintenance()
                except ChronologError as exc:
                    log.warning("chronolog worker %s: maintenance failed: %s", worker.name, exc)
