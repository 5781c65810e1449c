"""Statements of the cancel watch: which running jobs a worker holds were cancelled, and
the wake-up a cancel of a running job sends to workers in other processes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from ..dialect import Dialect
from ..notify import channel_for
from ..schema import jobs

__all__ = ["CANCEL_TOPIC", "job_cancel_notify", "job_cancelled_among"]

CANCEL_TOPIC = "jobs_cancel"
"""The notifier topic (and PostgreSQL channel ``chronolog_jobs_cancel``) of cancels."""


def job_cancelled_among(conn: Connection, project_id: int, job_ids: Sequence[int]) -> list[int]:
    """job_cancelled_among: which of ``job_ids`` are cancelled (a primary-key lookup each)."""
    if not job_ids:
        return []
    rows = conn.execute(
        select(jobs.c.id).where(
            jobs.c.project_id == project_id,
            jobs.c.id.in_(list(job_ids)),
            jobs.c.state == "cancelled",
        )
    )
    return [int(r[0]) for r in rows]


def job_cancel_notify(conn: Connection, dialect: Dialect, project_id: int) -> None:
    """job_cancel_notify: wake the cancel watches of other processes at commit (NOTIFY)."""
    dialect.notify(conn, channel_for(CANCEL_TOPIC), str(project_id))
