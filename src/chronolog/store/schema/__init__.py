"""All chronolog tables, one module per part, on one MetaData."""

from ._base import JSONDocument, RowId, current_tx, metadata
from .events import event_counts, events, project_vocab, projects

__all__ = [
    "JSONDocument",
    "RowId",
    "current_tx",
    "event_counts",
    "events",
    "metadata",
    "project_vocab",
    "projects",
]
