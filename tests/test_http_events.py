"""The events routes through the ASGI app, on both databases, and the remote Client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from examples import library_cleanup

from chronolog import (
    Actor,
    Event,
    NewEvent,
    NotFound,
    Target,
    TooLarge,
    Unauthorized,
    ValidationError,
)

from ._http import Api, error_of

EVENT = {
    "event_type": "deletion",
    "action": "deleted",
    "actor": {"type": "rule", "id": "7", "name": "Old movies"},
    "target": {"type": "media_item", "id": 42, "title": "The Matrix"},
    "occurred_at": "2026-11-20T08:30:15.123456+02:00",
    "metadata": {"fileSize": 123, "nested": {"ok": [1, None]}},
}


def _count(api: Api) -> int:
    return api.cl.events.query(limit=1).total or 0


def test_record_one_and_read_it_back(api: Api) -> None:
    response = api.call("POST", "/events", json=EVENT)
    assert response.status_code == 201
    event_id = response.json()["id"]
    body = api.call("GET", f"/events/{event_id}").json()
    assert body == {
        "id": event_id,
        "project": "default",
        "occurred_at": "2026-11-20T06:30:15.123456Z",
        "event_type": "deletion",
        "action": "deleted",
        "status": "success",
        "actor": {"type": "rule", "id": "7", "name": "Old movies"},
        "target": {"type": "media_item", "id": "42", "title": "The Matrix"},
        "error": None,
        "metadata": {"fileSize": 123, "nested": {"ok": [1, None]}},
    }
    assert api.cl.events.get(event_id).target == Target("media_item", "42", "The Matrix")


def test_batch_is_all_or_nothing(api: Api) -> None:
    ok = {"event_type": "scan", "action": "started"}
    response = api.call("POST", "/events", json={"events": [ok, ok, ok]})
    assert response.status_code == 201
    ids = response.json()["ids"]
    assert len(ids) == 3
    assert ids == sorted(ids)
    before = _count(api)
    bad = api.call("POST", "/events", json={"events": [ok, ok, {"event_type": " ", "action": "x"}]})
    assert bad.status_code == 422
    assert error_of(bad)["code"] == "validation_error"
    assert "event 2" in error_of(bad)["message"]
    assert _count(api) == before


def test_batch_cap_is_413_and_writes_nothing(api: Api) -> None:
    events = [{"event_type": "scan", "action": "x"}] * 51  # the fixture caps batches at 50
    response = api.call("POST", "/events", json={"events": events})
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert _count(api) == 0


def test_body_cap_is_413(cl: Any) -> None:
    from ._http import make_api

    gen = make_api(cl, max_body_bytes=1000)
    small = next(gen)
    try:
        big = {"event_type": "scan", "action": "x", "metadata": {"pad": "x" * 2000}}
        response = small.call("POST", "/events", json=big)
        assert response.status_code == 413
        assert error_of(response)["code"] == "too_large"
        assert (
            small.call("POST", "/events", json={"event_type": "a", "action": "b"}).status_code
            == 201
        )
    finally:
        gen.close()
    assert cl.events.query().total == 1


def test_metadata_cap_is_422(api: Api) -> None:
    event = {"event_type": "scan", "action": "x", "metadata": {"pad": "x" * 5000}}
    response = api.call("POST", "/events", json=event)
    assert response.status_code == 422
    assert error_of(response)["details"]["limit"] == 4096
    assert _count(api) == 0


BAD_BODIES = [
    (b"{not json", 400, "invalid_json"),
    (b"[]", 422, "validation_error"),
    (b'"text"', 422, "validation_error"),
    (b'{"event_type": 5, "action": "x"}', 422, "validation_error"),
    (b'{"event_type": "a", "action": "x", "surprise": 1}', 422, "validation_error"),
    (
        b'{"event_type": "a", "action": "x", "occurred_at": "2026-01-01T00:00:00"}',
        422,
        "validation_error",
    ),
    (b'{"event_type": "a", "action": "x", "occurred_at": "yesterday"}', 422, "validation_error"),
    (b'{"event_type": "a\\u0000", "action": "x"}', 422, "validation_error"),
    (b'{"event_type": "a", "action": "\\ud800"}', 400, "invalid_json"),
    (b'{"event_type": "a", "action": "x", "metadata": {"k\\u0000": 1}}', 422, "validation_error"),
    (b'{"event_type": "a", "action": "x", "metadata": [1]}', 422, "validation_error"),
    (b'{"event_type": "a", "action": "x", "metadata": {"n": 1e400}}', 400, "invalid_json"),
    (b'{"event_type": "' + b"x" * 100 + b'", "action": "x"}', 422, "validation_error"),
    (b"\xff\xfe", 400, "invalid_json"),
    (b"", 422, "validation_error"),
    (b'{"events": {"a": 1}}', 422, "validation_error"),
    (b'{"events": [1]}', 422, "validation_error"),
    (b'{"events": [], "x": 1}', 422, "validation_error"),
    (b'{"event_type": "a", "action": "x", "occurred_at": 5}', 422, "validation_error"),
    (
        b'{"event_type": "a", "action": "x", "occurred_at": "0001-01-01T00:00:00+01:00"}',
        422,
        "validation_error",
    ),
    (b'{"event_type": "a", "action": "x", "metadata": "{}"}', 422, "validation_error"),
    (
        b'{"event_type": "a", "action": "x", "actor": {"type": "u", "role": 1}}',
        422,
        "validation_error",
    ),
    (
        b'{"event_type": "a", "action": "x", "target": {"type": "t", "id": 1e30}}',
        422,
        "validation_error",
    ),
    (
        b'{"events": [{"event_type": "a", "action": "x"}, {"event_type": "a"}]}',
        422,
        "validation_error",
    ),
]


def test_bad_bodies_get_4xx_and_change_nothing(api: Api) -> None:
    for body, status, code in BAD_BODIES:
        response = api.call(
            "POST", "/events", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == status, (body, response.text)
        assert error_of(response)["code"] == code
    assert _count(api) == 0


def test_huge_integers_in_metadata_are_kept_or_refused_never_500(api: Api) -> None:
    for value in (2**63, -(2**63) - 1, 10**30):
        response = api.call(
            "POST", "/events", json={"event_type": "a", "action": "b", "metadata": {"n": value}}
        )
        assert response.status_code in {201, 422}, response.text


BAD_QUERIES = [
    "limit=0",
    "limit=101",
    "limit=-5",
    "limit=99999999999999999999999",
    "page=0",
    "page=abc",
    "cursor=not-a-cursor",
    "cursor=" + "A" * 600,
    "since=2026-01-01T00:00:00",
    "since=0001-01-01T00:00:00%2B01:00",
    "until=9999-12-31T23:59:59-01:00",
    "since=not-a-time",
    "date_range=1y",
    "target_id=5",
    "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
    "search=%00",
    "search=%ff%fe",
    "event_types=" + ",".join(["t"] * 101),
]


def test_bad_queries_and_ids_get_4xx(api: Api) -> None:
    api.call("POST", "/events", json={"event_type": "a", "action": "b"})
    for query in BAD_QUERIES:
        response = api.call("GET", f"/events?{query}")
        assert response.status_code in {400, 422}, (query, response.text)
        error_of(response)
    for path in ["/events/0", "/events/99999999999999999999", "/events/-1", "/events/1.5"]:
        for method in ("GET", "PATCH"):
            response = api.call(method, path, json={"status": "error"})
            assert response.status_code == 422, (method, path)
            assert error_of(response)["code"] == "validation_error"
    assert [e.status for e in api.cl.events.recent()] == ["success"]


def test_unknown_routes_and_methods_use_the_error_shape(api: Api) -> None:
    assert error_of(api.call("GET", "/nothing-here"))["code"] == "not_found"
    response = api.call("DELETE", "/events")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    missing = api.call("GET", "/events/12345")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"


def test_query_filters_paging_and_cursor(api: Api) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    events = [
        {
            "event_type": "scan" if i % 3 else "deletion",
            "action": "done",
            "status": "error" if i % 5 == 0 else "success",
            "actor": {"type": "rule" if i % 2 else "user", "id": str(i % 4)},
            "target": {"type": "media_item", "id": str(i % 7), "title": f"Title {i}"},
            "occurred_at": (base + timedelta(minutes=i)).isoformat(),
        }
        for i in range(40)
    ]
    assert api.call("POST", "/events", json={"events": events}).status_code == 201
    cases: list[tuple[str, dict[str, Any]]] = [
        ("event_types=deletion", {"event_types": ["deletion"]}),
        (
            "event_types=deletion,scan&statuses=error",
            {"event_types": ["deletion", "scan"], "statuses": ["error"]},
        ),
        ("actor_types=rule&actions=done", {"actor_types": ["rule"], "actions": ["done"]}),
        ("actor_id=3", {"actor_id": "3"}),
        (
            "target_types=media_item&target_id=4",
            {"target_types": ["media_item"], "target_id": "4"},
        ),
        ("search=title%201", {"search": "title 1"}),
        (
            "since=2026-11-01T00:10:00Z&until=2026-11-01T00:20:00%2B00:00",
            {"since": base + timedelta(minutes=10), "until": base + timedelta(minutes=20)},
        ),
        ("date_range=all&event_types=", {"date_range": "all"}),
    ]
    for query, kwargs in cases:
        body = api.call("GET", f"/events?{query}&limit=7&page=2").json()
        expected = api.cl.events.query(limit=7, page=2, **kwargs)
        assert [e["id"] for e in body["items"]] == [e.id for e in expected.items], query
        assert (body["total"], body["page"], body["limit"]) == (expected.total, 2, 7)
    # Walking with the cursor visits every match once, newest first.
    seen: list[int] = []
    cursor = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        body = api.call("GET", f"/events?event_types=scan&limit=6{suffix}").json()
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected_ids = [e.id for e in api.cl.events.query(event_types="scan", limit=100).items]
    assert seen == expected_ids
    # A cursor from other filters is refused.
    first = api.call("GET", "/events?limit=2").json()
    other = api.call("GET", f"/events?event_types=scan&cursor={first['next_cursor']}")
    assert other.status_code == 422
    no_total = api.call("GET", "/events?with_total=false&limit=3").json()
    assert no_total["total"] is None
    assert len(no_total["items"]) == 3


def test_recent_and_patch(api: Api) -> None:
    ids = [
        api.call(
            "POST", "/events", json={"event_type": "job", "action": f"a{i}", "status": "processing"}
        ).json()["id"]
        for i in range(5)
    ]
    recent = api.call("GET", "/events/recent?limit=3").json()
    assert [e["id"] for e in recent] == ids[::-1][:3]
    patched = api.call("PATCH", f"/events/{ids[0]}", json={"status": "error", "error": "disk full"})
    assert patched.status_code == 200
    assert (patched.json()["status"], patched.json()["error"]) == ("error", "disk full")
    assert api.cl.events.get(ids[0]).status == "error"
    assert api.call("PATCH", "/events/999999", json={"status": "success"}).status_code == 404
    bad = api.call("PATCH", f"/events/{ids[1]}", json={"status": ""})
    assert bad.status_code == 422
    assert api.cl.events.get(ids[1]).status == "processing"


def test_strict_project_refuses_unknown_types(api: Api) -> None:
    api.cl.events.register_types("scan")
    response = api.call("POST", "/events", json={"event_type": "other", "action": "x"})
    assert response.status_code == 422
    assert error_of(response)["details"]["unknown"] == ["other"]


def _seed_item(e: dict[str, Any]) -> dict[str, Any]:
    """The library-cleanup seed's item shape, built from a route's event JSON."""
    actor, target = e["actor"] or {}, e["target"] or {}
    return {
        "id": e["id"],
        "eventType": e["event_type"],
        "action": e["action"],
        "actorType": actor.get("type"),
        "actorName": actor.get("name"),
        "targetType": target.get("type"),
        "targetId": target.get("id"),
        "targetTitle": target.get("title"),
        "metadata": e["metadata"],
        "createdAt": e["occurred_at"],
    }


def test_library_cleanup_seed_routes_are_reproduced(api: Api) -> None:
    """Seed 002's ``GET /`` and ``GET /recent`` bodies, rebuilt from ``/events`` routes."""
    library_cleanup.simulate_day(api.cl, end=datetime(2026, 11, 21, 12, tzinfo=UTC))
    for params, kwargs in [
        ("page=1&limit=20&date_range=all", {}),
        (
            "page=2&limit=5&date_range=all&event_types=deletion,rule_match",
            {"event_types": ["deletion", "rule_match"], "page": 2, "limit": 5},
        ),
        ("date_range=all&actor_types=rule", {"actor_types": ["rule"]}),
        ("date_range=all&search=alien", {"search": "alien"}),
    ]:
        body = api.call("GET", f"/events?{params}").json()
        routed = {
            "success": True,
            "data": {
                "items": [_seed_item(e) for e in body["items"]],
                "total": body["total"],
                "page": body["page"],
                "limit": body["limit"],
            },
        }
        kwargs.setdefault("limit", 20 if "limit=20" in params else 50)
        assert routed == library_cleanup.activity_log(api.cl, **kwargs), params
    recent = [_seed_item(e) for e in api.call("GET", "/events/recent?limit=5").json()]
    assert recent == library_cleanup.recent(api.cl, 5)


# -- the remote Client -------------------------------------------------------------


def test_client_mirrors_the_library(api: Api) -> None:
    with api.client() as client:
        at = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
        event_id = client.events.record(
            "deletion",
            "deleted",
            actor=Actor("rule", "7", "Old movies"),
            target={"type": "media_item", "id": 42, "title": "Heat"},
            occurred_at=at,
            metadata={"fileSize": 1},
        )
        remote = client.events.get(event_id)
        assert isinstance(remote, Event)
        assert remote == api.cl.events.get(event_id)
        ids = client.events.record_many(
            [NewEvent("scan", "started", occurred_at=at + timedelta(seconds=i)) for i in range(5)]
            + [{"event_type": "scan", "action": "done", "status": "processing"}]
        )
        assert len(ids) == 6
        assert client.events.recent(3) == api.cl.events.recent(3)
        page = client.events.query(event_types=["scan"], limit=4)
        local = api.cl.events.query(event_types=["scan"], limit=4)
        assert page == local
        assert client.events.query(event_types="scan", cursor=page.next_cursor, limit=4) == (
            api.cl.events.query(event_types="scan", cursor=local.next_cursor, limit=4)
        )
        assert client.events.query(since=at + timedelta(seconds=3), with_total=False).total is None
        updated = client.events.set_status(ids[-1], "error", "boom")
        assert updated == api.cl.events.get(ids[-1])


def test_client_raises_the_library_exceptions(api: Api) -> None:
    with api.client() as client:
        with pytest.raises(NotFound):
            client.events.get(424242)
        with pytest.raises(ValidationError, match="event_type"):
            client.events.record("", "x")
        with pytest.raises(ValidationError):
            client.events.record("a", "b", occurred_at=datetime(2026, 1, 1))  # naive
        with pytest.raises(TooLarge):
            client.events.record_many([NewEvent("a", "b")] * 51)
        with pytest.raises(ValidationError, match="cursor"):
            client.events.query(cursor="garbage")
    with api.client("chl_not-a-token") as stranger, pytest.raises(Unauthorized):
        stranger.events.recent()
    assert _count(api) == 0


def test_health_and_metrics(api: Api) -> None:
    health = api.call("GET", "/health", token=None)
    assert health.json() == {"status": "ok"}  # details only for a token (issue 14.7)
    api.call("POST", "/events", json={"events": [{"event_type": "a", "action": "b"}] * 3})
    api.call("GET", "/events/5")
    api.app.state.chronolog.metrics.add_gauge(
        "chronolog_jobs", "Jobs by state.", ["state"], lambda: [(("queued",), 4.0)]
    )
    text = api.call("GET", "/metrics").text
    assert "chronolog_events_recorded_total 3.0" in text
    assert (
        'chronolog_http_requests_total{method="POST",route="/api/v1/events",status="201"} 1.0'
        in text
    )
    assert 'route="/api/v1/events/{event_id}",status="404"' in text
    assert 'chronolog_jobs{state="queued"} 4.0' in text
    assert "/events/5" not in text  # templates, never raw paths
