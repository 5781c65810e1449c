"""Handlers the job tests run in worker processes (``chronolog worker tests.jobs_handlers:…``)."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from chronolog.jobs.worker import JobContext

log = logging.getLogger("tests.jobs")


def record(ctx: JobContext) -> dict[str, Any]:
    """The crash test's side effect: one line per run, appended to a per-process file."""
    path = os.path.join(os.environ["CHRONOLOG_TEST_SIDE_EFFECTS"], f"{os.getpid()}.txt")
    time.sleep(float(ctx.payload.get("sleep", 0)))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{ctx.id} {ctx.job.lease}\n")
        fh.flush()
    return {"pid": os.getpid()}


def slow(ctx: JobContext) -> None:
    """Sleeps ``seconds`` in small steps, stopping early when told to."""
    end = time.monotonic() + float(ctx.payload.get("seconds", 1))
    log.info("slow job %s starts", ctx.id)
    while time.monotonic() < end:
        if ctx.cancelled.wait(0.05):
            log.warning("slow job %s stopped: %s", ctx.id, ctx.reason)
            return
    log.info("slow job %s done", ctx.id)


CRASH = {"record": record}
SLOW = {"slow": slow}


def fails(ctx: JobContext) -> None:
    """Always fails: a worker's report shows a failed job."""
    raise RuntimeError("this one always fails")


SLOW_OR_FAILING = {"slow": slow, "fails": fails}
