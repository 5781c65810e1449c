"""Statements about jobs, their log lines and their history.

Every statement that changes a running job names both the job id and its
lease token in its WHERE clause, so a stale worker's write matches no row
(fencing); the caller turns "no row" into ``LeaseLost``. The job row is the
lock for its history: ``jobs.history`` counts the job's transitions, so the
next ``sort_key`` comes back from the same UPDATE that changes the state, and
a batch of moves is written with a few bulk statements, not one per job.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    delete,
    func,
    select,
    text,
    update,
)

from ..._json import dumps, loads
from ..dialect import Dialect
from ..notify import channel_for
from ..schema import entities, event_counts, job_logs, jobs, transitions
from ..schema.jobs import ACTIVE_STATES
from .events import COUNT_KEYS, event_counts_add, event_insert_many, notify_events

__all__ = [
    "FINISHED_STATES",
    "JOB_COLUMNS",
    "JOB_INSERT_COLUMNS",
    "JobFilter",
    "JobRow",
    "JobTrail",
    "entity_ensure",
    "entity_keys",
    "entity_pk",
    "job_claim",
    "job_count_by_queue_state",
    "job_expired",
    "job_finish_many",
    "job_get",
    "job_history",
    "job_history_append_many",
    "job_id_by_unique_key",
    "job_insert_many",
    "job_insert_unique",
    "job_log_insert_many",
    "job_log_page",
    "job_log_purge_batch",
    "job_notify",
    "job_page",
    "job_purge_finished_batch",
    "job_state_lease",
    "job_update",
    "job_where",
]

FINISHED_STATES = ("completed", "failed", "cancelled")
"""States a job does not leave on its own."""

JOB_INSERT_COLUMNS = (
    "project_id",
    "queue",
    "kind",
    "payload",
    "state",
    "priority",
    "run_at",
    "attempt",
    "max_attempts",
    "unique_key",
    "subject_pk",
    "lease",
    "history",
    "created_at",
    "updated_at",
)
"""Column order of the tuples :func:`job_insert_many` takes (``payload`` as JSON text)."""

JOB_COLUMNS = tuple(jobs.c)
"""Columns every job read returns, in table order."""

_HISTORY_COLUMNS = (
    "project_id",
    "kind",
    "entity_id",
    "sort_key",
    "from_state",
    "to_state",
    "most_recent",
    "actor_type",
    "actor_id",
    "actor_name",
    "metadata",
    "occurred_at",
    "event_id",
)

_LOG_COLUMNS = tuple(
    job_logs.c[n] for n in ("id", "job_id", "attempt", "at", "level", "message", "fields")
)
_MOVE_COLUMNS = tuple(
    transitions.c[n]
    for n in (
        "sort_key",
        "from_state",
        "to_state",
        "occurred_at",
        "actor_type",
        "actor_id",
        "actor_name",
        "metadata",
        "event_id",
    )
)


_ACTIVE_PREDICATE = text("state IN ('pending', 'running')")


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Every filter of a job listing; ``None`` means "any"."""

    project_id: int
    states: tuple[str, ...] | None = None
    queues: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    subject_pk: int | None = None
    since: int | None = None
    finished_since: int | None = None


def job_where(f: JobFilter) -> list[ColumnElement[bool]]:
    """job_where: the WHERE terms of a job filter (project first, for the indexes)."""
    terms: list[ColumnElement[bool]] = [jobs.c.project_id == f.project_id]
    if f.states is not None:
        terms.append(jobs.c.state.in_(f.states))
    if f.queues is not None:
        terms.append(jobs.c.queue.in_(f.queues))
    if f.kinds is not None:
        terms.append(jobs.c.kind.in_(f.kinds))
    if f.subject_pk is not None:
        terms.append(jobs.c.subject_pk == f.subject_pk)
    if f.since is not None:
        terms.append(jobs.c.created_at >= f.since)
    if f.finished_since is not None:
        terms.append(jobs.c.finished_at >= f.finished_since)
    return terms


# -- producing -------------------------------------------------------------------------


def job_insert_many(conn: Connection, dialect: Dialect, rows: Sequence[Sequence[Any]]) -> list[int]:
    """job_insert_many: add jobs (tuples in ``JOB_INSERT_COLUMNS`` order); returns ids."""
    return dialect.insert_rows(conn, jobs, JOB_INSERT_COLUMNS, rows)


def job_insert_unique(conn: Connection, dialect: Dialect, row: Sequence[Any]) -> int | None:
    """job_insert_unique: add a job unless its unique key is held; returns the id or None."""
    values = dict(zip(JOB_INSERT_COLUMNS, row, strict=True))
    if isinstance(values["payload"], str):  # the bulk path's JSON text; the JSON type re-encodes
        values["payload"] = loads(values["payload"])
    stmt = (
        dialect.insert_ignore(
            jobs,
            ["project_id", "unique_key"],
            # Literal, not bound: PostgreSQL infers the partial index from the
            # predicate's text, which a (server-side prepared) parameter hides.
            index_where=_ACTIVE_PREDICATE,
        )
        .values(values)
        .returning(jobs.c.id)
    )
    new_id = conn.execute(stmt).scalar_one_or_none()
    return None if new_id is None else int(new_id)


def job_id_by_unique_key(conn: Connection, project_id: int, unique_key: str) -> int | None:
    """job_id_by_unique_key: the pending or running job holding ``unique_key``."""
    found = conn.execute(
        select(jobs.c.id).where(
            jobs.c.project_id == project_id,
            jobs.c.unique_key == unique_key,
            jobs.c.state.in_(ACTIVE_STATES),
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


def entity_ensure(
    conn: Connection, dialect: Dialect, project_id: int, kind: str, entity_id: str, now: int
) -> int:
    """entity_ensure: the pk of entity (kind, id), creating a bare row when it is new."""
    where = (
        entities.c.project_id == project_id,
        entities.c.kind == kind,
        entities.c.entity_id == entity_id,
    )
    pk = conn.execute(select(entities.c.pk).where(*where)).scalar_one_or_none()
    if pk is not None:
        return int(pk)
    conn.execute(
        dialect.insert_ignore(entities, ["project_id", "kind", "entity_id"]).values(
            project_id=project_id,
            kind=kind,
            entity_id=entity_id,
            # The states part pages entities by (state, state_since): never leave it NULL.
            state_since=now,
            created_at=now,
            updated_at=now,
        )
    )
    return int(conn.execute(select(entities.c.pk).where(*where)).scalar_one())


def entity_keys(conn: Connection, pks: Iterable[int]) -> dict[int, tuple[str, str]]:
    """entity_keys: (kind, id) of entities by pk."""
    wanted = sorted(set(pks))
    if not wanted:
        return {}
    rows = conn.execute(
        select(entities.c.pk, entities.c.kind, entities.c.entity_id).where(
            entities.c.pk.in_(wanted)
        )
    )
    return {int(r[0]): (r[1], r[2]) for r in rows}


def job_notify(conn: Connection, dialect: Dialect, project_id: int) -> None:
    """job_notify: wake workers in other processes at commit (PostgreSQL NOTIFY)."""
    dialect.notify(conn, channel_for("jobs"), str(project_id))


# -- claiming and fencing ---------------------------------------------------------------


_CHUNK = 1000
"""Most ids per hand-written IN list (SQLite and PostgreSQL cap bound parameters)."""
_JOB_NAMES = tuple(c.name for c in jobs.c)
JobRow = namedtuple("JobRow", _JOB_NAMES)  # type: ignore[misc]
"""A job row from the hand-written claim: attribute access like a SQLAlchemy Row."""
FinishedRow = namedtuple("FinishedRow", "id kind queue history attempt worker")
_FINISHED = "id, kind, queue, history, attempt, worker"


@dataclass(frozen=True, slots=True)
class JobTrail:
    """What a bulk move (claim, completion) records for every job it moves.

    Each moved job gets a transition ``from_state`` → ``to_state`` (sort_key =
    its new ``history``, metadata ``{action, attempt}``) and an activity event
    (type ``job``, ``action``, ``status``, actor ``worker`` = the job's worker,
    target the job, metadata ``{queue, attempt, state}``), all at ``at``.
    ``counts`` are the ``event_counts`` rows ``(*COUNT_KEYS, n)`` one such
    event adds (from the events part's level logic); they are added once per
    moved job. Running jobs always have a worker (the claim sets it), so every
    event of a bulk move has the same counter keys.
    """

    project_id: int
    at: int
    from_state: str
    to_state: str
    action: str
    status: str
    counts: Sequence[Sequence[Any]]


# The statements every job passes through, written by hand (``?`` placeholders,
# see ``Dialect.execute_raw``): SQLAlchemy's per-statement work costs more than they do.
_CLAIM_UPDATE = (
    "UPDATE jobs SET state = 'running', lease = lease + 1, attempt = attempt + 1, "
    "history = history + 1, worker = ?, pid = ?, lease_expires_at = ?, heartbeat_at = ?, "
    "started_at = ?, progress = NULL, progress_text = NULL, updated_at = ? "
)
_CLAIM_PICK = (
    "SELECT id FROM jobs WHERE project_id = ? AND state = 'pending' "
    "AND run_at <= ?{queues} ORDER BY priority DESC, run_at, id LIMIT ?{lock}"
)
_CLAIM_SET = _CLAIM_UPDATE + "WHERE id IN (" + _CLAIM_PICK + ") "
_CLAIM_SQL = _CLAIM_SET + "RETURNING " + ", ".join(_JOB_NAMES)
_FINISH_SET = (
    "UPDATE jobs SET state = 'completed', result = {result}, finished_at = ?, "
    "lease_expires_at = NULL, history = history + 1, updated_at = ? "
)
# SQLite: the (id, lease, result) triples as a VALUES list joined by UPDATE … FROM.
_FINISH_SQL = (
    _FINISH_SET.format(result="v.column3") + "FROM (VALUES {triples}) AS v "
    "WHERE jobs.project_id = ? AND jobs.state = 'running' "
    "AND jobs.id = v.column1 AND jobs.lease = v.column2 "
    "RETURNING jobs.id, jobs.kind, jobs.queue, jobs.history, jobs.attempt, jobs.worker"
)
_HISTORY_CLEAR_SQL = (
    "UPDATE transitions SET most_recent = false WHERE project_id = ? AND kind = 'job' "
    "AND most_recent = true AND entity_id IN ({ids})"
)

# PostgreSQL: one statement per claim or completion. The job UPDATE feeds
# data-modifying CTEs that write the event, clear the previous transition,
# insert the new transition and add to the counters; pg_notify rides along.
# Arrays (one parameter per column) keep the SQL text constant, so psycopg
# prepares it server-side after a few runs, and PostgreSQL settles on one
# generic plan. That plan must hold whatever the statistics say (a fresh
# database has none until autovacuum's first ANALYZE), so the previous
# transitions are found by an array of entity ids on the one-most_recent-row
# index (an index condition in any plan), not by joining ``moved``: without
# statistics the join became a nested loop over every job transition per row.
_TRAIL_CTES = (
    "ev AS (INSERT INTO events (project_id, occurred_at, event_type, action, status, "
    "actor_type, actor_id, actor_name, target_type, target_id, target_title, error, metadata) "
    "SELECT project_id, ?::bigint, 'job', ?::text, ?::text, 'worker', worker, NULL, 'job', "
    "id::text, kind, NULL, jsonb_build_object('queue', queue, 'attempt', attempt, 'state', ?::text) "
    "FROM moved RETURNING id, target_id), "
    "prev AS (UPDATE transitions SET most_recent = false "
    "WHERE project_id = (SELECT project_id FROM moved LIMIT 1) AND kind = 'job' "
    "AND most_recent AND entity_id = ANY(ARRAY(SELECT id::text FROM moved)) RETURNING 1), "
    # The count(*) gate runs prev to completion before the first new row goes in:
    # one most_recent row per job is a unique index, checked row by row.
    "tr AS (INSERT INTO transitions (project_id, kind, entity_id, sort_key, from_state, "
    "to_state, most_recent, actor_type, actor_id, actor_name, metadata, occurred_at, event_id) "
    "SELECT m.project_id, 'job', m.id::text, m.history, ?::text, ?::text, true, 'worker', "
    "m.worker, NULL, jsonb_build_object('action', ?::text, 'attempt', m.attempt), ?::bigint, "
    "ev.id FROM moved AS m JOIN ev ON ev.target_id = m.id::text "
    "WHERE (SELECT count(*) FROM prev) >= 0), "
    "cnt AS (INSERT INTO event_counts ({count_cols}) "
    "SELECT {k_cols}, k.n * moved_n.n FROM unnest({count_arrays}) AS k({k_names}) "
    "CROSS JOIN (SELECT count(*) AS n FROM moved) AS moved_n WHERE moved_n.n > 0 "
    "ON CONFLICT ({count_keys}) DO UPDATE SET count = event_counts.count + excluded.count) "
)
_PG_TAIL = "SELECT {cols}, (SELECT 1 FROM pg_notify(?, ?)) FROM moved"
# PostgreSQL takes the ids as an array (an InitPlan run once), not IN (subquery):
# the statement's generic plan then expects about ``limit`` rows and keeps to the
# indexes, so the prepared statement stops being re-planned on every claim (a
# third of its time); with IN, the generic plan assumed thousands of rows, hash
# joined over whole tables, and PostgreSQL kept planning each call afresh.
_PG_CLAIM_SET = _CLAIM_UPDATE + "WHERE id = ANY(ARRAY(" + _CLAIM_PICK + ")) "
_PG_CLAIM_SQL = (
    "WITH moved AS ("
    + _PG_CLAIM_SET
    + "RETURNING "
    + ", ".join(_JOB_NAMES)
    + "), {trail}"
    + _PG_TAIL.format(cols=", ".join(_JOB_NAMES))
)
_PG_FINISH_SQL = (
    "WITH moved AS ("
    + _FINISH_SET.format(result="v.result")
    + "FROM unnest(?::bigint[], ?::bigint[], ?::jsonb[]) AS v(id, lease, result) "
    # id = ANY(ids) as well as the join: a primary key lookup whatever the
    # statistics say (on fresh tables the planner otherwise walks every running job).
    "WHERE jobs.id = ANY(?::bigint[]) AND jobs.project_id = ? AND jobs.state = 'running' "
    "AND jobs.id = v.id AND jobs.lease = v.lease "
    "RETURNING jobs.id, jobs.kind, jobs.queue, jobs.history, jobs.attempt, jobs.worker, "
    "jobs.project_id), {trail}" + _PG_TAIL.format(cols=_FINISHED)
)
_pg_trail_sql: str | None = None


def _pg_trail() -> str:
    """The trail CTEs with the counter columns of ``event_counts`` filled in (built once)."""
    global _pg_trail_sql
    if _pg_trail_sql is None:
        from sqlalchemy.dialects import postgresql

        names = [*COUNT_KEYS, "count"]
        pg = postgresql.dialect()  # type: ignore[no-untyped-call]
        _pg_trail_sql = _TRAIL_CTES.format(
            count_cols=", ".join(names),
            k_cols=", ".join(f"k.{n}" for n in COUNT_KEYS),
            count_arrays=", ".join(
                f"?::{event_counts.c[n].type.compile(dialect=pg)}[]" for n in names[:-1]
            )
            + ", ?::bigint[]",
            k_names=", ".join([*COUNT_KEYS, "n"]),
            count_keys=", ".join(COUNT_KEYS),
        )
    return _pg_trail_sql


def _pg_trail_params(trail: JobTrail) -> list[Any]:
    counts = [list(column) for column in zip(*trail.counts, strict=True)]
    return [
        trail.at,
        trail.action,
        trail.status,
        trail.to_state,
        trail.from_state,
        trail.to_state,
        trail.action,
        trail.at,
        *counts,
        channel_for("events"),
        str(trail.project_id),
    ]


def _trail_write(conn: Connection, dialect: Dialect, trail: JobTrail, moved: Sequence[Any]) -> None:
    """Write a bulk move's trail with separate statements (where they cannot be chained)."""
    if not moved:
        return
    p, at, to_state = trail.project_id, trail.at, trail.to_state
    events = [
        (
            p,
            at,
            "job",
            trail.action,
            trail.status,
            "worker",
            r.worker,
            None,
            "job",
            str(r.id),
            r.kind,
            None,
            dumps({"queue": r.queue, "attempt": r.attempt, "state": to_state}),
        )
        for r in moved
    ]
    event_ids = event_insert_many(conn, dialect, events)
    n = len(moved)
    event_counts_add(conn, dialect, [(*c[:-1], c[-1] * n) for c in trail.counts])
    notify_events(conn, dialect, p)
    action = trail.action
    job_history_append_many(
        conn,
        dialect,
        p,
        [
            (
                r.id,
                r.history,
                trail.from_state,
                to_state,
                "worker",
                r.worker,
                None,
                dumps({"action": action, "attempt": r.attempt}),
                at,
                event_id,
            )
            for r, event_id in zip(moved, event_ids, strict=True)
        ],
    )


def job_claim(
    conn: Connection,
    dialect: Dialect,
    *,
    project_id: int,
    queues: Sequence[str] | None,
    limit: int,
    now: int,
    lease_until: int,
    worker: str,
    pid: int | None,
    trail: JobTrail,
) -> list[Any]:
    """job_claim: take up to ``limit`` due pending jobs, by priority then age, and record it.

    Each taken job gets ``lease + 1`` (the fencing token), ``attempt + 1`` and
    ``history + 1`` (the sort_key of its "running" transition), and ``trail``
    is written for it (transition, event, counters) in the same transaction:
    one statement where the dialect chains writes, a few bulk ones otherwise.
    Rows come back as ``JobRow`` in no particular order.
    """
    params = [worker, pid, lease_until, now, now, now, project_id, now]
    if dialect.chains_writes:
        in_queues = "" if queues is None else " AND queue = ANY(?::text[])"
        sql = _PG_CLAIM_SQL.format(queues=in_queues, lock=dialect.claim_lock_sql, trail=_pg_trail())
        params += [*(() if queues is None else (list(queues),)), limit, *_pg_trail_params(trail)]
        return [JobRow(*r[:-1]) for r in dialect.execute_raw(conn, sql, params)]
    in_queues = "" if queues is None else f" AND queue IN ({', '.join('?' * len(queues))})"
    sql = _CLAIM_SQL.format(queues=in_queues, lock=dialect.claim_lock_sql)
    params += [*(queues or ()), limit]
    rows = [JobRow(*r) for r in dialect.execute_raw(conn, sql, params)]
    _trail_write(conn, dialect, trail, rows)
    return rows


def job_finish_many(
    conn: Connection,
    dialect: Dialect,
    *,
    project_id: int,
    fenced: Sequence[tuple[int, int, str | None]],
    now: int,
    trail: JobTrail,
) -> list[Any]:
    """job_finish_many: complete running jobs whose (id, lease) still match, and record it.

    ``fenced`` holds (id, lease, result as JSON text or None). Returns (id,
    kind, queue, history, attempt, worker) per completed job; triples with a
    stale lease match nothing and are left out. ``trail`` is written for the
    completed jobs in the same transaction (see :func:`job_claim`).
    """
    if dialect.chains_writes:
        done = []
        for start in range(0, len(fenced), _CHUNK * 10):
            part = fenced[start : start + _CHUNK * 10]
            ids, leases, results = (list(column) for column in zip(*part, strict=True))
            params = [now, now, ids, leases, results, ids, project_id, *_pg_trail_params(trail)]
            sql = _PG_FINISH_SQL.format(trail=_pg_trail())
            done += [FinishedRow(*r[:-1]) for r in dialect.execute_raw(conn, sql, params)]
        return done
    done = []
    for start in range(0, len(fenced), _CHUNK // 3 * 3):  # bound parameters per statement
        part = fenced[start : start + _CHUNK // 3 * 3]
        sql = _FINISH_SQL.format(triples=", ".join(["(?, ?, ?)"] * len(part)))
        params = [now, now, *(v for triple in part for v in triple), project_id]
        done += [FinishedRow(*r) for r in dialect.execute_raw(conn, sql, params)]
    _trail_write(conn, dialect, trail, done)
    return done


def job_update(
    conn: Connection,
    *,
    project_id: int,
    job_id: int,
    states: Sequence[str],
    lease: int | None,
    values: dict[str, Any],
) -> Row[Any] | None:
    """job_update: change one job if it is in ``states`` (and holds ``lease``); returns it.

    Adds one to ``history`` when ``values`` sets a new ``state``.
    """
    terms = [jobs.c.project_id == project_id, jobs.c.id == job_id, jobs.c.state.in_(states)]
    if lease is not None:
        terms.append(jobs.c.lease == lease)
    if "state" in values:
        values = {**values, "history": jobs.c.history + 1}
    return conn.execute(update(jobs).where(*terms).values(**values).returning(*JOB_COLUMNS)).first()


def job_state_lease(
    conn: Connection, dialect: Dialect, project_id: int, job_id: int
) -> tuple[str, int, int, int] | None:
    """job_state_lease: (state, lease, attempt, max_attempts) of a job, row locked."""
    row = conn.execute(
        dialect.for_update(
            select(jobs.c.state, jobs.c.lease, jobs.c.attempt, jobs.c.max_attempts).where(
                jobs.c.project_id == project_id, jobs.c.id == job_id
            )
        )
    ).first()
    return None if row is None else (row[0], int(row[1]), int(row[2]), int(row[3]))


def job_get(
    conn: Connection, dialect: Dialect, project_id: int, job_id: int, *, lock: bool = False
) -> Row[Any] | None:
    """job_get: one job of a project by id (row locked with ``lock``)."""
    stmt = select(*JOB_COLUMNS).where(jobs.c.project_id == project_id, jobs.c.id == job_id)
    return conn.execute(dialect.for_update(stmt) if lock else stmt).first()


def job_expired(
    conn: Connection, dialect: Dialect, project_id: int, now: int, limit: int
) -> Sequence[Row[Any]]:
    """job_expired: running jobs whose lease ran out, locked, skipping ones being handled."""
    stmt = (
        select(*JOB_COLUMNS)
        .where(
            jobs.c.project_id == project_id,
            jobs.c.state == "running",
            jobs.c.lease_expires_at < now,
        )
        .order_by(jobs.c.lease_expires_at)
        .limit(limit)
    )
    return conn.execute(dialect.for_claim(stmt)).all()


def job_history_append_many(
    conn: Connection, dialect: Dialect, project_id: int, rows: Sequence[Sequence[Any]]
) -> None:
    """job_history_append_many: record job moves in the shared transitions table.

    ``rows`` are tuples (job_id, sort_key, from_state, to_state, actor_type,
    actor_id, actor_name, metadata JSON text, occurred_at, event_id); the
    sort_keys come from ``jobs.history`` under the job's row lock. The same
    invariants as ``transition_append`` (serial sort_key, one most_recent per
    job), written in two bulk statements instead of two per job.
    """
    if not rows:
        return
    moved = [str(r[0]) for r in rows if r[1] > 1]
    if moved:
        for start in range(0, len(moved), _CHUNK):
            part = moved[start : start + _CHUNK]
            sql = _HISTORY_CLEAR_SQL.format(ids=", ".join("?" * len(part)))
            dialect.execute_raw(conn, sql, [project_id, *part])
    dialect.insert_rows(
        conn,
        transitions,
        _HISTORY_COLUMNS,
        [(project_id, "job", str(r[0]), r[1], r[2], r[3], True, *r[4:]) for r in rows],
    )


# -- logs ---------------------------------------------------------------------------------


def job_log_insert_many(conn: Connection, dialect: Dialect, rows: Sequence[Sequence[Any]]) -> None:
    """job_log_insert_many: append log lines (project_id, job_id, attempt, at, level, message, fields)."""
    dialect.insert_rows(
        conn,
        job_logs,
        ("project_id", "job_id", "attempt", "at", "level", "message", "fields"),
        rows,
    )


def job_log_page(
    conn: Connection, project_id: int, job_id: int, after: int, limit: int
) -> Sequence[Row[Any]]:
    """job_log_page: a job's log lines after line id ``after``, oldest first."""
    return conn.execute(
        select(*_LOG_COLUMNS)
        .where(
            job_logs.c.project_id == project_id,
            job_logs.c.job_id == job_id,
            job_logs.c.id > after,
        )
        .order_by(job_logs.c.id)
        .limit(limit)
    ).all()


# -- reading ------------------------------------------------------------------------------


def job_page(
    conn: Connection, terms: list[ColumnElement[bool]], *, limit: int, before: int | None
) -> Sequence[Row[Any]]:
    """job_page: jobs newest first (by id); ``before`` continues a keyset walk."""
    where = list(terms)
    if before is not None:
        where.append(jobs.c.id < before)
    return conn.execute(
        select(*JOB_COLUMNS).where(*where).order_by(jobs.c.id.desc()).limit(limit)
    ).all()


def job_count_by_queue_state(conn: Connection, project_id: int) -> Sequence[Row[Any]]:
    """job_count_by_queue_state: (queue, state, count) of a project's jobs."""
    return conn.execute(
        select(jobs.c.queue, jobs.c.state, func.count())
        .where(jobs.c.project_id == project_id)
        .group_by(jobs.c.queue, jobs.c.state)
        .order_by(jobs.c.queue, jobs.c.state)
    ).all()


# -- retention -----------------------------------------------------------------------------


def job_log_purge_batch(conn: Connection, project_id: int, before: int, batch: int) -> int:
    """job_log_purge_batch: delete up to ``batch`` log lines written before ``before``.

    For retention: call in a loop of short write transactions until it
    returns less than ``batch``. Lines of jobs still running are kept.
    """
    oldest = (
        select(job_logs.c.id)
        .where(job_logs.c.project_id == project_id, job_logs.c.at < before)
        .where(
            ~select(jobs.c.id)
            .where(jobs.c.id == job_logs.c.job_id, jobs.c.state.in_(ACTIVE_STATES))
            .exists()
        )
        .order_by(job_logs.c.at)
        .limit(batch)
        .scalar_subquery()
    )
    return int(conn.execute(delete(job_logs).where(job_logs.c.id.in_(oldest))).rowcount)


def job_purge_finished_batch(conn: Connection, project_id: int, before: int, batch: int) -> int:
    """job_purge_finished_batch: delete up to ``batch`` jobs finished before ``before``.

    Only completed, failed and cancelled jobs go; their log lines go with them
    (foreign key cascade) and so does their history in ``transitions``. The
    activity events of those jobs stay (they expire with the events' own
    retention). Returns how many jobs were deleted.
    """
    ids = [
        int(r[0])
        for r in conn.execute(
            select(jobs.c.id)
            .where(
                jobs.c.project_id == project_id,
                jobs.c.state.in_(FINISHED_STATES),
                jobs.c.finished_at < before,
            )
            .order_by(jobs.c.finished_at)
            .limit(batch)
        )
    ]
    if not ids:
        return 0
    conn.execute(delete(job_logs).where(job_logs.c.job_id.in_(ids)))
    conn.execute(
        delete(transitions).where(
            and_(
                transitions.c.project_id == project_id,
                transitions.c.kind == "job",
                transitions.c.entity_id.in_([str(i) for i in ids]),
            )
        )
    )
    return int(conn.execute(delete(jobs).where(jobs.c.id.in_(ids))).rowcount)


def job_history(conn: Connection, project_id: int, job_id: int) -> Sequence[Row[Any]]:
    """job_history: a job's transitions, oldest first."""
    t = transitions.c
    return conn.execute(
        select(*_MOVE_COLUMNS)
        .where(t.project_id == project_id, t.kind == "job", t.entity_id == str(job_id))
        .order_by(t.sort_key)
    ).all()


def entity_pk(conn: Connection, project_id: int, kind: str, entity_id: str) -> int | None:
    """entity_pk: the pk of entity (kind, id), or None."""
    found = conn.execute(
        select(entities.c.pk).where(
            entities.c.project_id == project_id,
            entities.c.kind == kind,
            entities.c.entity_id == entity_id,
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)
