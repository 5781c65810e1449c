"""How workers behave for their operator (issue 15's worker items, issue 16's cancel and
start-up checks): prompt cancel, permanent failures, refused tokens, their own HTTP
calls kept out of job logs, a line per job and a summary in jobs. Both databases; a
real server for remote workers; subprocesses for the CLI's exit codes."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chronolog import Chronolog, Client, Forbidden, PermanentError, Unauthorized
from chronolog.cli import _common, _worker_report
from chronolog.jobs import _leases
from chronolog.jobs.exec import CommandNotFound, command_handler
from chronolog.jobs.worker import JobContext, JobOutcome, Worker

from ._http import serving

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"


def _cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    environ.pop("CHRONOLOG_DB", None)
    environ.pop("CHRONOLOG_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=environ,
    )


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


class _Waiter:
    """A handler that waits to be cancelled and notes when it was told."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.told_at: float | None = None
        self.reason: str | None = None

    def __call__(self, ctx: JobContext) -> None:
        self.started.set()
        if ctx.cancelled.wait(30):
            self.told_at = time.monotonic()
            self.reason = ctx.reason


# -- prompt cancel ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["same process", "other process"])
def test_cancel_reaches_the_handler_within_a_second(cl: Chronolog, db_url: str, where: str) -> None:
    """Heartbeats come every 10 s here (lease 30 s): the handler hears of the cancel from
    the cancel watch (PostgreSQL NOTIFY; SQLite: this process's own signal, or the poll
    for another process's cancel)."""
    job = cl.jobs.enqueue("wait")
    waiter = _Waiter()
    worker = Worker(cl.jobs, {"wait": waiter}, lease=30)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert waiter.started.wait(20)
        time.sleep(0.3)  # the watch is waiting now, not looking
        if where == "same process":
            cancelled_at = time.monotonic()
            cl.jobs.cancel(job.id)
        else:  # another store object: its own notifier, as another process's
            with Chronolog(db_url) as other:
                cancelled_at = time.monotonic()
                other.jobs.cancel(job.id)
        _wait(lambda: waiter.told_at is not None, 10)
        assert waiter.told_at is not None
        took = waiter.told_at - cancelled_at
        bound = 1.0  # PostgreSQL: NOTIFY; SQLite: the 0.25 s poll, with slack for a busy box
        assert took < bound, f"the handler heard of the cancel after {took:.2f} s"
        assert waiter.reason == "cancelled"
        _wait(lambda: worker.stats.cancelled == 1)
    finally:
        worker.stop(grace=1)
        thread.join(10)
    assert cl.jobs.get(job.id).state == "cancelled"
    assert worker.stats.jobs == {"cancelled": 1}


def test_cancelled_answers_and_validates(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("x")
    b = cl.jobs.enqueue("x")
    claimed = cl.jobs.claim(None, "w", limit=2)
    assert {j.id for j in claimed} == {a.id, b.id}
    assert cl.jobs.cancelled([a.id, b.id]) == []
    cl.jobs.cancel(b.id)
    assert cl.jobs.cancelled([a.id, b.id]) == [b.id]
    started = time.monotonic()
    assert cl.jobs.cancelled([a.id], wait=0.3) == []  # waits, then answers
    assert time.monotonic() - started >= 0.2
    with pytest.raises(ValueError, match="job id"):
        cl.jobs.cancelled([0])
    with pytest.raises(ValueError, match="wait"):
        cl.jobs.cancelled([a.id], wait=-1)


def test_a_remote_worker_hears_of_a_cancel_promptly(cl: Chronolog, db_url: str) -> None:
    job = cl.jobs.enqueue("wait")
    token = cl.auth.create_token("remote worker", "write").secret
    waiter = _Waiter()
    with serving(cl) as base, Client(base, token) as client:
        worker = Worker(client.jobs, {"wait": waiter}, lease=30)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            assert waiter.started.wait(20)
            time.sleep(0.3)
            with Chronolog(db_url) as other:  # not through the server
                cancelled_at = time.monotonic()
                other.jobs.cancel(job.id)
            _wait(lambda: waiter.told_at is not None, 10)
            assert waiter.told_at is not None
            took = waiter.told_at - cancelled_at
            assert took < 2.0, f"the remote handler heard of the cancel after {took:.2f} s"
        finally:
            worker.stop(grace=1)
            # An idle remote worker stops once its long-poll (10 s) returns: wait it out,
            # so the worker deregisters while the client is still open.
            thread.join(20)
        assert not thread.is_alive()
        assert client.jobs.cancelled([job.id]) == [job.id]
    assert cl.jobs.get(job.id).state == "cancelled"


# -- errors that can never succeed --------------------------------------------------------


def test_a_permanent_error_fails_the_job_at_once(cl: Chronolog) -> None:
    def hopeless(ctx: JobContext) -> None:
        raise PermanentError(f"no such disc {ctx.payload['disc']}")

    job = cl.jobs.enqueue("rip", {"disc": 9}, max_attempts=5)
    stats = Worker(cl.jobs, {"rip": hopeless}).run(burst=True)
    got = cl.jobs.get(job.id)
    assert (got.state, got.attempt) == ("failed", 1)
    assert got.errors[0].error == "PermanentError: no such disc 9 (permanent: not retried)"
    last = cl.jobs.history(job.id)[-1]
    assert last.to_state == "failed"
    event = cl.events.query(event_types=["job"], actions=["failed"]).items[0]
    assert "no such disc 9" in (event.error or "")
    assert stats.jobs == {"failed": 1}
    assert stats.retried == 0


def test_a_missing_placeholder_fails_the_exec_job_at_once(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("rip", {"disc": 1}, max_attempts=4)
    Worker(cl.jobs, command_handler(["echo", "{device}"])).run(burst=True)
    got = cl.jobs.get(job.id)
    assert (got.state, got.attempt) == ("failed", 1)
    assert "placeholder {device}" in got.errors[0].error
    assert "permanent" in got.errors[0].error


def test_a_program_from_the_payload_that_is_nowhere_fails_at_once(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("tool", {"program": "no-such-tool-xyz"}, max_attempts=3)
    ok = cl.jobs.enqueue("tool", {"program": "true"}, max_attempts=3)
    Worker(cl.jobs, command_handler(["{program}"])).run(burst=True)
    got = cl.jobs.get(job.id)
    assert (got.state, got.attempt) == ("failed", 1)
    assert "command not found: no-such-tool-xyz" in got.errors[0].error
    assert cl.jobs.get(ok.id).state == "completed"


def test_command_handler_refuses_a_missing_command(tmp_path: Path) -> None:
    with pytest.raises(CommandNotFound, match="command not found: no-such-command-xyz"):
        command_handler(["no-such-command-xyz", "--flag"])
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(CommandNotFound, match="not executable"):
        command_handler([str(script)])
    script.chmod(0o755)
    assert callable(command_handler([str(script)]))
    assert callable(command_handler(["{program}", "x"]))  # from the payload: checked per job


def test_exec_refuses_to_start_without_its_command(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        job = cl.jobs.enqueue("rip")
    started = time.monotonic()
    done = _cli("exec", "--db", db_url, "--burst", "--", "no-such-command-xyz", "{disc}")
    assert done.returncode == 1, done.stderr
    assert "command not found: no-such-command-xyz" in done.stderr
    assert time.monotonic() - started < 30
    with Chronolog(db_url) as cl:
        got = cl.jobs.get(job.id)
        assert (got.state, got.attempt) == ("pending", 0)  # nothing claimed


# -- refused tokens, transient errors ------------------------------------------------------


def test_a_remote_worker_with_a_read_token_says_why_and_exits(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("slow", {"seconds": 0.1})
    read = cl.auth.create_token("reader", "read").secret
    with serving(cl) as base:
        for command in (
            ["worker", "tests.jobs_handlers:SLOW"],
            ["exec", "--", "true"],
        ):
            started = time.monotonic()
            done = _cli(*command[:1], "--server", base, "--token", read, "--burst", *command[1:])
            assert done.returncode == 1, done.stderr
            assert time.monotonic() - started < 30
            message = " ".join(done.stderr.split())
            assert "the token has the read role" in message
            assert "needs the write role" in message
        bad = _cli(
            "worker", "--server", base, "--token", "nope", "--burst", "tests.jobs_handlers:SLOW"
        )
        assert bad.returncode == 1
        assert "refused the token" in " ".join(bad.stderr.split())
        # The library: the worker stops on the first refusal and says why.
        with Client(base, read) as client:
            worker = Worker(client.jobs, {"slow": lambda ctx: None})
            started = time.monotonic()
            with pytest.raises(Forbidden, match="write role"):
                worker.run(burst=True)
            assert time.monotonic() - started < 10
            assert worker.stats.fatal is not None
            assert "read" in worker.stats.fatal
    assert cl.jobs.get(job.id).state == "pending"


def test_a_token_revoked_mid_run_stops_the_worker(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("wait")
    issued = cl.auth.create_token("to revoke", "write")
    waiter = _Waiter()
    with serving(cl, token_recheck_seconds=0.2) as base, Client(base, issued.secret) as client:
        worker = Worker(client.jobs, {"wait": waiter}, lease=0.6)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                worker.run()
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert waiter.started.wait(20)
        cl.auth.revoke_token(issued.token.id)
        thread.join(20)
        assert not thread.is_alive(), "the worker kept going with a revoked token"
        assert failure
        assert isinstance(failure[0], Unauthorized)
        assert worker.stats.fatal is not None
    # Nothing could be reported with the revoked token: the lease will run out.
    assert cl.jobs.get(job.id).state == "running"


def test_transient_errors_are_retried_with_back_off_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on this port: every claim fails to connect.
    with Client("http://127.0.0.1:9", "token") as client:
        client.retries = 0
        worker = Worker(client.jobs, {"x": lambda ctx: None})
        with caplog.at_level(logging.WARNING, logger="chronolog.worker"):
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            time.sleep(3.6)  # 1 s, then 2 s of back-off: three tries
            assert thread.is_alive()
            worker.stop(grace=0)
            thread.join(10)
    warnings = [r.getMessage() for r in caplog.records if "claim failed" in r.getMessage()]
    assert 2 <= len(warnings) <= 3, warnings
    assert "unreachable" in warnings[0]
    assert "retrying in 1 s" in warnings[0]
    assert "retrying in 2 s" in warnings[1]
    assert worker.stats.fatal is None


# -- the worker's own HTTP stack stays out of job logs --------------------------------------


def test_a_remote_workers_http_requests_are_not_job_log_lines(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("say")
    token = cl.auth.create_token("remote worker", "write").secret

    def say(ctx: JobContext) -> None:
        ctx.set_pid(os.getpid())  # a heartbeat from the handler's own thread
        logging.getLogger("tests.say").info("the handler speaks")
        time.sleep(0.5)  # log lines are flushed while it runs
        logging.getLogger("tests.say").info("still speaking")

    httpx_logger = logging.getLogger("httpx")
    old = httpx_logger.level
    httpx_logger.setLevel(logging.INFO)
    try:
        with serving(cl) as base, Client(base, token) as client:
            Worker(client.jobs, {"say": say}, lease=0.6).run(burst=True)
    finally:
        httpx_logger.setLevel(old)
    messages = [line.message for line in cl.jobs.logs(job.id)]
    assert messages == ["the handler speaks", "still speaking"], messages
    assert cl.jobs.get(job.id).state == "completed"


# -- workers say what they do ---------------------------------------------------------------


def test_a_line_per_job_and_a_summary_in_jobs(
    cl: Chronolog, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_leases, "BACKOFF_BASE", 0.0)  # retries due at once
    ok = cl.jobs.enqueue("ok")
    bad = cl.jobs.enqueue("bad", max_attempts=3)
    worse = cl.jobs.enqueue("bad", max_attempts=2)
    heard: list[JobOutcome] = []

    def boom(ctx: JobContext) -> None:
        raise RuntimeError("disc unreadable")

    with caplog.at_level(logging.INFO, logger="chronolog.worker.jobs"):
        stats = Worker(cl.jobs, {"ok": lambda ctx: None, "bad": boom}, on_outcome=heard.append).run(
            burst=True
        )
    assert stats.jobs == {"completed": 1, "failed": 2}
    assert stats.retried == 3
    assert stats.failed == 5  # attempts
    assert stats.summary() == "3 jobs: 1 completed, 2 failed; 3 retries"
    lines = [r.getMessage() for r in caplog.records if r.name == "chronolog.worker.jobs"]
    assert len(lines) == 6
    assert any(line.startswith(f"job {ok.id} ok completed in ") for line in lines)
    retried = [line for line in lines if line.startswith(f"job {bad.id} bad failed in ")]
    assert len(retried) == 2
    assert retried[0].endswith("(attempt 1/3), will retry: RuntimeError: disc unreadable")
    final = [line for line in lines if line.startswith(f"job {worse.id} bad failed for good")]
    assert len(final) == 1
    assert final[0].endswith("(attempt 2/2): RuntimeError: disc unreadable")
    assert [o.outcome for o in heard].count("retrying") == 3


def test_cli_worker_prints_lines_progress_and_a_summary(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        ids = [cl.jobs.enqueue("slow", {"seconds": 0.01}).id for _ in range(3)]
        cl.jobs.enqueue("fails", max_attempts=1)
        # No handler here: a worker claims only the kinds it has handlers for.
        unhandled = cl.jobs.enqueue("nobody-handles-this", max_attempts=3)
    done = _cli("worker", "--db", db_url, "--burst", "tests.jobs_handlers:SLOW_OR_FAILING")
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "kinds slow, fails, concurrency" in err
    for job_id in ids:
        assert f"job {job_id} slow completed in " in err
    assert "fails failed for good" in err
    assert "progress: 4 of 4 jobs done (3 completed, 1 failed)" in err  # plain: no terminal
    assert "stopped: 4 jobs: 3 completed, 1 failed" in " ".join(err.split())
    assert "HTTP Request" not in err
    with Chronolog(db_url) as cl:
        assert cl.jobs.get(unhandled.id).state == "pending"
    with Chronolog(db_url) as cl:
        cl.jobs.enqueue("slow", {"seconds": 0.01})
    quiet = _cli("worker", "--db", db_url, "--burst", "--quiet", "tests.jobs_handlers:SLOW")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.strip() == ""
    assert quiet.stdout.strip() == ""


def test_drain_progress_is_a_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=100)
    monkeypatch.setattr(_common, "err_console", terminal)
    monkeypatch.setattr(_worker_report, "err_console", terminal)

    def outcome(job_id: int, what: str) -> JobOutcome:
        return JobOutcome(None, what, 0.1)  # type: ignore[arg-type]  # the bar reads no job

    with _worker_report.WorkerReport(3, lines=False, progress=True) as bar:
        bar(outcome(1, "completed"))
        bar(outcome(2, "retrying"))  # not done yet
        bar(outcome(2, "failed"))
        bar(outcome(3, "completed"))
        bar(outcome(4, "completed"))  # one more than counted at the start
    text = out.getvalue()
    assert "draining" in text
    assert "4/4" in text
    assert "progress:" not in text  # no plain lines on a terminal
    assert bar.outcomes == {"completed": 3, "failed": 1}
