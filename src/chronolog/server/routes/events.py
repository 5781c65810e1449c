"""Routes of the activity log: ``/api/v1/events``."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ...errors import TooLarge, ValidationError
from ...models import Event
from ...query import EventQuery
from ..deps import Context, JsonBody, check_json, page_body, require
from ..query import PageParams, query_dep
from ..schemas import ERROR_RESPONSES, Strict, documented_body, json_model

__all__ = ["EventOut", "router"]

router = APIRouter(prefix="/events", tags=["events"], responses=ERROR_RESPONSES)

EventId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The event's id.")]


class ActorIn(Strict):
    """Who did it."""

    type: str
    id: str | int | None = None
    name: str | None = None


class TargetIn(Strict):
    """What it was done to."""

    type: str
    id: str | int | None = None
    title: str | None = None


class EventIn(Strict):
    """One event to record. ``occurred_at`` defaults to now; naive times are refused."""

    event_type: str = Field(examples=["deletion"])
    action: str = Field(examples=["deleted"])
    status: str | None = Field(default=None, examples=["success"])
    actor: ActorIn | None = None
    target: TargetIn | None = None
    occurred_at: AwareDatetime | None = None
    error: str | None = None
    metadata: dict[str, Any] | None = None


class EventBatchIn(Strict):
    """Several events, recorded all or nothing."""

    events: list[EventIn]


if TYPE_CHECKING:
    EventOut = BaseModel
else:
    EventOut = json_model(Event)  # Event.to_dict, the one JSON form of an event


class EventPage(BaseModel):
    """A page of events, newest first."""

    items: list[EventOut]
    total: int | None
    page: int
    limit: int
    next_cursor: str | None


class Recorded(BaseModel):
    """The id of the recorded event."""

    id: int


class RecordedBatch(BaseModel):
    """The ids of the recorded events, in input order."""

    ids: list[int]


class StatusIn(Strict):
    """A status change (``processing`` → ``success`` / ``error``) and its error text."""

    status: str
    error: str | None = None


def event_json(event: Event) -> dict[str, Any]:
    """An event as the routes return it."""
    return event.to_dict()


def _events_in(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """The events of a body and whether it was a batch; the library validates each one."""
    batch = isinstance(body, dict) and set(body) == {"events"}
    items = body["events"] if batch else [body]
    if not isinstance(items, list):
        raise ValidationError("events must be a list of event objects", field="events")
    for index, item in enumerate(items):
        where = f"event {index}: " if batch else ""
        if not isinstance(item, dict):
            raise ValidationError(f"{where}an event must be a JSON object", index=index)
        occurred = item.get("occurred_at")
        if occurred is not None:
            item["occurred_at"] = _rfc3339(occurred, where)
        metadata = item.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ValidationError(f"{where}metadata must be a JSON object", field="metadata")
    return items, batch


def _rfc3339(value: Any, where: str) -> datetime:
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    raise ValidationError(
        f"{where}occurred_at must be an RFC 3339 time with a zone, e.g. 2026-11-21T09:30:00Z",
        field="occurred_at",
    )


@router.post(
    "",
    status_code=201,
    response_model=Recorded | RecordedBatch,
    openapi_extra=documented_body(EventIn, EventBatchIn),
)
async def record_events(
    request: Request,
    response: Response,
    body: JsonBody,
    ctx: Annotated[Context, Depends(require("write"))],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=200,
            description="Retry safely: a repeat of this request with the same key (within a "
            "day) records nothing and gets the first answer (`Idempotent-Replayed: true`). "
            "Reusing a key for another body is a 422.",
        ),
    ] = None,
) -> dict[str, Any]:
    """Record one event, or ``{"events": [...]}`` in one transaction (all or nothing).

    The body is parsed once with orjson and validated by the library itself
    (pydantic would validate it a second time): this is the ingest hot path.
    """
    items, batch = _events_in(body)
    # An event that names no actor was written by the token's member (or the token).
    who: dict[str, Any] | None = None
    for item in items:
        if item.get("actor") is None:
            if who is None:
                actor = ctx.actor
                who = {"type": actor.type, "id": actor.id, "name": actor.name}
            item["actor"] = who
    cap = ctx.state.limits.batch_size
    if len(items) > cap:
        raise TooLarge(f"a batch holds at most {cap} events, got {len(items)}", limit=cap)
    if idempotency_key is None:
        ids = await run_in_threadpool(ctx.cl.events.record_many, items)
        ctx.state.metrics.events_recorded.inc(len(ids))
        return {"ids": ids} if batch else {"id": ids[0]}
    digest = hashlib.sha256(await request.body()).hexdigest()
    ids, replayed = await run_in_threadpool(
        lambda: ctx.cl.events.record_once(items, idempotency_key, request_hash=digest)
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        ctx.state.metrics.events_recorded.inc(len(ids))
    return {"ids": ids} if batch else {"id": ids[0]}


class EventsParams(PageParams):
    """Paging of ``GET /events`` and whether to count every match."""

    with_total: bool = Field(default=True, description="Count every match.")


EventsQuery = Annotated[tuple[EventQuery, EventsParams], query_dep(EventQuery, EventsParams)]


@router.get("", response_model=EventPage)
def query_events(
    ctx: Annotated[Context, Depends(require("read"))], found: EventsQuery
) -> dict[str, Any]:
    """Events newest first, with every filter of ``cl.events.query`` (an ``EventQuery``).
    An unknown query parameter is a 422 naming it."""
    query, p = found
    page = ctx.cl.events.query(
        query, page=p.page, limit=p.limit, cursor=p.cursor, with_total=p.with_total
    )
    return page_body(page, event_json)


@router.get("/recent", response_model=list[EventOut])
def recent_events(
    ctx: Annotated[Context, Depends(require("read"))],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
) -> list[dict[str, Any]]:
    """The newest events, newest first."""
    return [event_json(e) for e in ctx.cl.events.recent(limit)]


@router.get("/{event_id}", response_model=EventOut)
def get_event(
    event_id: EventId, ctx: Annotated[Context, Depends(require("read"))]
) -> dict[str, Any]:
    """One event of this project."""
    return event_json(ctx.cl.events.get(event_id))


@router.patch("/{event_id}", response_model=EventOut)
def set_event_status(
    event_id: EventId, body: StatusIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Move an event along its lifecycle and set (or clear) its error text."""
    check_json(body.model_dump(), "body")
    return event_json(ctx.cl.events.set_status(event_id, body.status, body.error))
