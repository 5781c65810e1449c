"""Statements about transitions: the history of entities (jobs keep theirs in events).

:func:`transition_append` is the one way to add history. The caller must
hold the subject's row lock (``SELECT … FOR UPDATE`` on PostgreSQL; the
write lock on SQLite) so the previous ``sort_key`` cannot change under it;
the schema's unique indexes turn any slip into a ``Conflict``, never into a
gap, a repeat or a second ``most_recent`` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from ..dialect import Dialect
from ..schema import entities, transition_slots, transitions
from ..schema.states import SLOT_MICROS
from . import AnyRow

__all__ = [
    "INSERT_COLUMNS",
    "TRANSITION_COLUMNS",
    "AppendedTransition",
    "TransitionFilter",
    "transition_any_between",
    "transition_append",
    "transition_clear_most_recent_many",
    "transition_clear_most_recent_one",
    "transition_current",
    "transition_distinct_between",
    "transition_distinct_edges",
    "transition_heads",
    "transition_history",
    "transition_insert_many",
    "transition_page",
    "transition_slot_counts_days",
    "transition_slot_counts_range",
    "transition_where",
]

INSERT_COLUMNS = (
    "project_id",
    "kind",
    "entity_id",
    "entity_pk",
    "sort_key",
    "from_state",
    "to_state",
    "most_recent",
    "actor_type",
    "actor_id",
    "actor_name",
    "metadata",
    "occurred_at",
    "event_id",
)
"""Column order of the tuples :func:`transition_insert_many` takes (``metadata`` as JSON text)."""

TRANSITION_COLUMNS = (
    transitions.c.id,
    transitions.c.kind,
    transitions.c.entity_id,
    transitions.c.sort_key,
    transitions.c.from_state,
    transitions.c.to_state,
    transitions.c.most_recent,
    transitions.c.occurred_at,
    transitions.c.actor_type,
    transitions.c.actor_id,
    transitions.c.actor_name,
    transitions.c.metadata,
    transitions.c.event_id,
    entities.c.title,
)
"""Columns every transition read returns (the entity's title last), in this order."""

_DAY = 86_400_000_000
_CHUNK = 400


@dataclass(frozen=True, slots=True)
class AppendedTransition:
    """What :func:`transition_append` wrote."""

    id: int
    sort_key: int
    from_state: str | None


def transition_current(
    conn: Connection, project_id: int, kind: str, entity_id: str
) -> tuple[int, int, str] | None:
    """transition_current: (id, sort_key, to_state) of a subject's most recent transition."""
    row = conn.execute(
        select(transitions.c.id, transitions.c.sort_key, transitions.c.to_state).where(
            transitions.c.project_id == project_id,
            transitions.c.kind == kind,
            transitions.c.entity_id == entity_id,
            transitions.c.most_recent == true(),
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def transition_append(
    conn: Connection,
    *,
    project_id: int,
    kind: str,
    entity_id: str,
    to_state: str,
    occurred_at: int,
    entity_pk: int | None = None,
    from_state: str | None = None,
    actor: tuple[str | None, str | None, str | None] = (None, None, None),
    metadata: dict[str, Any] | None = None,
    event_id: int | None = None,
) -> AppendedTransition:
    """transition_append: clear most_recent on the previous move and add the next one.

    ``from_state`` defaults to the previous transition's ``to_state``; pass it
    for a subject whose first transition starts from a known state (a
    machine's initial state).
    """
    current = transition_current(conn, project_id, kind, entity_id)
    sort_key = 1
    if current is not None:
        previous_id, previous_key, previous_state = current
        conn.execute(
            update(transitions).where(transitions.c.id == previous_id).values(most_recent=False)
        )
        sort_key = previous_key + 1
        if from_state is None:
            from_state = previous_state
    new_id = conn.execute(
        insert(transitions)
        .values(
            project_id=project_id,
            kind=kind,
            entity_id=entity_id,
            entity_pk=entity_pk,
            sort_key=sort_key,
            from_state=from_state,
            to_state=to_state,
            most_recent=True,
            actor_type=actor[0],
            actor_id=actor[1],
            actor_name=actor[2],
            metadata=metadata,
            occurred_at=occurred_at,
            event_id=event_id,
        )
        .returning(transitions.c.id)
    ).scalar_one()
    return AppendedTransition(id=int(new_id), sort_key=sort_key, from_state=from_state)


_HEAD_COLUMNS = (transitions.c.kind, transitions.c.entity_id, transitions.c.sort_key)
_HEAD_ONE = select(*_HEAD_COLUMNS).where(
    transitions.c.project_id == bindparam("b_project"),
    transitions.c.kind == bindparam("b_kind"),
    transitions.c.entity_id == bindparam("b_entity"),
    transitions.c.most_recent == true(),
)
_HEAD_MANY = select(*_HEAD_COLUMNS).where(
    transitions.c.project_id == bindparam("b_project"),
    transitions.c.kind == bindparam("b_kind"),
    transitions.c.entity_id.in_(bindparam("b_ids", expanding=True)),
    transitions.c.most_recent == true(),
)


def transition_heads(
    conn: Connection, project_id: int, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """transition_heads: the newest sort_key of each (kind, entity_id) that has history."""
    if len(keys) == 1:
        kind, entity_id = keys[0]
        params = {"b_project": project_id, "b_kind": kind, "b_entity": entity_id}
        return {(r[0], r[1]): int(r[2]) for r in conn.execute(_HEAD_ONE, params).all()}
    heads: dict[tuple[str, str], int] = {}
    grouped: dict[str, list[str]] = {}
    for kind, entity_id in sorted(keys):
        grouped.setdefault(kind, []).append(entity_id)
    for kind, ids in grouped.items():
        for start in range(0, len(ids), _CHUNK):
            params = {"b_project": project_id, "b_kind": kind, "b_ids": ids[start : start + _CHUNK]}
            rows = conn.execute(_HEAD_MANY, params).all()
            heads.update({(r[0], r[1]): int(r[2]) for r in rows})
    return heads


_CLEAR = (
    update(transitions)
    .where(
        transitions.c.project_id == bindparam("b_project"),
        transitions.c.kind == bindparam("b_kind"),
        transitions.c.entity_id == bindparam("b_entity"),
        transitions.c.most_recent == true(),
    )
    .values(most_recent=False)
)


def transition_clear_most_recent_many(
    conn: Connection, project_id: int, keys: Sequence[tuple[str, str]]
) -> None:
    """transition_clear_most_recent_many: unmark the newest move of each (kind, entity_id).

    Run before inserting the new most recent rows: the partial unique index
    allows one ``most_recent`` row per entity at every moment.
    """
    params = [{"b_project": project_id, "b_kind": k, "b_entity": e} for k, e in keys]
    if len(params) == 1:
        conn.execute(_CLEAR, params[0])
    elif params:
        conn.execute(_CLEAR, params)


_CLEAR_ONE_SQL = (
    "UPDATE transitions SET most_recent = false WHERE project_id = ? AND kind = ? "
    "AND entity_id = ? AND most_recent = true"
)


def transition_clear_most_recent_one(
    conn: Connection, dialect: Dialect, project_id: int, kind: str, entity_id: str
) -> None:
    """transition_clear_most_recent_one: the one-entity case of
    :func:`transition_clear_most_recent_many`, by hand-written SQL."""
    dialect.execute_raw(conn, _CLEAR_ONE_SQL, (project_id, kind, entity_id))


def transition_insert_many(
    conn: Connection, dialect: Dialect, rows: Sequence[Sequence[Any]]
) -> list[int]:
    """transition_insert_many: append transitions (tuples in ``INSERT_COLUMNS`` order); ids."""
    return dialect.insert_rows(conn, transitions, INSERT_COLUMNS, rows)


def _with_title() -> Any:
    return select(*TRANSITION_COLUMNS).select_from(
        transitions.outerjoin(entities, entities.c.pk == transitions.c.entity_pk)
    )


# Written by hand (``?`` placeholders, see ``Dialect.execute_raw``): one index range scan
# whose cost is smaller than SQLAlchemy's per-statement work around it.
_HISTORY_SQL = (
    "SELECT t.id, t.kind, t.entity_id, t.sort_key, t.from_state, t.to_state, t.most_recent, "
    "t.occurred_at, t.actor_type, t.actor_id, t.actor_name, t.metadata, t.event_id, e.title "
    "FROM transitions t LEFT JOIN entities e ON e.pk = t.entity_pk "
    "WHERE t.project_id = ? AND t.kind = ? AND t.entity_id = ? AND t.sort_key > ? "
    "ORDER BY t.sort_key LIMIT ?"
)


def transition_history(
    conn: Connection,
    dialect: Dialect,
    project_id: int,
    kind: str,
    entity_id: str,
    *,
    after: int = 0,
    limit: int | None = None,
) -> list[tuple[Any, ...]]:
    """transition_history: one subject's moves by sort_key ascending, after ``after``.

    Rows in ``TRANSITION_COLUMNS`` order; ``after`` and ``limit`` must fit an
    INTEGER (the caller checks).
    """
    params = (project_id, kind, entity_id, after, 2**31 - 1 if limit is None else limit)
    return dialect.execute_raw(conn, _HISTORY_SQL, params)


@dataclass(frozen=True, slots=True)
class TransitionFilter:
    """Filters of the timeline; ``None`` means "any"."""

    project_id: int
    kinds: tuple[str, ...] | None = None
    to_states: tuple[str, ...] | None = None
    since: int | None = None
    until: int | None = None


def transition_where(f: TransitionFilter) -> list[ColumnElement[bool]]:
    """transition_where: the WHERE terms of a timeline filter."""
    terms: list[ColumnElement[bool]] = [transitions.c.project_id == f.project_id]
    if f.kinds is not None:
        terms.append(transitions.c.kind.in_(f.kinds))
    if f.to_states is not None:
        terms.append(transitions.c.to_state.in_(f.to_states))
    if f.since is not None:
        terms.append(transitions.c.occurred_at >= f.since)
    if f.until is not None:
        terms.append(transitions.c.occurred_at < f.until)
    return terms


def transition_page(
    conn: Connection,
    terms: list[ColumnElement[bool]],
    *,
    limit: int,
    before: tuple[int, int] | None = None,
) -> Sequence[AnyRow]:
    """transition_page: moves newest first; ``before`` = (occurred_at, id) continues."""
    where = list(terms)
    if before is not None:
        at, ident = before
        where.append(
            or_(
                transitions.c.occurred_at < at,
                and_(transitions.c.occurred_at == at, transitions.c.id < ident),
            )
        )
    stmt = (
        _with_title()
        .where(*where)
        .order_by(transitions.c.occurred_at.desc(), transitions.c.id.desc())
        .limit(limit)
    )
    return conn.execute(stmt).all()


# -- distinct-entity counts from transition_slots (see migration 0006) ---------------------

_SLOTS_PER_DAY = _DAY // SLOT_MICROS


_later = transitions.alias("later")  # built once: an alias is costly to make per call
_count_statements: dict[tuple[Any, ...], Any] = {}


def _shape_terms(table: Any, f: TransitionFilter) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = [table.c.project_id == bindparam("b_project")]
    if f.kinds is not None:
        terms.append(table.c.kind.in_(bindparam("b_kinds", expanding=True)))
    if f.to_states is not None:
        terms.append(table.c.to_state.in_(bindparam("b_states", expanding=True)))
    return terms


def _shape_params(f: TransitionFilter, **more: int) -> dict[str, Any]:
    params: dict[str, Any] = {"b_project": f.project_id, **more}
    if f.kinds is not None:
        params["b_kinds"] = list(f.kinds)
    if f.to_states is not None:
        params["b_states"] = list(f.to_states)
    return params


def _count_statement(name: str, f: TransitionFilter, edges: int = 0) -> Any:
    """One prebuilt statement per (statement, filter shape): SQLAlchemy keeps its cache key."""
    key = (name, f.kinds is None, f.to_states is None, edges)
    stmt = _count_statements.get(key)
    if stmt is not None:
        return stmt
    s, t = transition_slots.c, transitions.c
    lo, hi = bindparam("b_lo", type_=BigInteger()), bindparam("b_hi", type_=BigInteger())
    if name == "days":
        local = s.slot + bindparam("b_shift")
        day = (local // _SLOTS_PER_DAY).label("day")
        stmt = (
            select(day, s.kind, s.to_state, func.sum(s.n))
            .where(
                *_shape_terms(transition_slots, f),
                s.slot >= lo,
                s.slot < hi,
                s.gap > local - (local // _SLOTS_PER_DAY) * _SLOTS_PER_DAY,
            )
            .group_by(day, s.kind, s.to_state)
        )
    elif name == "range":
        stmt = (
            select(s.kind, s.to_state, func.sum(s.n))
            .where(
                *_shape_terms(transition_slots, f), s.slot >= lo, s.slot < hi, s.gap > s.slot - lo
            )
            .group_by(s.kind, s.to_state)
        )
    elif name == "between":
        stmt = (
            select(t.kind, t.to_state, func.count(t.entity_id.distinct()))
            .where(*_shape_terms(transitions, f), t.occurred_at >= lo, t.occurred_at < hi)
            .group_by(t.kind, t.to_state)
        )
    else:
        u = _later.c
        in_core = exists().where(
            u.project_id == t.project_id,
            u.kind == t.kind,
            u.entity_id == t.entity_id,
            u.to_state == t.to_state,
            u.occurred_at >= bindparam("b_core_lo"),
            u.occurred_at < bindparam("b_core_hi"),
        )
        ranges = [
            and_(t.occurred_at >= bindparam(f"b_lo{i}"), t.occurred_at < bindparam(f"b_hi{i}"))
            for i in range(edges)
        ]
        stmt = (
            select(t.kind, t.to_state, func.count(t.entity_id.distinct()))
            .where(*_shape_terms(transitions, f), or_(*ranges), ~in_core)
            .group_by(t.kind, t.to_state)
        )
    if len(_count_statements) < 256:
        _count_statements[key] = stmt
    return stmt


def transition_slot_counts_days(
    conn: Connection, f: TransitionFilter, lo: int, hi: int, offset: int
) -> list[tuple[int, str, str, int]]:
    """transition_slot_counts_days: distinct entities per (local day, kind, to_state) over
    whole local days, from the slot counters.

    Slots [lo, hi) must cover whole days of a zone ``offset`` slots ahead of UTC
    (local day = (slot + offset) // 96, lo + offset >= 0). A move counts when
    its entity's previous move into the same state lies before its local day,
    i.e. when its gap exceeds the slots since local midnight.
    """
    params = _shape_params(f, b_lo=lo, b_hi=hi, b_shift=offset)
    rows = conn.execute(_count_statement("days", f), params).all()
    return [(int(r[0]), r[1], r[2], int(r[3])) for r in rows]


def transition_slot_counts_range(
    conn: Connection, f: TransitionFilter, lo: int, hi: int
) -> list[tuple[str, str, int]]:
    """transition_slot_counts_range: distinct entities per (kind, to_state) that moved
    during slots [lo, hi) (at most 100 slots), from the slot counters."""
    rows = conn.execute(_count_statement("range", f), _shape_params(f, b_lo=lo, b_hi=hi)).all()
    return [(r[0], r[1], int(r[2])) for r in rows]


def transition_distinct_between(
    conn: Connection, f: TransitionFilter, since: int, until: int
) -> list[tuple[str, str, int]]:
    """transition_distinct_between: distinct entities per (kind, to_state) that moved in
    [since, until), counted from the transitions themselves."""
    params = _shape_params(f, b_lo=since, b_hi=until)
    rows = conn.execute(_count_statement("between", f), params).all()
    return [(r[0], r[1], int(r[2])) for r in rows]


def transition_distinct_edges(
    conn: Connection,
    f: TransitionFilter,
    edges: Sequence[tuple[int, int]],
    core: tuple[int, int],
) -> list[tuple[str, str, int]]:
    """transition_distinct_edges: distinct entities per (kind, to_state) that moved in one
    of the ``edges`` time ranges but not in the ``core`` range (microseconds).

    Added to the slot counters' count of the core, this gives the exact count of
    a range whose ends are not on slot edges (with an empty ``core``, a plain
    distinct count).
    """
    params = _shape_params(f, b_core_lo=core[0], b_core_hi=core[1])
    for i, (lo, hi) in enumerate(edges):
        params[f"b_lo{i}"], params[f"b_hi{i}"] = lo, hi
    rows = conn.execute(_count_statement("edges", f, len(edges)), params).all()
    return [(r[0], r[1], int(r[2])) for r in rows]


_ANY_BETWEEN = (
    select(transitions.c.id)
    .where(
        transitions.c.project_id == bindparam("b_project"),
        transitions.c.occurred_at >= bindparam("b_lo", type_=BigInteger()),
        transitions.c.occurred_at < bindparam("b_hi", type_=BigInteger()),
    )
    .limit(1)
)


def transition_any_between(conn: Connection, project_id: int, since: int, until: int) -> bool:
    """transition_any_between: whether any move (of any kind) happened in [since, until)."""
    params = {"b_project": project_id, "b_lo": since, "b_hi": until}
    return conn.execute(_ANY_BETWEEN, params).first() is not None
