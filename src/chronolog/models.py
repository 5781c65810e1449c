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
    "Bucket",
    "Event",
    "FeedItem",
    "FeedPage",
    "Health",
    "NewEvent",
    "Page",
    "Project",
    "Series",
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """The event from :meth:`to_dict` (the HTTP service's JSON form)."""
        actor, target = data.get("actor"), data.get("target")
        return cls(
            id=int(data["id"]),
            project=data["project"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            event_type=data["event_type"],
            action=data["action"],
            status=data["status"],
            actor=Actor(actor["type"], actor.get("id"), actor.get("name")) if actor else None,
            target=Target(target["type"], target.get("id"), target.get("title"))
            if target
            else None,
            error=data.get("error"),
            metadata=data.get("metadata"),
        )


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


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One event of the feed and the cursor that resumes right after it."""

    event: Event
    cursor: str


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Events after a cursor, and the cursor to continue from (always set)."""

    items: list[Event]
    next_cursor: str
    cursors: list[str]
    """The cursor after each item (same length as ``items``)."""
    held_back: bool = False
    """PostgreSQL: committed events wait behind an older, still-running transaction."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the HTTP service's JSON form of a feed page)."""
        return {
            "items": [e.to_dict() for e in self.items],
            "next_cursor": self.next_cursor,
            "cursors": list(self.cursors),
            "held_back": self.held_back,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedPage:
        """The page from :meth:`to_dict`."""
        return cls(
            items=[Event.from_dict(e) for e in data["items"]],
            next_cursor=data["next_cursor"],
            cursors=list(data["cursors"]),
            held_back=bool(data.get("held_back", False)),
        )


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket ``[start, end)``: a count per group value and the total.

    ``counts`` holds every group of the series (zeros included); it is empty
    when the series is not grouped. Events without an actor / target are
    counted under ``""`` when grouping by ``actor_type`` / ``target_type``.
    """

    start: datetime
    end: datetime
    total: int
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO 8601 times)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "total": self.total,
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bucket:
        """The bucket from :meth:`to_dict`."""
        return cls(
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            total=int(data["total"]),
            counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Series:
    """A zero-filled chart: buckets oldest first, the groups seen or asked for."""

    buckets: tuple[Bucket, ...]
    group_by: str | None
    groups: tuple[str, ...]
    tz: str
    window: str | None

    @property
    def total(self) -> int:
        """Events counted over all buckets."""
        return sum(b.total for b in self.buckets)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "window": self.window,
            "tz": self.tz,
            "group_by": self.group_by,
            "groups": list(self.groups),
            "total": self.total,
            "buckets": [b.to_dict() for b in self.buckets],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Series:
        """The series from :meth:`to_dict`."""
        return cls(
            buckets=tuple(Bucket.from_dict(b) for b in data["buckets"]),
            group_by=data.get("group_by"),
            groups=tuple(data.get("groups") or ()),
            tz=data["tz"],
            window=data.get("window"),
        )


@dataclass(frozen=True, slots=True)
class Health:
    """Whether a store is ready (``cl.ping()``, ``client.ping()``).

    ``checks`` maps ``database``, ``schema`` and ``writable`` to ``None`` when
    fine, else what is wrong (empty from a server that did not say).
    """

    ready: bool
    database: str | None
    checks: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"ready": self.ready, "database": self.database, "checks": dict(self.checks)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Health:
        """The health from :meth:`to_dict`."""
        return cls(
            ready=bool(data["ready"]),
            database=data.get("database"),
            checks=dict(data.get("checks") or {}),
        )
