"""Stats, feed and retention: retention policies and runs; day rollups.

Revision ID: 0004_stats
Revises: 0003_jobs
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_stats"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no comments
        # Day rollups (granularity 86400) join the minute and hour rows.
        op.alter_column(
            "event_counts",
            "granularity",
            existing_type=sa.Integer,
            existing_nullable=False,
            comment="bucket size in seconds: 60, 3600 or 86400 (UTC days)",
            existing_comment="bucket size in seconds: 60 or 3600",
        )
        op.create_table_comment(
            "event_counts",
            "Rollups of events per minute, hour and UTC day, kept in the same transaction as "
            "the events; they outlive the raw events and feed the charts.",
            existing_comment="Rollups of events per minute and per hour, kept in the same "
            "transaction as the events; they outlive the raw events and feed the charts.",
        )
    op.create_table(
        "retention_policies",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column(
            "kind",
            sa.String(32),
            nullable=False,
            comment="what is purged: events, minute_rollups, hour_rollups, job_logs, finished_jobs",
        ),
        sa.Column(
            "keep_seconds", sa.BigInteger, nullable=False, comment="keep rows younger than this"
        ),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_retention_policies_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "kind", name="pk_retention_policies"),
        comment="How long each kind of row is kept, per project; no row means keep forever.",
    )
    op.create_table(
        "retention_runs",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column(
            "last_run_at", sa.BigInteger, nullable=False, comment="microseconds since epoch, UTC"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_retention_runs_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name="pk_retention_runs"),
        comment=(
            "When retention last ran per project, so periodic callers in many processes share it."
        ),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "event_counts",
            "granularity",
            existing_type=sa.Integer,
            existing_nullable=False,
            comment="bucket size in seconds: 60 or 3600",
        )
        op.create_table_comment(
            "event_counts",
            "Rollups of events per minute and per hour, kept in the same transaction as "
            "the events; they outlive the raw events and feed the charts.",
        )
    op.drop_table("retention_runs")
    op.drop_table("retention_policies")
