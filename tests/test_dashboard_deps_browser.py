"""The dashboard's job page shows a job's pipeline and its dependency links both ways, in
a real headless Chromium against a real uvicorn (as ``test_dashboard_browser.py``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from chronolog import Chronolog
from chronolog.server import create_app

from .test_dashboard_browser import ARGS, CHROMIUM, Site, _free_port, log_in, shot, sync_api


@pytest.fixture
def deps_site(db_url: str) -> Iterator[Site]:
    with Chronolog(db_url) as cl:
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
        try:
            yield Site(f"http://127.0.0.1:{port}", cl, {"default": token})
        finally:
            server.should_exit = True
            thread.join(10)


def test_job_page_shows_the_pipeline_and_links(deps_site: Site) -> None:
    cl = deps_site.cl
    pipe = cl.jobs.pipeline(["rip", "remux", "transcode", "filebot"], subject=("movie", "heat"))
    _rip, remux, transcode, filebot = pipe.jobs
    notify = cl.jobs.enqueue("notify", after=[remux.id, transcode.id], on_failure="run")
    (job,) = cl.jobs.claim(None)
    cl.jobs.complete(job.id, job.lease)
    (job,) = cl.jobs.claim(None)
    assert job.id == remux.id
    cl.jobs.fail(job.id, job.lease, "mkvmerge: bad track", retry=False)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(10_000)
            log_in(page, deps_site, deps_site.tokens["default"])
            page.goto(f"{deps_site.url}/jobs/{transcode.id}")
            stages = page.locator("[data-testid=pipeline] li")
            assert stages.count() == 4
            assert [stages.nth(i).locator("a").inner_text() for i in range(4)] == [
                f"#{j.id} {j.kind}" for j in pipe.jobs
            ]
            assert [stages.nth(i).locator(".badge").inner_text() for i in range(4)] == [
                "completed",
                "failed",
                "cancelled",
                "cancelled",
            ]
            assert stages.nth(2).get_attribute("aria-current") == "step"
            assert page.locator("[data-testid=pipeline-state]").inner_text() == "failed"
            after = page.locator("[data-testid=runs-after]")
            assert f"#{remux.id} remux" in after.inner_text()
            then = page.locator("[data-testid=runs-before]")
            assert f"#{filebot.id} filebot" in then.inner_text()
            assert f"#{notify.id} notify" in then.inner_text()
            # The reason of the cancel is in the history.
            history = page.locator("ol.history").inner_text()
            assert f"job {remux.id} it runs after was failed" in history
            shot(page, "job-pipeline")
            # Links go both ways: follow one to the dependent, and back.
            page.click(f"[data-testid=runs-before] a[href='/jobs/{notify.id}']")
            page.wait_for_url(f"{deps_site.url}/jobs/{notify.id}")
            assert page.locator("#job-state").inner_text() == "pending"  # on_failure run
            assert "runs even if they fail" in page.locator("[data-testid=runs-after]").inner_text()
            page.click(f"[data-testid=runs-after] a[href='/jobs/{transcode.id}']")
            page.wait_for_url(f"{deps_site.url}/jobs/{transcode.id}")
            # A job in no pipeline and without links has no such card.
            page.goto(f"{deps_site.url}/jobs/{cl.jobs.enqueue('alone').id}")
            assert page.locator("#job-links").count() == 0
            # The jobs list filters by the new state.
            cl.jobs.enqueue("later", after=[notify.id])
            page.goto(f"{deps_site.url}/jobs?state=waiting")
            assert page.locator("main").inner_text().count("later") == 1
        finally:
            browser.close()
