"""Applying moves: validate a batch, then write it in one transaction.

Order inside the transaction (every step runs for the whole batch at once):

1. lock the entities' rows in (kind, id) order, creating missing ones with
   ``INSERT … ON CONFLICT DO NOTHING`` (a concurrent creator makes us wait
   and then find its row, not fail);
2. read each entity's newest ``sort_key`` (a fresh statement, so on
   PostgreSQL it sees whatever the previous lock holder committed);
3. walk the moves in order, checking ``expected_from`` and the machine;
   any refusal raises before anything is written (and the transaction
   rolls back the rows of step 1);
4. append the activity events, clear ``most_recent`` on the previous moves,
   insert the new ones, update the entities' current state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from .. import _json
from .._scope import Scope
from .._time import from_micros, require_aware, to_micros
from .._validate import ACTOR_LIMITS, party
from ..errors import Conflict, InvalidTransition, NotFound, ValidationError
from ..events import Events
from ..models import Actor
from ..store.sql import states as sql
from ..store.sql import transitions as tsql
from .machine import check_entity_id, check_kind, check_state, machine_from_json
from .models import Machine, Transition

__all__ = ["Move", "apply_moves", "check_title", "parse_move", "parse_parent", "resolve_parent"]

_MOVE_FIELDS = frozenset(
    {"kind", "id", "to", "actor", "metadata", "title", "parent", "expected_from", "occurred_at"}
)
_EVENT_OVERHEAD = 1024
"""Bytes kept free in the event's metadata for the from / to / sort_key wrapper."""


@dataclass(frozen=True, slots=True)
class Move:
    """One validated move, ready to apply."""

    kind: str
    entity_id: str
    to: str
    actor: tuple[str | None, str | None, str | None]
    metadata: dict[str, Any] | None
    metadata_text: str | None
    title: str | None
    parent: tuple[str, str] | None
    expected_from: str | None
    occurred_at: int | None


def parse_parent(value: Any) -> tuple[str, str] | None:
    """A parent given as (kind, id) or an object with ``kind`` and ``id`` attributes."""
    if value is None:
        return None
    if hasattr(value, "kind") and hasattr(value, "id") and not isinstance(value, tuple):
        value = (value.kind, value.id)
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ValidationError("parent must be a (kind, id) pair or an Entity", field="parent")
    return check_kind(value[0]), check_entity_id(value[1], "parent id")


def check_title(value: Any, scope: Scope) -> str | None:
    """A title: ``None`` or text within the size limit."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("title must be text", field="title")
    if len(value) > scope.limits.text_chars:
        raise ValidationError(
            f"title is longer than {scope.limits.text_chars} characters", field="title"
        )
    return value


def parse_move(scope: Scope, item: Any) -> Move:
    """Validate one move given as a mapping or a (kind, id, to) tuple."""
    if isinstance(item, tuple | list) and len(item) == 3:
        item = {"kind": item[0], "id": item[1], "to": item[2]}
    if not isinstance(item, Mapping):
        raise ValidationError(
            f"a move must be a mapping or a (kind, id, to) tuple, got {type(item).__name__}"
        )
    unknown = set(item) - _MOVE_FIELDS
    if unknown:
        raise ValidationError(f"unknown move fields: {sorted(unknown)}")
    kind = check_kind(item.get("kind"), writing=True)
    actor = party(item.get("actor"), "actor", Actor, ACTOR_LIMITS, scope.limits.text_chars)
    metadata, metadata_text = _json.check_object(
        item.get("metadata"),
        name="metadata",
        limit=max(scope.limits.metadata_bytes - _EVENT_OVERHEAD, 0),
    )
    expected = item.get("expected_from")
    at = item.get("occurred_at")
    return Move(
        kind=kind,
        entity_id=check_entity_id(item.get("id")),
        to=check_state(item.get("to"), "to"),
        actor=actor,
        metadata=metadata,
        metadata_text=metadata_text,
        title=check_title(item.get("title"), scope),
        parent=parse_parent(item.get("parent")),
        expected_from=None if expected is None else check_state(expected, "expected_from"),
        occurred_at=None if at is None else to_micros(require_aware(at, "occurred_at")),
    )


@dataclass(slots=True)
class _Planned:
    move: Move
    entity_pk: int
    sort_key: int
    from_state: str | None
    occurred_at: int
    last: bool = False


def resolve_parent(
    conn: Connection, scope: Scope, kind: str, entity_id: str, parent: tuple[str, str], own_pk: int
) -> int:
    """The row key of ``parent``; ``NotFound`` if absent, ``ValidationError`` for a cycle."""
    pk = sql.entity_pk_get(conn, scope.project_id, *parent)
    if pk is None:
        raise NotFound(f"parent {parent[0]}/{parent[1]} not found", field="parent")
    ancestor: int | None = pk
    for _ in range(64):  # refuse cycles: the entity may not be its own ancestor
        if ancestor is None:
            return pk
        if ancestor == own_pk:
            raise ValidationError(
                f"{kind}/{entity_id} cannot have {parent[0]}/{parent[1]} as "
                "parent: that would make it its own ancestor",
                field="parent",
            )
        ancestor = sql.entity_parent_of(conn, ancestor)
    raise ValidationError("parent chain is deeper than 64 levels", field="parent")


def apply_moves(scope: Scope, conn: Connection, moves: list[Move]) -> list[Transition]:
    """Apply validated moves in order inside ``conn``'s transaction; all or nothing."""
    pid = scope.project_id
    dialect = scope.store.dialect
    now = to_micros(scope.clock())
    keys = sorted({(m.kind, m.entity_id) for m in moves})
    # One existing entity (the common single move): its lock, machine and newest
    # sort_key in as few statements as the database allows.
    locked = sql.entity_lock_one(conn, dialect, pid, *keys[0]) if len(keys) == 1 else None
    if locked is not None:
        row, definition, head = locked
        machines = {} if definition is None else {row.kind: _machine(row.kind, definition)}
        rows: dict[tuple[str, str], Any] = {keys[0]: row}
        heads = {} if head is None else {keys[0]: head}
    else:
        machines = {
            kind: machine_from_json(kind, d)
            for kind, d in sql.machine_list(conn, pid, sorted({k for k, _ in keys}))
        }
        rows = {(r.kind, r.entity_id): r for r in sql.entity_lock_many(conn, dialect, pid, keys)}
        rows, heads = _lock_missing(scope, conn, moves, keys, machines, rows, now)
    state = {k: rows[k].state for k in keys}
    sort = {k: heads.get(k, 0) for k in keys}
    plan: list[_Planned] = []
    last_index: dict[tuple[str, str], int] = {}
    for move in moves:
        key = (move.kind, move.entity_id)
        current = state[key]
        if move.expected_from is not None and current != move.expected_from:
            raise Conflict(
                f"{move.kind}/{move.entity_id} is in state {current!r}, "
                f"not the expected {move.expected_from!r}",
                kind=move.kind,
                id=move.entity_id,
                state=current,
                expected=move.expected_from,
            )
        machine = machines.get(move.kind)
        from_state = current
        if machine is not None:
            created = sort[key] == 0 and current is not None and current == machine.initial
            if created and move.to == machine.initial:
                from_state = None  # the move that creates it in its initial state
            elif not machine.allows(current, move.to):
                allowed = list(machine.allowed(current))
                raise InvalidTransition(
                    f"{move.kind}/{move.entity_id}: the {move.kind} machine does not allow "
                    f"{current!r} → {move.to!r}; allowed from {current!r}: {allowed}",
                    kind=move.kind,
                    id=move.entity_id,
                    from_state=current,
                    to_state=move.to,
                    allowed=allowed,
                )
        sort[key] += 1
        state[key] = move.to
        at = move.occurred_at if move.occurred_at is not None else now
        plan.append(_Planned(move, rows[key].pk, sort[key], from_state, at))
        last_index[key] = len(plan) - 1
    for index in last_index.values():
        plan[index].last = True
    parents = {
        (p.move.kind, p.move.entity_id): resolve_parent(
            conn, scope, p.move.kind, p.move.entity_id, p.move.parent, p.entity_pk
        )
        for p in plan
        if p.move.parent is not None
    }
    events = Events(scope)
    event_rows = events.prepare(
        [
            {
                "event_type": p.move.kind,
                "action": p.move.to,
                "actor": _actor(p.move.actor),
                "target": {
                    "type": p.move.kind,
                    "id": p.move.entity_id,
                    "title": p.move.title or _title(rows, p),
                },
                "occurred_at": from_micros(p.occurred_at),
                "metadata": _event_metadata(p),
            }
            for p in plan
        ]
    )
    event_ids = events.write_prepared(conn, event_rows, check_types=False)
    if len(keys) == 1 and heads:
        tsql.transition_clear_most_recent_one(conn, dialect, pid, *keys[0])
    else:
        tsql.transition_clear_most_recent_many(conn, pid, [k for k in keys if k in heads])
    ids = tsql.transition_insert_many(
        conn,
        dialect,
        [
            (
                pid,
                p.move.kind,
                p.move.entity_id,
                p.entity_pk,
                p.sort_key,
                p.from_state,
                p.move.to,
                p.last,
                *p.move.actor,
                p.move.metadata_text,
                p.occurred_at,
                event_id,
            )
            for p, event_id in zip(plan, event_ids, strict=True)
        ],
    )
    titles: dict[tuple[str, str], str] = {}
    for p in plan:
        if p.move.title is not None:
            titles[(p.move.kind, p.move.entity_id)] = p.move.title
    if len(plan) == 1:
        last = plan[0]
        key = (last.move.kind, last.move.entity_id)
        sql.entity_state_set_one(
            conn,
            dialect,
            last.entity_pk,
            last.move.to,
            last.occurred_at,
            now,
            titles.get(key),
            parents.get(key),
        )
    else:
        sql.entity_state_set_many(
            conn,
            [
                {
                    "b_pk": plan[i].entity_pk,
                    "b_state": plan[i].move.to,
                    "b_since": plan[i].occurred_at,
                    "b_now": now,
                    "b_title": titles.get(key),
                    "b_parent": parents.get(key),
                }
                for key, i in sorted(last_index.items())
            ],
        )
    return [
        Transition(
            id=ident,
            kind=p.move.kind,
            entity_id=p.move.entity_id,
            sort_key=p.sort_key,
            from_state=p.from_state,
            to_state=p.move.to,
            most_recent=p.last,
            occurred_at=from_micros(p.occurred_at),
            actor=_actor(p.move.actor),
            metadata=p.move.metadata,
            event_id=event_id,
            title=p.move.title or _title(rows, p),
        )
        for p, ident, event_id in zip(plan, ids, event_ids, strict=True)
    ]


def _lock_missing(
    scope: Scope,
    conn: Connection,
    moves: list[Move],
    keys: list[tuple[str, str]],
    machines: dict[str, Machine],
    rows: dict[tuple[str, str], Any],
    now: int,
) -> tuple[dict[tuple[str, str], Any], dict[tuple[str, str], int]]:
    """Create and lock the entities not found yet; (rows, newest sort_keys) of all."""
    pid = scope.project_id
    dialect = scope.store.dialect
    missing = [k for k in keys if k not in rows]
    if missing:
        new_titles = {(m.kind, m.entity_id): m.title for m in moves if m.title is not None}
        new_rows = []
        for kind, ident in missing:
            machine = machines.get(kind)
            initial = machine.initial if machine is not None else None
            new_rows.append(
                {
                    "project_id": pid,
                    "kind": kind,
                    "entity_id": ident,
                    "title": new_titles.get((kind, ident)),
                    "state": initial,
                    "state_since": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        sql.entity_insert_missing(conn, dialect, new_rows)
        for r in sql.entity_lock_many(conn, dialect, pid, missing):
            rows[(r.kind, r.entity_id)] = r
    return rows, tsql.transition_heads(conn, pid, keys)


_machines: dict[tuple[str, str], Machine] = {}


def _machine(kind: str, definition: dict[str, Any]) -> Machine:
    # Parsed once per (kind, definition): every single move reads its kind's machine.
    key = (kind, _json.dumps(definition))
    machine = _machines.get(key)
    if machine is None:
        machine = machine_from_json(kind, definition)
        if len(_machines) < 1024:
            _machines[key] = machine
    return machine


def _title(rows: dict[tuple[str, str], Any], p: _Planned) -> str | None:
    title = rows[(p.move.kind, p.move.entity_id)].title
    return title if isinstance(title, str) else None


def _actor(actor: tuple[str | None, str | None, str | None]) -> Actor | None:
    kind, ident, name = actor
    return None if kind is None else Actor(kind, ident, name)


def _event_metadata(p: _Planned) -> dict[str, Any]:
    data: dict[str, Any] = {"from": p.from_state, "to": p.move.to, "sort_key": p.sort_key}
    if p.move.metadata is not None:
        data["metadata"] = p.move.metadata
    return data
