"""The states routes through the ASGI app, on both databases, and ``client.states``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chronolog import Actor, Conflict, Forbidden, InvalidTransition, NotFound

from ._http import Api, error_of

MOVIE = {
    "states": ["new", "missing", "downloading", "downloaded"],
    "transitions": {"new": ["missing"], "missing": ["downloading"], "downloading": ["downloaded"]},
    "initial": "new",
    "terminal": ["downloaded"],
}


def _define(api: Api) -> None:
    response = api.call("PUT", "/machines/movie", json=MOVIE)
    assert response.status_code == 200, response.text


def test_machines_round_trip_and_need_admin(api: Api) -> None:
    _define(api)
    body = api.call("GET", "/machines/movie").json()
    assert body == {"kind": "movie", **MOVIE}
    assert api.cl.states.machine("movie") is not None
    assert (
        api.call("PUT", "/machines/movie", json=MOVIE, token=api.token("write")).status_code == 403
    )
    assert api.call("GET", "/machines/series").status_code == 404
    bad = api.call("PUT", "/machines/movie", json={**MOVIE, "initial": "nowhere"})
    assert bad.status_code == 422
    assert error_of(bad)["code"] == "validation_error"
    assert api.call("PUT", "/machines/job", json=MOVIE).status_code == 422
    assert api.cl.states.machine("movie").initial == "new"  # type: ignore[union-attr]


def test_moves_history_and_refusals(api: Api) -> None:
    _define(api)
    moved = api.call(
        "POST",
        "/entities/movie/603/transitions",
        json={"to": "missing", "title": "The Matrix", "actor": {"type": "user", "id": "ana"}},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["from_state"] == "new"
    assert moved.json()["sort_key"] == 1
    second = api.call(
        "POST",
        "/entities/movie/603/transitions",
        json={"to": "downloading", "expected_from": "missing", "metadata": {"client": "sab"}},
    )
    assert second.status_code == 201
    forbidden = api.call("POST", "/entities/movie/603/transitions", json={"to": "new"})
    assert forbidden.status_code == 422
    err = error_of(forbidden)
    assert err["code"] == "invalid_transition"
    assert err["details"]["allowed"] == ["downloaded"]
    assert err["details"]["from_state"] == "downloading"
    conflict = api.call(
        "POST",
        "/entities/movie/603/transitions",
        json={"to": "downloaded", "expected_from": "missing"},
    )
    assert conflict.status_code == 409
    assert error_of(conflict)["code"] == "conflict"
    history = api.call("GET", "/entities/movie/603/transitions").json()
    assert [(t["from_state"], t["to_state"]) for t in history] == [
        ("new", "missing"),
        ("missing", "downloading"),
    ]
    assert history[1]["metadata"] == {"client": "sab"}
    assert (
        api.call("GET", "/entities/movie/603/transitions", params={"after": 1}).json()[0][
            "sort_key"
        ]
        == 2
    )
    entity = api.call("GET", "/entities/movie/603").json()
    assert entity["state"] == "downloading"
    assert entity["title"] == "The Matrix"
    assert entity["current"]["metadata"] == {"client": "sab"}
    assert len(api.cl.states.history("movie", 603)) == 2  # the refusals wrote nothing
    assert api.call("GET", "/entities/movie/nope").status_code == 404
    assert api.call("GET", "/entities/movie/nope/transitions").status_code == 404
    assert api.call("POST", "/entities/job/1/transitions", json={"to": "x"}).status_code == 422
    assert api.call("POST", "/entities/movie/1/transitions", json={"to": " x"}).status_code == 422
    big = {"to": "missing", "metadata": {"x": "y" * 5000}}
    assert api.call("POST", "/entities/movie/2/transitions", json=big).status_code == 422


def test_ids_with_slashes_parents_and_listing(api: Api) -> None:
    up = api.call("PUT", "/entities/season/the-wire/s01", json={"title": "The Wire S1"})
    assert up.status_code == 200, up.text
    assert up.json()["id"] == "the-wire/s01"
    for disc in ("d1", "d2"):
        moved = api.call(
            "POST",
            f"/entities/disc/the-wire/s01/{disc}/transitions",
            json={"to": "ripping", "parent": ["season", "the-wire/s01"]},
        )
        assert moved.status_code == 201, moved.text
    api.call("POST", "/entities/disc/other/transitions", json={"to": "ripping"})
    api.call("POST", "/entities/disc/done/transitions", json={"to": "ripped"})
    page = api.call(
        "GET",
        "/entities",
        params={"kinds": "disc", "states": "ripping", "parent": "season/the-wire/s01"},
    ).json()
    assert sorted(e["id"] for e in page["items"]) == ["the-wire/s01/d1", "the-wire/s01/d2"]
    assert page["items"][0]["parent"] == ["season", "the-wire/s01"]
    both = api.call("GET", "/entities", params={"kinds": "disc", "states": "ripping,ripped"})
    assert len(both.json()["items"]) == 4
    # Every filter of the EntityQuery combines with the others, states without kinds too.
    anywhere = api.call("GET", "/entities", params={"states": "ripped"}).json()
    assert [e["id"] for e in anywhere["items"]] == ["done"]
    children = api.call("GET", "/entities", params={"parent": "season/the-wire/s01"}).json()
    assert len(children["items"]) == 2
    first = api.call("GET", "/entities", params={"limit": 2}).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = api.call("GET", "/entities", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    seen = {(e["kind"], e["id"]) for e in first["items"] + rest["items"]}
    assert len(seen) == 4
    active = api.call("GET", "/entities", params={"active": "true", "kinds": "disc"}).json()
    assert len(active["items"]) == 4
    finished = api.call("GET", "/entities", params={"active": "false", "kinds": "disc"}).json()
    assert finished["items"] == []  # disc has no machine: no terminal state
    for params in (
        {"kinds": "disc", "parent": "noslash"},
        {"kinds": "disc", "states": "ripping", "parent": "season/missing"},
        {"kinds": "disc", "active": "maybe"},
        {"kinds": "disc", "states": "s" * 65},
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"cursor": "garbage"},
    ):
        response = api.call("GET", "/entities", params=params)
        assert response.status_code in {404, 422}, (params, response.text)


def test_unknown_query_parameters_are_refused_by_name(api: Api) -> None:
    """Every route that reads a query value refuses a parameter it does not know (a typo
    would otherwise widen the filter silently), naming it and what the route takes."""
    api.call("PUT", "/entities/disc/d1", json={"title": "D1"})
    before = api.call("GET", "/entities").json()
    for path, params in (
        ("/entities", {"kind": "disc"}),  # the old singular spelling
        ("/entities", {"kinds": "disc", "colour": "red"}),
        ("/timeline", {"to_states": "ripped"}),
        ("/events", {"event_type": "disc"}),
        ("/feed", {"limt": "5"}),
        ("/feed/stream", {"after": "", "heartbeats": "1"}),
        ("/stats", {"window": "1h", "group": "action"}),
        ("/jobs", {"state": "failed"}),
        ("/jobs/retry-many", {"queue": "rip"}),
        ("/jobs/cancel-many", {"queue": "rip"}),
    ):
        method = "POST" if path.endswith("-many") else "GET"
        response = api.call(method, path, params=params)
        assert response.status_code == 422, (path, response.text)
        error = error_of(response)
        unknown = [k for k in params if k not in ("kinds", "window", "after")]
        assert error["details"]["unknown"] == unknown, (path, error)
        assert f"unknown query parameter {unknown[0]!r}" in error["message"]
        known = error["details"]["known"]
        assert unknown[0] not in known
        assert {"since", "until"} & set(known) or "states" in known, (path, known)
    assert api.call("GET", "/entities").json() == before


def test_machines_list_and_children(api: Api) -> None:
    assert api.call("GET", "/machines").json() == []
    _define(api)
    api.call("PUT", "/machines/disc", json={"states": ["pending", "ripped"], "transitions": {}})
    listed = api.call("GET", "/machines").json()
    assert [m["kind"] for m in listed] == ["disc", "movie"]
    assert listed[1] == {"kind": "movie", **MOVIE}
    api.call("PUT", "/entities/season/dark/s01", json={"title": "Dark S1"})
    for n in (1, 2):
        api.call("PUT", f"/entities/disc/dark/s01/d{n}", json={"parent": ["season", "dark/s01"]})
    api.call("PUT", "/entities/note/dark/s01/n", json={"parent": ["season", "dark/s01"]})
    children = api.call("GET", "/entities/season/dark/s01/children")
    assert children.status_code == 200, children.text
    assert [c["id"] for c in children.json()] == ["dark/s01/d1", "dark/s01/d2", "dark/s01/n"]
    assert children.json()[0]["parent"] == ["season", "dark/s01"]
    discs = api.call("GET", "/entities/season/dark/s01/children", params={"kind": "disc"}).json()
    assert [c["id"] for c in discs] == ["dark/s01/d1", "dark/s01/d2"]
    assert api.call("GET", "/entities/disc/dark/s01/d1/children").json() == []
    missing = api.call("GET", "/entities/season/nope/children")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    with api.client() as client:
        assert client.states.machines() == api.cl.states.machines()
        assert client.states.children("season", "dark/s01") == api.cl.states.children(
            "season", "dark/s01"
        )
        assert client.states.children("season", "dark/s01", "note") == api.cl.states.children(
            "season", "dark/s01", "note"
        )
        with pytest.raises(NotFound):
            client.states.children("season", "nope")


def test_timeline(api: Api) -> None:
    _define(api)
    for i in range(3):
        api.call("POST", f"/entities/movie/{i}/transitions", json={"to": "missing"})
    body = api.call("GET", "/timeline", params={"days": 1, "tz": "Europe/Paris"}).json()
    assert len(body["items"]) == 3
    assert sum(d["count"] for d in body["days"]) == 3
    assert body["days"][0]["kind"] == "movie"
    assert api.call("GET", "/timeline", params={"tz": "Mars/Olympus"}).status_code == 422
    assert api.call("GET", "/timeline", params={"days": 2000}).status_code == 422
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    moved = api.call("GET", "/timeline", params={"states": "missing", "since": since}).json()
    assert len(moved["items"]) == 3
    assert api.call("GET", "/timeline", params={"states": "new"}).json()["items"] == []
    both = api.call("GET", "/timeline", params={"days": 1, "since": since})
    assert both.status_code == 422
    assert "days or since" in error_of(both)["message"]
    active = api.call("GET", "/timeline", params={"active": "true"})
    assert active.status_code == 422
    assert error_of(active)["details"]["field"] == "active"


def test_client_states_mirrors_the_library(api: Api) -> None:
    with api.client() as client:
        machine = client.states.define(
            "movie", MOVIE["states"], MOVIE["transitions"], initial="new", terminal=["downloaded"]
        )
        assert machine == api.cl.states.machine("movie")
        assert client.states.machine("series") is None
        moved = client.states.transition(
            "movie", 603, "missing", title="Heat", actor=Actor("user", "ana")
        )
        assert moved == api.cl.states.history("movie", 603)[0]
        with pytest.raises(InvalidTransition) as refused:
            client.states.transition("movie", 603, "downloaded")
        assert refused.value.details["allowed"] == ["downloading"]
        with pytest.raises(Conflict):
            client.states.transition("movie", 603, "downloading", expected_from="new")
        entity = client.states.upsert("movie", 603, attributes={"year": 1995})
        assert entity == api.cl.states.get("movie", 603)
        assert client.states.get("movie", 603).attributes == {"year": 1995}
        season = client.states.upsert("season", "heat/s01")
        client.states.transition("disc", "heat/s01/d1", "ripping", parent=season)
        page = client.states.in_state("disc", "ripping", parent=("season", "heat/s01"))
        assert [e.id for e in page.items] == ["heat/s01/d1"]
        assert page == api.cl.states.in_state("disc", "ripping", parent=("season", "heat/s01"))
        assert client.states.entities("movie") == api.cl.states.entities("movie")
        assert client.states.active() == api.cl.states.active()
        assert client.states.history("movie", 603) == api.cl.states.history("movie", 603)
        until = datetime.now(UTC) + timedelta(minutes=1)
        paris = ZoneInfo("Europe/Paris")
        assert client.states.timeline(days=2, until=until, tz=paris) == api.cl.states.timeline(
            days=2, until=until, tz=paris
        )
        with pytest.raises(NotFound):
            client.states.get("movie", "nope")
    with api.client(api.token("write")) as writer, pytest.raises(Forbidden):
        writer.states.define("x", ["a"], {})
