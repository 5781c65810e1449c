"""The activity log page, its live stream (Server-Sent Events from ``cl.feed``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from ..._time import parse_when
from ...errors import TooManyRequests, ValidationError
from ...models import Event
from ...query import EventQuery
from ..deps import state_of
from .render import page, pick_zone, query_words, templates
from .session import Session, session_of

__all__ = ["RANGES", "STREAM_SECONDS", "ActivityFilter", "feed_query", "parse_filter", "router"]

router = APIRouter()

RANGES = ("24h", "7d", "30d", "all", "custom")
STREAM_SECONDS = 55.0
"""One SSE response lasts this long; the browser reconnects with ``Last-Event-ID``
(the feed cursor), so nothing is missed across reconnects and no proxy idles it out."""


@dataclass(slots=True)
class ActivityFilter:
    """The activity log's filters as read from a query string."""

    event_types: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    actor_types: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    target_type: str = ""
    target_id: str = ""
    search: str = ""
    range: str = "24h"
    since: str = ""
    until: str = ""
    cursor: str = ""

    def params(self, *, cursor: str | None = None) -> dict[str, Any]:
        """The filters as query parameters (for links, forms and the stream)."""
        return {
            "event_types": self.event_types,
            "actions": self.actions,
            "actor_types": self.actor_types,
            "statuses": self.statuses,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "q": self.search,
            "range": self.range if self.range != "24h" else "",
            "since": self.since if self.range == "custom" else "",
            "until": self.until if self.range == "custom" else "",
            "cursor": cursor,
        }

    def query(self, zone: tzinfo) -> EventQuery:
        """The filters as the one :class:`~chronolog.EventQuery` the page, its count and
        its live stream use (``ValidationError`` on bad input; a custom range's
        bounds without an offset are read in ``zone``)."""
        since = until = date_range = None
        if self.range == "custom":
            since = parse_when(self.since, "since", tz=zone) if self.since else None
            until = parse_when(self.until, "until", tz=zone) if self.until else None
            if since and until and since >= until:
                raise ValidationError("since must be before until", field="since")
        elif self.range != "all":
            date_range = self.range
        return EventQuery(
            event_types=tuple(self.event_types) or None,
            actions=tuple(self.actions) or None,
            actor_types=tuple(self.actor_types) or None,
            statuses=tuple(self.statuses) or None,
            target_types=(self.target_type,) if self.target_type else None,
            target_id=(self.target_id or None) if self.target_type else None,
            search=self.search or None,
            date_range=date_range,
            since=since,
            until=until,
        )


def feed_query(query: EventQuery) -> EventQuery:
    """What the feed filters for the live stream: all but the search and the window
    (the stream checks those per event with :meth:`EventQuery.matcher`)."""
    return dataclasses.replace(query, search=None, date_range=None, since=None, until=None)


def _one(request: Request, name: str, cap: int = 200) -> str:
    return request.query_params.get(name, "").strip()[:cap]


def parse_filter(request: Request) -> ActivityFilter:
    """Read the filters leniently: unknown ranges fall back to 24h, long text is cut."""
    flt = ActivityFilter(
        event_types=query_words(request, "event_types")[:50],
        actions=query_words(request, "actions")[:50],
        actor_types=query_words(request, "actor_types")[:50],
        statuses=query_words(request, "statuses")[:50],
        target_type=_one(request, "target_type"),
        target_id=_one(request, "target_id"),
        search=_one(request, "q"),
        since=_one(request, "since", 64),
        until=_one(request, "until", 64),
        cursor=_one(request, "cursor", 512),
    )
    wanted = request.query_params.get("range", "")
    if wanted in RANGES:
        flt.range = wanted
    elif flt.since or flt.until:
        flt.range = "custom"
    return flt


def filter_choices(session: Session) -> dict[str, list[str]]:
    """Event types, actor types and statuses seen in the last 30 days (from the rollups)."""
    out: dict[str, list[str]] = {}
    for key, group in (
        ("event_types", "event_type"),
        ("actor_types", "actor_type"),
        ("statuses", "status"),
    ):
        series = session.cl.stats.buckets("30d", group_by=group)
        out[key] = [g for g in series.groups if g]
    return out


def entity_kinds(session: Session) -> set[str]:
    """Kinds whose targets link to an entity page (those with a machine)."""
    return {m.kind for m in session.cl.states.machines()}


@router.get("/activity", include_in_schema=False)
def activity(request: Request) -> Response:
    """The filtered, keyset-paged activity log; new events arrive live."""
    session = session_of(request)
    zone, zone_error = pick_zone(request)
    flt = parse_filter(request)
    error = zone_error
    events: list[Event] = []
    next_cursor: str | None = None
    total: int | None = None
    stream_cursor = ""
    status_code = 200
    try:
        query = flt.query(zone)
        # Page 1 follows the feed, unless its range ended in the past.
        if not flt.cursor and not (flt.range == "custom" and query.until):
            stream_cursor = session.cl.feed.end_cursor()
        # A title search scans the log: counting every match would cost a full
        # scan at 1M events, while the newest 50 matches usually come quickly.
        result = session.cl.events.query(
            query,
            limit=50,
            cursor=flt.cursor or None,
            with_total=not flt.cursor and not flt.search,
        )
        events, next_cursor, total = list(result.items), result.next_cursor, result.total
    except ValidationError as exc:
        error, status_code, stream_cursor = exc.message, 400, ""
    return page(
        request,
        "activity.html",
        session,
        {
            "flt": flt,
            "events": events,
            "total": total,
            "next_cursor": next_cursor,
            "error": error,
            "choices": filter_choices(session),
            "ranges": RANGES,
            "kinds": entity_kinds(session),
            "stream_cursor": stream_cursor,
        },
        status_code=status_code,
        nav="activity",
    )


@router.get("/activity/stream", include_in_schema=False)
async def activity_stream(request: Request) -> Response:
    """New events as Server-Sent Events: ``event: row`` with a rendered table row.

    Starts after ``?after=`` (or ``Last-Event-ID`` on a reconnect); each
    message's id is the feed cursor after its event. Served by the app's feed
    hub (one reader per project, however many tabs are open), with its reads on
    the live views' own executor; it holds one of the token's stream slots and
    ends once the token stops working.
    """
    live = state_of(request).live
    session = await live.run(session_of, request)
    zone, _ = pick_zone(request)
    flt = parse_filter(request)
    after = request.headers.get("last-event-id") or request.query_params.get("after") or None
    try:
        if after is not None and len(after) > 512:
            raise ValidationError("cursor is not valid", field="after")
        # Checks the cursor and the filters before the stream starts (a 400, not a
        # broken stream), and gives the position to follow from.
        query = flt.query(zone)
        # The window ending now is not checked per live event: new events are inside it.
        matches = dataclasses.replace(query, date_range=None).matcher()
        first = await live.run(session.cl.feed.read, after, limit=1, query=feed_query(query))
    except ValidationError as exc:
        return Response(exc.message, status_code=400, media_type="text/plain")
    kinds = await live.run(entity_kinds, session)
    row = templates.env.get_template("_event_row.html")
    hub = request.app.state.feed_waker.hub
    try:
        held = live.open(session.principal)
    except TooManyRequests as exc:
        return Response(exc.message, status_code=429, media_type="text/plain")
    # The first page's cursor, moved back before its one event: follow from ``after``.
    start = after if first.items else first.next_cursor
    try:
        follower = await hub.follower(
            session.cl, start or session.cl.feed.end_cursor(), feed_query(query), 100
        )
    except BaseException:
        held.close()
        raise
    deadline = time.monotonic() + STREAM_SECONDS

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 1000\n\n"
            quiet = time.monotonic()
            sent = start
            while (remaining := deadline - time.monotonic()) > 0:
                if held.revoked.is_set():
                    yield "event: end\ndata: logged out\n\n"
                    return
                step = await follower.step(min(remaining, 15.0), held.revoked)
                for entry in step.entries:
                    if matches(entry.event):
                        html = row.render(event=entry.event, zone=zone, kinds=kinds, fresh=True)
                        data = "".join(f"data: {line}\n" for line in html.strip().splitlines())
                        yield f"id: {entry.cursor}\nevent: row\n{data}\n"
                if step.next_cursor != sent:
                    # Past events the search or time filter dropped: a reconnect skips them.
                    sent = step.next_cursor
                    yield f"id: {sent}\n: moved\n\n"
                if not step.entries and time.monotonic() - quiet > 15:
                    quiet = time.monotonic()
                    yield ": keep-alive\n\n"
                elif step.entries:
                    quiet = time.monotonic()
        finally:
            follower.close()
            held.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
