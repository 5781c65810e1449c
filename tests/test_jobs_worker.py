"""Workers, ``chronolog exec``, the jobs CLI and the two job examples; both databases."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chronolog import Chronolog
from chronolog.cli import app
from chronolog.examples import agent_platform, rip_pipeline_jobs
from chronolog.jobs.exec import command_handler, render_args
from chronolog.jobs.worker import JobContext, Worker

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"
log = logging.getLogger("tests.worker")


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _in_thread(worker: Worker, **kwargs: Any) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def test_worker_runs_sync_and_async_handlers_and_captures_logging(cl: Chronolog) -> None:
    def sync(ctx: JobContext) -> dict[str, Any]:
        log.info("sync handler for %s", ctx.payload["n"])
        ctx.log("debug", "direct line", step=1)
        return {"double": ctx.payload["n"] * 2}

    async def run_async(ctx: JobContext) -> str:
        await asyncio.sleep(0.01)
        log.warning("async handler")
        return "plain value"

    def broken(ctx: JobContext) -> None:
        raise ValueError("bad disc")

    a = cl.jobs.enqueue("sync", {"n": 21})
    b = cl.jobs.enqueue("async")
    c = cl.jobs.enqueue("broken", max_attempts=1)
    d = cl.jobs.enqueue("unknown")
    stats = Worker(
        cl.jobs, {"sync": sync, "async": run_async, "broken": broken}, concurrency=3
    ).run(burst=True)
    assert (stats.completed, stats.failed) == (2, 1)
    assert cl.jobs.get(a.id).result == {"double": 42}
    assert cl.jobs.get(b.id).result == {"value": "plain value"}
    lines = [(x.level, x.message) for x in cl.jobs.logs(a.id)]
    assert ("info", "sync handler for 21") in lines
    assert ("debug", "direct line") in lines
    assert ("warning", "async handler") in [(x.level, x.message) for x in cl.jobs.logs(b.id)]
    failed = cl.jobs.get(c.id)
    assert failed.state == "failed"
    assert failed.errors[0].error == "ValueError: bad disc"
    assert "Traceback" in (cl.jobs.logs(c.id)[-1].fields or {}).get("traceback", "")
    unknown = cl.jobs.get(d.id)
    # A worker with a handler per kind claims only those kinds: the job waits for
    # a worker that can run it (issue 16), untouched.
    assert (unknown.state, unknown.attempt, unknown.errors) == ("pending", 0, ())


def test_timeout_fails_the_attempt(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("slow", {"seconds": 30}, max_attempts=1)

    def slow(ctx: JobContext) -> None:
        ctx.cancelled.wait(30)

    started = time.monotonic()
    stats = Worker(cl.jobs, {"slow": slow}, timeout=0.5).run(burst=True)
    assert time.monotonic() - started < 10
    assert stats.failed == 1
    got = cl.jobs.get(job.id)
    assert got.state == "failed"
    assert got.errors[0].error == "timed out after 0.5 s"


def test_cancel_reaches_the_running_handler(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("slow")
    seen = threading.Event()

    def slow(ctx: JobContext) -> None:
        seen.set()
        ctx.cancelled.wait(30)
        ctx.log("warning", f"stopping: {ctx.reason}")

    worker = Worker(cl.jobs, {"slow": slow}, lease_seconds=0.6)
    thread = _in_thread(worker)
    assert seen.wait(20)
    cl.jobs.cancel(job.id)
    _wait(lambda: worker.stats.cancelled == 1)
    worker.stop(grace=1)
    thread.join(10)
    assert cl.jobs.get(job.id).state == "cancelled"
    assert cl.jobs.logs(job.id)[-1].message == "stopping: cancelled"


def test_graceful_stop_finishes_or_releases(cl: Chronolog) -> None:
    quick = cl.jobs.enqueue("nap", {"seconds": 0.3})
    long = cl.jobs.enqueue("nap", {"seconds": 30})

    def nap(ctx: JobContext) -> None:
        ctx.cancelled.wait(float(ctx.payload["seconds"]))

    worker = Worker(cl.jobs, {"nap": nap}, concurrency=2)
    thread = _in_thread(worker)
    _wait(lambda: len(cl.jobs.running()) == 2)
    worker.stop(grace=1.5)
    thread.join(15)
    assert not thread.is_alive()
    assert cl.jobs.get(quick.id).state == "completed"
    released = cl.jobs.get(long.id)
    assert (released.state, released.attempt) == ("pending", 0)
    assert worker.stats.released == 1


def test_sigterm_lets_the_running_job_finish(db_url: str, tmp_path: Path) -> None:
    with Chronolog(db_url) as cl:
        job = cl.jobs.enqueue("slow", {"seconds": 1.5})
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCH,
                "worker",
                "tests.jobs_handlers:SLOW",
                "--grace",
                "20",
                "--db",
                db_url,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(lambda: cl.jobs.get(job.id).state == "running", 30)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:  # pragma: no cover
                proc.kill()
                proc.wait()
        assert cl.jobs.get(job.id).state == "completed"
        assert [line.message for line in cl.jobs.logs(job.id)][-1] == f"slow job {job.id} done"


# -- exec -------------------------------------------------------------------------------------


def test_render_args_fills_placeholders_and_refuses_unknown() -> None:
    assert render_args(
        ["rip", "{disc}", "--t={title:03d}", "{{x}}", "{tags}"],
        {"disc": "D1", "title": 7, "tags": [1]},
    ) == [
        "rip",
        "D1",
        "--t=007",
        "{x}",
        "[1]",
    ]
    with pytest.raises(KeyError, match="placeholder"):
        render_args(["{missing}"], {"disc": 1})


def test_exec_streams_lines_live_and_completes(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("rip", {"disc": "D7"}, queue="rip")
    script = 'echo "start {disc} $JOB_DISC"; sleep 1.5; echo oops >&2; echo end'
    worker = Worker(cl.jobs, command_handler(["sh", "-c", script]), queues=["rip"])
    thread = _in_thread(worker, burst=True)
    # The first line is in the log while the command still runs.
    _wait(lambda: any(x.message == "start D7 D7" for x in cl.jobs.logs(job.id)))
    assert cl.jobs.get(job.id).state == "running"
    assert cl.jobs.get(job.id).pid not in (None, os.getpid())
    thread.join(20)
    lines = [(x.level, x.message, (x.fields or {}).get("stream")) for x in cl.jobs.logs(job.id)]
    assert ("warning", "oops", "stderr") in lines
    assert [x for x in lines if x[2] == "stdout"][-1] == ("info", "end", "stdout")
    assert cl.jobs.get(job.id).state == "completed"


def test_exec_fails_with_status_and_last_lines(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("rip", max_attempts=1)
    handler = command_handler(
        ["sh", "-c", "echo reading; echo 'read error at sector 9' >&2; exit 3"]
    )
    Worker(cl.jobs, handler).run(burst=True)
    got = cl.jobs.get(job.id)
    assert got.state == "failed"
    assert got.errors[0].error.startswith("CommandFailed: exit status 3; last lines:")
    assert "read error at sector 9" in got.errors[0].error


def test_exec_cancel_kills_the_child(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("rip")
    worker = Worker(cl.jobs, command_handler(["sh", "-c", "echo up; sleep 60"]), lease_seconds=0.6)
    thread = _in_thread(worker)
    _wait(lambda: any(x.message == "up" for x in cl.jobs.logs(job.id)))
    pid = cl.jobs.get(job.id).pid
    assert pid is not None
    cl.jobs.cancel(job.id)
    _wait(lambda: worker.stats.cancelled == 1)
    worker.stop(grace=1)
    thread.join(10)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert cl.jobs.get(job.id).state == "cancelled"


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_jobs_commands(db_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "jobs",
            "enqueue",
            "rip",
            "--payload",
            '{"disc": 1}',
            "--queue",
            "rip",
            "--subject",
            "disc:d1",
            "--db",
            db_url,
        ],
    )
    assert result.exit_code == 0, result.output
    job_id = int(result.output.strip())
    with Chronolog(db_url) as cl:
        assert cl.jobs.get(job_id).subject == ("disc", "d1")
        (claimed,) = cl.jobs.claim(["rip"], "w")
        cl.jobs.log(job_id, "info", "ripping title 1", lease=claimed.lease)
        cl.jobs.fail(job_id, claimed.lease, "drive not ready", retry=False)
    ls = runner.invoke(app, ["jobs", "ls", "--db", db_url, "--json"])
    assert ls.exit_code == 0
    assert '"state":"failed"' in ls.output
    show = runner.invoke(app, ["jobs", "show", str(job_id), "--db", db_url])
    assert "drive not ready" in show.output
    logs = runner.invoke(app, ["jobs", "logs", str(job_id), "--follow", "--db", db_url])
    assert "ripping title 1" in logs.output
    assert (
        runner.invoke(app, ["jobs", "retry", str(job_id), "--db", db_url]).output.strip()
        == f"job {job_id} is pending"
    )
    assert (
        runner.invoke(app, ["jobs", "cancel", str(job_id), "--db", db_url]).output.strip()
        == f"job {job_id} is cancelled"
    )
    bad = runner.invoke(app, ["jobs", "enqueue", "rip", "--payload", "[1]", "--db", db_url])
    assert bad.exit_code == 1
    missing = runner.invoke(app, ["jobs", "show", "999", "--db", db_url])
    assert missing.exit_code == 1


def test_cli_commands_have_help() -> None:
    runner = CliRunner()
    for args in (
        ["jobs", "--help"],
        ["worker", "--help"],
        ["exec", "--help"],
        ["jobs", "logs", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert len(result.output) > 100


# -- examples ------------------------------------------------------------------------------------


def test_agent_platform_no_job_taken_twice(db_url: str) -> None:
    outcome = agent_platform.run(db_url, jobs=120, dequeuers=6)
    assert outcome.taken_twice == []
    assert len(outcome.taken) == 120
    assert outcome.counts == {"agents": {"completed": 118, "failed": 2}}


@pytest.mark.slow
def test_rip_pipeline_jobs_fails_once_then_finishes(db_url: str) -> None:
    outcome = rip_pipeline_jobs.run(db_url, timeout=120)
    assert outcome.failed_job is not None
    assert outcome.failed_job.subject == ("episode", rip_pipeline_jobs.FLAKY)
    assert "x265 [error]: out of memory at frame 1337" in outcome.failed_log
    jobs = outcome.jobs
    assert len(jobs) == 2 + 4 * 3
    assert all(j.state == "completed" for j in jobs)
    transcode = next(j for j in jobs if j.id == outcome.failed_job.id)
    assert transcode.attempt == 2
    assert {j.subject for j in jobs if j.kind == "rip"} == {
        ("disc", "severance-s01-d1"),
        ("disc", "severance-s01-d2"),
    }
    filebot = [j for j in jobs if j.kind == "filebot"]
    assert all(j.result == {"exit_status": 0, "pid": j.pid} for j in filebot)
    # One pipeline for the season; the failed transcode cancelled its filebot, and both
    # were retried.
    assert outcome.pipeline_id is not None
    with Chronolog(db_url) as cl:
        pipe = cl.jobs.pipeline_get(outcome.pipeline_id)
        assert pipe.subject == ("season", rip_pipeline_jobs.SEASON)
        assert pipe.state == "completed"
        assert len(pipe.jobs) == len(jobs)
        (after,) = cl.jobs.dependencies(transcode.id).dependents
        actions = [m.action for m in cl.jobs.history(after.id)]
        assert actions[:2] == ["waiting", "cancelled"]
        assert actions[-1] == "completed"
        # Retried while the transcode ran (it waits again, then is released) or after.
        assert actions[2:] in (
            ["waiting", "ready", "running", "completed"],
            ["retried", "running", "completed"],
        )


def test_workers_run_retention_themselves(db_url: str) -> None:
    # No cron: the worker's ticker calls retention's run_if_due.
    from datetime import UTC, datetime, timedelta

    with Chronolog(db_url) as cl:
        old = datetime.now(UTC) - timedelta(days=3)
        cl.events.record_many([{"event_type": "scan", "action": "x", "occurred_at": old}] * 5)
        cl.events.record("scan", "fresh")
        cl.retention.set(events="1d")
        worker = Worker(
            cl.jobs, lambda ctx: None, maintenance=lambda: cl.retention.run_if_due("1h")
        )
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and cl.events.query(event_types=["scan"]).total != 1:
                time.sleep(0.1)
        finally:
            worker.stop(grace=0)
            thread.join(10)
        assert [e.action for e in cl.events.query(event_types=["scan"]).items] == ["fresh"]
        purges = cl.events.query(event_types=["retention"]).items
        assert purges
        assert purges[0].action == "purge"


# -- the runner pool -------------------------------------------------------------------------------

_job_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("test_job_var", default=None)


def test_pool_never_runs_more_than_concurrency_handlers(cl: Chronolog) -> None:
    lock = threading.Lock()
    running = 0
    peak = 0
    threads: set[int] = set()

    def count(ctx: JobContext) -> dict[str, Any]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.get_ident())
        time.sleep(0.01 * (ctx.payload["n"] % 3))
        with lock:
            running -= 1
        return {"n": ctx.payload["n"]}

    ids = cl.jobs.enqueue_many([{"kind": "count", "payload": {"n": n}} for n in range(40)])
    stats = Worker(cl.jobs, {"count": count}, concurrency=3).run(burst=True)
    assert stats.completed == 40
    assert 1 <= peak <= 3
    assert len(threads) <= 3  # long-lived runner threads, not one thread per job
    assert [cl.jobs.get(i).result for i in ids] == [{"n": n} for n in range(40)]


def test_logging_capture_and_context_stay_per_job_in_the_pool(cl: Chronolog) -> None:
    leaked: list[int] = []

    def tag(ctx: JobContext) -> None:
        previous = _job_var.get()
        if previous is not None:
            leaked.append(previous)
        _job_var.set(ctx.id)
        log.info("line of job %s", ctx.id)
        time.sleep(0.002)
        log.warning("end of job %s", ctx.id)

    async def atag(ctx: JobContext) -> None:
        await asyncio.sleep(0.002)
        log.info("line of job %s", ctx.id)

    ids = cl.jobs.enqueue_many(
        [{"kind": "tag" if n % 4 else "atag", "payload": {"n": n}} for n in range(24)]
    )
    stats = Worker(cl.jobs, {"tag": tag, "atag": atag}, concurrency=2).run(burst=True)
    assert stats.completed == 24
    assert leaked == []  # each job starts in a fresh context, as on a thread of its own
    for n, job_id in enumerate(ids):
        lines = [x.message for x in cl.jobs.logs(job_id)]
        if n % 4:
            assert lines == [f"line of job {job_id}", f"end of job {job_id}"]
        else:
            assert lines == [f"line of job {job_id}"]


def test_a_stuck_timed_out_handler_keeps_its_slot(cl: Chronolog) -> None:
    stuck = cl.jobs.enqueue("stuck", max_attempts=1, priority=1)
    after = cl.jobs.enqueue("after")
    release = threading.Event()
    ran: list[int] = []

    def handler(ctx: JobContext) -> None:
        ran.append(ctx.id)
        if ctx.job.kind == "stuck":
            release.wait(30)  # ignores ctx.cancelled: a handler that cannot be interrupted

    worker = Worker(cl.jobs, handler, concurrency=1, timeout=0.3)
    thread = _in_thread(worker)
    try:
        _wait(lambda: cl.jobs.get(stuck.id).state == "failed")
        time.sleep(0.5)
        # The attempt failed at once, but its handler still runs: with
        # concurrency 1 the next job waits for it.
        assert ran == [stuck.id]
        assert cl.jobs.get(after.id).state == "pending"
        release.set()
        _wait(lambda: cl.jobs.get(after.id).state == "completed")
        assert ran == [stuck.id, after.id]
    finally:
        release.set()
        worker.stop(grace=1)
        thread.join(10)
    assert not thread.is_alive()


def test_an_idle_worker_does_not_poll_hard_and_wakes_for_new_work(
    cl: Chronolog, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims = 0
    claim = cl.jobs.complete_and_claim  # the worker claims (and completes) with it

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal claims
        claims += 1
        return claim(*args, **kwargs)

    monkeypatch.setattr(cl.jobs, "complete_and_claim", counting)
    done = threading.Event()
    worker = Worker(cl.jobs, lambda ctx: done.set(), concurrency=4)
    thread = _in_thread(worker)
    try:
        time.sleep(1.0)
        # SQLite polls every 0.25 s, PostgreSQL waits for NOTIFY (5 s poll).
        assert 1 <= claims <= 8
        job = cl.jobs.enqueue("wake")
        assert done.wait(20)
        _wait(lambda: cl.jobs.get(job.id).state == "completed")
    finally:
        worker.stop(grace=1)
        thread.join(10)


def test_a_refused_result_fails_its_job_only(cl: Chronolog) -> None:
    """Results are completed in batches: one the queue refuses (not JSON) fails its own
    job, not the jobs finished with it, and the worker goes on claiming."""
    release = threading.Event()

    def handler(ctx: JobContext) -> Any:
        release.wait(10)  # finish together: one batch
        return {"bad": object()} if ctx.payload["n"] == 1 else {"n": ctx.payload["n"]}

    ids = cl.jobs.enqueue_many([{"kind": "k", "payload": {"n": n}} for n in range(3)])
    later = cl.jobs.enqueue("k", {"n": 9}, delay=0.5)
    worker = Worker(cl.jobs, handler, concurrency=3, poll_interval=0.1)
    thread = _in_thread(worker)
    try:
        _wait(lambda: len(cl.jobs.running()) == 3)
        release.set()
        _wait(lambda: cl.jobs.get(later.id).state == "completed")
    finally:
        worker.stop(grace=1)
        thread.join(10)
    jobs = [cl.jobs.get(i) for i in ids]
    assert [j.state for j in jobs] == ["completed", "failed", "completed"]
    assert [jobs[0].result, jobs[2].result] == [{"n": 0}, {"n": 2}]
    assert "result refused" in jobs[1].errors[-1].error
    assert (worker.stats.completed, worker.stats.failed, worker.stats.lost) == (3, 1, 0)
