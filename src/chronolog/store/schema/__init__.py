"""All chronolog tables, one module per part, on one MetaData."""

from ._base import JSONDocument, RowId, current_tx, metadata
from .events import event_counts, events, project_vocab, projects
from .jobs import job_logs, jobs
from .states import entities, machines, transitions

__all__ = [
    "JSONDocument",
    "RowId",
    "current_tx",
    "entities",
    "event_counts",
    "events",
    "job_logs",
    "jobs",
    "machines",
    "metadata",
    "project_vocab",
    "projects",
    "transitions",
]
