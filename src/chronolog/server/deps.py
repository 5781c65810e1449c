"""What every routes module shares: the server state, auth, roles, paging, input checks.

A route declares what it needs and gets a project-scoped :class:`Chronolog`::

    @router.get("/things")
    def things(ctx: Annotated[Context, Depends(require("read"))]) -> ...:
        ctx.cl.things.list()     # only ever this token's project

Nothing else hands a route a store, so a route cannot reach another
project's rows: the project comes from the token, never from the request.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .._json import WideInteger, loads_checked
from .._scope import Limits
from ..auth import Principal, Role
from ..core import Chronolog
from ..errors import ChronologError, Unauthorized, ValidationError
from ..models import Actor, Page
from .live import Live
from .metrics import Metrics
from .middleware import PRINCIPAL

__all__ = [
    "Context",
    "JsonBody",
    "ServerState",
    "bounded_list",
    "check_json",
    "comma_list",
    "json_body",
    "optional_principal",
    "page_body",
    "principal_actor",
    "require",
    "state_of",
]


class ServerState:
    """What one app holds: the root store view, its limits, metrics, and project views."""

    def __init__(
        self, root: Chronolog, *, owns: bool, limits: Limits, metrics: Metrics, live: Live
    ) -> None:
        self.root = root
        self.owns = owns
        self.limits = limits
        self.metrics = metrics
        self.live = live
        """Open streams' slots, their tokens' watch, and the live views' executor."""
        self._views: dict[str, Chronolog] = {}
        self._lock = threading.Lock()

    def view(self, project: str) -> Chronolog:
        """The store seen from ``project`` (cached: projects are never renamed or dropped)."""
        cl = self._views.get(project)
        if cl is None:
            fresh = Chronolog(
                project=project,
                limits=self.limits,
                clock=self.root.scope.clock,
                _store=self.root.store,
            )
            with self._lock:
                cl = self._views.setdefault(project, fresh)
        return cl


def state_of(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving ``request``."""
    state: ServerState = request.app.state.chronolog
    return state


@dataclass(frozen=True, slots=True)
class Context:
    """A request's authenticated view: the token's principal and its project's store."""

    principal: Principal
    cl: Chronolog
    state: ServerState

    @property
    def actor(self) -> Actor:
        """Who a write is recorded as when the request names no actor: the token's
        member (``user``), else the token itself (``token``, shown as ``token #3``)."""
        return principal_actor(self.principal)


def principal_actor(principal: Principal) -> Actor:
    """The actor of a token's writes: its member (``user``), else the token (``token``)."""
    if principal.user is not None:
        return Actor("user", principal.user)
    return Actor("token", str(principal.token_id))


_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer chl_…`")


def require(role: Role) -> Callable[..., Context]:
    """A dependency: authenticate the bearer token and demand at least ``role``."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Context:
        if credentials is None:
            raise Unauthorized("this route needs an API token: Authorization: Bearer <token>")
        state = state_of(request)
        # The guard middleware authenticated the token from the headers already.
        principal = getattr(request.state, PRINCIPAL, None)
        if principal is None:
            principal = state.root.auth.authenticate(credentials.credentials)
        state.root.auth.check(principal, role)
        return Context(principal, state.view(principal.project), state)

    dependency.__name__ = f"require_{role}"
    return dependency


def optional_principal(request: Request) -> Principal | None:
    """The principal of the request's bearer token, or ``None`` (no token, a bad one, or a
    database that cannot say): for routes that answer everyone but tell more to callers
    who authenticate (health, readiness)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return state_of(request).root.auth.authenticate(token.strip())
    except ChronologError:
        return None


def page_body(page: Page[Any], item: Callable[[Any], Any]) -> dict[str, Any]:
    """A page as JSON: ``{"items", "total", "page", "limit", "next_cursor"}``."""
    return {
        "items": [item(i) for i in page.items],
        "total": page.total,
        "page": page.page,
        "limit": page.limit,
        "next_cursor": page.next_cursor,
    }


ListLimit = Annotated[int, Query(ge=1, le=10_000, description="Items at most.")]
"""The ``limit`` of a list answer (also cut at about a MiB)."""


def bounded_list(
    request: Request,
    items: Sequence[Any],
    to_json: Callable[[Any], Any],
    *,
    after: str,
    key: Callable[[Any], Any],
    limit: int | None,
) -> Response:
    """A list answer of at most ``limits.page_bytes`` of JSON (at least one item). When it
    is cut, or holds ``limit`` items, a ``Link: <…?after=K>; rel="next"`` header says
    where the rest starts (``K``: ``key`` of the last item)."""
    budget = state_of(request).limits.page_bytes
    parts: list[bytes] = []
    size = 0
    for item in items:
        data = orjson.dumps(to_json(item))
        size += len(data)
        if parts and size > budget:
            break
        parts.append(data)
    body = b"[" + b",".join(parts) + b"]"
    response = Response(body, media_type="application/json")
    if parts and (len(parts) < len(items) or (limit is not None and len(items) >= limit)):
        query = [(k, v) for k, v in request.query_params.multi_items() if k != after]
        query.append((after, str(key(items[len(parts) - 1]))))
        response.headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return response


def comma_list(value: str | None) -> list[str] | None:
    """``"a,b, c"`` → ``["a", "b", "c"]``; empty or missing → ``None`` (no filter)."""
    if value is None:
        return None
    items = [part.strip() for part in value.split(",")]
    return [i for i in items if i] or None


def check_json(value: Any, where: str = "body") -> None:
    """Refuse what no database stores faithfully, anywhere in parsed JSON: text with NUL
    or lone surrogates, and numbers out of JSON's range (``1e400`` parses as infinity)."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or (not item.isascii() and _bad_unicode(item)):
                raise ValidationError(f"{path} holds NUL or invalid unicode", field=path)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(f"{path} is not a finite number", field=path)
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, path))
                stack.append((child, f"{path}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def _bad_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


async def json_body(request: Request) -> Any:
    """The request body parsed with orjson, strictly: what no database stores is refused.

    orjson already refuses lone surrogates, raw control characters, NaN and
    numbers that overflow to infinity; an escaped NUL (``\\u0000``) is the one
    thing left, looked for in the raw bytes before walking the document.
    """
    raw = await request.body()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "a JSON body is required"}]
        )
    try:
        data = loads_checked(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": str(exc)}]
        ) from None
    except WideInteger as exc:
        # orjson would have read it as a float, silently losing digits.
        raise ValidationError(
            f"the body holds the integer {str(exc.number)[:40]}, outside the signed 64-bit "
            "range; send it as a string",
            field="body",
        ) from None
    if b"\\u0000" in raw:
        check_json(data)
    return data


JsonBody = Annotated[Any, Depends(json_body)]
"""A route parameter holding the parsed JSON body (for hot or free-form bodies)."""
