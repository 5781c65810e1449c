"""Jobs: the queue and its log lines.

Revision ID: 0003_jobs
Revises: 0002_states
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import JSONDocument, RowId

revision = "0003_jobs"
down_revision = "0002_states"
branch_labels = None
depends_on = None

_ACTIVE = ("pending", "running")


def upgrade() -> None:
    jobs = op.create_table(
        "jobs",
        sa.Column("id", RowId, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", JSONDocument, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, comment="higher runs first"),
        sa.Column("run_at", sa.BigInteger, nullable=False, comment="not claimed before (µs UTC)"),
        sa.Column("attempt", sa.Integer, nullable=False, comment="attempts started so far"),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("errors", JSONDocument, nullable=True, comment="one object per failed attempt"),
        sa.Column("unique_key", sa.String(255), nullable=True),
        sa.Column("subject_pk", RowId, nullable=True, comment="the entity this job works on"),
        sa.Column("worker", sa.String(255), nullable=True, comment="who runs (or last ran) it"),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column(
            "lease", sa.BigInteger, nullable=False, comment="fencing token, +1 on every claim"
        ),
        sa.Column("lease_expires_at", sa.BigInteger, nullable=True),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=True),
        sa.Column("progress", sa.Float, nullable=True),
        sa.Column("progress_text", sa.String(255), nullable=True),
        sa.Column("result", JSONDocument, nullable=True),
        sa.Column("history", sa.Integer, nullable=False, comment="transitions recorded so far"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_jobs_project_id_projects", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subject_pk"], ["entities.pk"], name="fk_jobs_subject_pk_entities", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sqlite_autoincrement=True,
        comment="The job queue. History in transitions (kind 'job'), lines in job_logs.",
    )
    op.create_index(
        "ix_jobs_claim",
        "jobs",
        [jobs.c.project_id, jobs.c.queue, jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id],
        sqlite_where=jobs.c.state == "pending",
        postgresql_where=jobs.c.state == "pending",
    )
    op.create_index(
        "ix_jobs_lease",
        "jobs",
        ["project_id", "lease_expires_at"],
        sqlite_where=jobs.c.state == "running",
        postgresql_where=jobs.c.state == "running",
    )
    op.create_index(
        "uq_jobs_unique_key",
        "jobs",
        ["project_id", "unique_key"],
        unique=True,
        sqlite_where=jobs.c.state.in_(_ACTIVE),
        postgresql_where=jobs.c.state.in_(_ACTIVE),
    )
    op.create_index("ix_jobs_project_id_state_id", "jobs", ["project_id", "state", "id"])
    op.create_index(
        "ix_jobs_project_id_state_finished_at", "jobs", ["project_id", "state", "finished_at"]
    )
    op.create_index("ix_jobs_subject_pk", "jobs", ["subject_pk"])
    op.create_table(
        "job_logs",
        sa.Column("id", RowId, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("job_id", RowId, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("fields", JSONDocument, nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_job_logs_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_logs_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job_logs"),
        sqlite_autoincrement=True,
        comment="Ordered lines written while a job runs (tail by id).",
    )
    op.create_index("ix_job_logs_job_id_id", "job_logs", ["job_id", "id"])
    op.create_index("ix_job_logs_project_id_at", "job_logs", ["project_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_job_logs_project_id_at", "job_logs")
    op.drop_index("ix_job_logs_job_id_id", "job_logs")
    op.drop_table("job_logs")
    for name in (
        "ix_jobs_subject_pk",
        "ix_jobs_project_id_state_finished_at",
        "ix_jobs_project_id_state_id",
        "uq_jobs_unique_key",
        "ix_jobs_lease",
        "ix_jobs_claim",
    ):
        op.drop_index(name, "jobs")
    op.drop_table("jobs")
