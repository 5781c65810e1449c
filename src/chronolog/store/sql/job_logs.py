"""Statements that read a job's log from its end (the dashboard shows the newest lines)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from ..schema import job_logs

__all__ = ["LOG_COLUMNS", "job_log_tail"]

LOG_COLUMNS = tuple(
    job_logs.c[n] for n in ("id", "job_id", "attempt", "at", "level", "message", "fields")
)
"""What a log read returns, in this order (as ``jobs.job_log_page`` does)."""


def job_log_tail(
    conn: Connection, project_id: int, job_id: int, before: int | None, limit: int
) -> Sequence[Row[Any]]:
    """job_log_tail: a job's last ``limit`` log lines (before line id ``before``, if
    given), oldest first."""
    stmt = select(*LOG_COLUMNS).where(
        job_logs.c.project_id == project_id, job_logs.c.job_id == job_id
    )
    if before is not None:
        stmt = stmt.where(job_logs.c.id < before)
    newest = conn.execute(stmt.order_by(job_logs.c.id.desc()).limit(limit)).all()
    return newest[::-1]
