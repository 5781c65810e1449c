"""Join the two lines of revisions that branched from 0009: 0010 (jobs' history in
events) and 0011 (service hardening: store keys, key fingerprints, idempotency keys).

The two touch different tables and run in either order: a store written by a
build that had one of them gets the other one, then this (empty) revision.

Revision ID: 0012_merge_job_history_service
Revises: 0010_job_history_events, 0011_service_hardening
Create Date: 2026-12-04
"""

from __future__ import annotations

revision = "0012_merge_job_history_service"
down_revision = ("0010_job_history_events", "0011_service_hardening")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: this revision only joins the two heads."""


def downgrade() -> None:
    """Nothing to change: downgrading splits the heads again."""
