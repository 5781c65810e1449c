"""Tables of the job queue: jobs and their log lines.

A job's history is its activity events (type ``job``, target the job, one
per state change); ``jobs.history`` counts them, so each event's number in
the history (its ``sort_key``) comes from the UPDATE that changes the state,
under the job's own row lock, without reading the events.
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
    text,
)

from ._base import JSONDocument, RowId, metadata

__all__ = [
    "ACTIVE_STATES",
    "ACTIVE_UNIQUE_KEY",
    "CLAIM_ANY",
    "JOB_ACTIONS",
    "JOB_STATES",
    "job_logs",
    "jobs",
]

JOB_STATES = ("waiting", "pending", "running", "completed", "failed", "cancelled")
"""Every state a job can be in."""

JOB_ACTIONS = {
    "waiting": "waiting",  # enqueued after jobs not yet completed (``after=``)
    "ready": "pending",  # the last job it waited for completed (or failed, on_failure="run")
    "pending": "pending",  # enqueued
    "running": "running",  # claimed
    "completed": "completed",
    "retrying": "pending",  # a failed attempt, retried after a back-off
    "failed": "failed",  # no attempt left, or not to be retried
    "rescued": "pending",  # its lease expired; out of attempts it is "failed" instead
    "released": "pending",  # its worker gave it back unfinished
    "cancelled": "cancelled",
    "retried": "pending",  # an operator sent a failed or cancelled job back
    "fired": "pending",  # enqueued by a schedule's fire (jobs/schedules.py)
}
"""The action of each job event (what happened) and the state it leaves the job in.

Every job state change is one activity event whose action is a key here; the
job's history reads the new state from it (``to_state``), with the previous
one in the event's metadata (``from``)."""

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
    Column(
        "history", Integer, nullable=False, comment="state changes recorded so far (its job events)"
    ),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    # Dependencies (issue 16, migration 0014): all NULL for a job without any, so a
    # job that uses none costs no byte and no index entry (see job_links.py).
    Column("depends_on", JSONDocument, nullable=True, comment="ids of the jobs it runs after"),
    Column("on_failure", String(8), nullable=True, comment="'cancel' or 'run' (with depends_on)"),
    Column("waiting_for", Integer, nullable=True, comment="dependencies not yet finished"),
    Column("dependents", Integer, nullable=True, comment="jobs that run after it (NULL: none)"),
    Column("pipeline_id", RowId, nullable=True, comment="the pipeline it is a stage of"),
    sqlite_autoincrement=True,
    comment="The job queue. History in events (type 'job'), lines in job_logs.",
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
# On PostgreSQL its predicate says ``id > 0`` (true of every row) and only the
# any-queue claim states it: a claim of named queues cannot use this index, so it
# reads ix_jobs_claim (queue first) whatever the statistics say. Without any (a
# new database) both cost the same to PostgreSQL and it took this one, walking
# other queues' pending jobs to find the named queue's (migration 0010). SQLite's
# claims name their index (``INDEXED BY``).
CLAIM_ANY = "state = 'pending' AND id > 0"
"""PostgreSQL's predicate of ``ix_jobs_claim_any``, which an any-queue claim repeats."""
Index(
    "ix_jobs_claim_any",
    jobs.c.project_id,
    jobs.c.priority.desc(),
    jobs.c.run_at,
    jobs.c.id,
    sqlite_where=jobs.c.state == "pending",
    postgresql_where=text(CLAIM_ANY),
)
# Rescue finds expired leases without scanning finished jobs. Only a running job
# holds a lease; keyed on its expiry alone, the index serves no other statement
# (the completion looks running jobs up by id, never by walking this index).
Index(
    "ix_jobs_lease",
    jobs.c.project_id,
    jobs.c.lease_expires_at,
    sqlite_where=jobs.c.lease_expires_at.isnot(None),
    postgresql_where=jobs.c.lease_expires_at.isnot(None),
)
# At most one pending or running job per unique key: the schema enforces it. The
# partial indexes below leave out the rows they would never be asked for (no
# key, no subject, not finished), so a job without them costs no entry there
# (migration 0010: a seventh of a bulk enqueue).
ACTIVE_UNIQUE_KEY = "state IN ('pending', 'running') AND unique_key IS NOT NULL"
"""The predicate of ``uq_jobs_unique_key``, as SQL text: ``INSERT … ON CONFLICT``
names the index by repeating it (PostgreSQL infers a partial index from it)."""
Index(
    "uq_jobs_unique_key",
    jobs.c.project_id,
    jobs.c.unique_key,
    unique=True,
    sqlite_where=text(ACTIVE_UNIQUE_KEY),
    postgresql_where=text(ACTIVE_UNIQUE_KEY),
)
Index("ix_jobs_project_id_state_id", jobs.c.project_id, jobs.c.state, jobs.c.id)
Index(
    "ix_jobs_project_id_state_finished_at",
    jobs.c.project_id,
    jobs.c.state,
    jobs.c.finished_at,
    sqlite_where=jobs.c.finished_at.isnot(None),
    postgresql_where=jobs.c.finished_at.isnot(None),
)
Index(
    "ix_jobs_pipeline_id",
    jobs.c.pipeline_id,
    sqlite_where=jobs.c.pipeline_id.isnot(None),
    postgresql_where=jobs.c.pipeline_id.isnot(None),
)
Index(
    "ix_jobs_subject_pk",
    jobs.c.subject_pk,
    sqlite_where=jobs.c.subject_pk.isnot(None),
    postgresql_where=jobs.c.subject_pk.isnot(None),
)

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
