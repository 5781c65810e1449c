"""Bucket charts from rollups vs the Jetstream seed's recursive-CTE SQL, and rollup ingest cost.

    python benchmarks/stats.py --events 1000000

1. Builds an SQLite chronolog store with N events spread over the last 8
   days (through ``cl.events.record_many``, so rollups are maintained), and
   the seed's ``jetstream_activity`` table with the same events.
2. Times the five charts (1h, 3h, 6h, 1d, 7d; create/update/delete of
   successful events): chronolog's ``cl.stats.buckets`` (median of repeats)
   vs the seed's SQL (one run each: it takes seconds). Prints the ratio.
3. Ingest cost of the rollups: the same batches written with and without the
   counter upserts, in fresh stores; prints throughput with / without.

Targets (DESIGN §6): charts >= 1000x faster and under 10 ms; ingest >= 0.8.
"""

from __future__ import annotations

import argparse
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chronolog import Chronolog, NewEvent
from chronolog._rollups import rollup_rows
from chronolog.store.sql import events as event_sql

ACTIONS = ("create", "update", "delete")
COLLECTIONS = ("app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow")
CHARTS = {
    "1h": (1, "5 minutes", 12),
    "3h": (3, "15 minutes", 12),
    "6h": (6, "30 minutes", 12),
    "1d": (24, "1 hour", 24),
}


def seed_sql(hours: int, interval: str, buckets: int) -> str:
    """The seed's get_activity_bucketed, with its values spliced in as the seed did."""
    return f"""
    WITH RECURSIVE time_series(bucket, n) AS (
      SELECT datetime('now', '-{hours} hours'), 0
      UNION ALL
      SELECT datetime(bucket, '+{interval}'), n + 1
      FROM time_series
      WHERE n < {buckets}
    )
    SELECT
      strftime('%Y-%m-%dT%H:%M:00Z', ts.bucket) as timestamp,
      COALESCE(SUM(CASE WHEN a.operation = 'create' THEN 1 ELSE 0 END), 0) as create_count,
      COALESCE(SUM(CASE WHEN a.operation = 'update' THEN 1 ELSE 0 END), 0) as update_count,
      COALESCE(SUM(CASE WHEN a.operation = 'delete' THEN 1 ELSE 0 END), 0) as delete_count
    FROM time_series ts
    LEFT JOIN jetstream_activity a ON
      datetime(a.timestamp) >= ts.bucket
      AND datetime(a.timestamp) < datetime(ts.bucket, '+{interval}')
      AND a.status = 'success'
    GROUP BY ts.bucket
    ORDER BY ts.bucket
    """


SEED_7D = """
    WITH RECURSIVE time_series(bucket, n) AS (
      SELECT datetime('now', 'start of day', '-6 days'), 0
      UNION ALL
      SELECT datetime(bucket, '+1 day'), n + 1
      FROM time_series
      WHERE n <= 5
    )
    SELECT
      strftime('%Y-%m-%dT00:00:00Z', ts.bucket) as timestamp,
      COALESCE(SUM(CASE WHEN a.operation = 'create' THEN 1 ELSE 0 END), 0) as create_count,
      COALESCE(SUM(CASE WHEN a.operation = 'update' THEN 1 ELSE 0 END), 0) as update_count,
      COALESCE(SUM(CASE WHEN a.operation = 'delete' THEN 1 ELSE 0 END), 0) as delete_count
    FROM time_series ts
    LEFT JOIN jetstream_activity a ON
      date(a.timestamp) = date(ts.bucket)
      AND a.status = 'success'
    GROUP BY ts.bucket
    ORDER BY ts.bucket
"""

SEED_TABLE = """
CREATE TABLE jetstream_activity (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp TEXT NOT NULL,
  operation TEXT NOT NULL,
  collection TEXT NOT NULL,
  did TEXT NOT NULL,
  status TEXT NOT NULL,
  error_message TEXT,
  event_json TEXT NOT NULL
);
CREATE INDEX idx_jetstream_activity_timestamp ON jetstream_activity(timestamp);
"""


def make_events(n: int, now: datetime, seed: int = 1) -> list[NewEvent]:
    rng = random.Random(seed)
    span = 8 * 86400 * 1_000_000
    out = []
    for i in range(n):
        at = now - timedelta(microseconds=rng.randrange(span))
        status = "success" if rng.random() < 0.95 else "error"
        out.append(
            NewEvent(
                COLLECTIONS[i % 3],
                ACTIONS[rng.randrange(3)],
                status=status,
                occurred_at=at,
                actor={"type": "did", "id": f"did:plc:{rng.randrange(50_000)}"},
            )
        )
    return out


def build(directory: Path, events: list[NewEvent], batch: int) -> tuple[str, float]:
    url = f"sqlite:///{directory / 'chronolog.db'}"
    started = time.perf_counter()
    with Chronolog(url) as cl:
        for i in range(0, len(events), batch):
            cl.events.record_many(events[i : i + batch])
    elapsed = time.perf_counter() - started
    seed = sqlite3.connect(directory / "chronolog.db")
    seed.executescript(SEED_TABLE)
    seed.executemany(
        "INSERT INTO jetstream_activity (timestamp, operation, collection, did, status, event_json)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            (
                e.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if e.occurred_at else "",
                e.action,
                e.event_type,
                getattr(e.actor, "id", "") if not isinstance(e.actor, dict) else e.actor["id"],
                e.status,
                '{"kind":"commit","commit":{"operation":"'
                + e.action
                + '","collection":"'
                + e.event_type
                + '"}}',
            )
            for e in events
        ),
    )
    seed.commit()
    seed.close()
    return url, elapsed


def bulk_rows(
    n: int, now: datetime, project_id: int, chunk: int = 100_000, seed: int = 1
) -> Iterator[list[tuple[Any, ...]]]:
    """Yield chunks of insert tuples (``INSERT_COLUMNS`` order), oldest first.

    The same spread as :func:`make_events` (8 days, 3 collections x 3 actions,
    95 % success) but generated as rows directly, time-ordered like a live log,
    so 10M events build in minutes instead of hours.
    """
    rng = random.Random(seed)
    span = 8 * 86400 * 1_000_000
    end = int(now.timestamp() * 1_000_000)
    start = end - span
    for first in range(0, n, chunk):
        size = min(chunk, n - first)
        lo = start + span * first // n
        hi = start + span * (first + size) // n
        times = sorted(rng.randrange(lo, max(hi, lo + 1)) for _ in range(size))
        yield [
            (
                project_id,
                at,
                COLLECTIONS[(first + i) % 3],
                ACTIONS[rng.randrange(3)],
                "success" if rng.random() < 0.95 else "error",
                "did",
                f"did:plc:{rng.randrange(50_000)}",
                None,
                None,
                None,
                None,
                None,
                None,
            )
            for i, at in enumerate(times)
        ]


def bulk_build(
    directory: Path, n: int, now: datetime, seed_table: bool = True
) -> tuple[str, float]:
    """Fill a chronolog store with ``n`` events through the insert and counter statements.

    Skips per-event validation (the rows are generated well-formed) but writes
    the rows and rollups exactly as ``record_many`` does, in 100k-event transactions.
    """
    url = f"sqlite:///{directory / 'chronolog.db'}?synchronous=off"
    started = time.perf_counter()
    with Chronolog(url) as cl:
        project_id = cl.events._scope.project_id
        dialect = cl.store.dialect
        for rows in bulk_rows(n, now, project_id):
            with cl.store.write() as conn:
                event_sql.event_insert_many(conn, dialect, rows)
                event_sql.event_counts_add(conn, dialect, rollup_rows(rows, 0))
    elapsed = time.perf_counter() - started
    if not seed_table:
        return f"sqlite:///{directory / 'chronolog.db'}", elapsed
    seed = sqlite3.connect(directory / "chronolog.db")
    seed.executescript(SEED_TABLE)
    # The seed's table from the same rows (ISO text times, as the seed stored them).
    seed.execute(
        "INSERT INTO jetstream_activity (timestamp, operation, collection, did, status, event_json)"
        " SELECT strftime('%Y-%m-%dT%H:%M:%f', occurred_at / 1000000.0, 'unixepoch') || 'Z',"
        " action, event_type, actor_id, status,"
        ' \'{"kind":"commit","commit":{"operation":"\' || action'
        ' || \'","collection":"\' || event_type || \'"}}\' FROM events'
    )
    seed.commit()
    seed.close()
    return f"sqlite:///{directory / 'chronolog.db'}", elapsed


def time_charts(url: str, repeats: int) -> dict[str, float]:
    out = {}
    with Chronolog(url) as cl:
        for window in (*CHARTS, "7d"):
            runs = []
            for _ in range(repeats):
                t = time.perf_counter()
                cl.stats.buckets(window, group_by="action", actions=ACTIONS, statuses="success")
                runs.append(time.perf_counter() - t)
            out[window] = statistics.median(runs)
    return out


def time_seed(path: Path) -> tuple[dict[str, float], dict[str, int]]:
    conn = sqlite3.connect(path)
    out, totals = {}, {}
    for window, (hours, interval, buckets) in CHARTS.items():
        t = time.perf_counter()
        rows = conn.execute(seed_sql(hours, interval, buckets)).fetchall()
        out[window] = time.perf_counter() - t
        totals[window] = sum(r[1] + r[2] + r[3] for r in rows)
    t = time.perf_counter()
    rows = conn.execute(SEED_7D).fetchall()
    out["7d"] = time.perf_counter() - t
    totals["7d"] = sum(r[1] + r[2] + r[3] for r in rows)
    conn.close()
    return out, totals


def ingest_ratio(events: list[NewEvent], batch: int, rounds: int) -> tuple[float, float]:
    """Events/s through record_many (with rollups) and the same inserts without the counters.

    Both stores are written batch by batch in alternation (which one goes
    first alternates too), so load changes on a shared machine hit both
    sides alike; the median of ``rounds`` fresh pairs of stores is returned.
    """
    with_rates, without_rates = [], []
    for _ in range(rounds):
        with (
            tempfile.TemporaryDirectory() as d1,
            tempfile.TemporaryDirectory() as d2,
            Chronolog(f"sqlite:///{d1}/a.db") as with_cl,
            Chronolog(f"sqlite:///{d2}/b.db") as without_cl,
        ):
            spent = [0.0, 0.0]

            def rollups(chunk: list[NewEvent]) -> None:
                with_cl.events.record_many(chunk)

            def bare(chunk: list[NewEvent]) -> None:
                # The same validation and insert, without the rollup upserts.
                rows = without_cl.events.prepare(chunk)
                with without_cl.store.write() as conn:
                    event_sql.event_insert_many(conn, without_cl.store.dialect, rows)

            for n, i in enumerate(range(0, len(events), batch)):
                chunk = events[i : i + batch]
                order = ((0, rollups), (1, bare)) if n % 2 == 0 else ((1, bare), (0, rollups))
                for side, write in order:
                    t = time.perf_counter()
                    write(chunk)
                    spent[side] += time.perf_counter() - t
            with_rates.append(len(events) / spent[0])
            without_rates.append(len(events) / spent[1])
    return statistics.median(with_rates), statistics.median(without_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--ingest-events", type=int, default=100_000)
    parser.add_argument("--ingest-rounds", type=int, default=3)
    parser.add_argument("--skip-seed", action="store_true", help="Do not run the seed's SQL.")
    parser.add_argument(
        "--bulk",
        action="store_true",
        help="Build the data set from generated rows through the insert and rollup statements "
        "(no per-event validation): minutes for 10M events instead of hours.",
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}"
    )
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        if args.bulk:
            url, built = bulk_build(Path(tmp), args.events, now, not args.skip_seed)
            how = "bulk rows + rollups"
        else:
            url, built = build(Path(tmp), make_events(args.events, now), args.batch)
            how = "record_many"
        print(
            f"built {args.events:,} events ({how}) in {built:.1f}s "
            f"({args.events / built:,.0f} ev/s)"
        )
        ours = time_charts(url, args.repeats)
        if not args.skip_seed:
            seed, totals = time_seed(Path(tmp) / "chronolog.db")
        with Chronolog(url) as cl:
            mine = {w: cl.stats.buckets(w, actions=ACTIONS, statuses="success").total for w in ours}
    print(f"{'chart':>5} {'chronolog ms':>13} {'seed ms':>10} {'ratio':>9}  events (ours / seed)")
    for window, t in ours.items():
        if args.skip_seed:
            print(f"{window:>5} {t * 1000:13.2f}")
            continue
        print(
            f"{window:>5} {t * 1000:13.2f} {seed[window] * 1000:10.0f} {seed[window] / t:9.0f}x"
            f"  {mine[window]:,} / {totals[window]:,}"
        )
    sample = make_events(args.ingest_events, now)
    ordered = sorted(sample, key=lambda e: e.occurred_at or now)
    for label, batch_events in (
        ("in time order (a live stream)", ordered),
        ("random times over 8 days (worst case)", sample),
    ):
        with_rate, without_rate = ingest_ratio(batch_events, args.batch, args.ingest_rounds)
        print(
            f"ingest {args.ingest_events:,} events {label}, batches of {args.batch}: "
            f"with rollups {with_rate:,.0f} ev/s, without {without_rate:,.0f} ev/s, "
            f"ratio {with_rate / without_rate:.2f}"
        )


if __name__ == "__main__":
    main()
