"""Tables of retention: per-project policies and the last run of the purger."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table

from ._base import metadata

__all__ = ["retention_policies", "retention_runs"]

retention_policies = Table(
    "retention_policies",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "kind",
        String(32),
        primary_key=True,
        comment="what is purged: events, minute_rollups, hour_rollups, job_logs, finished_jobs",
    ),
    Column("keep_seconds", BigInteger, nullable=False, comment="keep rows younger than this"),
    Column("updated_at", BigInteger, nullable=False),
    comment="How long each kind of row is kept, per project; no row means keep forever.",
)

retention_runs = Table(
    "retention_runs",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("last_run_at", BigInteger, nullable=False, comment="microseconds since epoch, UTC"),
    comment="When retention last ran per project, so periodic callers in many processes share it.",
)
