"""In a real Chromium (issue 14.13): ``/docs`` renders with no network beyond the server,
and the dashboard's pages break no rule of their Content-Security-Policy."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from chronolog import Chronolog
from chronolog.server import create_app

from .test_dashboard_browser import ARGS, CHROMIUM, _free_port

if not Path(CHROMIUM).exists():
    if os.environ.get("CHRONOLOG_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-browser")
    pytest.skip(f"{CHROMIUM} not installed (scripts/install-browser)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Chronolog]]:
    path = tmp_path_factory.mktemp("csp") / "csp.db"
    with Chronolog(f"sqlite:///{path}") as cl:
        for i in range(30):
            cl.events.record("scan", f"a{i}", target={"type": "movie", "id": str(i)})
        cl.jobs.enqueue("rip")
        token = cl.auth.create_token("browser", "admin").secret
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(cl), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", token, cl
        finally:
            server.should_exit = True
            thread.join(10)


def test_docs_render_offline_and_pages_keep_their_csp(
    served: tuple[str, str, Chronolog],
) -> None:
    base, token, cl = served
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            context.set_default_timeout(15_000)
            elsewhere: list[str] = []
            context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(base)
                    else (elsewhere.append(route.request.url), route.abort())
                ),
            )
            page = context.new_page()
            violations: list[str] = []
            page.on(
                "console",
                lambda m: (
                    violations.append(m.text) if "Content Security Policy" in m.text else None
                ),
            )
            page.goto(f"{base}/docs")
            page.wait_for_selector(".swagger-ui .info .title")
            assert "chronolog" in page.locator(".swagger-ui .info .title").inner_text()
            page.wait_for_selector(".opblock-tag-section")
            assert elsewhere == []  # nothing from a CDN
            page.goto(f"{base}/login")
            page.fill("#token", token)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            for path in ("/", "/charts", "/jobs", "/entities"):
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
            page.goto(f"{base}/activity")
            page.wait_for_selector("#live-state:text-is('Live')")
            cl.events.record(
                "scan", "arrives live", target={"type": "movie", "id": "x", "title": "Live"}
            )
            page.wait_for_selector("#rows tr:first-child:has-text('Live')")
            assert violations == [], violations
        finally:
            browser.close()
