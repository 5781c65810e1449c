"""Tables of queue controls and the worker registry (issue 16).

``job_queues`` holds a row **only for a queue with a control** (paused, or a
concurrency or rate limit): the claim of every other queue asks one thing of
it, "is there a row for this queue?", answered by the primary key of a table
that is empty for projects using no control. ``job_workers`` is the registry
of running workers, each row kept fresh by the worker's heartbeat.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    false,
)

from ._base import JSONDocument, metadata

__all__ = ["job_queues", "job_workers"]

job_queues = Table(
    "job_queues",
    metadata,
    Column(
        "project_id",
        Integer,
        ForeignKey("projects.id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    ),
    Column("queue", String(64), primary_key=True, nullable=False),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("concurrency", Integer, nullable=True, comment="most jobs running at once"),
    Column("rate_limit", Integer, nullable=True, comment="most starts per rate_period"),
    Column("rate_period", BigInteger, nullable=True, comment="µs"),
    Column("window_start", BigInteger, nullable=True, comment="the rate window's first start"),
    Column("window_count", Integer, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
    comment="Controls of queues (pause, limits); a row only while a control is set.",
)

job_workers = Table(
    "job_workers",
    metadata,
    Column("id", String(32), primary_key=True, nullable=False, comment="a random hex id"),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=True),
    Column("queues", JSONDocument, nullable=True, comment="null: every queue"),
    Column("kinds", JSONDocument, nullable=True, comment="null: every kind"),
    Column("concurrency", Integer, nullable=False),
    Column("remote", Boolean, nullable=False, server_default=false()),
    Column("started_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    comment="Running workers (registered at start, heartbeated, removed at a clean stop).",
)
Index(
    "ix_job_workers_project_id_heartbeat_at", job_workers.c.project_id, job_workers.c.heartbeat_at
)
