"""The schedules routes, the remote client's ``jobs.schedules``, and the server firing
schedules for remote workers, on both databases."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from chronolog import Chronolog, Client, NotFound, ValidationError
from chronolog.jobs.worker import Worker

from ._http import Api, error_of, serving


def test_schedule_routes(api: Api) -> None:
    put = api.call(
        "PUT",
        "/schedules/index-library",
        json={"kind": "index_library", "cron": "0 */6 * * *", "tz": "Europe/Berlin",
              "payload": {"full": False}, "queue": "media", "catch_up": "none"},
    )  # fmt: skip
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["name"] == "index-library"
    assert body["cron"] == "0 */6 * * *"
    assert body["every"] is None
    assert body["paused"] is False
    assert len(body["next_fires"]) == 3
    fires = [datetime.fromisoformat(f) for f in body["next_fires"]]
    assert fires == sorted(fires)
    assert all(f > datetime.now(UTC) for f in fires)
    listed = api.call("GET", "/schedules").json()["items"]
    assert [s["name"] for s in listed] == ["index-library"]
    nxt = api.call("GET", "/schedules/index-library/next", params={"n": 6}).json()
    assert len(nxt["fires"]) == 6
    assert nxt["fires"][:3] == body["next_fires"]
    paused = api.call("POST", "/schedules/index-library/pause").json()
    assert paused["paused"] is True
    assert api.call("POST", "/schedules/index-library/resume").json()["paused"] is False
    assert api.call("GET", "/schedules/index-library/fires").json() == {"items": []}
    # The library sees what the routes did, with the token as the actor.
    schedule = api.cl.jobs.schedules.get("index-library")
    assert schedule.queue == "media"
    assert schedule.payload == {"full": False}
    actions = [e.action for e in api.cl.events.query(event_types=["schedule"]).items]
    assert sorted(actions) == ["added", "paused", "resumed"]
    gone = api.call("DELETE", "/schedules/index-library")
    assert gone.status_code == 204
    missing = api.call("GET", "/schedules/index-library")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"


def test_bad_schedules_are_422_and_change_nothing(api: Api) -> None:
    api.cl.jobs.schedules.add("keep", "k", every=60)
    before = api.cl.jobs.schedules.list()
    for body, says in [
        ({"kind": "k", "cron": "99 * * * *"}, "bad cron expression"),
        ({"kind": "k", "every": 0}, "every must be from 1"),
        ({"kind": "k", "every": 5, "tz": "Nowhere/City"}, "unknown time zone"),
        ({"kind": "k", "every": 5, "catch_up": "sometimes"}, "catch_up"),
        ({"kind": "k"}, "exactly one of cron and every"),
        ({"kind": "k", "every": 5, "surprise": 1}, "surprise"),
    ]:
        for name in ("keep", "fresh"):
            response = api.call("PUT", f"/schedules/{name}", json=body)
            assert response.status_code == 422, (body, response.text)
            assert says in response.text, (body, response.text)
    bad_name = api.call("PUT", "/schedules/has%20space", json={"kind": "k", "every": 5})
    assert bad_name.status_code == 422
    assert api.cl.jobs.schedules.list() == before


def test_client_schedules_mirror_the_library(api: Api) -> None:
    client = api.client()
    remote = client.jobs.schedules
    made = remote.add("reconcile", "reconcile_downloads", every=900, payload={"dry": True})
    local = api.cl.jobs.schedules.get("reconcile")
    assert made == local
    assert remote.list() == [local]
    assert remote.next_fires("reconcile", 4) == api.cl.jobs.schedules.next_fires("reconcile", 4)
    assert remote.pause("reconcile").paused
    assert not remote.resume("reconcile").paused
    assert remote.fires("reconcile") == []
    with pytest.raises(ValidationError, match="every"):
        remote.add("reconcile", "x", every=0)
    remote.remove("reconcile")
    with pytest.raises(NotFound):
        remote.get("reconcile")


def test_the_server_fires_schedules_for_remote_workers(cl: Chronolog) -> None:
    cl.jobs.schedules.add("beat", "beat", every=1)
    token = cl.auth.create_token("remote worker", "write").secret
    ran: list[int] = []
    with serving(cl, schedule_seconds=0.2) as url, Client(url, token) as client:
        worker = Worker(client.jobs, {"beat": lambda ctx: ran.append(ctx.id)}, name="remote")
        assert worker.schedules is None  # a remote worker fires nothing itself
        t = threading.Thread(target=worker.run)
        t.start()
        deadline = time.monotonic() + 20
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.stop()
        t.join(15)
    assert len(ran) >= 2
    fires = cl.jobs.schedules.fires("beat")
    assert {f.fired_by.split(":")[0] for f in fires} == {"server"}
    assert all(cl.jobs.get(i).state == "completed" for i in ran)
