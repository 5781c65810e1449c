"""Test helpers: call an app in-process through a plain (sync) ``httpx.Client``.

``httpx.ASGITransport`` is async only; :class:`SyncASGITransport` runs it on
an event loop in a helper thread (an anyio blocking portal), so synchronous
code — :class:`chronolog.Client` included — can talk to an app without a
socket::

    with SyncASGITransport(create_app(cl)) as transport:
        http = httpx.Client(transport=transport, base_url="http://chronolog")
        client = Client("http://chronolog", token, http=http)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

__all__ = ["SyncASGITransport"]


class SyncASGITransport(httpx.BaseTransport):
    """A synchronous transport that hands each request to an ASGI app."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._asgi.handle_async_request(forwarded)
            content = await response.aread()
            await response.aclose()
            return response.status_code, response.headers.raw, content

        status, headers, content = self._portal.call(call)
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._portal.call(self._asgi.aclose)
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> SyncASGITransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        self.close()
