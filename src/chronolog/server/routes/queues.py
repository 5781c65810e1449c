"""Routes of queue controls, bulk moves and the worker registry.

``/api/v1/queues`` (list; pause, resume and limits of one queue),
``/api/v1/jobs/retry-many`` and ``/api/v1/jobs/cancel-many`` (bulk moves by
filter), and ``/api/v1/workers`` (the registry: list, and the register /
heartbeat / deregister calls a remote worker makes). Reading needs ``read``;
every change needs ``write``, as the other job routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from ...jobs.models import QueueInfo, WorkerInfo
from ...query import JobQuery
from ..deps import Context, check_json, require
from ..query import QueryParams, query_dep
from ..schemas import ERROR_RESPONSES, Strict, json_model
from .events import ActorIn
from .jobs import ActedBy, acting

__all__ = ["router"]

router = APIRouter(tags=["queues"], responses=ERROR_RESPONSES)

QueueName = Annotated[str, Path(min_length=1, max_length=64, description="The queue's name.")]
WorkerId = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$", description="Worker id.")
]
Name = Annotated[str, Field(min_length=1, max_length=64)]


if TYPE_CHECKING:
    QueueOut = BaseModel
    WorkerOut = BaseModel
else:
    # QueueInfo.to_dict and WorkerInfo.to_dict, made from the dataclasses.
    QueueOut = json_model(QueueInfo, name="QueueOut")
    WorkerOut = json_model(WorkerInfo, name="WorkerOut")


class RateIn(Strict):
    """At most ``limit`` job starts per window of ``seconds``."""

    limit: int = Field(ge=1, le=1_000_000)
    seconds: float = Field(ge=0.001, le=86_400 * 366, allow_inf_nan=False)


class LimitIn(Strict):
    """A queue's limits, both replaced (null clears one), and who sets them."""

    concurrency: int | None = Field(default=None, ge=1, le=1_000_000)
    rate: RateIn | None = None
    actor: ActorIn | None = Field(
        default=None, description="Who sets them (default: the token's member)."
    )


class BulkIn(ActedBy):
    """Who moves the jobs, and ``all``: a query naming no queue, kind, subject or
    ``since`` moves every job in the states only with ``all``."""

    all: bool = Field(default=False, description="Move every job in the states: no filter.")


class Moved(BaseModel):
    """How many jobs moved (each has an event)."""

    moved: int


class WorkerIn(Strict):
    """A remote worker registering itself."""

    name: str = Field(min_length=1, max_length=255)
    host: str = Field(min_length=1, max_length=255)
    pid: int | None = Field(default=None, ge=0, le=2**31 - 1)
    queues: list[Name] | None = Field(default=None, max_length=100)
    kinds: list[Name] | None = Field(default=None, max_length=1000)
    concurrency: int = Field(default=1, ge=1, le=100_000)


class Registered(BaseModel):
    """The new worker's id (for its heartbeats and its deregistration)."""

    id: str


class WorkerBeat(BaseModel):
    """``registered`` false: the registry forgot the worker; it registers again."""

    registered: bool


# -- queues ------------------------------------------------------------------------------


@router.get("/queues", response_model=list[QueueOut])
def list_queues(ctx: Annotated[Context, Depends(require("read"))]) -> list[dict[str, Any]]:
    """Every queue (with jobs or a control): counts by state, paused, limits."""
    return [q.to_dict() for q in ctx.cl.jobs.queues()]


@router.get("/queues/{queue}", response_model=QueueOut)
def get_queue(
    queue: QueueName, ctx: Annotated[Context, Depends(require("read"))]
) -> dict[str, Any]:
    """One queue (an unknown name is an empty, unpaused, unlimited queue)."""
    return ctx.cl.jobs.queue(queue).to_dict()


@router.post("/queues/{queue}/pause", response_model=QueueOut)
def pause_queue(
    queue: QueueName,
    ctx: Annotated[Context, Depends(require("write"))],
    body: ActedBy | None = None,
) -> dict[str, Any]:
    """Stop every worker claiming from the queue at its next claim; running jobs finish."""
    return ctx.cl.jobs.pause(queue, actor=acting(ctx, body)).to_dict()


@router.post("/queues/{queue}/resume", response_model=QueueOut)
def resume_queue(
    queue: QueueName,
    ctx: Annotated[Context, Depends(require("write"))],
    body: ActedBy | None = None,
) -> dict[str, Any]:
    """Let workers claim from the queue again."""
    return ctx.cl.jobs.resume(queue, actor=acting(ctx, body)).to_dict()


@router.put("/queues/{queue}/limit", response_model=QueueOut)
def limit_queue(
    queue: QueueName, body: LimitIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Set the queue's concurrency and rate limits (null clears); across every worker."""
    rate = None if body.rate is None else (body.rate.limit, body.rate.seconds)
    info = ctx.cl.jobs.set_limit(
        queue, concurrency=body.concurrency, rate=rate, actor=acting(ctx, body)
    )
    return info.to_dict()


# -- bulk moves ----------------------------------------------------------------------------


BulkQuery = Annotated[tuple[JobQuery, QueryParams], query_dep(JobQuery, QueryParams)]


@router.post("/jobs/retry-many", response_model=Moved)
def retry_many(
    found: BulkQuery,
    ctx: Annotated[Context, Depends(require("write"))],
    body: BulkIn | None = None,
) -> dict[str, Any]:
    """Send the failed or cancelled jobs a ``JobQuery`` selects (the query parameters of
    ``GET /jobs``) back to pending, in one transaction (an event per job). An unknown
    query parameter is a 422 naming it, and nothing moves."""
    everything = body is not None and body.all
    moved = ctx.cl.jobs.retry_many(found[0], all=everything, actor=acting(ctx, body))
    return {"moved": moved}


@router.post("/jobs/cancel-many", response_model=Moved)
def cancel_many(
    found: BulkQuery,
    ctx: Annotated[Context, Depends(require("write"))],
    body: BulkIn | None = None,
) -> dict[str, Any]:
    """Cancel the pending or running jobs a ``JobQuery`` selects, in one transaction."""
    everything = body is not None and body.all
    moved = ctx.cl.jobs.cancel_many(found[0], all=everything, actor=acting(ctx, body))
    return {"moved": moved}


# -- workers -------------------------------------------------------------------------------


@router.get("/workers", response_model=list[WorkerOut])
def list_workers(
    ctx: Annotated[Context, Depends(require("read"))],
    stale_after: Annotated[
        float, Query(gt=0, le=86_400, description="Seconds of silence before a worker is stale.")
    ] = 30.0,
) -> list[dict[str, Any]]:
    """Registered workers with their running jobs and the age of their last heartbeat."""
    return [w.to_dict() for w in ctx.cl.jobs.workers(stale_after=stale_after)]


@router.post("/workers", status_code=201, response_model=Registered)
def register_worker(
    body: WorkerIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Register a (remote) worker; heartbeat it with the id returned."""
    check_json(body.model_dump(), "body")
    worker_id = ctx.cl.jobs.register_worker(
        body.name,
        host=body.host,
        pid=body.pid,
        queues=body.queues,
        kinds=body.kinds,
        concurrency=body.concurrency,
        remote=True,
    )
    return {"id": worker_id}


@router.post("/workers/{worker_id}/heartbeat", response_model=WorkerBeat)
def heartbeat_worker(
    worker_id: WorkerId, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Say the worker is alive."""
    return {"registered": ctx.cl.jobs.heartbeat_worker(worker_id)}


@router.delete("/workers/{worker_id}", status_code=204, response_class=Response)
def deregister_worker(
    worker_id: WorkerId, ctx: Annotated[Context, Depends(require("write"))]
) -> Response:
    """Remove a worker that stopped cleanly (404 when it is not registered)."""
    ctx.cl.jobs.deregister_worker(worker_id)
    return Response(status_code=204)
