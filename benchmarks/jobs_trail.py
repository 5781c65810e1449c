"""Where a worker batch's time goes: chronolog's own batch SQL in a bare driver loop, piece by piece.

A bare loop (psycopg with a server-side prepared statement, or sqlite3; no
chronolog Python between batches) completes the batch it claimed before and
claims the next (limit B), as ``chronolog worker`` does, on a fresh database
with no ANALYZE. The variants take one piece of the work away at a time, so
the difference to ``batch`` is that piece's price:

* ``batch``: the statements chronolog runs (PostgreSQL: one statement;
  SQLite: the completions, the claim, one events INSERT … SELECT, one counters
  upsert, in one ``BEGIN IMMEDIATE`` transaction);
* ``no events``: without the events (one per moved job);
* ``no counters``: without the event counters;
* ``no notify`` (PostgreSQL): without ``pg_notify``;
* ``no fsync``: the whole batch with ``synchronous_commit = off``
  (PostgreSQL) or ``synchronous=OFF`` (SQLite; chronolog's default NORMAL
  syncs the WAL at checkpoints);
* ``bigger WAL`` (SQLite): the whole batch with ``wal_autocheckpoint=10000``
  (checkpoints, and their syncs, ten times rarer).

Rounds alternate the variants; the best of each is kept.

Run: ``PYTHONPATH=. .venv/bin/python -m benchmarks.jobs_trail [--jobs 10000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import psycopg

from chronolog import Chronolog
from chronolog._rollups import LEVELS
from chronolog.jobs._trail import bulk_move
from chronolog.store.sql import jobs as sql
from chronolog.store.sql.postgresql import jobs as pgj
from chronolog.store.sql.sqlite import jobs as sqj

from .jobs import fresh

PG_VARIANTS = ("batch", "no events", "no counters", "no notify", "no fsync")
SQLITE_VARIANTS = ("batch", "no events", "no counters", "no fsync", "bigger WAL")


def _pg_text(variant: str, limit: int) -> tuple[str, tuple[str, ...]]:
    text = pgj._BATCH
    if variant == "no events":
        text = text[: text.index("), ev AS (")] + text[text.index("), tally AS (") :]
    if variant == "no counters":
        text = text[: text.index("), counted AS (")] + ")" + text[text.index("\nSELECT ") :]
    if variant == "no notify":
        text = re.sub(r"\(SELECT 1 FROM pg_notify.*?FROM moved\)\)", "NULL", text, flags=re.S)
    return pgj._numbered(
        text.format(
            pick=pgj._PICKS["any"].replace("{limit}", str(limit)).replace("{kinds}", ""),
            controlled=pgj._CONTROLLED.replace("{filter}", pgj._CONTROLLED_FILTERS["any"]),
            job_columns=", ".join(pgj._JOB_NAMES),
            event_columns=pgj._EVENT_COLUMNS,
            done_events=pgj._event_select("done", "done", pgj._WORKER),
            claim_events=pgj._event_select("moved", "claim", pgj._WORKER),
            count_columns=pgj._COUNT_COLUMNS,
            levels=", ".join(f"({level})" for level in LEVELS),
            conflict=pgj._CONFLICT,
            moved_columns=", ".join(f"m.{n}" for n in pgj._JOB_NAMES),
        )
    )


def _batch(cl: Chronolog, done: list[sql.Completion], limit: int) -> sql.Batch:
    now = int(time.time() * 1_000_000)
    scope = cl.scope
    return sql.Batch(
        project_id=scope.project_id,
        now=now,
        done=done,
        completing=bulk_move(scope, "completed", "running", now, "worker"),
        queues=None,
        limit=limit,
        lease_until=now + 30_000_000,
        worker="w",
        pid=os.getpid(),
        claiming=bulk_move(scope, "running", "pending", now, "worker"),
        shard=scope.store.dialect.counter_shard(),
    )


def drain_pg(cl: Chronolog, url: str, variant: str, limit: int) -> None:
    text, names = _pg_text("batch" if variant == "no fsync" else variant, limit)
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        if variant == "no fsync":
            conn.execute("SET synchronous_commit = off")
        done: list[sql.Completion] = []
        while True:
            _, values = pgj.batch_query(_batch(cl, done, limit))
            with psycopg.RawCursor(conn) as cursor:
                cursor.execute(text, [values[n] for n in names], prepare=True)
                rows = cursor.fetchall()
            done = [sql.Completion(r[0], r[15], None) for r in rows if r[0] is not None]
            if not done:
                return


def drain_sqlite(cl: Chronolog, url: str, variant: str, limit: int) -> None:
    raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute(f"PRAGMA synchronous={'OFF' if variant == 'no fsync' else 'NORMAL'}")
    if variant == "bigger WAL":
        raw.execute("PRAGMA wal_autocheckpoint=10000")
    claim = sqj.claim_sql(None)
    done: list[tuple[int, int, Any]] = []
    while True:
        batch = _batch(cl, [], limit)
        now = batch.now
        raw.execute("BEGIN IMMEDIATE")
        completed: list[int] = []
        if done:
            text = sqj._COMPLETE.format(triples=", ".join(["(?, ?, ?)"] * len(done)))
            params = [now, now, *(v for d in done for v in d), batch.project_id]
            completed = [r[0] for r in raw.execute(text, params)]
        claimed = raw.execute(
            claim, ["w", 1, now + 30_000_000, now, now, now, batch.project_id, now, limit]
        ).fetchall()
        moved = [*completed, *(r[0] for r in claimed)]
        if moved and variant != "no events":
            done_move, claim_move = batch.completing, batch.claiming
            raw.execute(
                sqj._BATCH_EVENTS.format(ids=", ".join("?" * len(moved))),
                [
                    now,
                    done_move.action,
                    claim_move.action,
                    done_move.status,
                    claim_move.status,
                    done_move.from_state,
                    claim_move.from_state,
                    *moved,
                ],
            )
        if variant != "no counters":
            sqj._counts(
                raw,
                [(*c[:-1], c[-1] * len(completed)) for c in batch.completing.counts]
                + [(*c[:-1], c[-1] * len(claimed)) for c in batch.claiming.counts],
            )
        raw.execute("COMMIT")
        done = [(r[0], r[15], None) for r in claimed]
        if not done:
            raw.close()
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=10, help="jobs per claim (the peers' C)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; best kept")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    plans: list[tuple[str, str, Callable[[Chronolog, str, str, int], None]]] = []
    if "postgresql" in args.backends:
        plans += [("postgresql", v, drain_pg) for v in PG_VARIANTS]
    if "sqlite" in args.backends:
        plans += [("sqlite", v, drain_sqlite) for v in SQLITE_VARIANTS]
    best: dict[tuple[str, str], float] = {}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for kind, variant, drain in plans:
            url = fresh(kind, args.pg, "trail")
            with Chronolog(url) as cl:
                cl.jobs.enqueue_many(
                    [{"kind": "noop", "payload": {"n": i}} for i in range(args.jobs)]
                )
                start = time.perf_counter()
                drain(cl, url, variant, args.batch)
                rate = args.jobs / (time.perf_counter() - start)
            best[kind, variant] = max(best.get((kind, variant), 0.0), rate)
            load.append(os.getloadavg()[0])
    print(
        f"jobs_trail: {args.jobs} no-op jobs, a bare driver loop of chronolog's batch "
        f"(complete the last claim + claim {args.batch}), fresh database, best of "
        f"{args.rounds}; 1-minute load {min(load):.1f} to {max(load):.1f}"
    )
    print(f"{'backend':<12}{'variant':<14}{'jobs/s':>10}{'ms/batch':>10}{'vs batch':>10}")
    for (kind, variant), rate in best.items():
        per_batch = args.batch / rate * 1000
        print(
            f"{kind:<12}{variant:<14}{rate:>10,.0f}{per_batch:>10.3f}"
            f"{rate / best[kind, 'batch']:>9.2f}x"
        )


if __name__ == "__main__":
    main()
