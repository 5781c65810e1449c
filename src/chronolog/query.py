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
from typing import Any, Self

from ._time import require_aware
from ._validate import no_nul, words
from .errors import ValidationError
from .models import Event
from .states.machine import check_state

__all__ = ["DATE_RANGES", "EntityQuery", "EventQuery", "JobQuery"]

DATE_RANGES: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
"""The named windows of ``date_range`` (as in the library-cleanup seed)."""

_SEARCH_CHARS = 200
_ID_CHARS = 255


def _doc(
    text: str,
    *,
    many: bool = False,
    kind: str | None = None,
    check: Callable[[Any, str], str] | None = None,
) -> dict[str, Any]:
    # Field docs live on the fields, so the HTTP model and the docs read them from here.
    # ``check``: each value of a ``many`` field must pass it (and the list hold one or more).
    return {"doc": text, "many": many, "kind": "many" if many else kind, "check": check}


class _Query:
    """What every query value shares: building from keywords or HTTP parameters,
    serialising back, and naming the fields a verb cannot answer. Field kinds come
    from the dataclass fields' metadata (``many``: a tuple of words, ``time``: an
    aware datetime, ``pair``: a ``kind/id`` pair, ``flag``: true or false)."""

    __slots__ = ()
    _noun = "query"

    @classmethod
    def _fields(cls) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(cls)  # type: ignore[arg-type]

    @classmethod
    def build(cls, query: Self | None = None, filters: Mapping[str, Any] | None = None) -> Self:
        """``query`` with ``filters`` (field names as keywords) laid over it.

        The verbs take a query and keyword filters alike (``cl.events.query(
        event_types=["job"])``); an unknown keyword is a ``ValidationError``.
        """
        filters = filters or {}
        if query is not None and not isinstance(query, cls):
            raise ValidationError(
                f"query must be a {cls.__name__}, got {type(query).__name__}", field="query"
            )
        names = [f.name for f in cls._fields()]
        unknown = sorted(set(filters) - set(names))
        if unknown:
            raise ValidationError(
                f"unknown {cls._noun} filter(s) {unknown}; filters: {names}", field=unknown[0]
            )
        if query is None:
            return cls(**filters)
        return dataclasses.replace(query, **filters) if filters else query  # type: ignore[type-var]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """The query sent as :meth:`to_params` (lists comma-separated, times RFC 3339,
        pairs ``kind/id``)."""
        values: dict[str, Any] = {}
        for f in cls._fields():
            value = params.get(f.name)
            if value is None or value == "":
                continue
            if f.metadata.get("kind") == "time" and isinstance(value, str):
                try:
                    value = datetime.fromisoformat(value)
                except ValueError:
                    raise ValidationError(
                        f"{f.name} must be an RFC 3339 time with a zone", field=f.name
                    ) from None
            elif f.metadata.get("kind") == "pair" and isinstance(value, str):
                first, sep, second = value.partition("/")
                if not sep:
                    raise ValidationError(f"{f.name} must be kind/id", field=f.name)
                value = (first, second)
            elif f.metadata.get("kind") == "flag" and isinstance(value, str):
                value = _flag(value, f.name)
            values[f.name] = value
        return cls.build(None, values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The query from :meth:`to_dict` (``ValidationError`` on an unknown field)."""
        return (
            cls.from_params(data)
            if set(data) <= {f.name for f in cls._fields()}
            else cls.build(None, data)
        )

    def to_params(self) -> dict[str, str]:
        """The query as HTTP query parameters: set fields only, lists comma-separated."""
        out: dict[str, str] = {}
        for f in self._fields():
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.metadata.get("kind") == "pair":
                out[f.name] = f"{value[0]}/{value[1]}"
            elif isinstance(value, bool):
                out[f.name] = "true" if value else "false"
            elif isinstance(value, tuple):
                out[f.name] = ",".join(value)
            elif isinstance(value, datetime):
                out[f.name] = value.isoformat()
            else:
                out[f.name] = str(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the set fields (lists as lists, times RFC 3339)."""
        out: dict[str, Any] = {}
        for f in self._fields():
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[f.name] = value
        return out

    def given(self) -> tuple[str, ...]:
        """The names of the fields that are set, in field order."""
        return tuple(f.name for f in self._fields() if getattr(self, f.name) is not None)

    def refuse(self, names: Iterable[str], verb: str, why: str) -> None:
        """Raise ``ValidationError`` if any of ``names`` is set: ``verb`` cannot answer it."""
        for name in names:
            if getattr(self, name) is not None:
                raise ValidationError(f"{verb} cannot filter on {name}: {why}", field=name)

    def _normalise(self) -> None:
        put = object.__setattr__  # frozen: normalise once, here
        for f in self._fields():
            value = getattr(self, f.name)
            if value is None:
                continue
            kind = f.metadata.get("kind")
            if kind == "many":
                items = words(value, f.name)
                check = f.metadata.get("check")
                if check is not None and items is not None:
                    if not items:
                        raise ValidationError(f"{f.name} must list 1 to 100 values", field=f.name)
                    items = tuple(dict.fromkeys(check(v, f.name) for v in items))
                put(self, f.name, items)
            elif kind == "flag":
                if not isinstance(value, bool):
                    raise ValidationError(f"{f.name} must be true or false", field=f.name)
            elif kind == "time":
                # In UTC from here on (and refused when naive or out of range in UTC).
                put(self, f.name, require_aware(value, f.name))
            elif kind == "id":
                put(self, f.name, _ident(value, f.name))


def _flag(text: str, name: str) -> bool:
    folded = text.strip().lower()
    if folded in ("true", "1", "yes", "on"):
        return True
    if folded in ("false", "0", "no", "off"):
        return False
    raise ValidationError(f"{name} must be true or false", field=name)


def _ident(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(f"{name} must be text", field=name)
    text = str(value)
    if len(text) > _ID_CHARS:
        raise ValidationError(f"{name} is longer than {_ID_CHARS} characters", field=name)
    no_nul(text, name)
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class EventQuery(_Query):
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
    actor_id: str | None = field(default=None, metadata=_doc("The actor's id.", kind="id"))
    target_types: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Target types (any of).", many=True)
    )
    target_id: str | None = field(
        default=None, metadata=_doc("The target's id; needs exactly one target type.", kind="id")
    )
    search: str | None = field(
        default=None, metadata=_doc("Text in the target's title or the action (any case).")
    )
    date_range: str | None = field(
        default=None, metadata=_doc("24h, 7d, 30d or all: a window ending now, instead of since.")
    )
    since: datetime | None = field(
        default=None, metadata=_doc("Lower bound (inclusive), RFC 3339 with a zone.", kind="time")
    )
    until: datetime | None = field(
        default=None, metadata=_doc("Upper bound (exclusive), RFC 3339 with a zone.", kind="time")
    )

    _noun = "event"

    def __post_init__(self) -> None:
        self._normalise()
        put = object.__setattr__
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
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValidationError("since must not be after until", field="since")

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


@dataclass(frozen=True, slots=True, kw_only=True)
class JobQuery(_Query):
    """Which jobs (``cl.jobs.list``, ``client.jobs.list``, ``GET /jobs``, ``chronolog jobs
    ls``, the dashboard's jobs page): every field optional, the given ones all hold;
    a list field matches any of its values. ``subject`` is the (kind, id) of the
    entity the jobs work on; ``since`` keeps jobs created at or after it. States are
    checked against the queue's states by ``jobs.list``.

    >>> JobQuery(states="failed", queues=["rip"]).states
    ('failed',)
    """

    _noun = "job"

    states: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Job states (any of).", many=True)
    )
    queues: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Queues (any of).", many=True)
    )
    kinds: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Job kinds (any of).", many=True)
    )
    subject: tuple[str, str] | None = field(
        default=None, metadata=_doc("The subject entity, kind/id.", kind="pair")
    )
    since: datetime | None = field(
        default=None, metadata=_doc("Created at or after, RFC 3339 with a zone.", kind="time")
    )

    def __post_init__(self) -> None:
        self._normalise()
        if self.subject is not None:
            object.__setattr__(self, "subject", _pair(self.subject, "subject"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityQuery(_Query):
    """Which entities, or which of their moves: every field optional, the given ones all
    hold; a list field matches any of its values.

    ``cl.states.list`` (and its shortcuts ``in_state``, ``active``, ``entities``),
    ``GET /entities``, ``chronolog entities ls``, the dashboard's entities page and
    the TUI's landing view list entities by it: ``states`` is where they are now,
    ``since`` / ``until`` bound when they got there. ``cl.states.timeline`` (``GET
    /timeline``) reads moves by it: ``states`` is the state a move went to,
    ``since`` / ``until`` bound when it was made; it cannot answer ``active`` or
    ``parent`` and refuses them by name. Both bounds are inclusive.

    >>> EntityQuery(kinds="movie", states=["downloading", "wanted"]).states
    ('downloading', 'wanted')
    """

    _noun = "entity"

    kinds: tuple[str, ...] | None = field(
        default=None, metadata=_doc("Entity kinds (any of).", many=True, check=check_state)
    )
    states: tuple[str, ...] | None = field(
        default=None,
        metadata=_doc(
            "States (any of): where the entities are now; on the timeline, the state a "
            "move went to.",
            many=True,
            check=check_state,
        ),
    )
    active: bool | None = field(
        default=None,
        metadata=_doc(
            "true: only entities not in a terminal state of their kind's machine (kinds "
            "without one have none); false: only those in one.",
            kind="flag",
        ),
    )
    parent: tuple[str, str] | None = field(
        default=None, metadata=_doc("The parent entity, kind/id.", kind="pair")
    )
    since: datetime | None = field(
        default=None,
        metadata=_doc(
            "Entered their state (timeline: moved) at or after, RFC 3339 with a zone.",
            kind="time",
        ),
    )
    until: datetime | None = field(
        default=None,
        metadata=_doc(
            "Entered their state (timeline: moved) at or before, RFC 3339 with a zone.",
            kind="time",
        ),
    )

    def __post_init__(self) -> None:
        self._normalise()
        if self.parent is not None:
            object.__setattr__(self, "parent", _pair(self.parent, "parent"))
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValidationError("since must not be after until", field="since")


def _pair(value: Any, name: str) -> tuple[str, str]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ValidationError(f"{name} must be a (kind, id) pair", field=name)
    kind, ident = value
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 64:
        raise ValidationError(
            f"{name} kind must be non-empty text of at most 64 characters", field=name
        )
    ident = _ident(ident, name)
    if not ident:
        raise ValidationError(f"{name} id must be 1 to {_ID_CHARS} characters", field=name)
    return kind, ident
