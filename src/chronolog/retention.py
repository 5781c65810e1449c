"""Retention: how long each kind of row is kept, applied in bounded batches (``cl.retention``).

A policy says "keep <kind> for <duration>" per project; no policy means keep
forever. :meth:`Retention.run` hands each kind to its *purger*, one short
write transaction per batch (SQLite writers are never locked out for long),
returns what it removed and records the purge as an event.

Purgers are pluggable (:func:`register_purger`); events, rollups, job logs
(``job_logs``) and finished jobs (``finished_jobs``) are built in.
Rollups are separate from raw events, so charts outlive the events they count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ._scope import Scope
from ._time import parse_duration, require_aware, to_micros
from .errors import Conflict, ValidationError
from .events import Events
from .models import Actor
from .store.dialect import Dialect
from .store.sql import events as event_sql
from .store.sql import jobs as job_sql
from .store.sql import partitions as part_sql
from .store.sql import retention as sql
from .store.sql import stats as stats_sql

__all__ = ["PURGERS", "Purger", "Retention", "RetentionReport", "register_purger"]

Purger = Callable[[Connection, Dialect, int, int, int], int]
"""``purger(conn, dialect, project_id, cutoff_micros, batch_size) -> rows removed``.

Removes at most about ``batch_size`` rows older than the cutoff, inside the
caller's transaction; retention calls it again until it returns 0.
"""

PARTITIONS_AHEAD = 7
"""Partitions kept ready ahead of now when ``events`` is partitioned."""
MAX_PARTITIONS = 5000

PURGERS: dict[str, Purger] = {}
"""Registered purgers by kind."""


def register_purger(kind: str, purger: Purger) -> None:
    """Make ``kind`` a retention kind, purged by ``purger`` (used by the jobs part)."""
    if not kind.isidentifier() or len(kind) > 32:
        raise ValueError(f"retention kind {kind!r} must be an identifier of at most 32 characters")
    PURGERS[kind] = purger


def _purge_events(
    conn: Connection, dialect: Dialect, project_id: int, cutoff: int, batch: int
) -> int:
    dropped = 0
    if dialect.range_partitions and part_sql.events_is_partitioned(conn):
        # Whole partitions first: a partition that ended before the cutoff and
        # holds only this project's events goes at once, without row deletes.
        for _start, end, name in part_sql.events_partition_list(conn):
            if end > cutoff:
                break
            if not part_sql.events_partition_others(conn, name, project_id):
                dropped += part_sql.events_partition_drop(conn, name)
    return dropped + event_sql.event_delete_batch(conn, project_id, cutoff, batch)


def _rollup_purger(*granularities: int) -> Purger:
    def purge(conn: Connection, dialect: Dialect, project_id: int, cutoff: int, batch: int) -> int:
        for granularity in granularities:
            # A row goes once its whole bucket is older than the cutoff.
            last_start = cutoff // 1_000_000 - granularity  # bucket + granularity <= cutoff
            oldest = stats_sql.count_oldest_bucket(conn, project_id, granularity)
            if oldest is None or oldest > last_start:
                continue
            # Rows per bucket are few (one per key combination): a span of buckets is a batch.
            span = granularity * max(1, batch // 50)
            end = min(last_start + 1, oldest + span)
            return stats_sql.count_delete_batch(conn, project_id, granularity, oldest, end)
        return 0

    return purge


register_purger("events", _purge_events)
# Quarter-hour rows serve sub-hour charts like minute rows do: they share a policy.
register_purger("minute_rollups", _rollup_purger(60, 900))
register_purger("hour_rollups", _rollup_purger(3600))
register_purger("day_rollups", _rollup_purger(86400))
register_purger(
    "job_logs",
    lambda conn, _dialect, project_id, cutoff, batch: job_sql.job_log_purge_batch(
        conn, project_id, cutoff, batch
    ),
)
register_purger(
    "finished_jobs",
    lambda conn, _dialect, project_id, cutoff, batch: job_sql.job_purge_finished_batch(
        conn, project_id, cutoff, batch
    ),
)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one run removed, per kind; ``complete`` is False when a kind hit ``max_batches``."""

    removed: dict[str, int] = field(default_factory=dict)
    complete: bool = True
    event_id: int | None = None
    """The ``retention``/``purge`` event recording the run (None when nothing was removed)."""

    @property
    def total(self) -> int:
        """Rows removed over all kinds."""
        return sum(self.removed.values())


class Retention:
    """Per-project retention policies and the purge that applies them."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._next_check = 0.0

    def set(self, **keep: str | timedelta | int | None) -> dict[str, timedelta]:
        """Set how long kinds are kept (``events="30d"``); ``None`` keeps a kind forever.

        Kinds: ``events``, ``minute_rollups``, ``hour_rollups``, ``day_rollups``
        and any kind a
        part registered (the jobs part: ``job_logs``, ``finished_jobs``).
        Returns every policy of the project.
        """
        unknown = sorted(set(keep) - set(PURGERS))
        if unknown:
            raise ValidationError(
                f"unknown retention kind(s) {unknown}; known: {sorted(PURGERS)}", field="kind"
            )
        spans = {
            kind: None if value is None else parse_duration(value, kind)
            for kind, value in keep.items()
        }
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            for kind, span in spans.items():
                if span is None:
                    sql.policy_delete(conn, scope.project_id, kind)
                else:
                    sql.policy_set(conn, scope.project_id, kind, int(span.total_seconds()), now)
            return _spans(sql.policy_list(conn, scope.project_id))

    def policies(self) -> dict[str, timedelta]:
        """Every policy of the project: kind → how long it is kept."""
        with self._scope.store.read() as conn:
            return _spans(sql.policy_list(conn, self._scope.project_id))

    def run(
        self,
        *,
        now: datetime | None = None,
        batch_size: int = 5000,
        max_batches: int = 1000,
        progress: Callable[[str, int], None] | None = None,
    ) -> RetentionReport:
        """Apply every policy: purge in batches of ``batch_size`` rows, one transaction each.

        Stops a kind after ``max_batches`` (the report says ``complete=False``;
        the next run goes on). Records a ``retention``/``purge`` event when
        anything was removed. ``progress(kind, removed)`` is called after each
        batch with the rows of that kind removed so far.
        """
        if isinstance(batch_size, bool) or not 1 <= batch_size <= 100_000:
            raise ValidationError("batch_size must be between 1 and 100000", field="batch_size")
        if isinstance(max_batches, bool) or max_batches < 1:
            raise ValidationError("max_batches must be positive", field="max_batches")
        scope = self._scope
        store = scope.store
        current = scope.clock() if now is None else require_aware(now, "now")
        self._extend_partitions(to_micros(current))
        policies = self.policies()
        removed: dict[str, int] = {}
        cutoffs: dict[str, str] = {}
        complete = True
        for kind, span in policies.items():
            purger = PURGERS.get(kind)
            if purger is None:
                continue  # the part that owns this kind is not installed here
            cutoff = to_micros(current - span)
            cutoffs[kind] = (current - span).isoformat()
            total = 0
            for _ in range(max_batches):
                with store.write() as conn:
                    n = purger(conn, store.dialect, scope.project_id, cutoff, batch_size)
                total += n
                if progress is not None:
                    progress(kind, total)
                if n == 0:
                    break
            else:
                complete = False
            removed[kind] = total
        event_id = None
        if any(removed.values()):
            event_id = self._record(removed, cutoffs, complete)
        return RetentionReport(removed=removed, complete=complete, event_id=event_id)

    def _record(
        self, removed: Mapping[str, int], cutoffs: Mapping[str, str], complete: bool
    ) -> int:
        events = Events(self._scope)
        metadata: dict[str, Any] = {"removed": dict(removed), "cutoffs": dict(cutoffs)}
        if not complete:
            metadata["complete"] = False
        rows = events.prepare(
            [
                {
                    "event_type": "retention",
                    "action": "purge",
                    "actor": Actor("system", "retention", "Retention"),
                    "metadata": metadata,
                }
            ]
        )
        with self._scope.store.write() as conn:
            (event_id,) = events.write_prepared(conn, rows, check_types=False)
        self._scope.store.notifier.publish("events")
        return event_id

    def partition_events(self, interval: str | timedelta | int = "1d") -> int:
        """Range-partition ``events`` by time (PostgreSQL, opt-in); returns the partitions made.

        Converts the table in one transaction (an exclusive lock while rows
        are copied: do it in a quiet moment), with partitions of ``interval``
        from the oldest event to :data:`PARTITIONS_AHEAD` intervals ahead.
        :meth:`run` keeps adding partitions ahead and drops whole partitions
        that ended before a project's ``events`` cutoff and hold no other
        project's events. See ``docs/retention.md`` for when to switch it on.
        """
        store = self._scope.store
        if not store.dialect.range_partitions:
            raise ValidationError("range partitioning of events needs PostgreSQL")
        width = int(parse_duration(interval, "interval").total_seconds()) * 1_000_000
        now = to_micros(self._scope.clock())
        with store.write() as conn:
            if part_sql.events_is_partitioned(conn):
                raise ValidationError("events is already partitioned")
            oldest = part_sql.events_oldest_any(conn)
            start = (now if oldest is None else min(oldest, now)) // width * width
            end = (now // width + 1 + PARTITIONS_AHEAD) * width
            if (end - start) // width > MAX_PARTITIONS:
                raise ValidationError(
                    f"more than {MAX_PARTITIONS} partitions: choose a larger interval",
                    field="interval",
                )
            # The search index belongs to the old table: rebuilt on the new one below.
            searchable = store.dialect.search_index_present(conn)
            part_sql.events_partition_convert(conn)
            made = 0
            for lower in range(start, end, width):
                part_sql.events_partition_add(conn, lower, lower + width)
                made += 1
            part_sql.events_partition_fill(conn)
            if searchable:
                store.dialect.search_index_create(conn)
        return made

    def _extend_partitions(self, now: int) -> None:
        store = self._scope.store
        if not store.dialect.range_partitions:
            return
        with store.write() as conn:
            if not part_sql.events_is_partitioned(conn):
                return
            parts = part_sql.events_partition_list(conn)
            if not parts:
                return
            start, end, _ = parts[-1]
            width = end - start
            while end < (now // width + 1 + PARTITIONS_AHEAD) * width:
                part_sql.events_partition_add(conn, end, end + width)
                end += width

    def run_if_due(self, interval: str | timedelta | int = "1h") -> RetentionReport | None:
        """Run if no process ran this project's retention within ``interval``; cheap otherwise.

        Meant to be called often (each worker loop, each server tick): between
        runs it costs a clock read; once due, one small write decides which of
        many processes runs it.
        """
        span = parse_duration(interval, "interval")
        if time.monotonic() < self._next_check:
            return None
        scope = self._scope
        self._next_check = time.monotonic() + min(span.total_seconds(), 60.0)
        now = scope.clock()
        try:
            with scope.store.write() as conn:
                won = sql.retention_run_claim(
                    conn,
                    scope.store.dialect,
                    scope.project_id,
                    to_micros(now),
                    to_micros(now - span),
                )
        except Conflict:  # another process inserted the first mark at the same moment
            return None
        if not won:
            return None
        self._next_check = time.monotonic() + span.total_seconds()
        return self.run(now=now)


def _spans(policies: Mapping[str, int]) -> dict[str, timedelta]:
    return {kind: timedelta(seconds=seconds) for kind, seconds in policies.items()}
