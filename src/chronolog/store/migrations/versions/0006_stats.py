"""Quarter-hour rollups: event_counts gains granularity 900, filled from the minute rows.

Charts with 15- and 30-minute buckets (``3h``, ``6h``) and sub-day buckets in
zones with half-hour offsets read these instead of minute rows.

Revision ID: 0006_stats
Revises: 0005_auth
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_stats"
down_revision = "0005_auth"
branch_labels = None
depends_on = None

_KEYS = (
    "project_id, granularity, bucket, event_type, action, status, actor_type, target_type, shard"
)
_OLD_COMMENT = "bucket size in seconds: 60, 3600 or 86400 (UTC days)"
_NEW_COMMENT = "bucket size in seconds: 60, 900, 3600 or 86400 (UTC days)"
_OLD_TABLE = (
    "Rollups of events per minute, hour and UTC day, kept in the same transaction as "
    "the events; they outlive the raw events and feed the charts."
)
_NEW_TABLE = (
    "Rollups of events per minute, quarter-hour, hour and UTC day, kept in the same "
    "transaction as the events; they outlive the raw events and feed the charts."
)


def upgrade() -> None:
    # Sum each quarter-hour's minute rows (per key and shard): the counts the
    # writers would have kept had the level existed from the start.
    op.execute(
        f"INSERT INTO event_counts ({_KEYS}, count) "
        "SELECT project_id, 900, bucket - bucket % 900, event_type, action, status, "
        "actor_type, target_type, shard, SUM(count) FROM event_counts WHERE granularity = 60 "
        "GROUP BY project_id, bucket - bucket % 900, event_type, action, status, "
        "actor_type, target_type, shard"
    )
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no comments
        op.alter_column(
            "event_counts",
            "granularity",
            existing_type=sa.Integer,
            existing_nullable=False,
            comment=_NEW_COMMENT,
            existing_comment=_OLD_COMMENT,
        )
        op.create_table_comment("event_counts", _NEW_TABLE, existing_comment=_OLD_TABLE)


def downgrade() -> None:
    op.execute("DELETE FROM event_counts WHERE granularity = 900")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "event_counts",
            "granularity",
            existing_type=sa.Integer,
            existing_nullable=False,
            comment=_OLD_COMMENT,
            existing_comment=_NEW_COMMENT,
        )
        op.create_table_comment("event_counts", _OLD_TABLE, existing_comment=_NEW_TABLE)
