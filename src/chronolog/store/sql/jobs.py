"""Statements about jobs and their log lines, and the seam of the queue's hot operations.

Every statement that changes a running job names both the job id and its
lease token in its WHERE clause, so a stale worker's write matches no row
(fencing); the caller turns "no row" into ``LeaseLost``.

The statements here are portable (SQLAlchemy Core). The two operations every
job passes through, the bulk enqueue and the worker's batch (complete the
jobs that finished, claim the next ones, record both), are whole operations
per database behind :class:`JobDriver`, the way River's drivers each answer
``JobGetAvailable`` with their own SQL: the PostgreSQL text and code live in
:mod:`.postgresql.jobs`, SQLite's in :mod:`.sqlite.jobs`, and
``Dialect.jobs`` hands out the one of the store's database.
"""

from __future__ import annotations

import abc
from collections import namedtuple
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Row, delete, func, select, text, update

from ..._json import loads
from ..dialect import Dialect
from ..notify import channel_for
from ..schema import job_logs, jobs
from ..schema.jobs import ACTIVE_STATES, ACTIVE_UNIQUE_KEY

if TYPE_CHECKING:
    from ..engine import Store

__all__ = [
    "CLAIMED_NAMES",
    "FINISHED_STATES",
    "JOB_COLUMNS",
    "JOB_INSERT_COLUMNS",
    "READY",
    "Batch",
    "BatchResult",
    "BulkMove",
    "ClaimedRow",
    "Completion",
    "ControlledClaim",
    "ControlledResult",
    "EnqueueBatch",
    "JobDriver",
    "JobFilter",
    "NewJobRow",
    "QueueControl",
    "job_count_by_queue_state",
    "job_expired",
    "job_get",
    "job_id_by_unique_key",
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
"""The columns a new job is written with, in :class:`NewJobRow` order."""


class NewJobRow(NamedTuple):
    """One job to insert (``payload`` as JSON text); see ``JOB_INSERT_COLUMNS``."""

    project_id: int
    queue: str
    kind: str
    payload: str | None
    state: str
    priority: int
    run_at: int
    attempt: int
    max_attempts: int
    unique_key: str | None
    subject_pk: int | None
    lease: int
    history: int
    created_at: int
    updated_at: int


JOB_COLUMNS = tuple(jobs.c)
"""Columns every job read returns, in table order."""

CLAIMED_NAMES = (*(c.name for c in jobs.c), "subject_kind", "subject_id")
ClaimedRow = namedtuple("ClaimedRow", CLAIMED_NAMES)  # type: ignore[misc]
"""A job row as a batch claims it (``JOB_COLUMNS`` in table order), with the
(kind, id) of its subject entity when it has one."""


class Completion(NamedTuple):
    """A finished job to complete: fenced by its lease; its result as JSON text (or None)."""

    id: int
    lease: int
    result: str | None


@dataclass(frozen=True, slots=True)
class BulkMove:
    """What a bulk move records for every job it moves, besides the job's own fields.

    Each moved job gets one activity event: type ``job``, ``action``,
    ``status``, the job as target (its kind as title), metadata ``{queue,
    attempt, from, state, sort_key}`` with ``from`` = ``from_state`` and
    ``sort_key`` the job's new ``history``; the actor is the job's worker
    (claims and completions) or ``actor`` (enqueues). ``counts`` are the
    ``event_counts`` rows ``(*COUNT_KEYS, n)`` of *one* such event (from the
    events part's level logic); the driver adds them once per moved job
    (PostgreSQL's batch statement computes the same rows itself, from
    ``_rollups.LEVELS``, so no array of them travels with every batch).
    ``jobs.queue._trail.job_event`` builds the same event for one job in
    Python: the drivers' SQL mirrors it, and a test holds them equal.
    """

    action: str
    status: str
    from_state: str | None
    counts: Sequence[Sequence[Any]]


READY = BulkMove("ready", "processing", "waiting", ())
"""A dependent's move from waiting to pending, when a batch is given none."""


@dataclass(frozen=True, slots=True)
class Batch:
    """One worker round: complete ``done``, then claim up to ``limit`` due jobs, and record both.

    Completions are fenced (a stale lease completes nothing); the claim takes
    pending jobs of ``queues`` (None: any) whose ``run_at`` is due, by priority
    (high first), then ``run_at``, then id, adding one to each one's lease,
    attempt and history. ``limit`` 0 only completes.
    """

    project_id: int
    now: int
    done: Sequence[Completion]
    completing: BulkMove
    queues: tuple[str, ...] | None
    limit: int
    lease_until: int
    worker: str
    pid: int | None
    claiming: BulkMove
    shard: int = 0
    """The counter shard the batch adds to (``Dialect.counter_shard``)."""
    readying: BulkMove | None = None
    """What a dependent moved from waiting to pending by the completions records (each
    database's batch frees the dependents of the jobs it completes, in its transaction)."""
    kinds: tuple[str, ...] | None = None
    """Claim only jobs of these kinds (None: any)."""
    frees: bool = True
    """Whether a completed job may have dependents to free in the batch's transaction.
    False (none had any when claimed): PostgreSQL runs a leaner statement and returns
    the completed jobs that have dependents after all as ``unsettled``."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch did: the ids it completed, the jobs it claimed (in claim order).

    The claim leaves out every queue with a control row (``job_queues``: paused
    or limited); ``controlled`` names the limited, not paused, ones of the
    claim's queue filter, whose jobs the caller claims under their limits.
    """

    completed: list[int]
    claimed: list[Any]
    released: int = 0
    """How many waiting dependents the completions moved to pending."""
    unsettled: list[int] = field(default_factory=list)
    """Completed jobs whose dependents the batch could not see all of (PostgreSQL: a
    dependent enqueued while the batch waited for the job's row lock); the caller
    settles them in a transaction of its own."""
    controlled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ControlledClaim:
    """A claim from limited queues, under their limits (``JobDriver.claim_controlled``).

    Takes up to ``limit`` due pending jobs of ``queues`` (of ``kinds``; None:
    any) as :class:`Batch` claims them, but from each queue at most what its
    control row allows: ``concurrency`` minus its running jobs, and what is
    left of its rate window (``window_start`` + ``rate_period``, at most
    ``rate_limit`` starts; a window that has ended starts again now).
    """

    project_id: int
    now: int
    queues: tuple[str, ...]
    kinds: tuple[str, ...] | None
    limit: int
    lease_until: int
    worker: str
    pid: int | None
    claiming: BulkMove
    shard: int = 0


class QueueControl(NamedTuple):
    """A queue's control row as a controlled claim locked it (before claiming)."""

    queue: str
    paused: bool
    concurrency: int | None
    rate_limit: int | None
    rate_period: int | None
    window_start: int | None
    window_count: int


@dataclass(frozen=True, slots=True)
class ControlledResult:
    """The jobs a controlled claim took (in claim order), and the control rows it read."""

    claimed: list[Any]
    controls: list[QueueControl]


@dataclass(frozen=True, slots=True)
class EnqueueBatch:
    """Jobs to insert with their first event (``pending``), by ``actor`` (type, id, name)."""

    project_id: int
    now: int
    rows: Sequence[NewJobRow]
    actor: tuple[str | None, str | None, str | None]
    enqueued: BulkMove
    more: Iterator[NewJobRow] | None = None
    """Rows after ``rows``, made (checked) while the first ones are being written:
    ``count`` of them in all. A driver that cannot stream takes ``list(more)``."""
    count: int | None = None
    """How many rows ``rows`` and ``more`` hold together (None: ``len(rows)``)."""


class JobDriver(abc.ABC):
    """The queue's hot operations, each whole, written once per database.

    Whatever the database, an implementation must keep the promises of
    ``docs/jobs.md``: a job is claimed by one worker at a time, completion is
    fenced by the lease, and every job it moves gets exactly one event (and
    its counters) in the transaction that moves it.
    """

    @abc.abstractmethod
    def enqueue(self, conn: Connection, batch: EnqueueBatch) -> list[int]:
        """Insert ``batch.rows`` (no unique keys) with one ``pending`` event each, in
        ``conn``'s transaction, and wake workers at commit; their ids in input order."""

    @abc.abstractmethod
    def run_batch(self, store: Store, batch: Batch) -> BatchResult:
        """Complete, claim and record ``batch`` in one transaction of its own (one
        statement where the database can chain writes), and wake event listeners."""

    @abc.abstractmethod
    def claim_controlled(self, store: Store, claim: ControlledClaim) -> ControlledResult:
        """Claim and record ``claim`` in one transaction of its own that first locks the
        queues' control rows (so claimers of a limited queue take turns, on every
        host) and then counts running jobs with a snapshot taken after the lock."""


_ACTIVE_PREDICATE = text(ACTIVE_UNIQUE_KEY)


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


def job_insert_unique(conn: Connection, dialect: Dialect, row: NewJobRow) -> int | None:
    """job_insert_unique: add a job unless its unique key is held; returns the id or None."""
    values = row._asdict()
    if isinstance(values["payload"], str):  # JSON text; the JSON column type encodes it again
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


def job_notify(conn: Connection, dialect: Dialect, project_id: int) -> None:
    """job_notify: wake workers in other processes at commit (PostgreSQL NOTIFY)."""
    dialect.notify(conn, channel_for("jobs"), str(project_id))


# -- one job at a time: fail, release, cancel, retry, rescue, heartbeat ---------------------


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


# -- logs ---------------------------------------------------------------------------------


def job_log_insert_many(conn: Connection, dialect: Dialect, rows: Sequence[Sequence[Any]]) -> None:
    """job_log_insert_many: append log lines (project_id, job_id, attempt, at, level, message, fields)."""
    dialect.insert_rows(
        conn,
        job_logs,
        ("project_id", "job_id", "attempt", "at", "level", "message", "fields"),
        rows,
    )


_LOG_COLUMNS = tuple(
    job_logs.c[n] for n in ("id", "job_id", "attempt", "at", "level", "message", "fields")
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


def job_count_by_queue_state(
    conn: Connection, project_id: int, kinds: Sequence[str] | None = None
) -> Sequence[Row[Any]]:
    """job_count_by_queue_state: (queue, state, count) of a project's jobs (of ``kinds``)."""
    where = [jobs.c.project_id == project_id]
    if kinds is not None:
        where.append(jobs.c.kind.in_(kinds))
    return conn.execute(
        select(jobs.c.queue, jobs.c.state, func.count())
        .where(*where)
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

    Only completed, failed and cancelled jobs go; their log lines go with them.
    Their history, the activity events, stays (it expires with the events' own
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
    return int(conn.execute(delete(jobs).where(jobs.c.id.in_(ids))).rowcount)
