"""Feed pages bounded in bytes as well as in events, read a few events at a time.

An event's metadata may hold 64 KiB, so a page of ``limit=1000`` events may be 64 MiB
of rows in memory at once, and an SSE stream holds its page until a slow client
takes it. Every read of the service's feed routes goes through :func:`read_bounded`:
it reads :data:`FIRST_CHUNK` events, then as many as the budget has room for at
the size seen (at most :data:`READ_CHUNK` per statement), and stops adding events
past ``max_bytes`` of JSON (at least one event), so a page is never far beyond
``max_bytes`` however large its events or however slowly its client reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..feed import Feed, FeedPage
from ..models import Event
from ..query import EventQuery

__all__ = ["FIRST_CHUNK", "READ_CHUNK", "BoundedPage", "read_bounded"]

READ_CHUNK = 100
"""Events read per statement at most: 6.4 MiB of rows (64 KiB of metadata each)."""
FIRST_CHUNK = 10
"""Events of a page's first read: the reads after it are sized by what it found."""


@dataclass(frozen=True, slots=True)
class BoundedPage:
    """Events after a cursor, each encoded once, and the cursor to continue from."""

    events: list[Event]
    cursors: list[str]
    data: list[bytes]
    """Each event's JSON, as the routes send it."""
    next_cursor: str
    held_back: bool


def read_bounded(
    feed: Feed,
    after: str | None,
    *,
    limit: int,
    query: EventQuery,
    max_bytes: int,
    encode: Callable[[Event], bytes],
) -> BoundedPage:
    """Up to ``limit`` events after ``after`` and about ``max_bytes`` of their JSON (at
    least one event): the next cursor is after the last event kept, so nothing is
    skipped when a page is cut short."""
    events: list[Event] = []
    cursors: list[str] = []
    data: list[bytes] = []
    size = 0
    cursor = after
    want = min(FIRST_CHUNK, limit)
    while True:
        page: FeedPage = feed.read(cursor, limit=want, query=query)
        for event, event_cursor in zip(page.items, page.cursors, strict=True):
            encoded = encode(event)
            size += len(encoded)
            if events and size > max_bytes:
                # Cut short: continue after the last event kept, not after the page.
                return BoundedPage(events, cursors, data, cursors[-1], False)
            events.append(event)
            cursors.append(event_cursor)
            data.append(encoded)
        cursor = page.next_cursor
        if len(page.items) < want or len(events) >= limit:
            return BoundedPage(events, cursors, data, cursor, page.held_back)
        # The next read asks for about what the budget has room for, at the events'
        # size so far: large events are not read a hundred at a time to keep four.
        room = (max_bytes - size) * len(events) // max(size, 1) + 1
        want = max(1, min(READ_CHUNK, limit - len(events), room))
