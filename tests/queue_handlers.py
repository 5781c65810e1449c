"""Handlers the queue-control tests run in worker processes
(``chronolog worker tests.queue_handlers:…``).

``counted`` keeps its own count of the jobs running at once across every
process, in a file under ``CHRONOLOG_TEST_COUNTER`` (locked with ``flock``):
``running peak`` — what the limit test checks the queue's promise against.
"""

from __future__ import annotations

import fcntl
import os
import time
from typing import Any

from chronolog.jobs.worker import JobContext


def _bump(path: str, delta: int) -> None:
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        parts = fh.read().split()
        running, peak = (int(parts[0]), int(parts[1])) if parts else (0, 0)
        running += delta
        peak = max(peak, running)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{running} {peak}\n")
        fh.flush()
        fcntl.flock(fh, fcntl.LOCK_UN)


def counted(ctx: JobContext) -> dict[str, Any]:
    """Count itself in, sleep ``sleep`` seconds, count itself out."""
    path = os.path.join(os.environ["CHRONOLOG_TEST_COUNTER"], "counter.txt")
    _bump(path, +1)
    try:
        time.sleep(float(ctx.payload.get("sleep", 0.1)))
    finally:
        _bump(path, -1)
    return {"pid": os.getpid()}


def quick(ctx: JobContext) -> None:
    """Nothing (a job that only needs to be run)."""


def read_counter(directory: str) -> tuple[int, int]:
    """(running now, peak) of the ``counted`` handlers."""
    path = os.path.join(directory, "counter.txt")
    if not os.path.exists(path):
        return (0, 0)
    with open(path, encoding="utf-8") as fh:
        parts = fh.read().split()
    return (int(parts[0]), int(parts[1])) if parts else (0, 0)


LIMITED = {"counted": counted, "quick": quick}
