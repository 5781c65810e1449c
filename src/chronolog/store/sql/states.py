"""Statements about entities and state machines (history itself: :mod:`.transitions`).

Entity reads join the parent (for its kind and id) and the most recent
transition (for its metadata) in one statement, :func:`entity_select`; the
WHERE terms of a page come from :func:`entity_where` only, so a page and its
cursor always agree.
"""

from __future__ import annotations

import abc
from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import aliased

from ..._json import loads
from ..dialect import Dialect
from ..schema import entities, machines, transitions
from . import AnyRow

__all__ = [
    "EntityFilter",
    "LockedEntity",
    "LockedOne",
    "StateDriver",
    "entity_children",
    "entity_counts",
    "entity_create",
    "entity_delete",
    "entity_ensure",
    "entity_get",
    "entity_insert",
    "entity_insert_missing",
    "entity_keys",
    "entity_lock_many",
    "entity_lock_one",
    "entity_page",
    "entity_parent_of",
    "entity_pk_get",
    "entity_select",
    "entity_state_set_many",
    "entity_state_set_one",
    "entity_states_in_use",
    "entity_update",
    "entity_where",
    "keys_by_kind",
    "machine_definition",
    "machine_freeze_states",
    "machine_get",
    "machine_list",
    "machine_put",
]

_CHUNK = 400
"""Keys per ``IN`` list: well under SQLite's bound-parameter limit."""

_parent = aliased(entities, name="parent")

ENTITY_COLUMNS = (
    entities.c.pk,
    entities.c.kind,
    entities.c.entity_id,
    entities.c.title,
    _parent.c.kind.label("parent_kind"),
    _parent.c.entity_id.label("parent_id"),
    entities.c.attributes,
    entities.c.state,
    entities.c.state_since,
    entities.c.created_at,
    entities.c.updated_at,
    transitions.c.id.label("t_id"),
    transitions.c.sort_key,
    transitions.c.from_state,
    transitions.c.to_state,
    transitions.c.occurred_at,
    transitions.c.actor_type,
    transitions.c.actor_id,
    transitions.c.actor_name,
    transitions.c.metadata,
    transitions.c.event_id,
)
"""Columns every entity read returns, in this order."""


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def entity_select() -> Select[Any]:
    """entity_select: entities with their parent's key and their most recent transition."""
    return select(*ENTITY_COLUMNS).select_from(
        entities.outerjoin(_parent, _parent.c.pk == entities.c.parent_pk).outerjoin(
            transitions,
            and_(
                transitions.c.project_id == entities.c.project_id,
                transitions.c.kind == entities.c.kind,
                transitions.c.entity_id == entities.c.entity_id,
                transitions.c.most_recent == true(),
            ),
        )
    )


@dataclass(frozen=True, slots=True)
class EntityFilter:
    """Filters of an entity page; ``None`` means "any"."""

    project_id: int
    kinds: tuple[str, ...] | None = None
    states: tuple[str, ...] | None = None
    parent_pk: int | None = None
    since: int | None = None
    """Only entities whose current state began at or after this time."""
    until: int | None = None
    """Only entities whose current state began at or before this time."""
    terminal: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    """(kind, terminal states) of every machine of the kinds asked for: entities in one
    are left out, or with ``finished`` the only ones kept."""
    finished: bool = False
    """With ``terminal``: keep only the entities in a terminal state."""


def _terms(f: EntityFilter) -> list[ColumnElement[bool]]:
    """The WHERE terms of a filter's shape, every value a bound parameter."""
    terms: list[ColumnElement[bool]] = [entities.c.project_id == bindparam("b_project")]
    if f.kinds is not None:
        terms.append(
            entities.c.kind == bindparam("b_kind")
            if len(f.kinds) == 1
            else entities.c.kind.in_(bindparam("b_kinds", expanding=True))
        )
    if f.states is not None:
        terms.append(
            entities.c.state == bindparam("b_state")
            if len(f.states) == 1
            else entities.c.state.in_(bindparam("b_states", expanding=True))
        )
    if f.parent_pk is not None:
        terms.append(entities.c.parent_pk == bindparam("b_parent"))
    if f.since is not None:
        terms.append(entities.c.state_since >= bindparam("b_since"))
    if f.until is not None:
        terms.append(entities.c.state_since <= bindparam("b_until"))
    if f.terminal is not None:
        ended = [
            and_(entities.c.kind == kind, entities.c.state.in_(ends))
            for kind, ends in f.terminal
            if ends
        ]
        if f.finished:
            terms.append(or_(*ended) if ended else false())
        elif ended:
            terms.append(not_(or_(*ended)))
    return terms


def entity_where(f: EntityFilter) -> dict[str, Any]:
    """entity_where: the bound values of a filter, for :func:`entity_page`."""
    params: dict[str, Any] = {"b_project": f.project_id}
    if f.kinds is not None:
        params["b_kind" if len(f.kinds) == 1 else "b_kinds"] = (
            f.kinds[0] if len(f.kinds) == 1 else list(f.kinds)
        )
    if f.states is not None:
        params["b_state" if len(f.states) == 1 else "b_states"] = (
            f.states[0] if len(f.states) == 1 else list(f.states)
        )
    if f.parent_pk is not None:
        params["b_parent"] = f.parent_pk
    if f.since is not None:
        params["b_since"] = f.since
    if f.until is not None:
        params["b_until"] = f.until
    return params


_pages: dict[tuple[Any, ...], Select[Any]] = {}
_END = 2**62


def _page_statement(f: EntityFilter, keyset: bool) -> Select[Any]:
    # One statement per filter shape, built once: its cache key stays memoised.
    shape = (
        None if f.kinds is None else len(f.kinds) == 1,
        None if f.states is None else len(f.states) == 1,
        f.parent_pk is not None,
        f.since is not None,
        f.until is not None,
        f.terminal,
        f.finished,
        keyset,
    )
    stmt = _pages.get(shape)
    if stmt is None:
        where = _terms(f)
        since = entities.c.state_since  # never NULL (set at creation): the index gives the order
        if keyset:
            at, pk = bindparam("b_at", type_=BigInteger()), bindparam("b_pk", type_=BigInteger())
            where.append(or_(since < at, and_(since == at, entities.c.pk < pk)))
        stmt = (
            entity_select()
            .where(*where)
            .order_by(since.desc(), entities.c.pk.desc())
            .limit(bindparam("b_limit"))
        )
        if len(_pages) < 256:
            _pages[shape] = stmt
    return stmt


def entity_page(
    conn: Connection,
    f: EntityFilter,
    *,
    limit: int,
    before: tuple[int, int] | None = None,
) -> Sequence[AnyRow]:
    """entity_page: entities newest state first; ``before`` = (state_since, pk) continues."""
    params = entity_where(f)
    params["b_limit"] = limit
    # Page 1 runs the keyset statement from "after everything": one statement
    # shape, and SQLite walks the index backwards from a bound ~10x faster than
    # from the open end of the (kind, state) range.
    params["b_at"], params["b_pk"] = before if before is not None else (_END, _END)
    return conn.execute(_page_statement(f, True), params).all()


def entity_get(conn: Connection, project_id: int, kind: str, entity_id: str) -> AnyRow | None:
    """entity_get: one entity by kind and id, with parent key and current transition."""
    return conn.execute(
        entity_select().where(
            entities.c.project_id == project_id,
            entities.c.kind == kind,
            entities.c.entity_id == entity_id,
        )
    ).first()


def entity_children(
    conn: Connection, project_id: int, parent_pk: int, child_kind: str | None
) -> Sequence[AnyRow]:
    """entity_children: the children of an entity, oldest first."""
    where = [entities.c.project_id == project_id, entities.c.parent_pk == parent_pk]
    if child_kind is not None:
        where.append(entities.c.kind == child_kind)
    stmt = entity_select().where(*where).order_by(entities.c.created_at, entities.c.pk)
    return conn.execute(stmt).all()


def entity_pk_get(conn: Connection, project_id: int, kind: str, entity_id: str) -> int | None:
    """entity_pk_get: the row key of an entity."""
    value = conn.execute(
        select(entities.c.pk).where(
            entities.c.project_id == project_id,
            entities.c.kind == kind,
            entities.c.entity_id == entity_id,
        )
    ).scalar()
    return None if value is None else int(value)


def entity_ensure(
    conn: Connection, dialect: Dialect, project_id: int, kind: str, entity_id: str, now: int
) -> int:
    """entity_ensure: the pk of entity (kind, id), creating a bare row when it is new."""
    where = (
        entities.c.project_id == project_id,
        entities.c.kind == kind,
        entities.c.entity_id == entity_id,
    )
    pk = conn.execute(select(entities.c.pk).where(*where)).scalar_one_or_none()
    if pk is not None:
        return int(pk)
    conn.execute(
        dialect.insert_ignore(entities, ["project_id", "kind", "entity_id"]).values(
            project_id=project_id,
            kind=kind,
            entity_id=entity_id,
            # The states part pages entities by (state, state_since): never leave it NULL.
            state_since=now,
            created_at=now,
            updated_at=now,
        )
    )
    return int(conn.execute(select(entities.c.pk).where(*where)).scalar_one())


def entity_keys(conn: Connection, pks: Iterable[int]) -> dict[int, tuple[str, str]]:
    """entity_keys: (kind, id) of entities by pk."""
    wanted = sorted(set(pks))
    if not wanted:
        return {}
    rows = conn.execute(
        select(entities.c.pk, entities.c.kind, entities.c.entity_id).where(
            entities.c.pk.in_(wanted)
        )
    )
    return {int(r[0]): (r[1], r[2]) for r in rows}


def entity_parent_of(conn: Connection, pk: int) -> int | None:
    """entity_parent_of: the parent row key of an entity row (to refuse cycles)."""
    value = conn.execute(select(entities.c.parent_pk).where(entities.c.pk == pk)).scalar()
    return None if value is None else int(value)


_LOCK_COLUMNS = (
    entities.c.pk,
    entities.c.kind,
    entities.c.entity_id,
    entities.c.state,
    entities.c.title,
)
# Built once: a statement object reused across calls keeps SQLAlchemy's cache key
# memoised, which matters on the one-move-per-transaction path.
_LOCK_ONE = select(*_LOCK_COLUMNS).where(
    entities.c.project_id == bindparam("b_project"),
    entities.c.kind == bindparam("b_kind"),
    entities.c.entity_id == bindparam("b_entity"),
)
_LOCK_MANY = (
    select(*_LOCK_COLUMNS)
    .where(
        entities.c.project_id == bindparam("b_project"),
        # kind = ? AND entity_id IN (…), not (kind, entity_id) IN (…): SQLite uses
        # only the index prefix before a row-value IN and would scan the kind.
        entities.c.kind == bindparam("b_kind"),
        entities.c.entity_id.in_(bindparam("b_ids", expanding=True)),
    )
    .order_by(entities.c.kind, entities.c.entity_id)
)
_locking: dict[tuple[str, bool], Select[Any]] = {}


def _lock_statement(dialect: Dialect, one: bool) -> Select[Any]:
    key = (dialect.name, one)
    if key not in _locking:
        _locking[key] = dialect.for_update(_LOCK_ONE if one else _LOCK_MANY)
    return _locking[key]


def entity_lock_many(
    conn: Connection, dialect: Dialect, project_id: int, keys: Sequence[tuple[str, str]]
) -> list[AnyRow]:
    """entity_lock_many: (pk, kind, entity_id, state, title) of entities, locked until commit.

    Rows are locked in (kind, entity_id) order, so two batches touching the
    same entities queue instead of deadlocking.
    """
    if len(keys) == 1:
        kind, entity_id = keys[0]
        params = {"b_project": project_id, "b_kind": kind, "b_entity": entity_id}
        return list(conn.execute(_lock_statement(dialect, True), params).all())
    rows: list[AnyRow] = []
    for kind, ids in keys_by_kind(keys):
        for chunk in _chunks(ids):
            params_many = {"b_project": project_id, "b_kind": kind, "b_ids": list(chunk)}
            rows.extend(conn.execute(_lock_statement(dialect, False), params_many).all())
    return rows


LockedEntity = namedtuple("LockedEntity", "pk kind entity_id state title")
"""A locked entity row, as :func:`entity_lock_many` returns it."""

LockedOne = tuple[LockedEntity, dict[str, Any] | None, int | None]
"""What :meth:`StateDriver.entity_lock_one` returns: the locked entity, its kind's
machine definition, and its newest sort_key (``None``: no history yet)."""


class StateDriver(abc.ABC):
    """The states part's hot operations, written once per database (``Dialect.states``)."""

    @abc.abstractmethod
    def entity_lock_one(
        self, conn: Connection, project_id: int, kind: str, entity_id: str
    ) -> LockedOne | None:
        """An existing entity locked until commit, with its kind's machine definition and
        its newest sort_key; ``None`` if it does not exist. Run on every one-entity move."""


def machine_definition(value: Any) -> dict[str, Any] | None:
    """A machine definition as stored (a dict, or JSON text from a raw driver)."""
    found: dict[str, Any] | None = loads(value) if isinstance(value, str | bytes) else value
    return found


def entity_lock_one(
    conn: Connection, dialect: Dialect, project_id: int, kind: str, entity_id: str
) -> LockedOne | None:
    """entity_lock_one: an existing entity locked until commit, with its kind's machine
    definition and its newest sort_key (``None``: no history); ``None`` if it does not exist.

    A whole operation per database (:class:`StateDriver`): SQLite reads it all
    in one statement under its write lock; PostgreSQL locks the row first.
    """
    return dialect.states.entity_lock_one(conn, project_id, kind, entity_id)


def keys_by_kind(keys: Sequence[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """keys_by_kind: (kind, sorted ids) groups of (kind, id) keys, in key order."""
    grouped: dict[str, list[str]] = {}
    for kind, entity_id in sorted(keys):
        grouped.setdefault(kind, []).append(entity_id)
    return list(grouped.items())


def entity_insert_missing(
    conn: Connection, dialect: Dialect, rows: Sequence[dict[str, Any]]
) -> None:
    """entity_insert_missing: create entities whose (project, kind, id) is not taken yet."""
    dialect.insert_missing(conn, entities, ("project_id", "kind", "entity_id"), rows)


def entity_create(conn: Connection, dialect: Dialect, values: dict[str, Any]) -> int | None:
    """entity_create: create an entity unless its (project, kind, id) is taken; its row key
    when this statement created it, ``None`` when it existed (or a concurrent writer won)."""
    stmt = (
        dialect.insert_ignore(entities, ("project_id", "kind", "entity_id"))
        .values(**values)
        .returning(entities.c.pk)
    )
    value = conn.execute(stmt).scalar()
    return None if value is None else int(value)


def entity_insert(conn: Connection, values: dict[str, Any]) -> int:
    """entity_insert: create one entity; returns its row key."""
    return int(
        conn.execute(insert(entities).values(**values).returning(entities.c.pk)).scalar_one()
    )


def entity_update(conn: Connection, pk: int, values: dict[str, Any]) -> None:
    """entity_update: change an entity's title, parent, attributes or timestamps."""
    conn.execute(update(entities).where(entities.c.pk == pk).values(**values))


_STATE_SET = (
    update(entities)
    .where(entities.c.pk == bindparam("b_pk"))
    .values(
        state=bindparam("b_state"),
        state_since=bindparam("b_since"),
        updated_at=bindparam("b_now"),
        title=func.coalesce(bindparam("b_title"), entities.c.title),
        parent_pk=func.coalesce(bindparam("b_parent"), entities.c.parent_pk),
    )
)


def entity_state_set_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """entity_state_set_many: record entities' new current state (and title / parent if given).

    Rows: ``b_pk``, ``b_state``, ``b_since``, ``b_now``, ``b_title`` and
    ``b_parent`` (``None`` keeps the old value).
    """
    if len(rows) == 1:
        conn.execute(_STATE_SET, rows[0])
    elif rows:
        conn.execute(_STATE_SET, list(rows))


_STATE_SET_ONE_SQL = (
    "UPDATE entities SET state = ?, state_since = ?, updated_at = ?, "
    "title = COALESCE(?, title), parent_pk = COALESCE(?, parent_pk) WHERE pk = ?"
)


def entity_state_set_one(
    conn: Connection,
    dialect: Dialect,
    pk: int,
    state: str,
    since: int,
    now: int,
    title: str | None,
    parent_pk: int | None,
) -> None:
    """entity_state_set_one: :func:`entity_state_set_many` for one entity, by hand-written SQL."""
    dialect.execute_raw(conn, _STATE_SET_ONE_SQL, (state, since, now, title, parent_pk, pk))


def entity_delete(conn: Connection, project_id: int, kind: str, entity_id: str) -> int:
    """entity_delete: delete an entity and its whole history; returns transitions removed."""
    removed = conn.execute(
        delete(transitions).where(
            transitions.c.project_id == project_id,
            transitions.c.kind == kind,
            transitions.c.entity_id == entity_id,
        )
    ).rowcount
    conn.execute(
        delete(entities).where(
            entities.c.project_id == project_id,
            entities.c.kind == kind,
            entities.c.entity_id == entity_id,
        )
    )
    return int(removed)


def entity_counts(conn: Connection, project_id: int, kind: str) -> list[tuple[str | None, int]]:
    """entity_counts: how many entities of a kind are in each state."""
    rows = conn.execute(
        select(entities.c.state, func.count())
        .where(entities.c.project_id == project_id, entities.c.kind == kind)
        .group_by(entities.c.state)
    ).all()
    return [(r[0], int(r[1])) for r in rows]


def entity_states_in_use(conn: Connection, project_id: int, kind: str) -> set[str]:
    """entity_states_in_use: every state some entity (or job) of a kind is in now."""
    in_entities = select(entities.c.state).where(
        entities.c.project_id == project_id,
        entities.c.kind == kind,
        entities.c.state.is_not(None),
    )
    in_history = select(transitions.c.to_state).where(
        transitions.c.project_id == project_id,
        transitions.c.kind == kind,
        transitions.c.most_recent == true(),
    )
    return {r[0] for r in conn.execute(in_entities.union(in_history)).all()}


_MACHINE_ONE = select(machines.c.definition).where(
    machines.c.project_id == bindparam("b_project"), machines.c.kind == bindparam("b_kind")
)


def machine_get(conn: Connection, project_id: int, kind: str) -> dict[str, Any] | None:
    """machine_get: a kind's stored definition."""
    value = conn.execute(_MACHINE_ONE, {"b_project": project_id, "b_kind": kind}).scalar()
    return value if isinstance(value, dict) else None


_MACHINES_OF = (
    select(machines.c.kind, machines.c.definition)
    .where(
        machines.c.project_id == bindparam("b_project"),
        machines.c.kind.in_(bindparam("b_kinds", expanding=True)),
    )
    .order_by(machines.c.kind)
)


def machine_list(
    conn: Connection, project_id: int, kinds: Sequence[str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """machine_list: (kind, definition) of a project's machines (of ``kinds``), by kind."""
    if kinds is not None and len(kinds) == 1:
        definition = machine_get(conn, project_id, kinds[0])
        return [] if definition is None else [(kinds[0], definition)]
    if kinds is not None:
        rows = conn.execute(_MACHINES_OF, {"b_project": project_id, "b_kinds": list(kinds)})
        return [(r[0], r[1]) for r in rows.all()]
    stmt = select(machines.c.kind, machines.c.definition).where(machines.c.project_id == project_id)
    return [(r[0], r[1]) for r in conn.execute(stmt.order_by(machines.c.kind)).all()]


def machine_put(
    conn: Connection,
    dialect: Dialect,
    project_id: int,
    kind: str,
    definition: dict[str, Any],
    now: int,
) -> None:
    """machine_put: store (or replace) a kind's definition."""
    row = {"project_id": project_id, "kind": kind, "definition": definition, "updated_at": now}
    dialect.insert_missing(conn, machines, ("project_id", "kind"), [row])
    conn.execute(
        update(machines)
        .where(machines.c.project_id == project_id, machines.c.kind == kind)
        .values(definition=definition, updated_at=now)
    )


def machine_freeze_states(conn: Connection, dialect: Dialect) -> None:
    """machine_freeze_states: hold off every state writer until commit (to redefine a machine)."""
    dialect.lock_out_writers(conn, [entities, transitions])
