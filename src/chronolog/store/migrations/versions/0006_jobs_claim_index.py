"""Jobs: an index for claims across every queue.

``claim(None, …)`` (the worker's default) orders all pending jobs of a
project by priority then age; ``ix_jobs_claim`` leads with the queue, so
without one the database sorted every pending job on every claim.

Revision ID: 0006_jobs_claim_index
Revises: 0005_auth
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_jobs_claim_index"
down_revision = "0005_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The columns the index names, as of this revision (not the live schema module).
    jobs = sa.Table(
        "jobs",
        sa.MetaData(),
        sa.Column("project_id", sa.Integer),
        sa.Column("priority", sa.Integer),
        sa.Column("run_at", sa.BigInteger),
        sa.Column("id", sa.BigInteger),
        sa.Column("state", sa.String(16)),
    )
    op.create_index(
        "ix_jobs_claim_any",
        "jobs",
        [jobs.c.project_id, jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id],
        sqlite_where=jobs.c.state == "pending",
        postgresql_where=jobs.c.state == "pending",
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_claim_any", "jobs")
