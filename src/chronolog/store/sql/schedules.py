"""Statements about job schedules and their fires (see ``schema/schedules.py``).

Firing is leaderless: the due schedules are read with the rows locked
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a schedule another firer holds is
skipped, not waited for; SQLite's write lock serialises firers), each fire
time is inserted into ``job_schedule_fires`` with ``ON CONFLICT DO NOTHING``
before its job, and the schedule's ``next_fire_at`` moves on only if it is
still what was read (``schedule_advance``). Any one of the three would keep a
fire to one job; together a fire never enqueues twice, whatever the
isolation level or the number of firers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

from ..dialect import Dialect
from ..schema import projects
from ..schema.schedules import job_schedule_fires, job_schedules

__all__ = [
    "schedule_advance",
    "schedule_any_due",
    "schedule_delete",
    "schedule_due",
    "schedule_due_projects",
    "schedule_fire_insert",
    "schedule_fire_job",
    "schedule_fire_page",
    "schedule_fire_purge",
    "schedule_fire_set_job",
    "schedule_get",
    "schedule_list",
    "schedule_set_paused",
    "schedule_upsert",
]

_s = job_schedules
_f = job_schedule_fires


def schedule_get(
    conn: Connection, dialect: Dialect, project_id: int, name: str, *, lock: bool = False
) -> Row[Any] | None:
    """schedule_get: one schedule by name (locked until commit with ``lock``)."""
    stmt = select(_s).where(_s.c.project_id == project_id, _s.c.name == name)
    if lock:
        stmt = dialect.for_update(stmt)
    return conn.execute(stmt).first()


def schedule_list(conn: Connection, project_id: int) -> Sequence[Row[Any]]:
    """schedule_list: every schedule of a project, by name."""
    return conn.execute(select(_s).where(_s.c.project_id == project_id).order_by(_s.c.name)).all()


def schedule_upsert(
    conn: Connection, dialect: Dialect, values: Mapping[str, Any], keep_timing: bool
) -> int:
    """schedule_upsert: create the schedule, or change the one of that name; returns its id.

    ``values`` holds every column but the id and the counters. When
    ``keep_timing`` the existing row keeps ``next_fire_at``, ``paused`` and
    ``created_at`` (a re-add with the same timing fires neither twice nor late).
    """
    row = dict(values)
    new_id = conn.execute(
        dialect.insert_ignore(_s, ["project_id", "name"])
        .values(**row, fires=0, missed=0)
        .returning(_s.c.id)
    ).scalar_one_or_none()
    if new_id is not None:
        return int(new_id)
    kept = {"created_at", "paused", "project_id", "name"}
    if keep_timing:
        kept.add("next_fire_at")
    changes = {k: v for k, v in row.items() if k not in kept}
    found = conn.execute(
        update(_s)
        .where(_s.c.project_id == row["project_id"], _s.c.name == row["name"])
        .values(**changes)
        .returning(_s.c.id)
    ).scalar_one()
    return int(found)


def schedule_set_paused(
    conn: Connection, project_id: int, name: str, paused: bool, now: int
) -> int:
    """schedule_set_paused: pause or resume one schedule; returns the rows changed (0 or 1)."""
    return conn.execute(
        update(_s)
        .where(_s.c.project_id == project_id, _s.c.name == name)
        .values(paused=paused, updated_at=now)
    ).rowcount


def schedule_delete(conn: Connection, project_id: int, name: str) -> int:
    """schedule_delete: remove a schedule and its fire rows (its jobs stay)."""
    found = conn.execute(
        select(_s.c.id).where(_s.c.project_id == project_id, _s.c.name == name)
    ).scalar_one_or_none()
    if found is None:
        return 0
    conn.execute(delete(_f).where(_f.c.schedule_id == found))
    return conn.execute(delete(_s).where(_s.c.id == found)).rowcount


def schedule_due(
    conn: Connection, dialect: Dialect, project_id: int, now: int, limit: int
) -> Sequence[Row[Any]]:
    """schedule_due: unpaused schedules with a fire time at or before ``now``, locked.

    Rows another firer holds are skipped (``SKIP LOCKED``): that firer fires them.
    """
    stmt = (
        select(_s)
        .where(_s.c.paused.is_(False), _s.c.next_fire_at <= now, _s.c.project_id == project_id)
        .order_by(_s.c.next_fire_at, _s.c.id)
        .limit(limit)
    )
    return conn.execute(dialect.for_claim(stmt)).all()


def schedule_any_due(conn: Connection, project_id: int, now: int) -> bool:
    """schedule_any_due: whether a schedule of the project is due (one index range read)."""
    found = conn.execute(
        select(_s.c.id)
        .where(_s.c.paused.is_(False), _s.c.next_fire_at <= now, _s.c.project_id == project_id)
        .limit(1)
    ).first()
    return found is not None


def schedule_due_projects(conn: Connection, now: int) -> list[str]:
    """schedule_due_projects: names of projects with a due schedule (one index range read)."""
    due = (
        select(_s.c.project_id)
        .where(_s.c.paused.is_(False), _s.c.next_fire_at <= now)
        .distinct()
        .subquery()
    )
    rows = conn.execute(select(projects.c.name).where(projects.c.id.in_(select(due.c.project_id))))
    return sorted(r[0] for r in rows)


def schedule_advance(
    conn: Connection,
    schedule_id: int,
    *,
    seen_next: int,
    next_fire_at: int,
    last_fire_at: int | None,
    last_job_id: int | None,
    fired: int,
    missed: int,
    now: int,
) -> bool:
    """schedule_advance: move ``next_fire_at`` on, if it is still ``seen_next``; counts fires."""
    values: dict[str, Any] = {
        "next_fire_at": next_fire_at,
        "fires": _s.c.fires + fired,
        "missed": _s.c.missed + missed,
    }
    if last_fire_at is not None:
        values.update(last_fire_at=last_fire_at, last_job_id=last_job_id)
    return bool(
        conn.execute(
            update(_s).where(_s.c.id == schedule_id, _s.c.next_fire_at == seen_next).values(values)
        ).rowcount
    )


def schedule_fire_insert(
    conn: Connection, dialect: Dialect, schedule_id: int, fire_at: int, fired_by: str, now: int
) -> bool:
    """schedule_fire_insert: claim fire time ``fire_at`` of a schedule; False if it was fired."""
    got = conn.execute(
        dialect.insert_ignore(_f, ["schedule_id", "fire_at"])
        .values(schedule_id=schedule_id, fire_at=fire_at, fired_by=fired_by, fired_at=now)
        .returning(_f.c.fire_at)
    ).scalar_one_or_none()
    return got is not None


def schedule_fire_set_job(conn: Connection, schedule_id: int, fire_at: int, job_id: int) -> None:
    """schedule_fire_set_job: record the job a fire enqueued."""
    conn.execute(
        update(_f)
        .where(_f.c.schedule_id == schedule_id, _f.c.fire_at == fire_at)
        .values(job_id=job_id)
    )


def schedule_fire_job(conn: Connection, schedule_id: int, fire_at: int) -> int | None:
    """schedule_fire_job: the job of one fire (None: not fired, or its job not recorded)."""
    found = conn.execute(
        select(_f.c.job_id).where(_f.c.schedule_id == schedule_id, _f.c.fire_at == fire_at)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def schedule_fire_page(conn: Connection, schedule_id: int, limit: int) -> Sequence[Any]:
    """schedule_fire_page: a schedule's newest fires (fire time, job, who, when)."""
    return conn.execute(
        select(_f.c.fire_at, _f.c.job_id, _f.c.fired_by, _f.c.fired_at)
        .where(_f.c.schedule_id == schedule_id)
        .order_by(_f.c.fire_at.desc())
        .limit(limit)
    ).all()


def schedule_fire_purge(conn: Connection, schedule_id: int, before: int) -> int:
    """schedule_fire_purge: forget fires older than ``before`` (their events stay)."""
    return conn.execute(
        delete(_f).where(_f.c.schedule_id == schedule_id, _f.c.fire_at < before)
    ).rowcount
