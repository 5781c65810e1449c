"""Statements that read the event rollups (``event_counts``) for charts.

A chart asks for time ranges at one granularity each (minute rows for the
ragged edges, hour rows for whole hours); every range is one indexed range
scan on the rollup primary key, summed over shards in SQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, delete, func, literal, select

from ..schema import event_counts

__all__ = [
    "GROUP_COLUMNS",
    "CountFilter",
    "count_delete_batch",
    "count_oldest_bucket",
    "count_ranges",
]

GROUP_COLUMNS = ("action", "event_type", "status", "actor_type", "target_type")
"""The rollup keys a chart can be grouped by."""


@dataclass(frozen=True, slots=True)
class CountFilter:
    """Which rollup rows a chart counts; ``None`` means "any"."""

    project_id: int
    event_types: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    actor_types: tuple[str, ...] | None = None
    target_types: tuple[str, ...] | None = None


def _where(f: CountFilter) -> list[ColumnElement[bool]]:
    c = event_counts.c
    terms: list[ColumnElement[bool]] = [c.project_id == f.project_id]
    for column, values in (
        (c.event_type, f.event_types),
        (c.action, f.actions),
        (c.status, f.statuses),
        (c.actor_type, f.actor_types),
        (c.target_type, f.target_types),
    ):
        if values is not None:
            terms.append(column.in_(values))
    return terms


def _bucket_index(edges: Sequence[int]) -> ColumnElement[int]:
    """The chart bucket of a rollup row: arithmetic for equal sizes, else a CASE."""
    c = event_counts.c
    sizes = {b - a for a, b in itertools.pairwise(edges)}
    if len(sizes) == 1:
        return (c.bucket - edges[0]) // sizes.pop()
    whens = [(c.bucket < edge, index) for index, edge in enumerate(edges[1:-1])]
    return case(*whens, else_=len(edges) - 2)


def count_ranges(
    conn: Connection,
    f: CountFilter,
    ranges: Sequence[tuple[int, int, int]],
    group_by: str | None,
    edges: Sequence[int],
) -> list[tuple[Any, ...]]:
    """count_ranges: summed rollups per (chart bucket index, group) over rollup ranges.

    ``ranges`` are (granularity, start, end) in seconds, end exclusive, each
    lying inside ``[edges[0], edges[-1])``; ``edges`` are the chart's bucket
    edges. Rows come back as ``(index, group, count)``; ``group`` is ``''``
    when ``group_by`` is None. Shards and rollup rows are summed in SQL.
    """
    c = event_counts.c
    group: ColumnElement[Any] = c[group_by] if group_by is not None else literal("")
    index = _bucket_index(edges).label("idx")
    base = _where(f)
    out: list[tuple[Any, ...]] = []
    for granularity, start, end in ranges:
        stmt = (
            select(index, group.label("grp"), func.sum(c["count"]).label("n"))
            .where(
                *base[:1],
                c.granularity == granularity,
                c.bucket >= start,
                c.bucket < end,
                *base[1:],
            )
            .group_by(index, group)
        )
        out.extend(tuple(row) for row in conn.execute(stmt))
    return out


def count_oldest_bucket(conn: Connection, project_id: int, granularity: int) -> int | None:
    """count_oldest_bucket: the first bucket (seconds) of a granularity, or None."""
    c = event_counts.c
    value = conn.execute(
        select(func.min(c.bucket)).where(c.project_id == project_id, c.granularity == granularity)
    ).scalar_one()
    return None if value is None else int(value)


def count_delete_batch(
    conn: Connection, project_id: int, granularity: int, start: int, end: int
) -> int:
    """count_delete_batch: delete rollup rows of one granularity with start <= bucket < end."""
    c = event_counts.c
    return conn.execute(
        delete(event_counts).where(
            c.project_id == project_id,
            c.granularity == granularity,
            c.bucket >= start,
            c.bucket < end,
        )
    ).rowcount
