"""Retention: policies, bounded purges, charts that survive them, pluggable purgers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, func, select

from chronolog import Chronolog, NewEvent, ValidationError, register_purger
from chronolog._time import to_micros
from chronolog.retention import PURGERS
from chronolog.store.dialect import Dialect
from chronolog.store.schema import event_counts
from chronolog.store.sql import partitions as part_sql

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _counts(cl: Chronolog, granularity: int) -> int:
    with cl.store.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    event_counts.c.project_id == cl.scope.project_id,
                    event_counts.c.granularity == granularity,
                )
            ).scalar_one()
        )


def test_purge_keeps_chart_counts(db_url: str) -> None:
    with Chronolog(db_url, clock=lambda: NOW) as cl:
        cl.events.record_many(
            [
                NewEvent(
                    "post",
                    ("create", "update", "delete")[h % 3],
                    occurred_at=NOW - timedelta(hours=h, minutes=m),
                )
                for h in range(0, 24 * 9, 5)
                for m in (1, 17, 44)
            ]
        )
        before = {
            w: cl.stats.buckets(w, event_types="post", group_by="action")
            for w in ("1d", "7d", "30d")
        }
        assert cl.retention.set(events="2d", minute_rollups="1d") == {
            "events": timedelta(days=2),
            "minute_rollups": timedelta(days=1),
        }
        # Quarter-hour rows go with the minute rows (one policy for sub-hour rollups).
        minute_rows = _counts(cl, 60) + _counts(cl, 900)
        report = cl.retention.run(batch_size=7)  # many small batches
        assert report.complete
        assert report.removed["events"] == sum(
            1
            for h in range(0, 24 * 9, 5)
            for m in (1, 17, 44)
            if timedelta(hours=h, minutes=m) > timedelta(days=2)
        )
        assert report.removed["minute_rollups"] > 0
        # (+2: the purge event is counted too, in a minute and a quarter-hour row)
        assert (
            _counts(cl, 60) + _counts(cl, 900) == minute_rows - report.removed["minute_rollups"] + 2
        )
        after = {
            w: cl.stats.buckets(w, event_types="post", group_by="action")
            for w in ("1d", "7d", "30d")
        }
        assert after == before  # hour rollups keep every chart of a day or more
        assert cl.events.query(date_range="all", with_total=True).total == (
            sum(
                1
                for h in range(0, 48, 5)
                for m in (1, 17, 44)
                if timedelta(hours=h, minutes=m) <= timedelta(days=2)
            )
            + 1
        )
        purge = cl.events.get(report.event_id or 0)
        assert (purge.event_type, purge.action) == ("retention", "purge")
        assert purge.metadata is not None
        assert purge.metadata["removed"] == report.removed
        again = cl.retention.run()
        assert again.total == 0
        assert again.event_id is None


def test_hour_rollups_expire_by_their_own_policy(db_url: str) -> None:
    with Chronolog(db_url, clock=lambda: NOW) as cl:
        cl.events.record_many(
            [NewEvent("x", "a", occurred_at=NOW - timedelta(days=d)) for d in range(40)]
        )
        cl.retention.set(hour_rollups="10d", day_rollups="10d")
        cl.retention.run()
        # days 0..10 (the hour of NOW - 10d ends after the cutoff) and the purge event
        assert cl.stats.buckets("30d").total == 11 + 1


def test_policies_validate_and_clear(cl: Chronolog) -> None:
    with pytest.raises(ValidationError, match="unknown retention kind"):
        cl.retention.set(job_logs="1d", bogus="2d")
    with pytest.raises(ValidationError, match="not a duration"):
        cl.retention.set(events="forever")
    with pytest.raises(ValidationError, match="positive"):
        cl.retention.set(events=0)
    assert cl.retention.policies() == {}
    cl.retention.set(events="30d")
    assert cl.retention.set(events=None) == {}
    with pytest.raises(ValidationError, match="batch_size"):
        cl.retention.run(batch_size=0)


def test_registered_purger_runs(cl: Chronolog) -> None:
    calls: list[tuple[int, int]] = []

    def purge(conn: Connection, dialect: Dialect, project_id: int, cutoff: int, batch: int) -> int:
        calls.append((project_id, cutoff))
        return 3 if len(calls) == 1 else 0

    register_purger("job_logs", purge)
    try:
        cl.retention.set(job_logs="14d")
        report = cl.retention.run()
        assert report.removed == {"job_logs": 3}
        assert len(calls) == 2
        assert calls[0][0] == cl.scope.project_id
    finally:
        PURGERS.pop("job_logs")


def test_run_if_due_runs_once_per_interval_across_instances(db_url: str) -> None:
    with Chronolog(db_url) as a, Chronolog(db_url) as b:
        a.retention.set(events="1d")
        assert a.retention.run_if_due("1h") is not None
        assert a.retention.run_if_due("1h") is None  # in-process: no database access
        assert b.retention.run_if_due("1h") is None  # another instance sees the mark


def test_partitioned_events_purge_by_dropping_partitions(db_url: str, backend: str) -> None:
    clock = [NOW]
    with Chronolog(db_url, clock=lambda: clock[0]) as cl:
        if backend == "sqlite":
            with pytest.raises(ValidationError, match="needs PostgreSQL"):
                cl.retention.partition_events("1d")
            return
        cl.projects.create("other")
        other = cl.using("other")
        ids = cl.events.record_many(
            [NewEvent("x", "a", occurred_at=NOW - timedelta(days=d, hours=1)) for d in range(10)]
        )
        other.events.record_many(
            [NewEvent("x", "a", occurred_at=NOW - timedelta(days=d, hours=2)) for d in (0, 6)]
        )
        before = cl.stats.buckets("30d", event_types="x").total
        made = cl.retention.partition_events("1d")
        assert made == 10 + 7  # the oldest day (9 days ago) .. today, and a week ahead
        assert [e.id for e in cl.feed.read(limit=1000).items if e.project == "default"] == ids
        # Writes after the conversion: small batches and the COPY path (>= 64 rows).
        late = cl.events.record_many([NewEvent("x", "a", occurred_at=NOW) for _ in range(70)])
        assert late[0] > ids[-1]
        assert cl.events.get(late[-1]).occurred_at == NOW
        with cl.store.read() as conn:
            parts_before = part_sql.events_partition_list(conn)
        cl.retention.set(events="3d")
        report = cl.retention.run()
        assert report.removed["events"] == 7  # days 3..9 of this project
        with cl.store.read() as conn:
            parts_after = part_sql.events_partition_list(conn)
        dropped = {p[2] for p in parts_before} - {p[2] for p in parts_after}
        # Days 4..9 ended before the cutoff (NOW - 3d): each went as a whole partition,
        # except day 6, shared with "other" (its row of "default" was deleted instead).
        assert len(dropped) == 5
        assert other.events.query(date_range="all").total == 2
        assert cl.stats.buckets("30d", event_types="x").total == before + 70
        clock[0] = NOW + timedelta(days=3)
        cl.retention.run()  # keeps partitions ready a week ahead
        with cl.store.read() as conn:
            assert part_sql.events_partition_list(conn)[-1][1] > to_micros(
                clock[0] + timedelta(days=6)
            )
        with pytest.raises(ValidationError, match="already partitioned"):
            cl.retention.partition_events("1d")
