"""The job queue's hot operations on PostgreSQL (``JobDriver``): its SQL text and code.

A worker's whole batch is **one statement**, sent in autocommit mode so it is
also one transaction and **one round trip**: data-modifying CTEs complete
the finished jobs (``done``), claim the next ones (``moved``), insert one
event per moved job (``ev``), add the counters (``counted``), and the final
SELECT returns the claimed rows with their subjects, the completed ids and a
``pg_notify`` for event listeners.

Plans that hold without statistics (a new database has none until
autovacuum's first ANALYZE):

* the claim picks its ids with ``id = ANY(ARRAY(SELECT … ORDER BY priority
  DESC, run_at, id LIMIT n FOR UPDATE SKIP LOCKED))``: the subquery reads a
  partial index of pending jobs in claim order (``ix_jobs_claim`` for one
  queue, ``ix_jobs_claim_any`` for all), which no estimate can beat, and the
  array form gives the prepared statement a generic plan that expects about
  ``n`` rows instead of re-planning it on every call;
* completions are looked up by ``jobs.id = ANY(ids)`` on the primary key,
  the fence (``state = 'running'`` in the project) written as one ``IS TRUE``
  test that no index answers: without statistics PostgreSQL otherwise walked
  every running job's entry in the (project, state, id) index, dead ones too;
* a claimed job's subject is looked up by primary key only when it has one
  (a subquery under ``CASE``, not a join a plan could hash over the table);
* every value travels as a parameter (arrays for the per-job ones) but the
  claim's limit, so a text is prepared once per connection and limit.

``tests/test_jobs_plans.py`` holds the plans with EXPLAIN on a freshly
migrated, never-analysed database.

Statements are sent through psycopg's raw cursor (``$n`` placeholders, no
client-side parsing of the text): the named placeholders below are numbered
once, at import.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from ...._rollups import LEVELS
from ...notify import channel_for
from ...schema import event_counts, jobs
from ..events import COUNT_KEYS
from ..jobs import (
    READY,
    Batch,
    BatchResult,
    ClaimedRow,
    ControlledClaim,
    ControlledResult,
    EnqueueBatch,
    JobDriver,
    NewJobRow,
    QueueControl,
)

if TYPE_CHECKING:
    from ...engine import Store

__all__ = ["PostgreSQLJobs", "batch_query"]

_JOB_NAMES = tuple(c.name for c in jobs.c)
_NAME = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` placeholders → ``$n``; the names in parameter order (each once)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAME.sub(number, sql), tuple(names)


_PG = postgresql.dialect()  # type: ignore[no-untyped-call]
_COUNT_TYPES = [event_counts.c[n].type.compile(dialect=_PG) for n in (*COUNT_KEYS, "count")]
_COUNT_COLUMNS = ", ".join((*COUNT_KEYS, "count"))
_COUNT_ARRAYS = ", ".join(f":k{i}::{t}[]" for i, t in enumerate(_COUNT_TYPES))
_CONFLICT = (
    f"ON CONFLICT ({', '.join(COUNT_KEYS)}) DO UPDATE SET count = event_counts.count + "
    "excluded.count"
)

# A job's event, from a row of a CTE that returned the job's new columns: the
# same fields as ``jobs.queue._trail.job_event`` builds in Python.
_EVENT_COLUMNS = (
    "project_id, occurred_at, event_type, action, status, actor_type, actor_id, actor_name, "
    "target_type, target_id, target_title, error, metadata"
)


def _event_select(source: str, move: str, actor: str) -> str:
    # An ORDER BY after it must name the source (``jobs.id``): a bare ``id`` is the
    # output column ``id::text`` and would sort the events by their ids as text.
    return (
        f"SELECT project_id, :now, 'job', :{move}_action, :{move}_status, {actor}, 'job', "
        f"id::text, kind, NULL, jsonb_build_object('queue', queue, 'attempt', attempt, "
        f"'from', :{move}_from::text, 'state', state, 'sort_key', history) FROM {source}"
    )


_WORKER = "'worker', worker, NULL"

_BATCH = """
WITH done AS (
    UPDATE jobs SET state = 'completed', result = v.result, finished_at = :now,
        lease_expires_at = NULL, history = jobs.history + 1, updated_at = :now
    FROM unnest(:ids::bigint[], :leases::bigint[], :results::jsonb[]) AS v(id, lease, result)
    WHERE jobs.id = ANY(:ids::bigint[]) AND jobs.id = v.id AND jobs.lease = v.lease
        -- The fence, in a form no index can answer: the jobs are found by id only.
        AND (jobs.state = 'running' AND jobs.project_id = :project) IS TRUE
    RETURNING jobs.id, jobs.project_id, jobs.queue, jobs.kind, jobs.state, jobs.attempt,
        jobs.worker, jobs.history, jobs.dependents
{deps_ctes}), moved AS (
    UPDATE jobs SET state = 'running', lease = lease + 1, attempt = attempt + 1,
        history = history + 1, worker = :worker, pid = :pid, lease_expires_at = :lease_until,
        heartbeat_at = :now, started_at = :now, progress = NULL, progress_text = NULL,
        updated_at = :now
    WHERE id = ANY(ARRAY({pick}))
    RETURNING {job_columns}
), ev AS (
    INSERT INTO events ({event_columns})
    {done_events}
    UNION ALL{ready_events}
    {claim_events}
), tally AS (
    SELECT :done_action::text AS action, :done_status::text AS status, count(*) AS n FROM done
    UNION ALL{ready_tally}
    SELECT :claim_action::text, :claim_status::text, count(*) FROM moved
), counted AS (
    INSERT INTO event_counts ({count_columns})
    SELECT :project, g.level, :now / 1000000 / g.level * g.level, 'job', t.action, t.status,
        'worker', 'job', :shard, t.n
    FROM tally AS t CROSS JOIN (VALUES {levels}) AS g(level)
    WHERE t.n > 0
    ORDER BY g.level, 3, t.action COLLATE "C", t.status COLLATE "C"
    {conflict}
)
SELECT {moved_columns},
    CASE WHEN m.subject_pk IS NOT NULL THEN
        (SELECT s.kind FROM entities AS s WHERE s.pk = m.subject_pk) END,
    CASE WHEN m.subject_pk IS NOT NULL THEN
        (SELECT s.entity_id FROM entities AS s WHERE s.pk = m.subject_pk) END,
    (SELECT array_agg(id) FROM done),
    (SELECT 1 FROM pg_notify(:channel, :project::text)
     WHERE EXISTS (SELECT 1 FROM done) OR EXISTS (SELECT 1 FROM moved)),
    {controlled},
{deps_tail}
FROM (VALUES (1)) AS one(x)
LEFT JOIN moved AS m ON true
ORDER BY m.priority DESC, m.run_at, m.id
"""


# The batch's part that frees the dependents of the jobs it completes: in the
# statement only when one of them had dependents when it was claimed (the
# caller knows); otherwise the lean statement returns the completed jobs that
# have dependents all the same (one enqueued while the job ran) and the caller
# settles them in a transaction of its own.
_DEPS_CTES = """), freed AS (
    -- Dependents of the completed jobs that have any (``dependents`` is NULL on a job
    -- nobody waits for: then the array is empty and no index is read).
    SELECT d.job_id, count(*)::int AS n FROM job_dependencies AS d
    WHERE d.depends_on = ANY(ARRAY(SELECT id FROM done WHERE dependents IS NOT NULL))
    GROUP BY d.job_id
), gate AS (
    -- Lock them in id order first: two batches freeing the same jobs never deadlock.
    SELECT jobs.id FROM jobs WHERE jobs.id = ANY(ARRAY(SELECT job_id FROM freed))
        AND jobs.state = 'waiting' ORDER BY jobs.id FOR UPDATE
), ready AS (
    -- Under the row lock: a concurrent batch freeing the same job waits, then sees
    -- this one's count (PostgreSQL re-reads a locked row), so exactly one of them
    -- takes it to zero and moves it to pending.
    UPDATE jobs SET waiting_for = jobs.waiting_for - f.n,
        state = CASE WHEN jobs.waiting_for - f.n <= 0 THEN 'pending' ELSE 'waiting' END,
        history = jobs.history + CASE WHEN jobs.waiting_for - f.n <= 0 THEN 1 ELSE 0 END,
        run_at = GREATEST(jobs.run_at, :now), updated_at = :now
    FROM freed AS f
    WHERE jobs.id = f.job_id AND jobs.id = ANY(ARRAY(SELECT id FROM gate))
        AND jobs.state = 'waiting'
    RETURNING jobs.id, jobs.project_id, jobs.queue, jobs.kind, jobs.state, jobs.attempt,
        NULL::text AS worker, jobs.history
"""
_READY_EVENTS = """
    {ready_events} WHERE state = 'pending'
    UNION ALL"""
_READY_TALLY = """
    SELECT :ready_action::text, :ready_status::text, count(*) FROM ready WHERE state = 'pending'
    UNION ALL"""
_DEPS_TAIL = """    (SELECT 1 FROM pg_notify(:jobs_channel, :project::text)
     WHERE EXISTS (SELECT 1 FROM ready WHERE state = 'pending')),
    -- Completed jobs with more dependents than this statement's snapshot shows edges
    -- for: a job enqueued after one of them committed while this statement waited for
    -- its row lock. The caller settles those dependents in a transaction of its own.
    (SELECT array_agg(d.id) FROM done AS d WHERE d.dependents IS NOT NULL
        AND d.dependents > (SELECT count(*) FROM job_dependencies AS e
                            WHERE e.depends_on = d.id)),
    (SELECT count(*) FROM ready WHERE state = 'pending')"""
_LEAN_TAIL = """    NULL,
    -- Completed jobs that have dependents: the caller settles them (see above).
    (SELECT array_agg(d.id) FROM done AS d WHERE d.dependents IS NOT NULL),
    0"""


_PICK = """
        SELECT id FROM jobs WHERE project_id = :project AND state = 'pending'
            AND run_at <= :now{queues}{kinds}
        ORDER BY priority DESC, run_at, id LIMIT {limit} FOR UPDATE SKIP LOCKED"""
# Several queues: the first jobs of each, in its order on ix_jobs_claim (a LATERAL
# per queue, as pgqueuer's dequeue does per entrypoint), then the first of those.
# ``queue = ANY(…)`` instead could not read the index in order (a sort of every
# due job of the queues), and without statistics PostgreSQL walked all pending jobs.
# A queue with a control row (paused or limited) is left out before its LATERAL runs.
_PICK_EACH = """
        SELECT c.id FROM (
            SELECT u.queue FROM unnest(:queues::text[]) AS u(queue)
            WHERE NOT EXISTS (
                SELECT FROM job_queues AS k WHERE k.project_id = :project AND k.queue = u.queue)
        ) AS q
        CROSS JOIN LATERAL (
            SELECT id, priority, run_at FROM jobs
            WHERE project_id = :project AND queue = q.queue AND state = 'pending'
                AND run_at <= :now{kinds}
            ORDER BY priority DESC, run_at, id LIMIT {limit} FOR UPDATE SKIP LOCKED) AS c
        ORDER BY c.priority DESC, c.run_at, c.id LIMIT {limit}"""
# Queue controls (``job_queues``: a row only for a paused or limited queue) cost a
# queue without one a single probe of that table's primary key: the one-queue claim
# asks once (a one-time filter); the any-queue claim asks first whether the project
# has any control row at all (an InitPlan, once per statement) and only then, per
# candidate job, whether its queue has one. The jobs of controlled queues are claimed
# by ``jobs/queues.py`` instead, under the control row's lock.
_FREE_ONE = (
    " AND NOT EXISTS (SELECT FROM job_queues AS k WHERE k.project_id = :project"
    " AND k.queue = :queue)"
)
_FREE_ANY = (
    " AND (NOT EXISTS (SELECT FROM job_queues AS k WHERE k.project_id = :project)"
    " OR NOT EXISTS (SELECT FROM job_queues AS k WHERE k.project_id = :project"
    " AND k.queue = jobs.queue))"
)
_KINDS = " AND kind = ANY(:kinds::text[])"
# The limited (not paused) queues of the claim's filter: the caller claims their jobs
# on the limited path (one probe of the same primary key).
_CONTROLLED = (
    "(SELECT array_agg(k.queue ORDER BY k.queue) FROM job_queues AS k"
    " WHERE k.project_id = :project AND NOT k.paused{filter})"
)


def _batch_sql(pick: str, controlled: str, frees: bool) -> tuple[str, tuple[str, ...]]:
    template = (
        _BATCH.replace("{deps_ctes}", _DEPS_CTES if frees else "")
        .replace("{ready_events}", _READY_EVENTS if frees else "", 1)
        .replace("{ready_tally}", _READY_TALLY if frees else "")
        .replace("{deps_tail}", _DEPS_TAIL if frees else _LEAN_TAIL)
    )
    return _numbered(
        template.format(
            pick=pick,
            controlled=controlled,
            job_columns=", ".join(_JOB_NAMES),
            event_columns=_EVENT_COLUMNS,
            done_events=_event_select("done", "done", _WORKER),
            claim_events=_event_select("moved", "claim", _WORKER),
            ready_events=_event_select("ready", "ready", _WORKER),
            count_columns=_COUNT_COLUMNS,
            levels=", ".join(f"({level})" for level in LEVELS),
            conflict=_CONFLICT,
            moved_columns=", ".join(f"m.{n}" for n in _JOB_NAMES),
        )
    )


# One text per shape of the queue filter. Any queue: the claim states the partial
# predicate of ix_jobs_claim_any (``id > 0``), the only claim that may read it; named
# queues read ix_jobs_claim in order.
_PICKS = {
    "any": _PICK.replace("{queues}", " AND id > 0" + _FREE_ANY),  # ix_jobs_claim_any's predicate
    "one": _PICK.replace("{queues}", " AND queue = :queue" + _FREE_ONE),
    "many": _PICK_EACH,
}
_CONTROLLED_FILTERS = {
    "any": "",
    "one": " AND k.queue = :queue",
    "many": " AND k.queue = ANY(:queues::text[])",
}
_LITERAL_LIMITS = 256
"""Claims of up to this many jobs have the limit in their text (see :func:`_batch_text`)."""
_texts: dict[tuple[str, bool, bool, int], tuple[str, tuple[str, ...]]] = {}


def _batch_text(
    shape: str, limit: int, kinds: bool = False, frees: bool = True
) -> tuple[str, tuple[str, ...]]:
    """The batch statement for a queue filter's shape and a claim's limit.

    The limit is written into the text, not bound: PostgreSQL costs ``LIMIT $n``
    of a generic plan as a tenth of the rows (800 of 8,000 pending jobs), found
    the generic plan dearer than the custom ones, and planned the statement
    afresh on every execution (1.7 ms of a 1.6 ms statement, once the table had
    statistics). A worker's limits are its free slots, so it uses a handful of
    texts, each prepared once.
    """
    key = (shape, kinds, frees, limit if limit <= _LITERAL_LIMITS else -1)
    found = _texts.get(key)
    if found is None:
        literal = str(limit) if limit <= _LITERAL_LIMITS else ":limit"
        pick = _PICKS[shape].replace("{limit}", literal).replace("{kinds}", _KINDS if kinds else "")
        controlled = _CONTROLLED.replace("{filter}", _CONTROLLED_FILTERS[shape])
        found = _texts[key] = _batch_sql(pick, controlled, frees)
    return found


# -- the controlled claim: limited queues, under their limits ------------------------------
#
# Two statements in one transaction: the first locks the queues' control rows (in queue
# order), the second claims. In read committed each statement has its own snapshot, so
# the second, which starts once the locks are granted, counts every job the previous
# holder of the lock claimed (and committed). One statement could not: its snapshot
# would predate the lock it waited for. The transaction goes in one pipeline (BEGIN, the
# two statements, COMMIT, then one sync): one round trip, as the batch is. The claim
# itself leaves paused queues out, so it needs no answer from the lock first.
_LOCK_CONTROLS = _numbered(
    """
SELECT queue, paused, concurrency, rate_limit, rate_period, window_start, window_count
FROM job_queues WHERE project_id = :project AND queue = ANY(:queues::text[])
ORDER BY queue FOR UPDATE"""
)
_CONTROLLED_CLAIM = """
WITH lim AS (
    SELECT k.queue, LEAST(:limit::int,
        COALESCE(k.concurrency - (SELECT count(*) FROM jobs AS r WHERE r.project_id = :project
            AND r.state = 'running' AND r.queue = k.queue), :limit::int),
        CASE WHEN k.rate_limit IS NULL THEN :limit::int
            WHEN k.window_start IS NULL OR :now >= k.window_start + k.rate_period THEN k.rate_limit
            ELSE k.rate_limit - k.window_count END) AS room
    FROM job_queues AS k
    WHERE k.project_id = :project AND k.queue = ANY(:queues::text[]) AND NOT k.paused
), picked AS (
    SELECT c.id FROM lim CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM jobs
        WHERE project_id = :project AND queue = lim.queue AND state = 'pending'
            AND run_at <= :now{kinds}
        ORDER BY priority DESC, run_at, id LIMIT GREATEST(lim.room, 0)
        FOR UPDATE SKIP LOCKED) AS c
    ORDER BY c.priority DESC, c.run_at, c.id LIMIT :limit::int
), moved AS (
    UPDATE jobs SET state = 'running', lease = lease + 1, attempt = attempt + 1,
        history = history + 1, worker = :worker, pid = :pid, lease_expires_at = :lease_until,
        heartbeat_at = :now, started_at = :now, progress = NULL, progress_text = NULL,
        updated_at = :now
    WHERE id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING {job_columns}
), ev AS (
    INSERT INTO events ({event_columns})
    {claim_events}
), counted AS (
    INSERT INTO event_counts ({count_columns})
    SELECT :project, g.level, :now / 1000000 / g.level * g.level, 'job', :claim_action::text,
        :claim_status::text, 'worker', 'job', :shard, t.n
    FROM (SELECT count(*) AS n FROM moved) AS t CROSS JOIN (VALUES {levels}) AS g(level)
    WHERE t.n > 0
    ORDER BY g.level
    {conflict}
), win AS (
    UPDATE job_queues AS k SET
        window_start = CASE WHEN k.window_start IS NULL OR :now >= k.window_start + k.rate_period
            THEN :now ELSE k.window_start END,
        window_count = CASE WHEN k.window_start IS NULL OR :now >= k.window_start + k.rate_period
            THEN 0 ELSE k.window_count END + m.n
    FROM (SELECT queue, count(*)::int AS n FROM moved GROUP BY queue) AS m
    WHERE k.project_id = :project AND k.queue = m.queue AND k.rate_limit IS NOT NULL
)
SELECT {moved_columns},
    CASE WHEN m.subject_pk IS NOT NULL THEN
        (SELECT s.kind FROM entities AS s WHERE s.pk = m.subject_pk) END,
    CASE WHEN m.subject_pk IS NOT NULL THEN
        (SELECT s.entity_id FROM entities AS s WHERE s.pk = m.subject_pk) END,
    (SELECT 1 FROM pg_notify(:channel, :project::text))
FROM moved AS m
ORDER BY m.priority DESC, m.run_at, m.id
"""
_controlled_texts: dict[bool, tuple[str, tuple[str, ...]]] = {}


def _controlled_text(kinds: bool) -> tuple[str, tuple[str, ...]]:
    found = _controlled_texts.get(kinds)
    if found is None:
        found = _controlled_texts[kinds] = _numbered(
            _CONTROLLED_CLAIM.format(
                kinds=_KINDS if kinds else "",
                job_columns=", ".join(_JOB_NAMES),
                event_columns=_EVENT_COLUMNS,
                claim_events=_event_select("moved", "claim", _WORKER),
                count_columns=_COUNT_COLUMNS,
                levels=", ".join(f"({level})" for level in LEVELS),
                conflict=_CONFLICT,
                moved_columns=", ".join(f"m.{n}" for n in _JOB_NAMES),
            )
        )
    return found


_INSERTED = "id, project_id, queue, kind, state, attempt, history"

# Small batches: the jobs, their events and counters in one statement. The
# input order is kept: rows are inserted in ordinality order, so their ids
# (taken from the sequence row by row) grow in input order.
_ENQUEUE_SMALL = _numbered(
    f"""
WITH ins AS (
    INSERT INTO jobs (project_id, queue, kind, payload, state, priority, run_at, attempt,
        max_attempts, subject_pk, lease, history, created_at, updated_at)
    SELECT :project, u.queue, u.kind, u.payload::jsonb, 'pending', u.priority, u.run_at, 0,
        u.max_attempts, u.subject_pk, 0, 1, :now, :now
    FROM unnest(:queue::text[], :kind::text[], :payload::text[], :priority::int[],
        :run_at::bigint[], :max_attempts::int[], :subject_pk::bigint[])
        WITH ORDINALITY AS u(queue, kind, payload, priority, run_at, max_attempts, subject_pk, n)
    ORDER BY u.n
    RETURNING {_INSERTED}
), ev AS (
    INSERT INTO events ({_EVENT_COLUMNS})
    {_event_select("ins", "new", ":actor_type, :actor_id, :actor_name")} ORDER BY ins.id
), counted AS (
    INSERT INTO event_counts ({_COUNT_COLUMNS})
    SELECT * FROM unnest({_COUNT_ARRAYS}) {_CONFLICT}
)
SELECT id, (SELECT 1 FROM pg_notify(:jobs_channel, :project::text)),
    (SELECT 1 FROM pg_notify(:channel, :project::text))
FROM ins ORDER BY id
"""
)
# Large batches: the jobs go in by COPY (ids reserved first); their events and
# counters follow in one statement that reads the new rows back by id.
_ENQUEUE_TRAIL_SQL = f"""
WITH ev AS (
    INSERT INTO events ({_EVENT_COLUMNS})
    {_event_select("jobs", "new", ":actor_type, :actor_id, :actor_name")}
    WHERE {{new_rows}} ORDER BY jobs.id
), counted AS (
    INSERT INTO event_counts ({_COUNT_COLUMNS})
    SELECT * FROM unnest({_COUNT_ARRAYS}) {_CONFLICT}
)
SELECT pg_notify(:jobs_channel, :project::text), pg_notify(:channel, :project::text)
"""
# The new rows by their ids; when the ids reserved are one unbroken range (no
# concurrent nextval came between them, the usual case) every id of the range is
# one of ours, and a range scan replaces 20,000 lookups.
_ENQUEUE_TRAIL = _numbered(_ENQUEUE_TRAIL_SQL.replace("{new_rows}", "id = ANY(:ids::bigint[])"))
_ENQUEUE_TRAIL_RANGE = _numbered(
    _ENQUEUE_TRAIL_SQL.replace("{new_rows}", "id BETWEEN :first::bigint AND :last::bigint")
)
_COPY_FROM = 200
"""From this many jobs, ``COPY`` beats one statement of arrays (measured: 60k against
51k jobs/s at 20,000)."""
_COPY_JOBS = f"COPY jobs (id, {', '.join(NewJobRow._fields)}) FROM STDIN"
# One array of ids, in the order they were taken (binary: half the time of 20,000 rows).
_RESERVE = "SELECT array_agg(nextval('jobs_id_seq')) FROM generate_series(1, %s)"


def _run(raw: Any, query: tuple[str, tuple[str, ...]], values: dict[str, Any]) -> list[Any]:
    sql, names = query
    try:
        with psycopg.RawCursor(raw) as cursor:
            cursor.execute(sql, [values[n] for n in names], prepare=True)
            return cursor.fetchall()
    except psycopg.Error as exc:
        # Chronolog's transactions translate SQLAlchemy's errors: wrap the driver's.
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


def _counts(values: dict[str, Any], rows: Sequence[Sequence[Any]]) -> None:
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(COUNT_KEYS) + 1)
    for i, column in enumerate(columns):
        values[f"k{i}"] = list(column)


@contextmanager
def _driver(conn: Connection) -> Iterator[Any]:
    raw = conn.connection.driver_connection
    assert raw is not None
    yield raw


class PostgreSQLJobs(JobDriver):
    """The PostgreSQL side of :class:`~chronolog.store.sql.jobs.JobDriver`."""

    def enqueue(self, conn: Connection, batch: EnqueueBatch) -> list[int]:
        n = len(batch.rows) if batch.count is None else batch.count
        # Rows still being checked (``more``) go straight into the COPY: the server
        # writes the first ones while Python checks the rest.
        rows: Iterable[NewJobRow] = (
            batch.rows if batch.more is None else itertools.chain(batch.rows, batch.more)
        )
        if not n:
            return []
        move = batch.enqueued
        values: dict[str, Any] = {
            "project": batch.project_id,
            "now": batch.now,
            "new_action": move.action,
            "new_status": move.status,
            "new_from": move.from_state,
            "actor_type": batch.actor[0],
            "actor_id": batch.actor[1],
            "actor_name": batch.actor[2],
            "jobs_channel": channel_for("jobs"),
            "channel": channel_for("events"),
        }
        _counts(values, [(*c[:-1], c[-1] * n) for c in move.counts])
        with _driver(conn) as raw:
            if n < _COPY_FROM:
                few = list(rows)
                values.update(
                    queue=[r.queue for r in few],
                    kind=[r.kind for r in few],
                    payload=[r.payload for r in few],
                    priority=[r.priority for r in few],
                    run_at=[r.run_at for r in few],
                    max_attempts=[r.max_attempts for r in few],
                    subject_pk=[r.subject_pk for r in few],
                )
                return [int(r[0]) for r in _run(raw, _ENQUEUE_SMALL, values)]
            try:
                with raw.cursor(binary=True) as cursor:
                    found = cursor.execute(_RESERVE, (n,), prepare=False).fetchone()
                    ids = list(found[0]) if found else []
                with raw.cursor() as cursor, cursor.copy(_COPY_JOBS) as copy:
                    write = copy.write_row
                    for new_id, row in zip(ids, rows, strict=True):
                        write((new_id, *row))
            except psycopg.Error as exc:
                raise DBAPIError.instance(_COPY_JOBS, None, exc, psycopg.Error) from exc
            first, last = min(ids), max(ids)
            if last - first == n - 1:  # n distinct ids over n values: all of the range
                values.update(first=first, last=last)
                _run(raw, _ENQUEUE_TRAIL_RANGE, values)
            else:
                values["ids"] = ids
                _run(raw, _ENQUEUE_TRAIL, values)
        return ids

    def run_batch(self, store: Store, batch: Batch) -> BatchResult:
        query, values = batch_query(batch)
        with store.autocommit() as conn, _driver(conn) as raw:
            rows = _run(raw, query, values)
        width = len(_JOB_NAMES) + 2
        completed = [int(i) for i in rows[0][width] or ()] if rows else []
        released = int(rows[0][width + 5] or 0) if rows else 0
        unsettled = [int(i) for i in rows[0][width + 4] or ()] if rows else []
        claimed = [ClaimedRow(*r[:width]) for r in rows if r[0] is not None]
        controlled = tuple(rows[0][width + 2] or ()) if rows else ()
        return BatchResult(
            completed=completed,
            claimed=claimed,
            released=released,
            unsettled=unsettled,
            controlled=controlled,
        )

    def claim_controlled(self, store: Store, claim: ControlledClaim) -> ControlledResult:
        return _claim_controlled(store, claim)


def _claim_controlled(store: Store, claim: ControlledClaim) -> ControlledResult:
    move = claim.claiming
    values: dict[str, Any] = {
        "project": claim.project_id,
        "queues": list(claim.queues),
        "now": claim.now,
        "limit": claim.limit,
        "worker": claim.worker,
        "pid": claim.pid,
        "lease_until": claim.lease_until,
        "claim_action": move.action,
        "claim_status": move.status,
        "claim_from": move.from_state,
        "shard": claim.shard,
        "channel": channel_for("events"),
    }
    if claim.kinds is not None:
        values["kinds"] = list(claim.kinds)
    lock_sql, lock_names = _LOCK_CONTROLS
    claim_sql, claim_names = _controlled_text(claim.kinds is not None)
    with store.autocommit() as conn, _driver(conn) as raw:
        try:
            with raw.pipeline():
                raw.execute("BEGIN")
                lock = psycopg.RawCursor(raw)
                lock.execute(lock_sql, [values[n] for n in lock_names], prepare=True)
                take = psycopg.RawCursor(raw)
                take.execute(claim_sql, [values[n] for n in claim_names], prepare=True)
                raw.execute("COMMIT")
            with lock, take:
                controls = [QueueControl(*r) for r in lock.fetchall()]
                rows = take.fetchall()
        except psycopg.Error as exc:
            # A failed statement left the explicit transaction aborted: end it.
            with contextlib.suppress(psycopg.Error):
                raw.execute("ROLLBACK")
            raise DBAPIError.instance(claim_sql, None, exc, psycopg.Error) from exc
    width = len(_JOB_NAMES) + 2
    return ControlledResult(claimed=[ClaimedRow(*r[:width]) for r in rows], controls=controls)


def batch_query(batch: Batch) -> tuple[tuple[str, tuple[str, ...]], dict[str, Any]]:
    """The statement of a batch (its ``$n`` text and parameter names) and its values."""
    done, claim = batch.completing, batch.claiming
    ready = batch.readying or READY
    values: dict[str, Any] = {
        "ids": [c.id for c in batch.done],
        "leases": [c.lease for c in batch.done],
        "results": [c.result for c in batch.done],
        "project": batch.project_id,
        "now": batch.now,
        "worker": batch.worker,
        "pid": batch.pid,
        "lease_until": batch.lease_until,
        "limit": batch.limit,
        "done_action": done.action,
        "done_status": done.status,
        "done_from": done.from_state,
        "claim_action": claim.action,
        "claim_status": claim.status,
        "claim_from": claim.from_state,
        "ready_action": ready.action,
        "ready_status": ready.status,
        "ready_from": ready.from_state,
        "shard": batch.shard,
        "channel": channel_for("events"),
        "jobs_channel": channel_for("jobs"),
    }
    queues = batch.queues
    if queues is None:
        shape = "any"
    elif len(queues) == 1:
        shape, values["queue"] = "one", queues[0]
    else:
        shape, values["queues"] = "many", list(queues)
    if batch.kinds is not None:
        values["kinds"] = list(batch.kinds)
    return _batch_text(shape, batch.limit, batch.kinds is not None, batch.frees), values
