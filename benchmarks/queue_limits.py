"""Queue controls benchmark: what a global concurrency limit costs a drain, and what the
controls cost a drain of queues that have none.

A drain: ``--workers`` threads, each completing its batch and claiming the next in
one call (``cl.jobs.complete_and_claim``, what ``chronolog worker`` does), until
``--jobs`` no-op jobs of one queue are done. Measured on a fresh database each:

* ``unlimited``: the queue has no control (the batch claim asks ``job_queues`` one
  primary-key probe and takes its jobs in its one statement);
* ``limit, never reached``: ``set_limit(queue, concurrency=workers x batch)``: the
  limit never holds a job back, so the ratio is the pure cost of claiming under it
  (a transaction of its own that locks the control row, counts the running jobs
  and claims; then the batch completes);
* ``limit, binding``: ``concurrency = workers x batch / 2``: workers wait for slots
  (throughput under a limit, not its overhead).

Ratios are throughput over ``unlimited``'s, measured in the same process and
interleaved (``--rounds``; the medians are printed).

``--before SRC``: the unlimited drain with the ``src`` directory of another
checkout (e.g. ``git archive main | tar -x -C /tmp/main``) in a child process,
against this checkout's, interleaved: the cost of this change for users of no
control. Run:
``PYTHONPATH=. .venv/bin/python -m benchmarks.queue_limits [--before /tmp/main/src]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

from benchmarks._dbs import pg_available, postgres_url, sqlite_url
from chronolog import Chronolog

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def drain(url: str, jobs: int, workers: int, batch: int, limit: int | None) -> float:
    """Jobs per second of one drain of ``jobs`` no-op jobs on a fresh database at ``url``."""
    with Chronolog(url) as cl:
        if limit is not None and hasattr(cl.jobs, "set_limit"):
            cl.jobs.set_limit("bench", concurrency=limit)
        cl.jobs.enqueue_many([{"kind": "noop", "queue": "bench"} for _ in range(jobs)])
        done_total = [0]
        lock = threading.Lock()

        def worker() -> None:
            done: list[tuple[int, int]] = []
            idle = 0
            while True:
                completed, claimed = cl.jobs.complete_and_claim(done, ["bench"], "w", limit=batch)
                with lock:
                    done_total[0] += len(completed)
                done = [(j.id, j.lease) for j in claimed]
                if not claimed:
                    with lock:
                        if done_total[0] >= jobs:
                            return
                    idle += 1
                    time.sleep(0.001)  # a binding limit: wait for a slot

        start = time.perf_counter()
        ts = [threading.Thread(target=worker) for _ in range(workers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        seconds = time.perf_counter() - start
        assert cl.jobs.counts() == {"bench": {"completed": jobs}}, cl.jobs.counts()
    return jobs / seconds


def fresh(kind: str):  # type: ignore[no-untyped-def]
    return sqlite_url("limits") if kind == "sqlite" else postgres_url()


def one(kind: str, jobs: int, workers: int, batch: int, limit: int | None) -> float:
    with fresh(kind) as url:
        return drain(url, jobs, workers, batch, limit)


def child(src: str, kind: str, jobs: int, workers: int, batch: int) -> float:
    """The unlimited drain in a child process importing chronolog from ``src``."""
    code = (
        "import sys, json; from benchmarks.queue_limits import one; "
        f"print(json.dumps(one({kind!r}, {jobs}, {workers}, {batch}, None)))"
    )
    root = os.path.dirname(SRC)
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{root}"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--before", metavar="SRC", help="src/ of the checkout to compare with")
    args = parser.parse_args()
    kinds = [k for k in args.backends.split(",") if k != "postgresql" or pg_available()]
    print(
        f"machine: {platform.machine()} {platform.system()} {os.cpu_count()} cpus, "
        f"python {platform.python_version()}"
    )
    print(f"jobs={args.jobs} workers={args.workers} batch={args.batch} rounds={args.rounds}")
    slots = args.workers * args.batch
    for kind in kinds:
        runs: dict[str, list[float]] = {"unlimited": [], "never": [], "binding": []}
        for _ in range(args.rounds):
            runs["unlimited"].append(one(kind, args.jobs, args.workers, args.batch, None))
            runs["never"].append(one(kind, args.jobs, args.workers, args.batch, slots))
            runs["binding"].append(one(kind, args.jobs, args.workers, args.batch, slots // 2))
        base = statistics.median(runs["unlimited"])
        for name, label in (
            ("unlimited", "unlimited"),
            ("never", f"limit {slots}, never reached"),
            ("binding", f"limit {slots // 2}, binding"),
        ):
            rate = statistics.median(runs[name])
            print(f"{kind:<11} {label:<28} {rate:>9.0f} jobs/s  ratio {rate / base:5.2f}")
        if args.before:
            before: list[float] = []
            after: list[float] = []
            for _ in range(args.rounds):
                before.append(child(args.before, kind, args.jobs, args.workers, args.batch))
                after.append(child(SRC, kind, args.jobs, args.workers, args.batch))
            b, a = statistics.median(before), statistics.median(after)
            print(
                f"{kind:<11} {'unlimited, before/after':<28} {b:>9.0f} -> {a:.0f} jobs/s"
                f"  ratio {a / b:5.2f}  (runs {[round(x) for x in before]} / "
                f"{[round(x) for x in after]})"
            )


if __name__ == "__main__":
    main()
