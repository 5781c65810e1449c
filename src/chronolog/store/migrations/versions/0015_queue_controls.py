"""Queue controls (pause, concurrency and rate limits) and the worker registry (issue 16).

``job_queues``: a row per queue with a control (see ``store/schema/queues.py``);
``job_workers``: the registry of running workers and their heartbeats.

Revision ID: 0015_queue_controls
Revises: 0014_job_dependencies
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import JSONDocument

revision = "0015_queue_controls"
down_revision = "0014_job_dependencies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``job_queues`` and ``job_workers``."""
    op.create_table(
        "job_queues",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("concurrency", sa.Integer, nullable=True, comment="most jobs running at once"),
        sa.Column("rate_limit", sa.Integer, nullable=True, comment="most starts per rate_period"),
        sa.Column("rate_period", sa.BigInteger, nullable=True, comment="µs"),
        sa.Column(
            "window_start", sa.BigInteger, nullable=True, comment="the rate window's first start"
        ),
        sa.Column("window_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_job_queues_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "queue", name="pk_job_queues"),
        comment="Controls of queues (pause, limits); a row only while a control is set.",
    )
    op.create_table(
        "job_workers",
        sa.Column("id", sa.String(32), nullable=False, comment="a random hex id"),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("queues", JSONDocument, nullable=True, comment="null: every queue"),
        sa.Column("kinds", JSONDocument, nullable=True, comment="null: every kind"),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("remote", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_job_workers_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job_workers"),
        comment="Running workers (registered at start, heartbeated, removed at a clean stop).",
    )
    op.create_index(
        "ix_job_workers_project_id_heartbeat_at", "job_workers", ["project_id", "heartbeat_at"]
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_job_workers_project_id_heartbeat_at", table_name="job_workers")
    op.drop_table("job_workers")
    op.drop_table("job_queues")
