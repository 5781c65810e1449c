"""The coding-agent platform (seed 004): EnqueueJob / DequeueJob / CompleteJob on chronolog.

The seed's store selected a pending job and then updated it, so two workers
could take the same job. Here ``DequeueJob`` is ``cl.jobs.claim``: one
atomic statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one immediate
write transaction on SQLite) that hands each job to exactly one dequeuer,
with a lease token that ``CompleteJob`` must present.

Run it: ``python examples/agent_platform.py [URL] [JOBS] [DEQUEUERS]``.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from chronolog import Chronolog, Job

JOB_TYPES = ("agent_run", "repo_index", "pr_review")


class AgentStore:
    """The seed's ``JobMethods`` (``EnqueueJob``, ``DequeueJob``, ``CompleteJob``) over chronolog."""

    def __init__(self, cl: Chronolog) -> None:
        self.cl = cl

    def enqueue_job(self, job_type: str, payload: dict[str, Any]) -> Job:
        """EnqueueJob: add a pending job of ``job_type``."""
        return self.cl.jobs.enqueue(job_type, payload, queue="agents")

    def dequeue_job(self, job_types: list[str], worker: str) -> Job | None:
        """DequeueJob: atomically take the oldest pending job of these types (or None)."""
        for job in self.cl.jobs.claim(["agents"], worker, limit=1):
            if job.kind in job_types:
                return job
            # Not ours after all: give it back untouched for a worker that handles it.
            self.cl.jobs.release(job.id, job.lease, f"{worker} does not handle {job.kind}")
        return None

    def complete_job(self, job: Job, err: Exception | None = None) -> None:
        """CompleteJob: mark done, or failed with the error (fenced by the claim's lease)."""
        if err is None:
            self.cl.jobs.complete(job.id, job.lease, {"ok": True})
        else:
            self.cl.jobs.fail(job.id, job.lease, str(err), retry=False)


@dataclass
class Outcome:
    """What a run of the scenario did."""

    enqueued: int
    taken: Counter[int]
    counts: dict[str, dict[str, int]]

    @property
    def taken_twice(self) -> list[int]:
        """Jobs handed to more than one dequeuer (the seed's bug; always empty here)."""
        return [job_id for job_id, n in self.taken.items() if n > 1]


def run(url: str, jobs: int = 300, dequeuers: int = 8) -> Outcome:
    """Enqueue ``jobs`` jobs, then let ``dequeuers`` threads race for them."""
    with Chronolog(url) as cl:
        store = AgentStore(cl)
        for n in range(jobs):
            store.enqueue_job(JOB_TYPES[n % 3], {"session": f"s{n}", "prompt": f"task {n}"})
    taken: Counter[int] = Counter()
    lock = threading.Lock()

    def dequeuer(n: int) -> None:
        with Chronolog(url) as mine:
            store = AgentStore(mine)
            while (job := store.dequeue_job(list(JOB_TYPES), f"agent-worker-{n}")) is not None:
                with lock:
                    taken[job.id] += 1
                failure = RuntimeError("model quota exceeded") if job.id % 50 == 0 else None
                store.complete_job(job, failure)

    threads = [threading.Thread(target=dequeuer, args=(n,)) for n in range(dequeuers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Chronolog(url) as cl:
        return Outcome(enqueued=jobs, taken=taken, counts=cl.jobs.counts())


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///agent_platform.db"
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    dequeuers = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    outcome = run(url, jobs, dequeuers)
    print(f"{outcome.enqueued} jobs, {dequeuers} concurrent dequeuers")
    print(f"taken: {sum(outcome.taken.values())}, taken twice: {outcome.taken_twice or 'none'}")
    print(f"states: {outcome.counts}")


if __name__ == "__main__":
    main()
