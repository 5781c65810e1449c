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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .._scope import Limits
from ..auth import Principal, Role
from ..core import Chronolog
from ..errors import Unauthorized, ValidationError
from ..models import Actor, Page
from .metrics import Metrics

__all__ = [
    "Context",
    "JsonBody",
    "PageDep",
    "PageParams",
    "ServerState",
    "check_json",
    "comma_list",
    "json_body",
    "page_body",
    "principal_actor",
    "require",
    "state_of",
]


class ServerState:
    """What one app holds: the root store view, its limits, metrics, and project views."""

    def __init__(self, root: Chronolog, *, owns: bool, limits: Limits, metrics: Metrics) -> None:
        self.root = root
        self.owns = owns
        self.limits = limits
        self.metrics = metrics
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
        principal = state.root.auth.authenticate(credentials.credentials)
        state.root.auth.check(principal, role)
        return Context(principal, state.view(principal.project), state)

    dependency.__name__ = f"require_{role}"
    return dependency


@dataclass(frozen=True, slots=True)
class PageParams:
    """``page`` + ``limit`` (offset paging) or ``cursor`` (keyset paging)."""

    page: int
    limit: int
    cursor: str | None


def _page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number.")] = 1,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Items per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="The `next_cursor` of the previous page."),
    ] = None,
) -> PageParams:
    return PageParams(page, limit, cursor)


PageDep = Annotated[PageParams, Depends(_page_params)]


def page_body(page: Page[Any], item: Callable[[Any], Any]) -> dict[str, Any]:
    """A page as JSON: ``{"items", "total", "page", "limit", "next_cursor"}``."""
    return {
        "items": [item(i) for i in page.items],
        "total": page.total,
        "page": page.page,
        "limit": page.limit,
        "next_cursor": page.next_cursor,
    }


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
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": str(exc)}]
        ) from None
    if b"\\u0000" in raw:
        check_json(data)
    return data


JsonBody = Annotated[Any, Depends(json_body)]
"""A route parameter holding the parsed JSON body (for hot or free-form bodies)."""
