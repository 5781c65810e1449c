"""The TUI's job detail shows the job's pipeline and its dependencies, read locally and
through a real ``chronolog serve`` (``RemoteSource``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from textual.widgets import Static

from chronolog import Chronolog, Client
from chronolog.tui import ChronologApp, DataSource, LocalSource, RemoteSource
from chronolog.tui.job_detail import JobDetailScreen

from ._http import serving

SIZE = (100, 30)


@pytest.fixture(params=["local", "remote"])
def source(request: pytest.FixtureRequest, cl: Chronolog) -> Iterator[DataSource]:
    if request.param == "local":
        yield LocalSource(cl, poll=0.2)
        return
    token = cl.auth.create_token("tui", "write").secret
    with serving(cl) as url, Client(url, token) as client:
        remote = RemoteSource(client, heartbeat=0.2)
        try:
            yield remote
        finally:
            remote.close()


def test_job_detail_shows_the_pipeline(cl: Chronolog, source: DataSource) -> None:
    pipe = cl.jobs.pipeline(["rip", "remux", "transcode", "filebot"], subject=("movie", "heat"))
    (job,) = cl.jobs.claim(None)
    cl.jobs.complete(job.id, job.lease)
    remux = pipe.jobs[1]
    transcode = pipe.jobs[2]
    alone = cl.jobs.enqueue("alone")

    async def drive() -> None:
        app = ChronologApp(source, live=False)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(JobDetailScreen(transcode.id))
            await pilot.pause()
            shown = str(app.screen.query_one("#pipeline", Static).render())
            assert f"Pipeline #{pipe.id} rip movie/heat" in shown
            assert "1/4 done" in shown
            order = [f"#{j.id} {j.kind}" for j in pipe.jobs]
            positions = [shown.index(o) for o in order]
            assert positions == sorted(positions)
            assert f"#{remux.id} remux pending" in shown
            meta = str(app.screen.query_one("#meta", Static).render())
            assert f"After #{remux.id}" in meta
            assert "waiting for 1" in meta
            assert "1 job run after it" in meta
            assert "[c] cancel" in meta
            await pilot.press("c")
            await pilot.pause()
            shown = str(app.screen.query_one("#pipeline", Static).render())
            assert f"#{transcode.id} transcode cancelled" in shown
            assert f"#{pipe.jobs[3].id} filebot cancelled" in shown
            app.pop_screen()
            await app.push_screen(JobDetailScreen(alone.id))
            await pilot.pause()
            assert not app.screen.query_one("#pipeline", Static).display

    asyncio.run(drive())
    assert cl.jobs.get(pipe.jobs[3].id).state == "cancelled"
