"""The jobs routes and the remote worker protocol through the ASGI app, on both databases."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from chronolog import LeaseLost, NotFound
from chronolog.errors import InvalidTransition, TooLarge
from chronolog.jobs import NewJob
from chronolog.jobs.worker import JobContext, Worker

from ._http import Api, error_of


def test_enqueue_list_get_logs_retry_cancel(api: Api) -> None:
    created = api.call(
        "POST",
        "/jobs",
        json={
            "kind": "transcode",
            "payload": {"file": "e03.mkv"},
            "queue": "media",
            "priority": 5,
            "unique_key": "e03",
            "subject": ["episode", "s01e03"],
        },
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["state"] == "pending"
    assert job["subject"] == ["episode", "s01e03"]
    again = api.call("POST", "/jobs", json={"kind": "transcode", "unique_key": "e03"}).json()
    assert again["id"] == job["id"]  # the key is held: the holder comes back
    batch = api.call("POST", "/jobs", json={"jobs": [{"kind": "noop"}, {"kind": "noop"}]})
    assert batch.status_code == 201
    assert len(batch.json()["ids"]) == 2
    over = api.call("POST", "/jobs", json={"jobs": [{"kind": "noop"}] * 51})
    assert over.status_code == 413
    assert api.call("GET", f"/jobs/{job['id']}").json()["payload"] == {"file": "e03.mkv"}
    listed = api.call("GET", "/jobs", params={"queues": "media"}).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    first = api.call("GET", "/jobs", params={"limit": 2}).json()
    rest = api.call("GET", "/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) + len(rest["items"]) == 3
    by_subject = api.call("GET", "/jobs", params={"subject": "episode/s01e03"}).json()
    assert [j["id"] for j in by_subject["items"]] == [job["id"]]
    cancelled = api.call("POST", f"/jobs/{job['id']}/cancel").json()
    assert cancelled["state"] == "cancelled"
    refused = api.call("POST", f"/jobs/{job['id']}/cancel")
    assert refused.status_code in {200, 422}
    retried = api.call("POST", f"/jobs/{job['id']}/retry").json()
    assert retried["state"] == "pending"
    bad_retry = api.call("POST", f"/jobs/{job['id']}/retry")
    assert bad_retry.status_code == 422
    assert error_of(bad_retry)["code"] == "invalid_transition"
    history = api.cl.jobs.history(job["id"])
    assert history[-1].actor[0] == "token"  # operator calls record who made them
    # Over HTTP a job's moves are its history under the kind "job", read from its events.
    moves = api.call("GET", f"/entities/job/{job['id']}/transitions").json()
    assert [(m["from_state"], m["to_state"]) for m in moves] == [
        (m.from_state, m.to_state) for m in history
    ]
    assert [m["to_state"] for m in moves] == ["pending", "cancelled", "pending"]
    assert [m["metadata"]["action"] for m in moves] == ["pending", "cancelled", "retried"]
    assert [m["event_id"] for m in moves] == [m.event_id for m in history]
    timeline = api.call("GET", "/timeline", params={"kinds": "job", "days": 1}).json()
    assert {m["entity_id"] for m in timeline["items"]} >= {str(job["id"])}
    assert api.call("GET", f"/jobs/{job['id']}/logs").json() == []
    assert api.call("GET", "/jobs/999999").status_code == 404
    assert api.call("GET", "/jobs/999999/logs").status_code == 404
    for body in (
        {"kind": " "},
        {"kind": "x", "payload": [1]},
        {"kind": "x", "run_at": "2026-01-01T00:00:00"},
        {"kind": "x", "subject": ["only-kind"]},
        {"kind": "x", "unknown": 1},
    ):
        response = api.call("POST", "/jobs", json=body)
        assert response.status_code == 422, (body, response.text)


def test_worker_protocol_and_stale_leases(api: Api) -> None:
    job_id = api.cl.jobs.enqueue("rip", {"disc": 1}, queue="rip", max_attempts=2).id
    claimed = api.call(
        "POST", "/jobs/claim", json={"queues": ["rip"], "worker": "w1", "lease_seconds": 30}
    ).json()["jobs"]
    assert [j["id"] for j in claimed] == [job_id]
    lease = claimed[0]["lease"]
    assert claimed[0]["state"] == "running"
    assert claimed[0]["worker"] == "w1"
    beat = api.call(
        "POST", f"/jobs/{job_id}/heartbeat", json={"lease": lease, "progress": 0.5}
    ).json()
    assert beat == {"cancelled": False}
    logged = api.call(
        "POST",
        f"/jobs/{job_id}/logs",
        json={
            "lease": lease,
            "lines": [{"level": "info", "message": "ripping", "fields": {"t": 1}}],
        },
    )
    assert logged.status_code == 204
    lines = api.call("GET", f"/jobs/{job_id}/logs").json()
    assert [line["message"] for line in lines] == ["ripping"]
    assert api.call("GET", f"/jobs/{job_id}/logs", params={"after": lines[-1]["id"]}).json() == []
    failed = api.call(
        "POST", f"/jobs/{job_id}/fail", json={"lease": lease, "error": "disc dirty", "retry_in": 0}
    ).json()
    assert failed["state"] == "pending"
    assert failed["errors"][0]["error"] == "disc dirty"
    # The old lease is stale now: every worker call with it is 409 lease_lost, and changes nothing.
    for path, body in (
        ("heartbeat", {"lease": lease}),
        ("logs", {"lease": lease, "lines": [{"level": "info", "message": "late"}]}),
        ("complete", {"lease": lease}),
        ("fail", {"lease": lease, "error": "late"}),
        ("release", {"lease": lease}),
    ):
        response = api.call("POST", f"/jobs/{job_id}/{path}", json=body)
        assert response.status_code == 409, (path, response.text)
        assert error_of(response)["code"] == "lease_lost"
    assert api.cl.jobs.get(job_id).state == "pending"
    (second,) = api.call("POST", "/jobs/claim", json={"queues": ["rip"]}).json()["jobs"]
    assert second["lease"] == lease + 1
    done = api.call(
        "POST", f"/jobs/{job_id}/complete", json={"lease": second["lease"], "result": {"ok": True}}
    )
    assert done.status_code == 204
    assert api.cl.jobs.get(job_id).result == {"ok": True}
    # Cancel while running: the next heartbeat says so.
    other = api.cl.jobs.enqueue("rip", queue="rip").id
    (run,) = api.call("POST", "/jobs/claim", json={"queues": ["rip"]}).json()["jobs"]
    api.call("POST", f"/jobs/{other}/cancel")
    assert api.call("POST", f"/jobs/{other}/heartbeat", json={"lease": run["lease"]}).json() == {
        "cancelled": True
    }
    for body in (
        {"queues": ["rip"], "limit": 0},
        {"queues": ["rip"], "lease_seconds": 0},
        {"queues": ["rip"], "wait_seconds": -1},
        {"queues": "rip"},
        {"queues": ["rip"], "extra": 1},
    ):
        assert api.call("POST", "/jobs/claim", json=body).status_code == 422, body


def test_claim_long_polls_until_an_enqueue(api: Api) -> None:
    started = time.monotonic()
    empty = api.call("POST", "/jobs/claim", json={"queues": ["q"], "wait_seconds": 0.3}).json()
    assert empty == {"jobs": [], "completed": []}
    assert time.monotonic() - started >= 0.29
    timer = threading.Timer(0.3, lambda: api.cl.jobs.enqueue("x", queue="q"))
    timer.start()
    try:
        started = time.monotonic()
        woken = api.call("POST", "/jobs/claim", json={"queues": ["q"], "wait_seconds": 20}).json()
        elapsed = time.monotonic() - started
    finally:
        timer.join()
    assert [j["kind"] for j in woken["jobs"]] == ["x"]
    assert elapsed < 5, elapsed
    assert "chronolog_jobs{" in api.call("GET", "/metrics").text


def test_client_jobs_mirror_the_library(api: Api) -> None:
    with api.client(api.token("write")) as client:
        job = client.jobs.enqueue("transcode", {"f": 1}, queue="media", subject=("episode", 3))
        assert job == api.cl.jobs.get(job.id)
        ids = client.jobs.enqueue_many([NewJob("noop"), {"kind": "noop", "priority": 3}])
        assert len(ids) == 2
        assert client.jobs.list(queues="media") == api.cl.jobs.list(queues="media")
        (claimed,) = client.jobs.claim(["media"], "remote-1", lease_seconds=10)
        assert claimed.lease == 1
        assert client.jobs.heartbeat(claimed.id, claimed.lease, progress=0.25) is True
        client.jobs.log(claimed.id, "info", "hello", lease=claimed.lease, n=1)
        assert [line.message for line in client.jobs.logs(claimed.id)] == ["hello"]
        assert client.jobs.logs(claimed.id) == api.cl.jobs.logs(claimed.id)
        assert client.jobs.complete_many(
            [(claimed.id, claimed.lease, {"ok": 1}), (claimed.id, 99)]
        ) == [claimed.id]
        with pytest.raises(LeaseLost):
            client.jobs.complete(claimed.id, claimed.lease)
        with pytest.raises(NotFound):
            client.jobs.get(10**9)
        with pytest.raises(InvalidTransition):
            client.jobs.retry(claimed.id)
        with pytest.raises(TooLarge):
            client.jobs.enqueue_many([NewJob("noop")] * 51)
        # An idle long-poll on the last claim's queues ("media", now empty) finds nothing.
        assert client.jobs.wait_for_work(client.jobs.wake_generation(), 0.2) is False
        pending = client.jobs.claim(None, "remote-1", limit=5)
        assert {j.kind for j in pending} == {"noop"}
        released = client.jobs.release(pending[0].id, pending[0].lease)
        assert released.state == "pending"
        failed = client.jobs.fail(pending[1].id, pending[1].lease, "boom", retry=False)
        assert failed.state == "failed"
        assert client.jobs.retry(failed.id).state == "pending"
        assert client.jobs.cancel(failed.id).state == "cancelled"


def test_remote_batch_complete_and_claim_in_one_request(api: Api) -> None:
    """``complete_many`` is one request; ``complete_and_claim`` completes and claims in
    one request and one transaction, skipping stale leases; a refused result changes
    nothing (the claim included)."""
    api.cl.jobs.enqueue_many([NewJob("noop", {"n": n}) for n in range(6)])
    with api.client(api.token("write")) as client:
        first = client.jobs.claim(None, "remote", limit=2)
        stale = (first[1].id, first[1].lease + 5)
        done, second = client.jobs.complete_and_claim(
            [(first[0].id, first[0].lease, {"ok": True}), stale], None, "remote", limit=2
        )
        assert done == [first[0].id]
        assert api.cl.jobs.get(first[0].id).result == {"ok": True}
        assert api.cl.jobs.get(first[1].id).state == "running"
        assert len(second) == 2
        assert {j.state for j in second} == {"running"}
        before = api.cl.jobs.counts()
        refused = api.call(
            "POST",
            "/jobs/claim",
            json={"limit": 2, "done": [{"id": second[0].id, "lease": second[0].lease, "x": 1}]},
        )
        assert refused.status_code == 422, refused.text
        assert error_of(refused)["code"] == "validation_error"
        assert api.cl.jobs.counts() == before
        bad_id = api.call("POST", "/jobs/complete", json={"jobs": [{"id": 0, "lease": 1}]})
        assert bad_id.status_code == 422
        assert client.jobs.complete_many([]) == []
        assert sorted(
            client.jobs.complete_many(
                [(j.id, j.lease) for j in second] + [(first[1].id, first[1].lease)]
            )
        ) == sorted([*(j.id for j in second), first[1].id])
    assert api.cl.jobs.counts()["default"] == {"completed": 4, "pending": 2}


def test_remote_complete_many_splits_large_batches(api: Api) -> None:
    """More finished jobs than one request carries (1,000) go in several requests."""
    api.cl.jobs.enqueue_many([NewJob("noop")] * 1001)
    claimed = api.cl.jobs.claim(None, "remote", limit=1001)
    assert len(claimed) == 1001
    done = [(j.id, j.lease) for j in claimed]
    with api.client(api.token("write")) as client:
        completed, more = client.jobs.complete_and_claim(done, None, "remote", limit=5)
    assert sorted(completed) == sorted(j.id for j in claimed)
    assert more == []
    assert api.cl.jobs.counts()["default"] == {"completed": 1001}


def _double(ctx: JobContext) -> dict[str, int]:
    ctx.log("info", "doubling")
    ctx.progress(0.5)
    return {"n": int(ctx.payload["n"]) * 2}


def test_a_worker_drains_jobs_through_the_client(api: Api) -> None:
    ids = api.cl.jobs.enqueue_many([NewJob("double", {"n": i}, queue="math") for i in range(12)])
    api.cl.jobs.enqueue("boom", queue="math", max_attempts=1)
    with api.client(api.token("write")) as client:
        worker = Worker(
            client.jobs,
            {"double": _double, "boom": lambda ctx: 1 / 0},
            queues=["math"],
            concurrency=3,
            lease_seconds=5,
            poll_interval=0.2,
        )
        stats = worker.run(burst=True)
    assert stats.completed == 12
    assert stats.failed == 1
    assert [api.cl.jobs.get(i).result for i in ids] == [{"n": 2 * i} for i in range(12)]
    assert [line.message for line in api.cl.jobs.logs(ids[0])] == ["doubling"]
    assert api.cl.jobs.counts()["math"] == {"completed": 12, "failed": 1}


def test_a_remote_worker_asks_no_claim_beyond_the_service_limit(api: Api) -> None:
    """Concurrency and prefetch beyond the service's claim limit (100): the worker's
    claims stay within it, instead of a 422 on every claim."""
    from chronolog.jobs.models import HTTP_CLAIM_MOST

    ids = api.cl.jobs.enqueue_many([NewJob("quick", queue="wide") for _ in range(400)])
    asked: list[int] = []
    with api.client(api.token("write")) as client:
        source = client.jobs
        claim = source.complete_and_claim

        def recording(*args: Any, **kwargs: Any) -> Any:
            asked.append(kwargs["limit"])
            return claim(*args, **kwargs)

        source.complete_and_claim = recording  # type: ignore[method-assign]
        assert source.claim_most == HTTP_CLAIM_MOST
        worker = Worker(source, {"quick": lambda ctx: None}, queues=["wide"], concurrency=150)
        stats = worker.run(burst=True)
    assert stats.completed == 400
    assert stats.errors == []
    assert max(asked) == HTTP_CLAIM_MOST
    assert api.cl.jobs.counts()["wide"] == {"completed": len(ids)}


def test_an_idle_worker_wakes_on_an_enqueue_and_gives_back_what_it_did_not_start(
    api: Api,
) -> None:
    with api.client(api.token("write")) as client:
        worker = Worker(client.jobs, {"double": _double}, queues=["math"], poll_interval=5)
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            time.sleep(0.3)  # idle: its claim waits on the server
            started = time.monotonic()
            job_id = api.cl.jobs.enqueue("double", {"n": 21}, queue="math").id
            while api.cl.jobs.get(job_id).state != "completed":
                assert time.monotonic() - started < 4, "not woken by the enqueue"
                time.sleep(0.05)
        finally:
            worker.stop(grace=1)
            thread.join(10)
        assert api.cl.jobs.get(job_id).result == {"n": 42}
        # A job a long-poll took but the worker never started goes back on close.
        extra = api.cl.jobs.enqueue("double", {"n": 1}, queue="late").id
        client.jobs.claim(["late"], limit=1)  # sets the worker's last claim arguments
        api.cl.jobs.release(extra, api.cl.jobs.get(extra).lease)
        assert client.jobs.wait_for_work(0, 1.0) is True
        assert api.cl.jobs.get(extra).state == "running"
    assert api.cl.jobs.get(extra).state == "pending"  # released by Client.close
