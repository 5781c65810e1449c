"""Job dependencies (`after=`), the `waiting` state and pipelines (issue 16).

Placeholder: the branch that builds this part fills it in (issue 16). Empty until then,
so the three parts of issue 16 can be built side by side with one chain of revisions.

Revision ID: 0014_job_dependencies
Revises: 0013_job_schedules
Create Date: 2026-12-04
"""

from __future__ import annotations

revision = "0014_job_dependencies"
down_revision = "0013_job_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
