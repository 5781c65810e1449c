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
    ControlledClaim,
    ControlledResult,
    EnqueueBatch,
    JobDriver,
    QueueControl,
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
_COMPLETE_CHUNK = 64
"""Most completions per statement. With statistics (ANALYZE) and 100-200 rows in
``VALUES``, SQLite's planner adds a Bloom filter on ``jobs``, built by reading the
whole table on every statement (a batch of 200 cost 19 µs a row instead of 1-3);
below 100 it never did, for tables of 500 to a million rows."""

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


def claim_sql(
    queues: Sequence[str] | None, kinds: Sequence[str] | None = None, excluded: int = 0
) -> str:
    """The claim's text for a queue filter (None: any queue), a kind filter, and
    ``excluded`` queues left out (the controlled ones: paused or limited).

    The claim names its index: without statistics (no ANALYZE yet) SQLite
    preferred the (project, state, id) index and sorted every pending job.
    Parameters after ``run_at``: the queues, the kinds, the excluded queues.
    """
    where = ""
    if queues is not None:
        where += f" AND queue IN ({', '.join('?' * len(queues))})"
    if kinds is not None:
        where += f" AND kind IN ({', '.join('?' * len(kinds))})"
    if excluded:
        where += f" AND queue NOT IN ({', '.join('?' * excluded)})"
    index = "ix_jobs_claim_any" if queues is None else "ix_jobs_claim"
    return _CLAIM.format(index=index, queues=where)


# The project's control rows (paused or limited queues), read in the batch's write
# transaction (SQLite's writers are serialised: nothing changes them meanwhile). A
# project without any costs one probe of the primary key.
_CONTROLS = "SELECT queue, paused FROM job_queues WHERE project_id = ?"


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


_LOCK_CONTROLS = (
    "SELECT queue, paused, concurrency, rate_limit, rate_period, window_start, window_count "
    "FROM job_queues WHERE project_id = ? AND queue IN ({queues}) ORDER BY queue"
)
_RUNNING = (
    "SELECT queue, count(*) FROM jobs WHERE project_id = ? AND state = 'running' "
    "AND queue IN ({queues}) GROUP BY queue"
)
_WINDOW = (
    "UPDATE job_queues SET window_start = ?, window_count = ? WHERE project_id = ? AND queue = ?"
)


def _rows_with_subjects(raw: sqlite3.Connection, claimed: Sequence[Any]) -> list[Any]:
    """Claimed job rows with their subjects' (kind, id), in claim order."""
    subjects: dict[int, tuple[str, str]] = {}
    pks = sorted({r[_SUBJECT] for r in claimed if r[_SUBJECT] is not None})
    if pks:
        found = raw.execute(_SUBJECTS.format(pks=", ".join("?" * len(pks))), pks)
        subjects = {int(pk): (kind, ident) for pk, kind, ident in found}
    none = (None, None)
    rows: list[Any] = [ClaimedRow(*r, *subjects.get(r[_SUBJECT], none)) for r in claimed]
    rows.sort(key=lambda r: (-r[_PRIORITY], r[_RUN_AT], r[0]))
    return rows


def _claim_controlled(raw: sqlite3.Connection, claim: ControlledClaim) -> ControlledResult:
    """The controlled claim inside the caller's write transaction (SQLite's write lock
    serialises every claimer, so reading the limits and claiming cannot interleave)."""
    now, project = claim.now, claim.project_id
    marks = ", ".join("?" * len(claim.queues))
    controls = [
        QueueControl(q, bool(p), c, rl, rp, ws, int(wc))
        for q, p, c, rl, rp, ws, wc in raw.execute(
            _LOCK_CONTROLS.format(queues=marks), (project, *claim.queues)
        )
    ]
    live = [c for c in controls if not c.paused]
    capped = [c.queue for c in live if c.concurrency is not None]
    running: dict[str, int] = {}
    if capped:
        sql = _RUNNING.format(queues=", ".join("?" * len(capped)))
        running = {str(q): int(n) for q, n in raw.execute(sql, (project, *capped))}
    claimed: list[Any] = []
    left = claim.limit
    for c in live:
        if left <= 0:
            break
        allow = left
        if c.concurrency is not None:
            allow = min(allow, c.concurrency - running.get(c.queue, 0))
        start, count = c.window_start, c.window_count
        if c.rate_limit is not None and c.rate_period is not None:
            if start is None or now >= start + c.rate_period:
                start, count = now, 0
            allow = min(allow, c.rate_limit - count)
        if allow <= 0:
            continue
        params = [
            claim.worker,
            claim.pid,
            claim.lease_until,
            now,
            now,
            now,
            project,
            now,
            c.queue,
            *(claim.kinds or ()),
            allow,
        ]
        got = raw.execute(claim_sql([c.queue], claim.kinds), params).fetchall()
        if got and c.rate_limit is not None:
            raw.execute(_WINDOW, (start, count + len(got), project, c.queue))
        claimed += got
        left -= len(got)
    move = claim.claiming
    ids = [r[0] for r in claimed]
    for begin in range(0, len(ids), _CHUNK):
        part = ids[begin : begin + _CHUNK]
        raw.execute(
            _recording(len(part)),
            [
                now,
                move.action,
                move.action,
                move.status,
                move.status,
                move.from_state,
                move.from_state,
                *part,
            ],
        )
    _counts(raw, [(*c[:-1], c[-1] * len(claimed)) for c in move.counts])
    return ControlledResult(claimed=_rows_with_subjects(raw, claimed), controls=controls)


class SQLiteJobs(JobDriver):
    """The SQLite side of :class:`~chronolog.store.sql.jobs.JobDriver`."""

    def enqueue(self, conn: Connection, batch: EnqueueBatch) -> list[int]:
        rows = batch.rows if batch.more is None else [*batch.rows, *batch.more]
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
                for start in range(0, len(batch.done), _COMPLETE_CHUNK):
                    part = batch.done[start : start + _COMPLETE_CHUNK]
                    sql = _completing(len(part))
                    params = [now, now, *(v for c in part for v in c), batch.project_id]
                    for job_id, dependents in raw.execute(sql, params):
                        completed.append(job_id)
                        if dependents is not None:
                            freeing.append(job_id)
                claimed: list[Any] = []
                controlled: tuple[str, ...] = ()
                if batch.limit > 0:
                    queues = batch.queues
                    controls = raw.execute(_CONTROLS, (batch.project_id,)).fetchall()
                    excluded = [q for q, _ in controls]
                    controlled = tuple(
                        sorted(
                            q
                            for q, paused in controls
                            if not paused and (queues is None or q in queues)
                        )
                    )
                    sql = claim_sql(queues, batch.kinds, len(excluded))
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
                        *(batch.kinds or ()),
                        *excluded,
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
                rows = _rows_with_subjects(raw, claimed)
            except sqlite3.Error as exc:
                raise _driver_error(_CLAIM, exc) from exc
        return BatchResult(
            completed=completed, claimed=rows, released=released, controlled=controlled
        )

    def claim_controlled(self, store: Store, claim: ControlledClaim) -> ControlledResult:
        with store.write() as conn:
            try:
                return _claim_controlled(_raw(conn), claim)
            except sqlite3.Error as exc:
                raise _driver_error(_LOCK_CONTROLS, exc) from exc
