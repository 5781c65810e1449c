"""Routes of the feed: ``GET /api/v1/feed`` (long-poll), ``GET /api/v1/feed/stream`` (SSE),
and ``GET /api/v1/feed/end`` (where to start following only what comes next).

Waiting never holds a thread per follower and never busy-polls: one thread
per app (:class:`FeedWaker`) waits on the store's notifier (which, on
PostgreSQL, ``LISTEN`` feeds from other processes) and wakes every waiting
request on the event loop. Reads run in the threadpool like any sync route.
A wait is sliced to ``POLL`` seconds so SQLite writers in other processes
(which cannot signal) are seen within that time.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ...core import Chronolog
from ...feed import FeedPage
from ..deps import Context, ServerState, comma_list, require
from ..schemas import ERROR_RESPONSES
from ..waker import Waker
from .events import EventOut, event_json

__all__ = ["FeedWaker", "install", "router"]

router = APIRouter(prefix="/feed", tags=["feed"], responses=ERROR_RESPONSES)

POLL = 1.0
"""Longest single wait: the fallback for commits nobody signals (SQLite, other processes)."""
_HELD_BACK = 0.01
"""First re-check of rows held back behind an older, still-running transaction."""


class FeedWaker(Waker):
    """The waker of the ``events`` topic, with the feed's stream settings."""

    def __init__(
        self, cl: Chronolog, *, max_wait: float = 60.0, stream_seconds: float | None = None
    ) -> None:
        super().__init__(cl, "events", max_wait=max_wait)
        self.stream_seconds = stream_seconds
        """Close an SSE stream after this long (``None``: never); clients reconnect
        with ``Last-Event-ID``, which spreads followers over servers behind a balancer."""

    @property
    def followers(self) -> int:
        """Open SSE streams and waiting long-polls (the feed-followers gauge)."""
        return self.waiting

    @followers.setter
    def followers(self, value: int) -> None:
        self.waiting = value


def install(
    state: ServerState, *, max_wait: float = 60.0, stream_seconds: float | None = None
) -> FeedWaker:
    """Create the app's waker and its feed-followers gauge."""
    waker = FeedWaker(state.root, max_wait=max_wait, stream_seconds=stream_seconds)
    state.metrics.add_gauge(
        "chronolog_feed_followers",
        "Open feed streams (SSE) and waiting long-polls on this server.",
        (),
        lambda: [((), float(waker.followers))],
    )
    return waker


def _waker(request: Request) -> FeedWaker:
    waker: FeedWaker = request.app.state.feed_waker
    return waker


class FeedPageOut(BaseModel):
    """Events after a cursor, the cursor after each, and the cursor to continue from."""

    items: list[EventOut]
    cursors: list[str]
    next_cursor: str
    held_back: bool


def page_json(page: FeedPage) -> dict[str, Any]:
    """A feed page as the route returns it."""
    return {
        "items": [event_json(e) for e in page.items],
        "cursors": page.cursors,
        "next_cursor": page.next_cursor,
        "held_back": page.held_back,
    }


class _Filters:
    """The feed's filters as query parameters (comma-separated lists)."""

    def __init__(
        self,
        event_types: Annotated[str | None, Query(description="Comma-separated.")] = None,
        actions: Annotated[str | None, Query(description="Comma-separated.")] = None,
        statuses: Annotated[str | None, Query(description="Comma-separated.")] = None,
        actor_types: Annotated[str | None, Query(description="Comma-separated.")] = None,
        target_type: Annotated[str | None, Query(max_length=64)] = None,
        target_id: Annotated[str | None, Query(max_length=255)] = None,
    ) -> None:
        self.values: dict[str, Any] = {
            "event_types": comma_list(event_types),
            "actions": comma_list(actions),
            "statuses": comma_list(statuses),
            "actor_types": comma_list(actor_types),
            "target_type": target_type,
            "target_id": target_id,
        }


FiltersDep = Annotated[_Filters, Depends()]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most events per page.")]
After = Annotated[
    str | None, Query(max_length=512, description="A feed cursor (absent: the start).")
]


class _Reader:
    """Reads pages after a moving cursor and waits for commits between them."""

    def __init__(
        self, cl: Chronolog, waker: FeedWaker, after: str | None, limit: int, filters: _Filters
    ) -> None:
        self.cl, self.waker, self.after, self.limit = cl, waker, after, limit
        self.filters = filters.values
        self.backoff = _HELD_BACK

    async def read(self) -> tuple[int, FeedPage]:
        # The generation is taken before the read: a commit in between still wakes the wait.
        generation = self.waker.generation()
        page = await run_in_threadpool(
            self.cl.feed.read, self.after, limit=self.limit, **self.filters
        )
        self.after = page.next_cursor
        return generation, page

    async def wait(self, generation: int, page: FeedPage, budget: float) -> None:
        if page.held_back:
            # Rows wait behind a transaction that may not signal when it ends.
            delay, self.backoff = self.backoff, min(self.backoff * 2, POLL)
        else:
            delay, self.backoff = POLL, _HELD_BACK
        await self.waker.wait(generation, min(delay, budget))


@router.get("", response_model=FeedPageOut)
async def read_feed(
    request: Request,
    ctx: Annotated[Context, Depends(require("read"))],
    filters: FiltersDep,
    after: After = None,
    limit: Limit = 100,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=60,
            allow_inf_nan=False,
            description="Seconds to wait for a first event (long-poll).",
        ),
    ] = 0,
) -> dict[str, Any]:
    """Events after ``after`` in commit order; with ``wait``, hold the request until at
    least one arrives or ``wait`` seconds pass (then an empty page, cursor advanced)."""
    reader = _Reader(ctx.cl, _waker(request), after, limit, filters)
    wait = min(wait, reader.waker.max_wait)
    deadline = time.monotonic() + wait
    generation, page = await reader.read()
    if page.items or wait <= 0:
        return page_json(page)
    reader.waker.followers += 1
    try:
        while not page.items:
            budget = deadline - time.monotonic()
            if budget <= 0 or await request.is_disconnected():
                break
            await reader.wait(generation, page, budget)
            generation, page = await reader.read()
    finally:
        reader.waker.followers -= 1
    return page_json(page)


class EndCursorOut(BaseModel):
    """A cursor after every event committed so far."""

    cursor: str


@router.get("/end", response_model=EndCursorOut)
def end_cursor(ctx: Annotated[Context, Depends(require("read"))]) -> dict[str, str]:
    """A cursor after every event committed so far: follow only what comes next (a
    follower that starts here skips the history instead of reading it)."""
    return {"cursor": ctx.cl.feed.end_cursor()}


_SSE_EVENT = {
    "type": "object",
    "description": "One Server-Sent Event: `id` the feed cursor after it, `data` an "
    "EventOut as JSON (absent on heartbeats).",
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "data": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `id` is the feed cursor after the event, "
            "`data` the event as JSON; comment lines are heartbeats.",
            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
        }
    },
)
async def stream_feed(
    request: Request,
    ctx: Annotated[Context, Depends(require("read"))],
    filters: FiltersDep,
    after: After = None,
    limit: Limit = 100,
    heartbeat: Annotated[
        float,
        Query(ge=0.1, le=60, allow_inf_nan=False, description="Seconds between heartbeats."),
    ] = 15,
    last_event_id: Annotated[
        str | None,
        Header(
            max_length=512,
            description="Resume after this cursor (set by reconnecting "
            "EventSource clients; wins over `after`).",
        ),
    ] = None,
) -> StreamingResponse:
    """Follow the feed as Server-Sent Events, resuming from ``Last-Event-ID`` with no gap.

    The first page is read before the response starts, so a bad cursor or
    filter is a JSON error (422), not a broken stream.
    """
    reader = _Reader(ctx.cl, _waker(request), last_event_id or after, limit, filters)
    first = await reader.read()
    return StreamingResponse(
        _events(reader, first, heartbeat),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    reader: _Reader, first: tuple[int, FeedPage], heartbeat: float
) -> AsyncIterator[bytes]:
    """The SSE body; cancelled by Starlette when the client goes away."""
    reader.waker.followers += 1
    lifetime = reader.waker.stream_seconds
    ends = None if lifetime is None else time.monotonic() + lifetime
    try:
        yield b"retry: 1000\n\n"
        generation, page = first
        quiet_since = time.monotonic()
        while True:
            if page.items:
                yield b"".join(
                    b"id: %s\ndata: %s\n\n" % (cursor.encode(), orjson.dumps(event_json(event)))
                    for event, cursor in zip(page.items, page.cursors, strict=True)
                )
                quiet_since = time.monotonic()
            now = time.monotonic()
            if ends is not None and now >= ends:
                return
            if len(page.items) < reader.limit:
                if now - quiet_since >= heartbeat:
                    # An id-only block moves the client's Last-Event-ID past events the
                    # filters skipped, so a reconnect does not rescan them.
                    yield b": heartbeat\nid: %s\n\n" % page.next_cursor.encode()
                    quiet_since = now
                timeout = heartbeat - (now - quiet_since)
                if ends is not None:
                    timeout = min(timeout, ends - now)
                await reader.wait(generation, page, timeout)
            generation, page = await reader.read()
    finally:
        reader.waker.followers -= 1
