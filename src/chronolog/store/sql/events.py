"""Statements about events and their per-minute / per-hour counts.

Filters arrive as an :class:`EventFilter`; the WHERE clause is built here and
nowhere else, so the page, the total and the keyset cursor always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)

from ..dialect import Dialect
from ..schema import event_counts, events

__all__ = [
    "COUNT_KEYS",
    "EVENT_COLUMNS",
    "INSERT_COLUMNS",
    "EventFilter",
    "EventRow",
    "event_count",
    "event_counts_add",
    "event_delete_all",
    "event_delete_batch",
    "event_get",
    "event_insert_many",
    "event_page",
    "event_search_index_create",
    "event_search_index_drop",
    "event_search_index_present",
    "event_search_indexed",
    "event_status_set",
    "event_where",
    "notify_events",
]

INSERT_COLUMNS = (
    "project_id",
    "occurred_at",
    "event_type",
    "action",
    "status",
    "actor_type",
    "actor_id",
    "actor_name",
    "target_type",
    "target_id",
    "target_title",
    "error",
    "metadata",
)
"""Column order of the tuples :func:`event_insert_many` takes (``metadata`` as JSON text)."""


class EventRow(NamedTuple):
    """One event to insert, with named fields (``INSERT_COLUMNS``; ``metadata`` as JSON text).

    A tuple too: :func:`event_insert_many` and the counters take it as one.
    """

    project_id: int
    occurred_at: int
    event_type: str
    action: str
    status: str
    actor_type: str | None
    actor_id: str | None
    actor_name: str | None
    target_type: str | None
    target_id: str | None
    target_title: str | None
    error: str | None
    metadata: str | None


EVENT_COLUMNS = (events.c.id, *(events.c[name] for name in INSERT_COLUMNS))
"""Columns every event read returns, in this order."""

COUNT_KEYS = (  # the key of an event_counts row, in this order
    "project_id",
    "granularity",
    "bucket",
    "event_type",
    "action",
    "status",
    "actor_type",
    "target_type",
    "shard",
)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """The store's form of an ``EventQuery`` (``chronolog.query``): times resolved to
    microseconds, the project's id; ``None`` means "any". Built by the parts only
    (``events.event_filter``), as River's ``JobListParams.toDBParams()``."""

    project_id: int
    event_types: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None
    actor_types: tuple[str, ...] | None = None
    actor_id: str | None = None
    target_types: tuple[str, ...] | None = None
    target_id: str | None = None
    statuses: tuple[str, ...] | None = None
    search: str | None = None
    since: int | None = None
    until: int | None = None


_DIMENSIONS = (
    ("event_types", "event_type"),
    ("actions", "action"),
    ("statuses", "status"),
    ("actor_types", "actor_type"),
    ("target_types", "target_type"),
)
"""The filter lists that are columns of both ``events`` and ``event_counts``."""


def _dimension_terms(table: Table, f: EventFilter) -> list[ColumnElement[bool]]:
    # One place for the terms events and their counters share, so a page's total
    # summed from the counters filters exactly as the page does.
    return [
        table.c[column].in_(values)
        for name, column in _DIMENSIONS
        if (values := getattr(f, name)) is not None
    ]


def event_where(
    dialect: Dialect, f: EventFilter, *, search_index: bool = False
) -> list[ColumnElement[bool]]:
    """event_where: the WHERE terms of a filter (project first, for the indexes).

    ``search_index``: ask the search index for the search text (see
    :func:`event_search_indexed`); otherwise it is matched row by row.
    """
    terms: list[ColumnElement[bool]] = [events.c.project_id == f.project_id]
    terms += _dimension_terms(events, f)
    if f.actor_id is not None:
        terms.append(events.c.actor_id == f.actor_id)
    if f.target_id is not None:
        terms.append(events.c.target_id == f.target_id)
    indexed = (
        dialect.search_index_term(events.c.id, f.search) if f.search and search_index else None
    )
    if indexed is not None:
        terms.append(indexed)
    elif f.search:
        terms.append(
            or_(
                dialect.contains_ci(events.c.target_title, f.search),
                dialect.contains_ci(events.c.action, f.search),
            )
        )
    if f.since is not None:
        terms.append(events.c.occurred_at >= f.since)
    if f.until is not None:
        terms.append(events.c.occurred_at < f.until)
    return terms


def event_search_indexed(conn: Connection, dialect: Dialect, f: EventFilter) -> bool:
    """event_search_indexed: whether the search index answers ``f``'s search text.

    True only where a query must be rewritten to use it (SQLite's FTS5 table,
    text of three characters or more); PostgreSQL's trigram indexes serve the
    plain ``ILIKE`` terms by themselves.
    """
    if not f.search or dialect.search_index_term(events.c.id, f.search) is None:
        return False
    return dialect.search_index_present(conn)


def event_search_index_present(conn: Connection, dialect: Dialect) -> bool:
    """event_search_index_present: whether the opt-in search index exists."""
    return dialect.search_index_present(conn)


def event_search_index_create(conn: Connection, dialect: Dialect) -> None:
    """event_search_index_create: build the trigram search index (idempotent)."""
    dialect.search_index_create(conn)


def event_search_index_drop(conn: Connection, dialect: Dialect) -> None:
    """event_search_index_drop: remove the trigram search index (idempotent)."""
    dialect.search_index_drop(conn)


def event_insert_many(
    conn: Connection, dialect: Dialect, rows: Sequence[Sequence[Any]]
) -> list[int]:
    """event_insert_many: append events (tuples in ``INSERT_COLUMNS`` order); returns ids."""
    return dialect.insert_rows(conn, events, INSERT_COLUMNS, rows)


def event_counts_add(conn: Connection, dialect: Dialect, rows: Sequence[Sequence[Any]]) -> None:
    """event_counts_add: add to the per-bucket counters; rows are ``(*COUNT_KEYS, count)``.

    Negative counts subtract (a status change moves an event between counters).
    """
    dialect.upsert_add(conn, event_counts, COUNT_KEYS, "count", rows)


def event_get(conn: Connection, project_id: int, event_id: int) -> Row[Any] | None:
    """event_get: one event of a project by id."""
    return conn.execute(
        select(*EVENT_COLUMNS).where(events.c.project_id == project_id, events.c.id == event_id)
    ).first()


PAGE_BY_TIME = "ix_events_project_id_occurred_at_id"


def event_page(
    conn: Connection,
    terms: list[ColumnElement[bool]],
    *,
    limit: int,
    offset: int = 0,
    before: tuple[int, int] | None = None,
    dialect: Dialect | None = None,
    index: str | None = None,
) -> Sequence[Row[Any]]:
    """event_page: newest first; ``before`` = (occurred_at, id) continues a keyset walk.

    ``index`` pins the plan where the dialect needs it (see ``Dialect.use_index``).
    """
    where = list(terms)
    if before is not None:
        at, event_id = before
        # A row-value comparison (plus the redundant bound) lets both databases
        # start the index range at the cursor; an OR of the two cases does not.
        where.append(events.c.occurred_at <= at)
        where.append(tuple_(events.c.occurred_at, events.c.id) < tuple_(at, event_id))
    stmt = (
        select(*EVENT_COLUMNS)
        .where(*where)
        .order_by(events.c.occurred_at.desc(), events.c.id.desc())
        .limit(limit)
    )
    if offset:
        stmt = stmt.offset(offset)
    if dialect is not None and index is not None:
        stmt = dialect.use_index(stmt, events, index)
    return conn.execute(stmt).all()


def event_count(
    conn: Connection,
    terms: list[ColumnElement[bool]],
    *,
    dialect: Dialect | None = None,
    scan: bool = False,
    cap: int | None = None,
) -> int:
    """event_count: how many events match (``scan``: read the table, for text search).

    ``cap``: stop counting there (the answer is then at most ``cap``).
    """
    if cap is not None:
        found = select(events.c.id).where(*terms).limit(cap).subquery()
        return int(conn.execute(select(func.count()).select_from(found)).scalar_one())
    stmt = select(func.count()).select_from(events).where(*terms)
    if scan and dialect is not None:
        stmt = dialect.use_index(stmt, events, None)
    return int(conn.execute(stmt).scalar_one())


def event_status_set(
    conn: Connection, project_id: int, event_id: int, status: str, error: str | None
) -> None:
    """event_status_set: move an event along processing → success / error."""
    conn.execute(
        update(events)
        .where(events.c.project_id == project_id, events.c.id == event_id)
        .values(status=status, error=error)
    )


def event_delete_batch(conn: Connection, project_id: int, before: int, batch: int) -> int:
    """event_delete_batch: delete up to ``batch`` events older than ``before``; returns count."""
    oldest = (
        select(events.c.id)
        .where(events.c.project_id == project_id, events.c.occurred_at < before)
        .order_by(events.c.occurred_at)
        .limit(batch)
        .scalar_subquery()
    )
    return conn.execute(delete(events).where(events.c.id.in_(oldest))).rowcount


def event_delete_all(conn: Connection, project_id: int) -> int:
    """event_delete_all: delete every event and event count of a project."""
    conn.execute(delete(event_counts).where(event_counts.c.project_id == project_id))
    return conn.execute(delete(events).where(events.c.project_id == project_id)).rowcount


def notify_events(conn: Connection, dialect: Dialect, project_id: int) -> None:
    """notify_events: tell listeners in other processes that a project has new events."""
    dialect.notify(conn, "chronolog_events", str(project_id))


def event_oldest(conn: Connection, project_id: int) -> int | None:
    """event_oldest: the occurred_at of a project's oldest event (an index lookup)."""
    return conn.execute(
        select(func.min(events.c.occurred_at)).where(events.c.project_id == project_id)
    ).scalar()


def event_counts_oldest(conn: Connection, project_id: int, granularity: int) -> int | None:
    """event_counts_oldest: a project's oldest counter bucket (seconds) at a granularity."""
    return conn.execute(
        select(func.min(event_counts.c.bucket)).where(
            event_counts.c.project_id == project_id, event_counts.c.granularity == granularity
        )
    ).scalar()


def event_counts_sum(
    conn: Connection, f: EventFilter, granularity: int, start: int, end: int | None
) -> int:
    """event_counts_sum: events counted in buckets [start, end) seconds matching a filter's dimensions."""
    terms: list[ColumnElement[bool]] = [
        event_counts.c.project_id == f.project_id,
        event_counts.c.granularity == granularity,
        event_counts.c.bucket >= start,
    ]
    if end is not None:
        terms.append(event_counts.c.bucket < end)
    terms += _dimension_terms(event_counts, f)
    value = conn.execute(select(func.sum(event_counts.c.count)).where(*terms)).scalar()
    return int(value or 0)
