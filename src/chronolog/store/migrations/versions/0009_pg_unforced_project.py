"""PostgreSQL: no foreign key from ``events``, ``transitions`` and ``jobs`` to ``projects``.

PostgreSQL checks a foreign key with a trigger per inserted row that runs
``SELECT 1 FROM projects WHERE id = $1 FOR KEY SHARE``: on the three tables
every job state change and every event writes, that was a third of a bulk
enqueue (20,700-25,300 -> 30,700-32,600 jobs/s without it), and it made every
concurrent writer share-lock the same project row. Rows of these tables are
only written by the library, for a project id it resolved from ``projects``,
and nothing deletes projects (``event_counts`` lost its foreign key for the
same reason in 0007). SQLite keeps the constraints: its check is an index
lookup with no lock, and dropping one would rebuild the (large) tables.

Revision ID: 0009_pg_unforced_project
Revises: 0008_transition_slots
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0009_pg_unforced_project"
down_revision = "0008_transition_slots"
branch_labels = None
depends_on = None

TABLES = ("events", "transitions", "jobs")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        # IF EXISTS: a partitioned events table (partition_events) has it by the same name.
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS fk_{table}_project_id_projects")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.create_foreign_key(
            f"fk_{table}_project_id_projects",
            table,
            "projects",
            ["project_id"],
            ["id"],
            ondelete="CASCADE",
        )
