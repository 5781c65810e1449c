"""The dashboard in a real headless Chromium (Debian's ``chromium``) against a real uvicorn.

Run ``scripts/install-browser`` first. Without ``/usr/bin/chromium`` these
tests skip, unless ``CHRONOLOG_REQUIRE_BROWSER=1`` (CI), where they fail.
Screenshots of every page go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn

from chronolog import Chronolog
from chronolog.cli.demo import build_scenarios
from chronolog.server import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

if not Path(CHROMIUM).exists():
    if os.environ.get("CHRONOLOG_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-browser")
    pytest.skip(f"{CHROMIUM} not installed (scripts/install-browser)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Site:
    url: str
    cl: Chronolog
    tokens: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo data (every scenario) served by uvicorn on a free loopback port."""
    path = tmp_path_factory.mktemp("dash") / "demo.db"
    with Chronolog(f"sqlite:///{path}") as cl:
        built = build_scenarios(cl)
        tokens = {p: cl.using(p).auth.create_token("browser", "admin").secret for p in built}
        tokens["read"] = cl.using("rip-pipeline").auth.create_token("viewer", "read").secret
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(cl), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield Site(f"http://127.0.0.1:{port}", cl, tokens)
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object, site: Site) -> Iterator[object]:
    # bypass_csp: Playwright's wait_for_function evaluates its predicate with eval, which
    # the dashboard's CSP forbids; test_security_browser.py checks the pages under it.
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def log_in(page: object, site: Site, *tokens: str) -> None:
    page.goto(f"{site.url}/")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    page.fill("#token", " ".join(tokens))  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{site.url}/")  # type: ignore[attr-defined]


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_log_in_and_see_every_page(page: object, site: Site, browser: object) -> None:
    p = page
    p.goto(f"{site.url}/login")  # type: ignore[attr-defined]
    shot(p, "login")
    log_in(p, site, site.tokens["default"], site.tokens["rip-pipeline"])
    assert p.locator("h1").inner_text().startswith("Overview")  # type: ignore[attr-defined]
    assert p.locator("#project option").all_inner_texts() == ["default", "rip-pipeline"]  # type: ignore[attr-defined]
    shot(p, "overview")
    # Keyboard: the first Tab reaches the skip link.
    p.keyboard.press("Tab")  # type: ignore[attr-defined]
    assert p.evaluate("document.activeElement.className") == "skip"  # type: ignore[attr-defined]
    for name, path, expect in (
        ("activity", "/activity", "matching events"),
        ("charts", "/charts?window=1d&group=event_type", "events · last 1d"),
        ("entities", "/entities", "Entities"),
        ("jobs", "/jobs", "Per queue and state"),
        ("schedules", "/schedules", "library_scan on cleanup"),
    ):
        p.goto(site.url + path)  # type: ignore[attr-defined]
        assert expect in p.locator("main").inner_text(), name  # type: ignore[attr-defined]
        shot(p, name)
    # Switch project with the switcher (auto-submits on change).
    p.select_option("#project", "rip-pipeline")  # type: ignore[attr-defined]
    p.wait_for_url(f"{site.url}/")  # type: ignore[attr-defined]
    assert "rip-pipeline" in p.locator("h1").inner_text()  # type: ignore[attr-defined]
    p.goto(f"{site.url}/entities?kind=season")  # type: ignore[attr-defined]
    p.click("table.list a >> nth=0")  # type: ignore[attr-defined]
    assert p.locator(".pipeline .step.current").count() == 1  # type: ignore[attr-defined]
    shot(p, "entity")
    p.goto(f"{site.url}/jobs?state=running")  # type: ignore[attr-defined]
    p.click("table.jobs a >> nth=0")  # type: ignore[attr-defined]
    assert p.locator("#job-state").inner_text() == "running"  # type: ignore[attr-defined]
    shot(p, "job")
    # Dark mode and phone width.
    dark = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, color_scheme="dark"
    )
    try:
        phone = dark.new_page()
        log_in(phone, site, site.tokens["rip-pipeline"])
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the overview scrolls sideways at phone width ({width}px)"
        bg = phone.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(18, 20, 23)"
        shot(phone, "overview-phone-dark")
        phone.goto(f"{site.url}/activity")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        shot(phone, "activity-phone-dark")
    finally:
        dark.close()


def test_filter_the_activity_log(page: object, site: Site) -> None:
    p = page
    log_in(p, site, site.tokens["default"])
    p.goto(f"{site.url}/activity?range=all")  # type: ignore[attr-defined]
    p.check("input[name=event_types][value=deletion]")  # type: ignore[attr-defined]
    p.click("#filters button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_url(re.compile(r"event_types=deletion"))  # type: ignore[attr-defined]
    types = p.locator("#rows td.what .type").all_inner_texts()  # type: ignore[attr-defined]
    assert types
    assert set(types) == {"deletion"}
    expected = site.cl.events.query(event_types=["deletion"], limit=1).total
    assert f"{expected} matching event" in p.locator("main").inner_text()  # type: ignore[attr-defined]
    # Expand one event's metadata.
    p.click("#rows details summary >> nth=0")  # type: ignore[attr-defined]
    assert p.locator("#rows details[open] pre").count() == 1  # type: ignore[attr-defined]
    shot(p, "activity-filtered")


def test_new_events_appear_live_and_pause_holds_them(page: object, site: Site) -> None:
    p = page
    log_in(p, site, site.tokens["default"])
    p.goto(f"{site.url}/activity")  # type: ignore[attr-defined]
    p.wait_for_function("document.getElementById('live-state').textContent === 'Live'")  # type: ignore[attr-defined]
    time.sleep(0.3)  # the stream is open: the server follows the feed
    site.cl.events.record(
        "deletion", "deleted", target={"type": "media_item", "id": "901", "title": "Live One"}
    )
    p.wait_for_selector("#rows tr:first-child:has-text('Live One')")  # type: ignore[attr-defined]
    p.click("#pause")  # type: ignore[attr-defined]
    site.cl.events.record(
        "deletion", "deleted", target={"type": "media_item", "id": "902", "title": "Held Two"}
    )
    p.wait_for_selector("#pending:has-text('1 new while paused')")  # type: ignore[attr-defined]
    assert p.locator("#rows tr:has-text('Held Two')").count() == 0  # type: ignore[attr-defined]
    p.click("#pause")  # type: ignore[attr-defined]
    p.wait_for_selector("#rows tr:first-child:has-text('Held Two')")  # type: ignore[attr-defined]
    shot(p, "activity-live")


def test_a_chart_bucket_opens_the_log_filtered_to_it(page: object, site: Site) -> None:
    p = page
    log_in(p, site, site.tokens["jetstream"])
    p.goto(f"{site.url}/charts?window=1d&group=action")  # type: ignore[attr-defined]
    bucket = p.locator("a.bucket:has(rect.c0) >> nth=-1")  # type: ignore[attr-defined]
    title = bucket.locator("title").text_content()
    count = int(re.search(r": (\d+) events", title).group(1))
    assert count > 0
    bucket.click()
    p.wait_for_url(re.compile(r"/activity\?range=custom"))  # type: ignore[attr-defined]
    assert f"{count} matching event" in p.locator("main").inner_text()  # type: ignore[attr-defined]
    shot(p, "chart-bucket")


def test_retry_a_failed_job_and_watch_its_log(page: object, site: Site, browser: object) -> None:
    jobs = site.cl.using("rip-pipeline").jobs
    (failed,) = jobs.failed()
    # A read-only token sees no write buttons.
    viewer = browser.new_context()  # type: ignore[attr-defined]
    try:
        tab = viewer.new_page()
        log_in(tab, site, site.tokens["read"])
        tab.goto(f"{site.url}/jobs/{failed.id}")
        assert tab.locator("button:has-text('Retry')").count() == 0
    finally:
        viewer.close()

    p = page
    log_in(p, site, site.tokens["rip-pipeline"])
    p.goto(f"{site.url}/jobs?state=failed")  # type: ignore[attr-defined]
    p.click(f"a[href='/jobs/{failed.id}']")  # type: ignore[attr-defined]
    p.click("button:has-text('Retry')")  # type: ignore[attr-defined]
    p.wait_for_url(re.compile(rf"/jobs/{failed.id}\?done=retry"))  # type: ignore[attr-defined]
    assert p.locator("#job-state").inner_text() == "pending"  # type: ignore[attr-defined]
    assert jobs.get(failed.id).state == "pending"
    # A worker takes it: the page follows the state, the progress and the log live.
    (claimed,) = [
        j for j in jobs.claim(["rip"], "ripper-02", limit=5, lease_seconds=600) if j.id == failed.id
    ]
    p.wait_for_function("document.getElementById('job-state').textContent === 'running'")  # type: ignore[attr-defined]
    for n in range(1, 4):
        jobs.log(claimed.id, "info", f"ripping title {n} of 3", lease=claimed.lease)
        jobs.heartbeat(claimed.id, claimed.lease, progress=n / 3, progress_text=f"title {n} of 3")
        p.wait_for_selector(f"#log li:has-text('ripping title {n} of 3')")  # type: ignore[attr-defined]
    assert "100%" in p.locator("#progress-text").inner_text()  # type: ignore[attr-defined]
    jobs.complete(claimed.id, claimed.lease, {"titles": 3})
    p.wait_for_function("document.getElementById('job-state').textContent === 'completed'")  # type: ignore[attr-defined]
    shot(p, "job-retried")


def test_schedules_page_shows_next_fires_and_pauses(page: object, site: Site) -> None:
    p = page
    log_in(p, site, site.tokens["media-manager"])
    p.click("nav[aria-label=Sections] >> text=Schedules")  # type: ignore[attr-defined]
    p.wait_for_url(f"{site.url}/schedules")  # type: ignore[attr-defined]
    row = p.locator('tr[data-schedule="reconcile-downloads"]')  # type: ignore[attr-defined]
    assert row.locator("th").text_content() == "reconcile-downloads"
    fires = row.locator("ol.fires time").evaluate_all("ts => ts.map(t => t.dateTime)")
    expected = site.cl.using("media-manager").jobs.schedules.next_fires("reconcile-downloads", 3)
    # The page may have been drawn a fire earlier than the check: compare from its first.
    assert len(fires) == 3
    shown = [datetime.fromisoformat(f) for f in fires]
    assert shown[1] - shown[0] == shown[2] - shown[1] == timedelta(minutes=5)
    assert shown[-1] <= expected[-1]
    assert row.locator(".badge").inner_text() == "active"
    shot(p, "schedules")
    row.locator("button", has_text="Pause").click()
    p.wait_for_url(f"{site.url}/schedules?done=paused")  # type: ignore[attr-defined]
    assert "Paused" in p.locator("#notice").inner_text()  # type: ignore[attr-defined]
    row = p.locator('tr[data-schedule="reconcile-downloads"]')  # type: ignore[attr-defined]
    assert row.locator(".badge").inner_text() == "paused"
    assert site.cl.using("media-manager").jobs.schedules.get("reconcile-downloads").paused
    row.locator("button", has_text="Resume").click()
    p.wait_for_url(f"{site.url}/schedules?done=resumed")  # type: ignore[attr-defined]
    assert not site.cl.using("media-manager").jobs.schedules.get("reconcile-downloads").paused


def test_queues_page_pauses_limits_and_bulk_cancels_with_a_confirmation(
    page: object, site: Site, browser: object
) -> None:
    jobs = site.cl.using("rip-pipeline").jobs
    ids = jobs.enqueue_many([{"kind": "noop", "queue": "browser-bulk"}] * 3)
    worker_id = jobs.register_worker("ripper-77", host="attic", queues=["browser-bulk"])
    p = page
    log_in(p, site, site.tokens["rip-pipeline"])
    p.goto(f"{site.url}/queues")  # type: ignore[attr-defined]
    row = p.locator("tr[data-queue='browser-bulk']")  # type: ignore[attr-defined]
    assert row.locator(".queue-status").inner_text() == "active"
    row.locator("button[name=toggle]").click()
    p.wait_for_url(re.compile(r"/queues\?done=paused"))  # type: ignore[attr-defined]
    row = p.locator("tr[data-queue='browser-bulk']")  # type: ignore[attr-defined]
    assert row.locator(".queue-status").inner_text() == "paused"
    assert jobs.queue("browser-bulk").paused
    # Limits: open the row's form, fill it, save.
    row.locator("summary").click()
    row.locator("input[name=concurrency]").fill("2")
    row.locator("input[name=rate_limit]").fill("10")
    row.locator("input[name=rate_seconds]").fill("60")
    row.locator("button:has-text('Save limits')").click()
    p.wait_for_url(re.compile(r"/queues\?done=limited"))  # type: ignore[attr-defined]
    row = p.locator("tr[data-queue='browser-bulk']")  # type: ignore[attr-defined]
    assert row.locator(".queue-concurrency").inner_text() == "2"
    assert row.locator(".queue-rate").inner_text() == "10 per 60 s"
    assert jobs.queue("browser-bulk").rate == (10, 60.0)
    shot(p, "queues")
    # Bulk cancel asks first, with the count, and changes nothing until confirmed.
    row.locator("button:has-text('Cancel pending')").click()
    assert p.locator("#confirm-count").inner_text() == "3"  # type: ignore[attr-defined]
    shot(p, "queues-confirm")
    assert jobs.queue("browser-bulk").counts == {"pending": 3}
    p.click("#confirm-no")  # type: ignore[attr-defined]
    assert jobs.queue("browser-bulk").counts == {"pending": 3}
    p.locator("tr[data-queue='browser-bulk'] button:has-text('Cancel pending')").click()  # type: ignore[attr-defined]
    p.click("#confirm-yes")  # type: ignore[attr-defined]
    p.wait_for_url(re.compile(r"/queues\?done=cancelled&n=3"))  # type: ignore[attr-defined]
    assert {jobs.get(i).state for i in ids} == {"cancelled"}
    # Retry them back, then resume the queue and clear its limits.
    p.locator("tr[data-queue='browser-bulk'] button:has-text('Retry failed')").click()  # type: ignore[attr-defined]
    p.click("#confirm-yes")  # type: ignore[attr-defined]
    p.wait_for_url(re.compile(r"/queues\?done=retried&n=3"))  # type: ignore[attr-defined]
    assert {jobs.get(i).state for i in ids} == {"pending"}
    p.locator("tr[data-queue='browser-bulk'] button[name=toggle]").click()  # type: ignore[attr-defined]
    p.wait_for_url(re.compile(r"/queues\?done=resumed"))  # type: ignore[attr-defined]
    assert not jobs.queue("browser-bulk").paused
    # The workers page lists the registered worker with its heartbeat age.
    p.goto(f"{site.url}/workers")  # type: ignore[attr-defined]
    worker_row = p.locator("tr[data-worker='ripper-77']")  # type: ignore[attr-defined]
    assert "attic" in worker_row.inner_text()
    assert "s ago" in worker_row.locator(".heartbeat").inner_text()
    shot(p, "workers")
    # A read-only token sees the pages but no buttons.
    viewer = browser.new_context()  # type: ignore[attr-defined]
    try:
        tab = viewer.new_page()
        log_in(tab, site, site.tokens["read"])
        tab.goto(f"{site.url}/queues")
        assert tab.locator("tr[data-queue='browser-bulk']").count() == 1
        assert tab.locator("button[name=toggle]").count() == 0
    finally:
        viewer.close()
    jobs.set_limit("browser-bulk")
    jobs.cancel_many(queues="browser-bulk")
    jobs.deregister_worker(worker_id)
