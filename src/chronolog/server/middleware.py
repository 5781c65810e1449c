"""ASGI middleware: request guards (authentication first, body caps, unusable text),
security headers and metrics.

Pure ASGI rather than ``BaseHTTPMiddleware``: no extra task per request, and
streaming responses (the feed's SSE, later) pass through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics

__all__ = ["PRINCIPAL", "GuardMiddleware", "MetricsMiddleware", "SecurityHeadersMiddleware"]


async def _send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    close: bool = False,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """An error in the one shape. ``close``: the request's body was not read, so the
    connection is closed after the answer rather than drained."""
    body = orjson.dumps({"error": {"code": code, "message": message, "details": {}}})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _unusable(text: str) -> bool:
    """NUL and lone surrogates: no database can store them as text."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PRINCIPAL = "chronolog_principal"
"""Where the guard leaves the authenticated principal in the request's ``scope["state"]``."""


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class _TooLarge(HTTPException):
    """The body went over its cap while the app read it: an HTTP error, so FastAPI's
    body parsing passes it on and the error handlers answer 413 in the one shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes", {"Connection": "close"})


class GuardMiddleware:
    """Check what can be checked before a request costs anything, then stream its body
    under a cap.

    - a path or query with NUL or invalid text: 400;
    - a declared ``Content-Length`` over the cap: 413, before a byte is read;
    - under the API prefix, the bearer token is authenticated **from the headers,
      before the body is read**: a stranger gets 401, and a token that may not write
      gets 403 on a write method, without the server holding any of their body (the
      principal is passed on to the route, which does not authenticate again);
    - a body is never buffered here: it streams to the app, counted, and is cut
      off with 413 once over ``max_body_bytes`` (``max_form_bytes`` for requests
      outside the API: the dashboard's forms, which come with a cookie rather
      than a token).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        authenticate: Callable[[str], Awaitable[Any]] | None = None,
        may_write: Callable[[Any], bool] | None = None,
        prefix: str = "/api/v1",
        max_form_bytes: int = 64 * 1024,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_form_bytes = max_form_bytes
        self.authenticate = authenticate
        self.may_write = may_write
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            await _send_error(send, 400, "bad_request", "the query string is not valid UTF-8")
            return
        path = scope.get("path", "")
        if _unusable(path) or any(_unusable(k + v) for k, v in pairs):
            await _send_error(
                send, 400, "bad_request", "the path or query holds NUL or invalid characters"
            )
            return
        api = path == self.prefix or path.startswith(self.prefix + "/")
        limit = self.max_body_bytes if api else self.max_form_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(
                        send, 400, "bad_request", "Content-Length is not a number", close=True
                    )
                    return
                if declared > limit:
                    await _send_error(
                        send,
                        413,
                        "too_large",
                        f"the request body is over {limit} bytes",
                        close=True,
                    )
                    return
        if api and self.authenticate is not None and not await self._admit(scope, send):
            return
        await self._stream(scope, receive, send, limit)

    async def _admit(self, scope: Scope, send: Send) -> bool:
        """Authenticate the bearer token from the headers; answer and refuse if it fails."""
        from ..errors import ChronologError
        from .errors import status_for

        assert self.authenticate is not None
        token = _bearer(scope)
        if token is None:
            await _send_error(
                send,
                401,
                "unauthorized",
                "this route needs an API token: Authorization: Bearer <token>",
                close=True,
            )
            return False
        try:
            principal = await self.authenticate(token)
        except ChronologError as exc:
            await _send_error(send, status_for(exc), exc.code, exc.message, close=True)
            return False
        if scope.get("method") in _WRITES and self.may_write and not self.may_write(principal):
            await _send_error(
                send,
                403,
                "forbidden",
                f"this needs the write role; the token has {principal.role}",
                close=True,
            )
            return False
        scope.setdefault("state", {})[PRINCIPAL] = principal
        return True

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        size = 0
        answered = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise _TooLarge(limit)
            return message

        async def guarded(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            if answered:
                raise
            await _send_error(
                send, 413, "too_large", f"the request body is over {limit} bytes", close=True
            )


class MetricsMiddleware:
    """Count requests and time them per route template."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, prefix: str) -> None:
        self.app = app
        self.metrics = metrics
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            # Routes of an included router carry their path without the API prefix.
            path = scope.get("path", "")
            if (
                route is not None
                and path.startswith(self.prefix + "/")
                and not template.startswith(self.prefix + "/")
            ):
                template = self.prefix + template
            self.metrics.observe(
                scope.get("method", "GET"), template, status, time.perf_counter() - started
            )


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The dashboard's and the API's Content-Security-Policy: nothing from elsewhere, no
inline script (inline style attributes run no code, and nothing may be loaded from
another origin to leak through them)."""

DOCS_CSP = CSP.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';")
"""Swagger UI at ``/docs`` writes ``<style>`` elements of its own."""

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    """Add defence-in-depth headers to every response: a Content-Security-Policy
    (``frame-ancestors 'none'``), ``X-Frame-Options: DENY``, ``X-Content-Type-Options:
    nosniff`` and ``Referrer-Policy: same-origin``, unless a route set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path == "/docs" else CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                for name, value in (*_COMMON, (b"content-security-policy", csp.encode())):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
