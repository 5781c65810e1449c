"""A stopping worker ends its idle waits at once: a remote worker's long-polls are cut,
not waited out, on a real server; running jobs still get their grace. Both databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chronolog import Chronolog, Client
from chronolog.jobs.worker import JobContext, Worker
from chronolog.server import create_app

from ._http import Api, serving_app

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"
STOPS_WITHIN = 3.0
"""Seconds a stopping worker with nothing running may take (it takes milliseconds; the
long-poll it used to wait out is 10 s)."""


def _wait(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@contextmanager
def _server(cl: Chronolog) -> Iterator[tuple[Callable[[], int], str, str]]:
    """A real uvicorn over ``cl``: how many long-polls it holds now, its URL, a write token."""
    app = create_app(cl)
    token = cl.auth.create_token("remote worker", "write").secret
    with serving_app(app) as base:
        yield (lambda: app.state.chronolog.live.slots.count), base, token


def _start(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, name="test-worker", daemon=True)
    thread.start()
    return thread


def _stop(worker: Worker, thread: threading.Thread) -> float:
    """Stop the worker; seconds until its ``run()`` returned."""
    started = time.monotonic()
    worker.stop()
    thread.join(30)
    assert not thread.is_alive(), "the worker did not stop"
    return time.monotonic() - started


def _watches() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "chronolog-cancel-watch"}


def test_an_idle_remote_worker_stops_at_once(cl: Chronolog) -> None:
    """Stopped while its claim long-polls the server (10 s), ``run()`` returns at once, the
    server ends its side of the wait, and the same client runs the next worker as before."""
    with _server(cl) as (polls, base, token), Client(base, token) as client:
        done: list[int] = []
        for round_ in range(2):
            worker = Worker(client.jobs, {"note": lambda ctx: done.append(ctx.id)}, grace=10)
            assert worker.poll_interval == 10.0
            thread = _start(worker)
            _wait(lambda: polls() == 1)  # its claim waits on the server
            if round_ == 1:  # the cut lane reconnects: an enqueue still wakes the worker
                job_id = cl.jobs.enqueue("note").id
                _wait(lambda: cl.jobs.get(job_id).state == "completed", 10)  # noqa: B023
                assert done == [job_id]
                _wait(lambda: polls() == 1)  # idle again
            took = _stop(worker, thread)
            assert took < STOPS_WITHIN, f"an idle remote worker took {took:.2f} s to stop"
            _wait(lambda: polls() == 0, 5)  # the server saw the connection go
        assert worker.stats.completed == 1


def test_a_stopping_remote_worker_lets_its_running_job_finish(cl: Chronolog) -> None:
    """Stopped while a job runs: the job finishes within the grace and is completed; the
    cancel watch's long-poll (held while the job ran) is cut, its thread gone at once."""
    finished = threading.Event()

    def slow(ctx: JobContext) -> dict[str, bool]:
        time.sleep(1.0)  # ignores the stop: only the grace lets it finish
        finished.set()
        return {"finished": True}

    before = _watches()
    with _server(cl) as (polls, base, token), Client(base, token) as client:
        job = cl.jobs.enqueue("slow")
        worker = Worker(client.jobs, {"slow": slow}, grace=10)
        thread = _start(worker)
        _wait(lambda: cl.jobs.get(job.id).state == "running")
        _wait(lambda: polls() == 1)  # the cancel watch waits on the server
        took = _stop(worker, thread)
        assert finished.is_set()
        assert cl.jobs.get(job.id).state == "completed"
        assert cl.jobs.get(job.id).result == {"finished": True}
        assert worker.stats.completed == 1
        assert worker.stats.released == 0
        assert took < 1.0 + STOPS_WITHIN, took  # the job's second, not the grace nor 5 s
        assert not (_watches() - before), "the cancel watch thread outlived the worker"
        _wait(lambda: polls() == 0, 5)


def test_sigterm_stops_an_idle_remote_cli_worker(cl: Chronolog) -> None:
    """``chronolog worker --server`` idle in its long-poll exits promptly on SIGTERM, 0."""
    with _server(cl) as (polls, base, token):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CHRONOLOG_TOKEN": token}
        env.pop("CHRONOLOG_DB", None)
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "worker", "tests.jobs_handlers:SLOW", "--server", base],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait(lambda: polls() == 1 or proc.poll() is not None, 60)
            assert proc.poll() is None, proc.communicate()[1].decode()
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:  # pragma: no cover
                proc.kill()
                proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()
        assert took < STOPS_WITHIN, f"SIGTERM took {took:.2f} s"
        _wait(lambda: polls() == 0, 5)


def test_a_cut_wait_returns_at_once_and_a_cut_before_it_ends_the_next_one(
    cl: Chronolog,
) -> None:
    """``wake_wait_for_work`` ends the wait under way, else the next one only; a job the
    server claimed for the cut request is given back, not left running until its lease."""
    with _server(cl) as (polls, base, token), Client(base, token) as client:
        jobs = client.jobs
        assert jobs.claim(["q"], "w") == []  # the worker's last claim: queue q
        jobs.wake_wait_for_work()
        started = time.monotonic()
        assert jobs.wait_for_work(jobs.wake_generation(), 10) is False
        assert time.monotonic() - started < 1.0
        started = time.monotonic()  # the cut was spent: this one waits its time
        assert jobs.wait_for_work(jobs.wake_generation(), 0.5) is False
        assert time.monotonic() - started >= 0.45

        answer: list[tuple[bool, float]] = []

        def wait() -> None:
            began = time.monotonic()
            answer.append((jobs.wait_for_work(jobs.wake_generation(), 10), began))

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        _wait(lambda: polls() == 1)
        jobs.wake_wait_for_work()
        job = cl.jobs.enqueue("x", queue="q")  # may wake the server's wait before it sees the cut
        waiter.join(10)
        assert not waiter.is_alive()
        (woken, began), *_ = answer
        assert woken is False
        assert time.monotonic() - began < STOPS_WITHIN
        _wait(lambda: polls() == 0, 5)
        # Either the server saw the cut before claiming, or it gave the job back.
        _wait(lambda: cl.jobs.get(job.id).state == "pending", 5)
        assert cl.jobs.get(job.id).attempt == 0
        (taken,) = jobs.claim(["q"], "w")  # and it is there for the next claim
        assert taken.id == job.id


def test_a_worker_on_a_borrowed_http_client_stops_at_once(api: Api) -> None:
    """With the caller's ``httpx.Client`` (here an in-process transport) the long-poll waits
    in 1 s slices: an idle worker still stops within about one, and still wakes on work."""
    with api.client(api.token("write")) as client:
        worker = Worker(client.jobs, {"note": lambda ctx: None}, grace=10)
        thread = _start(worker)
        time.sleep(0.3)
        job = api.cl.jobs.enqueue("note")
        _wait(lambda: api.cl.jobs.get(job.id).state == "completed", 10)
        time.sleep(0.3)  # idle again, in a slice of its long-poll
        took = _stop(worker, thread)
        assert took < STOPS_WITHIN, f"took {took:.2f} s"


def test_an_idle_local_worker_stops_at_once(cl: Chronolog) -> None:
    """A local worker's wait (PostgreSQL: up to its 5 s poll) is woken by ``stop()`` too."""
    worker = Worker(cl.jobs, {"note": lambda ctx: None}, grace=10)
    thread = _start(worker)
    time.sleep(1.0)  # idle, waiting for a wake-up or the poll
    took = _stop(worker, thread)
    assert took < 1.0, f"an idle local worker took {took:.2f} s to stop"


def test_stopping_one_local_worker_leaves_the_others_running(cl: Chronolog) -> None:
    """The wake-up reaches every waiting worker of the process; the others look for jobs
    once more and go on working."""
    done: list[Any] = []
    one = Worker(cl.jobs, {"note": lambda ctx: done.append(ctx.id)}, name="one")
    two = Worker(cl.jobs, {"note": lambda ctx: done.append(ctx.id)}, name="two")
    threads = [_start(one), _start(two)]
    try:
        time.sleep(0.5)
        _stop(one, threads[0])
        assert threads[1].is_alive()
        job = cl.jobs.enqueue("note")
        _wait(lambda: cl.jobs.get(job.id).state == "completed", 10)
        assert done == [job.id]
    finally:
        _stop(two, threads[1])


def test_one_cut_ends_every_wait_of_a_client(cl: Chronolog) -> None:
    """Two threads waiting for work on one client: one ``wake_wait_for_work`` ends both."""
    with _server(cl) as (polls, base, token), Client(base, token) as client:
        jobs = client.jobs
        assert jobs.claim(["q"], "w") == []
        ended: list[float] = []

        def wait() -> None:
            assert jobs.wait_for_work(jobs.wake_generation(), 10) is False
            ended.append(time.monotonic())

        waiters = [threading.Thread(target=wait, daemon=True) for _ in range(2)]
        for waiter in waiters:
            waiter.start()
        _wait(lambda: polls() == 2)
        cut = time.monotonic()
        jobs.wake_wait_for_work()
        for waiter in waiters:
            waiter.join(10)
        assert len(ended) == 2
        assert max(ended) - cut < STOPS_WITHIN, [t - cut for t in ended]
        _wait(lambda: polls() == 0, 5)
