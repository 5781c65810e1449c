"""Statements of the gap-free feed: events in commit order from a (tx, id) position.

``events.tx`` is the writing transaction (PostgreSQL) or 0 (SQLite, where
writers are serialised and ids follow commit order). Rows are read in
(tx, id) order and, where the dialect has one, only below the visibility
bound: the oldest transaction still running. A row below it can no longer
appear later, so a reader that moves past it never skips a late commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, select, true, tuple_

from ..dialect import Dialect
from ..schema import events
from .events import EVENT_COLUMNS

__all__ = [
    "feed_bound",
    "feed_held_back",
    "feed_last_position",
    "feed_page",
    "feed_page_bounded",
]


def feed_bound(conn: Connection, dialect: Dialect) -> int | None:
    """feed_bound: the visibility bound now (exclusive), or None where commit order is id order."""
    bound = dialect.visible_tx_bound()
    if bound is None:
        return None
    return int(conn.execute(select(bound)).scalar_one())


def feed_page(
    conn: Connection,
    terms: list[ColumnElement[bool]],
    *,
    after: tuple[int, int],
    bound: int | None,
    limit: int,
) -> list[tuple[Any, ...]]:
    """feed_page: events after ``after`` = (tx, id) in (tx, id) order, below ``bound``.

    Rows are ``(tx, *EVENT_COLUMNS)``.
    """
    where = [*terms, tuple_(events.c.tx, events.c.id) > tuple_(*after)]
    if bound is not None:
        where.append(events.c.tx < bound)
    stmt = (
        select(events.c.tx, *EVENT_COLUMNS)
        .where(*where)
        .order_by(events.c.tx, events.c.id)
        .limit(limit)
    )
    return [tuple(row) for row in conn.execute(stmt)]


def feed_last_position(
    conn: Connection, project_id: int, bound: int | None
) -> tuple[int, int] | None:
    """feed_last_position: the (tx, id) of the last readable event of a project, or None."""
    stmt = select(events.c.tx, events.c.id).where(events.c.project_id == project_id)
    if bound is not None:
        stmt = stmt.where(events.c.tx < bound)
    row = conn.execute(stmt.order_by(events.c.tx.desc(), events.c.id.desc()).limit(1)).first()
    return None if row is None else (int(row[0]), int(row[1]))


def feed_held_back(conn: Connection, project_id: int, bound: int | None) -> bool:
    """feed_held_back: whether committed events wait above the bound (an older writer runs)."""
    if bound is None:
        return False
    return bool(
        conn.execute(
            select(exists().where(events.c.project_id == project_id, events.c.tx >= bound))
        ).scalar_one()
    )


def feed_page_bounded(
    conn: Connection,
    bound: ColumnElement[int],
    project_id: int,
    terms: list[ColumnElement[bool]],
    *,
    after: tuple[int, int],
    limit: int,
) -> tuple[int, bool, list[tuple[Any, ...]]]:
    """feed_page_bounded: bound, held-back flag and page in one statement (one round trip).

    One statement has one snapshot, and the bound is computed from that very
    snapshot, so every row below it is visible to the page. Returns
    ``(bound, held_back, rows)`` with rows as in :func:`feed_page`.
    """
    b = select(bound.label("v")).cte("bound")
    page = (
        select(events.c.tx, *EVENT_COLUMNS)
        .where(*terms, tuple_(events.c.tx, events.c.id) > tuple_(*after), events.c.tx < b.c.v)
        .order_by(events.c.tx, events.c.id)
        .limit(limit)
        .lateral("page")
    )
    held = (
        exists()
        .where(events.c.project_id == project_id, events.c.tx >= b.c.v)
        .correlate(b)
        .label("held")
    )
    stmt = select(b.c.v, held, *page.c).select_from(b.outerjoin(page, true()))
    result = conn.execute(stmt).all()
    first = result[0]
    rows = [tuple(r[2:]) for r in result if r[2] is not None]
    return int(first[0]), bool(first[1]), rows
