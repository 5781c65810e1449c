"""Jobs benchmark: chronolog's queue against the store's own job operations called bare.

Measured, each on a fresh database, on SQLite and PostgreSQL:

* ``enqueue``: ``cl.jobs.enqueue_many`` of N jobs (job rows, their first
  event and its counters);
* ``claim+complete x1``: one worker claims one job and completes it, N times;
* ``claim+complete xW``: W threads, each claiming batches of B and completing
  them with ``complete_many``;
* the same completing a batch and claiming the next in one call
  (``complete_and_claim``, what ``chronolog worker`` does).

The baseline runs the very same statements in the same transactions: it
calls the store's job operations (``Dialect.jobs``: ``enqueue`` and
``run_batch``, whose SQL is written per database in ``store/sql/postgresql``
and ``store/sql/sqlite``) directly, with no input checks, no ``Job`` objects
and no wake-ups. Ratios are chronolog's throughput over the baseline's (1.0 =
the API costs nothing on top of its SQL).

Run: ``PYTHONPATH=. .venv/bin/python -m benchmarks.jobs --jobs 2000 [--pg postgresql://…]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable

import psycopg

from chronolog import Chronolog, NewJob
from chronolog.jobs._trail import bulk_move
from chronolog.store.sql import jobs as sql

NOW_US = lambda: int(time.time() * 1_000_000)  # noqa: E731


class Raw:
    """The store's job operations, called bare (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.cl = Chronolog(url)
        self.scope = self.cl.scope
        self.driver = self.cl.store.dialect.jobs

    def enqueue_many(self, n: int) -> None:
        now = NOW_US()
        pid = self.scope.project_id
        row = sql.NewJobRow(
            pid, "default", "noop", None, "pending", 0, now, 0, 3, None, None, 0, 1, now, now
        )
        batch = sql.EnqueueBatch(
            project_id=pid,
            now=now,
            rows=[row] * n,
            actor=(None, None, None),
            enqueued=bulk_move(self.scope, "pending", None, now, None),
        )
        with self.cl.store.write() as conn:
            self.driver.enqueue(conn, batch)

    def claim(self, limit: int) -> list[tuple[int, int]]:
        return self.complete_and_claim([], limit)

    def complete_many(self, fenced: list[tuple[int, int]]) -> None:
        self.complete_and_claim(fenced, 0)

    def complete_and_claim(
        self, fenced: list[tuple[int, int]], limit: int
    ) -> list[tuple[int, int]]:
        """Both in one transaction (chronolog's ``complete_and_claim``)."""
        now = NOW_US()
        scope = self.scope
        batch = sql.Batch(
            project_id=scope.project_id,
            now=now,
            done=[sql.Completion(i, lease, None) for i, lease in fenced],
            completing=bulk_move(scope, "completed", "running", now, "worker"),
            queues=None,
            limit=limit,
            lease_until=now + 30_000_000,
            worker="w",
            pid=os.getpid(),
            claiming=bulk_move(scope, "running", "pending", now, "worker"),
            shard=scope.store.dialect.counter_shard(),
        )
        result = self.driver.run_batch(self.cl.store, batch)
        return [(r[0], r[15]) for r in result.claimed]  # id, lease

    def close(self) -> None:
        self.cl.close()


# -- fresh databases -------------------------------------------------------------------------


def fresh(kind: str, pg_url: str | None, tag: str) -> str:
    """A migrated, empty database URL."""
    if kind == "sqlite":
        path = os.path.join(tempfile.mkdtemp(prefix="chronolog-bench-"), f"{tag}.db")
        url = f"sqlite:///{path}"
    else:
        assert pg_url is not None
        name = f"chronolog_bench_{tag}"
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        url = pg_url.rsplit("/", 1)[0] + "/" + name
    Chronolog(url).close()  # migrate
    return url


def timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def threads(n: int, target: Callable[[], None]) -> None:
    ts = [threading.Thread(target=target) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def bench(
    kind: str, pg_url: str | None, jobs: int, workers: int, batch: int
) -> list[tuple[str, float, float]]:
    results = []

    # enqueue
    # Both warmed up by a first small batch (chronolog compiles and caches its
    # statements on first use; the raw loop has nothing to warm), then three
    # alternating rounds, best kept: a single cold call measured the first
    # call's set-up and whichever garbage collection happened to fall in it.
    with Chronolog(fresh(kind, pg_url, "c_enq")) as cl:
        raw = Raw(fresh(kind, pg_url, "r_enq"))
        cl.jobs.enqueue_many([NewJob("noop") for _ in range(10)])
        raw.enqueue_many(10)
        ours, base = float("inf"), float("inf")
        for _ in range(3):
            ours = min(
                ours, timed(lambda: cl.jobs.enqueue_many([NewJob("noop") for _ in range(jobs)]))
            )
            base = min(base, timed(lambda: raw.enqueue_many(jobs)))
        raw.close()
    results.append(("enqueue_many (bulk)", jobs / ours, jobs / base))

    # claim + complete, one worker, one job at a time
    url = fresh(kind, pg_url, "c_one")
    with Chronolog(url) as cl:
        cl.jobs.enqueue_many([NewJob("noop") for _ in range(jobs)])

        def one() -> None:
            while claimed := cl.jobs.claim(None, "w", limit=1):
                cl.jobs.complete(claimed[0].id, claimed[0].lease)

        ours = timed(one)
        assert cl.jobs.counts() == {"default": {"completed": jobs}}
    url = fresh(kind, pg_url, "r_one")
    raw = Raw(url)
    raw.enqueue_many(jobs)

    def raw_one() -> None:
        while claimed := raw.claim(1):
            raw.complete_many(claimed)

    base = timed(raw_one)
    raw.close()
    results.append(("claim+complete, 1 worker", jobs / ours, jobs / base))

    # claim + complete, W workers (threads, one connection each), batches
    url = fresh(kind, pg_url, "c_many")
    with Chronolog(url) as cl:
        cl.jobs.enqueue_many([NewJob("noop") for _ in range(jobs)])

        def worker() -> None:
            while claimed := cl.jobs.claim(None, "w", limit=batch):
                cl.jobs.complete_many([(j.id, j.lease) for j in claimed])

        ours = timed(lambda: threads(workers, worker))
        assert cl.jobs.counts() == {"default": {"completed": jobs}}
    url = fresh(kind, pg_url, "r_many")
    seed = Raw(url)
    seed.enqueue_many(jobs)
    seed.close()

    def raw_worker() -> None:
        mine = Raw(url)
        while claimed := mine.claim(batch):
            mine.complete_many(claimed)
        mine.close()

    base = timed(lambda: threads(workers, raw_worker))
    results.append((f"claim+complete, {workers} workers x batch {batch}", jobs / ours, jobs / base))

    # the same, completing a batch and claiming the next in one transaction
    url = fresh(kind, pg_url, "c_shared")
    with Chronolog(url) as cl:
        cl.jobs.enqueue_many([NewJob("noop") for _ in range(jobs)])

        def shared_worker() -> None:
            done: list[tuple[int, int]] = []
            while True:
                _, claimed = cl.jobs.complete_and_claim(done, None, "w", limit=batch)
                if not claimed:
                    return
                done = [(j.id, j.lease) for j in claimed]

        ours = timed(lambda: threads(workers, shared_worker))
        assert cl.jobs.counts() == {"default": {"completed": jobs}}
    url = fresh(kind, pg_url, "r_shared")
    seed = Raw(url)
    seed.enqueue_many(jobs)
    seed.close()

    def raw_shared() -> None:
        mine = Raw(url)
        done: list[tuple[int, int]] = []
        while done := mine.complete_and_claim(done, batch):
            pass
        mine.close()

    base = timed(lambda: threads(workers, raw_shared))
    results.append(("  same, complete+claim in one transaction", jobs / ours, jobs / base))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "CHRONOLOG_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {platform.system()} {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    print(f"jobs={args.jobs} workers={args.workers} batch={args.batch}")
    print(f"{'backend':<11} {'work':<40} {'chronolog/s':>12} {'raw/s':>10} {'ratio':>7}")
    for kind in args.backends.split(","):
        for name, ours, base in bench(kind, args.pg, args.jobs, args.workers, args.batch):
            print(f"{kind:<11} {name:<40} {ours:>12.0f} {base:>10.0f} {ours / base:>7.2f}")


if __name__ == "__main__":
    main()
