"""Tables of the job queue: jobs and their log lines.

A job's history lives in the shared ``transitions`` table (kind ``job``, the
job id as text); ``jobs.history`` counts its transitions so the next
``sort_key`` is known under the job's own row lock, without reading them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from ._base import JSONDocument, RowId, metadata

__all__ = ["ACTIVE_STATES", "JOB_STATES", "job_logs", "jobs"]

JOB_STATES = ("pending", "running", "completed", "failed", "cancelled")
"""Every state a job can be in."""

ACTIVE_STATES = ("pending", "running")
"""States in which a ``unique_key`` is held."""

jobs = Table(
    "jobs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload", JSONDocument, nullable=True),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, comment="higher runs first"),
    Column("run_at", BigInteger, nullable=False, comment="not claimed before (µs UTC)"),
    Column("attempt", Integer, nullable=False, comment="attempts started so far"),
    Column("max_attempts", Integer, nullable=False),
    Column("errors", JSONDocument, nullable=True, comment="one object per failed attempt"),
    Column("unique_key", String(255), nullable=True),
    Column(
        "subject_pk",
        RowId,
        ForeignKey("entities.pk", ondelete="SET NULL"),
        nullable=True,
        comment="the entity this job works on",
    ),
    Column("worker", String(255), nullable=True, comment="who runs (or last ran) it"),
    Column("pid", Integer, nullable=True),
    Column("lease", BigInteger, nullable=False, comment="fencing token, +1 on every claim"),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=True),
    Column("progress", Float, nullable=True),
    Column("progress_text", String(255), nullable=True),
    Column("result", JSONDocument, nullable=True),
    Column("history", Integer, nullable=False, comment="transitions recorded so far"),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    sqlite_autoincrement=True,
    comment="The job queue. History in transitions (kind 'job'), lines in job_logs.",
)
# The claim reads this index in order: pending jobs of a queue, by priority then age.
Index(
    "ix_jobs_claim",
    jobs.c.project_id,
    jobs.c.queue,
    jobs.c.priority.desc(),
    jobs.c.run_at,
    jobs.c.id,
    sqlite_where=jobs.c.state == "pending",
    postgresql_where=jobs.c.state == "pending",
)
# … and this one when the claim names no queue (every queue: the worker's default).
Index(
    "ix_jobs_claim_any",
    jobs.c.project_id,
    jobs.c.priority.desc(),
    jobs.c.run_at,
    jobs.c.id,
    sqlite_where=jobs.c.state == "pending",
    postgresql_where=jobs.c.state == "pending",
)
# Rescue finds expired leases without scanning finished jobs.
Index(
    "ix_jobs_lease",
    jobs.c.project_id,
    jobs.c.lease_expires_at,
    sqlite_where=jobs.c.state == "running",
    postgresql_where=jobs.c.state == "running",
)
# At most one pending or running job per unique key: the schema enforces it.
Index(
    "uq_jobs_unique_key",
    jobs.c.project_id,
    jobs.c.unique_key,
    unique=True,
    sqlite_where=jobs.c.state.in_(ACTIVE_STATES),
    postgresql_where=jobs.c.state.in_(ACTIVE_STATES),
)
Index("ix_jobs_project_id_state_id", jobs.c.project_id, jobs.c.state, jobs.c.id)
Index("ix_jobs_project_id_state_finished_at", jobs.c.project_id, jobs.c.state, jobs.c.finished_at)
Index("ix_jobs_subject_pk", jobs.c.subject_pk)

job_logs = Table(
    "job_logs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", RowId, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("level", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("fields", JSONDocument, nullable=True),
    sqlite_autoincrement=True,
    comment="Ordered lines written while a job runs (tail by id).",
)
Index("ix_job_logs_job_id_id", job_logs.c.job_id, job_logs.c.id)
Index("ix_job_logs_project_id_at", job_logs.c.project_id, job_logs.c.at)
