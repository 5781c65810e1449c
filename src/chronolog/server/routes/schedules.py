"""Routes of job schedules (``/api/v1/schedules``), and the server's own firing of them.

Reading needs the ``read`` role; adding, changing, pausing, resuming and removing
need ``write``, like operating jobs. ``PUT /schedules/{name}`` is ``cl.jobs.schedules.add``:
it creates the schedule or changes the one of that name.

Remote workers (``chronolog worker --url``) fire nothing themselves: the server
fires every project's due schedules about once a second (:func:`fire_loop`), so
a schedule fires on time whether or not a worker is connected, and its jobs wait
pending until one is. Local workers fire them too; each fire time still makes
one job.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from ...errors import ChronologError
from ...jobs import Schedule
from ...jobs.schedule_models import ScheduleFire
from ..deps import Context, ServerState, check_json, require
from ..schemas import ERROR_RESPONSES, Strict, json_model

__all__ = ["fire_loop", "fire_round", "router"]

log = logging.getLogger("chronolog")

router = APIRouter(prefix="/schedules", tags=["schedules"], responses=ERROR_RESPONSES)

Name = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The schedule's name (letters, digits, '.', '_', ':' or '-').",
    ),
]


class ScheduleIn(Strict):
    """A schedule to add or change (see ``cl.jobs.schedules.add``): ``cron`` or ``every``."""

    kind: str = Field(examples=["index_library"])
    cron: str | None = Field(default=None, examples=["0 3 * * *"])
    every: int | None = Field(default=None, description="Seconds between fires (1 s to a year).")
    payload: dict[str, Any] | None = None
    queue: str = "default"
    tz: str = Field(default="UTC", examples=["Europe/Berlin"])
    priority: int = Field(default=0, ge=-(2**31), le=2**31 - 1)
    max_attempts: int = Field(default=3, ge=1, le=1000)
    catch_up: Literal["latest", "none", "all"] = "latest"
    max_catch_up: int = Field(default=100, ge=1, le=10_000)


if TYPE_CHECKING:
    ScheduleOut = BaseModel
    FireOut = BaseModel
else:
    # Schedule.to_dict with the next fire times the route adds, and ScheduleFire.to_dict.
    ScheduleOut = json_model(Schedule, extra={"next_fires": list[datetime]}, name="ScheduleOut")
    FireOut = json_model(ScheduleFire, name="FireOut")


class ScheduleList(BaseModel):
    """Every schedule of the project, by name."""

    items: list[ScheduleOut]


class NextFires(BaseModel):
    """The next fire times of a schedule."""

    name: str
    fires: list[datetime]


class FireList(BaseModel):
    """A schedule's newest fires, newest first."""

    items: list[FireOut]


def schedule_json(ctx: Context, schedule: Schedule, n: int = 3) -> dict[str, Any]:
    """A schedule as the API shows it, with its next ``n`` fire times."""
    fires = ctx.cl.jobs.schedules.next_fires(schedule.name, n)
    return {**schedule.to_dict(), "next_fires": [f.isoformat() for f in fires]}


@router.get("", response_model=ScheduleList)
def list_schedules(
    ctx: Annotated[Context, Depends(require("read"))],
    next: Annotated[int, Query(ge=1, le=50, description="Next fire times per schedule.")] = 3,
) -> dict[str, Any]:
    """Every schedule of the token's project, with its next fire times."""
    return {"items": [schedule_json(ctx, s, next) for s in ctx.cl.jobs.schedules.list()]}


@router.get("/{name}", response_model=ScheduleOut)
def get_schedule(
    name: Name,
    ctx: Annotated[Context, Depends(require("read"))],
    next: Annotated[int, Query(ge=1, le=50, description="Next fire times to show.")] = 3,
) -> dict[str, Any]:
    """One schedule (404 if there is none)."""
    return schedule_json(ctx, ctx.cl.jobs.schedules.get(name), next)


@router.put("/{name}", response_model=ScheduleOut)
def put_schedule(
    name: Name, body: ScheduleIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Add the schedule, or change the one of that name. The same timing keeps its next
    fire time and its pause (safe to repeat at every deploy)."""
    check_json(body.model_dump(), "body")
    schedule = ctx.cl.jobs.schedules.add(
        name,
        body.kind,
        cron=body.cron,
        every=body.every,
        payload=body.payload,
        queue=body.queue,
        tz=body.tz,
        priority=body.priority,
        max_attempts=body.max_attempts,
        catch_up=body.catch_up,
        max_catch_up=body.max_catch_up,
        actor=ctx.actor,
    )
    return schedule_json(ctx, schedule)


@router.delete("/{name}", status_code=204, response_class=Response)
def delete_schedule(name: Name, ctx: Annotated[Context, Depends(require("write"))]) -> Response:
    """Remove a schedule (its jobs stay); 404 if there is none."""
    ctx.cl.jobs.schedules.remove(name, actor=ctx.actor)
    return Response(status_code=204)


@router.post("/{name}/pause", response_model=ScheduleOut)
def pause_schedule(
    name: Name, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Stop firing; fire times passing meanwhile follow ``catch_up`` on resume."""
    return schedule_json(ctx, ctx.cl.jobs.schedules.pause(name, actor=ctx.actor))


@router.post("/{name}/resume", response_model=ScheduleOut)
def resume_schedule(
    name: Name, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Fire again (the fire times missed while paused follow ``catch_up``)."""
    return schedule_json(ctx, ctx.cl.jobs.schedules.resume(name, actor=ctx.actor))


@router.get("/{name}/next", response_model=NextFires)
def next_fires(
    name: Name,
    ctx: Annotated[Context, Depends(require("read"))],
    n: Annotated[int, Query(ge=1, le=1000)] = 5,
) -> dict[str, Any]:
    """The next ``n`` fire times from now (UTC)."""
    fires = ctx.cl.jobs.schedules.next_fires(name, n)
    return {"name": name, "fires": [f.isoformat() for f in fires]}


@router.get("/{name}/fires", response_model=FireList)
def list_fires(
    name: Name,
    ctx: Annotated[Context, Depends(require("read"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> dict[str, Any]:
    """The schedule's newest fires (kept a week; their events stay), newest first."""
    return {"items": [f.to_dict() for f in ctx.cl.jobs.schedules.fires(name, limit)]}


# -- the server's firing ---------------------------------------------------------------


def fire_round(state: ServerState) -> int:
    """Fire every project's due schedules once; returns how many jobs were enqueued."""
    who = f"server:{os.uname().nodename}:{os.getpid()}"
    fired = 0
    for project in state.root.jobs.schedules.due_projects():
        fired += len(state.view(project).jobs.schedules.fire_due(who))
    return fired


async def fire_loop(state: ServerState, every: float) -> None:
    """Run :func:`fire_round` every ``every`` seconds, off the event loop; errors logged."""
    while True:
        try:
            await asyncio.to_thread(fire_round, state)
        except ChronologError as exc:
            log.warning("chronolog server: firing schedules failed: %s", exc)
        await asyncio.sleep(every)
