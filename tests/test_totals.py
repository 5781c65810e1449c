"""Totals from the counters equal COUNT(*), also after purges and status changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from chronolog import Chronolog, NewEvent
from chronolog._totals import count_events
from chronolog.store.sql import events as sql

NOW = datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC)


def test_counter_totals_equal_count_star(db_url: str) -> None:
    rng = random.Random(3)
    with Chronolog(db_url, clock=lambda: NOW) as cl:
        items = [
            NewEvent(
                rng.choice(["scan", "deletion"]),
                rng.choice(["a", "b"]),
                status=rng.choice(["success", "error"]),
                actor={"type": rng.choice(["user", "rule"])} if rng.random() < 0.8 else None,
                occurred_at=NOW - timedelta(seconds=rng.randrange(3 * 86_400)),
            )
            for _ in range(600)
        ]
        ids = cl.events.record_many(items)
        for event_id in ids[:40]:
            cl.events.set_status(event_id, "processing")
        # Purge with a cutoff in the middle of a minute and of an hour.
        cl.events.delete_older_than(timedelta(days=2, minutes=17, seconds=13))
        scope = cl.scope

        def check(rounds: int) -> None:
            for _ in range(rounds):
                start = NOW - timedelta(seconds=rng.randrange(4 * 86_400))
                end = start + timedelta(seconds=rng.randrange(1, 3 * 86_400))
                flt = sql.EventFilter(
                    project_id=scope.project_id,
                    event_types=rng.choice([None, ("scan",), ("scan", "deletion")]),
                    statuses=rng.choice([None, ("error",), ("processing", "success")]),
                    actor_types=rng.choice([None, ("user",)]),
                    since=rng.choice([None, int(start.timestamp() * 1e6)]),
                    until=rng.choice([None, int(end.timestamp() * 1e6)]),
                )
                with cl.store.read() as conn:
                    expected = sql.event_count(conn, sql.event_where(scope.store.dialect, flt))
                    assert count_events(conn, scope.store.dialect, flt) == expected, flt

        check(60)
        # Coarse rollups purged while events remain: totals must use finer levels only.
        cl.retention.set(day_rollups="1d")
        assert cl.retention.run().removed["day_rollups"] > 0
        check(30)
        cl.retention.set(hour_rollups="1d")
        assert cl.retention.run().removed["hour_rollups"] > 0
        check(30)
