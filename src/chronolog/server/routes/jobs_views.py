"""Routes of the jobs' operator views: failed, running, counts, history, rescue.

The twins of ``cl.jobs.failed``, ``running``, ``counts``, ``history`` and
``rescue`` (``client.jobs.…``). Registered before ``routes/jobs.py``, so
``/jobs/failed`` is not read as a job id.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel

from ...jobs.models import JobMove
from ..deps import Context, comma_list, require
from ..schemas import ERROR_RESPONSES, json_model
from .jobs import JobId, JobOut, job_json

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

Limit = Annotated[int, Query(ge=1, le=1000, description="Most jobs returned.")]


if TYPE_CHECKING:
    MoveOut = BaseModel
else:
    MoveOut = json_model(JobMove)  # JobMove.to_dict: one state change of a job


class Rescued(BaseModel):
    """How many jobs with expired leases went back to pending (or failed)."""

    rescued: int


@router.get("/failed", response_model=list[JobOut])
def failed_jobs(
    ctx: Annotated[Context, Depends(require("read"))],
    since: Annotated[AwareDatetime | None, Query(description="Failed at or after.")] = None,
    since_seconds: Annotated[
        float | None, Query(gt=0, le=10 * 365 * 86_400, description="Or: this long ago.")
    ] = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Jobs that failed for good, newest first."""
    lower = since if since_seconds is None else timedelta(seconds=since_seconds)
    return [job_json(j) for j in ctx.cl.jobs.failed(lower, limit=limit)]


@router.get("/running", response_model=list[JobOut])
def running_jobs(
    ctx: Annotated[Context, Depends(require("read"))], limit: Limit = 100
) -> list[dict[str, Any]]:
    """Jobs running now, newest first."""
    return [job_json(j) for j in ctx.cl.jobs.running(limit=limit)]


@router.get("/counts", response_model=dict[str, dict[str, int]])
def job_counts(
    ctx: Annotated[Context, Depends(require("read"))],
    kind: Annotated[str | None, Query(description="Only these kinds (comma-separated).")] = None,
) -> dict[str, dict[str, int]]:
    """How many jobs per queue and state (of ``kind``, if given)."""
    return ctx.cl.jobs.counts(kind=comma_list(kind))


@router.post("/rescue", response_model=Rescued)
def rescue_jobs(
    ctx: Annotated[Context, Depends(require("write"))],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, int]:
    """Put running jobs whose lease expired back to pending (workers do it on their own)."""
    return {"rescued": ctx.cl.jobs.rescue(limit=limit)}


@router.get("/{job_id}/history", response_model=list[MoveOut])
def job_history(
    job_id: JobId, ctx: Annotated[Context, Depends(require("read"))]
) -> list[dict[str, Any]]:
    """Every state change of a job, oldest first (its activity events)."""
    return [move.to_dict() for move in ctx.cl.jobs.history(job_id)]
