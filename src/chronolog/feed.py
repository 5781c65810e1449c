"""The gap-free feed: every committed event exactly once, in a stable order (``cl.feed``).

The order is (writing transaction, id). On PostgreSQL ids are taken from a
sequence before commit, so "id > N" would pass over a row whose transaction
commits late. Instead every row records its transaction id (``events.tx``)
and a reader only takes rows whose transaction is older than the oldest one
still running (``pg_snapshot_xmin``): those can never be joined by a late
row, so moving the cursor past them is safe. Writers take no shared lock.
On SQLite writers are serialised and ids follow commit order (``tx`` is 0).

A cursor is opaque; :meth:`Feed.read` returns the next one, :meth:`Feed.follow`
yields each event with the cursor to resume after it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

from ._cursor import cursor_int, decode_cursor, encode_cursor, fingerprint
from ._scope import Scope
from ._time import to_micros
from .errors import ValidationError
from .events import event_filter, event_from_row
from .models import Event, FeedItem, FeedPage
from .query import EventQuery
from .store.engine import Store
from .store.sql import events as event_sql
from .store.sql import feed as sql

__all__ = ["Feed", "FeedItem", "FeedPage"]

_START = (-1, -1)
_MAX_ID = 2**63 - 1
_HELD_BACK_POLL = 0.01
_STOP_SLICE = 0.05
"""Longest a follower keeps waiting after its ``stop`` event is set."""


class Feed:
    """Read and follow one project's events in commit order."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._fp = fingerprint("feed", scope.project_id)

    # -- cursors -------------------------------------------------------------------

    def _encode(self, position: tuple[int, int]) -> str:
        return encode_cursor(self._scope.store, "feed", self._fp, t=position[0], i=position[1])

    def _decode(self, cursor: str | None) -> tuple[int, int]:
        if cursor is None:
            return _START
        data = decode_cursor(self._scope.store, cursor, "feed", self._fp)
        return cursor_int(data, "t", -1), cursor_int(data, "i", -1)

    def position(self, cursor: str | None) -> tuple[int, int]:
        """The (transaction, id) position a cursor of this feed stands for (``None``: the
        start); positions order like the feed, so cursors can be compared (a fan-out
        serving many followers from one reader does). ``ValidationError`` for a cursor
        that is not one of this project's feed cursors."""
        return self._decode(cursor)

    def end_cursor(self) -> str:
        """A cursor after every event committed so far (to follow only what comes next)."""
        scope = self._scope
        with scope.store.read() as conn:
            bound = sql.feed_bound(conn, scope.store.dialect)
            if bound is not None:
                return self._encode((bound - 1, _MAX_ID))
            last = sql.feed_last_position(conn, scope.project_id, None)
        return self._encode(last or _START)

    # -- reading -------------------------------------------------------------------

    def read(
        self,
        after: str | None = None,
        *,
        limit: int = 100,
        query: EventQuery | None = None,
        **filters: Any,
    ) -> FeedPage:
        """Up to ``limit`` events after the cursor ``after`` (None: from the start).

        ``query`` (an :class:`~chronolog.EventQuery`, or its fields as keywords)
        narrows what is returned; the cursor is a position in the whole feed, so
        one cursor can be reused with other filters. The feed filters on every
        field but ``search`` and ``date_range``.
        """
        flt = self._filter(EventQuery.build(query, filters))
        return self._read(self._decode(after), self._limit(limit), flt)

    def matcher(self, query: EventQuery | None = None, **filters: Any) -> Callable[[Event], bool]:
        """A test that keeps exactly the events :meth:`read` with this query returns
        (checked as :meth:`read` checks it): for serving many filtered followers
        from one unfiltered read."""
        q = EventQuery.build(query, filters)
        self._filter(q)
        return q.matcher()

    def _limit(self, limit: int) -> int:
        cap = max(self._scope.limits.page_size, 1000)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= cap:
            raise ValidationError(f"limit must be between 1 and {cap}", field="limit")
        return limit

    def _filter(self, query: EventQuery) -> event_sql.EventFilter:
        query.refuse(
            _NOT_FILTERED, "the feed", "it is read in commit order, not searched (use events.query)"
        )
        since = None if query.since is None else to_micros(query.since)
        until = None if query.until is None else to_micros(query.until)
        return event_filter(self._scope.project_id, query, since, until)

    def _read(self, position: tuple[int, int], limit: int, flt: event_sql.EventFilter) -> FeedPage:
        scope = self._scope
        dialect = scope.store.dialect
        terms = event_sql.event_where(dialect, flt)
        bound_expr = dialect.visible_tx_bound()
        held = False
        with scope.store.read() as conn:
            if bound_expr is not None:
                bound, held, rows = sql.feed_page_bounded(
                    conn, bound_expr, scope.project_id, terms, after=position, limit=limit
                )
                # Everything readable was scanned: move past it even when filters
                # matched nothing, so a filtered follower does not rescan it.
                end = max(position, (bound - 1, _MAX_ID)) if len(rows) < limit else position
            else:
                # SQLite: one snapshot for both statements (a deferred read transaction).
                rows = sql.feed_page(conn, terms, after=position, bound=None, limit=limit)
                end = position
                if len(rows) < limit:
                    last = sql.feed_last_position(conn, scope.project_id, None)
                    end = max(position, last or position)
        items = [event_from_row(cast(Any, row[1:]), scope.project) for row in rows]
        cursors = [self._encode((int(row[0]), int(row[1]))) for row in rows]
        if rows and len(rows) == limit:
            end = (int(rows[-1][0]), int(rows[-1][1]))
        return FeedPage(items=items, next_cursor=self._encode(end), cursors=cursors, held_back=held)

    # -- following -----------------------------------------------------------------

    def follow(
        self,
        after: str | None = None,
        *,
        limit: int = 100,
        poll: float = 1.0,
        stop: threading.Event | None = None,
        query: EventQuery | None = None,
        **filters: Any,
    ) -> Iterator[FeedItem]:
        """Yield events as they are committed, forever or until ``stop`` is set.

        Wakes on the in-process signal and, on PostgreSQL, on ``LISTEN/NOTIFY``
        from other processes; ``poll`` seconds is only the fallback (SQLite
        writers in other processes, a lost notification).
        """
        follower = _Follower(self, after, limit, poll, query, filters)
        while stop is None or not stop.is_set():
            generation, page = follower.step()
            for event, cursor in zip(page.items, page.cursors, strict=True):
                yield FeedItem(event, cursor)
            timeout = follower.timeout(page)
            if timeout:
                _wait(self._scope.store, generation, timeout, stop)

    async def afollow(
        self,
        after: str | None = None,
        *,
        limit: int = 100,
        poll: float = 1.0,
        stop: asyncio.Event | threading.Event | None = None,
        query: EventQuery | None = None,
        **filters: Any,
    ) -> AsyncIterator[FeedItem]:
        """The async twin of :meth:`follow` (reads and waits run in a worker thread)."""
        follower = _Follower(self, after, limit, poll, query, filters)
        while stop is None or not stop.is_set():
            generation, page = await asyncio.to_thread(follower.step)
            for event, cursor in zip(page.items, page.cursors, strict=True):
                yield FeedItem(event, cursor)
            timeout = follower.timeout(page)
            if timeout:
                # Short slices, so a set ``stop`` or a cancelled task is noticed quickly.
                await asyncio.to_thread(
                    self._scope.store.wait, "events", generation, min(timeout, 0.25)
                )


class _Follower:
    """The state of one follow loop, shared by :meth:`Feed.follow` and :meth:`Feed.afollow`."""

    def __init__(
        self,
        feed: Feed,
        after: str | None,
        limit: int,
        poll: float,
        query: EventQuery | None,
        filters: dict[str, Any],
    ) -> None:
        if isinstance(poll, bool) or not isinstance(poll, int | float) or not 0 < poll <= 60:
            raise ValidationError("poll must be between 0 and 60 seconds", field="poll")
        self.feed = feed
        self.position = feed._decode(after)
        self.limit = feed._limit(limit)
        self.poll = float(poll)
        self.flt = feed._filter(EventQuery.build(query, filters))
        self.backoff = _HELD_BACK_POLL
        feed._scope.store.listen("events")

    def step(self) -> tuple[int, FeedPage]:
        # The generation is read before the page, so a commit between the two
        # still wakes the wait that follows.
        generation = self.feed._scope.store.notifier.generation("events")
        page = self.feed._read(self.position, self.limit, self.flt)
        self.position = self.feed._decode(page.next_cursor)
        return generation, page

    def timeout(self, page: FeedPage) -> float:
        if len(page.items) >= self.limit:
            return 0.0
        if page.held_back:
            # Rows wait behind a transaction that may not be an event writer (no
            # NOTIFY when it ends): re-check soon, backing off towards ``poll``.
            delay, self.backoff = self.backoff, min(self.backoff * 2, self.poll)
            return delay
        self.backoff = _HELD_BACK_POLL
        return self.poll


def _wait(store: Store, generation: int, timeout: float, stop: threading.Event | None) -> None:
    """Wait for a commit past ``generation`` for up to ``timeout`` seconds, and return
    within :data:`_STOP_SLICE` once ``stop`` is set (a condition variable cannot also
    wait on an event, so the wait is cut in slices while a ``stop`` is given)."""
    if stop is None:
        store.wait("events", generation, timeout)
        return
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0 or store.wait("events", generation, min(remaining, _STOP_SLICE)):
            return


_NOT_FILTERED = ("search", "date_range")
"""What the feed does not filter on (a search reads every row; a window ending now moves)."""
