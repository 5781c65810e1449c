"""Statements that read the event rollups (``event_counts``) for charts.

A chart asks for time ranges at one granularity each (minute rows for the
ragged edges, quarter-hour, hour and day rows for whole ones); every range is
one indexed range scan on the rollup primary key, summed over shards in SQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select

from ..dialect import Dialect
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


def _filter_sql(f: CountFilter) -> tuple[str, list[Any]]:
    """The filter terms of a rollup read as SQL text with ``?`` placeholders, and their values."""
    terms: list[str] = []
    params: list[Any] = []
    for column, values in (
        ("event_type", f.event_types),
        ("action", f.actions),
        ("status", f.statuses),
        ("actor_type", f.actor_types),
        ("target_type", f.target_types),
    ):
        if values is not None:
            if not values:
                terms.append("1 = 0")  # an empty list matches nothing
                continue
            terms.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    return "".join(f" AND {t}" for t in terms), params


def _index_sql(edges: Sequence[int]) -> tuple[str, list[int]]:
    """The chart bucket of a rollup row: arithmetic for equal sizes, else a CASE on the edges."""
    sizes = {b - a for a, b in itertools.pairwise(edges)}
    if len(sizes) == 1:
        # bucket >= edges[0] in every range read, so integer division is the floor.
        return "(bucket - CAST(? AS BIGINT)) / CAST(? AS BIGINT)", [edges[0], sizes.pop()]
    whens = " ".join(f"WHEN bucket < CAST(? AS BIGINT) THEN {i}" for i in range(len(edges) - 2))
    return f"CASE {whens} ELSE {len(edges) - 2} END", list(edges[1:-1])


def count_ranges(
    conn: Connection,
    dialect: Dialect,
    f: CountFilter,
    ranges: Sequence[tuple[int, int, int]],
    group_by: str | None,
    edges: Sequence[int],
) -> list[tuple[Any, ...]]:
    """count_ranges: summed rollups per (chart bucket index, group) over rollup ranges.

    ``ranges`` are (granularity, start, end) in seconds, end exclusive, each
    lying inside ``[edges[0], edges[-1])``; ``edges`` are the chart's bucket
    edges. Rows come back as ``(index, group, count)``, possibly several per
    pair (one per range: the caller adds them up); ``group`` is ``''`` when
    ``group_by`` is None. Shards and rollup rows are summed in SQL.

    One hand-written statement (a ``UNION ALL`` of one primary-key range scan
    per range) through the driver: a chart is a few hundred rows, and building
    and compiling SQLAlchemy constructs cost more than reading them.
    """
    if not ranges:
        return []
    if group_by is not None and group_by not in GROUP_COLUMNS:
        raise ValueError(f"cannot group by {group_by!r}")
    group = group_by if group_by is not None else "''"
    index, index_params = _index_sql(edges)
    filters, filter_params = _filter_sql(f)
    part = (
        f"SELECT {index} AS idx, {group} AS grp, SUM(count) AS n FROM event_counts "
        "WHERE project_id = ? AND granularity = ? AND bucket >= ? AND bucket < ?"
        f"{filters} GROUP BY 1, 2"
    )
    params: list[Any] = []
    for granularity, start, end in ranges:
        params += [*index_params, f.project_id, granularity, start, end, *filter_params]
    statement = " UNION ALL ".join([part] * len(ranges))
    return dialect.execute_raw(conn, statement, params)


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
