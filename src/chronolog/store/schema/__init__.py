"""All chronolog tables, one module per part, on one MetaData."""

from ._base import JSONDocument, RowId, current_tx, metadata
from .auth import api_tokens, project_members, project_secrets, users
from .events import event_counts, events, project_vocab, projects
from .jobs import job_logs, jobs
from .retention import retention_policies, retention_runs
from .states import entities, machines, transition_slots, transitions

__all__ = [
    "JSONDocument",
    "RowId",
    "api_tokens",
    "current_tx",
    "entities",
    "event_counts",
    "events",
    "job_logs",
    "jobs",
    "machines",
    "metadata",
    "project_members",
    "project_secrets",
    "project_vocab",
    "projects",
    "retention_policies",
    "retention_runs",
    "transition_slots",
    "transitions",
    "users",
]
