"""Statements of queue controls (``job_queues``), the limited claim, bulk moves and the
worker registry (``job_workers``).

The claim of a queue without a control row never comes here: the store's batch
(``JobDriver``) leaves controlled queues out, and ``jobs/queues.py`` claims
theirs with these statements, in one write transaction that first locks the
queues' control rows (``FOR UPDATE`` on PostgreSQL; SQLite's write lock holds
the whole file), so two claimers of one limited queue take turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, case, delete, func, insert, select, update

from ..dialect import Dialect
from ..schema import job_queues, job_workers, jobs
from .jobs import JOB_COLUMNS

__all__ = [
    "job_bulk_lock",
    "job_bulk_update",
    "job_claim_queue",
    "job_running_by_queue",
    "job_running_by_worker",
    "queue_control_delete",
    "queue_control_get",
    "queue_control_insert",
    "queue_control_list",
    "queue_control_lock",
    "queue_control_update",
    "worker_delete",
    "worker_delete_older",
    "worker_insert",
    "worker_list",
    "worker_touch",
]

_CHUNK = 5000
"""Most ids bound in one ``IN`` list."""

QUEUE_COLUMNS = tuple(job_queues.c)


def queue_control_list(conn: Connection, project_id: int) -> Sequence[Row[Any]]:
    """queue_control_list: every control row of a project, by queue."""
    return conn.execute(
        select(*QUEUE_COLUMNS)
        .where(job_queues.c.project_id == project_id)
        .order_by(job_queues.c.queue)
    ).all()


def queue_control_get(
    conn: Connection, dialect: Dialect, project_id: int, queue: str, *, lock: bool = False
) -> Row[Any] | None:
    """queue_control_get: one queue's control row (row locked with ``lock``)."""
    stmt = select(*QUEUE_COLUMNS).where(
        job_queues.c.project_id == project_id, job_queues.c.queue == queue
    )
    return conn.execute(dialect.for_update(stmt) if lock else stmt).first()


def queue_control_insert(conn: Connection, dialect: Dialect, values: dict[str, Any]) -> None:
    """queue_control_insert: add a control row unless one exists (then change nothing)."""
    conn.execute(dialect.insert_ignore(job_queues, ["project_id", "queue"]).values(values))


def queue_control_update(
    conn: Connection, project_id: int, queue: str, values: dict[str, Any]
) -> None:
    """queue_control_update: change a queue's control row."""
    conn.execute(
        update(job_queues)
        .where(job_queues.c.project_id == project_id, job_queues.c.queue == queue)
        .values(**values)
    )


def queue_control_delete(conn: Connection, project_id: int, queue: str) -> None:
    """queue_control_delete: drop a queue's control row (it has no control left)."""
    conn.execute(
        delete(job_queues).where(job_queues.c.project_id == project_id, job_queues.c.queue == queue)
    )


def queue_control_lock(
    conn: Connection, dialect: Dialect, project_id: int, queues: Sequence[str]
) -> Sequence[Row[Any]]:
    """queue_control_lock: the control rows of ``queues``, locked, in queue order.

    In queue order, so two claimers locking several rows cannot deadlock.
    """
    return conn.execute(
        dialect.for_update(
            select(*QUEUE_COLUMNS)
            .where(job_queues.c.project_id == project_id, job_queues.c.queue.in_(list(queues)))
            .order_by(job_queues.c.queue)
        )
    ).all()


def job_running_by_queue(
    conn: Connection, project_id: int, queues: Sequence[str]
) -> dict[str, int]:
    """job_running_by_queue: how many jobs of each of ``queues`` are running.

    Read by a statement of its own after the control rows are locked: on
    PostgreSQL (read committed) it sees every claim committed before the lock
    was granted.
    """
    rows = conn.execute(
        select(jobs.c.queue, func.count())
        .where(
            jobs.c.project_id == project_id,
            jobs.c.state == "running",
            jobs.c.queue.in_(list(queues)),
        )
        .group_by(jobs.c.queue)
    )
    return {str(q): int(n) for q, n in rows}


def job_claim_queue(
    conn: Connection,
    dialect: Dialect,
    *,
    project_id: int,
    queue: str,
    kinds: Sequence[str] | None,
    now: int,
    limit: int,
    worker: str,
    pid: int | None,
    lease_until: int,
) -> Sequence[Row[Any]]:
    """job_claim_queue: claim up to ``limit`` due pending jobs of one queue, in claim order.

    The same change as the batch's claim (``JobDriver.run_batch``): running, one
    more lease, attempt and history; the caller records the events.
    """
    pick = (
        select(jobs.c.id)
        .where(
            jobs.c.project_id == project_id,
            jobs.c.queue == queue,
            jobs.c.state == "pending",
            jobs.c.run_at <= now,
        )
        .order_by(jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id)
        .limit(limit)
    )
    if kinds is not None:
        pick = pick.where(jobs.c.kind.in_(list(kinds)))
    ids = [int(r[0]) for r in conn.execute(dialect.for_claim(pick))]
    if not ids:
        return []
    rows = conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(ids), jobs.c.state == "pending")
        .values(
            state="running",
            lease=jobs.c.lease + 1,
            attempt=jobs.c.attempt + 1,
            history=jobs.c.history + 1,
            worker=worker,
            pid=pid,
            lease_expires_at=lease_until,
            heartbeat_at=now,
            started_at=now,
            progress=None,
            progress_text=None,
            updated_at=now,
        )
        .returning(*JOB_COLUMNS)
    ).all()
    return sorted(rows, key=lambda r: (-r.priority, r.run_at, r.id))


def job_bulk_lock(
    conn: Connection, dialect: Dialect, terms: list[ColumnElement[bool]]
) -> list[tuple[int, str]]:
    """job_bulk_lock: (id, state) of the jobs a filter selects, row locked, by id."""
    rows = conn.execute(
        dialect.for_update(select(jobs.c.id, jobs.c.state).where(*terms).order_by(jobs.c.id))
    )
    return [(int(i), str(s)) for i, s in rows]


def job_bulk_update(
    conn: Connection,
    ids: Sequence[int],
    states: Sequence[str],
    to_state: str,
    now: int,
) -> list[Row[Any]]:
    """job_bulk_update: move jobs by id (still in ``states``) to ``to_state``; the rows.

    ``pending`` (an operator's retry): due now, one more attempt allowed, the
    lease's expiry and the finish time cleared. ``cancelled``: finished now.
    """
    values: dict[str, Any] = {
        "state": to_state,
        "history": jobs.c.history + 1,
        "updated_at": now,
        "lease_expires_at": None,
    }
    if to_state == "cancelled":
        values["finished_at"] = now
    else:
        values.update(
            run_at=now,
            finished_at=None,
            max_attempts=case(
                (jobs.c.max_attempts > jobs.c.attempt, jobs.c.max_attempts),
                else_=jobs.c.attempt + 1,
            ),
        )
    out: list[Row[Any]] = []
    for start in range(0, len(ids), _CHUNK):
        part = list(ids[start : start + _CHUNK])
        out += conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(part), jobs.c.state.in_(list(states)))
            .values(**values)
            .returning(*JOB_COLUMNS)
        ).all()
    return out


# -- the worker registry ---------------------------------------------------------------

WORKER_COLUMNS = tuple(job_workers.c)


def worker_insert(conn: Connection, values: dict[str, Any]) -> None:
    """worker_insert: register a worker."""
    conn.execute(insert(job_workers).values(values))


def worker_touch(conn: Connection, project_id: int, worker_id: str, now: int) -> bool:
    """worker_touch: a worker's heartbeat; False when it is not registered (any more)."""
    done = conn.execute(
        update(job_workers)
        .where(job_workers.c.project_id == project_id, job_workers.c.id == worker_id)
        .values(heartbeat_at=now)
    )
    return bool(done.rowcount)


def worker_delete(conn: Connection, project_id: int, worker_id: str) -> bool:
    """worker_delete: deregister a worker; False when it was not registered."""
    done = conn.execute(
        delete(job_workers).where(
            job_workers.c.project_id == project_id, job_workers.c.id == worker_id
        )
    )
    return bool(done.rowcount)


def worker_delete_older(conn: Connection, project_id: int, before: int) -> int:
    """worker_delete_older: forget workers whose last heartbeat is older than ``before``."""
    done = conn.execute(
        delete(job_workers).where(
            job_workers.c.project_id == project_id, job_workers.c.heartbeat_at < before
        )
    )
    return int(done.rowcount)


def worker_list(conn: Connection, project_id: int) -> Sequence[Row[Any]]:
    """worker_list: a project's registered workers, by name then start."""
    return conn.execute(
        select(*WORKER_COLUMNS)
        .where(job_workers.c.project_id == project_id)
        .order_by(job_workers.c.name, job_workers.c.started_at, job_workers.c.id)
    ).all()


def job_running_by_worker(conn: Connection, project_id: int) -> dict[str, list[int]]:
    """job_running_by_worker: the ids of running jobs, by the name of their worker."""
    rows = conn.execute(
        select(jobs.c.worker, jobs.c.id)
        .where(jobs.c.project_id == project_id, jobs.c.state == "running")
        .order_by(jobs.c.id)
    )
    out: dict[str, list[int]] = {}
    for name, job_id in rows:
        out.setdefault(str(name or ""), []).append(int(job_id))
    return out
