"""The timeline's per-day distinct-entity counts (``transition_slots``) against a brute force.

The counts are summed from slot counters that triggers on ``transitions``
maintain; these tests write moves in awkward orders (out-of-order imports,
equal times, batches, jobs, deletes) and compare every day of many windows and
time zones with a count made in Python from the transitions themselves.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from chronolog import Chronolog
from chronolog._time import from_micros, to_micros
from chronolog.store import Store, migrate
from chronolog.store.schema import events, transitions
from chronolog.store.schema.jobs import JOB_ACTIONS

START = datetime(2026, 3, 20, 0, 0, tzinfo=UTC)  # Paris and New York change offset after it
ZONES: list[tzinfo | None] = [
    None,
    ZoneInfo("Europe/Paris"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kathmandu"),  # +05:45
    ZoneInfo("Australia/Lord_Howe"),  # half-hour DST
    timezone(timedelta(hours=-9, minutes=-30)),
    timezone(timedelta(minutes=7)),  # not on a slot edge: counted from the moves
]


def brute_force(
    cl: Chronolog, since: datetime, until: datetime, tz: tzinfo | None
) -> Counter[tuple[date, str, str]]:
    t, e = transitions.c, events.c
    window = (to_micros(since), to_micros(until) + 1)
    with cl.store.read() as conn:
        rows = conn.execute(
            select(t.kind, t.entity_id, t.to_state, t.occurred_at).where(
                t.project_id == cl.scope.project_id,
                t.occurred_at >= window[0],
                t.occurred_at < window[1],
            )
        ).all()
        # A job's moves are its events (the state it entered follows from the action).
        rows += [
            ("job", r.target_id, JOB_ACTIONS[r.action], r.occurred_at)
            for r in conn.execute(
                select(e.target_id, e.action, e.occurred_at).where(
                    e.project_id == cl.scope.project_id,
                    e.event_type == "job",
                    e.occurred_at >= window[0],
                    e.occurred_at < window[1],
                )
            )
        ]
    seen = {
        (from_micros(at).astimezone(tz or UTC).date(), kind, state, entity)
        for kind, entity, state, at in rows
    }
    return Counter((day, kind, state) for day, kind, state, _ in seen)


def counted(cl: Chronolog, days: int, until: datetime, tz: tzinfo | None) -> Counter[Any]:
    result = cl.states.timeline(days=days, until=until, tz=tz, limit=1)
    return Counter({(d.day, d.kind, d.to_state): d.count for d in result.days})


def assert_counts_match(cl: Chronolog, rng: random.Random, windows: int = 12) -> int:
    checked = 0
    for _ in range(windows):
        days = rng.choice([1, 2, 3, 7, 12])
        until = START + timedelta(microseconds=rng.randrange(int(12 * 86_400e6)))
        if rng.random() < 0.3:  # on a slot edge, even a midnight
            until = until.replace(minute=rng.choice([0, 15, 30, 45]), second=0, microsecond=0)
            if rng.random() < 0.5:
                until = until.replace(hour=0, minute=0)
        for tz in ZONES:
            expected = brute_force(cl, until - timedelta(days=days), until, tz)
            assert counted(cl, days, until, tz) == expected, (days, until, tz)
            checked += sum(expected.values())
    return checked


def _random_moves(cl: Chronolog, rng: random.Random, count: int) -> None:
    entities = [("movie", str(i)) for i in range(6)] + [("series", str(i)) for i in range(3)]
    states = ["downloading", "failed", "downloaded"]
    for _ in range(count):
        kind, ident = rng.choice(entities)
        # out of order on purpose: history is by sort_key, times may go back
        at = START + timedelta(seconds=rng.randrange(12 * 86_400))
        if rng.random() < 0.2:  # a burst inside one slot
            at = START + timedelta(days=rng.randrange(12), minutes=rng.randrange(15))
        if rng.random() < 0.3:
            burst = [
                {"kind": kind, "id": ident, "to": rng.choice(states), "occurred_at": at}
                for _ in range(rng.randrange(1, 4))
            ]
            cl.states.transition_many(burst)  # equal times, one batch
        else:
            cl.states.transition(kind, ident, rng.choice(states), occurred_at=at)


def test_day_counts_match_a_brute_force_count(cl: Chronolog) -> None:
    rng = random.Random(7)
    _random_moves(cl, rng, 160)
    assert assert_counts_match(cl, rng) > 100
    # deleting entities takes their moves out of the counts
    cl.states.delete("movie", 1)
    cl.states.delete("series", 2)
    _random_moves(cl, rng, 40)
    cl.states.delete("movie", 3)
    assert assert_counts_match(cl, rng, windows=6) > 50


def test_day_counts_include_jobs_and_their_purge(db_url: str) -> None:
    now = START + timedelta(days=2)
    with Chronolog(db_url, clock=lambda: now) as cl:
        for i in range(5):
            cl.jobs.enqueue("mail", payload={"i": i})
        for job in cl.jobs.claim(None, "w", limit=3):
            cl.jobs.complete(job.id, job.lease)
        rng = random.Random(3)
        assert assert_counts_match(cl, rng, windows=3) > 0
        day = cl.states.timeline(days=1, until=now, kinds="job").days
        assert {(d.to_state, d.count) for d in day} >= {("running", 3), ("completed", 3)}
        with cl.store.read() as conn:  # job moves live in events: no slots, no transitions
            kinds = conn.execute(text("SELECT DISTINCT kind FROM transition_slots")).scalars()
            assert "job" not in set(kinds)
            kinds = conn.execute(text("SELECT DISTINCT kind FROM transitions")).scalars()
            assert "job" not in set(kinds)
        before = cl.states.timeline(days=2, until=now, kinds="job", states="completed").days
        assert [d.count for d in before] == [3]
        cl.retention.set(finished_jobs="1h")
        now = START + timedelta(days=3)
        cl.retention.run()
        assert cl.jobs.counts()["default"] == {"pending": 2}  # the finished ones are gone …
        assert assert_counts_match(cl, rng, windows=3) >= 0
        # … and their history, their events, stays until the events' own retention.
        after = cl.states.timeline(days=2, until=now, kinds="job", states="completed").days
        assert after == before


def test_migration_counts_the_history_written_before_it(empty_db_url: str) -> None:
    store = Store(empty_db_url)
    try:
        migrate.upgrade(store, "0007_quarter_rollups")
    finally:
        store.close()
    rng = random.Random(11)
    with Chronolog(empty_db_url, migrate_schema=False) as old:
        _random_moves(old, rng, 60)
    with Chronolog(empty_db_url) as cl:  # upgrades to head: the backfill
        assert assert_counts_match(cl, rng, windows=4) > 20


def test_concurrent_writers_do_not_deadlock_on_the_counters(db_url: str) -> None:
    # Claims write no-retry transactions of many transitions each: a counter row lock
    # taken in a different order by two of them used to deadlock on PostgreSQL.
    with Chronolog(db_url) as cl:
        cl.jobs.enqueue_many([{"kind": "k", "payload": {"i": i}} for i in range(240)])
        errors: list[BaseException] = []

        def work(name: str) -> None:
            try:
                while jobs := cl.jobs.claim(None, name, limit=10):
                    cl.jobs.complete_many([(j.id, j.lease) for j in jobs])
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        now = datetime.now(UTC)
        days = cl.states.timeline(days=1, until=now, kinds="job").days
        assert sum(d.count for d in days if d.to_state == "completed") == 240
        assert counted(cl, 1, now, None) == brute_force(cl, now - timedelta(days=1), now, None)
