"""Tables of the foundation: projects, their vocabularies, events and event counts."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    false,
)

from ._base import JSONDocument, RowId, current_tx, metadata

__all__ = ["event_counts", "events", "project_vocab", "projects"]

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("strict_statuses", Boolean, nullable=False, server_default=false()),
    Column("created_at", BigInteger, nullable=False),
    comment="Tenants. Every other row belongs to one; 'default' exists from the start.",
)

project_vocab = Table(
    "project_vocab",
    metadata,
    Column(
        "project_id",
        Integer,
        ForeignKey("projects.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(16), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    comment=(
        "Registered words per project: kind 'event_type' (a project with any is strict "
        "about event types) and kind 'status' (custom statuses for strict projects)."
    ),
)

events = Table(
    "events",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column(
        "project_id",
        Integer,
        ForeignKey("projects.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("occurred_at", BigInteger, nullable=False, comment="microseconds since epoch, UTC"),
    Column("event_type", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("actor_type", String(64), nullable=True),
    Column("actor_id", String(255), nullable=True),
    Column("actor_name", String(255), nullable=True),
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(255), nullable=True),
    Column("target_title", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("metadata", JSONDocument, nullable=True),
    Column(
        "tx",
        BigInteger,
        nullable=False,
        server_default=current_tx(),
        comment="writing transaction (PostgreSQL) for the gap-free feed; 0 on SQLite",
    ),
    # AUTOINCREMENT: SQLite must never hand out an id again after the newest
    # rows are purged, or a feed reader at that id would miss the new rows.
    sqlite_autoincrement=True,
    comment="The activity log. Append-only apart from status/error updates and retention.",
)

Index("ix_events_project_id_occurred_at_id", events.c.project_id, events.c.occurred_at, events.c.id)
Index(
    "ix_events_project_id_event_type_occurred_at",
    events.c.project_id,
    events.c.event_type,
    events.c.occurred_at,
)
Index(
    "ix_events_project_id_actor_type_occurred_at",
    events.c.project_id,
    events.c.actor_type,
    events.c.occurred_at,
)
Index(
    "ix_events_project_id_target_type_target_id_occurred_at",
    events.c.project_id,
    events.c.target_type,
    events.c.target_id,
    events.c.occurred_at,
)
Index("ix_events_project_id_tx_id", events.c.project_id, events.c.tx, events.c.id)

event_counts = Table(
    "event_counts",
    metadata,
    # No foreign key to projects: checking it cost ~7 µs for every counter row
    # written on PostgreSQL (a trigger per row), and counters are only written
    # for the project of a resolved Scope. Whoever deletes a project deletes its counts.
    Column("project_id", Integer, primary_key=True),
    Column(
        "granularity",
        Integer,
        primary_key=True,
        comment="bucket size in seconds: 60, 900, 3600 or 86400 (UTC days)",
    ),
    Column("bucket", BigInteger, primary_key=True, comment="bucket start, seconds since epoch"),
    Column("event_type", String(64), primary_key=True),
    Column("action", String(64), primary_key=True),
    Column("status", String(32), primary_key=True),
    Column("actor_type", String(64), primary_key=True, comment="'' when the event has none"),
    Column("target_type", String(64), primary_key=True, comment="'' when the event has none"),
    Column(
        "shard",
        SmallInteger,
        primary_key=True,
        comment="spreads concurrent PostgreSQL writers over rows; always 0 on SQLite",
    ),
    Column("count", BigInteger, nullable=False),
    # SQLite: the primary key is the table, so sums over a key range read no second B-tree.
    sqlite_with_rowid=False,
    comment=(
        "Rollups of events per minute, quarter-hour, hour and UTC day, kept in the same "
        "transaction as the events; they outlive the raw events and feed the charts."
    ),
)
