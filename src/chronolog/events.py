"""The activity log: who did what to what, when, and how it went (``cl.events``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Row

from . import _json
from ._cursor import cursor_int, decode_cursor, encode_cursor, fingerprint
from ._pages import fitting
from ._rollups import rollup_rows
from ._scope import Scope
from ._time import from_micros, parse_duration, require_aware, to_micros
from ._totals import count_events
from ._validate import (
    ACTOR_LIMITS,
    TARGET_LIMITS,
    check_idempotency_key,
    no_nul,
    party,
    word,
)
from .errors import NotFound, ValidationError
from .models import Actor, Event, NewEvent, Page, Target
from .query import DATE_RANGES, EventQuery
from .store.sql import events as sql
from .store.sql import idempotency as idem_sql
from .store.sql import projects as project_sql

__all__ = [
    "BUILTIN_STATUSES",
    "DATE_RANGES",
    "Events",
    "event_counter_rows",
    "event_filter",
    "event_from_row",
]

BUILTIN_STATUSES = ("processing", "success", "error", "cancelled")
"""Statuses every project accepts; strict projects accept registered ones besides.

``cancelled`` is neither a success nor an error: a job cancelled by an operator (or by a
failed dependency) ends with it, so charts and error counts never read it as either."""

_SORT_MATCHES = 2000
"""Up to this many search-index matches, a page sorts them; beyond, it walks the time index."""
_EVENT_FIELDS = frozenset(
    {"event_type", "action", "status", "actor", "target", "occurred_at", "error", "metadata"}
)


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
        return self._record(
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

    def _take(
        self, items: Iterable[NewEvent | Mapping[str, Any]]
    ) -> list[NewEvent | Mapping[str, Any]]:
        """A batch as a list, read no further than one past the batch limit (which
        :meth:`_prepare` then refuses): an endless iterable is not read to its end."""
        return list(islice(items, self._scope.limits.batch_size + 1))

    def _record(self, items: Sequence[NewEvent | Mapping[str, Any]]) -> list[int]:
        rows = self._prepare(items)
        with self._scope.store.write() as conn:
            ids = self.write_prepared(conn, rows)
        self._scope.store.notifier.publish("events")
        return ids

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
        return self._record(self._take(items))

    def record_once(
        self,
        items: Iterable[NewEvent | Mapping[str, Any]],
        idempotency_key: str,
        *,
        request_hash: str | None = None,
    ) -> tuple[list[int], bool]:
        """:meth:`record_many` with an idempotency key: ``(ids, replayed)``, where
        ``replayed`` says the key had been used and nothing was recorded this time."""
        rows = self._prepare(self._take(items))
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
                rows += self._prepare(pending, start=len(rows), numbered=True)
                pending = []
        rows += self._prepare(pending, start=len(rows), numbered=len(rows) + len(pending) > 1)
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
        return self._prepare(self._take(items))

    def _prepare(
        self,
        items: Sequence[NewEvent | Mapping[str, Any]],
        *,
        start: int = 0,
        numbered: bool | None = None,
    ) -> list[tuple[Any, ...]]:
        """Validate ``items`` (the ones from index ``start`` of a batch). A refusal names the
        item's 0-based index (message ``event N: …``, ``details["index"]``) whenever the
        batch holds more than one event (``numbered``; by default: ``len(items) > 1``),
        the first included; a single event's refusal is not numbered."""
        if numbered is None:
            numbered = len(items) > 1
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
                if numbered or exc.details.get("index") is not None:
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
        event_type = word(event_type, "event_type")
        action = word(action, "action")
        status = "success" if raw_status is None else word(raw_status, "status")
        actor = party(actor_in, "actor", Actor, ACTOR_LIMITS, limits.text_chars)
        target = party(target_in, "target", Target, TARGET_LIMITS, limits.text_chars)
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
            no_nul(error, "error")
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
        status = word(status, "status")
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
        words = [word(n, "event_type") for n in names]
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
        words = [word(n, "status") for n in names]
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
        query: EventQuery | None = None,
        *,
        page: int = 1,
        limit: int = 50,
        cursor: str | None = None,
        with_total: bool = True,
        **filters: Any,
    ) -> Page[Event]:
        """Events newest first, matching ``query`` (an :class:`~chronolog.EventQuery`;
        its fields may be given as keywords too: ``query(event_types=["job"])``).

        Page with ``page`` (offset paging, as in the seed) or with ``cursor``
        (the ``next_cursor`` of the previous page: keyset paging whose cost
        does not grow with depth).
        """
        q = EventQuery.build(query, filters)
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
        lower, upper = self._window(q)
        relative = q.date_range is not None and DATE_RANGES[q.date_range] is not None
        # The fingerprint names the range ("7d"), not its instant: page 2 is asked
        # later, when now - 7d has moved. The cursor carries page 1's window instead.
        fp = fingerprint(
            "events",
            scope.project_id,
            *(getattr(q, name) for name in q.given() if name not in ("since", "until")),
            q.given(),
            None if q.since is None else to_micros(q.since),
            upper,
        )
        before: tuple[int, int] | None = None
        if cursor is not None:
            position = decode_cursor(scope.store, cursor, "events", fp)
            before = (cursor_int(position, "t"), cursor_int(position, "i", 0))
            page = cursor_int(position, "p", 1)
            if relative:
                lower = cursor_int(position, "w")
        flt = event_filter(scope.project_id, q, lower, upper)
        dialect = scope.store.dialect
        with scope.store.read() as conn:
            indexed = sql.event_search_indexed(conn, dialect, flt)
            terms = sql.event_where(dialect, flt, search_index=indexed)
            # SQLite's planner chooses well for filters on indexed columns (a rare
            # event type is found by its index, where walking time would read every
            # row). Text search has no index of its own, so the walk is pinned:
            # newest first, it meets the matches of a common word at once.
            pin: str | None = None
            if flt.search and not (flt.event_types or flt.actor_types or flt.target_types):
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

    def _window(self, q: EventQuery) -> tuple[int | None, int | None]:
        lower = None if q.since is None else to_micros(q.since)
        upper = None if q.until is None else to_micros(q.until)
        if q.date_range is not None:
            span = DATE_RANGES[q.date_range]
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


def event_filter(
    project_id: int, query: EventQuery, since: int | None, until: int | None
) -> sql.EventFilter:
    """The store's filter for ``query`` in a project, its time bounds resolved to
    microseconds by the caller (a relative ``date_range`` needs the clock)."""
    return sql.EventFilter(
        project_id=project_id,
        event_types=query.event_types,
        actions=query.actions,
        actor_types=query.actor_types,
        actor_id=query.actor_id,
        target_types=query.target_types,
        target_id=query.target_id,
        statuses=query.statuses,
        search=query.search,
        since=since,
        until=until,
    )
