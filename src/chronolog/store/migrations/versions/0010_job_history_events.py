"""Jobs: a job's history is its activity events; leaner partial indexes; autovacuum settings.

1. Every job state change already wrote one activity event (type ``job``) and
   one row in ``transitions`` (kind ``job``). From now on the event alone is
   the history: each job event's metadata gains ``from`` (the previous state)
   and ``sort_key`` (the move's number), copied here from its transition, and
   the job rows leave ``transitions``. ``transition_slots`` never counted job
   moves (its triggers skip kind ``job``, see 0008), so it stays exact; any
   job row found there is removed all the same. On a large store this
   rewrites every job event once (one UPDATE, in the migration's transaction):
   plan the upgrade like any bulk rewrite of the events table.
2. Indexes of ``jobs`` that hold what their statements ask for, and only that:

   * the unique-key, subject and finished-at indexes become partial: a job
     without a key, a subject or a finish time (most jobs, most of their life)
     costs no entry in them. Every query that reads them names the column with
     ``=`` or a range, which implies ``IS NOT NULL``, so both planners still use
     them (a seventh of a bulk enqueue's time on PostgreSQL);
   * PostgreSQL: ``ix_jobs_claim_any`` (pending jobs of every queue, in claim
     order) gets ``AND id > 0`` in its predicate, which only the any-queue
     claim states: a claim of named queues can then only read
     ``ix_jobs_claim``. On a database that was never analysed PostgreSQL
     costed both the same and took the any-queue index for a one-queue claim,
     walking the other queues' jobs. (SQLite's claims name their index with
     ``INDEXED BY``);
   * ``ix_jobs_lease`` (rescue: running jobs by lease expiry) is keyed on
     ``lease_expires_at IS NOT NULL`` instead of ``state = 'running'``, so the
     completion, which looks running jobs up by id, cannot take it for a walk
     over every running job (what PostgreSQL chose without statistics).
3. PostgreSQL: autovacuum settings for the tables a queue churns, as
   pgqueuer's ``pgq autovac`` applies them to its own: ``jobs`` (every job
   row is rewritten two or three times, and the claim walks a partial index
   whose dead entries only a vacuum removes) and ``event_counts`` (a few rows
   updated on every batch) are vacuumed and analysed after 1-2 % of their
   rows changed, without the cost delay.

Revision ID: 0010_job_history_events
Revises: 0009_pg_unforced_project
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_job_history_events"
down_revision = "0009_pg_unforced_project"
branch_labels = None
depends_on = None

ACTIONS = {
    "pending": "pending",
    "running": "running",
    "completed": "completed",
    "retrying": "pending",
    "failed": "failed",
    "rescued": "pending",
    "released": "pending",
    "cancelled": "cancelled",
    "retried": "pending",
}
"""Job event actions and the state each leaves the job in (as of this revision)."""

_BACKFILL = {
    "postgresql": """
UPDATE events AS e SET metadata = coalesce(e.metadata, '{}'::jsonb)
    || jsonb_build_object('from', t.from_state, 'sort_key', t.sort_key)
FROM transitions AS t
WHERE t.kind = 'job' AND t.event_id = e.id AND t.project_id = e.project_id
""",
    "sqlite": """
UPDATE events SET metadata = json_set(coalesce(events.metadata, '{}'),
    '$.from', t.from_state, '$.sort_key', t.sort_key)
FROM transitions AS t
WHERE t.kind = 'job' AND t.event_id = events.id AND t.project_id = events.project_id
""",
}

_AUTOVACUUM = {
    "jobs": (
        "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, "
        "autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 500, "
        "autovacuum_vacuum_cost_limit = 10000, autovacuum_vacuum_cost_delay = 0"
    ),
    "event_counts": (
        "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 200, "
        "autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 200, "
        "autovacuum_vacuum_cost_delay = 0"
    ),
}

HISTORY_COMMENT = "state changes recorded so far (its job events)"
TABLE_COMMENT = "The job queue. History in events (type 'job'), lines in job_logs."
OLD_HISTORY_COMMENT = "transitions recorded so far"
OLD_TABLE_COMMENT = "The job queue. History in transitions (kind 'job'), lines in job_logs."


def _jobs_table() -> sa.Table:
    # The columns the indexes name, as of this revision (not the live schema module).
    return sa.Table(
        "jobs",
        sa.MetaData(),
        sa.Column("project_id", sa.Integer),
        sa.Column("unique_key", sa.String(255)),
        sa.Column("state", sa.String(16)),
        sa.Column("finished_at", sa.BigInteger),
        sa.Column("subject_pk", sa.BigInteger),
        sa.Column("id", sa.BigInteger),
        sa.Column("priority", sa.Integer),
        sa.Column("run_at", sa.BigInteger),
        sa.Column("lease_expires_at", sa.BigInteger),
    )


_REBUILT = (
    "ix_jobs_lease",
    "uq_jobs_unique_key",
    "ix_jobs_project_id_state_finished_at",
    "ix_jobs_subject_pk",
)


def _indexes(lean: bool) -> None:
    jobs = _jobs_table()
    for name in _REBUILT:
        op.drop_index(name, "jobs")
    if op.get_bind().dialect.name == "postgresql":  # SQLite's claims name their index
        pending = jobs.c.state == "pending"
        op.drop_index("ix_jobs_claim_any", "jobs")
        op.create_index(
            "ix_jobs_claim_any",
            "jobs",
            [jobs.c.project_id, jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id],
            postgresql_where=sa.and_(pending, jobs.c.id > 0) if lean else pending,
        )
    leased = jobs.c.lease_expires_at.isnot(None) if lean else jobs.c.state == "running"
    op.create_index(
        "ix_jobs_lease",
        "jobs",
        ["project_id", "lease_expires_at"],
        sqlite_where=leased,
        postgresql_where=leased,
    )
    active = jobs.c.state.in_(("pending", "running"))
    unique_where = sa.and_(active, jobs.c.unique_key.isnot(None)) if lean else active
    op.create_index(
        "uq_jobs_unique_key",
        "jobs",
        ["project_id", "unique_key"],
        unique=True,
        sqlite_where=unique_where,
        postgresql_where=unique_where,
    )
    finished = jobs.c.finished_at.isnot(None) if lean else None
    op.create_index(
        "ix_jobs_project_id_state_finished_at",
        "jobs",
        ["project_id", "state", "finished_at"],
        sqlite_where=finished,
        postgresql_where=finished,
    )
    subject = jobs.c.subject_pk.isnot(None) if lean else None
    op.create_index(
        "ix_jobs_subject_pk",
        "jobs",
        ["subject_pk"],
        sqlite_where=subject,
        postgresql_where=subject,
    )


def upgrade() -> None:
    name = op.get_bind().dialect.name
    op.execute(_BACKFILL[name])
    op.execute("DELETE FROM transitions WHERE kind = 'job'")
    op.execute("DELETE FROM transition_slots WHERE kind = 'job'")
    # Only running jobs hold a lease (a cancel used to leave a running job's expiry).
    op.execute(
        "UPDATE jobs SET lease_expires_at = NULL "
        "WHERE state <> 'running' AND lease_expires_at IS NOT NULL"
    )
    _indexes(lean=True)
    if name == "postgresql":
        op.alter_column(
            "jobs",
            "history",
            existing_type=sa.Integer,
            existing_nullable=False,
            comment=HISTORY_COMMENT,
            existing_comment=OLD_HISTORY_COMMENT,
        )
        op.create_table_comment("jobs", TABLE_COMMENT, existing_comment=OLD_TABLE_COMMENT)
        for table, settings in _AUTOVACUUM.items():
            op.execute(f"ALTER TABLE {table} SET ({settings})")


_RESTORE = """
INSERT INTO transitions (project_id, kind, entity_id, sort_key, from_state, to_state,
    most_recent, actor_type, actor_id, actor_name, metadata, occurred_at, event_id)
SELECT project_id, 'job', target_id, sort_key, from_state, to_state,
    sort_key = max(sort_key) OVER (PARTITION BY project_id, target_id),
    actor_type, actor_id, actor_name, {metadata}, occurred_at, id
FROM (
    SELECT e.*, {sort_key} AS sort_key, {from_state} AS from_state,
        CASE e.action {cases} END AS to_state
    FROM events AS e
    WHERE e.event_type = 'job' AND e.target_type = 'job' AND e.action IN ({actions})
        AND {sort_key} IS NOT NULL
) AS m
"""


def downgrade() -> None:
    """Rebuild the job rows of ``transitions`` from the events (where they still exist)."""
    name = op.get_bind().dialect.name
    cases = " ".join(f"WHEN '{a}' THEN '{s}'" for a, s in ACTIONS.items())
    actions = ", ".join(f"'{a}'" for a in ACTIONS)
    if name == "postgresql":
        sql = _RESTORE.format(
            metadata="jsonb_build_object('action', action, 'attempt', metadata->'attempt')",
            sort_key="(e.metadata->>'sort_key')::integer",
            from_state="e.metadata->>'from'",
            cases=cases,
            actions=actions,
        )
        for table, settings in _AUTOVACUUM.items():
            names = ", ".join(s.split("=")[0].strip() for s in settings.split(","))
            op.execute(f"ALTER TABLE {table} RESET ({names})")
        op.create_table_comment("jobs", OLD_TABLE_COMMENT, existing_comment=TABLE_COMMENT)
        op.alter_column(
            "jobs",
            "history",
            existing_type=sa.Integer,
            existing_nullable=False,
            comment=OLD_HISTORY_COMMENT,
            existing_comment=HISTORY_COMMENT,
        )
    else:
        sql = _RESTORE.format(
            metadata="json_object('action', action, 'attempt', json_extract(metadata, '$.attempt'))",
            sort_key="json_extract(e.metadata, '$.sort_key')",
            from_state="json_extract(e.metadata, '$.from')",
            cases=cases,
            actions=actions,
        )
    _indexes(lean=False)
    op.execute(sql)
