"""Recurring schedules of jobs and their fires (issue 16).

``job_schedules``: one row per named schedule (cron or interval, time zone,
the job to enqueue, catch-up policy, pause) with ``next_fire_at``, the first
fire time not fired yet. ``job_schedule_fires``: one row per fire, keyed by
(schedule, fire time), written with the job it enqueues: the key that makes a
fire enqueue exactly one job however many workers fire at once.

Revision ID: 0013_job_schedules
Revises: 0012_merge_job_history_service
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import JSONDocument, RowId

revision = "0013_job_schedules"
down_revision = "0012_merge_job_history_service"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``job_schedules`` and ``job_schedule_fires``."""
    schedules = op.create_table(
        "job_schedules",
        sa.Column("id", RowId, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("cron", sa.String(255), nullable=True, comment="five-field cron, or NULL"),
        sa.Column("every_seconds", sa.Integer, nullable=True, comment="fixed interval, or NULL"),
        sa.Column("tz", sa.String(64), nullable=False, comment="IANA time zone of the cron fields"),
        sa.Column("payload", JSONDocument, nullable=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("catch_up", sa.String(8), nullable=False),
        sa.Column("max_catch_up", sa.Integer, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column(
            "next_fire_at", sa.BigInteger, nullable=False, comment="the first fire time not fired"
        ),
        sa.Column("last_fire_at", sa.BigInteger, nullable=True),
        sa.Column("last_job_id", RowId, nullable=True, comment="the job of the last fire"),
        sa.Column("fires", sa.BigInteger, nullable=False, comment="jobs enqueued so far"),
        sa.Column(
            "missed", sa.BigInteger, nullable=False, comment="fire times skipped by catch_up"
        ),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_job_schedules_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job_schedules"),
        sa.UniqueConstraint("project_id", "name", name="uq_job_schedules_project_id_name"),
        sqlite_autoincrement=True,
        comment="Recurring jobs (cron or interval). Fires in job_schedule_fires.",
    )
    op.create_index(
        "ix_job_schedules_due",
        "job_schedules",
        ["next_fire_at"],
        sqlite_where=schedules.c.paused.is_(False),
        postgresql_where=schedules.c.paused.is_(False),
    )
    op.create_table(
        "job_schedule_fires",
        sa.Column("schedule_id", RowId, nullable=False),
        sa.Column("fire_at", sa.BigInteger, nullable=False, comment="the fire time (µs UTC)"),
        sa.Column("job_id", RowId, nullable=True, comment="the job this fire enqueued"),
        sa.Column("fired_by", sa.String(255), nullable=False),
        sa.Column("fired_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["job_schedules.id"],
            name="fk_job_schedule_fires_schedule_id_job_schedules",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "fire_at", name="pk_job_schedule_fires"),
        comment="One row per fire time: the key that makes a fire enqueue exactly one job.",
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("job_schedule_fires")
    op.drop_index("ix_job_schedules_due", table_name="job_schedules")
    op.drop_table("job_schedules")
