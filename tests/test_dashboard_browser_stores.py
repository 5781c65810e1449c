"""The dashboard in a real headless Chromium on both databases: phone width, chart colours,
the live job page, job progress and liveness, the errors tile, the favicon.

A small store per database, built for these checks, served by uvicorn. Screenshots go
to ``test-artifacts/``. Without Debian's ``/usr/bin/chromium`` these tests skip, unless
``CHRONOLOG_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from chronolog import Chronolog, NewEvent
from chronolog.server import create_app

from .conftest import BACKENDS, _counter, _pg_admin, _pg_conninfo, _worker

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

if not Path(CHROMIUM).exists():
    if os.environ.get("CHRONOLOG_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-browser")
    pytest.skip(f"{CHROMIUM} not installed (scripts/install-browser)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")

ACTIONS = [f"action-{n:02}" for n in range(12)]


@dataclass
class Site:
    url: str
    cl: Chronolog
    token: str
    jobs: dict[str, int]
    backend: str
    store_url: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=BACKENDS)
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database of each backend for this module."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('dash') / 'jobs.db'}"
        return
    template = request.getfixturevalue("pg_template")
    if template is None:
        pytest.skip("PostgreSQL not reachable: PostgreSQL half of the suite skipped")
    name = f"chronolog_b_{_worker()}_{os.getpid()}_{next(_counter)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_conninfo(name)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _stale_job(url: str) -> int:
    """A job whose worker claimed it ten minutes ago with a one-minute lease and went
    silent. (Any claim rescues it: make it just before looking.)"""
    ten_ago = datetime.now(UTC) - timedelta(minutes=10)
    with Chronolog(url, clock=lambda: ten_ago) as past:
        past.jobs.enqueue("transcode-to-hevc-main10", queue="media-slow")
        (stale,) = past.jobs.claim(["media-slow"], "ripper-02", lease_seconds=60)
    return stale.id


def _fill(cl: Chronolog, url: str) -> dict[str, int]:
    now = datetime.now(UTC)
    cl.events.record_many(
        [
            NewEvent("scan", action, occurred_at=now - timedelta(minutes=5 * n + 1))
            for n, action in enumerate(ACTIONS)
        ]
        + [
            NewEvent("upload", "checked", status="validation_error", occurred_at=now),
            NewEvent("upload", "checked", status="validation_error", occurred_at=now),
            NewEvent("upload", "sent", status="error", occurred_at=now),
        ]
    )
    jobs = cl.jobs
    subject = ("season", "the-long-running-series-with-a-very-long-name/season-01/disc-03")
    ids = {}
    queues = {"pending": "media-later"}
    for name in ("done", "failed", "cancelled", "running", "pending", "retry"):
        ids[name] = jobs.enqueue(
            "transcode-to-hevc-main10",
            {"n": name},
            queue=queues.get(name, "media"),
            subject=subject,
            max_attempts=1,
        ).id
    jobs.cancel(ids["cancelled"])
    claimed = {j.id: j for j in jobs.claim(["media"], "ripper-01", limit=10, lease_seconds=600)}
    for name in ("done", "failed", "running", "retry"):
        job = claimed[ids[name]]
        if name == "done":
            jobs.heartbeat(job.id, job.lease, progress=0.5, progress_text="halfway")
            jobs.complete(job.id, job.lease)
        elif name in ("failed", "retry"):
            jobs.log(job.id, "error", "x265: out of memory", lease=job.lease)
            jobs.fail(job.id, job.lease, "exit status 3", retry=False)
        else:
            jobs.heartbeat(job.id, job.lease, progress=0.3)
    return ids


@pytest.fixture(scope="module")
def site(store_url: str) -> Iterator[Site]:
    with Chronolog(store_url) as cl:
        ids = _fill(cl, store_url)
        token = cl.auth.create_token("browser", "admin").secret
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
        backend = "sqlite" if store_url.startswith("sqlite") else "postgresql"
        try:
            yield Site(f"http://127.0.0.1:{port}", cl, token, ids, backend, store_url)
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _tab(browser: Any, site: Site, width: int = 1280, height: int = 860) -> Any:
    # bypass_csp: Playwright's wait_for_function evaluates its predicate with eval, which
    # the dashboard's CSP forbids; test_security_browser.py checks the pages under it.
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{site.url}/login")
    page.fill("#token", site.token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/")
    return page


def _shot(page: Any, site: Site, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}-{site.backend}.png"), full_page=True)


def test_no_page_scrolls_sideways_at_phone_width(browser: Any, site: Site) -> None:
    """Defect 5: the Jobs page was 601 px wide at 390 px."""
    page = _tab(browser, site, 390, 844)
    try:
        for path in ("/jobs", f"/jobs/{site.jobs['failed']}", "/charts?group=action", "/"):
            page.goto(site.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} scrolls sideways at phone width ({width}px)"
        page.goto(site.url + "/jobs")
        _shot(page, site, "jobs-phone")
    finally:
        page.context.close()


def test_chart_colours_never_repeat_and_labels_read_on_a_phone(browser: Any, site: Site) -> None:
    """Defect 6: colours repeated after 8 groups; axis labels were tiny at phone width."""
    page = _tab(browser, site)
    try:
        page.goto(f"{site.url}/charts?window=1d&group=action")
        swatches = page.locator(".legend .sw")
        colours = swatches.evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)")
        assert len(colours) >= 10
        assert len(set(colours)) == len(colours), colours
        legend = page.locator(".legend").inner_text()
        assert "other (" in legend  # 13 groups: the smallest share one grey segment
        # Every bar segment's colour is one of the legend's, and no two groups share one.
        fills = page.locator("a.bucket rect:not(.hit)").evaluate_all(
            "els => [...new Set(els.map(e => getComputedStyle(e).fill))]"
        )
        assert set(fills) <= set(colours), (fills, colours)
        _shot(page, site, "chart-groups")
    finally:
        page.context.close()
    phone = _tab(browser, site, 390, 844)
    try:
        phone.goto(f"{site.url}/charts?window=1d&group=action")
        heights = phone.locator(".chart text.tick").evaluate_all(
            "els => els.filter(e => getComputedStyle(e).display !== 'none')"
            ".map(e => e.getBoundingClientRect().height)"
        )
        assert heights
        assert min(heights) >= 9, f"axis labels {min(heights):.1f}px tall at phone width"
        _shot(phone, site, "chart-phone")
    finally:
        phone.context.close()


def test_the_live_job_page_follows_every_change(browser: Any, site: Site) -> None:
    """Defect 7: the badge kept its old colour; the attempt line and history stood still."""
    jobs = site.cl.jobs
    job_id = site.jobs["retry"]
    page = _tab(browser, site)
    try:
        page.goto(f"{site.url}/jobs/{job_id}")
        page.click("button:has-text('Retry')")
        page.wait_for_url(re.compile(rf"/jobs/{job_id}\?done=retry"))
        badge = "#job-state"
        assert page.locator(badge).inner_text() == "pending"
        (claimed,) = jobs.claim(["media"], "ripper-03", lease_seconds=600)
        assert claimed.id == job_id
        page.wait_for_function(
            "document.getElementById('job-state').textContent === 'running'"
            " && document.getElementById('job-state').classList.contains('tone-busy')"
        )
        assert "attempt 2 of 2" in page.locator("#job-facts").inner_text()  # retried once
        assert "heartbeat" in page.locator("#job-facts").inner_text()
        history = page.locator("#job-side .history li")
        assert history.first.inner_text().count("running") == 1  # newest first: → running
        assert page.locator("button:has-text('Cancel')").is_visible()  # running: cancellable
        assert page.locator("#notice").count() == 0  # "pending again" no longer holds
        jobs.heartbeat(job_id, claimed.lease, progress=0.5, progress_text="title 2 of 4")
        page.wait_for_function(
            "document.getElementById('progress-text').textContent.includes('50%')"
        )
        jobs.complete(job_id, claimed.lease)
        page.wait_for_function(
            "document.getElementById('job-state').textContent === 'completed'"
            " && document.getElementById('job-state').classList.contains('tone-ok')"
        )
        assert page.locator("#job-status button").count() == 0  # nothing to retry or cancel
        assert page.locator("#progress-bar").get_attribute("value") == "100"
        assert "completed" in page.locator("#job-side .history li").first.inner_text()
        _shot(page, site, "job-live")
    finally:
        page.context.close()


def test_job_progress_liveness_and_the_log_box(browser: Any, site: Site) -> None:
    """Defect 10's jobs half, heartbeat ages, a stale lease, and the log filling its card."""
    stale = _stale_job(site.store_url)
    page = _tab(browser, site)
    try:
        page.goto(f"{site.url}/jobs")
        rows = {
            int(
                re.search(r"/jobs/(\d+)", row.locator("a").first.get_attribute("href")).group(1)
            ): row
            for row in page.locator("table.jobs tbody tr").all()
        }
        done = rows[site.jobs["done"]]
        assert done.locator("progress").get_attribute("value") == "100"  # not its last 50 %
        assert rows[site.jobs["failed"]].locator("progress").count() == 0  # never a made-up 0 %
        assert "heartbeat" in rows[site.jobs["running"]].inner_text()
        assert "stale" not in rows[site.jobs["running"]].inner_text()
        assert "stale" in rows[stale].inner_text()
        _shot(page, site, "jobs-liveness")
        page.goto(f"{site.url}/jobs/{stale}")
        assert "lease expired" in page.locator("#job-facts").inner_text()
        page.goto(f"{site.url}/jobs/{site.jobs['failed']}")
        card = page.locator(".logcard").bounding_box()
        log = page.locator("#log").bounding_box()
        side = page.locator("#job-side").bounding_box()
        assert abs(card["height"] - side["height"]) < 2  # one row: the cards are as tall
        assert card["y"] + card["height"] - (log["y"] + log["height"]) < 40  # the log fills it
        _shot(page, site, "job-failed")
    finally:
        page.context.close()


def test_badges_tile_and_favicon(browser: Any, site: Site) -> None:
    """Defect 10's other half: cancelled jobs' events are not a green success, the errors
    tile counts every error status (validation_error too), and there is a favicon."""
    page = _tab(browser, site)
    try:
        expected = sum(
            1
            for e in site.cl.events.query(limit=100).items
            if e.status in ("error", "validation_error")
        )
        assert page.locator("[data-testid=errors-24h] .n").inner_text() == str(expected)
        page.click("[data-testid=errors-24h]")
        page.wait_for_url(re.compile(r"statuses=validation_error"))
        assert f"{expected} matching event" in page.locator("main").inner_text()
        page.goto(f"{site.url}/activity?event_types=job&range=all")
        cancelled = page.locator("#rows tr:has(.action:text-is('cancelled')) .badge").first
        assert "tone-ok" not in (cancelled.get_attribute("class") or "")
    finally:
        page.context.close()
    icon = httpx.get(f"{site.url}/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/")
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
