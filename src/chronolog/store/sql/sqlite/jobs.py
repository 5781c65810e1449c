"""The job queue's hot operations on SQLite (``JobDriver``): its SQL text and code.

SQLite's CTEs only read, so a batch is a few statements inside one
``BEGIN IMMEDIATE`` transaction (which holds the file's only write lock from
its first statement: nothing else writes in between, and no row lock is
needed): the completions (``UPDATE … FROM (VALUES …)``), the claim
(``UPDATE … WHERE id IN (SELECT … LIMIT n)``, River's ``riversqlite`` shape, on
the partial index of pending jobs it names: ``INDEXED BY``),
then **one** ``INSERT … SELECT`` that writes every moved job's event from the
job rows themselves and **one** multi-row upsert of the counters. The claim's
subquery reads the partial index of pending jobs in claim order.

Statements go straight to the sqlite3 connection (``?`` placeholders): for
statements this small, SQLAlchemy's per-statement work costs more than they do.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from ...schema import jobs
from ..events import COUNT_KEYS
from ..jobs import (
    JOB_INSERT_COLUMNS,
    READY,
    Batch,
    BatchResult,
    ClaimedRow,
    EnqueueBatch,
    JobDriver,
)

if TYPE_CHECKING:
    from ...engine import Store

__all__ = ["SQLiteJobs", "claim_sql"]

_JOB_NAMES = tuple(c.name for c in jobs.c)
_SUBJECT = _JOB_NAMES.index("subject_pk")
_PRIORITY = _JOB_NAMES.index("priority")
_RUN_AT = _JOB_NAMES.index("run_at")
_CHUNK = 900
"""Most values bound per statement (SQLite caps bound parameters)."""

_COMPLETE = (
    "UPDATE jobs SET state = 'completed', result = v.column3, finished_at = ?, "
    "lease_expires_at = NULL, history = history + 1, updated_at = ? "
    "FROM (VALUES {triples}) AS v "
    "WHERE jobs.project_id = ? AND jobs.state = 'running' "
    "AND jobs.id = v.column1 AND jobs.lease = v.column2 RETURNING jobs.id, jobs.dependents"
)
_CLAIM = (
    "UPDATE jobs SET state = 'running', lease = lease + 1, attempt = attempt + 1, "
    "history = history + 1, worker = ?, pid = ?, lease_expires_at = ?, heartbeat_at = ?, "
    "started_at = ?, progress = NULL, progress_text = NULL, updated_at = ? "
    "WHERE id IN (SELECT id FROM jobs INDEXED BY {index} WHERE project_id = ? "
    "AND state = 'pending' AND run_at <= ?{queues} ORDER BY priority DESC, run_at, id LIMIT ?) "
    "RETURNING " + ", ".join(_JOB_NAMES)
)
_EVENT_COLUMNS = (
    "project_id, occurred_at, event_type, action, status, actor_type, actor_id, actor_name, "
    "target_type, target_id, target_title, error, metadata"
)
# A job's event from its row (the same fields as ``jobs.queue._trail.job_event``).
# In a batch both moves are written by one statement, told apart by the state
# the job is now in: completed (the completions) or running (the claim).
_BATCH_EVENTS = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) "
    "SELECT project_id, ?, 'job', "
    "CASE state WHEN 'completed' THEN ? ELSE ? END, "
    "CASE state WHEN 'completed' THEN ? ELSE ? END, "
    "'worker', worker, NULL, 'job', CAST(id AS TEXT), kind, NULL, "
    "json_object('queue', queue, 'attempt', attempt, "
    "'from', CASE state WHEN 'completed' THEN ? ELSE ? END, "
    "'state', state, 'sort_key', history) "
    "FROM jobs WHERE id IN ({ids}) ORDER BY jobs.state = 'running', jobs.id"
)
_NEW_EVENTS = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) "
    "SELECT project_id, ?, 'job', ?, ?, ?, ?, ?, 'job', CAST(id AS TEXT), kind, NULL, "
    "json_object('queue', queue, 'attempt', attempt, 'from', ?, 'state', state, "
    "'sort_key', history) FROM jobs WHERE id BETWEEN ? AND ? ORDER BY jobs.id"
)
# The dependents of completed jobs, freed in the batch's transaction: under the file's
# write lock nothing else enqueues a dependent or completes a dependency in between, so
# subtracting the dependencies just completed is exact; the ones reaching zero become
# pending (the same move as PostgreSQL's ``ready`` CTE).
_FREE = (
    "WITH f AS (SELECT job_id, count(*) AS n FROM job_dependencies "
    "WHERE depends_on IN ({ids}) GROUP BY job_id) "
    "UPDATE jobs SET waiting_for = jobs.waiting_for - f.n, "
    "state = CASE WHEN jobs.waiting_for - f.n <= 0 THEN 'pending' ELSE 'waiting' END, "
    "history = jobs.history + CASE WHEN jobs.waiting_for - f.n <= 0 THEN 1 ELSE 0 END, "
    "run_at = max(jobs.run_at, ?), updated_at = ? "
    "FROM f WHERE jobs.id = f.job_id AND jobs.state = 'waiting' "
    "RETURNING jobs.id, jobs.state"
)
_READY_EVENTS = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) "
    "SELECT project_id, ?, 'job', ?, ?, 'worker', NULL, NULL, 'job', CAST(id AS TEXT), kind, "
    "NULL, json_object('queue', queue, 'attempt', attempt, 'from', ?, 'state', state, "
    "'sort_key', history) FROM jobs WHERE id IN ({ids}) ORDER BY jobs.id"
)
_INSERT_JOBS = (
    f"INSERT INTO jobs ({', '.join(JOB_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(JOB_INSERT_COLUMNS))})"
)
_COUNTS = (
    f"INSERT INTO event_counts ({', '.join((*COUNT_KEYS, 'count'))}) VALUES {{rows}} "
    f"ON CONFLICT ({', '.join(COUNT_KEYS)}) DO UPDATE SET count = count + excluded.count"
)
_COUNT_ROW = "(" + ", ".join("?" * (len(COUNT_KEYS) + 1)) + ")"
_SUBJECTS = "SELECT pk, kind, entity_id FROM entities WHERE pk IN ({pks})"


def claim_sql(queues: Sequence[str] | None) -> str:
    """The claim's text for a queue filter (None: any queue).

    The claim names its index: without statistics (no ANALYZE yet) SQLite
    preferred the (project, state, id) index and sorted every pending job.
    """
    if queues is None:
        return _CLAIM.format(index="ix_jobs_claim_any", queues="")
    where = f" AND queue IN ({', '.join('?' * len(queues))})"
    return _CLAIM.format(index="ix_jobs_claim", queues=where)


def _driver_error(sql: str, exc: sqlite3.Error) -> Exception:
    # Chronolog's transactions translate SQLAlchemy's errors: wrap the driver's.
    return DBAPIError.instance(sql, None, exc, sqlite3.Error)


@functools.lru_cache(maxsize=64)
def _completing(n: int) -> str:
    return _COMPLETE.format(triples=", ".join(["(?, ?, ?)"] * n))


@functools.lru_cache(maxsize=64)
def _recording(n: int) -> str:
    return _BATCH_EVENTS.format(ids=", ".join("?" * n))


@functools.lru_cache(maxsize=64)
def _counting(n: int) -> str:
    return _COUNTS.format(rows=", ".join([_COUNT_ROW] * n))


def _counts(raw: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Add counter rows (``(*COUNT_KEYS, n)``, rows with n = 0 left out) in one statement."""
    rows = [r for r in rows if r[-1]]
    if rows:
        raw.execute(_counting(len(rows)), [v for row in rows for v in row])


def _free(raw: sqlite3.Connection, batch: Batch, ids: Sequence[int]) -> int:
    """Free the waiting dependents of the completed ``ids``; record the ones now pending."""
    now = batch.now
    ready = batch.readying or READY
    released: list[int] = []
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        sql = _FREE.format(ids=", ".join("?" * len(part)))
        released += [r[0] for r in raw.execute(sql, [*part, now, now]) if r[1] == "pending"]
    for start in range(0, len(released), _CHUNK):
        part = released[start : start + _CHUNK]
        raw.execute(
            _READY_EVENTS.format(ids=", ".join("?" * len(part))),
            [now, ready.action, ready.status, ready.from_state, *part],
        )
    _counts(raw, [(*c[:-1], c[-1] * len(released)) for c in ready.counts])
    return len(released)


def _raw(conn: Connection) -> sqlite3.Connection:
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


class SQLiteJobs(JobDriver):
    """The SQLite side of :class:`~chronolog.store.sql.jobs.JobDriver`."""

    def enqueue(self, conn: Connection, batch: EnqueueBatch) -> list[int]:
        rows = batch.rows
        if not rows:
            return []
        raw = _raw(conn)
        move = batch.enqueued
        try:
            raw.executemany(_INSERT_JOBS, rows)
            # Inside one write transaction nobody else inserts, and AUTOINCREMENT hands
            # out consecutive rowids: the batch's ids end at the last one.
            last = int(raw.execute("SELECT last_insert_rowid()").fetchone()[0])
            first = last - len(rows) + 1
            raw.execute(
                _NEW_EVENTS,
                (
                    batch.now,
                    move.action,
                    move.status,
                    *batch.actor,
                    move.from_state,
                    first,
                    last,
                ),
            )
            _counts(raw, [(*c[:-1], c[-1] * len(rows)) for c in move.counts])
        except sqlite3.Error as exc:
            raise _driver_error(_INSERT_JOBS, exc) from exc
        return list(range(first, last + 1))

    def run_batch(self, store: Store, batch: Batch) -> BatchResult:
        done, claim = batch.completing, batch.claiming
        now = batch.now
        with store.write() as conn:
            raw = _raw(conn)
            try:
                completed: list[int] = []
                freeing: list[int] = []
                for start in range(0, len(batch.done), _CHUNK // 3):
                    part = batch.done[start : start + _CHUNK // 3]
                    sql = _completing(len(part))
                    params = [now, now, *(v for c in part for v in c), batch.project_id]
                    for job_id, dependents in raw.execute(sql, params):
                        completed.append(job_id)
                        if dependents is not None:
                            freeing.append(job_id)
                claimed: list[Any] = []
                if batch.limit > 0:
                    queues = batch.queues
                    sql = claim_sql(queues)
                    params = [
                        batch.worker,
                        batch.pid,
                        batch.lease_until,
                        now,
                        now,
                        now,
                        batch.project_id,
                        now,
                        *(queues or ()),
                        batch.limit,
                    ]
                    claimed = raw.execute(sql, params).fetchall()
                moved = [*completed, *(r[0] for r in claimed)]
                for start in range(0, len(moved), _CHUNK):
                    part = moved[start : start + _CHUNK]
                    raw.execute(
                        _recording(len(part)),
                        [
                            now,
                            done.action,
                            claim.action,
                            done.status,
                            claim.status,
                            done.from_state,
                            claim.from_state,
                            *part,
                        ],
                    )
                _counts(
                    raw,
                    [(*c[:-1], c[-1] * len(completed)) for c in done.counts]
                    + [(*c[:-1], c[-1] * len(claimed)) for c in claim.counts],
                )
                released = _free(raw, batch, freeing) if freeing else 0
                subjects: dict[int, tuple[str, str]] = {}
                pks = sorted({r[_SUBJECT] for r in claimed if r[_SUBJECT] is not None})
                if pks:
                    found = raw.execute(_SUBJECTS.format(pks=", ".join("?" * len(pks))), pks)
                    subjects = {int(pk): (kind, ident) for pk, kind, ident in found}
            except sqlite3.Error as exc:
                raise _driver_error(_CLAIM, exc) from exc
        none = (None, None)
        rows: list[Any] = [ClaimedRow(*r, *subjects.get(r[_SUBJECT], none)) for r in claimed]
        rows.sort(key=lambda r: (-r[_PRIORITY], r[_RUN_AT], r[0]))
        return BatchResult(completed=completed, claimed=rows, released=released)
