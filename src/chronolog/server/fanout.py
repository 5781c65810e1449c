"""Every follower of a project's feed served from one reader (issue 14.4).

Before, each open stream and waiting long-poll re-read the store on every
commit and every second: 2,000 streams were 2,000 reads a second, and a cheap
request waited behind them. Now one :class:`Channel` per project reads the
project's feed, unfiltered, once per commit (or per second, for the commits
nobody signals), and keeps the newest events in memory, bounded by count and by
bytes, each already encoded as JSON. A follower whose cursor is inside that
window takes its events from memory, filtered there by the library's own
:meth:`chronolog.feed.Feed.matcher`, and needs no database at all; one behind it
(a reconnect after a while, a start from the beginning) reads the store itself
until it catches up, a few at a time.

Order and gaps: the channel reads the feed exactly like any follower (the
library's cursor, its visibility bound on PostgreSQL), so its window is a
contiguous stretch of the feed; a follower at any position inside it gets what
comes after its position, in the feed's order, and moves its cursor to the end
of what the channel has read, as it would have by reading the store itself.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import Chronolog
from ..feed import FeedPage
from ..models import Event
from ..query import EventQuery
from .feed_read import READ_CHUNK, BoundedPage, read_bounded
from .waker import Waker

__all__ = ["Channel", "Entry", "FeedHub", "Follower", "Step"]

POLL = 1.0
"""Longest a channel waits without a signal (SQLite writers in other processes)."""
_HELD_BACK = 0.01
_READ_LIMIT = READ_CHUNK
"""Events per read of the channel's reader (a big page of large events is a lot of rows)."""
_IDLE_STOP = 30.0
"""A channel nobody followed for this long stops reading (and is dropped)."""

Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Entry:
    """One event of a channel's window: its position, cursor, and JSON, encoded once."""

    position: Position
    cursor: str
    event: Event
    data: bytes


@dataclass(frozen=True, slots=True)
class Step:
    """What a follower got: events (as entries) and the cursor to continue from."""

    entries: list[Entry]
    next_cursor: str
    held_back: bool = False


class Channel:
    """One project's feed, read once for all its followers."""

    def __init__(
        self,
        cl: Chronolog,
        waker: Waker,
        run: Callable[..., Any],
        encode: Callable[[Event], bytes],
        *,
        max_events: int,
        max_bytes: int,
    ) -> None:
        self.cl = cl
        self._waker = waker
        self._run = run
        self._encode = encode
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._entries: list[Entry] = []
        self._positions: list[Position] = []
        self._bytes = 0
        self.start: Position = (-1, -1)
        """Everything after this position, up to :attr:`end`, is in the window."""
        self.end: Position = (-1, -1)
        self.end_cursor = ""
        self.held_back = False
        self.followers = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._idle_since = time.monotonic()

    # -- the reader -------------------------------------------------------------------

    async def ensure_running(self) -> None:
        """Start the reader if it does not run, and wait for its starting point."""
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._read_loop(), name="chronolog-feed-channel")
        await self._ready.wait()

    async def _read_loop(self) -> None:
        feed = self.cl.feed
        if not self.end_cursor:
            self.end_cursor = await self._run(feed.end_cursor)
            self.end = self.start = feed.position(self.end_cursor)
        self._ready.set()
        backoff = _HELD_BACK
        while True:
            generation = self._waker.generation()
            page: FeedPage = await self._run(feed.read, self.end_cursor, limit=_READ_LIMIT)
            moved = page.next_cursor != self.end_cursor
            for event, cursor in zip(page.items, page.cursors, strict=True):
                self._append(Entry(feed.position(cursor), cursor, event, self._encode(event)))
            self.end_cursor = page.next_cursor
            self.end = feed.position(page.next_cursor)
            self.held_back = page.held_back
            if moved or page.items:
                self._fire()
            if len(page.items) >= _READ_LIMIT:
                continue
            if self.followers == 0 and time.monotonic() - self._idle_since > _IDLE_STOP:
                return
            if page.held_back:
                delay, backoff = backoff, min(backoff * 2, POLL)
            else:
                delay, backoff = POLL, _HELD_BACK
            await self._waker.wait(generation, delay)

    def _append(self, entry: Entry) -> None:
        self._entries.append(entry)
        self._positions.append(entry.position)
        self._bytes += len(entry.data)
        drop = 0
        while len(self._entries) - drop > self.max_events or (
            self._bytes > self.max_bytes and len(self._entries) - drop > 1
        ):
            self._bytes -= len(self._entries[drop].data)
            drop += 1
        if drop:
            self.start = self._entries[drop - 1].position
            del self._entries[:drop]
            del self._positions[:drop]

    def _fire(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # -- what followers use -------------------------------------------------------------

    def covers(self, position: Position) -> bool:
        """Whether the window holds everything after ``position`` (up to :attr:`end`)."""
        return position >= self.start

    def after(
        self, position: Position, matches: Callable[[Event], bool], limit: int
    ) -> tuple[list[Entry], str | None]:
        """Up to ``limit`` matching entries after ``position``, and the cursor after the
        last one read (``None``: nothing new was read past ``position``)."""
        index = bisect.bisect_right(self._positions, position)
        found: list[Entry] = []
        for entry in self._entries[index:]:
            if matches(entry.event):
                found.append(entry)
                if len(found) == limit:
                    return found, entry.cursor
        return found, (self.end_cursor if self.end > position else None)

    def changed(self) -> asyncio.Event:
        """Set at the next change of the window (a new one each time)."""
        return self._changed

    def follow(self) -> None:
        self.followers += 1

    def unfollow(self) -> None:
        self.followers -= 1
        if self.followers == 0:
            self._idle_since = time.monotonic()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Follower:
    """One stream or long-poll on a channel: its cursor, its filters, and its steps."""

    def __init__(
        self,
        hub: FeedHub,
        channel: Channel,
        cursor: str,
        query: EventQuery,
        limit: int,
    ) -> None:
        self.hub = hub
        self.channel = channel
        self.cursor = cursor
        self.position = channel.cl.feed.position(cursor)
        self.query = query
        self.matches = channel.cl.feed.matcher(query)
        self.limit = limit
        self._open = True
        channel.follow()

    def close(self) -> None:
        """Stop following (idempotent): the channel stops reading once nobody follows."""
        if self._open:
            self._open = False
            self.channel.unfollow()

    async def step(self, timeout: float, *stops: asyncio.Event) -> Step:
        """The next events after the cursor, waiting up to ``timeout`` seconds for some
        (or until one of ``stops`` is set); an empty step when none came."""
        deadline = time.monotonic() + timeout
        while True:
            taken = await self._take()
            if taken is not None:
                return taken
            remaining = deadline - time.monotonic()
            if remaining <= 0 or any(stop.is_set() for stop in stops):
                return Step([], self.cursor, self.channel.held_back)
            await _first(remaining, self.channel.changed(), *stops)

    async def _take(self) -> Step | None:
        channel = self.channel
        if not channel.covers(self.position):
            # Behind the window: read the store (a few followers at a time) to catch up,
            # a page bounded in bytes, since a slow client holds it until it is sent.
            page = await self.hub.read(channel.cl, self.cursor, self.query, self.limit)
            position = channel.cl.feed.position
            entries = [
                Entry(position(c), c, e, d)
                for e, c, d in zip(page.events, page.cursors, page.data, strict=True)
            ]
            moved = page.next_cursor != self.cursor
            self._move(page.next_cursor)
            return Step(entries, page.next_cursor, page.held_back) if entries or moved else None
        entries, cursor = channel.after(self.position, self.matches, self.limit)
        if cursor is None:
            return None
        self._move(cursor)
        return Step(entries, cursor, channel.held_back)

    def _move(self, cursor: str) -> None:
        self.cursor = cursor
        self.position = self.channel.cl.feed.position(cursor)


async def _first(timeout: float, *events: asyncio.Event) -> None:
    """Wait until one of ``events`` is set, or ``timeout`` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class FeedHub:
    """The channels of one app, by project."""

    def __init__(
        self,
        waker: Waker,
        run: Callable[..., Any],
        encode: Callable[[Event], bytes],
        *,
        max_events: int = 2000,
        max_bytes: int = 16 * 1024 * 1024,
        page_bytes: int = 256 * 1024,
        catch_up: int = 4,
    ) -> None:
        self.waker = waker
        self.run = run
        self.encode = encode
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.page_bytes = page_bytes
        """A follower's page read from the store stops past this many bytes of JSON."""
        self.catch_up = asyncio.Semaphore(catch_up)
        self._channels: dict[str, Channel] = {}

    @property
    def followers(self) -> int:
        """Followers of every channel now."""
        return sum(c.followers for c in self._channels.values())

    async def read(
        self, cl: Chronolog, cursor: str | None, query: EventQuery, limit: int
    ) -> BoundedPage:
        """A page of ``cl``'s feed from the store, at most :attr:`page_bytes` of it, read
        a few followers at a time (the catch-up semaphore) so that a crowd of streams
        opening together never holds many large pages at once."""
        async with self.catch_up:
            page: BoundedPage = await self.run(
                read_bounded,
                cl.feed,
                cursor,
                limit=limit,
                query=query,
                max_bytes=self.page_bytes,
                encode=self.encode,
            )
        return page

    async def follower(self, cl: Chronolog, cursor: str, query: EventQuery, limit: int) -> Follower:
        """A follower of ``cl``'s project from ``cursor`` (valid: a page's next cursor)."""
        channel = self._channels.get(cl.project)
        if channel is None:
            channel = Channel(
                cl,
                self.waker,
                self.run,
                self.encode,
                max_events=self.max_events,
                max_bytes=self.max_bytes,
            )
            self._channels[cl.project] = channel
        await channel.ensure_running()
        return Follower(self, channel, cursor, query, limit)

    async def close(self) -> None:
        """Stop every channel's reader (at shutdown)."""
        for channel in list(self._channels.values()):
            await channel.close()
        self._channels.clear()
