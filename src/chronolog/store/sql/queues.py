"""Statements of queue controls (``job_queues``), bulk moves and the worker registry
(``job_workers``).

The claims themselves are whole operations of the store's ``JobDriver``: the
batch leaves every queue with a control row out, and ``claim_controlled``
claims the limited ones under their limits (``store/sql/postgresql/jobs.py``,
``store/sql/sqlite/jobs.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, case, delete, insert, select, update

from ..dialect import Dialect
from ..schema import job_queues, job_workers, jobs
from .jobs import JOB_COLUMNS

__all__ = [
    "job_bulk_lock",
    "job_bulk_update",
    "job_running_by_worker",
    "queue_control_delete",
    "queue_control_get",
    "queue_control_insert",
    "queue_control_list",
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
