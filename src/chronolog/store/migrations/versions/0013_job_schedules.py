"""Recurring schedules of jobs and their fires (issue 16).

Placeholder: the branch that builds this part fills it in (issue 16). Empty until then,
so the three parts of issue 16 can be built side by side with one chain of revisions.

Revision ID: 0013_job_schedules
Revises: 0012_merge_job_history_service
Create Date: 2026-12-04
"""

from __future__ import annotations

revision = "0013_job_schedules"
down_revision = "0012_merge_job_history_service"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
