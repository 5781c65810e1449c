"""The counter rows an event write adds to ``event_counts`` (the rollups behind stats and totals).

One function, :func:`rollup_rows`, turns event insert tuples into counter
rows; every writer of events (``Events.write_prepared``, ``set_status``, and
any part that inserts events by itself, such as the jobs queue) must add
exactly its result in the transaction that writes the events, through
``store.sql.events.event_counts_add``.

Levels (``LEVELS``): per minute, per 15 minutes, per hour and per UTC day.
The minute rows make any bucket of whole minutes exact; the coarser ones
only make charts cheap (a ``6h`` chart of 30-minute buckets reads 24
quarter-hour rows per key instead of 360 minute rows; a ``7d`` chart 8 day
rows). Fifteen minutes divides every modern UTC offset (``+05:30``,
``+05:45``), so sub-day buckets in any zone avoid minute rows except at
5-minute and finer sizes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["DAY", "HOUR", "LEVELS", "MINUTE", "QUARTER", "rollup_rows"]

MINUTE = 60
QUARTER = 900
HOUR = 3600
DAY = 86_400
LEVELS = (MINUTE, QUARTER, HOUR, DAY)
"""Granularities (seconds) of the counter rows, finest first; each divides the next."""


def rollup_rows(rows: Sequence[Sequence[Any]], shard: int, sign: int = 1) -> list[tuple[Any, ...]]:
    """The counter rows of event insert tuples, one per (level, bucket, key) they touch.

    ``rows`` are tuples in ``store.sql.events.INSERT_COLUMNS`` order (what
    ``Events.prepare`` returns); the result is ``(*COUNT_KEYS, count)`` tuples
    for ``event_counts_add``, each key once. ``sign=-1`` takes the events out
    again (a status change moves an event from one key to another). Events
    without an actor / target count under ``''``.
    """
    if not rows:
        return []
    # Aggregate per minute first, with each distinct key interned as a small int:
    # the per-event work is two list comprehensions and a C-level Counter; the
    # coarser levels are summed from the (far fewer) minute entries.
    keys: dict[tuple[Any, ...], int] = {}
    intern = keys.setdefault
    minutes: dict[tuple[int, int], int] = Counter(
        zip(
            [r[1] // 60_000_000 * 60 for r in rows],
            [intern((r[0], r[2], r[3], r[4], r[5] or "", r[8] or ""), len(keys)) for r in rows],
            strict=True,
        )
    )
    cells: list[tuple[int, int, int, int]] = [(MINUTE, b, k, n) for (b, k), n in minutes.items()]
    finer = minutes
    for level in LEVELS[1:]:
        coarser: dict[tuple[int, int], int] = {}
        get = coarser.get
        for (bucket, key), n in finer.items():
            cell = (bucket - bucket % level, key)
            coarser[cell] = get(cell, 0) + n
        cells.extend((level, b, k, n) for (b, k), n in coarser.items())
        finer = coarser
    key_list = list(keys)
    out = []
    for level, bucket, key, n in cells:
        project_id, event_type, action, status, actor_type, target_type = key_list[key]
        out.append(
            (
                project_id,
                level,
                bucket,
                event_type,
                action,
                status,
                actor_type,
                target_type,
                shard,
                n * sign,
            )
        )
    return out
