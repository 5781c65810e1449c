"""The ripping pipeline's store for the TUI tests: the entity side from the example, and
a job side written through the library with a ticking fake clock (fixed data, fixed times).

``examples/rip_pipeline_jobs.py`` runs real ``chronolog exec`` processes, whose
timings, pids and worker names change from run to run; the snapshot tests need
the same store every time, so the job side is written here, in-process.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chronolog import Chronolog
from chronolog.examples.rip_pipeline import build_demo

START = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
NOW = START + timedelta(hours=2)
"""The TUI's fixed clock: two hours after the store was filled."""


def ticking(start: datetime = START, step: float = 1.0) -> Callable[[], datetime]:
    """A clock that moves ``step`` seconds each time it is read."""
    counter = itertools.count()
    return lambda: start + timedelta(seconds=step * next(counter))


def fixed(moment: datetime = NOW) -> Callable[[], datetime]:
    """A clock that never moves."""
    return lambda: moment


def _run(cl: Chronolog, stage: str, subject: tuple[str, str], lines: list[str]) -> tuple[int, int]:
    """Enqueue a stage job about ``subject``, claim it, log ``lines``; returns (id, lease)."""
    cl.jobs.enqueue(stage, {"item": subject[1]}, queue=stage, subject=subject, max_attempts=1)
    (job,) = cl.jobs.claim(stage, f"{stage}-host", pid=4242)
    for line in lines:
        cl.jobs.log(job.id, "info", line, lease=job.lease)
    return job.id, job.lease


def fill(url: str) -> dict[str, int]:
    """Fill an empty store; returns the ids of the notable jobs."""
    with Chronolog(url, clock=ticking()) as cl:
        build_demo(cl)
        for stage in ("rip", "remux", "transcode", "filebot"):
            job_id, lease = _run(cl, stage, ("movie", "heat"), [f"{stage}: heat ok"])
            cl.jobs.complete(job_id, lease)
        for stage in ("rip", "remux"):
            job_id, lease = _run(cl, stage, ("movie", "amelie"), [f"{stage}: amelie ok"])
            cl.jobs.complete(job_id, lease)
        failed, lease = _run(
            cl,
            "transcode",
            ("movie", "amelie"),
            ["HandBrake: encoding amelie", "x265 [error]: out of memory at frame 1337"],
        )
        cl.jobs.fail(failed, lease, "exit status 3: x265 out of memory", retry=False)
        running, _ = _run(
            cl, "rip", ("season", "dark/s01"), ["makemkv: disc 2 of dark/s01", "title 1 saved"]
        )
        disc, lease = _run(cl, "rip", ("disc", "dark/s01/d1"), ["makemkv: disc 1 ok"])
        cl.jobs.complete(disc, lease)
    return {"failed": failed, "running": running, "disc": disc}
