"""Routes of entities and state history: machines, entities, transitions, the timeline.

An entity's id may hold ``/`` (the rip pipeline's ``"the-wire/s01"``), so the
entity routes take the rest of the path as the id; the transitions and children
routes are declared first so ``…/{id}/transitions`` and ``…/{id}/children`` reach them. A kind cannot hold ``/``
over HTTP (it is one path segment).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from ...errors import NotFound, ValidationError
from ...query import EntityQuery
from ...states import DayCount, Entity, Machine, Transition
from ..deps import (
    Context,
    ListLimit,
    bounded_list,
    check_json,
    page_body,
    require,
)
from ..query import PageLimit, query_dep
from ..schemas import ERROR_RESPONSES, Strict, json_model
from .events import ActorIn

__all__ = ["router"]

router = APIRouter(tags=["states"], responses=ERROR_RESPONSES)

Kind = Annotated[str, Path(min_length=1, max_length=64, description="The entity kind.")]
EntityId = Annotated[
    str, Path(min_length=1, max_length=255, description="The entity id (may hold '/').")
]


# -- shapes ----------------------------------------------------------------------------


class MachineIn(Strict):
    """A state machine: its states, the moves allowed from each, initial and terminal states."""

    states: list[str] = Field(examples=[["new", "downloading", "downloaded"]])
    transitions: dict[str, list[str]] = Field(
        examples=[{"new": ["downloading"], "downloading": ["downloaded"]}]
    )
    initial: str | None = None
    terminal: list[str] = Field(default_factory=list)


class MachineOut(BaseModel):
    """A stored state machine."""

    kind: str
    states: list[str]
    transitions: dict[str, list[str]]
    initial: str | None
    terminal: list[str]


class EntityIn(Strict):
    """Fields to set on an entity (created if new); a missing field keeps its value."""

    title: str | None = None
    parent: list[str] | None = Field(
        default=None, description="[kind, id] of the parent entity.", examples=[["season", "s1"]]
    )
    attributes: dict[str, Any] | None = None
    actor: ActorIn | None = Field(
        default=None, description="Who created it (default: the token's member)."
    )


class DeleteIn(Strict):
    """Who deleted the entity (default: the token's member)."""

    actor: ActorIn | None = None


class TransitionIn(Strict):
    """A move of an entity to ``to`` (creating it on its first move)."""

    to: str = Field(examples=["downloading"])
    expected_from: str | None = None
    actor: ActorIn | None = None
    metadata: dict[str, Any] | None = None
    title: str | None = None
    parent: list[str] | None = None
    occurred_at: AwareDatetime | None = None


class MoveIn(TransitionIn):
    """One move of a batch: the entity and its move."""

    kind: str = Field(min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=255)


class MovesIn(Strict):
    """Moves applied in order, atomically: every one or none."""

    moves: list[MoveIn]


class Removed(BaseModel):
    """How many transitions went with the deleted entity."""

    removed: int


class StateCount(BaseModel):
    """How many entities are in a state (``state`` null: not moved yet)."""

    state: str | None
    count: int


if TYPE_CHECKING:
    TransitionOut = BaseModel
    EntityOut = BaseModel
    DayCountOut = BaseModel
else:
    # The JSON forms of the value types (their to_dict), made from the dataclasses.
    TransitionOut = json_model(Transition)
    EntityOut = json_model(Entity)
    DayCountOut = json_model(DayCount)


class EntityPage(BaseModel):
    """A page of entities, newest move first (cursor paging: ``total`` is null)."""

    items: list[EntityOut]
    total: int | None
    page: int
    limit: int
    next_cursor: str | None


class TimelineOut(BaseModel):
    """Moves of every kind newest first (one page), and per-day counts of the window."""

    items: list[TransitionOut]
    total: int | None
    page: int
    limit: int
    next_cursor: str | None
    days: list[DayCountOut]


def machine_json(machine: Machine) -> dict[str, Any]:
    """A machine as the routes return it."""
    return {"kind": machine.kind, **machine.to_dict()}


def entity_json(entity: Entity) -> dict[str, Any]:
    """An entity as the routes return it."""
    return entity.to_dict()


def transition_json(transition: Transition) -> dict[str, Any]:
    """A transition as the routes return it."""
    return transition.to_dict()


def _pair(value: list[str] | None, name: str) -> tuple[str, str] | None:
    if value is None:
        return None
    if len(value) != 2:
        raise ValidationError(f"{name} must be a [kind, id] pair", field=name)
    return value[0], value[1]


def _zone(tz: str | None) -> tzinfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {tz!r}", field="tz") from None


# -- machines --------------------------------------------------------------------------


@router.put("/machines/{kind}", response_model=MachineOut)
def define_machine(
    kind: Kind, body: MachineIn, ctx: Annotated[Context, Depends(require("admin"))]
) -> dict[str, Any]:
    """Define (or redefine) the state machine of ``kind``: admin, since every writer is
    checked against it. A redefinition must keep every state an entity is in now."""
    check_json(body.model_dump(), "body")
    machine = ctx.cl.states.define(
        kind, body.states, body.transitions, initial=body.initial, terminal=body.terminal
    )
    return machine_json(machine)


@router.get("/machines", response_model=list[MachineOut])
def list_machines(
    request: Request,
    ctx: Annotated[Context, Depends(require("read"))],
    after: Annotated[str | None, Query(max_length=64, description="Kinds after this one.")] = None,
    limit: ListLimit = 1000,
) -> Response:
    """The project's state machines, by kind; a ``Link: rel="next"`` continues a long list."""
    machines = [m for m in ctx.cl.states.machines() if after is None or m.kind > after][:limit]
    return bounded_list(
        request, machines, machine_json, after="after", key=lambda m: m.kind, limit=limit
    )


@router.get("/machines/{kind}", response_model=MachineOut)
def get_machine(kind: Kind, ctx: Annotated[Context, Depends(require("read"))]) -> dict[str, Any]:
    """The state machine of ``kind`` (404 if it has none)."""
    machine = ctx.cl.states.machine(kind)
    if machine is None:
        raise NotFound(f"kind {kind!r} has no state machine", kind=kind)
    return machine_json(machine)


# -- entities: transitions first (the id may hold '/') ---------------------------------


@router.post(
    "/entities/{kind}/{entity_id:path}/transitions",
    status_code=201,
    response_model=TransitionOut,
)
def move_entity(
    kind: Kind,
    entity_id: EntityId,
    body: TransitionIn,
    ctx: Annotated[Context, Depends(require("write"))],
) -> dict[str, Any]:
    """Move an entity (422 ``invalid_transition`` if its machine forbids it, with the
    allowed moves in ``details``; 409 ``conflict`` if it is not in ``expected_from``)."""
    check_json(body.model_dump(), "body")
    transition = ctx.cl.states.transition(
        kind,
        entity_id,
        body.to,
        actor=ctx.actor if body.actor is None else body.actor.model_dump(),
        metadata=body.metadata,
        title=body.title,
        parent=_pair(body.parent, "parent"),
        expected_from=body.expected_from,
        occurred_at=body.occurred_at,
    )
    return transition_json(transition)


@router.get("/entities/{kind}/{entity_id:path}/transitions", response_model=list[TransitionOut])
def entity_history(
    request: Request,
    kind: Kind,
    entity_id: EntityId,
    ctx: Annotated[Context, Depends(require("read"))],
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Moves after this sort_key.")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """An entity's moves by ``sort_key`` ascending (jobs too, under kind ``job``); at most
    ``limit`` (default 1000) and about a MiB: a ``Link: rel="next"`` header gives the
    ``after`` to continue from when there may be more."""
    wanted = limit or _HISTORY_PAGE
    history = ctx.cl.states.history(kind, entity_id, after=after, limit=wanted)
    return bounded_list(
        request, history, transition_json, after="after", key=lambda t: t.sort_key, limit=wanted
    )


_HISTORY_PAGE = 1000


@router.get("/entities/{kind}/{entity_id:path}/children", response_model=list[EntityOut])
def entity_children(
    request: Request,
    kind: Kind,
    entity_id: EntityId,
    ctx: Annotated[Context, Depends(require("read"))],
    child_kind: Annotated[
        str | None, Query(alias="kind", max_length=64, description="Only children of this kind.")
    ] = None,
    after: Annotated[
        str | None, Query(max_length=320, description="`kind/id` of the child to continue after.")
    ] = None,
    limit: ListLimit = 1000,
) -> Response:
    """The entities whose parent is this one (a season's discs), oldest first (404 if
    the entity does not exist); a ``Link: rel="next"`` continues a long list."""
    children = ctx.cl.states.children(kind, entity_id, child_kind)
    if after is not None:
        ids = [(c.kind, c.id) for c in children]
        key = tuple(after.split("/", 1)) if "/" in after else None
        children = children[ids.index(key) + 1 :] if key in ids else []
    children = children[:limit]
    return bounded_list(
        request, children, entity_json, after="after", key=lambda c: f"{c.kind}/{c.id}", limit=limit
    )


@router.put("/entities/{kind}/{entity_id:path}", response_model=EntityOut)
def upsert_entity(
    kind: Kind,
    entity_id: EntityId,
    body: EntityIn,
    ctx: Annotated[Context, Depends(require("write"))],
) -> dict[str, Any]:
    """Create an entity or change its title, parent or attributes."""
    check_json(body.model_dump(), "body")
    entity = ctx.cl.states.upsert(
        kind,
        entity_id,
        title=body.title,
        parent=_pair(body.parent, "parent"),
        attributes=body.attributes,
        actor=ctx.actor if body.actor is None else body.actor.model_dump(),
    )
    return entity_json(entity)


@router.delete("/entities/{kind}/{entity_id:path}", response_model=Removed)
def delete_entity(
    kind: Kind,
    entity_id: EntityId,
    ctx: Annotated[Context, Depends(require("write"))],
    body: DeleteIn | None = None,
) -> dict[str, Any]:
    """Delete an entity and its history (its children stay, without a parent); an event
    (action ``deleted``) records it."""
    actor = ctx.actor if body is None or body.actor is None else body.actor.model_dump()
    return {"removed": ctx.cl.states.delete(kind, entity_id, actor=actor)}


@router.post("/transitions", status_code=201, response_model=list[TransitionOut])
def move_many(body: MovesIn, ctx: Annotated[Context, Depends(require("write"))]) -> Any:
    """Apply moves in order, atomically (``cl.states.transition_many``); one entity may
    move several times in a batch. A move without an actor is the token's member's."""
    check_json(body.model_dump(), "body")
    moves = []
    for move in body.moves:
        item = move.model_dump(exclude_none=True)
        item["actor"] = ctx.actor if move.actor is None else move.actor.model_dump()
        if move.parent is not None:
            item["parent"] = _pair(move.parent, "parent")
        moves.append(item)
    return [transition_json(t) for t in ctx.cl.states.transition_many(moves)]


@router.get("/kinds/{kind}/counts", response_model=list[StateCount])
def state_counts(kind: Kind, ctx: Annotated[Context, Depends(require("read"))]) -> Any:
    """How many entities of ``kind`` are in each state (``cl.states.counts``)."""
    counts = ctx.cl.states.counts(kind)
    return [{"state": state, "count": n} for state, n in counts.items()]


@router.get("/entities/{kind}/{entity_id:path}", response_model=EntityOut)
def get_entity(
    kind: Kind, entity_id: EntityId, ctx: Annotated[Context, Depends(require("read"))]
) -> dict[str, Any]:
    """One entity with its current transition."""
    return entity_json(ctx.cl.states.get(kind, entity_id))


EntitiesQuery = Annotated[tuple[EntityQuery, PageLimit], query_dep(EntityQuery, PageLimit)]


@router.get("/entities", response_model=EntityPage)
def list_entities(
    ctx: Annotated[Context, Depends(require("read"))], found: EntitiesQuery
) -> dict[str, Any]:
    """Entities newest move first, matching an ``EntityQuery`` (``kinds``, ``states``,
    ``active``, ``parent`` as ``kind/id``, ``since``, ``until``): ``cl.states.list``.
    An unknown query parameter is a 422 naming it."""
    query, p = found
    return page_body(ctx.cl.states.list(query, limit=p.limit, cursor=p.cursor), entity_json)


# -- the timeline ----------------------------------------------------------------------


class TimelineParams(PageLimit):
    """The window's length, the zone of its days, and whether to count them."""

    days: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Days back from until (default 7; not with since).",
    )
    tz: str | None = Field(default=None, max_length=64, description="IANA zone of the days.")
    with_counts: bool = Field(default=True, description="Count distinct entities per day.")


TimelineQuery = Annotated[
    tuple[EntityQuery, TimelineParams], query_dep(EntityQuery, TimelineParams)
]


@router.get("/timeline", response_model=TimelineOut)
def timeline(
    ctx: Annotated[Context, Depends(require("read"))], found: TimelineQuery
) -> dict[str, Any]:
    """Moves of every kind (jobs too) newest first, and per (day, kind, to_state) the
    number of distinct entities that made that move: ``cl.states.timeline`` with an
    ``EntityQuery`` (``kinds``, ``states`` moved to, ``since``, ``until``). An unknown
    query parameter is a 422 naming it."""
    query, p = found
    result = ctx.cl.states.timeline(
        query,
        days=p.days,
        tz=_zone(p.tz),
        limit=p.limit,
        cursor=p.cursor,
        with_counts=p.with_counts,
    )
    body = page_body(result.page, transition_json)
    body["days"] = [d.to_dict() for d in result.days]
    return body
