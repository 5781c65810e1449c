"""The stats route through the ASGI app, on both databases, and ``client.stats``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronolog import ValidationError

from ._http import Api, error_of


def _seed(api: Api) -> None:
    now = datetime.now(UTC)
    for i, action in enumerate(["create", "create", "update", "delete", "create"]):
        api.cl.events.record("item", action, occurred_at=now - timedelta(minutes=7 * i))
    api.cl.events.record("other", "create", status="error", occurred_at=now)


def test_window_grouped_by_action_matches_the_library(api: Api) -> None:
    _seed(api)
    response = api.call("GET", "/stats", params={"window": "1h", "group_by": "action"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == "1h"
    assert body["bucket_seconds"] == 300
    assert len(body["buckets"]) == 12
    assert body["total"] == 6
    assert sum(b["total"] for b in body["buckets"]) == 6
    assert {k for b in body["buckets"] for k in b["counts"]} == {"create", "update", "delete"}
    library = api.cl.stats.buckets("1h", group_by="action").to_dict()
    assert [b["counts"] for b in body["buckets"]] == [b["counts"] for b in library["buckets"]]
    assert set(body["buckets"][0]) == {"start", "end", "counts", "total"}


def test_filters_tz_and_explicit_range(api: Api) -> None:
    _seed(api)
    filtered = api.call(
        "GET",
        "/stats",
        params={"window": "1d", "event_types": "item", "actions": "create,update"},
    ).json()
    assert filtered["total"] == 4
    assert filtered["bucket_seconds"] == 3600
    paris = api.call("GET", "/stats", params={"window": "7d", "tz": "Europe/Paris"}).json()
    assert paris["tz"] == "Europe/Paris"
    assert paris["bucket_seconds"] == 86400
    assert paris["buckets"][0]["start"].endswith(("+01:00", "+02:00"))
    since = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    ranged = api.call("GET", "/stats", params={"since": since, "bucket": "15m"}).json()
    assert ranged["bucket_seconds"] == 900
    assert ranged["total"] == 6
    auto = api.call("GET", "/stats", params={"since": since}).json()
    assert auto["total"] == 6
    assert auto["bucket_seconds"] > 0


@pytest.mark.parametrize(
    "params",
    [
        {"window": "2d"},
        {"window": "1h", "group_by": "colour"},
        {"window": "1h", "tz": "Mars/Olympus"},
        {"window": "1h", "since": "2026-01-01T00:00:00Z"},
        {},
        {"since": "2026-01-01T00:00:00"},
        {"since": "2020-01-01T00:00:00Z", "bucket": "1m"},
        {"since": "2026-01-01T00:00:00Z", "bucket": "soon"},
    ],
)
def test_bad_input_is_422(api: Api, params: dict[str, str]) -> None:
    response = api.call("GET", "/stats", params=params)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_error"


def test_client_stats_returns_a_series(api: Api) -> None:
    _seed(api)
    with api.client() as client:
        series = client.stats.buckets("1h", group_by="action", event_types=["item"])
        assert series == api.cl.stats.buckets("1h", group_by="action", event_types=["item"])
        ranged = client.stats.buckets(
            since=datetime.now(UTC) - timedelta(hours=1), bucket=timedelta(minutes=30)
        )
        assert ranged.total == 6
        with pytest.raises(ValidationError, match="window"):
            client.stats.buckets("2d")
