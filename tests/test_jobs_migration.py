"""Migration 0010: a job's history moves from ``transitions`` into its events.

A store written before it (jobs with a row per move in ``transitions`` and an
event per move) comes out with no job rows in ``transitions``, the previous
state and the move's number in each job event's metadata, the same history
read from the events, the entities' day counters untouched, and the new
partial indexes; the downgrade puts the job rows back.
"""

from __future__ import annotations

import json
from typing import Any

from alembic import command
from sqlalchemy import text

from chronolog import Chronolog
from chronolog.store import Store, migrate

T0 = 1_790_000_000_000_000  # µs

# One job as the queue wrote it before 0010: pending → running → completed, each
# move an event (metadata {queue, attempt, state}) and a transition pointing at it.
_MOVES = [(None, "pending", "pending", 0), ("pending", "running", "running", 1)]
_MOVES += [("running", "completed", "completed", 1)]


def _old_job(conn: Any, project_id: int, moves: list[tuple[Any, ...]]) -> int:
    job_id = conn.execute(
        text(
            "INSERT INTO jobs (project_id, queue, kind, payload, state, priority, run_at, "
            "attempt, max_attempts, lease, history, created_at, updated_at) VALUES "
            "(:p, 'q', 'mail', NULL, :state, 0, :t, 1, 3, 1, :n, :t, :t) RETURNING id"
        ),
        {"p": project_id, "state": moves[-1][1], "t": T0, "n": len(moves)},
    ).scalar_one()
    for n, (before, after, action, attempt) in enumerate(moves, 1):
        at = T0 + job_id * 10_000_000 + n * 1_000_000
        metadata = json.dumps({"queue": "q", "attempt": attempt, "state": after})
        event_id = conn.execute(
            text(
                "INSERT INTO events (project_id, occurred_at, event_type, action, status, "
                "actor_type, actor_id, target_type, target_id, target_title, metadata) VALUES "
                "(:p, :at, 'job', :action, 'success', 'worker', 'w1', 'job', :id, 'mail', "
                ":m) RETURNING id"
            ),
            {"p": project_id, "at": at, "action": action, "id": str(job_id), "m": metadata},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO transitions (project_id, kind, entity_id, sort_key, from_state, "
                "to_state, most_recent, actor_type, actor_id, metadata, occurred_at, event_id) "
                "VALUES (:p, 'job', :id, :n, :before, :after, :last, 'worker', 'w1', :m, :at, :e)"
            ),
            {
                "p": project_id,
                "id": str(job_id),
                "n": n,
                "before": before,
                "after": after,
                "last": n == len(moves),
                "m": json.dumps({"action": action, "attempt": attempt}),
                "at": at,
                "e": event_id,
            },
        )
    return int(job_id)


def _job_transitions(store: Store) -> int:
    with store.read() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM transitions WHERE kind = 'job'")).scalar_one()
        )


def test_job_history_moves_into_its_events(empty_db_url: str) -> None:
    store = Store(empty_db_url)
    try:
        migrate.upgrade(store, "0009_pg_unforced_project")
    finally:
        store.close()
    with Chronolog(empty_db_url, migrate_schema=False) as old:
        old.states.transition("movie", 1, "grabbed")
        old.states.transition("movie", 1, "downloaded")
        pid = old.scope.project_id
        with old.store.write() as conn:
            first = _old_job(conn, pid, _MOVES)
            second = _old_job(conn, pid, _MOVES[:2])
        with old.store.read() as conn:
            slots_before = conn.execute(
                text("SELECT kind, to_state, sum(n) FROM transition_slots GROUP BY kind, to_state")
            ).all()
        assert _job_transitions(old.store) == 5
    with Chronolog(empty_db_url) as cl:  # upgrades to head
        assert _job_transitions(cl.store) == 0
        moves = cl.jobs.history(first)
        assert [(m.sort_key, m.from_state, m.to_state, m.action) for m in moves] == [
            (1, None, "pending", "pending"),
            (2, "pending", "running", "running"),
            (3, "running", "completed", "completed"),
        ]
        assert moves[1].actor == ("worker", "w1", None)
        assert [t.most_recent for t in cl.states.history("job", second)] == [False, True]
        assert [t.to_state for t in cl.states.history("movie", 1)] == ["grabbed", "downloaded"]
        with cl.store.read() as conn:
            slots_after = conn.execute(
                text("SELECT kind, to_state, sum(n) FROM transition_slots GROUP BY kind, to_state")
            ).all()
        assert sorted(slots_after) == sorted(slots_before)
        job = cl.jobs.enqueue("mail")
        assert [m.sort_key for m in cl.jobs.history(job.id)] == [1]
    store = Store(empty_db_url)
    try:
        with store.write() as conn:
            command.downgrade(migrate.alembic_config(conn), "0009_pg_unforced_project")
        assert _job_transitions(store) == 5 + 1  # the new job's enqueue too
        with store.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT sort_key, from_state, to_state, most_recent FROM transitions "
                    "WHERE kind = 'job' AND entity_id = :id ORDER BY sort_key"
                ),
                {"id": str(first)},
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, None, "pending", False),
            (2, "pending", "running", False),
            (3, "running", "completed", True),
        ]
    finally:
        store.close()
