"""Cursors on both databases: signed and range-checked (issue 14.6), each carrying its own
window so paging a relative range works (issue 15.1), and extreme dates are a 4xx.

Every way a cursor reaches the store is tried with edited ones: the library, the
JSON API (``cursor=``, ``after=``, ``Last-Event-ID``) and the dashboard.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from chronolog import Chronolog, ValidationError
from chronolog._cursor import decode_cursor, encode_cursor, fingerprint
from chronolog.cli import app as cli

from ._http import Api, error_of

# -- helpers ---------------------------------------------------------------------------


def _body(cursor: str) -> dict[str, Any]:
    """The JSON object inside a cursor (its signature is not needed to read it)."""
    body = cursor.rpartition(".")[0]
    data: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return data


def _unsigned(data: dict[str, Any]) -> str:
    """A cursor as they were before signing: base64 of JSON (any integer size)."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _edits(cursor: str) -> list[str]:
    """Edited versions of a real cursor: each position made huge or negative, re-signed
    with a made-up tag, unsigned, truncated, or garbage."""
    data = _body(cursor)
    body, _, tag = cursor.rpartition(".")
    out = []
    for key in [k for k in data if k not in ("k", "f")]:
        for value in (2**64, 2**63, -(2**63) - 1, -1, 1.5, "1", None, True):
            edited = {**data, key: value}
            out.append(_unsigned(edited))
            # The old tag on a new body.
            out.append(_unsigned(edited) + "." + tag)
    out += [
        body,  # the tag dropped
        body + "." + "A" * len(tag),
        cursor[:-1] + ("A" if cursor[-1] != "A" else "B"),
        cursor + "x",
        "garbage",
        "a.b.c",
        "é" * 10,
        ".",
    ]
    return out


def _records(cl: Chronolog, n: int = 6) -> list[int]:
    return cl.events.record_many([{"event_type": "scan", "action": f"a{i}"} for i in range(n)])


def _cursors(cl: Chronolog) -> dict[str, tuple[str, Callable[[str], Any]]]:
    """A real next cursor of every kind, and how the library reads a page from one."""
    _records(cl)
    cl.states.define("movie", ["new", "done"], {"new": ["done"]}, initial="new")
    for i in range(3):
        cl.states.transition("movie", i, "done")
    for _ in range(3):
        cl.jobs.enqueue("x")
    out: dict[str, tuple[str, Callable[[str], Any]]] = {}
    page = cl.events.query(limit=2)
    out["events"] = (page.next_cursor or "", lambda c: cl.events.query(limit=2, cursor=c))
    ranged = cl.events.query(limit=2, date_range="7d")
    out["events 7d"] = (
        ranged.next_cursor or "",
        lambda c: cl.events.query(limit=2, date_range="7d", cursor=c),
    )
    out["feed"] = (cl.feed.read(limit=2).next_cursor, lambda c: cl.feed.read(c, limit=2))
    jobs = cl.jobs.list(limit=1)
    out["jobs"] = (jobs.next_cursor or "", lambda c: cl.jobs.list(limit=1, cursor=c))
    entities = cl.states.entities(limit=1)
    out["entities"] = (entities.next_cursor or "", lambda c: cl.states.entities(limit=1, cursor=c))
    timeline = cl.states.timeline(days=7, limit=1)
    out["timeline"] = (
        timeline.page.next_cursor or "",
        lambda c: cl.states.timeline(days=7, limit=1, cursor=c),
    )
    for name, (cursor, _) in out.items():
        assert cursor, name
    return out


# -- signed and range-checked (14.6) ---------------------------------------------------


def test_every_kind_of_cursor_refuses_edits(cl: Chronolog) -> None:
    for name, (cursor, read) in _cursors(cl).items():
        read(cursor)  # the real one works
        for edited in _edits(cursor):
            with pytest.raises(ValidationError, match="cursor"):
                read(edited)
            assert name


def test_a_cursor_signed_by_another_store_is_refused(cl: Chronolog, tmp_path: Any) -> None:
    _records(cl)
    cursor = cl.feed.read(limit=1).next_cursor
    with Chronolog(f"sqlite:///{tmp_path / 'other.db'}") as other:
        _records(other)
        with pytest.raises(ValidationError, match="cursor is not valid"):
            other.feed.read(cursor)


def test_positions_are_range_checked_even_when_signed(cl: Chronolog) -> None:
    """Defence in depth: a cursor signed with the store's key (as if it leaked) still
    cannot carry a number the database cannot compare."""
    _records(cl)
    fp = _body(cl.feed.read(limit=1).next_cursor)["f"]
    for position in ({"t": 2**63, "i": 1}, {"t": 0, "i": -2}, {"t": "0", "i": 1}, {"t": 0}):
        forged = encode_cursor(cl.store, "feed", fp, **position)
        with pytest.raises(ValidationError, match="cursor is not valid"):
            cl.feed.read(forged)
    page = _body(cl.events.query(limit=2).next_cursor or "")
    for change in ({"t": 2**63}, {"i": -1}, {"p": 0}, {"p": 2**63}):
        forged = encode_cursor(cl.store, "events", page["f"], **{**_pos(page), **change})
        with pytest.raises(ValidationError, match="cursor is not valid"):
            cl.events.query(limit=2, cursor=forged)
    assert decode_cursor(cl.store, encode_cursor(cl.store, "x", "f", a=1), "x", "f")["a"] == 1


def _pos(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("k", "f")}


def test_http_answers_every_edited_cursor_with_422(api: Api) -> None:
    cl = api.cl
    cursors = _cursors(cl)
    routes = {
        "events": ("/events", "cursor", {"limit": 2}),
        "events 7d": ("/events", "cursor", {"limit": 2, "date_range": "7d"}),
        "feed": ("/feed", "after", {"limit": 2}),
        "jobs": ("/jobs", "cursor", {"limit": 1}),
        "entities": ("/entities", "cursor", {"limit": 1}),
        "timeline": ("/timeline", "cursor", {"limit": 1, "days": 7}),
    }
    for name, (path, param, params) in routes.items():
        cursor = cursors[name][0]
        good = api.call("GET", path, params={**params, param: cursor})
        assert good.status_code == 200, (name, good.text)
        for edited in _edits(cursor)[::3]:
            response = api.call("GET", path, params={**params, param: edited})
            assert response.status_code == 422, (name, edited, response.text)
            assert error_of(response)["code"] == "validation_error"
    feed = cursors["feed"][0]
    for edited in _edits(feed)[::5]:
        if not edited.isascii():
            continue  # not a header value
        for how in ({"params": {"after": edited}}, {"headers": {"Last-Event-ID": edited}}):
            response = api.call("GET", "/feed/stream", **how)  # type: ignore[arg-type]
            assert response.status_code == 422, (edited, response.text)


def test_the_dashboard_answers_edited_cursors_with_400(api: Api) -> None:
    cl = api.cl
    cursors = _cursors(cl)
    api.http.post("/login", data={"token": api.admin, "next": "/"})
    events = cl.events.query(limit=50, date_range="24h")
    assert events.items
    for edited in _edits(cursors["events 7d"][0])[::4]:
        page = api.http.get("/activity", params={"range": "7d", "cursor": edited})
        assert page.status_code == 400, (edited, page.text[:300])
        assert "cursor" in page.text
        jobs = api.http.get("/jobs", params={"cursor": edited})
        assert jobs.status_code == 400
    for edited in _edits(cursors["feed"][0])[::4]:
        stream = api.http.get("/activity/stream", params={"after": edited})
        assert stream.status_code == 400, (edited, stream.text)
        if edited.isascii():
            resumed = api.http.get("/activity/stream", headers={"Last-Event-ID": edited})
            assert resumed.status_code == 400, (edited, resumed.text)


# -- extreme dates (14.6) --------------------------------------------------------------


EXTREME_STATS = [
    {"since": "0001-01-01T00:00:00Z"},
    {"since": "0001-01-01T00:00:00Z", "bucket": "1000d"},
    {"since": "0001-01-01T00:00:00Z", "bucket": "7d", "tz": "Europe/Paris"},
    {"since": "0001-01-01T00:00:00Z", "until": "0001-01-03T00:00:00Z", "bucket": "1d"},
    {"since": "9999-12-30T00:00:00Z", "until": "9999-12-31T23:59:59Z", "bucket": "1000d"},
    {"since": "9999-12-01T00:00:00Z", "until": "9999-12-31T23:59:59Z", "tz": "Pacific/Kiritimati"},
]
EXTREME_TIMELINE = [
    {"until": "0001-01-02T00:00:00Z"},
    {"until": "0001-01-02T00:00:00Z", "days": 1000},
    {"until": "0001-01-10T00:00:00Z", "days": 1, "tz": "Asia/Tokyo"},
    {"until": "9999-12-31T23:59:59Z", "tz": "Pacific/Kiritimati"},
    {"until": "9999-12-31T23:59:59Z"},
]


def test_extreme_dates_are_a_4xx_never_a_500(api: Api) -> None:
    api.cl.events.record("a", "b")
    api.cl.states.transition("movie", 1, "new")
    for params in EXTREME_STATS:
        response = api.call("GET", "/stats", params=params)
        assert response.status_code in (200, 422), (params, response.text)
        if response.status_code == 422:
            assert error_of(response)["code"] == "validation_error"
    for params in EXTREME_TIMELINE:
        response = api.call("GET", "/timeline", params=params)
        assert response.status_code in (200, 422), (params, response.text)
    # The two of the issue, exactly: refused with a clear reason.
    near_one = api.call(
        "GET", "/stats", params={"since": "0001-01-01T00:00:00Z", "bucket": "1000d"}
    )
    assert near_one.status_code == 422
    assert "year 1" in error_of(near_one)["message"]
    timeline = api.call("GET", "/timeline", params={"until": "0001-01-02T00:00:00Z"})
    assert timeline.status_code == 422
    assert "year 1" in error_of(timeline)["message"]


def test_extreme_dates_in_the_library(cl: Chronolog) -> None:
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match="year 1"):
        cl.stats.buckets(since=year_one, bucket="1000d")
    with pytest.raises(ValidationError, match="year 1"):
        cl.states.timeline(until=year_one + timedelta(days=1))
    # Events at any representable time are still recorded and found.
    cl.events.record("a", "b", occurred_at=year_one)
    assert cl.events.query(since=year_one, limit=1).total == 1


# -- a cursor carries its own window (15.1) --------------------------------------------


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def test_paging_a_relative_range_with_a_moving_clock(db_url: str) -> None:
    clock = Clock()
    with Chronolog(db_url, clock=clock) as cl:
        start = clock.now
        # Newest first: the last of these is just inside the 7-day window at page 1.
        times = [start - timedelta(days=7) + timedelta(minutes=30)] + [
            start - timedelta(hours=h) for h in range(5, 0, -1)
        ]
        cl.events.record_many(
            [
                {"event_type": "scan", "action": f"a{i}", "occurred_at": t}
                for i, t in enumerate(times)
            ]
        )
        cl.events.record("scan", "too old", occurred_at=start - timedelta(days=8))
        first = cl.events.query(date_range="7d", limit=4, search="a")
        assert first.total == 6
        clock.now = start + timedelta(hours=1)  # page 2 is read an hour later
        second = cl.events.query(date_range="7d", limit=4, search="a", cursor=first.next_cursor)
        got = [e.action for e in [*first.items, *second.items]]
        assert got == [f"a{i}" for i in range(5, -1, -1)]  # a0 is still in the window
        assert second.next_cursor is None
        assert second.page == 2
        # The cursor still belongs to its query: other filters, or no range, are refused.
        for other in ({"date_range": "30d"}, {}, {"date_range": "7d", "search": "b"}):
            with pytest.raises(ValidationError, match="other filters"):
                cl.events.query(limit=4, cursor=first.next_cursor, **other)


def test_http_pages_a_relative_range(api: Api) -> None:
    _records(api.cl, 7)
    first = api.call("GET", "/events", params={"date_range": "24h", "limit": 3}).json()
    seen = [e["id"] for e in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.call(
            "GET", "/events", params={"date_range": "24h", "limit": 3, "cursor": cursor}
        )
        assert page.status_code == 200, page.text
        seen += [e["id"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == 7


def test_timeline_pages_its_window(db_url: str) -> None:
    clock = Clock()
    with Chronolog(db_url, clock=clock) as cl:
        cl.states.define("movie", ["new", "done"], {"new": ["done"]}, initial="new")
        for i in range(5):
            cl.states.transition("movie", i, "done")
        first = cl.states.timeline(days=7, limit=2)
        clock.now += timedelta(minutes=5)
        ids = [t.id for t in first.page.items]
        cursor = first.page.next_cursor
        while cursor:
            page = cl.states.timeline(days=7, limit=2, cursor=cursor)
            assert page.days == first.days  # the same window, so the same day counts
            ids += [t.id for t in page.page.items]
            cursor = page.page.next_cursor
        assert len(ids) == len(set(ids)) == 5
        with pytest.raises(ValidationError, match="other filters"):
            cl.states.timeline(days=30, limit=2, cursor=first.page.next_cursor)


def test_http_timeline_pages(api: Api) -> None:
    api.cl.states.define("movie", ["new", "done"], {"new": ["done"]}, initial="new")
    for i in range(3):
        api.cl.states.transition("movie", i, "done")
    first = api.call("GET", "/timeline", params={"days": 7, "limit": 2}).json()
    assert first["next_cursor"]
    second = api.call(
        "GET", "/timeline", params={"days": 7, "limit": 2, "cursor": first["next_cursor"]}
    )
    assert second.status_code == 200, second.text
    assert second.json()["items"]


def test_cli_events_ls_prints_a_cursor_that_works(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        _records(cl, 5)
    runner = CliRunner()
    first = runner.invoke(cli, ["events", "ls", "--db", db_url, "--range", "7d", "--limit", "2"])
    assert first.exit_code == 0, first.output
    match = re.search(r"--cursor (\S+)", first.output)
    assert match is not None, first.output
    second = runner.invoke(
        cli,
        [
            "events",
            "ls",
            "--db",
            db_url,
            "--range",
            "7d",
            "--limit",
            "2",
            "--cursor",
            match.group(1),
        ],
    )
    assert second.exit_code == 0, second.output
    assert "page 2" in second.output
    assert "a2" in second.output
    assert "a4" not in second.output


def test_the_dashboards_default_activity_view_pages_older(api: Api) -> None:
    api.cl.events.record_many([{"event_type": "scan", "action": f"a{i}"} for i in range(60)])
    api.http.post("/login", data={"token": api.admin, "next": "/"})
    first = api.http.get("/activity")  # the default range: 24h
    assert first.status_code == 200
    older = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert older is not None
    second = api.http.get(older.group(1).replace("&amp;", "&"))
    assert second.status_code == 200, second.text[:500]
    assert len(re.findall(r'<tr class="ev[^"]*" data-id="\d+"', second.text)) == 10


def test_fingerprints_are_stable_text() -> None:
    assert fingerprint("events", 1, None) == fingerprint("events", 1, None)
    assert fingerprint("events", 1, "7d") != fingerprint("events", 1, "30d")
