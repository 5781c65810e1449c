"""The public value types: what the library returns and what it accepts in batches.

Frozen dataclasses with slots: cheap to build by the thousand, safe to share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "Actor",
    "Event",
    "NewEvent",
    "Page",
    "Project",
    "Target",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: ``type`` (``user``, ``rule``, ``scheduler``, ``worker`` …), ``id``, ``name``."""

    type: str
    id: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """How every chronolog interface shows this actor: its name if it has one; an
        API token as ``token #3``; a user by id; else ``type:id``, or the type alone."""
        if self.name:
            return self.name
        if self.type == "token":
            return f"token #{self.id}" if self.id else "token"
        if self.id:
            return self.id if self.type == "user" else f"{self.type}:{self.id}"
        return self.type


@dataclass(frozen=True, slots=True)
class Target:
    """What it was done to: ``type`` and ``id`` (text) name it together; ``title`` is for display."""

    type: str
    id: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded activity: who did what to what, when, and how it went."""

    id: int
    project: str
    occurred_at: datetime
    event_type: str
    action: str
    status: str
    actor: Actor | None
    target: Target | None
    error: str | None
    metadata: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 strings)."""
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat().replace("+00:00", "Z")
        return data


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to record, for :meth:`chronolog.events.Events.record_many`.

    Plain mappings with the same keys are accepted too.
    """

    event_type: str
    action: str
    status: str = "success"
    actor: Actor | Mapping[str, Any] | None = None
    target: Target | Mapping[str, Any] | None = None
    occurred_at: datetime | None = None
    error: str | None = None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results.

    ``total`` counts every match (``None`` when not asked for); ``page`` is the
    1-based offset page; ``next_cursor`` is an opaque keyset cursor for the
    following page, or ``None`` at the end.
    """

    items: Sequence[T]
    total: int | None
    page: int
    limit: int
    next_cursor: str | None = None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class Project:
    """A tenant: every row belongs to one project."""

    name: str
    title: str
    created_at: datetime
    strict_statuses: bool = False
    event_types: tuple[str, ...] = field(default=())
    statuses: tuple[str, ...] = field(default=())
