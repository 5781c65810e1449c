"""What a worker says about each job it finishes: one INFO line, and the per-job tally
behind its exit summary (jobs, not attempts: a job failing three times is one failed
job and two retries)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .models import Job

__all__ = ["OUTCOMES", "JobOutcome", "describe", "summary"]

log = logging.getLogger("chronolog.worker")

OUTCOMES = ("completed", "failed", "retrying", "cancelled", "released", "lost")
"""A job's outcome as a worker saw it: completed; failed (for good); retrying (the attempt
failed, the job went back to pending after a back-off); cancelled (an operator cancelled
it while it ran); released (given back unfinished at shutdown); lost (its lease ran out
and another claim owns it, or it was settled elsewhere)."""


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """One finished attempt: the job as claimed, what became of it, how long it ran."""

    job: Job
    outcome: str
    seconds: float
    error: str | None = None


def describe(o: JobOutcome) -> str:
    """The one line a worker logs for a finished job (id, kind, outcome, duration, attempt)."""
    job = o.job
    what = "failed for good" if o.outcome == "failed" else o.outcome
    if o.outcome == "retrying":
        what = "failed"
    text = (
        f"job {job.id} {job.kind} {what} in {_duration(o.seconds)} "
        f"(attempt {job.attempt}/{job.max_attempts})"
    )
    if o.outcome == "retrying":
        text += ", will retry"
    if o.error:
        first = o.error.strip().splitlines()[0] if o.error.strip() else ""
        text += f": {first[:200]}"
    return text


def summary(jobs: dict[str, int], retries: int) -> str:
    """``3 jobs: 1 completed, 2 failed; 4 retries`` from jobs counted by last outcome."""
    parts = [f"{jobs[name]} {name}" for name in OUTCOMES if jobs.get(name)]
    total = sum(jobs.values())
    text = f"{total} job{'' if total == 1 else 's'}"
    if parts:
        text += ": " + ", ".join(parts)
    if retries:
        text += f"; {retries} retr{'y' if retries == 1 else 'ies'}"
    return text


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 120:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
