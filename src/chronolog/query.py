"""Which events: :class:`EventQuery`, the one filter value of the event family.

``cl.events.query``, ``cl.feed.read`` / ``follow`` / ``matcher`` and
``cl.stats.buckets`` all take an :class:`EventQuery`; so do their remote
twins (``Client``), which send it as query parameters (:meth:`EventQuery.to_params`),
the HTTP routes, which read it back as one FastAPI query-parameter model
(``server/query.py``), and the CLI, the dashboard and the TUI, which build it
once from what the user typed. As River's ``JobListParams`` is turned into the
driver's parameters by ``toDBParams()``, the parts turn it into the store's
``EventFilter`` (resolved times, the project id) and nothing else reads it.

The value is checked when it is built, so a bad filter fails where it is
written, with a :class:`~chronolog.errors.ValidationError` naming the field.
Each verb takes the fields it can answer and refuses the others by name (the
stats count rollups, which hold no actor id, target id or text).

This module imports no store, no HTTP stack: the client uses it as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ._time import require_aware
from ._validate import no_nul, words
from .errors import ValidationError
from .models import Event

__all__ = ["DATE_RANGES", "EventQuery"]

DATE_RANGES: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
"""The named windows of ``date_range`` (as in the library-cleanup seed)."""

_SEARCH_CHARS = 200
_ID_CHARS = 255


def _doc(text: str, *, many: bool = False) -> dict[str, Any]:
    # Field docs live on the fields, so the HTTP model and the docs read them from here.
    return {"doc": text, "many": many}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventQuery:
    """Which events: every field optional, the given ones all hold.

    A list field matches any of its values (give a tuple, a list, or one
    comma-separated string); ``None`` means any. ``target_id`` needs exactly
    one target type (ids are unique only within a type). ``date_range``
    (``24h``, ``7d``, ``30d``, ``all``) is a window ending now, instead of
    ``since``; ``until`` is exclusive. Times must carry a time zone.

    >>> EventQuery(event_types="job", actions=["failed"]).event_types
    ('job',)
    """

    event_types: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Event types (any of).", many=True)
    )
    actions: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Actions (any of).", many=True)
    )
    statuses: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Statuses (any of).", many=True)
    )
    actor_types: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Actor types (any of).", many=True)
    )
    actor_id: str | None = field(default=None, metadata=_doc("The actor's id."))
    target_types: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Target types (any of).", many=True)
    )
    target_id: str | None = field(
        default=None, metadata=_doc("The target's id; needs exactly one target type.")
    )
    search: str | None = field(
        default=None, metadata=_doc("Text in the target's title or the action (any case).")
    )
    date_range: str | None = field(
        default=None, metadata=_doc("24h, 7d, 30d or all: a window ending now, instead of since.")
    )
    since: datetime | None = field(
        default=None, metadata=_doc("Lower bound (inclusive), RFC 3339 with a zone.")
    )
    until: datetime | None = field(
        default=None, metadata=_doc("Upper bound (exclusive), RFC 3339 with a zone.")
    )

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalise once, here
        for name in _MANY:
            put(self, name, words(getattr(self, name), name))
        for name in ("actor_id", "target_id"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ValidationError(f"{name} must be text", field=name)
            value = str(value)
            if len(value) > _ID_CHARS:
                raise ValidationError(f"{name} is longer than {_ID_CHARS} characters", field=name)
            no_nul(value, name)
            put(self, name, value)
        if self.target_id is not None and (
            self.target_types is None or len(self.target_types) != 1
        ):
            raise ValidationError(
                "target_id needs target_types with exactly one type: ids are only unique "
                "within a type",
                field="target_id",
            )
        search = self.search
        if search is not None:
            if not isinstance(search, str):
                raise ValidationError("search must be text", field="search")
            if len(search) > _SEARCH_CHARS:
                raise ValidationError(
                    f"search is longer than {_SEARCH_CHARS} characters", field="search"
                )
            no_nul(search, "search")
            put(self, "search", search.strip() or None)
        if self.date_range is not None:
            if self.date_range not in DATE_RANGES:
                raise ValidationError(
                    f"date_range must be one of {list(DATE_RANGES)}, got {self.date_range!r}",
                    field="date_range",
                )
            if self.since is not None:
                raise ValidationError("give date_range or since, not both", field="date_range")
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None:
                # In UTC from here on (and refused when naive or out of range in UTC).
                put(self, name, require_aware(moment, name))
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValidationError("since must not be after until", field="since")

    # -- building ----------------------------------------------------------------------

    @classmethod
    def build(cls, query: EventQuery | None = None, filters: Mapping[str, Any] = {}) -> EventQuery:
        """``query`` with ``filters`` (field names as keywords) laid over it.

        The verbs take ``query`` and keyword filters alike (``cl.events.query(
        event_types=["job"])``); an unknown keyword is a ``ValidationError``.
        """
        if query is not None and not isinstance(query, EventQuery):
            raise ValidationError(
                f"query must be an EventQuery, got {type(query).__name__}", field="query"
            )
        unknown = sorted(set(filters) - set(_FIELDS))
        if unknown:
            raise ValidationError(
                f"unknown event filter(s) {unknown}; filters: {list(_FIELDS)}",
                field=unknown[0],
            )
        if query is None:
            return cls(**filters)
        return dataclasses.replace(query, **filters) if filters else query

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EventQuery:
        """The query sent as :meth:`to_params` (lists comma-separated, times RFC 3339)."""
        values: dict[str, Any] = {}
        for name in _FIELDS:
            value = params.get(name)
            if value is None or value == "":
                continue
            if name in ("since", "until") and isinstance(value, str):
                try:
                    value = datetime.fromisoformat(value)
                except ValueError:
                    raise ValidationError(
                        f"{name} must be an RFC 3339 time with a zone", field=name
                    ) from None
            values[name] = value
        return cls.build(None, values)

    # -- serialising -------------------------------------------------------------------

    def to_params(self) -> dict[str, str]:
        """The query as HTTP query parameters: set fields only, lists comma-separated."""
        out: dict[str, str] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, tuple):
                out[name] = ",".join(value)
            elif isinstance(value, datetime):
                out[name] = value.isoformat()
            else:
                out[name] = str(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the set fields (lists as lists, times RFC 3339)."""
        out: dict[str, Any] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventQuery:
        """The query from :meth:`to_dict` (``ValidationError`` on an unknown field)."""
        return cls.from_params(dict(data)) if set(data) <= set(_FIELDS) else cls.build(None, data)

    # -- reading -----------------------------------------------------------------------

    def given(self) -> tuple[str, ...]:
        """The names of the fields that are set, in field order."""
        return tuple(name for name in _FIELDS if getattr(self, name) is not None)

    def refuse(self, names: Iterable[str], verb: str, why: str) -> None:
        """Raise ``ValidationError`` if any of ``names`` is set: ``verb`` cannot answer it."""
        for name in names:
            if getattr(self, name) is not None:
                raise ValidationError(f"{verb} cannot filter on {name}: {why}", field=name)

    def matcher(self) -> Callable[[Event], bool]:
        """A test an event passes exactly when it matches (``date_range`` aside, which
        needs a clock: a caller resolves it into ``since``). Search compares case-folded
        text, as the databases' case-insensitive match does for ASCII."""
        kinds = None if self.event_types is None else frozenset(self.event_types)
        verbs = None if self.actions is None else frozenset(self.actions)
        states = None if self.statuses is None else frozenset(self.statuses)
        actors = None if self.actor_types is None else frozenset(self.actor_types)
        targets = None if self.target_types is None else frozenset(self.target_types)
        actor_id, target_id, since, until = self.actor_id, self.target_id, self.since, self.until
        needle = None if self.search is None else self.search.casefold()

        def matches(event: Event) -> bool:
            # The same terms as the store's ``event_where``: a missing actor or target
            # matches no actor or target filter.
            if kinds is not None and event.event_type not in kinds:
                return False
            if verbs is not None and event.action not in verbs:
                return False
            if states is not None and event.status not in states:
                return False
            actor, target = event.actor, event.target
            if actors is not None and (actor is None or actor.type not in actors):
                return False
            if actor_id is not None and (actor is None or actor.id != actor_id):
                return False
            if targets is not None and (target is None or target.type not in targets):
                return False
            if target_id is not None and (target is None or target.id != target_id):
                return False
            if since is not None and event.occurred_at < since:
                return False
            if until is not None and event.occurred_at >= until:
                return False
            if needle is not None:
                title = (target.title or "") if target is not None else ""
                if needle not in title.casefold() and needle not in event.action.casefold():
                    return False
            return True

        return matches


_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(EventQuery))
_MANY: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(EventQuery) if f.metadata["many"])
