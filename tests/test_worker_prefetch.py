"""The worker's prefetch (``jobs/_runners.py``): while handlers are short it claims
beyond its free slots as many jobs as its runners work through in ``PREFETCH_BUDGET``
(``PREFETCH_MOST`` at most), so each round trip takes a bigger batch; never more than ``concurrency`` handlers run at once; a prefetched job no
runner takes within ``PREFETCH_HOLD`` goes back to the queue, as do those still
waiting when the worker stops. Both databases."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from chronolog import Chronolog
from chronolog.jobs import Job
from chronolog.jobs._runners import (
    PREFETCH_BELOW,
    PREFETCH_BUDGET,
    PREFETCH_HOLD,
    PREFETCH_MOST,
    RunnerPool,
)
from chronolog.jobs.worker import JobContext, Worker


class _Recording:
    """The real ``cl.jobs``, noting the limit of every claim the worker asks for."""

    def __init__(self, jobs: Any) -> None:
        self._jobs = jobs
        self.limits: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jobs, name)

    def complete_and_claim(
        self, done: Sequence[Any], queues: Any, worker: str | None = None, **kw: Any
    ) -> tuple[list[int], list[Job]]:
        self.limits.append(int(kw.get("limit", 1)))
        result: tuple[list[int], list[Job]] = self._jobs.complete_and_claim(
            done, queues, worker, **kw
        )
        return result


def test_short_jobs_come_in_bigger_batches_and_never_run_beyond_concurrency(
    cl: Chronolog,
) -> None:
    cl.jobs.enqueue_many([{"kind": "quick", "payload": {"n": i}} for i in range(120)])
    lock = threading.Lock()
    running = [0, 0]  # now, most at once
    seen: list[int] = []

    def quick(ctx: JobContext) -> Mapping[str, Any]:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        seen.append(int(ctx.payload["n"]))
        with lock:
            running[0] -= 1
        return {"n": ctx.payload["n"]}

    source = _Recording(cl.jobs)
    stats = Worker(source, {"quick": quick}, concurrency=2).run(burst=True)
    assert sorted(seen) == list(range(120))  # each once
    assert stats.completed == 120
    assert running[1] <= 2
    # The first claim knows nothing of the handlers (2 slots); later ones prefetch.
    assert source.limits[0] == 2
    # No-op handlers: the whole of PREFETCH_MOST beyond the two slots.
    assert max(source.limits) == 2 + PREFETCH_MOST
    assert cl.jobs.counts()["default"] == {"completed": 120}


def test_prefetch_holds_about_the_budget_of_work_and_stops_for_long_handlers() -> None:
    pool = RunnerPool(4, lambda ctx: None, "t")
    assert pool.ahead == 0  # nothing known of the handlers yet
    pool._mean = 0.002  # 4 runners x 50 ms / 2 ms
    assert pool.ahead == int(4 * PREFETCH_BUDGET / 0.002) == 100
    pool._mean = 0.004
    assert pool.ahead == int(4 * PREFETCH_BUDGET / 0.004) == 50
    pool._mean = 1e-5
    assert pool.ahead == PREFETCH_MOST
    assert pool.free == 4 + PREFETCH_MOST
    pool._mean = PREFETCH_BELOW
    assert pool.ahead == 0
    pool._mean = 1e-5
    pool.stall()
    assert pool.ahead == 0


def test_a_prefetched_job_no_runner_takes_in_time_goes_back_to_the_queue(
    cl: Chronolog, db_url: str
) -> None:
    cl.jobs.enqueue_many([{"kind": "quick", "priority": 10} for _ in range(6)])
    slow = cl.jobs.enqueue("slow", priority=5)
    after = cl.jobs.enqueue("after", priority=5)
    slow_started = threading.Event()
    release_slow = threading.Event()
    ran_after: list[str] = []

    def handle_slow(ctx: JobContext) -> None:
        slow_started.set()
        release_slow.wait(20)

    def handle_after(name: str) -> Any:
        def run(ctx: JobContext) -> None:
            ran_after.append(name)

        return run

    first = Worker(
        cl.jobs,
        {"quick": lambda ctx: None, "slow": handle_slow, "after": handle_after("first")},
        concurrency=1,
        name="first",
    )
    thread = threading.Thread(target=first.run, kwargs={"burst": True})
    thread.start()
    try:
        assert slow_started.wait(20)
        # "after" was prefetched behind the slow job: claimed by the first worker,
        # not started. After PREFETCH_HOLD the ticker gives it back, and a second
        # worker runs it while the slow job still holds the first one's runner.
        with Chronolog(db_url) as other:
            second = Worker(other.jobs, {"after": handle_after("second")}, name="second")
            started = time.monotonic()
            assert _wait_pending(cl, after.id)
            second.run(burst=True)
            assert ran_after == ["second"]
            assert time.monotonic() - started < 10
    finally:
        release_slow.set()
        thread.join(20)
    assert cl.jobs.get(slow.id).state == "completed"
    got = cl.jobs.get(after.id)
    assert (got.state, got.attempt) == ("completed", 1)  # the given-back claim did not count
    actions = [m.action for m in cl.jobs.history(after.id)]
    assert actions == ["pending", "running", "released", "running", "completed"], actions
    assert first.stats.released == 1


def _wait_pending(cl: Chronolog, job_id: int) -> bool:
    """Wait until the job was claimed and given back (pending again)."""
    deadline = time.monotonic() + PREFETCH_HOLD + 10
    claimed = False
    while time.monotonic() < deadline:
        state = cl.jobs.get(job_id).state
        claimed = claimed or state == "running"
        if claimed and state == "pending":
            return True
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} was not given back (claimed: {claimed})")


def test_stopping_gives_prefetched_jobs_back_at_once(cl: Chronolog) -> None:
    cl.jobs.enqueue_many([{"kind": "quick", "priority": 10} for _ in range(6)])
    slow = cl.jobs.enqueue("slow", priority=5)
    waiting = cl.jobs.enqueue("after", priority=5)
    slow_started = threading.Event()

    def handle_slow(ctx: JobContext) -> None:
        slow_started.set()
        time.sleep(0.6)  # shorter than the grace: it completes after the stop

    worker = Worker(
        cl.jobs,
        {"quick": lambda ctx: None, "slow": handle_slow, "after": lambda ctx: None},
        concurrency=1,
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert slow_started.wait(20)
    deadline = time.monotonic() + 10
    while cl.jobs.get(waiting.id).state != "running":  # prefetched behind the slow job
        assert time.monotonic() < deadline, "the job behind the slow one was not prefetched"
        time.sleep(0.01)
    worker.stop()
    thread.join(20)
    assert cl.jobs.get(slow.id).state == "completed"
    got = cl.jobs.get(waiting.id)
    assert (got.state, got.attempt) == ("pending", 0)
    moves = cl.jobs.history(waiting.id)
    assert [m.action for m in moves] == ["pending", "running", "released"]
    # Given back before the slow job finished, not after the grace.
    released_at = moves[-1].at
    completed_at = cl.jobs.history(slow.id)[-1].at
    assert released_at <= completed_at
