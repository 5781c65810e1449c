"""What the job trail costs: chronolog's own claim and completion SQL, with and without it.

Issue 4 asks for two things that pull against each other: every job state
change recorded as a transition and an activity event (with its counters) in
the same transaction, and a queue ahead of pgqueuer and huey, which write one
row per change. This script measures the first's price, without chronolog's
Python: a bare driver loop (psycopg with server-side prepared statements, or
sqlite3) runs claim(limit=B) + completion of the batch, one transaction per
batch (what ``chronolog.jobs.Worker`` does), with the statements taken from
chronolog's own SQL, in three variants:

* ``trail``: the statements chronolog runs (job row, event, previous
  transition cleared, new transition, counters, notify);
* ``no transitions``: the same without the job history (PostgreSQL only:
  the CTEs removed from the one statement);
* ``job row only``: the job UPDATE alone, as a queue with no trail runs it.

Compare the ``trail`` row with the peers' worker figures in
``jobs_peers.md``: a bare loop of the statements, with nothing else in the
process, is a bound on any worker that records the trail.

Run: ``python -m benchmarks.jobs_trail [--jobs 4000] [--batch 10] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from chronolog import Chronolog
from chronolog.store.sql.jobs import _CLAIM_SQL as SQLITE_CLAIM

from .jobs import NOW_US, PG_CLAIM, PG_FINISH, Raw, fresh, pg_trail

_PREV = re.compile(r"prev AS \(.*?RETURNING 1\), ")
_TR = re.compile(
    r"tr AS \(INSERT INTO transitions.*?WHERE \(SELECT count\(\*\) FROM prev\) >= 0\), "
)


def _pg_variant(sql: str, variant: str) -> str:
    if variant == "trail":
        return sql
    if variant == "no transitions":
        return _TR.sub("", _PREV.sub("", sql))
    head = sql.partition("), ev AS (")[0]  # job row only: the UPDATE … RETURNING
    return head + ") SELECT * FROM moved"


def _pg_params(sql: str, base: list[Any], trail: list[Any]) -> list[Any]:
    """The trail's parameters that the variant's text still has placeholders for."""
    out = list(base)
    if "INSERT INTO events" in sql:
        out += trail[0:4]
    if "INSERT INTO transitions" in sql:
        out += trail[4:8]
    if "INSERT INTO event_counts" in sql:
        out += trail[8:18]
    if "pg_notify" in sql:
        out += trail[18:20]
    assert sql.count("?") == len(out), (sql.count("?"), len(out))
    return out


def drain_pg(url: str, variant: str, batch: int) -> None:
    raw = Raw(url)
    conn = raw.conn
    conn.execute("ANALYZE")
    claim = _pg_variant(
        PG_CLAIM.format(queues="", lock=" FOR UPDATE SKIP LOCKED", trail=pg_trail()), variant
    )
    finish = _pg_variant(PG_FINISH.format(trail=pg_trail()), variant)
    done: list[tuple[int, int]] = []
    while True:
        now = NOW_US()
        cur = conn.cursor()
        cur.execute("BEGIN")
        if done:
            ids = [d[0] for d in done]
            base = [now, now, ids, [d[1] for d in done], [None] * len(done), ids, 1]
            params = _pg_params(finish, base, raw.trail("running", "completed", now))
            cur.execute(finish.replace("?", "%s"), params, prepare=True)
        base = ["w", os.getpid(), now + 30_000_000, now, now, now, 1, now, batch]
        params = _pg_params(claim, base, raw.trail("pending", "running", now))
        cur.execute(claim.replace("?", "%s"), params, prepare=True)
        rows = cur.fetchall()
        cur.execute("COMMIT")
        done = [(r[0], r[15]) for r in rows]  # id, lease
        if not rows:
            break
    raw.close()


def drain_sqlite(url: str, variant: str, batch: int) -> None:
    if variant == "trail":
        raw = Raw(url)
        done: list[tuple[int, int]] = []
        while True:
            claimed = raw.complete_and_claim(done, batch)
            if not claimed:
                break
            done = claimed
        raw.close()
        return
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    claim = SQLITE_CLAIM.format(queues="", lock="")
    finish = (
        "UPDATE jobs SET state = 'completed', finished_at = ?, lease_expires_at = NULL, "
        "history = history + 1, updated_at = ? WHERE project_id = 1 AND state = 'running' "
        "AND id = ? AND lease = ?"
    )
    done = []
    while True:
        now = NOW_US()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(finish, [(now, now, i, lease) for i, lease in done])
        rows = conn.execute(
            claim, ("w", os.getpid(), now + 30_000_000, now, now, now, 1, now, batch)
        ).fetchall()
        conn.execute("COMMIT")
        done = [(r[0], r[15]) for r in rows]
        if not rows:
            break
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=10, help="jobs per claim (the peers' C)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; best kept")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    plans: list[tuple[str, str, Callable[[str, str, int], None]]] = [
        ("postgresql", v, drain_pg) for v in ("trail", "no transitions", "job row only")
    ] + [("sqlite", v, drain_sqlite) for v in ("trail", "job row only")]
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for kind, variant, drain in plans:
            url = fresh(kind, args.pg, "trail")
            with Chronolog(url) as cl:
                cl.jobs.enqueue_many(
                    [{"kind": "noop", "payload": {"n": i}} for i in range(args.jobs)]
                )
            start = time.perf_counter()
            drain(url, variant, args.batch)
            rate = args.jobs / (time.perf_counter() - start)
            best[kind, variant] = max(best.get((kind, variant), 0.0), rate)
    print(
        f"jobs_trail: {args.jobs} no-op jobs, a bare driver loop of claim(limit={args.batch}) "
        f"+ completion, one transaction per batch, best of {args.rounds}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'backend':<12}{'variant':<18}{'jobs/s':>10}{'vs trail':>10}")
    for (kind, variant), rate in best.items():
        print(f"{kind:<12}{variant:<18}{rate:>10,.0f}{rate / best[kind, 'trail']:>9.2f}x")


if __name__ == "__main__":
    main()
