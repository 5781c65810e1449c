"""Every list answer is bounded by bytes as well as by count (issue 14.5): the next cursor
(or a ``Link: rel="next"``) continues after the last item it holds; a log line is capped;
a job's page shows the end of a long log, not all of it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from chronolog import Chronolog
from chronolog._scope import Limits

from ._http import Api, make_api

MIB = 1024 * 1024
BIG = "x" * (60 * 1024)  # 60 KiB: under the 64 KiB metadata cap


@pytest.fixture
def big(cl: Chronolog) -> Iterator[Api]:
    """The service with its default caps: 1 MiB pages, 64 KiB of metadata."""
    yield from make_api(
        cl, limits=Limits(batch_size=1000, page_size=100, metadata_bytes=64 * 1024, page_bytes=MIB)
    )


def _under(response: httpx.Response, limit: int = MIB + 128 * 1024) -> None:
    assert response.status_code == 200, response.text[:300]
    assert len(response.content) < limit, len(response.content)


def test_a_log_line_is_capped_and_logs_page_by_bytes(big: Api) -> None:
    cl = big.cl
    job = cl.jobs.enqueue("rip")
    (running,) = cl.jobs.claim(None, "w")
    cl.jobs.log(job.id, "info", "y" * 65_000, lease=running.lease)
    (first,) = cl.jobs.logs(job.id)
    assert len(first.message) < 9000
    assert first.message.endswith("more characters cut]")
    lines = [("info", f"line {i} " + "z" * 8000, None) for i in range(300)]
    cl.jobs.log_many(job.id, running.lease, lines)  # about 2.4 MB of log
    response = big.call("GET", f"/jobs/{job.id}/logs", params={"limit": 1000})
    _under(response)
    got = response.json()
    assert 1 < len(got) < 301
    assert "next" in response.links
    seen = [x["id"] for x in got]
    while "next" in response.links:
        response = big.http.get(
            response.links["next"]["url"], headers={"Authorization": f"Bearer {big.admin}"}
        )
        _under(response)
        seen += [x["id"] for x in response.json()]
    assert seen == [x.id for x in cl.jobs.logs(job.id, limit=1000)]
    with big.client() as client:  # the client follows the links by itself
        assert [x.id for x in client.jobs.logs(job.id, limit=1000)] == seen
        assert len(client.jobs.logs(job.id, limit=5)) == 5


def test_event_pages_and_the_feed_are_bounded_by_bytes(big: Api) -> None:
    cl = big.cl
    ids = cl.events.record_many(
        [{"event_type": "big", "action": f"a{i}", "metadata": {"blob": BIG}} for i in range(40)]
    )
    response = big.call("GET", "/events", params={"limit": 100})
    _under(response)
    page = response.json()
    assert 1 < len(page["items"]) < 40
    assert page["total"] == 40
    seen = [e["id"] for e in page["items"]]
    while page["next_cursor"]:
        response = big.call("GET", "/events", params={"limit": 100, "cursor": page["next_cursor"]})
        _under(response)
        page = response.json()
        seen += [e["id"] for e in page["items"]]
    assert seen == ids[::-1]
    # The feed: cut at about a MiB too, and continued from the last event it holds.
    response = big.call("GET", "/feed", params={"limit": 1000})
    _under(response)
    feed = response.json()
    assert 1 < len(feed["items"]) < 40
    assert feed["next_cursor"] == feed["cursors"][-1]
    got = [e["id"] for e in feed["items"]]
    while True:
        feed = big.call("GET", "/feed", params={"limit": 1000, "after": feed["next_cursor"]}).json()
        if not feed["items"]:
            break
        got += [e["id"] for e in feed["items"]]
    assert got == ids
    recent = big.call("GET", "/events/recent", params={"limit": 100})
    _under(recent)


def test_job_and_entity_pages_are_bounded_by_bytes(big: Api) -> None:
    cl = big.cl
    cl.jobs.enqueue_many([{"kind": "rip", "payload": {"blob": BIG}} for _ in range(30)])
    cl.states.define("movie", ["new", "done"], {"new": ["done"], "done": ["done"]}, initial="new")
    for i in range(30):
        cl.states.upsert("movie", i, attributes={"blob": BIG})
        cl.states.transition("movie", i, "done", metadata={"blob": BIG})
    moves, cursor = 0, None
    while True:  # every move of the week, jobs' too, read by the library in pages
        timeline = cl.states.timeline(days=7, limit=100, cursor=cursor).page
        moves += len(timeline.items)
        cursor = timeline.next_cursor
        if cursor is None:
            break
    for path, params, expected in (
        ("/jobs", {"limit": 100}, 30),
        ("/entities", {"limit": 100}, 30),
        ("/timeline", {"limit": 100}, moves),
    ):
        response = big.call("GET", path, params=params)
        _under(response)
        body = response.json()
        assert body["next_cursor"], path
        count = len(body["items"])
        while body["next_cursor"]:
            body = big.call("GET", path, params={**params, "cursor": body["next_cursor"]}).json()
            count += len(body["items"])
        assert count == expected, path
    # An entity's history: a Link continues it.
    for _ in range(20):
        cl.states.transition("movie", 0, "done", metadata={"blob": BIG})
    history = big.call("GET", "/entities/movie/0/transitions")
    _under(history)
    assert "next" in history.links
    with big.client() as client:
        assert len(client.states.history("movie", 0)) == len(cl.states.history("movie", 0))


def test_the_job_page_shows_the_end_of_a_long_log(big: Api) -> None:
    cl = big.cl
    job = cl.jobs.enqueue("rip")
    (running,) = cl.jobs.claim(None, "w")
    lines = [("info", f"line {i:04d} " + "z" * 8000, None) for i in range(1000)]
    for start in range(0, 1000, 250):
        cl.jobs.log_many(job.id, running.lease, lines[start : start + 250])
    big.http.post("/login", data={"token": big.admin, "next": "/"})
    page = big.http.get(f"/jobs/{job.id}")
    assert page.status_code == 200
    assert len(page.content) < MIB, len(page.content)  # was 63 MiB of HTML
    assert "line 0999" in page.text  # the newest line
    assert "line 0000" not in page.text
    earlier = re.search(r'href="(/jobs/\d+\?log_before=\d+)"', page.text)
    assert earlier is not None
    older = big.http.get(earlier.group(1))
    assert older.status_code == 200
    assert len(older.content) < MIB
    shown = re.findall(r"line (\d{4})", older.text)
    assert shown
    assert max(int(n) for n in shown) < min(int(n) for n in re.findall(r"line (\d{4})", page.text))


def test_admin_lists_and_children_are_bounded_and_continue(big: Api) -> None:
    cl = big.cl
    for i in range(12):
        cl.auth.create_token(f"t{i}", "read")
        cl.auth.set_member(f"user{i:02d}", "read")
    cl.states.define("season", ["new"], {}, initial="new")
    cl.states.upsert("season", "s1")
    for i in range(12):
        cl.states.upsert("disc", f"d{i:02d}", parent=("season", "s1"))
    for path, field in (
        ("/tokens", "id"),
        ("/members", "user"),
        ("/entities/season/s1/children", "id"),
    ):
        response = big.call("GET", path, params={"limit": 5})
        assert response.status_code == 200, response.text
        seen = [x[field] for x in response.json()]
        assert len(seen) == 5
        while "next" in response.links:
            response = big.http.get(
                response.links["next"]["url"], headers={"Authorization": f"Bearer {big.admin}"}
            )
            seen += [x[field] for x in response.json()]
        assert len(seen) == len(set(seen)) >= 12, path
