"""Open streams and long-polls on a real server, both databases (issues 14.3, 14.4):

- a revoked or expired token, or a removed member, loses its open streams (feed SSE,
  the dashboard's live views) within seconds;
- one token holds at most a set number of streams and long-polls (429 beyond it);
- every follower of a project is served from one reader: more streams do not mean
  more reads of the store, and each still gets exactly its events, in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from chronolog import Chronolog
from chronolog.feed import Feed

from ._http import serving

SHORT = {"housekeeping_seconds": None, "token_recheck_seconds": 0.3}


class Stream:
    """An SSE response read in a thread: its blocks, and when it ended."""

    def __init__(self, url: str, headers: dict[str, str], cookies: dict[str, str] | None = None):
        self.blocks: list[dict[str, str]] = []
        self.status = 0
        self.ended: float | None = None
        self.started = threading.Event()
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=60), cookies=cookies)
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()
        assert self.started.wait(10), "the stream did not answer"

    def _run(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                self.started.set()
                block: dict[str, str] = {}
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if not line:
                        if block:
                            self.blocks.append(block)
                        block = {}
                        continue
                    name, _, value = line.partition(":")
                    block[name] = value.strip()
        except httpx.HTTPError:
            pass
        finally:
            self.ended = time.monotonic()
            self.started.set()

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(b["data"]) for b in self.blocks if "data" in b and "event" not in b]

    def wait_until(self, check: Callable[[Stream], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not check(self):
            assert time.monotonic() < deadline, (self.status, self.blocks[-5:])
            time.sleep(0.02)

    def close(self) -> None:
        # The reader notices at its next line: streams here beat every 0.2 s.
        self._stop.set()
        self._thread.join(10)
        self._client.close()


@contextmanager
def streams(*made: Stream) -> Iterator[None]:
    try:
        yield
    finally:
        for stream in made:
            stream.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- 14.3: a revoked token loses its streams -------------------------------------------


@pytest.mark.parametrize("how", ["revoke", "expire", "remove member"])
def test_a_token_that_stops_working_loses_its_feed_stream(cl: Chronolog, how: str) -> None:
    cl.auth.set_member("bob", "read")
    token = cl.auth.create_token(
        "follower", "read", user="bob", expires_in=2 if how == "expire" else None
    )
    with serving(cl, **SHORT) as base:
        stream = Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2", _auth(token.secret))
        with streams(stream):
            assert stream.status == 200
            cl.events.record("scan", "seen")
            stream.wait_until(lambda s: len(s.events()) == 1)
            stopped = time.monotonic()
            if how == "revoke":
                cl.auth.revoke_token(token.token.id)
            elif how == "remove member":
                cl.auth.remove_member("bob")
            stream.wait_until(lambda s: s.ended is not None, timeout=8)
            assert stream.ended is not None
            assert stream.ended - stopped < 4.0  # within seconds, not never
            errors = [b for b in stream.blocks if b.get("event") == "error"]
            assert errors
            assert orjson.loads(errors[0]["data"])["code"] == "unauthorized"
            # And it cannot come back.
            again = httpx.get(f"{base}/api/v1/feed", headers=_auth(token.secret))
            assert again.status_code == 401


def test_a_revoked_token_loses_its_dashboard_live_view(cl: Chronolog) -> None:
    token = cl.auth.create_token("browser", "read")
    with serving(cl, **SHORT) as base:
        login = httpx.post(
            f"{base}/login",
            data={"token": token.secret, "next": "/"},
            headers={"Origin": base},
        )
        cookies = dict(login.history[0].cookies) if login.history else dict(login.cookies)
        assert cookies
        after = cl.feed.end_cursor()
        stream = Stream(f"{base}/activity/stream?after={after}&range=all", {}, cookies)
        with streams(stream):
            assert stream.status == 200
            cl.events.record("scan", "live row", target={"type": "movie", "id": "1"})
            stream.wait_until(lambda s: any(b.get("event") == "row" for b in s.blocks))
            cl.auth.revoke_token(token.token.id)
            stopped = time.monotonic()
            stream.wait_until(lambda s: s.ended is not None, timeout=8)
            assert stream.ended is not None
            assert stream.ended - stopped < 4.0


# -- 14.4: caps per token ----------------------------------------------------------------


def test_a_token_holds_a_bounded_number_of_streams_and_long_polls(cl: Chronolog) -> None:
    token = cl.auth.create_token("greedy", "write").secret
    other = cl.auth.create_token("other", "read").secret
    with serving(cl, max_streams_per_token=2, **SHORT) as base:
        first = Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2", _auth(token))
        second = Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2", _auth(token))
        with streams(first, second):
            assert (first.status, second.status) == (200, 200)
            refused = httpx.get(f"{base}/api/v1/feed/stream?heartbeat=0.2", headers=_auth(token))
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "too_many_requests"
            assert refused.headers["retry-after"]
            poll = httpx.get(f"{base}/api/v1/feed?wait=5", headers=_auth(token))
            assert poll.status_code == 429
            claim = httpx.post(
                f"{base}/api/v1/jobs/claim",
                json={"queues": ["q"], "wait_seconds": 5},
                headers=_auth(token),
            )
            assert claim.status_code == 429
            # A request that does not wait is not a stream: it is served.
            assert httpx.get(f"{base}/api/v1/feed", headers=_auth(token)).status_code == 200
            # Another token has its own slots.
            third = Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2", _auth(other))
            with streams(third):
                assert third.status == 200
        # Closed streams give their slots back.
        time.sleep(0.3)
        again = Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2", _auth(token))
        with streams(again):
            assert again.status == 200


def test_a_project_holds_a_bounded_number_of_streams_whatever_its_tokens(
    cl: Chronolog,
) -> None:
    """An admin mints tokens at will: a per-token cap alone let one tenant hold the
    server's every slot (and its memory). A project's tokens share a cap of their own."""
    mine = [cl.auth.create_token(f"minted {i}", "read").secret for i in range(3)]
    if "other" not in {p.name for p in cl.projects.list()}:
        cl.projects.create("other")
    theirs = cl.using("other").auth.create_token("neighbour", "read").secret
    url = "/api/v1/feed/stream?heartbeat=0.2"
    with serving(cl, max_streams_per_token=5, max_streams_per_project=2, **SHORT) as base:
        first, second = (Stream(f"{base}{url}", _auth(secret)) for secret in mine[:2])
        with streams(first, second):
            assert (first.status, second.status) == (200, 200)
            refused = httpx.get(f"{base}{url}", headers=_auth(mine[2]))  # a fresh token
            assert refused.status_code == 429
            assert "project" in refused.json()["error"]["message"]
            neighbour = Stream(f"{base}{url}", _auth(theirs))  # another tenant is not hit
            with streams(neighbour):
                assert neighbour.status == 200
        time.sleep(0.3)
        again = Stream(f"{base}{url}", _auth(mine[2]))  # closed streams gave theirs back
        with streams(again):
            assert again.status == 200


def test_a_stream_of_large_events_holds_pages_bounded_in_bytes(cl: Chronolog) -> None:
    """A stream's first page and its catch-up pages are cut by bytes (the hub's page
    size), not only by ``limit``: 40 events of 60 KiB with ``limit=1000`` were one
    2.4 MB page held for a slow reader. Every event still arrives, in order."""
    token = cl.auth.create_token("slow", "read").secret
    blob = "x" * (60 * 1024)
    ids = cl.events.record_many(
        [{"event_type": "big", "action": f"a{i}", "metadata": {"blob": blob}} for i in range(40)]
    )
    with serving(cl, **SHORT) as base:
        hub = httpx.get(f"{base}/health")  # the server is up; its hub is read below
        assert hub.status_code == 200
        stream = Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2&limit=1000", _auth(token))
        with streams(stream):
            stream.wait_until(lambda s: len(s.events()) == 40)
            assert [e["id"] for e in stream.events()] == ids


# -- 14.4: one reader for every follower ----------------------------------------------


def test_many_followers_share_one_reader(cl: Chronolog, monkeypatch: pytest.MonkeyPatch) -> None:
    token = cl.auth.create_token("many", "read").secret
    reads = [0]
    original = Feed.read

    def counted(self: Feed, *args: Any, **kwargs: Any) -> Any:
        reads[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Feed, "read", counted)
    with serving(cl, **SHORT) as base:
        plain = [
            Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2", _auth(token)) for _ in range(12)
        ]
        only_b = [
            Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2&event_types=b", _auth(token))
            for _ in range(12)
        ]
        everyone = plain + only_b
        with streams(*everyone):
            for stream in everyone:
                assert stream.status == 200
            time.sleep(1.5)  # everyone settled: each made its first read
            settled = reads[0]
            written = []
            for i in range(10):
                written.append(cl.events.record("b" if i % 2 else "a", f"x{i}"))
                time.sleep(0.05)
            for stream in plain:
                stream.wait_until(lambda s: len(s.events()) == 10)
            for stream in only_b:
                stream.wait_until(lambda s: len(s.events()) == 5)
            during = reads[0] - settled
            time.sleep(2.5)
            idle = reads[0] - settled - during
        for stream in plain:
            assert [e["id"] for e in stream.events()] == written
        for stream in only_b:
            assert [e["id"] for e in stream.events()] == written[1::2]
    # 24 followers, 10 commits: one reader reads about once per commit (and once a
    # second while quiet), where 24 followers reading alone would be 240 reads and more.
    assert during <= 30, during
    assert idle <= 6, idle


def test_a_follower_behind_the_window_catches_up_in_order(cl: Chronolog) -> None:
    token = cl.auth.create_token("late", "read").secret
    early = cl.events.record_many([{"event_type": "a", "action": f"e{i}"} for i in range(30)])
    with serving(cl, **SHORT) as base:
        # A follower from the start: far behind what the hub keeps (it starts at the end).
        stream = Stream(f"{base}/api/v1/feed/stream?heartbeat=0.2&limit=7", _auth(token))
        with streams(stream):
            stream.wait_until(lambda s: len(s.events()) == 30)
            late = [cl.events.record("a", f"late{i}") for i in range(3)]
            stream.wait_until(lambda s: len(s.events()) == 33)
            assert [e["id"] for e in stream.events()] == early + late
