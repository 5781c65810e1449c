"""Tables of job dependencies and pipelines (issue 16, migration 0014).

``job_dependencies`` holds one row per edge "job runs after depends_on". The
job rows carry the bookkeeping the queue reads on its hot path
(``jobs.waiting_for``: dependencies not yet finished; ``jobs.dependents``:
how many jobs wait for it, NULL for none, so a completion looks for
dependents only when there are some). ``job_pipelines`` names a chain of
stages on one subject; its jobs point at it with ``jobs.pipeline_id``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from ._base import RowId, metadata

__all__ = ["job_dependencies", "job_pipelines"]

job_dependencies = Table(
    "job_dependencies",
    metadata,
    Column("job_id", RowId, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "depends_on",
        RowId,
        ForeignKey("jobs.id", ondelete="CASCADE"),
        primary_key=True,
        comment="the job that must finish first",
    ),
    Column("project_id", Integer, nullable=False),
    comment="Edges of the dependency graph: job_id runs after depends_on.",
)
# A finished job's dependents, found by the job that finished.
Index("ix_job_dependencies_depends_on", job_dependencies.c.depends_on)

job_pipelines = Table(
    "job_pipelines",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column(
        "subject_pk",
        RowId,
        ForeignKey("entities.pk", ondelete="SET NULL"),
        nullable=True,
        comment="the entity its stages work on",
    ),
    Column("created_at", BigInteger, nullable=False),
    sqlite_autoincrement=True,
    comment="Chains of job stages on one subject (cl.jobs.pipeline).",
)
Index("ix_job_pipelines_project_id_id", job_pipelines.c.project_id, job_pipelines.c.id)
