"""Queue controls (pause, concurrency and rate limits), the kinds filter, the worker
registry and bulk moves: library, worker processes and HTTP, on both databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chronolog import Chronolog, EventQuery, JobQuery, NewJob, NotFound, ValidationError
from chronolog.jobs.worker import JobContext, Worker

from ._http import Api, error_of
from .queue_handlers import read_counter

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"


def _wait(predicate: Any, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting {what}"
        time.sleep(0.05)


def _spawn(db_url: str, name: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "worker",
            "tests.queue_handlers:LIMITED",
            "--name",
            name,
            "--db",
            db_url,
            "--grace",
            "5",
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "CHRONOLOG_TEST_COUNTER": str(tmp_path), "PYTHONPATH": str(ROOT)}


def _states(cl: Chronolog, queue: str) -> dict[str, int]:
    return cl.jobs.queue(queue).counts


def _queue_events(cl: Chronolog) -> list[tuple[str, str | None, dict[str, Any]]]:
    page = cl.events.query(event_types=["queue"], limit=100)
    return [
        (e.action, e.target.id if e.target else None, dict(e.metadata or {})) for e in page.items
    ]


# -- pause and resume ---------------------------------------------------------------------


def test_pause_stops_claims_at_the_next_claim_and_running_jobs_finish(cl: Chronolog) -> None:
    running = cl.jobs.enqueue("rip", queue="media")
    (claimed,) = cl.jobs.claim("media", "w1")
    assert claimed.id == running.id
    waiting = cl.jobs.enqueue_many([{"kind": "rip", "queue": "media"} for _ in range(3)])
    other = cl.jobs.enqueue("mail", queue="mail")

    info = cl.jobs.pause("media")
    assert (info.name, info.paused, info.counts) == ("media", True, {"pending": 3, "running": 1})
    assert cl.jobs.claim("media", "w1", limit=5) == []  # one queue, paused
    took = cl.jobs.claim(None, "w1", limit=5)  # every queue: only the unpaused one
    assert [j.id for j in took] == [other.id]
    assert cl.jobs.claim(["media", "mail"], "w1", limit=5) == []
    cl.jobs.complete(claimed.id, claimed.lease)  # a running job still finishes
    assert cl.jobs.get(claimed.id).state == "completed"
    assert cl.jobs.pause("media").paused  # pausing again changes nothing

    resumed = cl.jobs.resume("media")
    assert not resumed.paused
    again = cl.jobs.claim(["media", "mail"], "w1", limit=5)
    assert sorted(j.id for j in again) == sorted(waiting)
    events = _queue_events(cl)
    assert [(a, t) for a, t, _ in events] == [("resumed", "media"), ("paused", "media")]
    assert events[1][2]["paused"] is True
    # A queue without a control has no row: resuming it records nothing.
    cl.jobs.resume("never-paused")
    assert len(_queue_events(cl)) == 2


def test_pause_reaches_worker_processes_at_their_next_claim(db_url: str, tmp_path: Path) -> None:
    cl = Chronolog(db_url)
    try:
        cl.jobs.pause("held")
        held = cl.jobs.enqueue_many([{"kind": "quick", "queue": "held"} for _ in range(6)])
        free = cl.jobs.enqueue_many([{"kind": "quick", "queue": "free"} for _ in range(4)])
        env = _env(tmp_path)
        procs = [
            _spawn(db_url, f"p{i}", env, "-Q", "held", "-Q", "free", "-c", "2") for i in range(2)
        ]
        try:
            _wait(lambda: _states(cl, "free").get("completed") == len(free), what="free queue")
            time.sleep(1.0)  # more claims than one have run by now
            assert _states(cl, "held") == {"pending": len(held)}
            assert {cl.jobs.get(i).attempt for i in held} == {0}
            cl.jobs.resume("held")
            _wait(lambda: _states(cl, "held").get("completed") == len(held), what="resumed")
            # Pausing again while the workers idle: new jobs wait.
            cl.jobs.pause("held")
            late = cl.jobs.enqueue("quick", queue="held")
            time.sleep(1.0)
            assert cl.jobs.get(late.id).state == "pending"
        finally:
            _stop(procs)
    finally:
        cl.close()


# -- limits --------------------------------------------------------------------------------


def test_set_limit_validates_and_lists_queues(cl: Chronolog) -> None:
    cl.jobs.enqueue("a", queue="q1")
    for bad in (
        {"concurrency": 0},
        {"concurrency": True},
        {"rate": (0, 1)},
        {"rate": (5,)},
        {"rate": (5, 0)},
        {"rate": (5, "1s")},
        {"rate": 5},
    ):
        with pytest.raises(ValidationError):
            cl.jobs.set_limit("q1", **bad)
    with pytest.raises(ValidationError):
        cl.jobs.pause("")
    with pytest.raises(ValidationError):
        cl.jobs.pause("x" * 65)
    assert cl.jobs.queues()[0].concurrency is None  # nothing changed
    assert _queue_events(cl) == []

    info = cl.jobs.set_limit("q1", concurrency=2, rate=(10, 60))
    assert (info.concurrency, info.rate) == (2, (10, 60.0))
    cl.jobs.pause("empty")  # a queue with no job is listed once it has a control
    listed = {q.name: q for q in cl.jobs.queues()}
    assert set(listed) == {"q1", "empty"}
    assert listed["q1"].to_dict() == {
        "name": "q1",
        "counts": {"pending": 1},
        "paused": False,
        "concurrency": 2,
        "rate": {"limit": 10, "seconds": 60.0},
    }
    assert listed["empty"].paused
    cleared = cl.jobs.set_limit("q1")
    assert (cleared.concurrency, cleared.rate) == (None, None)
    actions = [a for a, _, _ in _queue_events(cl)]
    assert actions == ["limited", "paused", "limited"]


def test_concurrency_limit_holds_in_the_claim(cl: Chronolog) -> None:
    cl.jobs.set_limit("gpu", concurrency=2)
    ids = cl.jobs.enqueue_many([{"kind": "t", "queue": "gpu"} for _ in range(5)])
    cl.jobs.enqueue_many([{"kind": "t", "queue": "cpu"} for _ in range(3)])
    first = cl.jobs.claim(None, "w1", limit=10)
    assert sorted(j.queue for j in first) == ["cpu"] * 3 + ["gpu"] * 2
    assert cl.jobs.claim("gpu", "w2", limit=10) == []
    assert cl.jobs.claim(None, "w2", limit=10) == []
    gpu = [j for j in first if j.queue == "gpu"]
    cl.jobs.complete(gpu[0].id, gpu[0].lease)
    (next_one,) = cl.jobs.claim("gpu", "w2", limit=10)
    assert next_one.id == ids[2]  # in claim order
    # The claim's events are the same as the batch's (history stays whole).
    moves = cl.jobs.history(next_one.id)
    assert [(m.from_state, m.to_state) for m in moves] == [
        (None, "pending"),
        ("pending", "running"),
    ]
    assert cl.jobs.queue("gpu").counts == {"completed": 1, "running": 2, "pending": 2}
    # A raised limit lets more in at once; paused beats limited.
    cl.jobs.set_limit("gpu", concurrency=3)
    cl.jobs.pause("gpu")
    assert cl.jobs.claim("gpu", "w2", limit=10) == []
    cl.jobs.resume("gpu")
    assert len(cl.jobs.claim("gpu", "w2", limit=10)) == 1


def test_rate_limit_caps_starts_per_window(cl: Chronolog) -> None:
    cl.jobs.set_limit("api", rate=(3, 1.0))
    cl.jobs.enqueue_many([{"kind": "call", "queue": "api"} for _ in range(8)])
    started = time.monotonic()
    first = cl.jobs.claim("api", "w", limit=10)
    assert len(first) == 3
    assert cl.jobs.claim(None, "w", limit=10) == []  # the window is used up
    for j in first:  # completing frees nothing: it is starts that are counted
        cl.jobs.complete(j.id, j.lease)
    assert cl.jobs.claim("api", "w", limit=10) == []
    # The idle worker's wait is cut to the window's end (nothing else would wake it).
    generation = cl.jobs.wake_generation()
    t0 = time.monotonic()
    cl.jobs.wait_for_work(generation, 30)
    assert time.monotonic() - t0 < 5
    _wait(lambda: time.monotonic() - started >= 1.05)
    second = cl.jobs.claim("api", "w", limit=10)
    assert len(second) == 3
    # Concurrency and rate together: the tighter one wins.
    cl.jobs.set_limit("api", concurrency=1, rate=(5, 60))
    for j in second:
        cl.jobs.complete(j.id, j.lease)
    assert len(cl.jobs.claim("api", "w", limit=10)) == 1


def test_global_limit_never_exceeded_by_several_worker_processes(
    db_url: str, tmp_path: Path
) -> None:
    limit, jobs = 3, 24
    cl = Chronolog(db_url)
    try:
        cl.jobs.set_limit("limited", concurrency=limit)
        cl.jobs.enqueue_many(
            [{"kind": "counted", "queue": "limited", "payload": {"sleep": 0.15}}] * jobs
        )
        env = _env(tmp_path)
        procs = [_spawn(db_url, f"lim{i}", env, "-Q", "limited", "-c", "4") for i in range(3)]
        try:
            peak_seen = 0
            deadline = time.monotonic() + 60
            while _states(cl, "limited").get("completed", 0) < jobs:
                assert time.monotonic() < deadline, _states(cl, "limited")
                running = _states(cl, "limited").get("running", 0)
                assert running <= limit
                peak_seen = max(peak_seen, running)
                time.sleep(0.02)
        finally:
            _stop(procs)
        now, peak = read_counter(str(tmp_path))
        assert now == 0
        assert peak == limit  # the handlers' own count: at the limit, never above
        assert peak_seen <= limit
        workers_used = {cl.jobs.get(i).worker for i in range(1, jobs + 1)}
        assert len(workers_used) >= 2  # the limit was shared, not one worker's
    finally:
        cl.close()


# -- kinds ---------------------------------------------------------------------------------


def test_claims_and_workers_take_only_their_kinds(cl: Chronolog) -> None:
    rip = cl.jobs.enqueue("rip")
    mail = cl.jobs.enqueue("mail")
    with pytest.raises(ValidationError):
        cl.jobs.claim(None, "w", kinds=[])
    with pytest.raises(ValidationError):
        cl.jobs.claim(None, "w", kinds=[""])
    assert [j.id for j in cl.jobs.claim(None, "w", limit=5, kinds=["rip"])] == [rip.id]
    assert cl.jobs.claim(None, "w", limit=5, kinds=["rip"]) == []
    seen: list[str] = []

    def handle(ctx: JobContext) -> None:
        seen.append(ctx.job.kind)

    other = cl.jobs.enqueue("other")
    stats = Worker(cl.jobs, {"mail": handle}).run(burst=True)
    assert (stats.claimed, seen) == (1, ["mail"])
    assert cl.jobs.get(other.id).state == "pending"  # no handler here: left for another
    assert cl.jobs.get(mail.id).state == "completed"
    # A catch-all handler claims any kind.
    Worker(cl.jobs, handle).run(burst=True)
    assert seen == ["mail", "other"]
    # Limited queues honour the kinds too.
    cl.jobs.set_limit("lim", concurrency=5)
    a = cl.jobs.enqueue("a", queue="lim")
    cl.jobs.enqueue("b", queue="lim")
    assert [j.id for j in cl.jobs.claim("lim", "w", limit=5, kinds=["a"])] == [a.id]


# -- the worker registry -------------------------------------------------------------------


def test_registry_lists_running_workers_and_drops_stopped_ones(cl: Chronolog) -> None:
    gate = threading.Event()

    def hold(ctx: JobContext) -> None:
        gate.wait(10)

    job = cl.jobs.enqueue("hold", queue="reg")
    worker = Worker(
        cl.jobs, {"hold": hold}, queues=["reg"], concurrency=2, name="reg-1", registry_beat=0.1
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: cl.jobs.get(job.id).state == "running", what="claim")
        (info,) = cl.jobs.workers()
        assert (info.name, info.queues, info.kinds, info.concurrency) == (
            "reg-1",
            ("reg",),
            ("hold",),
            2,
        )
        assert (info.pid, info.host, info.remote) == (os.getpid(), os.uname().nodename, False)
        assert info.running == (job.id,)
        assert not info.stale
        first_beat = info.heartbeat_at
        _wait(lambda: cl.jobs.workers()[0].heartbeat_at > first_beat, what="heartbeat")
        assert cl.jobs.workers()[0].heartbeat_age < 5
    finally:
        gate.set()
        worker.stop()
        thread.join(10)
    assert cl.jobs.workers() == []  # a clean stop deregisters


def test_registry_shows_a_killed_worker_as_stale(db_url: str, tmp_path: Path) -> None:
    cl = Chronolog(db_url)
    try:
        env = _env(tmp_path)
        killed = _spawn(db_url, "doomed", env, "-Q", "nothing")
        stopped = _spawn(db_url, "polite", env, "-Q", "nothing")
        try:
            _wait(lambda: len(cl.jobs.workers()) == 2, what="registration")
            names = {w.name: w for w in cl.jobs.workers()}
            assert names["doomed"].pid == killed.pid
            killed.send_signal(signal.SIGKILL)
            killed.wait(10)
            _stop([stopped])
            _wait(lambda: [w.name for w in cl.jobs.workers()] == ["doomed"], what="deregister")
            time.sleep(1.2)
            (gone,) = cl.jobs.workers(stale_after=1.0)
            assert gone.stale
            assert gone.heartbeat_age >= 1.0
            assert not cl.jobs.workers(stale_after=60)[0].stale
        finally:
            _stop([killed, stopped])
    finally:
        cl.close()


def test_registry_refuses_bad_input(cl: Chronolog) -> None:
    with pytest.raises(ValidationError):
        cl.jobs.register_worker("", host="h")
    with pytest.raises(ValidationError):
        cl.jobs.register_worker("w", host="h", concurrency=0)
    with pytest.raises(ValidationError):
        cl.jobs.register_worker("w", host="h", queues=[])
    with pytest.raises(ValidationError):
        cl.jobs.heartbeat_worker("not hex!")
    with pytest.raises(ValidationError):
        cl.jobs.workers(stale_after=0)
    with pytest.raises(NotFound):
        cl.jobs.deregister_worker("abc123")
    assert cl.jobs.heartbeat_worker("abc123") is False
    assert cl.jobs.workers() == []


# -- bulk moves ----------------------------------------------------------------------------


def test_retry_many_and_cancel_many_by_filter(cl: Chronolog) -> None:
    ids = cl.jobs.enqueue_many(
        [{"kind": "rip", "queue": "media"}] * 3
        + [{"kind": "mail", "queue": "media"}] * 2
        + [{"kind": "rip", "queue": "other"}] * 2
    )
    running = cl.jobs.claim("other", "w")[0]
    with pytest.raises(ValidationError, match=r"all jobs explicitly \(all\)"):
        cl.jobs.cancel_many()
    with pytest.raises(ValidationError, match=r"all jobs explicitly \(all\)"):
        cl.jobs.cancel_many(states="pending")
    with pytest.raises(ValidationError, match="only pending or running"):
        cl.jobs.cancel_many(queues="media", states="failed")
    with pytest.raises(ValidationError, match="unknown job state"):
        cl.jobs.retry_many(queues="media", states="bogus")
    with pytest.raises(ValidationError, match="unknown job filter"):
        cl.jobs.retry_many(queue="media")  # the old keyword: refused, not ignored
    with pytest.raises(ValidationError):
        cl.jobs.retry_many(JobQuery(queues="media"), since=datetime(2020, 1, 1))  # naive
    with pytest.raises(ValidationError, match="must be a JobQuery"):
        cl.jobs.cancel_many(EventQuery(event_types="job"))  # type: ignore[arg-type]
    assert cl.jobs.queue("media").counts == {"pending": 5}  # nothing moved

    # The value jobs.list takes selects what the bulk move takes: list, then move.
    rips = JobQuery(queues="media", kinds="rip")
    assert len(cl.jobs.list(rips).items) == 3
    assert cl.jobs.cancel_many(rips) == 3
    assert cl.jobs.cancel_many(rips) == 0  # none left to move
    assert cl.jobs.cancel_many(queues="other", states="running") == 1
    assert cl.jobs.get(running.id).state == "cancelled"
    assert cl.jobs.queue("media").counts == {"cancelled": 3, "pending": 2}
    history = cl.jobs.history(ids[0])
    assert [(m.action, m.from_state, m.to_state) for m in history][-1] == (
        "cancelled",
        "pending",
        "cancelled",
    )
    future = datetime.now(UTC) + timedelta(hours=1)
    assert cl.jobs.retry_many(queues="media", since=future) == 0
    assert cl.jobs.retry_many(kinds="rip", states="cancelled") == 4
    assert {cl.jobs.get(i).state for i in ids[:3]} == {"pending"}
    assert cl.jobs.get(running.id).max_attempts >= 2  # one more attempt allowed
    assert cl.jobs.cancel_many(all=True) == 7
    events = cl.events.query(event_types=["job"], actions=["cancelled"], limit=100)
    assert len(events.items) == 3 + 1 + 7  # one event per job moved


def test_bulk_moves_by_subject(cl: Chronolog) -> None:
    """A subject is a filter of its own: the jobs of one entity, and no others."""
    cl.states.upsert("disc", "d1")
    cl.states.upsert("disc", "d2")
    mine = cl.jobs.enqueue_many([NewJob("rip", subject=("disc", "d1"))] * 2)
    other = cl.jobs.enqueue("rip", subject=("disc", "d2"))
    assert cl.jobs.cancel_many(subject=("disc", "d1")) == 2
    assert {cl.jobs.get(i).state for i in mine} == {"cancelled"}
    assert cl.jobs.get(other.id).state == "pending"
    assert cl.jobs.cancel_many(subject=("disc", "nowhere")) == 0
    assert cl.jobs.retry_many(JobQuery(subject=("disc", "d1"), states="cancelled")) == 2


# -- HTTP and the client --------------------------------------------------------------------


def test_queue_routes_and_client_mirror_the_library(api: Api) -> None:
    api.cl.jobs.enqueue_many([{"kind": "rip", "queue": "media"}] * 3)
    client = api.client()
    paused = client.jobs.pause("media")
    assert paused.paused
    assert api.cl.jobs.queue("media").paused
    limited = client.jobs.set_limit("media", concurrency=2, rate=(5, 10))
    assert (limited.concurrency, limited.rate) == (2, (5, 10.0))
    assert [q.name for q in client.jobs.queues()] == ["media"]
    assert client.jobs.queue("media").counts == {"pending": 3}
    assert not client.jobs.resume("media").paused
    took = client.jobs.claim("media", "remote", limit=5)
    assert len(took) == 2  # the limit holds through the server
    assert client.jobs.claim(None, "remote", limit=5, kinds=["other"]) == []

    bad = api.call("PUT", "/queues/media/limit", json={"concurrency": 0})
    assert bad.status_code == 422
    bad = api.call("PUT", "/queues/media/limit", json={"rate": {"limit": 1, "seconds": 0}})
    assert bad.status_code == 422
    refused = api.call("POST", "/jobs/cancel-many", json={})
    assert refused.status_code == 422
    assert "all" in error_of(refused)["message"]
    typo = api.call("POST", "/jobs/cancel-many", params={"queue": "media"}, json={"all": True})
    assert typo.status_code == 422  # an unknown filter is refused, never read as "all"
    assert error_of(typo)["details"]["unknown"] == ["queue"]
    assert api.cl.jobs.queue("media").counts == {"pending": 1, "running": 2}
    assert client.jobs.cancel_many(JobQuery(queues="media", states="pending")) == 1
    assert client.jobs.retry_many(queues="media") == 1
    # The same query parameters as GET /jobs select what moves.
    moved = api.call("POST", "/jobs/cancel-many", params={"queues": "media", "states": "pending"})
    assert moved.json() == {"moved": 1}

    reader = api.token("read")
    assert api.call("GET", "/queues", token=reader).status_code == 200
    assert api.call("GET", "/workers", token=reader).status_code == 200
    for method, path in (
        ("POST", "/queues/media/pause"),
        ("POST", "/queues/media/resume"),
        ("PUT", "/queues/media/limit"),
        ("POST", "/jobs/retry-many"),
        ("POST", "/jobs/cancel-many"),
        ("POST", "/workers"),
    ):
        assert api.call(method, path, token=reader, json={}).status_code == 403, path
        assert api.call(method, path, token=None, json={}).status_code == 401, path

    wid = client.jobs.register_worker("far", host="elsewhere", queues="media", concurrency=3)
    (info,) = client.jobs.workers()
    assert (info.id, info.name, info.host, info.remote, info.queues) == (
        wid,
        "far",
        "elsewhere",
        True,
        ("media",),
    )
    assert client.jobs.heartbeat_worker(wid) is True
    client.jobs.deregister_worker(wid)
    assert client.jobs.heartbeat_worker(wid) is False
    assert api.call("DELETE", f"/workers/{wid}").status_code == 404
    spec = api.call("GET", "/openapi.json").json()
    for path in (
        "/api/v1/queues",
        "/api/v1/queues/{queue}/limit",
        "/api/v1/workers",
        "/api/v1/jobs/retry-many",
    ):
        assert path in spec["paths"], path


def test_a_remote_worker_registers_through_the_server(api: Api) -> None:
    gate = threading.Event()

    def hold(ctx: JobContext) -> None:
        gate.wait(10)

    job = api.cl.jobs.enqueue("hold")
    client = api.client()
    worker = Worker(client.jobs, {"hold": hold}, name="remote-1", registry_beat=0.1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: api.cl.jobs.get(job.id).state == "running", what="claim")
        (info,) = api.cl.jobs.workers()
        assert (info.name, info.remote, info.running, info.kinds) == (
            "remote-1",
            True,
            (job.id,),
            ("hold",),
        )
    finally:
        gate.set()
        worker.stop()
        thread.join(15)
    assert api.cl.jobs.workers() == []


# -- the command line ----------------------------------------------------------------------


def test_cli_queues_workers_and_bulk_moves(db_url: str) -> None:
    import json

    from typer.testing import CliRunner

    from chronolog.cli import app

    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--db", db_url])
        assert result.exit_code == code, (args, result.output)
        return result.output

    with Chronolog(db_url) as cl:
        cl.jobs.enqueue_many([{"kind": "rip", "queue": "rip"}] * 3)
        worker_id = cl.jobs.register_worker("ripper-1", host="attic", queues=["rip"])
    assert "queue rip: paused" in run("queues", "pause", "rip")
    out = run("queues", "limit", "rip", "--concurrency", "2", "--rate", "10/1m")
    assert "at most 2 running" in out
    assert "at most 10 starts per 60s" in out
    listed = json.loads(run("queues", "ls", "--json"))
    assert listed == [
        {
            "name": "rip",
            "counts": {"pending": 3},
            "paused": True,
            "concurrency": 2,
            "rate": {"limit": 10, "seconds": 60.0},
        }
    ]
    table = run("queues", "ls")
    assert "rip" in table
    assert "10/60s" in table
    assert "queue rip: active" in run("queues", "resume", "rip")
    assert "active" in run("queues", "limit", "rip", "--clear")
    run("queues", "limit", "rip", code=1)  # neither a limit nor --clear
    run("queues", "limit", "rip", "--rate", "ten/1s", code=1)
    run("queues", "limit", "rip", "--rate", "10", code=1)
    assert "ripper-1" in run("workers")
    (worker,) = json.loads(run("workers", "--json"))
    assert (worker["id"], worker["host"], worker["stale"]) == (worker_id, "attic", False)
    run("jobs", "cancel-many", code=1)  # no filter and no --all: refused
    assert "3 jobs cancelled" in run("jobs", "cancel-many", "--queue", "rip")
    assert "3 jobs retried" in run("jobs", "retry-many", "--kind", "rip", "--state", "cancelled")
    assert "3 jobs cancelled" in run("jobs", "cancel-many", "--all")
    with Chronolog(db_url) as cl:
        assert cl.jobs.queue("rip").counts == {"cancelled": 3}
        actions = [e.action for e in cl.events.query(event_types=["queue"], limit=10).items]
        assert actions == ["limited", "resumed", "limited", "paused"]
