"""Quarter-hour rollups (granularity 900, filled from the minute rows); no FK on event_counts.

Charts with 15- and 30-minute buckets (``3h``, ``6h``) and sub-day buckets in
zones with half-hour offsets read quarter-hour rows instead of minute rows.
The foreign key from ``event_counts`` to ``projects`` goes: PostgreSQL checked
it with a trigger for every counter row written (~7 µs a row, a third of the
upsert), and counters are only written for a resolved project.

Revision ID: 0007_quarter_rollups
Revises: 0006_jobs_claim_index
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_quarter_rollups"
down_revision = "0006_jobs_claim_index"
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


_FK = "fk_event_counts_project_id_projects"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(_FK, "event_counts", type_="foreignkey")
    else:
        # SQLite drops a constraint by rebuilding the table (same rows, same key).
        with op.batch_alter_table(
            "event_counts", recreate="always", table_kwargs={"sqlite_with_rowid": False}
        ) as batch:
            batch.drop_constraint(_FK, type_="foreignkey")
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
        op.create_foreign_key(
            _FK, "event_counts", "projects", ["project_id"], ["id"], ondelete="CASCADE"
        )
    else:
        with op.batch_alter_table(
            "event_counts", recreate="always", table_kwargs={"sqlite_with_rowid": False}
        ) as batch:
            batch.create_foreign_key(_FK, "projects", ["project_id"], ["id"], ondelete="CASCADE")
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
