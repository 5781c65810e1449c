"""``Client(base_url, token)``: chronolog's verbs over HTTP.

Each part of the library has a sub-object with the same method names,
arguments and value types as ``cl.<part>``: ``client.events.record(…)``
returns the event id like ``cl.events.record(…)``, and a refused request
raises the same exception class the library would (``ValidationError``,
``NotFound``, ``Conflict`` …), rebuilt from the error body's ``code``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
import orjson

from . import errors
from .errors import ChronologError, StoreUnavailable
from .models import Actor, Event, NewEvent, Page, Target

__all__ = ["Client", "RemoteEvents"]

_ERRORS: dict[str, type[ChronologError]] = {
    cls.code: cls
    for cls in (getattr(errors, name) for name in errors.__all__)
    if isinstance(cls, type) and issubclass(cls, ChronologError)
}
_ERRORS.update({"invalid_json": errors.ValidationError, "bad_request": errors.ValidationError})


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


def event_from_json(data: Mapping[str, Any]) -> Event:
    """Rebuild an :class:`Event` from its JSON form."""
    actor, target = data.get("actor"), data.get("target")
    return Event(
        id=int(data["id"]),
        project=data["project"],
        occurred_at=datetime.fromisoformat(data["occurred_at"]),
        event_type=data["event_type"],
        action=data["action"],
        status=data["status"],
        actor=Actor(actor["type"], actor.get("id"), actor.get("name")) if actor else None,
        target=Target(target["type"], target.get("id"), target.get("title")) if target else None,
        error=data.get("error"),
        metadata=data.get("metadata"),
    )


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
        self._owns = http is None
        self._http = http or httpx.Client(timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self.events = RemoteEvents(self)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request to ``/api/v1{path}``; return the JSON body or raise chronolog's error."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                f"{self.base_url}/api/v1{path}",
                content=None if json is None else orjson.dumps(json, default=_plain),
                params=query,
                headers=self._headers if json is None else self._json_headers,
            )
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"chronolog server unreachable at {self.base_url}: {exc}"
            ) from exc
        _raise_for(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def whoami(self) -> dict[str, Any]:
        """The token's project, role and user."""
        result: dict[str, Any] = self.request("GET", "/whoami")
        return result

    def close(self) -> None:
        """Close the connection pool (unless it was passed in)."""
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
        return int(self._client.request("POST", "/events", json=body)["id"])

    def record_many(self, items: Iterable[NewEvent | Mapping[str, Any]]) -> list[int]:
        """Record a batch in one transaction, all or nothing; returns ids in input order.

        The server caps a batch (1000 events by default); a larger one is
        refused with ``TooLarge`` rather than split, so the call stays atomic.
        """
        # NewEvent, Actor, Target and datetimes serialise natively in orjson (fast);
        # naive datetimes go out without a zone and are refused by the server.
        body = {"events": [i if isinstance(i, NewEvent) else _event_body(i) for i in items]}
        return [int(i) for i in self._client.request("POST", "/events", json=body)["ids"]]

    def get(self, event_id: int) -> Event:
        """One event by id (``NotFound`` if it is not in the token's project)."""
        return event_from_json(self._client.request("GET", f"/events/{int(event_id)}"))

    def recent(self, limit: int = 20) -> list[Event]:
        """The newest events, newest first."""
        rows = self._client.request("GET", "/events/recent", params={"limit": limit})
        return [event_from_json(r) for r in rows]

    def set_status(self, event_id: int, status: str, error: str | None = None) -> Event:
        """Move an event along its lifecycle."""
        body = {"status": status, "error": error}
        return event_from_json(self._client.request("PATCH", f"/events/{int(event_id)}", json=body))

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
        """Events newest first, every filter of ``cl.events.query``."""
        params = {
            "event_types": _csv(event_types),
            "actions": _csv(actions),
            "actor_types": _csv(actor_types),
            "actor_id": actor_id,
            "target_type": target_type,
            "target_id": None if target_id is None else str(target_id),
            "statuses": _csv(statuses),
            "search": search,
            "date_range": date_range,
            "since": _time(since),
            "until": _time(until),
            "page": page,
            "limit": limit,
            "cursor": cursor,
            "with_total": "true" if with_total else "false",
        }
        body = self._client.request("GET", "/events", params=params)
        return Page(
            items=[event_from_json(r) for r in body["items"]],
            total=body["total"],
            page=body["page"],
            limit=body["limit"],
            next_cursor=body["next_cursor"],
        )
