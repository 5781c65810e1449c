"""Fixtures for the HTTP tests: an app over the test's database, tokens, clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

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
            if path.startswith(("/health", "/metrics", "/openapi", "/docs"))
            else f"/api/v1{path}"
        )
        return self.http.request(method, url, headers=headers, **kwargs)

    def client(self, token: str | None = None) -> Client:
        return Client(BASE, token or self.admin, http=self.http)


def make_api(cl: Chronolog, **options: Any) -> Iterator[Api]:
    app = create_app(cl, **options)
    with (
        SyncASGITransport(app) as transport,
        httpx.Client(transport=transport, base_url=BASE) as http,
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
