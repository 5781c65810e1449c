"""Fixtures for the HTTP tests: an app over the test's database, tokens, clients, and a
real uvicorn serving it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from chronolog import Chronolog, Client
from chronolog._scope import Limits
from chronolog.server import create_app
from chronolog.server.testing import SyncASGITransport

BASE = "http://chronolog"


@dataclass
class Api:
    """An app on the test database, with an admin token for project ``default``."""

    cl: Chronolog
    http: httpx.Client
    admin: str
    app: Any
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def token(self, role: str = "admin", project: str = "default") -> str:
        key = (project, role)
        if key not in self.tokens:
            if project != "default" and project not in {p.name for p in self.cl.projects.list()}:
                self.cl.projects.create(project)
            view = self.cl.using(project)
            self.tokens[key] = view.auth.create_token(f"{role} test", role).secret  # type: ignore[arg-type]
        return self.tokens[key]

    def call(
        self, method: str, path: str, *, token: str | None = "admin", **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            secret = self.admin if token == "admin" else token
            headers["Authorization"] = f"Bearer {secret}"
        url = (
            path
            if path.startswith(("/health", "/ready", "/metrics", "/openapi", "/docs"))
            else f"/api/v1{path}"
        )
        return self.http.request(method, url, headers=headers, **kwargs)

    def client(self, token: str | None = None) -> Client:
        return Client(BASE, token or self.admin, http=self.http)


def make_api(cl: Chronolog, **options: Any) -> Iterator[Api]:
    app = create_app(cl, **options)
    with (
        SyncASGITransport(app) as transport,
        # A browser's form posts carry Origin; the dashboard refuses those without one.
        httpx.Client(transport=transport, base_url=BASE, headers={"Origin": BASE}) as http,
    ):
        admin = cl.auth.create_token("test admin", "admin").secret
        yield Api(cl, http, admin, app)


@pytest.fixture
def api(cl: Chronolog) -> Iterator[Api]:
    """The service over the test's database (both backends)."""
    yield from make_api(cl, limits=Limits(batch_size=50, page_size=100, metadata_bytes=4096))


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error body, checked to be in the one shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


@contextmanager
def serving(cl: Chronolog, **options: Any) -> Iterator[str]:
    """The service over ``cl`` on a real uvicorn (in a thread, a free loopback port): its URL.

    Stop what follows its streams before leaving: shutting down waits for open
    connections.
    """
    with serving_app(create_app(cl, **options)) as url:
        yield url


@contextmanager
def serving_app(app: Any) -> Iterator[str]:
    """:func:`serving` for an app the test made (to look at ``app.state`` meanwhile)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
