"""Tables of the state history: entities, their state machines, and transitions.

One transition table serves every kind, jobs included (kind ``job``, the job
id as text), where the media-manager seed kept five copies of it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

from ._base import JSONDocument, RowId, metadata

__all__ = ["SLOT_GAP_CAP", "SLOT_MICROS", "entities", "machines", "transition_slots", "transitions"]

entities = Table(
    "entities",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("entity_id", String(255), nullable=False, comment="the caller's id, as text"),
    Column("title", Text, nullable=True),
    Column(
        "parent_pk",
        RowId,
        ForeignKey("entities.pk", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("attributes", JSONDocument, nullable=True),
    Column("state", String(64), nullable=True),
    Column("state_since", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "kind", "entity_id"),
    sqlite_autoincrement=True,
    comment="Things with a lifecycle; state is the projection of their newest transition.",
)
# ``in_state`` pages: newest first within (kind, state), keyset on (state_since, pk).
Index(
    "ix_entities_project_id_kind_state_state_since_pk",
    entities.c.project_id,
    entities.c.kind,
    entities.c.state,
    entities.c.state_since,
    entities.c.pk,
)
Index("ix_entities_parent_pk", entities.c.parent_pk)

machines = Table(
    "machines",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column(
        "definition", JSONDocument, nullable=False, comment="states, transitions, initial, terminal"
    ),
    Column("updated_at", BigInteger, nullable=False),
    comment="One state machine per kind, shared by every process through the database.",
)

transitions = Table(
    "transitions",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("entity_id", String(255), nullable=False),
    # No foreign key: a cascade from entities would scan transitions by entity_pk
    # (an index on every transition just for deletes); States.delete removes the
    # history by (project_id, kind, entity_id), the unique key's prefix, instead.
    Column(
        "entity_pk",
        RowId,
        nullable=True,
        comment="the entity row (NULL for jobs, whose row is in jobs)",
    ),
    Column("sort_key", Integer, nullable=False, comment="1, 2, 3 … per entity, no gaps"),
    Column("from_state", String(64), nullable=True, comment="NULL only when created from nothing"),
    Column("to_state", String(64), nullable=False),
    Column("most_recent", Boolean, nullable=False),
    Column("actor_type", String(64), nullable=True),
    Column("actor_id", String(255), nullable=True),
    Column("actor_name", String(255), nullable=True),
    Column("metadata", JSONDocument, nullable=True),
    Column("occurred_at", BigInteger, nullable=False),
    Column("event_id", BigInteger, nullable=True, comment="the activity event recorded with it"),
    # The schema, not only the code, keeps history serial: one row per sort_key…
    UniqueConstraint("project_id", "kind", "entity_id", "sort_key"),
    sqlite_autoincrement=True,
    comment="Every recorded move of every entity and job.",
)
# … and exactly one most_recent row per entity.
Index(
    "uq_transitions_most_recent",
    transitions.c.project_id,
    transitions.c.kind,
    transitions.c.entity_id,
    unique=True,
    sqlite_where=transitions.c.most_recent == true(),
    postgresql_where=transitions.c.most_recent == true(),
)
Index(
    "ix_transitions_project_id_occurred_at_id",
    transitions.c.project_id,
    transitions.c.occurred_at,
    transitions.c.id,
)

SLOT_MICROS = 900_000_000
"""A slot of ``transition_slots``: 15 minutes, so every local midnight of a zone whose
UTC offset is a multiple of 15 minutes (all of today's zones) falls on a slot edge."""
SLOT_GAP_CAP = 100
"""Gaps are capped at 100 slots (25 hours): the longest local day a slot sum can count."""

# Written by triggers on ``transitions`` (migration 0006), never by chronolog's code: every
# path that adds or removes history (moves, jobs, deletes, purges) keeps it exact.
transition_slots = Table(
    "transition_slots",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("slot", BigInteger, nullable=False, comment="occurred_at // 15 minutes"),
    Column("kind", String(64), nullable=False),
    Column("to_state", String(64), nullable=False),
    Column(
        "gap",
        SmallInteger,
        nullable=False,
        comment=(
            "slots since the same entity's previous move into to_state, capped at 100 "
            "(also when there is none)"
        ),
    ),
    Column(
        "shard",
        Integer,
        nullable=False,
        comment=(
            "PostgreSQL: rows of one key that concurrent writers add to without waiting on "
            "each other (a backend pid, or random when that row is held); always 0 on SQLite"
        ),
    ),
    Column("n", BigInteger, nullable=False, comment="moves with this slot and gap"),
    PrimaryKeyConstraint("project_id", "slot", "kind", "to_state", "gap", "shard"),
    # SQLite: the primary key is the table, so a range of slots is one B-tree walk.
    sqlite_with_rowid=False,
    comment=(
        "Moves per 15-minute slot and gap to the previous same move: the timeline's "
        "distinct-entity day counts, summed without reading transitions."
    ),
)
