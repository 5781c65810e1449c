"""All chronolog tables, one module per part, on one MetaData."""

from ._base import JSONDocument, RowId, current_tx, metadata
from .auth import api_tokens, project_members, project_secrets, users
from .events import event_counts, events, project_vocab, projects
from .job_links import job_dependencies, job_pipelines
from .jobs import job_logs, jobs
from .queues import job_queues, job_workers
from .retention import retention_policies, retention_runs
from .schedules import job_schedule_fires, job_schedules
from .service import idempotency_keys, secret_key_fingerprints, store_keys
from .states import entities, machines, transition_slots, transitions

PG_UNENFORCED_PROJECT_KEYS = ("events", "transitions", "jobs")
"""Tables whose ``project_id`` foreign key is declared here (and enforced on SQLite)
but dropped on PostgreSQL, where its per-row check was a third of a bulk write
(migration ``0009_pg_unforced_project``)."""

__all__ = [
    "PG_UNENFORCED_PROJECT_KEYS",
    "JSONDocument",
    "RowId",
    "api_tokens",
    "current_tx",
    "entities",
    "event_counts",
    "events",
    "idempotency_keys",
    "job_dependencies",
    "job_logs",
    "job_pipelines",
    "job_queues",
    "job_schedule_fires",
    "job_schedules",
    "job_workers",
    "jobs",
    "machines",
    "metadata",
    "project_members",
    "project_secrets",
    "project_vocab",
    "projects",
    "retention_policies",
    "retention_runs",
    "secret_key_fingerprints",
    "store_keys",
    "transition_slots",
    "transitions",
    "users",
]
