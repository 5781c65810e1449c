"""Routes of job dependencies and pipelines: a job's links both ways
(``GET /jobs/{id}/dependencies``), the pipeline a job is a stage of
(``GET /jobs/{id}/pipeline``), and pipelines (``POST /pipelines``,
``GET /pipelines/{id}``). Enqueueing a job ``after`` others goes through
``POST /jobs`` (its body takes ``after`` and ``on_failure``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from ...errors import NotFound, ValidationError
from ...jobs.models import JobLinks, Pipeline
from ..deps import Context, check_json, require
from ..schemas import ERROR_RESPONSES, Strict, json_model
from .events import ActorIn
from .jobs import JobIn, acting, job_item

__all__ = ["pipeline_json", "router"]

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


if TYPE_CHECKING:
    JobLinksOut = BaseModel
    PipelineOut = BaseModel
else:
    # JobLinks.to_dict and Pipeline.to_dict (its jobs, state and done included).
    JobLinksOut = json_model(JobLinks)
    PipelineOut = json_model(Pipeline)


class PipelineIn(Strict):
    """Stages run one after the other (unless a stage names its own ``after`` refs)."""

    stages: list[JobIn] = Field(min_length=1, max_length=100)
    subject: list[str] | None = Field(default=None, description="[kind, id] of an entity.")
    name: str | None = Field(default=None, max_length=255)
    on_failure: Literal["cancel", "run"] = "cancel"
    actor: ActorIn | None = Field(
        default=None, description="Who enqueued it (default: the token's member)."
    )


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
    if any(s.actor is not None for s in body.stages):
        raise ValidationError("a pipeline has one actor: give it beside stages", field="actor")
    pipeline = ctx.cl.jobs.pipeline(
        [job_item(s) for s in body.stages],
        subject=subject,
        name=body.name,
        on_failure=body.on_failure,
        actor=acting(ctx, body),
    )
    return pipeline_json(pipeline)


@router.get("/pipelines/{pipeline_id}", response_model=PipelineOut)
def get_pipeline(
    pipeline_id: Id, ctx: Annotated[Context, Depends(require("read"))]
) -> dict[str, Any]:
    """One pipeline with its stages."""
    return pipeline_json(ctx.cl.jobs.pipeline_get(pipeline_id))
