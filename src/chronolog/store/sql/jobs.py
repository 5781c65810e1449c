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
    tuple_,
    update,
)

from ..._json import loads
from ..dialect import Dialect
from ..notify import channel_for
from ..schema import entities, job_logs, jobs, transitions
from ..schema.jobs import ACTIVE_STATES

__all__ = [
    "FINISHED_STATES",
    "JOB_COLUMNS",
    "JOB_INSERT_COLUMNS",
    "JobFilter",
    "JobRow",
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
            project_id=project_id, kind=kind, entity_id=entity_id, created_at=now, updated_at=now
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

# The two statements every job passes through, written by hand (``?`` placeholders,
# see ``Dialect.execute_raw``): SQLAlchemy's per-statement work costs more than they do.
_CLAIM_SQL = (
    "UPDATE jobs SET state = 'running', lease = lease + 1, attempt = attempt + 1, "
    "history = history + 1, worker = ?, pid = ?, lease_expires_at = ?, heartbeat_at = ?, "
    "started_at = ?, progress = NULL, progress_text = NULL, updated_at = ? "
    "WHERE id IN (SELECT id FROM jobs WHERE project_id = ? AND state = 'pending' "
    "AND run_at <= ?{queues} ORDER BY priority DESC, run_at, id LIMIT ?{lock}) "
    "RETURNING " + ", ".join(_JOB_NAMES)
)
_FINISH_SQL = (
    "UPDATE jobs SET state = 'completed', result = NULL, finished_at = ?, "
    "lease_expires_at = NULL, history = history + 1, updated_at = ? "
    "WHERE project_id = ? AND state = 'running' AND (id, lease) IN (VALUES {pairs}) "
    "RETURNING id, kind, queue, history, attempt, worker"
)
_HISTORY_CLEAR_SQL = (
    "UPDATE transitions SET most_recent = false WHERE project_id = ? AND kind = 'job' "
    "AND most_recent = true AND entity_id IN ({ids})"
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
) -> list[Any]:
    """job_claim: take up to ``limit`` due pending jobs, by priority then age, in one UPDATE.

    Each taken job gets ``lease + 1`` (the fencing token), ``attempt + 1`` and
    ``history + 1`` (the sort_key of its "running" transition). Rows come
    back as ``JobRow`` in no particular order.
    """
    in_queues = "" if queues is None else f" AND queue IN ({', '.join('?' * len(queues))})"
    sql = _CLAIM_SQL.format(queues=in_queues, lock=dialect.claim_lock_sql)
    params = [worker, pid, lease_until, now, now, now, project_id, now, *(queues or ()), limit]
    return [JobRow(*r) for r in dialect.execute_raw(conn, sql, params)]


def job_finish_many(
    conn: Connection,
    dialect: Dialect,
    *,
    project_id: int,
    fenced: Sequence[tuple[int, int]],
    now: int,
    result: Any = None,
) -> list[Any]:
    """job_finish_many: complete running jobs whose (id, lease) still match; returns them.

    Returns (id, kind, queue, history, attempt, worker) per completed job;
    pairs with a stale lease match nothing and are left out.
    """
    if result is None:
        done = []
        for start in range(0, len(fenced), _CHUNK):  # bound parameters per statement
            part = fenced[start : start + _CHUNK]
            sql = _FINISH_SQL.format(pairs=", ".join(["(?, ?)"] * len(part)))
            params = [now, now, project_id, *(v for pair in part for v in pair)]
            done += [FinishedRow(*r) for r in dialect.execute_raw(conn, sql, params)]
        return done
    stmt = (
        update(jobs)
        .where(
            jobs.c.project_id == project_id,
            jobs.c.state == "running",
            tuple_(jobs.c.id, jobs.c.lease).in_(list(fenced)),
        )
        .values(
            state="completed",
            result=result,
            finished_at=now,
            lease_expires_at=None,
            history=jobs.c.history + 1,
            updated_at=now,
        )
        .returning(
            jobs.c.id, jobs.c.kind, jobs.c.queue, jobs.c.history, jobs.c.attempt, jobs.c.worker
        )
    )
    return list(conn.execute(stmt).all())


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
