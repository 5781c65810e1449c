"""Foundation: projects, vocabularies, events and event counts.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import JSONDocument, RowId, current_tx

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    projects = op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("strict_statuses", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("name", name="uq_projects_name"),
        comment="Tenants. Every other row belongs to one; 'default' exists from the start.",
    )
    op.bulk_insert(
        projects,
        [{"name": "default", "title": "Default project", "created_at": 0}],
    )
    op.create_table(
        "project_vocab",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_vocab_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "kind", "name", name="pk_project_vocab"),
        comment=(
            "Registered words per project: kind 'event_type' (a project with any is strict "
            "about event types) and kind 'status' (custom statuses for strict projects)."
        ),
    )
    op.create_table(
        "events",
        sa.Column("id", RowId, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column(
            "occurred_at", sa.BigInteger, nullable=False, comment="microseconds since epoch, UTC"
        ),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("actor_type", sa.String(64), nullable=True),
        sa.Column("actor_id", sa.String(255), nullable=True),
        sa.Column("actor_name", sa.String(255), nullable=True),
        sa.Column("target_type", sa.String(64), nullable=True),
        sa.Column("target_id", sa.String(255), nullable=True),
        sa.Column("target_title", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("metadata", JSONDocument, nullable=True),
        sa.Column(
            "tx",
            sa.BigInteger,
            nullable=False,
            server_default=current_tx(),
            comment="writing transaction (PostgreSQL) for the gap-free feed; 0 on SQLite",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_events_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sqlite_autoincrement=True,
        comment="The activity log. Append-only apart from status/error updates and retention.",
    )
    op.create_index(
        "ix_events_project_id_occurred_at_id", "events", ["project_id", "occurred_at", "id"]
    )
    op.create_index(
        "ix_events_project_id_event_type_occurred_at",
        "events",
        ["project_id", "event_type", "occurred_at"],
    )
    op.create_index(
        "ix_events_project_id_actor_type_occurred_at",
        "events",
        ["project_id", "actor_type", "occurred_at"],
    )
    op.create_index(
        "ix_events_project_id_target_type_target_id_occurred_at",
        "events",
        ["project_id", "target_type", "target_id", "occurred_at"],
    )
    op.create_index("ix_events_project_id_tx_id", "events", ["project_id", "tx", "id"])
    op.create_table(
        "event_counts",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column(
            "granularity",
            sa.Integer,
            nullable=False,
            comment="bucket size in seconds: 60 or 3600",
        ),
        sa.Column(
            "bucket", sa.BigInteger, nullable=False, comment="bucket start, seconds since epoch"
        ),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column(
            "actor_type", sa.String(64), nullable=False, comment="'' when the event has none"
        ),
        sa.Column(
            "target_type", sa.String(64), nullable=False, comment="'' when the event has none"
        ),
        sa.Column(
            "shard",
            sa.SmallInteger,
            nullable=False,
            comment="spreads concurrent PostgreSQL writers over rows; always 0 on SQLite",
        ),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_event_counts_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id",
            "granularity",
            "bucket",
            "event_type",
            "action",
            "status",
            "actor_type",
            "target_type",
            "shard",
            name="pk_event_counts",
        ),
        sqlite_with_rowid=False,
        comment=(
            "Rollups of events per minute and per hour, kept in the same transaction as "
            "the events; they outlive the raw events and feed the charts."
        ),
    )


def downgrade() -> None:
    op.drop_table("event_counts")
    op.drop_index("ix_events_project_id_tx_id", "events")
    op.drop_index("ix_events_project_id_target_type_target_id_occurred_at", "events")
    op.drop_index("ix_events_project_id_actor_type_occurred_at", "events")
    op.drop_index("ix_events_project_id_event_type_occurred_at", "events")
    op.drop_index("ix_events_project_id_occurred_at_id", "events")
    op.drop_table("events")
    op.drop_table("project_vocab")
    op.drop_table("projects")
