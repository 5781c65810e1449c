"""Jobs benchmark: chronolog's queue against a raw SQL loop doing the same statements.

Measured, each on a fresh database, on SQLite and PostgreSQL:

* ``enqueue``: ``cl.jobs.enqueue_many`` of N jobs (job rows, their first
  transition, their activity event and its counts);
* ``claim+complete x1``: one worker claims one job and completes it, N times;
* ``claim+complete xW``: W threads, each claiming batches of B and completing
  them with ``complete_many``.

The baseline does the same statements through the raw driver (sqlite3 /
psycopg), with no validation and no SQLAlchemy. Ratios are chronolog's
throughput over the baseline's (1.0 = as fast).

Run: ``python benchmarks/jobs.py --jobs 2000 [--pg postgresql://…] [--workers 4]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from chronolog import Chronolog, NewJob
from chronolog._json import dumps
from chronolog.store.sql.jobs import _PG_CLAIM_SQL as PG_CLAIM
from chronolog.store.sql.jobs import _PG_FINISH_SQL as PG_FINISH
from chronolog.store.sql.jobs import JOB_COLUMNS
from chronolog.store.sql.jobs import _pg_trail as pg_trail

NOW_US = lambda: int(time.time() * 1_000_000)  # noqa: E731

EVENT_COLS = (
    "project_id, occurred_at, event_type, action, status, actor_type, actor_id, actor_name, "
    "target_type, target_id, target_title, error, metadata"
)
COUNT_COLS = "project_id, granularity, bucket, event_type, action, status, actor_type, target_type, shard, count"
HIST_COLS = (
    "project_id, kind, entity_id, sort_key, from_state, to_state, most_recent, actor_type, "
    "actor_id, actor_name, metadata, occurred_at, event_id"
)
JOB_COLS = (
    "project_id, queue, kind, payload, state, priority, run_at, attempt, max_attempts, "
    "unique_key, subject_pk, lease, history, created_at, updated_at"
)

JOB_ALL = ", ".join(c.name for c in JOB_COLUMNS)


class Raw:
    """The same statements as chronolog's, written by hand for one driver."""

    def __init__(self, url: str) -> None:
        self.pg = url.startswith("postgresql")
        if self.pg:
            self.conn: Any = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
            self.p = "%s"
        else:
            self.conn = sqlite3.connect(
                url.removeprefix("sqlite:///"), isolation_level=None, timeout=30
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.p = "?"

    def q(self, n: int) -> str:
        return ", ".join([self.p] * n)

    def begin(self) -> Any:
        cur = self.conn.cursor()
        cur.execute("BEGIN" if self.pg else "BEGIN IMMEDIATE")
        return cur

    def record(
        self, cur: Any, moves: Sequence[tuple[int, str, str, int, str | None, str, int]], now: int
    ) -> None:
        """Events, their counts, and transitions for moves (id, kind, queue, sort_key, from, to, attempt)."""
        events = [
            (
                1,
                now,
                "job",
                to,
                "processing" if to != "completed" else "success",
                "worker",
                "w",
                None,
                "job",
                str(jid),
                kind,
                None,
                dumps({"queue": queue, "attempt": att, "state": to}),
            )
            for jid, kind, queue, _, _, to, att in moves
        ]
        sql = f"INSERT INTO events ({EVENT_COLS}) VALUES ({self.q(13)})"
        if self.pg:
            cur.executemany(sql + " RETURNING id", events, returning=True)
            ids = []
            while True:
                ids.append(cur.fetchone()[0])
                if not cur.nextset():
                    break
        else:
            cur.executemany(sql, events)
            last = cur.execute("SELECT last_insert_rowid()").fetchone()[0]
            ids = list(range(last - len(events) + 1, last + 1))
        counts: dict[tuple[Any, ...], int] = {}
        for e in events:
            sec = now // 1_000_000
            for g in (60, 3600, 86400):
                k = (1, g, sec - sec % g, "job", e[3], e[4], "worker", "job", 0)
                counts[k] = counts.get(k, 0) + 1
        cur.executemany(
            f"INSERT INTO event_counts ({COUNT_COLS}) VALUES ({self.q(10)}) ON CONFLICT "
            "(project_id, granularity, bucket, event_type, action, status, actor_type, target_type, shard) "
            "DO UPDATE SET count = event_counts.count + excluded.count",
            [(*k, c) for k, c in sorted(counts.items())],
        )
        moved = [str(m[0]) for m in moves if m[3] > 1]
        if moved:
            cur.execute(
                f"UPDATE transitions SET most_recent = false WHERE project_id = 1 AND kind = 'job' "
                f"AND most_recent = true AND entity_id IN ({self.q(len(moved))})",
                moved,
            )
        cur.executemany(
            f"INSERT INTO transitions ({HIST_COLS}) VALUES ({self.q(13)})",
            [
                (
                    1,
                    "job",
                    str(m[0]),
                    m[3],
                    m[4],
                    m[5],
                    True,
                    "worker",
                    "w",
                    None,
                    dumps({"action": m[5], "attempt": m[6]}),
                    now,
                    eid,
                )
                for m, eid in zip(moves, ids, strict=True)
            ],
        )

    def enqueue_many(self, n: int) -> None:
        now = NOW_US()
        cur = self.begin()
        rows = [
            (1, "default", "noop", None, "pending", 0, now, 0, 3, None, None, 0, 1, now, now)
        ] * n
        sql = f"INSERT INTO jobs ({JOB_COLS}) VALUES ({self.q(15)})"
        if self.pg:
            cur.executemany(sql + " RETURNING id", rows, returning=True)
            ids = []
            while True:
                ids.append(cur.fetchone()[0])
                if not cur.nextset():
                    break
        else:
            cur.executemany(sql, rows)
            last = cur.execute("SELECT last_insert_rowid()").fetchone()[0]
            ids = list(range(last - n + 1, last + 1))
        self.record(cur, [(i, "noop", "default", 1, None, "pending", 0) for i in ids], now)
        cur.execute("COMMIT")

    def claim(self, limit: int) -> list[tuple[int, int]]:
        now = NOW_US()
        cur = self.begin()
        rows = self._claim(cur, limit, now)
        cur.execute("COMMIT")
        return rows

    def complete_and_claim(
        self, fenced: list[tuple[int, int]], limit: int
    ) -> list[tuple[int, int]]:
        """Both in one transaction (chronolog's ``complete_and_claim``)."""
        now = NOW_US()
        cur = self.begin()
        if fenced:
            self._complete(cur, fenced, now)
        rows = self._claim(cur, limit, now)
        cur.execute("COMMIT")
        return rows

    def _claim(self, cur: Any, limit: int, now: int) -> list[tuple[int, int]]:
        lock = " FOR UPDATE SKIP LOCKED" if self.pg else ""
        p = self.p
        params = ("w", os.getpid(), now + 30_000_000, now, now, now, 1, now, limit)
        if self.pg:
            # chronolog's own one-statement claim (job UPDATE + trail CTEs + pg_notify),
            # the SQL text taken from it so both run exactly the same statement.
            cur.execute(
                PG_CLAIM.format(queues="", lock=lock, trail=pg_trail()).replace("?", "%s"),
                (*params, *self.trail("pending", "running", now)),
            )
            return [(r[0], r[15]) for r in cur.fetchall()]  # id, lease
        cur.execute(
            f"UPDATE jobs SET state = 'running', lease = lease + 1, attempt = attempt + 1, "
            f"history = history + 1, worker = {p}, pid = {p}, lease_expires_at = {p}, heartbeat_at = {p}, "
            f"started_at = {p}, progress = NULL, progress_text = NULL, updated_at = {p} "
            f"WHERE id IN (SELECT id FROM jobs WHERE project_id = {p} AND state = 'pending' AND run_at <= {p} "
            f"ORDER BY priority DESC, run_at, id LIMIT {p}{lock}) "
            f"RETURNING {JOB_ALL}",  # every column, as chronolog's claim returns jobs
            params,
        )
        rows = cur.fetchall()
        if rows:
            self.record(
                cur, [(r[0], r[3], r[2], r[21], "pending", "running", r[8]) for r in rows], now
            )
        return [(r[0], r[15]) for r in rows]

    def trail(self, from_state: str, to_state: str, now: int) -> list[Any]:
        """The PostgreSQL trail parameters: event, transition and counter rows' values."""
        status = "processing" if to_state != "completed" else "success"
        sec = now // 1_000_000
        shard = random.randrange(8)  # chronolog's PostgreSQL counter shards
        counts = [
            (1, g, sec - sec % g, "job", to_state, status, "worker", "job", shard, 1)
            for g in (60, 3600, 86400)
        ]
        columns = [list(c) for c in zip(*counts, strict=True)]
        return [
            now,
            to_state,
            status,
            to_state,
            from_state,
            to_state,
            to_state,
            now,
            *columns,
            "chronolog_events",
            "1",
        ]

    def complete_many(self, fenced: list[tuple[int, int]]) -> None:
        now = NOW_US()
        cur = self.begin()
        self._complete(cur, fenced, now)
        cur.execute("COMMIT")

    def _complete(self, cur: Any, fenced: list[tuple[int, int]], now: int) -> None:
        if self.pg:
            cur.execute(
                PG_FINISH.format(trail=pg_trail()).replace("?", "%s"),
                (
                    now,
                    now,
                    [f[0] for f in fenced],
                    [f[1] for f in fenced],
                    [None] * len(fenced),
                    [f[0] for f in fenced],
                    1,
                    *self.trail("running", "completed", now),
                ),
            )
            return
        triples = ", ".join("(?, ?, ?)" for _ in fenced)
        flat = [v for pair in fenced for v in (*pair, None)]
        cur.execute(
            "UPDATE jobs SET state = 'completed', result = v.column3, finished_at = ?, "
            "lease_expires_at = NULL, history = history + 1, updated_at = ? "
            f"FROM (VALUES {triples}) AS v WHERE jobs.project_id = 1 AND jobs.state = 'running' "
            "AND jobs.id = v.column1 AND jobs.lease = v.column2 "
            "RETURNING jobs.id, jobs.kind, jobs.queue, jobs.history, jobs.attempt",
            (now, now, *flat),
        )
        rows = cur.fetchall()
        self.record(
            cur, [(r[0], r[1], r[2], r[3], "running", "completed", r[4]) for r in rows], now
        )

    def close(self) -> None:
        self.conn.close()


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
    Raw(url).enqueue_many(jobs)

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
    Raw(url).enqueue_many(jobs)

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
