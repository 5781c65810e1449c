"""Routes of job dependencies and pipelines: a job's links both ways
(``GET /jobs/{id}/dependencies``), the pipeline a job is a stage of
(``GET /jobs/{id}/pipeline``), and pipelines (``POST /pipelines``,
``GET /pipelines/{id}``). Enqueueing a job ``after`` others goes through
``POST /jobs`` (its body takes ``after`` and ``on_failure``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from ...errors import NotFound, ValidationError
from ...jobs import Pipeline
from ..deps import Context, check_json, require
from ..schemas import ERROR_RESPONSES, Strict
from .jobs import JobIn, JobOut, job_item

__all__ = ["pipeline_json", "router"]

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


class JobLinkOut(BaseModel):
    """A job at the other end of a dependency."""

    id: int
    kind: str
    state: str
    queue: str


class JobLinksOut(BaseModel):
    """A job's dependencies both ways."""

    job_id: int
    after: list[JobLinkOut]
    dependents: list[JobLinkOut]
    on_failure: str | None


class PipelineIn(Strict):
    """Stages run one after the other (unless a stage names its own ``after`` refs)."""

    stages: list[JobIn] = Field(min_length=1, max_length=100)
    subject: list[str] | None = Field(default=None, description="[kind, id] of an entity.")
    name: str | None = Field(default=None, max_length=255)
    on_failure: Literal["cancel", "run"] = "cancel"


class PipelineOut(BaseModel):
    """A pipeline and its stages."""

    id: int
    project: str
    name: str
    subject: list[str] | None
    created_at: str
    state: str
    done: int
    jobs: list[JobOut]


def pipeline_json(pipeline: Pipeline) -> dict[str, Any]:
    """A pipeline as the routes return it."""
    return pipeline.to_dict()


@router.get("/jobs/{job_id}/dependencies", response_model=JobLinksOut)
def job_dependencies(
    job_id: Id, ctx: Annotated[Context, Depends(require("read"))]
) -> dict[str, Any]:
    """The jobs this job runs after, and the jobs that run after it."""
    return ctx.cl.jobs.dependencies(job_id).to_dict()


@router.get("/jobs/{job_id}/pipeline", response_model=PipelineOut)
def job_pipeline(job_id: Id, ctx: Annotated[Context, Depends(require("read"))]) -> dict[str, Any]:
    """The pipeline this job is a stage of (404 when it is in none)."""
    found = ctx.cl.jobs.pipeline_of(job_id)
    if found is None:
        raise NotFound(f"job {job_id} is not a stage of a pipeline", job_id=job_id)
    return pipeline_json(found)


@router.post("/pipelines", status_code=201, response_model=PipelineOut)
def create_pipeline(
    body: PipelineIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Enqueue a pipeline of stages in one transaction (see ``cl.jobs.pipeline``)."""
    check_json(body.model_dump(), "body")
    subject = None
    if body.subject is not None:
        if len(body.subject) != 2:
            raise ValidationError("subject must be a [kind, id] pair", field="subject")
        subject = (body.subject[0], body.subject[1])
    pipeline = ctx.cl.jobs.pipeline(
        [job_item(s) for s in body.stages],
        subject=subject,
        name=body.name,
        on_failure=body.on_failure,
        actor=ctx.actor,
    )
    return pipeline_json(pipeline)


@router.get("/pipelines/{pipeline_id}", response_model=PipelineOut)
def get_pipeline(
    pipeline_id: Id, ctx: Annotated[Context, Depends(require("read"))]
) -> dict[str, Any]:
    """One pipeline with its stages."""
    return pipeline_json(ctx.cl.jobs.pipeline_get(pipeline_id))
