"""All chronolog tables, one module per part, on one MetaData."""

from ._base import JSONDocument, RowId, current_tx, metadata
from .events import event_counts, events, project_vocab, projects
from .retention import retention_policies, retention_runs
from .states import entities, machines, transitions

__all__ = [
    "JSONDocument",
    "RowId",
    "current_tx",
    "entities",
    "event_counts",
    "events",
    "machines",
    "metadata",
    "project_vocab",
    "projects",
    "retention_policies",
    "retention_runs",
    "transitions",
]
