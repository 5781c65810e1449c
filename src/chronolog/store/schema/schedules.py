"""Tables of job schedules: recurring jobs and the fires that enqueued them.

Exactly one job per fire time, with no leader: a fire is a row of
``job_schedule_fires`` keyed by (schedule, fire time), written in the same
transaction as the job it enqueues, so a second firer of the same time finds
the row (and its job) instead of enqueueing another. The schedule's
``next_fire_at`` says which fire times are still to come; workers read it
through ``ix_job_schedules_due`` to learn cheaply that nothing is due.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from ._base import JSONDocument, RowId, metadata

__all__ = ["CATCH_UP_POLICIES", "job_schedule_fires", "job_schedules"]

CATCH_UP_POLICIES = ("latest", "none", "all")
"""What a schedule does with fire times missed while no worker ran or it was paused."""

job_schedules = Table(
    "job_schedules",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("cron", String(255), nullable=True, comment="five-field cron, or NULL"),
    Column("every_seconds", Integer, nullable=True, comment="fixed interval, or NULL"),
    Column("tz", String(64), nullable=False, comment="IANA time zone of the cron fields"),
    Column("payload", JSONDocument, nullable=True),
    Column("queue", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("catch_up", String(8), nullable=False),
    Column("max_catch_up", Integer, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("next_fire_at", BigInteger, nullable=False, comment="the first fire time not fired"),
    Column("last_fire_at", BigInteger, nullable=True),
    Column("last_job_id", RowId, nullable=True, comment="the job of the last fire"),
    Column("fires", BigInteger, nullable=False, comment="jobs enqueued so far"),
    Column("missed", BigInteger, nullable=False, comment="fire times skipped by catch_up"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
    sqlite_autoincrement=True,
    comment="Recurring jobs (cron or interval). Fires in job_schedule_fires.",
)
# Workers and the server ask "is anything due?" every second: an index range
# read that finds nothing in the common case.
Index(
    "ix_job_schedules_due",
    job_schedules.c.next_fire_at,
    sqlite_where=job_schedules.c.paused.is_(False),
    postgresql_where=job_schedules.c.paused.is_(False),
)

job_schedule_fires = Table(
    "job_schedule_fires",
    metadata,
    Column(
        "schedule_id",
        RowId,
        ForeignKey("job_schedules.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("fire_at", BigInteger, primary_key=True, comment="the fire time (µs UTC)"),
    Column("job_id", RowId, nullable=True, comment="the job this fire enqueued"),
    Column("fired_by", String(255), nullable=False),
    Column("fired_at", BigInteger, nullable=False),
    comment="One row per fire time: the key that makes a fire enqueue exactly one job.",
)
