"""Statements about job dependencies and pipelines (``job_dependencies``, ``job_pipelines``).

Every statement that changes the dependency bookkeeping of a job row locks it
first, in id order (``Dialect.for_update``), so concurrent writers freeing or
cancelling the same dependents queue up instead of deadlocking, and each reads
the row as the previous one left it. The worker's completions free dependents
inside the queue's batch (``store/sql/postgresql/jobs.py``, and
``store/sql/sqlite/jobs.py``: ``_FREE``); these statements serve
enqueues, failures, cancels, retries and the reconcile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, func, insert, select, update

from ..dialect import Dialect
from ..schema import job_dependencies, job_pipelines, jobs
from .jobs import JOB_COLUMNS

__all__ = [
    "LinkRow",
    "job_dependency_insert_many",
    "job_dependent_ids",
    "job_dependents_of",
    "job_insert_linked",
    "job_links_of",
    "job_lock_dependencies",
    "job_lock_in_state",
    "job_lock_waiting",
    "job_pipeline_get",
    "job_pipeline_insert",
    "job_pipeline_jobs",
    "job_set",
    "job_unfinished_dependencies",
    "job_waiting_stale",
]

_UNFINISHED = ("waiting", "pending", "running")


class LinkRow(NamedTuple):
    """A job at the other end of a dependency: id, kind, state, queue."""

    id: int
    kind: str
    state: str
    queue: str


def job_lock_dependencies(
    conn: Connection, dialect: Dialect, project_id: int, ids: Sequence[int]
) -> dict[int, str]:
    """job_lock_dependencies: lock jobs a new job will run after, count it among their
    dependents, and return their states as they are once locked (id → state).

    Ids of other projects or of no job are missing from the answer.
    """
    wanted = sorted(set(ids))
    locked = conn.execute(
        dialect.for_update(
            select(jobs.c.id)
            .where(jobs.c.project_id == project_id, jobs.c.id.in_(wanted))
            .order_by(jobs.c.id)
        )
    ).all()
    if not locked:
        return {}
    rows = conn.execute(
        update(jobs)
        .where(jobs.c.project_id == project_id, jobs.c.id.in_([int(r[0]) for r in locked]))
        .values(dependents=func.coalesce(jobs.c.dependents, 0) + 1)
        .returning(jobs.c.id, jobs.c.state)
    ).all()
    return {int(r[0]): str(r[1]) for r in rows}


def job_dependency_insert_many(
    conn: Connection, project_id: int, edges: Sequence[tuple[int, int]]
) -> None:
    """job_dependency_insert_many: add edges (job_id, depends_on)."""
    if edges:
        conn.execute(
            insert(job_dependencies),
            [{"job_id": j, "depends_on": d, "project_id": project_id} for j, d in edges],
        )


def job_lock_waiting(
    conn: Connection, dialect: Dialect, project_id: int, ids: Sequence[int]
) -> list[tuple[Row[Any], int, int]]:
    """job_lock_waiting: the waiting jobs that run after any of ``ids``, locked in id order,
    each with how many of ``ids`` it waits for and the first of them."""
    wanted = sorted(set(ids))
    edges = conn.execute(
        select(
            job_dependencies.c.job_id,
            func.count(),
            func.min(job_dependencies.c.depends_on),
        )
        .where(job_dependencies.c.depends_on.in_(wanted))
        .group_by(job_dependencies.c.job_id)
    ).all()
    if not edges:
        return []
    counts = {int(r[0]): (int(r[1]), int(r[2])) for r in edges}
    rows = conn.execute(
        dialect.for_update(
            select(*JOB_COLUMNS)
            .where(
                jobs.c.project_id == project_id,
                jobs.c.id.in_(sorted(counts)),
                jobs.c.state == "waiting",
            )
            .order_by(jobs.c.id)
        )
    ).all()
    return [(r, *counts[int(r.id)]) for r in rows]


def job_unfinished_dependencies(conn: Connection, job_id: int) -> tuple[int, list[tuple[int, str]]]:
    """job_unfinished_dependencies: (how many dependencies of a job are not completed,
    the failed or cancelled ones as (id, state))."""
    rows = conn.execute(
        select(jobs.c.id, jobs.c.state)
        .select_from(job_dependencies.join(jobs, jobs.c.id == job_dependencies.c.depends_on))
        .where(job_dependencies.c.job_id == job_id, jobs.c.state != "completed")
        .order_by(jobs.c.id)
    ).all()
    unfinished = sum(1 for r in rows if r[1] in _UNFINISHED)
    return unfinished, [(int(r[0]), str(r[1])) for r in rows if r[1] not in _UNFINISHED]


def job_dependent_ids(conn: Connection, ids: Sequence[int]) -> list[int]:
    """job_dependent_ids: the ids of the jobs that run after any of ``ids``, by id."""
    return [
        int(r[0])
        for r in conn.execute(
            select(job_dependencies.c.job_id)
            .where(job_dependencies.c.depends_on.in_(sorted(set(ids))))
            .distinct()
            .order_by(job_dependencies.c.job_id)
        )
    ]


def job_dependents_of(conn: Connection, project_id: int, job_id: int) -> list[LinkRow]:
    """job_dependents_of: the jobs that run after ``job_id``, by id."""
    return [
        LinkRow(int(r[0]), r[1], r[2], r[3])
        for r in conn.execute(
            select(jobs.c.id, jobs.c.kind, jobs.c.state, jobs.c.queue)
            .select_from(job_dependencies.join(jobs, jobs.c.id == job_dependencies.c.job_id))
            .where(job_dependencies.c.depends_on == job_id, jobs.c.project_id == project_id)
            .order_by(jobs.c.id)
        )
    ]


def job_links_of(conn: Connection, project_id: int, job_id: int) -> list[LinkRow]:
    """job_links_of: the jobs ``job_id`` runs after, by id."""
    return [
        LinkRow(int(r[0]), r[1], r[2], r[3])
        for r in conn.execute(
            select(jobs.c.id, jobs.c.kind, jobs.c.state, jobs.c.queue)
            .select_from(job_dependencies.join(jobs, jobs.c.id == job_dependencies.c.depends_on))
            .where(job_dependencies.c.job_id == job_id, jobs.c.project_id == project_id)
            .order_by(jobs.c.id)
        )
    ]


_WAITING_STALE_SQL = """
SELECT j.id FROM jobs AS j
WHERE j.project_id = ? AND j.state = 'waiting' AND j.waiting_for > (
    SELECT count(*) FROM job_dependencies AS d JOIN jobs AS a ON a.id = d.depends_on
    WHERE d.job_id = j.id AND a.state IN ('waiting', 'pending', 'running'))
ORDER BY j.id LIMIT ?
"""


def job_waiting_stale(conn: Connection, dialect: Dialect, project_id: int, limit: int) -> list[int]:
    """job_waiting_stale: waiting jobs whose ``waiting_for`` counts more dependencies than
    are unfinished (a release a crash or a race left undone), oldest first.

    Hand-written (``execute_raw``): every worker runs it now and then, most of them in a
    store without a waiting job, and it should cost them no statement compilation.
    """
    return [int(r[0]) for r in dialect.execute_raw(conn, _WAITING_STALE_SQL, (project_id, limit))]


def job_pipeline_insert(
    conn: Connection, project_id: int, name: str, subject_pk: int | None, now: int
) -> int:
    """job_pipeline_insert: add a pipeline; returns its id."""
    return int(
        conn.execute(
            insert(job_pipelines)
            .values(project_id=project_id, name=name, subject_pk=subject_pk, created_at=now)
            .returning(job_pipelines.c.id)
        ).scalar_one()
    )


def job_pipeline_get(conn: Connection, project_id: int, pipeline_id: int) -> Any:
    """job_pipeline_get: one pipeline (id, name, subject_pk, created_at)."""
    return conn.execute(
        select(
            job_pipelines.c.id,
            job_pipelines.c.name,
            job_pipelines.c.subject_pk,
            job_pipelines.c.created_at,
        ).where(job_pipelines.c.project_id == project_id, job_pipelines.c.id == pipeline_id)
    ).first()


def job_pipeline_jobs(conn: Connection, project_id: int, pipeline_id: int) -> Sequence[Row[Any]]:
    """job_pipeline_jobs: a pipeline's jobs, in stage (id) order."""
    return conn.execute(
        select(*JOB_COLUMNS)
        .where(jobs.c.project_id == project_id, jobs.c.pipeline_id == pipeline_id)
        .order_by(jobs.c.id)
    ).all()


def job_insert_linked(conn: Connection, values: dict[str, Any]) -> int:
    """job_insert_linked: add one job with its dependency columns; returns its id."""
    return int(conn.execute(insert(jobs).values(values).returning(jobs.c.id)).scalar_one())


def job_set(
    conn: Connection, project_id: int, job_id: int, values: dict[str, Any], *, move: bool = True
) -> Row[Any]:
    """job_set: change a locked job's columns (adding one to ``history`` with a new state,
    unless ``move`` is False: a correction of a move the same transaction counted)."""
    if "state" in values and move:
        values = {**values, "history": jobs.c.history + 1}
    return conn.execute(
        update(jobs)
        .where(jobs.c.project_id == project_id, jobs.c.id == job_id)
        .values(values)
        .returning(*JOB_COLUMNS)
    ).one()


def job_lock_in_state(
    conn: Connection,
    dialect: Dialect,
    project_id: int,
    ids: Sequence[int],
    state: str | tuple[str, ...],
) -> Sequence[Row[Any]]:
    """job_lock_in_state: the jobs of ``ids`` that are in ``state`` (or one of several),
    locked in id order."""
    states = [state] if isinstance(state, str) else list(state)
    return conn.execute(
        dialect.for_update(
            select(*JOB_COLUMNS)
            .where(
                jobs.c.project_id == project_id,
                jobs.c.id.in_(sorted(set(ids))),
                jobs.c.state.in_(states),
            )
            .order_by(jobs.c.id)
        )
    ).all()
