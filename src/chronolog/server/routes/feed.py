"""Routes of the feed: ``GET /api/v1/feed`` (long-poll), ``GET /api/v1/feed/stream`` (SSE),
and ``GET /api/v1/feed/end`` (where to start following only what comes next).

Waiting never holds a thread per follower, never busy-polls, and never reads the
store per follower: one thread per app (the :class:`FeedWaker`) turns the
store's notifier (which, on PostgreSQL, ``LISTEN`` feeds from other processes)
into wake-ups on the event loop, and one reader per project (:mod:`..fanout`)
reads each commit once for every stream and long-poll of that project. A wait
is sliced to ``POLL`` seconds so SQLite writers in other processes (which cannot
signal) are seen within that time.

Each stream and waiting long-poll holds one of its token's slots (429 beyond the
cap) and ends within seconds once its token is revoked or expires, or its
member is removed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ...core import Chronolog
from ...query import EventQuery
from ..deps import Context, ServerState, require
from ..fanout import POLL, Entry, FeedHub, Follower, Step
from ..feed_read import BoundedPage, read_bounded
from ..live import Held
from ..query import QueryParams, query_dep
from ..schemas import ERROR_RESPONSES
from ..waker import Waker
from .events import EventOut, event_json

__all__ = ["POLL", "FeedWaker", "install", "router"]

router = APIRouter(prefix="/feed", tags=["feed"], responses=ERROR_RESPONSES)

PAGE_BYTES = 1024 * 1024
"""A feed page (long-poll) stops adding events past this many bytes of JSON (at least
one event): the next cursor continues after the last one it holds."""


class FeedWaker(Waker):
    """The waker of the ``events`` topic, with the feed's stream settings."""

    def __init__(
        self, cl: Chronolog, *, max_wait: float = 60.0, stream_seconds: float | None = None
    ) -> None:
        super().__init__(cl, "events", max_wait=max_wait)
        self.stream_seconds = stream_seconds
        """Close an SSE stream after this long (``None``: never); clients reconnect
        with ``Last-Event-ID``, which spreads followers over servers behind a balancer."""
        self.hub: FeedHub | None = None

    @property
    def followers(self) -> int:
        """Open SSE streams and waiting long-polls (the feed-followers gauge)."""
        return 0 if self.hub is None else self.hub.followers


def _encode(event: Any) -> bytes:
    data = orjson.dumps(event_json(event))
    if len(data) > _SHRINK_FROM:
        # orjson reserves room for its worst case (every character escaped) and keeps
        # it: a 60 KiB event came back in a 500 KiB block. The hub's window and every
        # page a stream holds keep these, so a large one is copied to its own size.
        return memoryview(data).tobytes()
    return data


_SHRINK_FROM = 4096


def install(
    state: ServerState, *, max_wait: float = 60.0, stream_seconds: float | None = None
) -> FeedWaker:
    """Create the app's waker, its fan-out hub and the feed-followers gauge."""
    waker = FeedWaker(state.root, max_wait=max_wait, stream_seconds=stream_seconds)
    waker.hub = FeedHub(waker, state.live.run, _encode)
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


def _hub(request: Request) -> FeedHub:
    hub = _waker(request).hub
    assert hub is not None
    return hub


class FeedPageOut(BaseModel):
    """Events after a cursor, the cursor after each, and the cursor to continue from."""

    items: list[EventOut]
    cursors: list[str]
    next_cursor: str
    held_back: bool


class FeedParams(QueryParams):
    """Where to read from, and how many events at most."""

    after: str | None = Field(
        default=None, max_length=512, description="A feed cursor (absent: the start)."
    )
    limit: int = Field(default=100, ge=1, le=1000, description="Most events per page.")


class ReadParams(FeedParams):
    """``GET /feed``: a page, or a long-poll of up to ``wait`` seconds."""

    wait: float = Field(
        default=0,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="Seconds to wait for a first event (long-poll).",
    )


class StreamParams(FeedParams):
    """``GET /feed/stream``: how often a quiet stream sends a heartbeat."""

    heartbeat: float = Field(
        default=15, ge=0.1, le=60, allow_inf_nan=False, description="Seconds between heartbeats."
    )


ReadQuery = Annotated[tuple[EventQuery, ReadParams], query_dep(EventQuery, ReadParams)]
StreamQuery = Annotated[tuple[EventQuery, StreamParams], query_dep(EventQuery, StreamParams)]


def _page_json(page: BoundedPage) -> dict[str, Any]:
    return {
        # The events are JSON already (encoded once, as the page was bounded in bytes).
        "items": [orjson.Fragment(data) for data in page.data],
        "cursors": page.cursors,
        "next_cursor": page.next_cursor,
        "held_back": page.held_back,
    }


def _step_json(step: Step) -> dict[str, Any]:
    items: list[Any] = []
    size = 0
    for entry in step.entries:
        size += len(entry.data)
        if items and size > PAGE_BYTES:
            break
        items.append(orjson.Fragment(entry.data))
    cut = len(items) < len(step.entries)
    return {
        "items": items,
        "cursors": [e.cursor for e in step.entries[: len(items)]],
        "next_cursor": step.entries[len(items) - 1].cursor if cut else step.next_cursor,
        "held_back": step.held_back,
    }


@router.get("", response_model=FeedPageOut)
async def read_feed(
    request: Request,
    ctx: Annotated[Context, Depends(require("read"))],
    found: ReadQuery,
) -> Any:
    """Events after ``after`` in commit order; with ``wait``, hold the request until at
    least one arrives or ``wait`` seconds pass (then an empty page, cursor advanced).

    A page holds at most ``limit`` events and about a MiB of them: continue from
    ``next_cursor`` either way. An unknown query parameter is a 422 naming it."""
    query, p = found
    after, limit, wait = p.after, p.limit, p.wait
    waker = _waker(request)
    wait = min(wait, waker.max_wait)
    page = await run_in_threadpool(
        read_bounded,
        ctx.cl.feed,
        after,
        limit=limit,
        query=query,
        max_bytes=PAGE_BYTES,
        encode=_encode,
    )
    if page.events or wait <= 0:
        return _orjson_response(_page_json(page))
    held: Held = ctx.state.live.open(ctx.principal)
    follower: Follower | None = None
    try:
        follower = await _hub(request).follower(ctx.cl, page.next_cursor, query, limit)
        deadline = time.monotonic() + wait
        step = Step([], page.next_cursor, page.held_back)
        while not step.entries and not held.revoked.is_set():
            budget = deadline - time.monotonic()
            if budget <= 0 or await request.is_disconnected():
                break
            step = await follower.step(min(budget, POLL), held.revoked)
        return _orjson_response(_step_json(step))
    finally:
        if follower is not None:
            follower.close()
        held.close()


def _orjson_response(body: dict[str, Any]) -> Response:
    # The events are JSON already (encoded once per event by the hub).
    return Response(orjson.dumps(body), media_type="application/json")


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
    found: StreamQuery,
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
    filter is a JSON error (422), not a broken stream; so is a token that holds
    as many streams as it may (429). A stream whose token is revoked or expires
    gets an ``event: error`` (``unauthorized``) and ends within seconds.
    """
    query, p = found
    cursor, limit, heartbeat = last_event_id or p.after, p.limit, p.heartbeat
    hub = _hub(request)
    # The slot first: a caller over its caps is refused before it costs a read.
    held: Held = ctx.state.live.open(ctx.principal)
    try:
        # Bounded in bytes (the hub's page size), as every page a stream holds while
        # a slow client reads it.
        first = await hub.read(ctx.cl, cursor, query, limit)
        follower = await hub.follower(ctx.cl, first.next_cursor, query, limit)
    except BaseException:
        held.close()
        raise
    return StreamingResponse(
        _events(_waker(request), follower, held, first, heartbeat),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _sse(entry: Entry) -> bytes:
    return b"id: %s\ndata: %s\n\n" % (entry.cursor.encode(), entry.data)


async def _events(
    waker: FeedWaker, follower: Follower, held: Held, first: BoundedPage, heartbeat: float
) -> AsyncIterator[bytes]:
    """The SSE body; cancelled by Starlette when the client goes away. One event per
    chunk, so a page of large events is never one large piece of memory."""
    lifetime = waker.stream_seconds
    ends = None if lifetime is None else time.monotonic() + lifetime
    try:
        yield b"retry: 1000\n\n"
        for cursor, data in zip(first.cursors, first.data, strict=True):
            yield b"id: %s\ndata: %s\n\n" % (cursor.encode(), data)
        quiet_since = time.monotonic()
        while True:
            if held.revoked.is_set():
                yield _REVOKED
                return
            now = time.monotonic()
            if ends is not None and now >= ends:
                return
            if now - quiet_since >= heartbeat:
                # An id-only block moves the client's Last-Event-ID past events the
                # filters skipped, so a reconnect does not rescan them.
                yield b": heartbeat\nid: %s\n\n" % follower.cursor.encode()
                quiet_since = now
            timeout = heartbeat - (now - quiet_since)
            if ends is not None:
                timeout = min(timeout, ends - now)
            step = await follower.step(max(timeout, 0.0), held.revoked)
            for entry in step.entries:
                yield _sse(entry)
            if step.entries:
                quiet_since = time.monotonic()
    finally:
        follower.close()
        held.close()


_REVOKED = (
    b"event: error\ndata: "
    + orjson.dumps(
        {
            "code": "unauthorized",
            "message": "the stream's API token was revoked or expired, or its member removed",
        }
    )
    + b"\n\n"
)
