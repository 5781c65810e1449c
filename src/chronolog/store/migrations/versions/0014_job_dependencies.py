"""Job dependencies (`after=`), the `waiting` state and pipelines (issue 16).

Five nullable columns on ``jobs`` (a job without dependencies keeps them NULL,
so the bulk enqueue and the claim write and read nothing more for it), the
edges table ``job_dependencies`` and the ``job_pipelines`` table. The new
state ``waiting`` needs no change of the claim: it selects ``state =
'pending'`` on its partial indexes, which a waiting job is not in.

Revision ID: 0014_job_dependencies
Revises: 0013_job_schedules
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import JSONDocument, RowId

revision = "0014_job_dependencies"
down_revision = "0013_job_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the dependency columns and the edges and pipelines tables."""
    op.add_column(
        "jobs",
        sa.Column(
            "depends_on", JSONDocument, nullable=True, comment="ids of the jobs it runs after"
        ),
    )
    op.add_column(
        "jobs",
        sa.Column(
            "on_failure", sa.String(8), nullable=True, comment="'cancel' or 'run' (with depends_on)"
        ),
    )
    op.add_column(
        "jobs",
        sa.Column(
            "waiting_for", sa.Integer, nullable=True, comment="dependencies not yet finished"
        ),
    )
    op.add_column(
        "jobs",
        sa.Column(
            "dependents", sa.Integer, nullable=True, comment="jobs that run after it (NULL: none)"
        ),
    )
    op.add_column(
        "jobs",
        sa.Column("pipeline_id", RowId, nullable=True, comment="the pipeline it is a stage of"),
    )
    op.create_index(
        "ix_jobs_pipeline_id",
        "jobs",
        ["pipeline_id"],
        sqlite_where=sa.text("pipeline_id IS NOT NULL"),
        postgresql_where=sa.text("pipeline_id IS NOT NULL"),
    )
    op.create_table(
        "job_dependencies",
        sa.Column("job_id", RowId, nullable=False),
        sa.Column("depends_on", RowId, nullable=False, comment="the job that must finish first"),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_dependencies_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["depends_on"],
            ["jobs.id"],
            name="fk_job_dependencies_depends_on_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "depends_on", name="pk_job_dependencies"),
        comment="Edges of the dependency graph: job_id runs after depends_on.",
    )
    op.create_index("ix_job_dependencies_depends_on", "job_dependencies", ["depends_on"])
    op.create_table(
        "job_pipelines",
        sa.Column("id", RowId, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("subject_pk", RowId, nullable=True, comment="the entity its stages work on"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_job_pipelines_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_pk"],
            ["entities.pk"],
            name="fk_job_pipelines_subject_pk_entities",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job_pipelines"),
        sqlite_autoincrement=True,
        comment="Chains of job stages on one subject (cl.jobs.pipeline).",
    )
    op.create_index("ix_job_pipelines_project_id_id", "job_pipelines", ["project_id", "id"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_index("ix_job_pipelines_project_id_id", table_name="job_pipelines")
    op.drop_table("job_pipelines")
    op.drop_index("ix_job_dependencies_depends_on", table_name="job_dependencies")
    op.drop_table("job_dependencies")
    op.drop_index("ix_jobs_pipeline_id", table_name="jobs")
    for name in ("pipeline_id", "dependents", "waiting_for", "on_failure", "depends_on"):
        with op.batch_alter_table("jobs") as batch:
            batch.drop_column(name)
