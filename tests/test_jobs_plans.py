"""The claim's plan on a freshly migrated, never-analysed database reads the claim index.

A new deployment has no planner statistics until autovacuum's first ANALYZE,
and its first burst of jobs arrives before that. The worker's batch statement
must keep its indexed plan then, both as the custom plan PostgreSQL makes for
the first executions and as the generic plan a prepared statement settles on,
and after the table's contents shifted (most jobs claimed and completed, the
claim index full of dead entries). SQLite is held to the same with its own
statement (``EXPLAIN QUERY PLAN``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from chronolog import Chronolog
from chronolog._time import to_micros
from chronolog.jobs._trail import bulk_move
from chronolog.store.sql import jobs as sql
from chronolog.store.sql.postgresql.jobs import batch_query
from chronolog.store.sql.sqlite.jobs import claim_sql

JOBS = 2000
QUEUE_SHAPES = [None, ("default",), ("default", "other")]
CLAIM_INDEX = {None: "ix_jobs_claim_any"}


def _batch(cl: Chronolog, queues: tuple[str, ...] | None, done: list[sql.Completion]) -> sql.Batch:
    now = to_micros(cl.scope.clock())
    return sql.Batch(
        project_id=cl.scope.project_id,
        now=now,
        done=done,
        completing=bulk_move(cl.scope, "completed", "running", now, "worker"),
        queues=queues,
        limit=10,
        lease_until=now + 30_000_000,
        worker="w",
        pid=1,
        claiming=bulk_move(cl.scope, "running", "pending", now, "worker"),
    )


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _pg_plan(conninfo: str, batch: sql.Batch, mode: str) -> list[dict[str, Any]]:
    (text, names), values = batch_query(batch)
    with psycopg.connect(conninfo, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute(f"SET plan_cache_mode = {mode}")
        conn.execute(f"PREPARE claim AS {text}")
        args = ", ".join(["%s"] * len(names))
        row = conn.execute(
            f"EXPLAIN (FORMAT JSON) EXECUTE claim({args})", [values[n] for n in names]
        ).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return list(_nodes(plan[0]["Plan"]))


def _assert_indexed(nodes: list[dict[str, Any]], queues: tuple[str, ...] | None) -> None:
    on_jobs = [n for n in nodes if n.get("Relation Name") == "jobs"]
    assert on_jobs, nodes
    assert not [n for n in on_jobs if n["Node Type"] == "Seq Scan"], on_jobs
    # The claim reads its index in claim order: no sort of the backlog.
    wanted = "ix_jobs_claim_any" if queues is None else "ix_jobs_claim"
    claim = [n for n in on_jobs if n.get("Index Name") == wanted]
    assert claim, {n.get("Index Name") for n in on_jobs}
    if queues is not None and len(queues) == 1:  # its queue is the index's second column
        assert "(queue)::text = " in claim[0]["Index Cond"], claim
    # The completions find their jobs by id in an index condition, not by a walk.
    lookups = [
        n
        for n in nodes
        if n.get("Index Name") == "pk_jobs" and "id = ANY" in (n.get("Index Cond") or "")
    ]
    assert lookups, [(n.get("Index Name"), n.get("Index Cond"), n.get("Filter")) for n in nodes]


@pytest.mark.parametrize("queues", QUEUE_SHAPES, ids=["any", "one", "many"])
def test_claim_on_a_fresh_database_reads_the_claim_index(
    empty_db_url: str, backend: str, queues: tuple[str, ...] | None
) -> None:
    with Chronolog(empty_db_url) as cl:
        if backend == "postgresql":
            conninfo = cl.store.url.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            with psycopg.connect(conninfo, autocommit=True) as conn:
                # No ANALYZE may happen behind the test's back: it is about none having run.
                conn.execute("ALTER TABLE jobs SET (autovacuum_enabled = off)")
        cl.jobs.enqueue_many(
            [{"kind": "k", "queue": "default" if i % 4 else "other"} for i in range(JOBS)]
        )
        # Completions in the same statement as the claim, as a worker sends them.
        claimed = cl.jobs.claim(None, "w", limit=JOBS * 3 // 4)
        done = [sql.Completion(j.id, j.lease, None) for j in claimed[:10]]
        cl.jobs.complete_many([(j.id, j.lease) for j in claimed[10:]])
        batch = _batch(cl, queues, done)
        if backend == "sqlite":
            _assert_sqlite_plan(cl, queues)
            return
        with psycopg.connect(conninfo, autocommit=True) as conn:
            stats = conn.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'jobs'")
            assert stats.fetchone() == (0,), "the jobs table was analysed: the test is void"
        for mode in ("force_custom_plan", "force_generic_plan"):
            _assert_indexed(_pg_plan(conninfo, batch, mode), queues)


def _assert_sqlite_plan(cl: Chronolog, queues: tuple[str, ...] | None) -> None:
    params = ["w", 1, 0, 0, 0, 0, cl.scope.project_id, 0, *(queues or ()), 10]
    with cl.store.read() as conn:
        assert (
            conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
            ).scalar_one()
            == 0
        ), "the file was analysed: the test is void"
        plan = [
            r[3]
            for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + claim_sql(queues), tuple(params))
        ]
    wanted = "ix_jobs_claim_any" if queues is None else "ix_jobs_claim"
    assert any(wanted in step for step in plan), plan
    assert not any(step.startswith("SCAN jobs") for step in plan), plan
