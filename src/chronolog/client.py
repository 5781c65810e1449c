"""``Client(base_url, token)``: chronolog's verbs over HTTP.

Each part of the library has a sub-object with the same method names,
arguments and value types as ``cl.<part>``: ``client.events.record(…)``
returns the event id like ``cl.events.record(…)``, and a refused request
raises the same exception class the library would (``ValidationError``,
``NotFound``, ``Conflict`` …), rebuilt from the error body's ``code``.
"""

from __future__ import annotations

import builtins
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta, tzinfo
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from . import errors
from ._remote_schedules import RemoteSchedules
from .errors import ChronologError, StoreUnavailable
from .jobs.models import (
    DEFAULT_LEASE,
    HTTP_CLAIM_MOST,
    Job,
    JobLinks,
    JobLog,
    JobMove,
    NewJob,
    Pipeline,
    QueueInfo,
    WorkerInfo,
)
from .models import (
    Actor,
    Event,
    FeedItem,
    FeedPage,
    Health,
    NewEvent,
    Page,
    Series,
    Target,
)
from .query import EntityQuery, EventQuery, JobQuery
from .states.models import DayCount, Entity, Machine, Timeline, Transition
from .states.views import EntityViews

__all__ = [
    "Client",
    "RemoteEvents",
    "RemoteFeed",
    "RemoteJobs",
    "RemoteStates",
    "RemoteStats",
]

_ERRORS: dict[str, type[ChronologError]] = {
    cls.code: cls
    for cls in (getattr(errors, name) for name in errors.__all__)
    if isinstance(cls, type) and issubclass(cls, ChronologError)
}
_ERRORS.update({"invalid_json": errors.ValidationError, "bad_request": errors.ValidationError})


_RETRY_STATUSES = frozenset({502, 503, 504})
"""Answers after which an idempotent write is retried (the server or a proxy was away)."""


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()["error"]
        code, message, details = body["code"], body["message"], body.get("details") or {}
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code} from {response.request.url}"
        if response.status_code >= 500:
            raise StoreUnavailable(message) from None
        raise ChronologError(message) from None
    exc = _ERRORS.get(code, ChronologError)(str(message))
    if isinstance(details, dict):
        exc.details.update(details)
    exc.details.setdefault("status", response.status_code)
    raise exc


def _plain(value: Any) -> Any:
    """What orjson cannot serialise by itself (it does dataclasses and datetimes natively)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _time(value: datetime | None) -> str | None:
    # Naive datetimes go out without an offset and come back as the library's ValidationError.
    return None if value is None else value.isoformat()


def _party(value: Any) -> Any:
    if isinstance(value, Actor):
        return {"type": value.type, "id": value.id, "name": value.name}
    if isinstance(value, Target):
        return {"type": value.type, "id": value.id, "title": value.title}
    if isinstance(value, Mapping):
        return dict(value)
    return value


_EVENT_FIELDS = (
    "event_type",
    "action",
    "status",
    "actor",
    "target",
    "occurred_at",
    "error",
    "metadata",
)


def _event_body(item: NewEvent | Mapping[str, Any]) -> dict[str, Any]:
    # Field by field, not dataclasses.asdict: asdict deep-copies metadata (slow in batches).
    if isinstance(item, NewEvent):
        data = {name: getattr(item, name) for name in _EVENT_FIELDS}
    else:
        data = dict(item)
    for key in ("actor", "target"):
        if data.get(key) is not None:
            data[key] = _party(data[key])
    if isinstance(data.get("occurred_at"), datetime):
        data["occurred_at"] = _time(data["occurred_at"])
    if isinstance(data.get("metadata"), Mapping):
        data["metadata"] = dict(data["metadata"])
    return {k: v for k, v in data.items() if v is not None}


def _csv(value: Iterable[str] | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


class Client:
    """A chronolog HTTP service seen from one API token (and so one project).

    ``http`` lets a caller pass a configured :class:`httpx.Client` (proxies,
    TLS, a test transport); the client then borrows it and leaves it open.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = 3
        """How many times an idempotent write is retried (with its key) when its answer
        is lost or the server is unavailable."""
        self._owns = http is None
        self._http = http or httpx.Client(timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self.events = RemoteEvents(self)
        self.stats = RemoteStats(self)
        self.states = RemoteStates(self)
        self.feed = RemoteFeed(self)
        self.jobs = RemoteJobs(self)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        idempotent: bool | str = False,
    ) -> Any:
        """Send one request to ``/api/v1{path}``; return the JSON body or raise chronolog's error.

        ``timeout``: seconds for this request (a long-poll), instead of the client's.
        ``idempotent``: send an ``Idempotency-Key`` and retry a lost or refused
        attempt (no answer, 502/503/504) up to :attr:`retries` times with the same
        key and body: the server answers a repeat with the first answer, so a
        write whose answer was lost is not made twice. A string is the key itself
        (the caller's own, kept across its retries); ``True`` makes one.
        """
        response = self._send(
            method, path, json=json, params=params, timeout=timeout, idempotent=idempotent
        )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def paged(
        self, path: str, params: Mapping[str, Any], after: str, limit: int | None
    ) -> builtins.list[Any]:
        """``GET`` a list that may come cut short (by bytes) with a ``Link: rel="next"``
        header, following it until ``limit`` items (``None``: all) or the end."""
        items: builtins.list[Any] = []
        query = dict(params)
        while True:
            wanted = None if limit is None else limit - len(items)
            response = self._send("GET", path, params={**query, "limit": wanted})
            page = response.json()
            items.extend(page)
            nxt = response.links.get("next", {}).get("url")
            if not page or (limit is not None and len(items) >= limit) or not nxt:
                return items
            query[after] = httpx.URL(nxt).params[after]

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        idempotent: bool | str = False,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        content = None if json is None else orjson.dumps(json, default=_plain)
        headers = self._headers if json is None else self._json_headers
        attempts = 1
        if idempotent:
            key = idempotent if isinstance(idempotent, str) else uuid.uuid4().hex
            headers = {**headers, "Idempotency-Key": key}
            attempts += self.retries
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            try:
                response = self._http.request(
                    method,
                    f"{self.base_url}/api/v1{path}",
                    content=content,
                    params=query,
                    headers=headers,
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                )
            except httpx.TransportError as exc:
                if last:
                    raise StoreUnavailable(
                        f"chronolog server unreachable at {self.base_url}: {exc}"
                    ) from exc
            else:
                if last or response.status_code not in _RETRY_STATUSES:
                    break
            time.sleep(min(0.25 * 2**attempt, 2.0))
        _raise_for(response)
        return response

    @contextmanager
    def stream(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Iterator[str]]:
        """``GET /api/v1{path}`` as a stream of text lines (Server-Sent Events)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            with self._http.stream(
                "GET",
                f"{self.base_url}/api/v1{path}",
                params=query,
                headers={**self._headers, "Accept": "text/event-stream", **(headers or {})},
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                yield response.iter_lines()
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"chronolog server unreachable at {self.base_url}: {exc}"
            ) from exc

    def ping(self) -> Health:
        """Is the server's store ready (``GET /ready``; ``cl.ping()`` over HTTP). The
        reasons come with a valid token; a server that cannot be reached raises
        ``StoreUnavailable``."""
        try:
            response = self._http.get(f"{self.base_url}/ready", headers=self._headers)
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"chronolog server unreachable at {self.base_url}: {exc}"
            ) from exc
        if response.status_code not in (200, 503):
            _raise_for(response)
        body = response.json()
        checks = {k: None if v == "ok" else v for k, v in (body.get("checks") or {}).items()}
        return Health(
            ready=body.get("status") == "ready", database=body.get("database"), checks=checks
        )

    def whoami(self) -> dict[str, Any]:
        """The token's project, role and user."""
        result: dict[str, Any] = self.request("GET", "/whoami")
        return result

    def close(self) -> None:
        """Give back jobs claimed but not handed out, close the pool (unless passed in)."""
        self.jobs.release_unstarted()
        if self._owns:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RemoteEvents:
    """``cl.events`` over HTTP: the same verbs and value types."""

    def __init__(self, client: Client) -> None:
        self._client = client

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
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Record one event and return its id."""
        body = _event_body(
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
        )
        return int(self._client.request("POST", "/events", json=body, idempotent=True)["id"])

    def record_many(
        self,
        items: Iterable[NewEvent | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> list[int]:
        """Record a batch in one transaction, all or nothing; returns ids in input order.

        The server caps a batch (1000 events by default); a larger one is
        refused with ``TooLarge`` rather than split, so the call stays atomic.
        The request carries an ``Idempotency-Key``: when its answer is lost (the
        connection drops, the server restarts) it is retried and the server
        replays the first answer instead of recording the batch twice. With
        ``idempotency_key`` that key is sent (a caller's retry across processes
        replays the first answer too); otherwise the client makes one.
        """
        # NewEvent, Actor, Target and datetimes serialise natively in orjson (fast);
        # naive datetimes go out without a zone and are refused by the server.
        body = {"events": [i if isinstance(i, NewEvent) else _event_body(i) for i in items]}
        # With an Idempotency-Key: retried when the answer is lost, written once.
        key: bool | str = True if idempotency_key is None else idempotency_key
        answer = self._client.request("POST", "/events", json=body, idempotent=key)
        return [int(i) for i in answer["ids"]]

    def get(self, event_id: int) -> Event:
        """One event by id (``NotFound`` if it is not in the token's project)."""
        return Event.from_dict(self._client.request("GET", f"/events/{int(event_id)}"))

    def recent(self, limit: int = 20) -> list[Event]:
        """The newest events, newest first."""
        rows = self._client.request("GET", "/events/recent", params={"limit": limit})
        return [Event.from_dict(r) for r in rows]

    def set_status(self, event_id: int, status: str, error: str | None = None) -> Event:
        """Move an event along its lifecycle."""
        body = {"status": status, "error": error}
        return Event.from_dict(self._client.request("PATCH", f"/events/{int(event_id)}", json=body))

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
        """Events newest first, matching ``query`` (see :meth:`chronolog.events.Events.query`)."""
        params: dict[str, Any] = {
            **EventQuery.build(query, filters).to_params(),
            "page": page,
            "limit": limit,
            "cursor": cursor,
            "with_total": "true" if with_total else "false",
        }
        body = self._client.request("GET", "/events", params=params)
        return _page(body, Event.from_dict)


def _duration(value: str | timedelta | int | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return f"{int(seconds)}s"


class RemoteStats:
    """``cl.stats`` over HTTP: the same ``buckets`` call, returning a :class:`Series`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def buckets(
        self,
        window: str | None = None,
        *,
        query: EventQuery | None = None,
        group_by: str | None = None,
        tz: str | tzinfo | None = None,
        bucket: str | timedelta | int | None = None,
        **filters: Any,
    ) -> Series:
        """Counts per bucket, oldest first (see :meth:`chronolog.stats.Stats.buckets`).

        ``now`` is the server's clock (the library's ``now=`` has no remote twin).
        """
        params = {
            **EventQuery.build(query, filters).to_params(),
            "window": window,
            "group_by": group_by,
            "tz": None if tz is None else str(tz),
            "bucket": _duration(bucket),
        }
        return Series.from_dict(self._client.request("GET", "/stats", params=params))


def _page(body: Mapping[str, Any], item: Any) -> Page[Any]:
    return Page(
        items=[item(r) for r in body["items"]],
        total=body["total"],
        page=body["page"],
        limit=body["limit"],
        next_cursor=body["next_cursor"],
    )


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


def _entity_path(kind: str, id: str | int) -> str:
    # The id may hold '/': the server takes the rest of the path as the id.
    return f"/entities/{_segment(kind)}/{quote(str(id), safe='/')}"


def _parent(value: tuple[str, str | int] | Entity | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, Entity):
        return [value.kind, value.id]
    return [value[0], str(value[1])]


class RemoteStates(EntityViews):
    """``cl.states`` over HTTP: machines, entities, moves, history and the timeline."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def define(
        self,
        kind: str,
        states: Iterable[str],
        transitions: Mapping[str, Iterable[str]],
        *,
        initial: str | None = None,
        terminal: Iterable[str] = (),
    ) -> Machine:
        """Define (or redefine) the machine of ``kind`` (needs an admin token)."""
        body = {
            "states": list(states),
            "transitions": {k: list(v) for k, v in transitions.items()},
            "initial": initial,
            "terminal": list(terminal),
        }
        return Machine.from_dict(
            self._client.request("PUT", f"/machines/{_segment(kind)}", json=body)
        )

    def machine(self, kind: str) -> Machine | None:
        """The machine of ``kind``, or ``None`` if it has none."""
        try:
            return Machine.from_dict(self._client.request("GET", f"/machines/{_segment(kind)}"))
        except errors.NotFound:
            return None

    def machines(self) -> list[Machine]:
        """Every machine of the project, by kind."""
        return [Machine.from_dict(m) for m in self._client.request("GET", "/machines")]

    def upsert(
        self,
        kind: str,
        id: str | int,
        *,
        title: str | None = None,
        parent: tuple[str, str | int] | Entity | None = None,
        attributes: Mapping[str, Any] | None = None,
        actor: Actor | Mapping[str, Any] | None = None,
    ) -> Entity:
        """Create an entity or change its title, parent or attributes (``actor``: who
        created it; default the token's member)."""
        body = {
            "title": title,
            "parent": _parent(parent),
            "attributes": attributes,
            "actor": None if actor is None else _party(actor),
        }
        return Entity.from_dict(self._client.request("PUT", _entity_path(kind, id), json=body))

    def delete(
        self, kind: str, id: str | int, *, actor: Actor | Mapping[str, Any] | None = None
    ) -> int:
        """Delete an entity and its history; returns how many transitions went."""
        body = {"actor": None if actor is None else _party(actor)}
        answer = self._client.request("DELETE", _entity_path(kind, id), json=body)
        return int(answer["removed"])

    def transition_many(
        self, moves: Iterable[Mapping[str, Any] | tuple[str, str | int, str]]
    ) -> list[Transition]:
        """Apply moves in order, atomically: every one or none (as the library's)."""
        body: list[dict[str, Any]] = []
        for move in moves:
            if isinstance(move, tuple):
                kind, ident, to = move
                item: dict[str, Any] = {"kind": kind, "id": ident, "to": to}
            else:
                item = dict(move)
            if item.get("id") is not None:
                item["id"] = str(item["id"])
            if item.get("actor") is not None:
                item["actor"] = _party(item["actor"])
            if item.get("parent") is not None:
                item["parent"] = _parent(item["parent"])
            if isinstance(item.get("occurred_at"), datetime):
                item["occurred_at"] = _time(item["occurred_at"])
            body.append({k: v for k, v in item.items() if v is not None})
        rows = self._client.request("POST", "/transitions", json={"moves": body})
        return [Transition.from_dict(r) for r in rows]

    def counts(self, kind: str) -> dict[str | None, int]:
        """How many entities of ``kind`` are in each state (``None``: not moved yet)."""
        rows = self._client.request("GET", f"/kinds/{_segment(kind)}/counts")
        return {r["state"]: int(r["count"]) for r in rows}

    def get(self, kind: str, id: str | int) -> Entity:
        """One entity with its current transition (``NotFound`` if absent)."""
        return Entity.from_dict(self._client.request("GET", _entity_path(kind, id)))

    def children(self, kind: str, id: str | int, child_kind: str | None = None) -> list[Entity]:
        """The entities whose parent is this one (of ``child_kind`` only, if given)."""
        path = _entity_path(kind, id) + "/children"
        rows = self._client.request("GET", path, params={"kind": child_kind})
        return [Entity.from_dict(r) for r in rows]

    def transition(
        self,
        kind: str,
        id: str | int,
        to: str,
        *,
        actor: Actor | Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        title: str | None = None,
        parent: tuple[str, str | int] | Entity | None = None,
        expected_from: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Transition:
        """Move an entity (``InvalidTransition``, ``Conflict`` as in the library)."""
        body = {
            "to": to,
            "expected_from": expected_from,
            "actor": None if actor is None else _party(actor),
            "metadata": None if metadata is None else dict(metadata),
            "title": title,
            "parent": _parent(parent),
            "occurred_at": _time(occurred_at),
        }
        body = {k: v for k, v in body.items() if v is not None}
        path = _entity_path(kind, id) + "/transitions"
        return Transition.from_dict(self._client.request("POST", path, json=body))

    def history(
        self, kind: str, id: str | int, *, after: int = 0, limit: int | None = None
    ) -> list[Transition]:
        """An entity's moves by ``sort_key`` ascending, from ``after + 1``."""
        path = _entity_path(kind, id) + "/transitions"
        rows = self._client.paged(path, {"after": after}, "after", limit)
        return [Transition.from_dict(r) for r in rows]

    def list(
        self,
        query: EntityQuery | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
        **filters: Any,
    ) -> Page[Entity]:
        """Entities newest move first, matching ``query`` (see
        :meth:`chronolog.states.States.list`); ``in_state``, ``active`` and
        ``entities`` are this with a query made for them."""
        params = {**EntityQuery.build(query, filters).to_params(), "limit": limit, "cursor": cursor}
        return _page(self._client.request("GET", "/entities", params=params), Entity.from_dict)

    def timeline(
        self,
        query: EntityQuery | None = None,
        *,
        days: int | None = None,
        tz: tzinfo | None = None,
        limit: int = 50,
        cursor: str | None = None,
        with_counts: bool = True,
        **filters: Any,
    ) -> Timeline:
        """Moves of every kind newest first, and per-day counts of distinct entities
        (see :meth:`chronolog.states.States.timeline`)."""
        params = {
            **EntityQuery.build(query, filters).to_params(),
            "days": days,
            "tz": None if tz is None else str(tz),
            "limit": limit,
            "cursor": cursor,
            "with_counts": "true" if with_counts else "false",
        }
        body = self._client.request("GET", "/timeline", params=params)
        return Timeline(
            page=_page(body, Transition.from_dict),
            days=[DayCount.from_dict(d) for d in body["days"]],
        )


class RemoteFeed:
    """``cl.feed`` over HTTP: pages by long-poll, following by Server-Sent Events."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def end_cursor(self) -> str:
        """A cursor after every event committed so far (to follow only what comes next)."""
        return str(self._client.request("GET", "/feed/end")["cursor"])

    def read(
        self,
        after: str | None = None,
        *,
        limit: int = 100,
        query: EventQuery | None = None,
        wait: float = 0,
        **filters: Any,
    ) -> FeedPage:
        """Up to ``limit`` events after ``after``; with ``wait`` seconds, the server holds
        the request until at least one event arrives (long-poll)."""
        params = {
            "after": after,
            "limit": limit,
            "wait": wait or None,
            **EventQuery.build(query, filters).to_params(),
        }
        return FeedPage.from_dict(self._client.request("GET", "/feed", params=params))

    def follow(
        self,
        after: str | None = None,
        *,
        limit: int = 100,
        poll: float = 1.0,
        stop: threading.Event | None = None,
        query: EventQuery | None = None,
        reconnect: float = 1.0,
        **filters: Any,
    ) -> Iterator[FeedItem]:
        """Yield events as they are committed, forever or until ``stop`` is set.

        Follows ``GET /feed/stream``; when the connection drops (a server
        restart, a proxy timeout) it reconnects after ``reconnect`` seconds
        from the last cursor it saw, so nothing is skipped or repeated. The
        server sends a heartbeat every ``poll`` seconds, which is also how
        often ``stop`` is checked while the feed is quiet.
        """
        cursor = after
        params = {"limit": limit, "heartbeat": poll, **EventQuery.build(query, filters).to_params()}
        while stop is None or not stop.is_set():
            try:
                headers = {"Last-Event-ID": cursor} if cursor else None
                with self._client.stream("/feed/stream", params=params, headers=headers) as lines:
                    ident: str | None = None
                    data: list[str] = []
                    for line in lines:
                        if line.startswith("id:"):
                            ident = line[3:].strip()
                        elif line.startswith("data:"):
                            data.append(line[5:].lstrip())
                        elif not line:
                            if ident is not None:
                                cursor = ident
                            if data and ident is not None:
                                yield FeedItem(
                                    Event.from_dict(orjson.loads("\n".join(data))), ident
                                )
                            ident, data = None, []
                            if stop is not None and stop.is_set():
                                return
            except StoreUnavailable:
                pass
            if stop is not None:
                if stop.wait(reconnect):
                    return
            else:
                time.sleep(reconnect)


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


_DONE_PER_REQUEST = 1000
"""The most finished jobs the server takes in one ``POST /jobs/complete``."""


def _done_json(
    items: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]],
) -> list[dict[str, Any]]:
    """Finished jobs ``(id, lease[, result])`` as the worker protocol's ``done`` items."""
    return [
        {
            "id": int(item[0]),
            "lease": item[1],
            "result": None if len(item) < 3 or item[2] is None else dict(item[2]),
        }
        for item in items
    ]


def _acted(actor: Actor | None) -> dict[str, Any] | None:
    """The body of a verb that may name who does it (``None``: the token's member)."""
    return None if actor is None else {"actor": _party(actor)}


def _job_body(item: NewJob | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, NewJob):
        data = {name: getattr(item, name) for name in NewJob.__slots__}
    else:
        data = dict(item)
    if isinstance(data.get("run_at"), datetime):
        data["run_at"] = _time(data["run_at"])
    if isinstance(data.get("delay"), timedelta):
        data["delay"] = data["delay"].total_seconds()
    if data.get("subject") is not None:
        data["subject"] = [data["subject"][0], str(data["subject"][1])]
    if isinstance(data.get("payload"), Mapping):
        data["payload"] = dict(data["payload"])
    return {k: v for k, v in data.items() if v is not None}


class RemoteJobs:
    """``cl.jobs`` over HTTP, and the worker protocol (:class:`~chronolog.jobs.worker.JobSource`).

    ``Worker(client.jobs, handlers).run()`` runs jobs of a central service on
    another host. Idle workers long-poll: :meth:`wait_for_work` holds a claim
    open on the server (woken by enqueues) and keeps what it took for the
    worker's next :meth:`claim`; :meth:`release_unstarted` (called by
    ``Client.close``) gives back any the worker never asked for.
    """

    def __init__(self, client: Client, *, long_poll: float = 10.0) -> None:
        self._client = client
        self._long_poll = long_poll
        self._lock = threading.Lock()
        self._stash: builtins.list[Job] = []
        self._last_claim: tuple[Any, str | None, int, float, int | None, float, Any, Any] | None = (
            None
        )
        self._generation = 0
        self.schedules = RemoteSchedules(client)
        """``cl.jobs.schedules`` over HTTP (the server fires them: see ``docs/schedules.md``)."""

    # -- producing and operating ---------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        queue: str = "default",
        priority: int = 0,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        max_attempts: int | None = None,
        unique_key: str | None = None,
        subject: tuple[str, str | int] | None = None,
        after: Sequence[int] | None = None,
        on_failure: str = "cancel",
        actor: Actor | None = None,
    ) -> Job:
        """Add one job and return it (with a held ``unique_key``, the holder); with
        ``after``, it waits until those jobs completed (see ``Jobs.enqueue``);
        ``actor`` defaults to the token's member."""
        body = _job_body(
            NewJob(
                kind,
                payload,
                queue,
                priority,
                run_at,
                delay,
                max_attempts,
                unique_key,
                subject,
                tuple(after or ()),
                on_failure,
            )
        )
        if actor is not None:
            body["actor"] = _party(actor)
        return Job.from_dict(self._client.request("POST", "/jobs", json=body))

    def dependencies(self, job_id: int) -> JobLinks:
        """A job's dependencies both ways (the jobs it runs after, the jobs after it)."""
        data = self._client.request("GET", f"/jobs/{int(job_id)}/dependencies")
        return JobLinks.from_dict(data)

    def pipeline(
        self,
        stages: Sequence[NewJob | Mapping[str, Any] | str],
        *,
        subject: tuple[str, str | int] | None = None,
        name: str | None = None,
        on_failure: str = "cancel",
        actor: Actor | None = None,
    ) -> Pipeline:
        """Enqueue a chain of stages on one subject as one pipeline (``Jobs.pipeline``);
        ``actor`` defaults to the token's member."""
        body: dict[str, Any] = {
            "stages": [_job_body(NewJob(s) if isinstance(s, str) else s) for s in stages],
            "on_failure": on_failure,
        }
        if actor is not None:
            body["actor"] = _party(actor)
        if subject is not None:
            body["subject"] = [subject[0], str(subject[1])]
        if name is not None:
            body["name"] = name
        return Pipeline.from_dict(self._client.request("POST", "/pipelines", json=body))

    def pipeline_get(self, pipeline_id: int) -> Pipeline:
        """One pipeline with its jobs."""
        return Pipeline.from_dict(self._client.request("GET", f"/pipelines/{int(pipeline_id)}"))

    def pipeline_of(self, job_id: int) -> Pipeline | None:
        """The pipeline a job is a stage of, or None."""
        job = self.get(job_id)
        return None if job.pipeline_id is None else self.pipeline_get(job.pipeline_id)

    def enqueue_many(
        self, items: Iterable[NewJob | Mapping[str, Any]], *, actor: Actor | None = None
    ) -> builtins.list[int]:
        """Add jobs in one transaction, all or nothing; ids in input order."""
        body: dict[str, Any] = {"jobs": [_job_body(i) for i in items]}
        if actor is not None:
            body["actor"] = _party(actor)
        return [int(i) for i in self._client.request("POST", "/jobs", json=body)["ids"]]

    def get(self, job_id: int) -> Job:
        """One job by id."""
        return Job.from_dict(self._client.request("GET", f"/jobs/{int(job_id)}"))

    def list(
        self,
        query: JobQuery | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
        **filters: Any,
    ) -> Page[Job]:
        """Jobs newest first, matching ``query`` (see :meth:`chronolog.jobs.Jobs.list`)."""
        params = {**JobQuery.build(query, filters).to_params(), "limit": limit, "cursor": cursor}
        return _page(self._client.request("GET", "/jobs", params=params), Job.from_dict)

    def logs(self, job_id: int, *, after: int = 0, limit: int = 1000) -> builtins.list[JobLog]:
        """A job's log lines after line ``after``, oldest first."""
        rows = self._client.paged(f"/jobs/{int(job_id)}/logs", {"after": after}, "after", limit)
        return [JobLog.from_dict(r) for r in rows]

    def retry(self, job_id: int, *, actor: Actor | None = None) -> Job:
        """A failed or cancelled job back to pending."""
        path = f"/jobs/{int(job_id)}/retry"
        return Job.from_dict(self._client.request("POST", path, json=_acted(actor)))

    def cancel(self, job_id: int, *, actor: Actor | None = None) -> Job:
        """Cancel a pending or running job."""
        path = f"/jobs/{int(job_id)}/cancel"
        return Job.from_dict(self._client.request("POST", path, json=_acted(actor)))

    def rescue(self, *, limit: int = 500) -> int:
        """Put running jobs whose lease expired back to pending; returns how many."""
        answer = self._client.request("POST", "/jobs/rescue", params={"limit": limit})
        return int(answer["rescued"])

    def failed(
        self, since: datetime | timedelta | None = None, *, limit: int = 100
    ) -> builtins.list[Job]:
        """Jobs that failed for good, newest first; ``since`` a time or a look-back span."""
        params: dict[str, Any] = {"limit": limit}
        if isinstance(since, timedelta):
            params["since_seconds"] = since.total_seconds()
        else:
            params["since"] = _time(since)
        return [
            Job.from_dict(j) for j in self._client.request("GET", "/jobs/failed", params=params)
        ]

    def running(self, *, limit: int = 100) -> builtins.list[Job]:
        """Jobs running now, newest first."""
        rows = self._client.request("GET", "/jobs/running", params={"limit": limit})
        return [Job.from_dict(j) for j in rows]

    def history(self, job_id: int) -> builtins.list[JobMove]:
        """Every state change of a job, oldest first."""
        rows = self._client.request("GET", f"/jobs/{int(job_id)}/history")
        return [JobMove.from_dict(m) for m in rows]

    def counts(self, *, kind: Iterable[str] | str | None = None) -> dict[str, dict[str, int]]:
        """How many jobs per queue and state (of ``kind``, if given)."""
        params = {"kind": _csv(kind)}
        answer: dict[str, dict[str, int]] = self._client.request(
            "GET", "/jobs/counts", params=params
        )
        return answer

    # -- queues, bulk moves and the worker registry (``jobs/queues.py``, ``jobs/workers.py``)

    def queues(self) -> builtins.list[QueueInfo]:
        """Every queue: counts by state, paused, limits."""
        return [QueueInfo.from_dict(q) for q in self._client.request("GET", "/queues")]

    def queue(self, name: str) -> QueueInfo:
        """One queue."""
        return QueueInfo.from_dict(self._client.request("GET", f"/queues/{_segment(name)}"))

    def pause(self, queue: str, *, actor: Actor | None = None) -> QueueInfo:
        """Stop every worker claiming from ``queue`` at its next claim."""
        path = f"/queues/{_segment(queue)}/pause"
        return QueueInfo.from_dict(self._client.request("POST", path, json=_acted(actor)))

    def resume(self, queue: str, *, actor: Actor | None = None) -> QueueInfo:
        """Let workers claim from ``queue`` again."""
        path = f"/queues/{_segment(queue)}/resume"
        return QueueInfo.from_dict(self._client.request("POST", path, json=_acted(actor)))

    def set_limit(
        self,
        queue: str,
        *,
        concurrency: int | None = None,
        rate: tuple[int, float] | None = None,
        actor: Actor | None = None,
    ) -> QueueInfo:
        """Set (or clear) ``queue``'s concurrency and rate limits."""
        body = {
            "concurrency": concurrency,
            "rate": None if rate is None else {"limit": rate[0], "seconds": rate[1]},
            **(_acted(actor) or {}),
        }
        path = f"/queues/{_segment(queue)}/limit"
        return QueueInfo.from_dict(self._client.request("PUT", path, json=body))

    def _bulk(
        self,
        path: str,
        query: JobQuery | None,
        everything: bool,
        actor: Actor | None,
        **filters: Any,
    ) -> int:
        # The query as GET /jobs takes it (query parameters); who and "all" in the body.
        params = JobQuery.build(query, filters).to_params()
        body = {"all": everything, **(_acted(actor) or {})}
        return int(self._client.request("POST", path, params=params, json=body)["moved"])

    def retry_many(
        self,
        query: JobQuery | None = None,
        *,
        all: bool = False,
        actor: Actor | None = None,
        **filters: Any,
    ) -> int:
        """Failed or cancelled jobs of ``query`` back to pending; how many moved (see
        :meth:`chronolog.jobs.Jobs.retry_many`)."""
        return self._bulk("/jobs/retry-many", query, all, actor, **filters)

    def cancel_many(
        self,
        query: JobQuery | None = None,
        *,
        all: bool = False,
        actor: Actor | None = None,
        **filters: Any,
    ) -> int:
        """Cancel the pending or running jobs of ``query``; how many moved."""
        return self._bulk("/jobs/cancel-many", query, all, actor, **filters)

    def workers(self, *, stale_after: float = 30.0) -> builtins.list[WorkerInfo]:
        """Registered workers, their running jobs and heartbeat age."""
        rows = self._client.request("GET", "/workers", params={"stale_after": stale_after})
        return [WorkerInfo.from_dict(w) for w in rows]

    def register_worker(
        self,
        name: str,
        *,
        host: str,
        pid: int | None = None,
        queues: Sequence[str] | str | None = None,
        kinds: Sequence[str] | str | None = None,
        concurrency: int = 1,
    ) -> str:
        """Register this (remote) worker with the server; its id."""

        def names(value: Sequence[str] | str | None) -> builtins.list[str] | None:
            if value is None:
                return None
            return [value] if isinstance(value, str) else builtins.list(value)

        body = {
            "name": name,
            "host": host,
            "pid": pid,
            "queues": names(queues),
            "kinds": names(kinds),
            "concurrency": concurrency,
        }
        return str(self._client.request("POST", "/workers", json=body)["id"])

    def heartbeat_worker(self, worker_id: str) -> bool:
        """Say the worker is alive; False when the server's registry forgot it."""
        path = f"/workers/{_segment(worker_id)}/heartbeat"
        return bool(self._client.request("POST", path)["registered"])

    def deregister_worker(self, worker_id: str) -> None:
        """Remove this worker from the registry (it stopped cleanly)."""
        self._client.request("DELETE", f"/workers/{_segment(worker_id)}")

    # -- the worker protocol -------------------------------------------------------------

    @property
    def claim_most(self) -> int:
        """The most jobs one claim takes over HTTP (a remote worker asks for no more)."""
        return HTTP_CLAIM_MOST

    @property
    def poll_interval(self) -> float:
        """How long an idle worker's claim waits on the server (a long-poll)."""
        return self._long_poll

    def _claim(
        self,
        queues: Any,
        worker: str | None,
        limit: int,
        lease_seconds: float,
        pid: int | None,
        wait: float,
        done: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]] = (),
        kinds: Sequence[str] | None = None,
    ) -> tuple[builtins.list[int], builtins.list[Job]]:
        names = None if queues is None else [queues] if isinstance(queues, str) else list(queues)
        body = {
            "queues": names,
            "kinds": None if kinds is None else list(kinds),
            "worker": worker,
            "limit": limit,
            "lease_seconds": lease_seconds,
            "wait_seconds": wait,
            "pid": pid,
            "done": _done_json(done),
        }
        timeout = None if not wait else wait + 30.0
        answer = self._client.request("POST", "/jobs/claim", json=body, timeout=timeout)
        return answer["completed"], [Job.from_dict(r) for r in answer["jobs"]]

    def claim(
        self,
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease_seconds: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
        kinds: Sequence[str] | None = None,
    ) -> builtins.list[Job]:
        """Take up to ``limit`` due jobs (first those a long-poll already took)."""
        return self.complete_and_claim(
            (), queues, worker, limit=limit, lease_seconds=lease_seconds, pid=pid, kinds=kinds
        )[1]

    def complete_and_claim(
        self,
        done: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]],
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease_seconds: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
        kinds: Sequence[str] | None = None,
    ) -> tuple[builtins.list[int], builtins.list[Job]]:
        """Complete ``done`` and take up to ``limit`` due jobs, in one request and one
        transaction; returns (ids completed, jobs claimed). ``kinds``: only these."""
        seconds = _seconds(lease_seconds)
        with self._lock:
            self._last_claim = (queues, worker, limit, seconds, pid, 0.0, (), kinds)
            taken, self._stash = self._stash[:limit], self._stash[limit:]
        if taken or len(done) > _DONE_PER_REQUEST:
            # Jobs already in hand, or more finished jobs than one claim carries.
            completed = self.complete_many(done)
            return completed, taken or self._claim(
                queues, worker, limit, seconds, pid, 0, (), kinds
            )[1]
        return self._claim(queues, worker, limit, seconds, pid, 0, done, kinds)

    def wait_for_work(self, seen: int, timeout: float) -> bool:
        """Long-poll a claim with the worker's last arguments; keep what it takes."""
        with self._lock:
            last = self._last_claim
            if self._stash:
                return True
        if last is None:
            time.sleep(min(timeout, 1.0))
            return False
        queues, worker, limit, seconds, pid, _, _, kinds = last
        _, jobs = self._claim(queues, worker, limit, seconds, pid, timeout, (), kinds)
        with self._lock:
            self._stash.extend(jobs)
            if jobs:
                self._generation += 1
        return bool(jobs)

    def wake_generation(self) -> int:
        """Changes when a long-poll took jobs."""
        return self._generation

    def release_unstarted(self) -> None:
        """Give back jobs a long-poll took that the worker never asked for."""
        with self._lock:
            stash, self._stash = self._stash, []
        for job in stash:
            with suppress(ChronologError):
                self.release(job.id, job.lease, "worker stopped before starting it")

    cancel_wait = 5.0
    """How long one look of a worker's cancel watch waits on the server for a cancel."""

    def cancelled(self, job_ids: Sequence[int], *, wait: float = 0.0) -> builtins.list[int]:
        """Which of ``job_ids`` are cancelled; with ``wait``, the server holds the request
        until one is, any cancel happened, or ``wait`` seconds passed."""
        body = {"ids": [int(i) for i in job_ids], "wait_seconds": wait}
        timeout = None if not wait else wait + 30.0
        answer = self._client.request("POST", "/jobs/cancelled", json=body, timeout=timeout)
        return [int(i) for i in answer["cancelled"]]

    def heartbeat(
        self,
        job_id: int,
        lease: int,
        *,
        progress: float | None = None,
        progress_text: str | None = None,
        pid: int | None = None,
        extend: timedelta | float = DEFAULT_LEASE,
    ) -> bool:
        """Renew a lease; ``False`` when the job was cancelled (stop it)."""
        body = {
            "lease": lease,
            "progress": progress,
            "progress_text": progress_text,
            "pid": pid,
            "extend_seconds": _seconds(extend),
        }
        answer = self._client.request("POST", f"/jobs/{int(job_id)}/heartbeat", json=body)
        return not answer["cancelled"]

    def log(self, job_id: int, level: str, message: str, *, lease: int, **fields: Any) -> None:
        """Append one line to a running job's log."""
        self.log_many(job_id, lease, [(level, message, fields or None)])

    def log_many(
        self,
        job_id: int,
        lease: int,
        lines: Sequence[tuple[str, str, Mapping[str, Any] | None]]
        | Sequence[tuple[str, str, Mapping[str, Any] | None, datetime]],
    ) -> None:
        """Append lines ``(level, message, fields[, at])`` in one transaction."""
        body = {
            "lease": lease,
            "lines": [
                {
                    "level": line[0],
                    "message": line[1],
                    "fields": None if line[2] is None else dict(line[2]),
                    "at": _time(line[3]) if len(line) > 3 else None,
                }
                for line in lines
            ],
        }
        self._client.request("POST", f"/jobs/{int(job_id)}/logs", json=body)

    def complete(self, job_id: int, lease: int, result: Mapping[str, Any] | None = None) -> None:
        """Complete a running job (``LeaseLost`` when the lease is stale)."""
        body = {"lease": lease, "result": None if result is None else dict(result)}
        self._client.request("POST", f"/jobs/{int(job_id)}/complete", json=body)

    def complete_many(
        self, items: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]]
    ) -> builtins.list[int]:
        """Complete jobs in one request (one transaction) per 1,000; stale ones are skipped
        and left out of the returned ids."""
        done: builtins.list[int] = []
        for start in range(0, len(items), _DONE_PER_REQUEST):
            body = {"jobs": _done_json(items[start : start + _DONE_PER_REQUEST])}
            done += self._client.request("POST", "/jobs/complete", json=body)["completed"]
        return done

    def fail(
        self,
        job_id: int,
        lease: int,
        error: str,
        *,
        retry: bool = True,
        retry_in: timedelta | float | None = None,
    ) -> Job:
        """Record a failed attempt."""
        body = {
            "lease": lease,
            "error": error,
            "retry": retry,
            "retry_in": None if retry_in is None else _seconds(retry_in),
        }
        return Job.from_dict(self._client.request("POST", f"/jobs/{int(job_id)}/fail", json=body))

    def release(self, job_id: int, lease: int, reason: str = "worker shutting down") -> Job:
        """Give a running job back (the attempt is not counted)."""
        body = {"lease": lease, "reason": reason}
        return Job.from_dict(
            self._client.request("POST", f"/jobs/{int(job_id)}/release", json=body)
        )
