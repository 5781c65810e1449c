"""What a careless (or hostile) caller met in its first hour, each refused with a clear
error and nothing written, on both databases:

- a job delay (or retry wait, lease, token life) of 10**12 seconds was written, then
  broke every read of that job; durations are at most a century now, and a value
  written before that still reads;
- NaN and infinity in a JSON document were stored as ``null``;
- a typo in an SQLite URL option was dropped, and the store ran with defaults;
- over HTTP: a refused lease named the current one, a claim without a worker name
  recorded the server's host and pid, a claim could name any number of queues, and a
  database failure's text (SQL, hosts) reached the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chronolog import Actor, Chronolog
from chronolog.errors import ChronologError, StoreUnavailable, ValidationError

from ._http import Api, error_of

HUGE = 10**12


def test_a_huge_delay_is_refused_and_nothing_is_written(cl: Chronolog) -> None:
    for call in (
        lambda: cl.jobs.enqueue("k", delay=HUGE),
        lambda: cl.jobs.enqueue("k", delay="3000000d"),
        lambda: cl.jobs.enqueue_many([{"kind": "k"}, {"kind": "k", "delay": HUGE}]),
    ):
        with pytest.raises(ValidationError, match="too long"):
            call()
    assert list(cl.jobs.list().items) == []
    assert cl.jobs.counts() == {}
    job = cl.jobs.enqueue("k", delay="36500d")  # a century ahead is still a delay
    assert job.run_at.year >= 2100
    (running,) = cl.jobs.claim(None, "w", lease_seconds=60) or [None]
    assert running is None  # not due
    with pytest.raises(ValidationError, match="too long"):
        cl.jobs.claim(None, "w", lease_seconds=HUGE)
    with pytest.raises(ValidationError, match="too long"):
        cl.auth.create_token("forever", "read", expires_in=HUGE)
    assert [t.name for t in cl.auth.tokens()] == []


def test_a_huge_retry_wait_is_refused_and_the_job_unchanged(cl: Chronolog) -> None:
    cl.jobs.enqueue("k", max_attempts=3)
    (job,) = cl.jobs.claim(None, "w")
    with pytest.raises(ValidationError, match="too long"):
        cl.jobs.fail(job.id, job.lease, "boom", retry_in=HUGE)
    after = cl.jobs.get(job.id)
    assert (after.state, after.lease, after.errors) == ("running", job.lease, ())


def test_a_job_written_with_an_unreadable_time_still_reads(cl: Chronolog) -> None:
    """Stores written before durations were bounded may hold such a row."""
    job = cl.jobs.enqueue("k")
    with cl.store.write() as conn:
        conn.exec_driver_sql(f"UPDATE jobs SET run_at = {HUGE * 1_000_000} WHERE id = {job.id}")
    read = cl.jobs.get(job.id)
    assert read.run_at == datetime.max.replace(tzinfo=UTC)
    assert [j.id for j in cl.jobs.list().items] == [job.id]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_in_json_are_refused(cl: Chronolog, bad: float) -> None:
    with pytest.raises(ValidationError, match="JSON cannot hold"):
        cl.events.record("scan", "seen", metadata={"ratio": bad})
    with pytest.raises(ValidationError, match="JSON cannot hold"):
        cl.events.record("scan", "seen", metadata={"deep": [1, {"x": bad}]})
    assert cl.events.recent() == []
    with pytest.raises(ValidationError, match="JSON cannot hold"):
        cl.jobs.enqueue("k", {"score": bad})
    assert list(cl.jobs.list().items) == []
    cl.jobs.enqueue("k")
    (job,) = cl.jobs.claim(None, "w")
    with pytest.raises(ValidationError, match="JSON cannot hold"):
        cl.jobs.complete(job.id, job.lease, {"score": bad})
    assert cl.jobs.get(job.id).state == "running"
    # null itself, and finite floats, are fine.
    event = cl.events.record("scan", "seen", metadata={"ratio": None, "x": 0.5})
    assert cl.events.get(event).metadata == {"ratio": None, "x": 0.5}


def test_an_unknown_sqlite_url_option_is_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    with pytest.raises(ValidationError, match="synchronus"):
        Chronolog(f"{url}?synchronus=full")
    assert not (tmp_path / "typo.db").exists()
    with Chronolog(f"{url}?synchronous=full") as cl:
        assert cl.events.record("scan", "seen")


# -- over HTTP --------------------------------------------------------------------------


def test_a_refused_lease_does_not_name_the_current_one(api: Api) -> None:
    jobs = api.cl.jobs
    job = jobs.enqueue("k", queue="v")
    (running,) = jobs.claim(["v"], "victim")
    response = api.call("POST", f"/jobs/{job.id}/complete", json={"lease": running.lease + 7})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "lease_lost"
    assert "current_lease" not in error["details"]
    assert str(running.lease) not in error["message"].replace(f"job {job.id}", "")
    assert jobs.get(job.id).state == "running"


def test_a_claim_without_a_worker_name_or_pid_does_not_show_the_servers(api: Api) -> None:
    api.cl.jobs.enqueue("k", queue="anon")
    response = api.call("POST", "/jobs/claim", json={"queues": ["anon"]})
    assert response.status_code == 200, response.text
    (claimed,) = response.json()["jobs"]
    assert claimed["worker"].startswith("remote:token-")
    assert claimed["pid"] is None
    job = api.cl.jobs.get(claimed["id"])
    assert (job.worker, job.pid) == (claimed["worker"], None)


def test_a_claim_names_at_most_a_hundred_queues(api: Api) -> None:
    many = [f"q{i}" for i in range(101)]
    response = api.call("POST", "/jobs/claim", json={"queues": many})
    assert response.status_code == 422
    assert "queues" in error_of(response)["message"]
    assert api.call("POST", "/jobs/claim", json={"queues": many[:100]}).status_code == 200


def test_a_database_failure_does_not_reach_the_caller_in_its_own_words(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = api.cl.events.record("scan", "seen")
    secret = "(psycopg.errors.X) SELECT secret FROM events at 10.1.2.3:5432"
    for error, status in (
        (ChronologError(f"database error: {secret}"), 500),
        (StoreUnavailable(f"database unavailable: {secret}"), 503),
    ):

        def fail(*_: object, exc: ChronologError = error, **__: object) -> None:
            raise exc

        monkeypatch.setattr(type(api.cl.events), "get", fail)
        response = api.call("GET", f"/events/{event}")
        assert response.status_code == status
        body = error_of(response)
        assert "secret" not in response.text
        assert "10.1.2.3" not in response.text
        assert "log" in body["message"]  # says where the details went


def test_a_bad_single_job_gets_its_own_errors_not_the_batchs(api: Api) -> None:
    response = api.call("POST", "/jobs", json={"kind": "x", "delay": -5})
    assert response.status_code == 422
    error = error_of(response)
    (only,) = error["details"]["errors"]  # before: three, two of them about a batch
    assert only["loc"][-1] == "delay"
    assert "jobs" not in error["message"]
    batch = api.call("POST", "/jobs", json={"jobs": [{"kind": "x", "delay": -5}]})
    assert batch.status_code == 422
    assert [e["loc"][-1] for e in error_of(batch)["details"]["errors"]] == ["delay"]
    assert api.cl.jobs.counts() == {}


def test_a_refused_job_in_a_batch_is_named_the_first_one_too(cl: Chronolog) -> None:
    with pytest.raises(ValidationError) as first:
        cl.jobs.enqueue_many([{"kind": ""}, {"kind": "ok"}])
    assert first.value.message.startswith("job 0: ")
    assert first.value.details["index"] == 0
    with pytest.raises(ValidationError) as second:
        cl.jobs.enqueue_many(iter([{"kind": "ok"}, {"kind": "ok", "priority": "high"}]))
    assert second.value.message.startswith("job 1: ")
    with pytest.raises(ValidationError) as single:
        cl.jobs.enqueue("")
    assert not single.value.message.startswith("job 0")  # one job: no made-up number
    assert cl.jobs.counts() == {}


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_actor_or_target_id_is_refused(cl: Chronolog, blank: str) -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        cl.events.record("scan", "seen", target={"type": "media", "id": blank})
    with pytest.raises(ValidationError, match="must not be empty"):
        cl.events.record("scan", "seen", actor=Actor("user", blank))
    assert cl.events.recent() == []
    event = cl.events.record("scan", "seen", target={"type": "media"})  # no id: fine
    assert cl.events.get(event).target is not None
