"""Defence in depth on the dashboard and the docs (issue 14.13): security headers,
form posts need an Origin or Referer of ours, no redirect is built from ``Host``,
and ``/docs`` is served from the package."""

from __future__ import annotations

import re

import httpx
import pytest

from chronolog.server.middleware import CSP, DOCS_CSP
from chronolog.server.testing import SyncASGITransport

from ._http import BASE, Api


@pytest.fixture
def bare(api: Api) -> httpx.Client:
    """A client that sends no Origin (the API fixture's sends ours)."""
    transport = SyncASGITransport(api.app)
    client = httpx.Client(transport=transport, base_url=BASE)
    yield client
    client.close()
    transport.close()


def _login(http: httpx.Client, token: str, **headers: str) -> httpx.Response:
    return http.post(
        "/login", data={"token": token, "next": "/"}, headers=headers, follow_redirects=False
    )


def test_every_response_carries_the_security_headers(api: Api) -> None:
    api.http.post("/login", data={"token": api.admin, "next": "/"})
    for path in ("/", "/activity", "/login", "/jobs", "/static/app.js", "/api/v1/events"):
        response = api.http.get(path, headers={"Authorization": f"Bearer {api.admin}"})
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP, path
        assert "frame-ancestors 'none'" in CSP
        assert "script-src 'self'" in CSP
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    assert api.http.get("/docs").headers["content-security-policy"] == DOCS_CSP
    missing = api.http.get("/no/such/page")
    assert missing.headers["x-frame-options"] == "DENY"


def test_form_posts_need_an_origin_or_referer_of_ours(api: Api, bare: httpx.Client) -> None:
    refused = _login(bare, api.admin)
    assert refused.status_code == 401
    assert "cross-site" in refused.text
    assert "set-cookie" not in refused.headers
    foreign = _login(bare, api.admin, Referer="https://evil.example/page")
    assert foreign.status_code == 401
    assert _login(bare, api.admin, Origin="null").status_code == 401
    ok = _login(bare, api.admin, Referer=f"{BASE}/login?next=/")
    assert ok.status_code == 303
    assert "chronolog_tokens=" in ok.headers["set-cookie"]
    # Job actions: refused without either header, and nothing changes.
    job = api.cl.jobs.enqueue("x")
    api.cl.jobs.cancel(job.id)
    bare.cookies.update(ok.cookies)
    retry = bare.post(f"/jobs/{job.id}/retry", follow_redirects=False)
    assert retry.status_code == 403
    assert api.cl.jobs.get(job.id).state == "cancelled"
    done = bare.post(f"/jobs/{job.id}/retry", headers={"Origin": BASE}, follow_redirects=False)
    assert done.status_code == 303
    assert api.cl.jobs.get(job.id).state == "pending"
    logout = bare.post("/logout", follow_redirects=False)
    assert "chronolog_tokens" not in logout.headers.get("set-cookie", "")


def test_no_redirect_is_built_from_the_host_header(api: Api) -> None:
    api.http.post("/login", data={"token": api.admin, "next": "/"})
    spoofed = {"Host": "evil.example"}
    paths = [
        "/activity/",
        "/jobs/",
        "/login/",
        "/docs/",
        "/static",
        "/api/v1/events/",
        "/entities/",
        "/",
        "/activity?cursor=x",
    ]
    for path in paths:
        response = api.http.get(path, headers=spoofed, follow_redirects=False)
        location = response.headers.get("location", "")
        assert "evil.example" not in location, (path, location)
        assert not location.startswith(("http:", "https:", "//")), (path, location)
    api.http.cookies.clear()
    response = api.http.get("/charts", headers=spoofed, follow_redirects=False)
    assert response.headers["location"].startswith("/login?next=")


def test_docs_are_served_from_the_package(api: Api) -> None:
    page = api.http.get("/docs")
    assert page.status_code == 200
    assert "<script>" not in page.text  # no inline script: the CSP allows none
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    for source in sources:
        assert source.startswith("/"), source  # nothing from a CDN
        asset = api.http.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 100, source
    assert api.http.get("/redoc").status_code == 404  # it loaded from a CDN: gone
    assert api.http.get("/openapi.json").json()["info"]["title"] == "chronolog"
