"""States: entities, state machines and the one transition table.

Revision ID: 0002_states
Revises: 0001_foundation
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import JSONDocument, RowId

revision = "0002_states"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entities",
        sa.Column("pk", RowId, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(255), nullable=False, comment="the caller's id, as text"),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("parent_pk", RowId, nullable=True),
        sa.Column("attributes", JSONDocument, nullable=True),
        sa.Column("state", sa.String(64), nullable=True),
        sa.Column("state_since", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_entities_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_pk"],
            ["entities.pk"],
            name="fk_entities_parent_pk_entities",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_entities"),
        sa.UniqueConstraint(
            "project_id", "kind", "entity_id", name="uq_entities_project_id_kind_entity_id"
        ),
        sqlite_autoincrement=True,
        comment="Things with a lifecycle; state is the projection of their newest transition.",
    )
    op.create_index(
        "ix_entities_project_id_kind_state_state_since_pk",
        "entities",
        ["project_id", "kind", "state", "state_since", "pk"],
    )
    op.create_index("ix_entities_parent_pk", "entities", ["parent_pk"])
    op.create_table(
        "machines",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column(
            "definition",
            JSONDocument,
            nullable=False,
            comment="states, transitions, initial, terminal",
        ),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_machines_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "kind", name="pk_machines"),
        comment="One state machine per kind, shared by every process through the database.",
    )
    transitions = op.create_table(
        "transitions",
        sa.Column("id", RowId, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column(
            "entity_pk",
            RowId,
            nullable=True,
            comment="the entity row (NULL for jobs, whose row is in jobs)",
        ),
        sa.Column("sort_key", sa.Integer, nullable=False, comment="1, 2, 3 … per entity, no gaps"),
        sa.Column(
            "from_state",
            sa.String(64),
            nullable=True,
            comment="NULL only when created from nothing",
        ),
        sa.Column("to_state", sa.String(64), nullable=False),
        sa.Column("most_recent", sa.Boolean, nullable=False),
        sa.Column("actor_type", sa.String(64), nullable=True),
        sa.Column("actor_id", sa.String(255), nullable=True),
        sa.Column("actor_name", sa.String(255), nullable=True),
        sa.Column("metadata", JSONDocument, nullable=True),
        sa.Column("occurred_at", sa.BigInteger, nullable=False),
        sa.Column(
            "event_id", sa.BigInteger, nullable=True, comment="the activity event recorded with it"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_transitions_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_transitions"),
        sa.UniqueConstraint(
            "project_id",
            "kind",
            "entity_id",
            "sort_key",
            name="uq_transitions_project_id_kind_entity_id_sort_key",
        ),
        sqlite_autoincrement=True,
        comment="Every recorded move of every entity and job.",
    )
    op.create_index(
        "uq_transitions_most_recent",
        "transitions",
        ["project_id", "kind", "entity_id"],
        unique=True,
        sqlite_where=transitions.c.most_recent == sa.true(),
        postgresql_where=transitions.c.most_recent == sa.true(),
    )
    op.create_index(
        "ix_transitions_project_id_occurred_at_id",
        "transitions",
        ["project_id", "occurred_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_transitions_project_id_occurred_at_id", "transitions")
    op.drop_index("uq_transitions_most_recent", "transitions")
    op.drop_table("transitions")
    op.drop_table("machines")
    op.drop_index("ix_entities_parent_pk", "entities")
    op.drop_index("ix_entities_project_id_kind_state_state_since_pk", "entities")
    op.drop_table("entities")
