"""Ingest: ``record_many`` vs the raw driver writing the same rows into the same indexed table.

Baselines, in the same process on the same machine:
- SQLite: ``sqlite3.executemany`` of the same tuples, one transaction per batch,
  into a chronolog-migrated file (same table, same indexes, same pragmas).
- PostgreSQL: psycopg ``COPY`` of the same tuples, one transaction per batch.

Both sides run in alternation, batch by batch, so load drift on a shared
machine hits them alike.

chronolog does more than the baseline: it validates every event, serialises
metadata, and keeps the per-minute, quarter-hour, hour and day counts in the
same transaction.

    .venv/bin/python benchmarks/ingest.py --events 1000000 --batch 10000
Targets: SQLite ≥ 0.6 of baseline, PostgreSQL ≥ 0.5.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Callable

import psycopg

from benchmarks._data import as_row, events
from benchmarks._dbs import pg_available, postgres_url, sqlite_url
from chronolog import Chronolog, NewEvent
from chronolog.store.sql.events import INSERT_COLUMNS


def _timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _alternate(
    n: int, batch: int, baseline: Callable[[int], object], ours: Callable[[int], object]
) -> tuple[float, float]:
    """Run both sides batch by batch, alternating which goes first; total seconds of each.

    On a shared machine load drifts over a run; alternating per batch lets the
    drift hit both sides alike instead of whichever ran second.
    """
    spent = [0.0, 0.0]
    for k, i in enumerate(range(0, n, batch)):
        sides = ((0, baseline), (1, ours)) if k % 2 == 0 else ((1, ours), (0, baseline))
        for side, work in sides:
            start = time.perf_counter()
            work(i)
            spent[side] += time.perf_counter() - start
    return spent[0], spent[1]


def bench_sqlite(items: list[NewEvent], batch: int) -> tuple[float, float]:
    rows = [as_row(e) for e in items]
    sql = f"INSERT INTO events ({', '.join(INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
    with sqlite_url("baseline") as base_url, sqlite_url("chronolog") as url:
        Chronolog(base_url).close()  # same schema and indexes
        raw = sqlite3.connect(base_url.removeprefix("sqlite:///"), isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")

        def baseline(i: int) -> None:
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(sql, rows[i : i + batch])
            raw.execute("COMMIT")

        with Chronolog(url) as cl:
            base, ours = _alternate(
                len(items), batch, baseline, lambda i: cl.events.record_many(items[i : i + batch])
            )
        raw.close()
    return base, ours


def bench_postgres(items: list[NewEvent], batch: int) -> tuple[float, float]:
    rows = [as_row(e) for e in items]
    copy_sql = f"COPY events ({', '.join(INSERT_COLUMNS)}) FROM STDIN"
    with postgres_url() as base_url, postgres_url() as url:
        Chronolog(base_url).close()
        raw = psycopg.connect(base_url)

        def baseline(i: int) -> None:
            with raw.transaction(), raw.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in rows[i : i + batch]:
                    copy.write_row(row)

        with Chronolog(url) as cl:
            base, ours = _alternate(
                len(items), batch, baseline, lambda i: cl.events.record_many(items[i : i + batch])
            )
        raw.close()
    return base, ours


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    items = list(events(args.events))
    print(f"ingest {args.events:,} events in batches of {args.batch:,}")
    print(f"{'database':<12}{'baseline ev/s':>16}{'chronolog ev/s':>16}{'ratio':>8}{'target':>8}")
    targets = {"sqlite": 0.6, "postgresql": 0.5}
    for name, bench in (("sqlite", bench_sqlite), ("postgresql", bench_postgres)):
        if args.only and args.only != name:
            continue
        if name == "postgresql" and not pg_available():
            print("postgresql  skipped: server not reachable")
            continue
        base, ours = bench(items, args.batch)
        ratio = base / ours
        print(
            f"{name:<12}{args.events / base:>16,.0f}{args.events / ours:>16,.0f}"
            f"{ratio:>8.2f}{targets[name]:>8.1f}  {'ok' if ratio >= targets[name] else 'MISS'}"
        )


if __name__ == "__main__":
    main()
