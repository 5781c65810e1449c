"""The feed routes through the ASGI app, on both databases: long-poll, SSE, ``client.feed``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from chronolog import Chronolog, ValidationError
from chronolog._scope import Limits

from ._http import Api, error_of, make_api


def test_read_pages_and_cursors(api: Api) -> None:
    ids = api.cl.events.record_many([{"event_type": "a", "action": str(i)} for i in range(5)])
    api.cl.events.record("b", "x")
    first = api.call("GET", "/feed", params={"limit": 3}).json()
    assert [e["id"] for e in first["items"]] == ids[:3]
    assert len(first["cursors"]) == 3
    assert first["next_cursor"] == first["cursors"][-1]
    assert first["held_back"] is False
    rest = api.call("GET", "/feed", params={"after": first["next_cursor"]}).json()
    assert [e["action"] for e in rest["items"]] == ["3", "4", "x"]
    # A cursor from the middle resumes right after its event.
    middle = api.call("GET", "/feed", params={"after": first["cursors"][0]}).json()
    assert [e["id"] for e in middle["items"]][:2] == ids[1:3]
    filtered = api.call("GET", "/feed", params={"event_types": "b"}).json()
    assert [e["event_type"] for e in filtered["items"]] == ["b"]
    end = api.call("GET", "/feed", params={"after": rest["next_cursor"]}).json()
    assert end["items"] == []
    # An empty page may move the cursor up to what is visible (on PostgreSQL the
    # horizon follows every transaction of the server), never past a later event.
    later = api.cl.events.record("c", "later")
    for cursor in (rest["next_cursor"], end["next_cursor"]):
        after = api.call("GET", "/feed", params={"after": cursor}).json()
        assert [e["id"] for e in after["items"]] == [later]
    for params in (
        {"after": "garbage"},
        {"limit": 0},
        {"wait": -1},
        {"wait": "nan"},
        {"target_id": "7"},
    ):
        response = api.call("GET", "/feed", params=params)
        assert response.status_code == 422, (params, response.text)
        assert error_of(response)["code"] == "validation_error"


def test_a_cursor_of_another_project_is_refused(api: Api) -> None:
    api.cl.events.record("a", "b")
    cursor = api.call("GET", "/feed").json()["next_cursor"]
    other = api.token("read", project="other")
    response = api.call("GET", "/feed", params={"after": cursor}, token=other)
    assert response.status_code == 422


def test_long_poll_wakes_on_a_commit(api: Api) -> None:
    api.cl.events.record("a", "old")
    cursor = api.call("GET", "/feed").json()["next_cursor"]
    started = time.monotonic()
    quiet = api.call("GET", "/feed", params={"after": cursor, "wait": 0.3}).json()
    assert quiet["items"] == []
    assert time.monotonic() - started >= 0.29
    timer = threading.Timer(0.3, lambda: api.cl.events.record("a", "new"))
    timer.start()
    try:
        started = time.monotonic()
        woken = api.call("GET", "/feed", params={"after": cursor, "wait": 20}).json()
        elapsed = time.monotonic() - started
    finally:
        timer.join()
    assert [e["action"] for e in woken["items"]] == ["new"]
    assert elapsed < 5, elapsed  # woken by the commit, not by the 20 s timeout
    # Events filtered out do not end the wait; the cursor still moves past them.
    timer = threading.Timer(0.2, lambda: api.cl.events.record("other", "skip"))
    timer.start()
    try:
        skipped = api.call(
            "GET", "/feed", params={"after": woken["next_cursor"], "wait": 0.6, "event_types": "a"}
        ).json()
    finally:
        timer.join()
    assert skipped["items"] == []
    after = api.call("GET", "/feed", params={"after": skipped["next_cursor"]}).json()
    assert after["items"] == []


# -- SSE through a raw ASGI driver (httpx's ASGI transport buffers whole responses) -----


def _blocks(raw: bytes) -> list[dict[str, str]]:
    """Parsed SSE blocks: fields of each (comments under ``:``)."""
    out = []
    for chunk in raw.decode().split("\n\n"):
        if not chunk:
            continue
        block: dict[str, str] = {}
        for line in chunk.split("\n"):
            name, _, value = line.partition(":")
            block[name] = value.strip()
        out.append(block)
    return out


def _sse(
    app: Any,
    token: str,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    until: Callable[[list[dict[str, str]]], bool],
    during: Callable[[], None] | None = None,
) -> tuple[int, list[dict[str, str]], dict[str, str]]:
    """GET /api/v1/feed/stream until ``until(blocks)``, then disconnect like a client."""
    sent: dict[str, Any] = {"status": 0, "body": b"", "headers": {}}
    query = urlencode(params or {}).encode()
    all_headers = {"authorization": f"Bearer {token}", **(headers or {})}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/feed/stream",
        "raw_path": b"/api/v1/feed/stream",
        "query_string": query,
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("chronolog", 80),
    }

    async def run() -> None:
        gone = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                sent["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                sent["body"] += message.get("body", b"")
                if until(_blocks(sent["body"])):
                    gone.set()

        task = asyncio.create_task(app(scope, receive, send))
        if during is not None:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(during)
        await asyncio.wait_for(task, 20)

    asyncio.run(run())
    return sent["status"], _blocks(sent["body"]), sent["headers"]


def _events(blocks: list[dict[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    return [(b["id"], orjson.loads(b["data"])) for b in blocks if "data" in b]


def test_sse_streams_commits_and_resumes_from_last_event_id(api: Api) -> None:
    ids = api.cl.events.record_many([{"event_type": "a", "action": str(i)} for i in range(3)])
    status, blocks, headers = _sse(
        api.app,
        api.admin,
        params={"limit": 2},
        until=lambda b: len(_events(b)) >= 5,
        during=lambda: api.cl.events.record_many(
            [{"event_type": "a", "action": "late"}, {"event_type": "a", "action": "later"}]
        ),
    )
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert blocks[0] == {"retry": "1000"}
    got = _events(blocks)
    assert [e["id"] for _, e in got][:3] == ids
    assert [e["action"] for _, e in got] == ["0", "1", "2", "late", "later"]
    # The id of each event is the feed cursor after it: resuming from the third
    # gives exactly the two after it, by the header a reconnecting EventSource sends.
    third = got[2][0]
    page = api.call("GET", "/feed", params={"after": third}).json()
    assert [e["action"] for e in page["items"]] == ["late", "later"]
    api.cl.events.record("a", "while away")
    _, resumed, _ = _sse(
        api.app,
        api.admin,
        headers={"last-event-id": got[-1][0]},
        params={"after": "ignored when the header is there"},
        until=lambda b: len(_events(b)) >= 1,
    )
    assert [e["action"] for _, e in _events(resumed)] == ["while away"]


def test_sse_heartbeats_and_the_followers_gauge(api: Api) -> None:
    api.cl.events.record("a", "x")
    seen: list[str] = []

    def until(blocks: list[dict[str, str]]) -> bool:
        beats = [b for b in blocks if "" in b]
        if beats and not seen:
            seen.append(api.call("GET", "/metrics").text)
        return len(beats) >= 2

    started = time.monotonic()
    status, blocks, _ = _sse(
        api.app, api.admin, params={"heartbeat": 0.2, "event_types": "nothing"}, until=until
    )
    assert status == 200
    assert time.monotonic() - started < 5
    beats = [b for b in blocks if "" in b]
    # Heartbeats carry the cursor past what the filter skipped.
    assert beats[0]["id"]
    after = api.call("GET", "/feed", params={"after": beats[0]["id"]}).json()
    assert after["items"] == []
    assert "chronolog_feed_followers 1.0" in seen[0]
    assert "chronolog_feed_followers 0.0" in api.call("GET", "/metrics").text


def test_sse_refuses_bad_input_before_streaming(api: Api) -> None:
    status, _, headers = _sse(
        api.app, api.admin, headers={"last-event-id": "garbage"}, until=lambda b: True
    )
    assert status == 422
    assert headers["content-type"] == "application/json"
    status, _, _ = _sse(api.app, api.token("read"), params={"limit": 0}, until=lambda b: True)
    assert status == 422
    status, _, _ = _sse(api.app, "chl_nope", until=lambda b: True)
    assert status == 401


# -- the client ---------------------------------------------------------------------------


@pytest.fixture
def short_streams(cl: Chronolog) -> Iterator[Api]:
    """An app that closes SSE streams after 0.3 s: every follow reconnects, again and again."""
    yield from make_api(
        cl,
        limits=Limits(batch_size=50, page_size=100, metadata_bytes=4096),
        stream_seconds=0.3,
    )


def test_client_feed_read_and_follow_across_reconnects(short_streams: Api) -> None:
    api = short_streams
    ids = api.cl.events.record_many([{"event_type": "a", "action": str(i)} for i in range(5)])
    with api.client() as client:
        page = client.feed.read(limit=3)
        assert page == api.cl.feed.read(limit=3)
        assert client.feed.read(page.next_cursor, event_types="a").items == (
            api.cl.feed.read(page.next_cursor, event_types="a").items
        )
        started = time.monotonic()
        empty = client.feed.read(api.cl.feed.end_cursor(), wait=0.3)
        assert empty.items == []
        assert time.monotonic() - started >= 0.29
        with pytest.raises(ValidationError):
            client.feed.read("garbage")
        with pytest.raises(ValidationError):
            client.feed.read(colour="red")

        stop = threading.Event()
        got: list[int] = []

        def writer() -> None:
            for i in range(4):
                time.sleep(0.25)  # spread over several 0.3 s streams
                ids.append(api.cl.events.record("a", f"late {i}"))

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            for item in client.feed.follow(limit=2, poll=0.1, stop=stop, reconnect=0.05):
                got.append(item.event.id)
                if len(got) == 9:
                    stop.set()
        finally:
            thread.join()
        assert got == ids  # every event once, in order, across several reconnects


def test_end_cursor_skips_the_history(api: Api) -> None:
    api.cl.events.record_many([{"event_type": "a", "action": str(i)} for i in range(3)])
    end = api.call("GET", "/feed/end")
    assert end.status_code == 200, end.text
    cursor = end.json()["cursor"]
    assert api.call("GET", "/feed", params={"after": cursor}).json()["items"] == []
    late = api.cl.events.record("a", "late")
    assert [
        e["id"] for e in api.call("GET", "/feed", params={"after": cursor}).json()["items"]
    ] == [late]
    with api.client() as client:
        assert client.feed.read(client.feed.end_cursor()).items == []
    # Another project's end cursor is no cursor here.
    other = api.call("GET", "/feed/end", token=api.token("read", project="other")).json()
    assert api.call("GET", "/feed", params={"after": other["cursor"]}).status_code == 422
