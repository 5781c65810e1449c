"""The activity log: who did what to what, when, and how it went (``cl.events``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row

from . import _json
from ._cursor import cursor_int, decode_cursor, encode_cursor, fingerprint
from ._pages import fitting
from ._rollups import rollup_rows
from ._scope import Scope
from ._time import from_micros, parse_duration, require_aware, to_micros
from ._totals import count_events
from .errors import NotFound, ValidationError
from .models import Actor, Event, NewEvent, Page, Target
from .store.sql import events as sql
from .store.sql import idempotency as idem_sql
from .store.sql import projects as project_sql

__all__ = ["BUILTIN_STATUSES", "DATE_RANGES", "Events", "event_counter_rows", "event_from_row"]

BUILTIN_STATUSES = ("processing", "success", "error", "cancelled")
"""Statuses every project accepts; strict projects accept registered ones besides.

``cancelled`` is neither a success nor an error: a job cancelled by an operator (or by a
failed dependency) ends with it, so charts and error counts never read it as either."""

DATE_RANGES: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
"""The named windows of :meth:`Events.query` (as in the library-cleanup seed)."""

_SORT_MATCHES = 2000
"""Up to this many search-index matches, a page sorts them; beyond, it walks the time index."""
_WORD_LIMITS = {"event_type": 64, "action": 64, "status": 32}
_EVENT_FIELDS = frozenset(
    {"event_type", "action", "status", "actor", "target", "occurred_at", "error", "metadata"}
)
_ACTOR_LIMITS = {"type": 64, "id": 255, "name": 255}
_TARGET_LIMITS = {"type": 64, "id": 255}


def event_from_row(row: Row[Any], project: str) -> Event:
    """Build an :class:`Event` from a row in ``EVENT_COLUMNS`` order."""
    (
        event_id,
        _project_id,
        occurred_at,
        event_type,
        action,
        status,
        actor_type,
        actor_id,
        actor_name,
        target_type,
        target_id,
        target_title,
        error,
        metadata,
    ) = tuple(row)
    if isinstance(metadata, str):  # raw driver paths hand back JSON text
        metadata = _json.loads(metadata)
    return Event(
        id=event_id,
        project=project,
        occurred_at=from_micros(occurred_at),
        event_type=event_type,
        action=action,
        status=status,
        actor=Actor(actor_type, actor_id, actor_name) if actor_type is not None else None,
        target=Target(target_type, target_id, target_title) if target_type is not None else None,
        error=error,
        metadata=metadata,
    )


def _word(value: Any, name: str) -> str:
    # Fast path first: this runs for every field of every event of a bulk ingest.
    if (
        type(value) is str
        and value
        and len(value) <= _WORD_LIMITS[name]
        and not value.isspace()
        and "\x00" not in value
    ):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string", field=name)
    _no_nul(value, name)
    limit = _WORD_LIMITS[name]
    if len(value) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters", field=name)
    return value


def _no_nul(value: str, name: str) -> None:
    # PostgreSQL cannot store NUL in text; refuse it on both databases alike.
    if "\x00" in value:
        raise ValidationError(f"{name} must not contain NUL characters", field=name)


def _party(
    value: Any, name: str, cls: type[Actor] | type[Target], limits: dict[str, int], title_cap: int
) -> tuple[str | None, str | None, str | None]:
    """Validate an actor / target given as the dataclass, a mapping or None."""
    if value is None:
        return None, None, None
    if type(value) is cls:
        # Fast path for well-formed dataclasses; anything odd takes the checks below.
        f_kind, f_id = value.type, value.id
        f_third = value.name if isinstance(value, Actor) else value.title
        if (
            type(f_kind) is str
            and f_kind
            and len(f_kind) <= limits["type"]
            and not f_kind.isspace()
            and "\x00" not in f_kind
            and (
                f_id is None
                or (type(f_id) is str and len(f_id) <= limits["id"] and "\x00" not in f_id)
            )
            and (
                f_third is None
                or (
                    type(f_third) is str
                    and len(f_third) <= limits.get("name", title_cap)
                    and "\x00" not in f_third
                )
            )
        ):
            return f_kind, f_id, f_third
    if isinstance(value, Actor | Target):
        if not isinstance(value, cls):
            raise ValidationError(f"{name} must be a {cls.__name__}", field=name)
        fields: dict[str, Any] = {"type": value.type, "id": value.id}
        third = value.name if isinstance(value, Actor) else value.title
    elif isinstance(value, Mapping):
        unknown = set(value) - {"type", "id", "name" if cls is Actor else "title"}
        if unknown:
            raise ValidationError(f"{name} has unknown fields: {sorted(unknown)}", field=name)
        fields = {"type": value.get("type"), "id": value.get("id")}
        third = value.get("name" if cls is Actor else "title")
    else:
        raise ValidationError(
            f"{name} must be a {cls.__name__}, a mapping or None, got {type(value).__name__}",
            field=name,
        )
    kind = fields["type"]
    if not isinstance(kind, str) or not kind.strip():
        raise ValidationError(f"{name}.type must be a non-empty string", field=f"{name}.type")
    if len(kind) > limits["type"]:
        raise ValidationError(f"{name}.type is longer than {limits['type']} characters")
    _no_nul(kind, f"{name}.type")
    ident = fields["id"]
    if ident is not None:
        if isinstance(ident, bool) or not isinstance(ident, str | int):
            raise ValidationError(f"{name}.id must be text (or an integer)", field=f"{name}.id")
        ident = str(ident)
        if len(ident) > limits["id"]:
            raise ValidationError(f"{name}.id is longer than {limits['id']} characters")
        _no_nul(ident, f"{name}.id")
    if third is not None:
        if not isinstance(third, str):
            raise ValidationError(f"{name} display name must be text", field=name)
        cap = limits.get("name", title_cap)
        if len(third) > cap:
            raise ValidationError(f"{name} display name is longer than {cap} characters")
        _no_nul(third, name)
    return kind, ident, third


def check_idempotency_key(key: object) -> str:
    """An idempotency key: 1 to 200 printable ASCII characters (``ValidationError`` else)."""
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= 200
        or not key.isascii()
        or not key.isprintable()
    ):
        raise ValidationError(
            "an idempotency key is 1 to 200 printable ASCII characters", field="idempotency_key"
        )
    return key


def _words(value: Any, name: str) -> tuple[str, ...] | None:
    """A filter list: None, one string (comma-separated allowed) or an iterable of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    try:
        items = tuple(value)
    except TypeError:
        raise ValidationError(f"{name} must be a list of strings", field=name) from None
    if not all(isinstance(v, str) for v in items):
        raise ValidationError(f"{name} must be a list of strings", field=name)
    if len(items) > 100:
        raise ValidationError(f"{name} lists more than 100 values", field=name)
    return items


class Events:
    """Record, update, query and purge the activity log of one project."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    # -- writing -----------------------------------------------------------------

    def record(
        self,
        event_type: str,
        action: str,
        *,
        status: str = "success",
        actor: Actor | Mapping[str, Any] | None = None,
        target: Target | Mapping[str, Any] | None = None,
        occurred_at: datetime | None = None,
        error: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> int:
        """Record one event and return its id."""
        return self.record_many(
            [
                {
                    "event_type": event_type,
                    "action": action,
                    "status": status,
                    "actor": actor,
                    "target": target,
                    "occurred_at": occurred_at,
                    "error": error,
                    "metadata": metadata,
                }
            ]
        )[0]

    def record_many(
        self,
        items: Iterable[NewEvent | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> list[int]:
        """Record a batch in one transaction, all or nothing; returns ids in input order.

        With ``idempotency_key``, a second call with the same key (within a day)
        records nothing and returns the first call's ids, so a caller that lost
        the answer (a crash, a dropped connection) can retry without writing the
        batch twice. ``request_hash`` identifies what the first call sent: a key
        reused with another hash is refused (``ValidationError``); without one,
        the key alone decides.
        """
        if idempotency_key is not None:
            return self.record_once(items, idempotency_key, request_hash=request_hash)[0]
        rows = self.prepare(items)
        with self._scope.store.write() as conn:
            ids = self.write_prepared(conn, rows)
        self._scope.store.notifier.publish("events")
        return ids

    def record_once(
        self,
        items: Iterable[NewEvent | Mapping[str, Any]],
        idempotency_key: str,
        *,
        request_hash: str | None = None,
    ) -> tuple[list[int], bool]:
        """:meth:`record_many` with an idempotency key: ``(ids, replayed)``, where
        ``replayed`` says the key had been used and nothing was recorded this time."""
        rows = self.prepare(items)
        key = check_idempotency_key(idempotency_key)
        wanted = request_hash or ""
        scope = self._scope
        with scope.store.write() as conn:
            claimed = idem_sql.idempotency_claim(
                conn, scope.store.dialect, scope.project_id, key, wanted, to_micros(scope.clock())
            )
            if claimed:
                ids = self.write_prepared(conn, rows)
                idem_sql.idempotency_set(conn, scope.project_id, key, {"ids": ids})
            else:
                first = idem_sql.idempotency_get(conn, scope.project_id, key)
        if claimed:
            scope.store.notifier.publish("events")
            return ids, False
        assert first is not None
        if request_hash is not None and first.request_hash not in ("", request_hash):
            raise ValidationError(
                f"Idempotency-Key {key!r} was used for another request; use a new key",
                field="idempotency_key",
            )
        return [int(i) for i in first.response["ids"]], True

    def expire_idempotency_keys(self, older_than: str | timedelta | int = "1d") -> int:
        """Forget idempotency keys older than ``older_than`` (every project). Returns how many."""
        cutoff = to_micros(self._scope.clock() - parse_duration(older_than, "older_than"))
        with self._scope.store.write() as conn:
            return idem_sql.idempotency_expire(conn, cutoff)

    def record_all(
        self,
        items: Iterable[NewEvent | Mapping[str, Any]],
        *,
        chunk: int = 5000,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[int]:
        """Record any number of events in one transaction, all or nothing: an import.

        Unlike :meth:`record_many` there is no batch limit. Every item is
        checked before the first is written (an error names the item's index);
        the rows are then written ``chunk`` at a time, and ``progress(written,
        total)`` is called after each chunk. Returns the ids in input order.
        """
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValidationError("chunk must be a positive number of events", field="chunk")
        batch = min(chunk, self._scope.limits.batch_size)
        rows: list[tuple[Any, ...]] = []
        pending: list[NewEvent | Mapping[str, Any]] = []
        for item in items:
            pending.append(item)
            if len(pending) == batch:
                rows += self._prepare(pending, start=len(rows))
                pending = []
        rows += self._prepare(pending, start=len(rows))
        ids: list[int] = []
        with self._scope.store.write() as conn:
            for offset in range(0, len(rows), batch):
                ids += self.write_prepared(conn, rows[offset : offset + batch])
                if progress is not None:
                    progress(len(ids), len(rows))
        self._scope.store.notifier.publish("events")
        return ids

    def prepare(self, items: Iterable[NewEvent | Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Validate events and turn them into insert tuples (no database access).

        Used by other parts (states, jobs) that append events inside their own
        transaction through :meth:`write_prepared`.
        """
        return self._prepare(items)

    def _prepare(
        self, items: Iterable[NewEvent | Mapping[str, Any]], *, start: int = 0
    ) -> list[tuple[Any, ...]]:
        scope = self._scope
        now = to_micros(scope.clock())
        rows: list[tuple[Any, ...]] = []
        for index, item in enumerate(items, start):
            if len(rows) >= scope.limits.batch_size:
                raise ValidationError(
                    f"a batch holds at most {scope.limits.batch_size} events", field="events"
                )
            try:
                rows.append(self._row(item, now))
            except ValidationError as exc:
                if index or exc.details.get("index") is not None:
                    exc.details["index"] = index
                    exc.args = (f"event {index}: {exc.message}",)
                    exc.message = exc.args[0]
                raise
        return rows

    def _row(self, item: NewEvent | Mapping[str, Any], now: int) -> tuple[Any, ...]:
        if type(item) is NewEvent:
            return self._fields(
                item.event_type,
                item.action,
                item.status,
                item.actor,
                item.target,
                item.occurred_at,
                item.error,
                item.metadata,
                now,
            )
        if isinstance(item, NewEvent):  # a subclass
            data: Mapping[str, Any] = {f: getattr(item, f) for f in NewEvent.__slots__}
        elif isinstance(item, Mapping):
            data = item
            unknown = set(data) - _EVENT_FIELDS
            if unknown:
                raise ValidationError(f"unknown event fields: {sorted(unknown)}")
        else:
            raise ValidationError(
                f"an event must be a NewEvent or a mapping, got {type(item).__name__}"
            )
        return self._fields(
            data.get("event_type"),
            data.get("action"),
            data.get("status"),
            data.get("actor"),
            data.get("target"),
            data.get("occurred_at"),
            data.get("error"),
            data.get("metadata"),
            now,
        )

    def _fields(
        self,
        event_type: Any,
        action: Any,
        raw_status: Any,
        actor_in: Any,
        target_in: Any,
        occurred: Any,
        error: Any,
        metadata: Any,
        now: int,
    ) -> tuple[Any, ...]:
        """Validate one event's fields into an insert tuple (``INSERT_COLUMNS`` order)."""
        limits = self._scope.limits
        event_type = _word(event_type, "event_type")
        action = _word(action, "action")
        status = "success" if raw_status is None else _word(raw_status, "status")
        actor = _party(actor_in, "actor", Actor, _ACTOR_LIMITS, limits.text_chars)
        target = _party(target_in, "target", Target, _TARGET_LIMITS, limits.text_chars)
        if occurred is None:
            occurred_at = now
        elif type(occurred) is datetime and occurred.tzinfo is UTC:
            occurred_at = to_micros(occurred)
        else:
            occurred_at = to_micros(require_aware(occurred, "occurred_at"))
        if error is not None:
            if not isinstance(error, str):
                raise ValidationError("error must be text", field="error")
            if len(error) > limits.text_chars:
                raise ValidationError(
                    f"error is longer than {limits.text_chars} characters", field="error"
                )
            _no_nul(error, "error")
        _, metadata_text = _json.check_object(
            metadata, name="metadata", limit=limits.metadata_bytes
        )
        return (
            self._scope.project_id,
            occurred_at,
            event_type,
            action,
            status,
            *actor,
            *target,
            error,
            metadata_text,
        )

    def write_prepared(
        self, conn: Connection, rows: Sequence[tuple[Any, ...]], *, check_types: bool = True
    ) -> list[int]:
        """Check vocabularies, insert prepared rows and their counts, inside ``conn``'s transaction.

        Parts that record their own events (a state change records event type
        = the entity's kind, a job change event type ``job``) pass
        ``check_types=False``: the registry guards callers' event types, not
        chronolog's. The caller publishes ``events`` on the notifier after commit.
        """
        if not rows:
            return []
        scope = self._scope
        self._check_vocabulary(conn, rows, types=check_types)
        ids = sql.event_insert_many(conn, scope.store.dialect, rows)
        sql.event_counts_add(
            conn, scope.store.dialect, rollup_rows(rows, scope.store.dialect.counter_shard())
        )
        sql.notify_events(conn, scope.store.dialect, scope.project_id)
        return ids

    def _check_vocabulary(
        self, conn: Connection, rows: Sequence[tuple[Any, ...]], *, types: bool = True
    ) -> None:
        project_id = self._scope.project_id
        allowed_types = project_sql.vocab_list(conn, project_id, "event_type") if types else []
        if allowed_types:
            allowed = set(allowed_types)
            unknown = sorted({r[2] for r in rows} - allowed)
            if unknown:
                raise ValidationError(
                    f"unknown event type(s) {unknown} in project {self._scope.project!r}; "
                    f"registered: {allowed_types}",
                    field="event_type",
                    unknown=unknown,
                )
        statuses = {r[4] for r in rows} - set(BUILTIN_STATUSES)
        if statuses:
            project = project_sql.project_by_name(conn, self._scope.project)
            if project is not None and project.strict_statuses:
                custom = set(project_sql.vocab_list(conn, project_id, "status"))
                unknown = sorted(statuses - custom)
                if unknown:
                    raise ValidationError(
                        f"unknown status(es) {unknown} in strict project {self._scope.project!r}; "
                        f"allowed: {sorted(set(BUILTIN_STATUSES) | custom)}",
                        field="status",
                        unknown=unknown,
                    )

    def set_status(self, event_id: int, status: str, error: str | None = None) -> Event:
        """Move an event along its lifecycle (``processing`` → ``success`` / ``error``)."""
        status = _word(status, "status")
        if error is not None and (
            not isinstance(error, str) or len(error) > self._scope.limits.text_chars
        ):
            raise ValidationError("error must be text within the size limit", field="error")
        scope = self._scope
        dialect = scope.store.dialect
        with scope.store.write() as conn:
            row = sql.event_get(conn, scope.project_id, event_id)
            if row is None:
                raise NotFound(f"event {event_id} not found in project {scope.project!r}")
            old = event_from_row(row, scope.project)
            probe: list[Any] = list(row[1:14])
            probe[4] = status
            if old.status != status:
                self._check_vocabulary(conn, [tuple(probe)], types=False)
                shard = dialect.counter_shard()
                moved = rollup_rows([tuple(row[1:14])], shard, sign=-1)
                moved += rollup_rows([tuple(probe)], shard)
                sql.event_counts_add(conn, dialect, moved)
            sql.event_status_set(conn, scope.project_id, event_id, status, error)
            sql.notify_events(conn, dialect, scope.project_id)
        scope.store.notifier.publish("events")
        return Event(
            id=old.id,
            project=old.project,
            occurred_at=old.occurred_at,
            event_type=old.event_type,
            action=old.action,
            status=status,
            actor=old.actor,
            target=old.target,
            error=error,
            metadata=old.metadata,
        )

    # -- vocabulary ------------------------------------------------------------------

    def register_types(self, *names: str) -> list[str]:
        """Register allowed event types; a project with any is strict. Returns them all."""
        words = [_word(n, "event_type") for n in names]
        scope = self._scope
        with scope.store.write() as conn:
            project_sql.vocab_add(
                conn, scope.project_id, "event_type", words, to_micros(scope.clock())
            )
            return project_sql.vocab_list(conn, scope.project_id, "event_type")

    def unregister_types(self, *names: str) -> list[str]:
        """Remove event types from the registry (the last one makes the project lax again)."""
        scope = self._scope
        with scope.store.write() as conn:
            project_sql.vocab_remove(conn, scope.project_id, "event_type", list(names))
            return project_sql.vocab_list(conn, scope.project_id, "event_type")

    def registered_types(self) -> list[str]:
        """The registered event types (empty: any type is accepted)."""
        with self._scope.store.read() as conn:
            return project_sql.vocab_list(conn, self._scope.project_id, "event_type")

    def register_statuses(self, *names: str) -> list[str]:
        """Register custom status words accepted by a strict project. Returns them all."""
        words = [_word(n, "status") for n in names]
        scope = self._scope
        with scope.store.write() as conn:
            project_sql.vocab_add(conn, scope.project_id, "status", words, to_micros(scope.clock()))
            return project_sql.vocab_list(conn, scope.project_id, "status")

    # -- reading -------------------------------------------------------------------

    def get(self, event_id: int) -> Event:
        """One event by id (``NotFound`` if it is not in this project)."""
        if isinstance(event_id, bool) or not isinstance(event_id, int):
            raise ValidationError("event id must be an integer", field="id")
        with self._scope.store.read() as conn:
            row = sql.event_get(conn, self._scope.project_id, event_id)
        if row is None:
            raise NotFound(f"event {event_id} not found in project {self._scope.project!r}")
        return event_from_row(row, self._scope.project)

    def recent(self, limit: int = 20) -> list[Event]:
        """The newest events, newest first."""
        return list(self.query(limit=limit, with_total=False).items)

    def query(
        self,
        *,
        event_types: Iterable[str] | str | None = None,
        actions: Iterable[str] | str | None = None,
        actor_types: Iterable[str] | str | None = None,
        actor_id: str | None = None,
        target_type: str | None = None,
        target_id: str | int | None = None,
        statuses: Iterable[str] | str | None = None,
        search: str | None = None,
        date_range: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = 1,
        limit: int = 50,
        cursor: str | None = None,
        with_total: bool = True,
    ) -> Page[Event]:
        """Events newest first, every filter optional and combinable.

        Page with ``page`` (offset paging, as in the seed) or with ``cursor``
        (the ``next_cursor`` of the previous page: keyset paging whose cost
        does not grow with depth). ``target_id`` needs ``target_type``.
        """
        scope = self._scope
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= scope.limits.page_size
        ):
            raise ValidationError(
                f"limit must be between 1 and {scope.limits.page_size}", field="limit"
            )
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValidationError("page must be a positive integer", field="page")
        if page > 1_000_000:
            raise ValidationError("page is too deep; use the cursor for deep paging", field="page")
        if target_id is not None and target_type is None:
            raise ValidationError(
                "target_id needs target_type: ids are only unique within a type", field="target_id"
            )
        if search is not None:
            if not isinstance(search, str):
                raise ValidationError("search must be text", field="search")
            if len(search) > 200:
                raise ValidationError("search is longer than 200 characters", field="search")
            _no_nul(search, "search")
            search = search.strip() or None
        for name, value in (("actor_id", actor_id), ("target_type", target_type)):
            if value is not None and not isinstance(value, str):
                raise ValidationError(f"{name} must be text", field=name)
        lower, upper = self._window(date_range, since, until)
        relative = date_range is not None and DATE_RANGES[date_range] is not None
        # The fingerprint names the range ("7d"), not its instant: page 2 is asked
        # later, when now - 7d has moved. The cursor carries page 1's window instead.
        fp = fingerprint(
            "events",
            scope.project_id,
            _words(event_types, "event_types"),
            _words(actions, "actions"),
            _words(actor_types, "actor_types"),
            actor_id,
            target_type,
            None if target_id is None else str(target_id),
            _words(statuses, "statuses"),
            search,
            date_range,
            None if since is None else to_micros(since),
            upper,
        )
        before: tuple[int, int] | None = None
        if cursor is not None:
            position = decode_cursor(scope.store, cursor, "events", fp)
            before = (cursor_int(position, "t"), cursor_int(position, "i", 0))
            page = cursor_int(position, "p", 1)
            if relative:
                lower = cursor_int(position, "w")
        flt = sql.EventFilter(
            project_id=scope.project_id,
            event_types=_words(event_types, "event_types"),
            actions=_words(actions, "actions"),
            actor_types=_words(actor_types, "actor_types"),
            actor_id=actor_id,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            statuses=_words(statuses, "statuses"),
            search=search,
            since=lower,
            until=upper,
        )
        dialect = scope.store.dialect
        with scope.store.read() as conn:
            indexed = sql.event_search_indexed(conn, dialect, flt)
            terms = sql.event_where(dialect, flt, search_index=indexed)
            # SQLite's planner chooses well for filters on indexed columns (a rare
            # event type is found by its index, where walking time would read every
            # row). Text search has no index of its own, so the walk is pinned:
            # newest first, it meets the matches of a common word at once.
            pin: str | None = None
            if flt.search and not (flt.event_types or flt.actor_types or flt.target_type):
                pin = sql.PAGE_BY_TIME
                if indexed and sql.event_count(conn, terms, cap=_SORT_MATCHES + 1) <= _SORT_MATCHES:
                    pin = None  # few matches: fetch them by id from the index and sort them
            rows = sql.event_page(
                conn,
                terms,
                limit=limit + 1,
                offset=0 if before is not None else (page - 1) * limit,
                before=before,
                dialect=dialect,
                index=pin,
            )
            total = count_events(conn, dialect, flt, search_indexed=indexed) if with_total else None
        items = [event_from_row(r, scope.project) for r in rows[:limit]]
        kept = fitting(items, scope.limits.page_bytes)
        next_cursor = None
        if len(rows) > limit or kept < len(items):
            items = items[:kept]
            last = rows[kept - 1]
            window = {"w": lower} if relative else {}
            next_cursor = encode_cursor(
                scope.store, "events", fp, t=last.occurred_at, i=last.id, p=page + 1, **window
            )
        return Page(items=items, total=total, page=page, limit=limit, next_cursor=next_cursor)

    def _window(
        self, date_range: str | None, since: datetime | None, until: datetime | None
    ) -> tuple[int | None, int | None]:
        lower = None if since is None else to_micros(require_aware(since, "since"))
        upper = None if until is None else to_micros(require_aware(until, "until"))
        if date_range is not None:
            if date_range not in DATE_RANGES:
                raise ValidationError(
                    f"date_range must be one of {list(DATE_RANGES)}, got {date_range!r}",
                    field="date_range",
                )
            if since is not None:
                raise ValidationError("give date_range or since, not both", field="date_range")
            span = DATE_RANGES[date_range]
            if span is not None:
                lower = to_micros(self._scope.clock() - span)
        if lower is not None and upper is not None and lower > upper:
            raise ValidationError("since must not be after until", field="since")
        return lower, upper

    # -- the opt-in search index -------------------------------------------------

    def enable_search_index(self) -> None:
        """Index the search text of events (``query(search=…)``) for every project of the store.

        Without it a search reads every event of the project; with it, the
        cost follows the number of matches. SQLite gets an FTS5 table with the
        trigram tokenizer kept by triggers; PostgreSQL gets ``pg_trgm`` GIN
        indexes. Writes pay for it (see ``benchmarks/README.md``), so it is
        off until asked for. Idempotent; indexing existing events holds the
        write lock (SQLite) or blocks writers of ``events`` (PostgreSQL) while
        it runs. Search text shorter than three characters is still a scan.
        """
        with self._scope.store.write() as conn:
            sql.event_search_index_create(conn, self._scope.store.dialect)

    def disable_search_index(self) -> None:
        """Remove the search index (idempotent): search goes back to reading every event."""
        with self._scope.store.write() as conn:
            sql.event_search_index_drop(conn, self._scope.store.dialect)

    def search_index_enabled(self) -> bool:
        """Whether the store has the search index."""
        with self._scope.store.read() as conn:
            return sql.event_search_index_present(conn, self._scope.store.dialect)

    # -- purging -------------------------------------------------------------------

    def delete_older_than(
        self,
        age: str | timedelta | int | float,
        *,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete events older than ``age`` in bounded batches; counts stay. Returns how many.

        ``progress(removed)`` is called after each batch with the total so far.
        """
        span = parse_duration(age, "age")
        if not 1 <= batch_size <= 100_000:
            raise ValidationError("batch_size must be between 1 and 100000", field="batch_size")
        cutoff = to_micros(self._scope.clock() - span)
        removed = 0
        while True:
            # One short transaction per batch: SQLite writers are never locked out for long.
            with self._scope.store.write() as conn:
                n = sql.event_delete_batch(conn, self._scope.project_id, cutoff, batch_size)
            removed += n
            if progress is not None:
                progress(removed)
            if n < batch_size:
                return removed

    def delete_all(self) -> int:
        """Delete every event of this project, and its counts. Returns how many events."""
        with self._scope.store.write() as conn:
            return sql.event_delete_all(conn, self._scope.project_id)


def event_counter_rows(rows: Sequence[tuple[Any, ...]], shard: int) -> list[tuple[Any, ...]]:
    """The ``event_counts`` rows :meth:`Events.write_prepared` adds for prepared event rows.

    For parts that write their own events in their own statements (the job
    queue's claim and completion): the counter levels stay defined in
    :mod:`._rollups` only. Sorted, so concurrent writers that upsert them in one
    statement lock counter rows in the same order (no deadlocks).
    """
    return sorted(rollup_rows(rows, shard))
