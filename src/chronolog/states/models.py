"""The value types of the state history: entities, transitions, machines, the timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..models import Actor, Page

__all__ = ["DayCount", "Entity", "Machine", "Timeline", "Transition"]


@dataclass(frozen=True, slots=True)
class Transition:
    """One recorded move of one entity (or job).

    ``sort_key`` is 1, 2, 3 … per entity with no gaps; ``from_state`` is
    ``None`` only for a move that created the entity from nothing;
    ``most_recent`` marks the newest move. ``metadata`` is the caller's (e.g.
    the download client); ``event_id`` the activity event written with it.
    ``title`` is the entity's title where the query joined it (``timeline``,
    ``history``), else ``None``.
    """

    id: int
    kind: str
    entity_id: str
    sort_key: int
    from_state: str | None
    to_state: str
    most_recent: bool
    occurred_at: datetime
    actor: Actor | None = None
    metadata: dict[str, Any] | None = None
    event_id: int | None = None
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 strings)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "entity_id": self.entity_id,
            "sort_key": self.sort_key,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "most_recent": self.most_recent,
            "occurred_at": _iso(self.occurred_at),
            "actor": None
            if self.actor is None
            else {"type": self.actor.type, "id": self.actor.id, "name": self.actor.name},
            "metadata": self.metadata,
            "event_id": self.event_id,
            "title": self.title,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        """The transition from :meth:`to_dict` (the HTTP service's JSON form)."""
        actor = data.get("actor")
        return cls(
            id=int(data["id"]),
            kind=data["kind"],
            entity_id=data["entity_id"],
            sort_key=int(data["sort_key"]),
            from_state=data.get("from_state"),
            to_state=data["to_state"],
            most_recent=bool(data["most_recent"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            actor=Actor(actor["type"], actor.get("id"), actor.get("name")) if actor else None,
            metadata=data.get("metadata"),
            event_id=data.get("event_id"),
            title=data.get("title"),
        )


@dataclass(frozen=True, slots=True)
class Entity:
    """A tracked thing with a lifecycle: ``kind`` + ``id`` within a project.

    ``state`` is its current state (``None`` until its first move when its
    kind has no machine), ``state_since`` when it got there (its creation
    while it has no state). ``parent`` is the
    (kind, id) of its parent entity. ``current`` is its most recent transition
    (with its metadata, e.g. the download client), ``None`` before any move.
    """

    kind: str
    id: str
    title: str | None
    parent: tuple[str, str] | None
    attributes: dict[str, Any] | None
    state: str | None
    state_since: datetime
    created_at: datetime
    updated_at: datetime
    current: Transition | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 strings)."""
        return {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "parent": None if self.parent is None else list(self.parent),
            "attributes": self.attributes,
            "state": self.state,
            "state_since": _iso(self.state_since),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "current": None if self.current is None else self.current.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entity:
        """The entity from :meth:`to_dict`."""
        parent = data.get("parent")
        current = data.get("current")
        return cls(
            kind=data["kind"],
            id=data["id"],
            title=data.get("title"),
            parent=None if parent is None else (parent[0], parent[1]),
            attributes=data.get("attributes"),
            state=data.get("state"),
            state_since=datetime.fromisoformat(data["state_since"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            current=None if current is None else Transition.from_dict(current),
        )


@dataclass(frozen=True, slots=True)
class Machine:
    """A state machine for one kind: its states, allowed moves, initial and terminal states.

    ``initial`` is where a new entity starts (``None``: its first move may go
    to any state). ``terminal`` states mark an entity as no longer active;
    they may still have moves out of them (a completed series can become
    continuing again) if ``transitions`` lists some.
    """

    kind: str
    states: tuple[str, ...]
    transitions: Mapping[str, tuple[str, ...]]
    initial: str | None = None
    terminal: frozenset[str] = field(default_factory=frozenset)

    def allowed(self, from_state: str | None) -> tuple[str, ...]:
        """The states an entity in ``from_state`` may move to (``None``: not created yet)."""
        if from_state is None:
            return (self.initial,) if self.initial is not None else self.states
        return self.transitions.get(from_state, ())

    def allows(self, from_state: str | None, to_state: str) -> bool:
        """Whether the move is allowed."""
        return to_state in self.allowed(from_state)

    def to_dict(self) -> dict[str, Any]:
        """The definition as stored (JSON-ready)."""
        return {
            "states": list(self.states),
            "transitions": {k: list(v) for k, v in self.transitions.items()},
            "initial": self.initial,
            "terminal": sorted(self.terminal),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Machine:
        """The machine from :meth:`to_dict` with its ``kind`` (as the HTTP service sends it)."""
        return cls(
            kind=data["kind"],
            states=tuple(data["states"]),
            transitions={k: tuple(v) for k, v in data["transitions"].items()},
            initial=data.get("initial"),
            terminal=frozenset(data.get("terminal") or ()),
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.states, self.initial, self.terminal))


@dataclass(frozen=True, slots=True)
class DayCount:
    """How many distinct entities of ``kind`` moved to ``to_state`` on ``day``."""

    day: date
    kind: str
    to_state: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the day as ``YYYY-MM-DD``)."""
        return {
            "day": self.day.isoformat(),
            "kind": self.kind,
            "to_state": self.to_state,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DayCount:
        """The count from :meth:`to_dict`."""
        return cls(
            date.fromisoformat(data["day"]), data["kind"], data["to_state"], int(data["count"])
        )


@dataclass(frozen=True, slots=True)
class Timeline:
    """Transitions across kinds, newest first (one page), and per-day counts of the window."""

    page: Page[Transition]
    days: Sequence[DayCount]

    def count(self, kind: str, to_state: str, day: date | None = None) -> int:
        """The count for (kind, to_state), on one day or summed over the window."""
        return sum(
            d.count
            for d in self.days
            if d.kind == kind and d.to_state == to_state and (day is None or d.day == day)
        )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
