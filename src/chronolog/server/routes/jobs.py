"""Routes of the job queue: producing and operating (``/api/v1/jobs``), and the remote
worker protocol (claim, heartbeat, logs, complete, fail, release).

Every worker call carries the job's lease token; a stale one is ``409 lease_lost``
and changes nothing, exactly as ``LeaseLost`` in the library. ``POST /jobs/claim``
long-polls up to ``wait_seconds`` on the store's ``jobs`` notifier (woken by
enqueues, retries, releases and rescues, from any process on PostgreSQL).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ...errors import ChronologError, TooLarge, ValidationError
from ...jobs import Job, JobLog
from ...jobs.models import HTTP_CLAIM_MOST
from ...models import Actor
from ...query import JobQuery
from ..deps import (
    Context,
    ServerState,
    bounded_list,
    check_json,
    page_body,
    require,
)
from ..query import PageLimit, query_dep
from ..schemas import ERROR_RESPONSES, Strict, json_model
from ..waker import Waker
from .events import ActorIn

__all__ = ["ActedBy", "JobIn", "JobOut", "acting", "install", "job_item", "job_json", "router"]

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The job's id.")]
Lease = Annotated[int, Field(ge=0, le=2**31 - 1, description="The lease token of the claim.")]
Seconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=64)]


# -- shapes ----------------------------------------------------------------------------


class JobIn(Strict):
    """A job to enqueue (see ``cl.jobs.enqueue``)."""

    kind: str = Field(examples=["transcode"])
    payload: dict[str, Any] | None = None
    queue: str = "default"
    priority: int = Field(default=0, ge=-(2**31), le=2**31 - 1)
    run_at: AwareDatetime | None = None
    delay: float | None = Field(default=None, ge=0, le=10 * 365 * 86_400, allow_inf_nan=False)
    max_attempts: int | None = Field(default=None, ge=1, le=1000)
    unique_key: str | None = None
    subject: list[str] | None = Field(default=None, description="[kind, id] of an entity.")
    actor: ActorIn | None = Field(
        default=None, description="Who enqueued it (default: the token's member)."
    )
    after: list[Annotated[int, Field(ge=1, le=2**63 - 1)] | Name] | None = Field(
        default=None,
        max_length=1000,
        description="Jobs it runs after: job ids, or the `ref` of another job of the batch. "
        "It stays `waiting` until all of them completed.",
    )
    on_failure: Literal["cancel", "run"] | None = Field(
        default=None, description="What a failed or cancelled dependency does to it."
    )
    ref: Name | None = Field(default=None, description="A name for `after` in the same batch.")


class JobBatchIn(Strict):
    """Several jobs, enqueued all or nothing."""

    jobs: list[JobIn]
    actor: ActorIn | None = Field(
        default=None, description="Who enqueued them (default: the token's member)."
    )


if TYPE_CHECKING:
    JobOut = BaseModel
    JobLogOut = BaseModel
else:
    # The JSON forms of Job (with its errors) and JobLog: their to_dict, made from the
    # dataclasses (server/schemas.json_model).
    JobOut = json_model(Job)
    JobLogOut = json_model(JobLog)


class JobPage(BaseModel):
    """A page of jobs, newest first (cursor paging: ``total`` is null)."""

    items: list[JobOut]
    total: int | None
    page: int
    limit: int
    next_cursor: str | None


class Enqueued(BaseModel):
    """The ids of the enqueued jobs (a held unique key yields the holder's id)."""

    ids: list[int]


class DoneIn(Strict):
    """A finished job to complete: its id, the lease of the claim, its result."""

    id: int = Field(ge=1, le=2**63 - 1)
    lease: Lease
    result: dict[str, Any] | None = None


class ClaimIn(Strict):
    """Take up to ``limit`` due jobs; wait up to ``wait_seconds`` for one to be due.

    ``done``: jobs this worker finished, completed in the same transaction as
    the claim (one round trip per batch); stale leases are skipped.
    """

    queues: list[Name] | None = Field(
        default=None, max_length=100, description="Null: every queue."
    )
    kinds: list[Name] | None = Field(
        default=None, max_length=1000, description="Only jobs of these kinds. Null: any kind."
    )
    worker: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=1, ge=1, le=HTTP_CLAIM_MOST)
    lease_seconds: Seconds = 30.0
    wait_seconds: float = Field(default=0, ge=0, le=600, allow_inf_nan=False)
    pid: int | None = Field(default=None, ge=0, le=2**31 - 1)
    done: list[DoneIn] = Field(default_factory=list, max_length=1000)


class Claimed(BaseModel):
    """The claimed jobs, each running with a fresh ``lease`` token; ``completed``: the
    ids of ``done`` that were completed (the others' leases were stale)."""

    jobs: list[JobOut]
    completed: list[int] = []


class CompleteManyIn(Strict):
    """Finished jobs to complete in one transaction."""

    jobs: list[DoneIn] = Field(max_length=1000)


class Completed(BaseModel):
    """The ids completed; a job whose lease was stale is left out (nothing changed for it)."""

    completed: list[int]


class HeartbeatIn(Strict):
    """Renew a lease, and report progress."""

    lease: Lease
    progress: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    progress_text: str | None = Field(default=None, max_length=1000)
    pid: int | None = Field(default=None, ge=0, le=2**31 - 1)
    extend_seconds: Seconds = 30.0


class Beat(BaseModel):
    """``cancelled``: the job was cancelled meanwhile; the worker must stop it."""

    cancelled: bool


class LogLineIn(Strict):
    level: str = Field(examples=["info"])
    message: str
    fields: dict[str, Any] | None = None
    at: AwareDatetime | None = None


class LogsIn(Strict):
    """Log lines of a running (or just cancelled) job, fenced by its lease."""

    lease: Lease
    lines: list[LogLineIn] = Field(max_length=10_000)


class CompleteIn(Strict):
    lease: Lease
    result: dict[str, Any] | None = None


class FailIn(Strict):
    """A failed attempt: retried after a back-off while attempts remain (``retry``)."""

    lease: Lease
    error: str = Field(min_length=1)
    retry: bool = True
    retry_in: float | None = Field(default=None, ge=0, le=86_400 * 365, allow_inf_nan=False)


class ReleaseIn(Strict):
    """Give a running job back unfinished (the attempt is not counted)."""

    lease: Lease
    reason: str = Field(default="worker shutting down", min_length=1, max_length=1000)


def job_json(job: Job) -> dict[str, Any]:
    """A job as the routes return it."""
    return job.to_dict()


def log_json(line: JobLog) -> dict[str, Any]:
    """A log line as the routes return it."""
    return line.to_dict()


def _actor(ctx: Context) -> Actor:
    """Who an operator call acts as: the token's user, or the (service) token itself."""
    return ctx.actor


# -- the jobs-by-state gauge -----------------------------------------------------------


def install(state: ServerState, *, max_wait: float = 60.0) -> Waker:
    """Create the app's ``jobs`` waker (claim long-polls) and the jobs-by-state gauge."""
    waker = Waker(state.root, "jobs", max_wait=max_wait)

    def read() -> Iterable[tuple[tuple[str, str, str], float]]:
        # Read at scrape time, from the store: every server of a cluster reports the same.
        try:
            projects = [p.name for p in state.root.projects.list()]
            for project in projects:
                for queue, states in state.view(project).jobs.counts().items():
                    for job_state, n in states.items():
                        yield (project, queue, job_state), float(n)
        except ChronologError:
            return

    state.metrics.add_gauge(
        "chronolog_jobs", "Jobs by project, queue and state.", ("project", "queue", "state"), read
    )
    return waker


def _waker(request: Request) -> Waker:
    waker: Waker = request.app.state.jobs_waker
    return waker


# -- producing and operating -----------------------------------------------------------


@router.post("", status_code=201, response_model=JobOut | Enqueued)
def enqueue(
    body: JobIn | JobBatchIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Enqueue one job (→ the job), or ``{"jobs": [...]}`` in one transaction (→ ids)."""
    check_json(body.model_dump(), "body")
    actor = acting(ctx, body if isinstance(body, JobIn) else None)
    if isinstance(body, JobBatchIn):
        cap = ctx.state.limits.batch_size
        if len(body.jobs) > cap:
            raise TooLarge(f"a batch holds at most {cap} jobs, got {len(body.jobs)}", limit=cap)
        if any(j.actor is not None for j in body.jobs):
            raise ValidationError("a batch has one actor: give it beside jobs", field="actor")
        if body.actor is not None:
            actor = Actor(**body.actor.model_dump())
        items = [job_item(j) for j in body.jobs]
        return {"ids": ctx.cl.jobs.enqueue_many(items, actor=actor)}
    item = job_item(body)
    (job_id,) = ctx.cl.jobs.enqueue_many([item], actor=actor)
    return job_json(ctx.cl.jobs.get(job_id))


def job_item(job: JobIn) -> dict[str, Any]:
    """A job body as the library takes it (``enqueue_many`` items; the actor apart)."""
    item = job.model_dump(exclude_none=True, exclude={"actor"})
    if job.subject is not None:
        if len(job.subject) != 2:
            raise ValidationError("subject must be a [kind, id] pair", field="subject")
        item["subject"] = (job.subject[0], job.subject[1])
    return item


JobsQuery = Annotated[tuple[JobQuery, PageLimit], query_dep(JobQuery, PageLimit)]


@router.get("", response_model=JobPage)
def list_jobs(
    ctx: Annotated[Context, Depends(require("read"))], found: JobsQuery
) -> dict[str, Any]:
    """Jobs newest first, matching a ``JobQuery`` (``states``, ``queues``, ``kinds``,
    ``subject`` as ``kind/id``, ``since``); continue with ``next_cursor``. An unknown
    query parameter is a 422 naming it."""
    query, p = found
    return page_body(ctx.cl.jobs.list(query, limit=p.limit, cursor=p.cursor), job_json)


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: JobId, ctx: Annotated[Context, Depends(require("read"))]) -> dict[str, Any]:
    """One job of this project."""
    return job_json(ctx.cl.jobs.get(job_id))


@router.get("/{job_id}/logs", response_model=list[JobLogOut])
def job_logs(
    request: Request,
    job_id: JobId,
    ctx: Annotated[Context, Depends(require("read"))],
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Lines after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """A job's log lines after line ``after``, oldest first (tail with the last id).

    At most about a MiB of lines: when there may be more, a ``Link: rel="next"``
    header gives the ``after`` to continue from."""
    lines = ctx.cl.jobs.logs(job_id, after=after, limit=limit)
    return bounded_list(request, lines, log_json, after="after", key=lambda x: x.id, limit=limit)


class ActedBy(Strict):
    """Who does it (default: the token's member)."""

    actor: ActorIn | None = None


class Acted(Protocol):
    """A body that may name who does it."""

    @property
    def actor(self) -> ActorIn | None:
        """Who does it (``None``: the token's member)."""
        ...


def acting(ctx: Context, body: Acted | None) -> Actor:
    """Who a write is recorded as: the body's ``actor``, else the token's member."""
    if body is None or body.actor is None:
        return _actor(ctx)
    return Actor(**body.actor.model_dump())


@router.post("/{job_id}/retry", response_model=JobOut)
def retry_job(
    job_id: JobId, ctx: Annotated[Context, Depends(require("write"))], body: ActedBy | None = None
) -> dict[str, Any]:
    """A failed or cancelled job back to pending (422 ``invalid_transition`` otherwise)."""
    return job_json(ctx.cl.jobs.retry(job_id, actor=acting(ctx, body)))


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(
    job_id: JobId, ctx: Annotated[Context, Depends(require("write"))], body: ActedBy | None = None
) -> dict[str, Any]:
    """Cancel a pending job, or a running one (its worker learns it at its next heartbeat)."""
    return job_json(ctx.cl.jobs.cancel(job_id, actor=acting(ctx, body)))


# -- the worker protocol ---------------------------------------------------------------


@router.post("/claim", response_model=Claimed)
async def claim_jobs(
    request: Request, body: ClaimIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Take up to ``limit`` due jobs of ``queues``; with ``wait_seconds``, hold the request
    until one is due (woken by enqueues) or the time is up (then ``{"jobs": []}``)."""
    check_json(body.model_dump(), "body")
    waker = _waker(request)
    deadline = time.monotonic() + min(body.wait_seconds, waker.max_wait)

    # A caller that names no worker or pid is not this server: the library's defaults
    # (this host and process) would be wrong, and would show the server's host to
    # every reader of the job.
    worker = body.worker or f"remote:token-{ctx.principal.token_id}"
    pid = 0 if body.pid is None else body.pid

    def claim() -> list[Job]:
        return ctx.cl.jobs.claim(
            body.queues,
            worker,
            limit=body.limit,
            lease_seconds=body.lease_seconds,
            pid=pid,
            kinds=body.kinds,
        )

    def complete_and_claim() -> tuple[list[int], list[Job]]:
        return ctx.cl.jobs.complete_and_claim(
            [(d.id, d.lease, d.result) for d in body.done],
            body.queues,
            worker,
            limit=body.limit,
            lease_seconds=body.lease_seconds,
            pid=pid,
            kinds=body.kinds,
        )

    generation = waker.generation()
    completed, jobs = await run_in_threadpool(complete_and_claim)
    if not jobs and deadline > time.monotonic():
        # A waiting claim holds one of its token's slots (429 beyond the cap).
        held = ctx.state.live.open(ctx.principal)
        waker.waiting += 1
        try:
            while not jobs and not held.revoked.is_set():
                budget = deadline - time.monotonic()
                if budget <= 0 or await request.is_disconnected():
                    break
                # Sliced: jobs whose run_at comes due, and SQLite enqueues of other
                # processes, signal nothing.
                await waker.wait(generation, min(budget, 1.0))
                generation = waker.generation()
                jobs = await run_in_threadpool(claim)
        finally:
            waker.waiting -= 1
            held.close()
        if jobs and await request.is_disconnected():
            # The caller left while it waited (a stopping worker cuts its long-poll):
            # no one would run these; give them back now rather than at lease expiry.
            await run_in_threadpool(_give_back, ctx, jobs)
            jobs = []
    return {"jobs": [job_json(j) for j in jobs], "completed": completed}


def _give_back(ctx: Context, jobs: list[Job]) -> None:
    """Release jobs a long-poll claimed for a caller that went away."""
    for job in jobs:
        with suppress(ChronologError):  # rescued or ended meanwhile: not ours to give
            ctx.cl.jobs.release(job.id, job.lease, "the claiming worker went away")


@router.post("/complete", response_model=Completed)
def complete_many(
    body: CompleteManyIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Complete finished jobs in one transaction; a stale lease skips its job."""
    check_json(body.model_dump(), "body")
    done = ctx.cl.jobs.complete_many([(d.id, d.lease, d.result) for d in body.jobs])
    return {"completed": done}


@router.post("/{job_id}/heartbeat", response_model=Beat)
def heartbeat(
    job_id: JobId, body: HeartbeatIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Renew the lease (and record progress); ``cancelled`` tells the worker to stop."""
    check_json(body.model_dump(), "body")
    running = ctx.cl.jobs.heartbeat(
        job_id,
        body.lease,
        progress=body.progress,
        progress_text=body.progress_text,
        pid=body.pid,
        extend=body.extend_seconds,
    )
    return {"cancelled": not running}


@router.post("/{job_id}/logs", status_code=204, response_class=Response)
def append_logs(
    job_id: JobId, body: LogsIn, ctx: Annotated[Context, Depends(require("write"))]
) -> Response:
    """Append log lines in one transaction (fenced by the lease)."""
    check_json(body.model_dump(), "body")
    lines: list[Any] = [
        (line.level, line.message, line.fields)
        if line.at is None
        else (line.level, line.message, line.fields, line.at)
        for line in body.lines
    ]
    if lines:
        ctx.cl.jobs.log_many(job_id, body.lease, lines)
    return Response(status_code=204)


@router.post("/{job_id}/complete", status_code=204, response_class=Response)
def complete(
    job_id: JobId, body: CompleteIn, ctx: Annotated[Context, Depends(require("write"))]
) -> Response:
    """Complete a running job with its result (409 ``lease_lost`` when the lease is stale)."""
    check_json(body.model_dump(), "body")
    ctx.cl.jobs.complete(job_id, body.lease, body.result)
    return Response(status_code=204)


@router.post("/{job_id}/fail", response_model=JobOut)
def fail(
    job_id: JobId, body: FailIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Record a failed attempt (retried after a back-off while attempts remain)."""
    check_json(body.model_dump(), "body")
    job = ctx.cl.jobs.fail(job_id, body.lease, body.error, retry=body.retry, retry_in=body.retry_in)
    return job_json(job)


@router.post("/{job_id}/release", response_model=JobOut)
def release(
    job_id: JobId, body: ReleaseIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Give a running job back to pending, this attempt not counted (worker shutdown)."""
    check_json(body.model_dump(), "body")
    return job_json(ctx.cl.jobs.release(job_id, body.lease, body.reason))
