"""ASGI middleware: request guards (body size, unusable text) and metrics.

Pure ASGI rather than ``BaseHTTPMiddleware``: no extra task per request, and
streaming responses (the feed's SSE, later) pass through untouched.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics

__all__ = ["GuardMiddleware", "MetricsMiddleware", "SecurityHeadersMiddleware"]


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message, "details": {}}})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
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


class GuardMiddleware:
    """Refuse bodies over ``max_body_bytes`` (413) and paths or queries with NUL (400).

    The body is read whole (up to the limit) before the app runs, so an
    oversize upload is refused without the app seeing a byte of it.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

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
        if _unusable(scope.get("path", "")) or any(_unusable(k + v) for k, v in pairs):
            await _send_error(
                send, 400, "bad_request", "the path or query holds NUL or invalid characters"
            )
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, 400, "bad_request", "Content-Length is not a number")
                    return
                if declared > limit:
                    await _send_error(
                        send, 413, "too_large", f"the request body is over {limit} bytes"
                    )
                    return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_error(send, 413, "too_large", f"the request body is over {limit} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


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
