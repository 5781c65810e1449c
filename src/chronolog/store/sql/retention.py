"""Statements of retention: policies, the shared "last run" mark."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from ..dialect import Dialect
from ..schema import retention_policies, retention_runs

__all__ = ["policy_delete", "policy_list", "policy_set", "retention_run_claim"]


def policy_list(conn: Connection, project_id: int) -> dict[str, int]:
    """policy_list: kind → seconds to keep, for one project."""
    p = retention_policies.c
    rows = conn.execute(
        select(p.kind, p.keep_seconds).where(p.project_id == project_id).order_by(p.kind)
    )
    return {str(kind): int(keep) for kind, keep in rows}


def policy_set(conn: Connection, project_id: int, kind: str, keep_seconds: int, now: int) -> None:
    """policy_set: create or change how long one kind is kept."""
    p = retention_policies.c
    changed = conn.execute(
        update(retention_policies)
        .where(p.project_id == project_id, p.kind == kind)
        .values(keep_seconds=keep_seconds, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(
            insert(retention_policies).values(
                project_id=project_id, kind=kind, keep_seconds=keep_seconds, updated_at=now
            )
        )


def policy_delete(conn: Connection, project_id: int, kind: str) -> None:
    """policy_delete: keep one kind forever again."""
    p = retention_policies.c
    conn.execute(delete(retention_policies).where(p.project_id == project_id, p.kind == kind))


def retention_run_claim(
    conn: Connection, dialect: Dialect, project_id: int, now: int, due_before: int
) -> bool:
    """retention_run_claim: mark a run as started if the last one began before ``due_before``.

    Returns whether this caller won the run (others in other processes skip).
    """
    r = retention_runs.c
    last = conn.execute(
        dialect.for_update(select(r.last_run_at).where(r.project_id == project_id))
    ).scalar_one_or_none()
    if last is None:
        conn.execute(insert(retention_runs).values(project_id=project_id, last_run_at=now))
        return True
    if last > due_before:
        return False
    conn.execute(update(retention_runs).where(r.project_id == project_id).values(last_run_at=now))
    return True
