"""Entities: a list per kind filtered by state, and an entity's page with its pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...errors import NotFound, ValidationError
from ...models import Page
from ...query import EntityQuery, JobQuery
from ...states import Entity, Machine, Transition
from .pages import kind_counts
from .render import page
from .session import session_of

__all__ = ["Step", "pipeline", "router"]

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Step:
    """One state of a machine on the entity page: ``done``, ``current``, ``next`` or ``todo``."""

    state: str
    status: str
    terminal: bool


def pipeline(machine: Machine, current: str | None, history: list[Transition]) -> list[Step]:
    """The machine's states in declared order, marked by what the entity went through."""
    visited = {t.to_state for t in history} | {t.from_state for t in history if t.from_state}
    nxt = set(machine.transitions.get(current or "", ())) if current else set()
    if current is None and machine.initial:
        nxt = {machine.initial}
    steps = []
    for state in machine.states:
        if state == current:
            status = "current"
        elif state in nxt:
            status = "next"
        elif state in visited:
            status = "done"
        else:
            status = "todo"
        steps.append(Step(state, status, state in machine.terminal))
    return steps


@router.get("/entities", include_in_schema=False)
def entities(request: Request) -> Response:
    """Entities of one kind; ``active`` (non-terminal) only unless ``all=1``; by state."""
    session = session_of(request)
    states = session.cl.states
    machines = {m.kind: m for m in states.machines()}
    counts = kind_counts(session)
    kinds = list(dict.fromkeys([k for k, _ in counts] + list(machines)))
    # Kinds without a machine: those among the most recently moved entities.
    kinds += [e.kind for e in states.entities(limit=100).items]
    kinds = list(dict.fromkeys(kinds))
    kind = request.query_params.get("kind", "")[:100] or (kinds[0] if kinds else "")
    state = request.query_params.get("state", "")[:100]
    show_all = request.query_params.get("all") == "1"
    cursor = request.query_params.get("cursor", "")[:512] or None
    error = None
    status_code = 200
    result: Page[Entity] = Page(items=(), total=None, page=1, limit=50)
    kind_count: dict[str | None, int] = {}
    if kind:
        try:
            kind_count = {s: n for s, n in states.counts(kind).items() if n}
            # One query: the kind, its state if one is picked, else active unless all=1.
            query = EntityQuery(
                kinds=(kind,),
                states=(state,) if state else None,
                active=None if state or show_all else True,
            )
            result = states.list(query, limit=50, cursor=cursor)
        except ValidationError as exc:
            error, status_code = exc.message, 400
    machine = machines.get(kind)
    order = list(machine.states) if machine else []
    ordered = sorted(
        kind_count.items(),
        key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), str(kv[0])),
    )
    return page(
        request,
        "entities.html",
        session,
        {
            "kinds": kinds,
            "kind": kind,
            "state": state,
            "show_all": show_all,
            "result": result,
            "counts": ordered,
            "machine": machine,
            "error": error,
        },
        status_code=status_code,
        nav="entities",
    )


@router.get("/entities/{kind}/{entity_id:path}", include_in_schema=False)
def entity(request: Request, kind: str, entity_id: str) -> Response:
    """One entity: state, pipeline, history (newest first) and children."""
    session = session_of(request)
    states = session.cl.states
    try:
        found = states.get(kind, entity_id)
        history = states.history(kind, entity_id, limit=1000)
        children = states.children(kind, entity_id)
        machine = states.machine(kind)
        parent = None
        if found.parent is not None:
            try:
                parent = states.get(*found.parent)
            except NotFound:
                parent = None
    except (NotFound, ValidationError) as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        return page(
            request,
            "missing.html",
            session,
            {"what": f"{kind}/{entity_id}"[:300], "message": exc.message},
            status_code=status,
            nav="entities",
        )
    steps = pipeline(machine, found.state, history) if machine else []
    jobs = list(session.cl.jobs.list(JobQuery(subject=(found.kind, found.id)), limit=50).items)
    return page(
        request,
        "entity.html",
        session,
        {
            "entity": found,
            "history": list(reversed(history)),
            "children": children,
            "machine": machine,
            "steps": steps,
            "parent": parent,
            "jobs": jobs,
        },
        nav="entities",
    )
