"""Queue controls (pause, concurrency and rate limits) and the worker registry (issue 16).

Placeholder: the branch that builds this part fills it in (issue 16). Empty until then,
so the three parts of issue 16 can be built side by side with one chain of revisions.

Revision ID: 0015_queue_controls
Revises: 0014_job_dependencies
Create Date: 2026-12-04
"""

from __future__ import annotations

revision = "0015_queue_controls"
down_revision = "0014_job_dependencies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
