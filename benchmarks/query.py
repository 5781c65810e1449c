"""Activity page queries at 1M+ events: chronolog vs the library-cleanup seed's own SQL.

The seed (002) keeps ``activity_log`` with indexes on created_at, event_type and
actor_type, and answers every page with ``SELECT COUNT(*) … WHERE …`` plus
``SELECT * … ORDER BY created_at DESC LIMIT ? OFFSET ?``. Both tables live in
one SQLite file and hold the same rows; each query runs ``--repeat`` times and
the median is reported.

    .venv/bin/python -m benchmarks.query --events 1000000
Target: faster at page 1, flat cost at page 1000.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from collections.abc import Callable

import orjson

from benchmarks._data import NOW, events
from benchmarks._dbs import sqlite_url
from chronolog import Chronolog, NewEvent

SEED_SCHEMA = """
CREATE TABLE IF NOT EXISTS activity_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_type TEXT NOT NULL CHECK (event_type IN ('scan', 'deletion', 'rule_match', 'protection', 'manual_action', 'error')),
  action TEXT NOT NULL,
  actor_type TEXT NOT NULL CHECK (actor_type IN ('scheduler', 'user', 'rule')),
  actor_id TEXT,
  actor_name TEXT,
  target_type TEXT,
  target_id INTEGER,
  target_title TEXT,
  metadata TEXT,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_activity_log_created_at ON activity_log(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_activity_log_event_type ON activity_log(event_type);
CREATE INDEX IF NOT EXISTS idx_activity_log_actor_type ON activity_log(actor_type);
"""


def seed_page(
    db: sqlite3.Connection,
    *,
    page: int,
    limit: int,
    event_types: list[str] | None = None,
    actor_types: list[str] | None = None,
    search: str | None = None,
    days: int | None = None,
) -> tuple[int, list[tuple[object, ...]]]:
    """The seed's getActivityLog: COUNT(*) then LIMIT/OFFSET, filters as in its repository."""
    where, params = ["1=1"], []
    if days is not None:
        where.append("created_at >= datetime(?, ?)")
        params += [NOW.strftime("%Y-%m-%d %H:%M:%S"), f"-{days} days"]
    if event_types:
        where.append(f"event_type IN ({', '.join('?' * len(event_types))})")
        params += event_types
    if actor_types:
        where.append(f"actor_type IN ({', '.join('?' * len(actor_types))})")
        params += actor_types
    if search:
        where.append("target_title LIKE ?")
        params.append(f"%{search}%")
    clause = " AND ".join(where)
    total = db.execute(f"SELECT COUNT(*) FROM activity_log WHERE {clause}", params).fetchone()[0]
    rows = db.execute(
        f"SELECT * FROM activity_log WHERE {clause} ORDER BY created_at DESC LIMIT ? OFFSET ?",
        [*params, limit, (page - 1) * limit],
    ).fetchall()
    return total, rows


def load(url: str, n: int) -> None:
    """Fill chronolog's events and the seed's activity_log with the same n events."""
    batch: list[NewEvent] = []
    with Chronolog(url) as cl:
        raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        raw.executescript(SEED_SCHEMA)
        for e in events(n):
            batch.append(e)
            if len(batch) == 20_000:
                _flush(cl, raw, batch)
                batch = []
        _flush(cl, raw, batch)
        raw.close()


def _flush(cl: Chronolog, raw: sqlite3.Connection, batch: list[NewEvent]) -> None:
    if not batch:
        return
    cl.events.record_many(batch)
    raw.execute("BEGIN")
    raw.executemany(
        "INSERT INTO activity_log (event_type, action, actor_type, actor_id, actor_name, target_type,"
        " target_id, target_title, metadata, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (
                e.event_type,
                e.action,
                e.actor.type,
                e.actor.id,
                e.actor.name,  # type: ignore[union-attr]
                e.target.type,
                int(e.target.id),
                e.target.title,
                orjson.dumps(e.metadata).decode(),  # type: ignore[union-attr, arg-type]
                e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),  # type: ignore[union-attr]
            )
            for e in batch
        ],
    )
    raw.execute("COMMIT")


def median_ms(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--skip-search-index", action="store_true", help="Do not measure the search index."
    )
    args = parser.parse_args()
    with sqlite_url("query") as url:
        started = time.perf_counter()
        load(url, args.events)
        print(
            f"loaded {args.events:,} events into both tables in {time.perf_counter() - started:.0f} s"
        )
        seed = sqlite3.connect(url.removeprefix("sqlite:///"))
        with Chronolog(url, clock=lambda: NOW) as cl:
            filters = {"event_types": ["deletion", "scan"], "actor_types": ["rule", "user"]}

            # Walk to page 1000 by cursor once (setup, not timed).
            cursor = None
            for _ in range(999):
                cursor = cl.events.query(
                    limit=20, date_range="30d", with_total=False, **filters
                ).next_cursor  # type: ignore[arg-type]
            cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
                (
                    "page 1, filters + 7d + total",
                    lambda: cl.events.query(limit=20, date_range="7d", **filters),  # type: ignore[arg-type]
                    lambda: seed_page(seed, page=1, limit=20, days=7, **filters),  # type: ignore[arg-type]
                ),
                (
                    "page 1000, filters + 30d + total",
                    lambda: cl.events.query(limit=20, date_range="30d", cursor=cursor, **filters),  # type: ignore[arg-type]
                    lambda: seed_page(seed, page=1000, limit=20, days=30, **filters),  # type: ignore[arg-type]
                ),
                (
                    "page 1000, no total (cursor only)",
                    lambda: cl.events.query(
                        limit=20, date_range="30d", cursor=cursor, with_total=False, **filters
                    ),  # type: ignore[arg-type]
                    lambda: seed_page(seed, page=1000, limit=20, days=30, **filters),  # type: ignore[arg-type]
                ),
                (
                    "title search 'matrix' + total",
                    lambda: cl.events.query(limit=20, search="matrix"),
                    lambda: seed_page(seed, page=1, limit=20, search="matrix"),
                ),
                (
                    "page 1, no filters + total",
                    lambda: cl.events.query(limit=20),
                    lambda: seed_page(seed, page=1, limit=20),
                ),
            ]
            # Same answers first: the comparison is only fair if both return the same rows.
            ours = cl.events.query(limit=20, date_range="7d", **filters)  # type: ignore[arg-type]
            theirs_total, _ = seed_page(seed, page=1, limit=20, days=7, **filters)  # type: ignore[arg-type]
            assert ours.total == theirs_total, (ours.total, theirs_total)
            print(f"{'query':<36}{'seed ms':>10}{'chronolog ms':>14}{'speed-up':>10}")
            for name, chronolog_q, seed_q in cases:
                seed_ms = median_ms(seed_q, args.repeat)
                ours_ms = median_ms(chronolog_q, args.repeat)
                print(f"{name:<36}{seed_ms:>10.1f}{ours_ms:>14.1f}{seed_ms / ours_ms:>9.1f}x")
            if not args.skip_search_index:
                search_index(cl, seed, args.repeat)
        seed.close()


def search_index(cl: Chronolog, seed: sqlite3.Connection, repeat: int) -> None:
    """The opt-in search index: build time, searches against the seed, ingest cost."""
    rare = "31337"  # one item's number (of 50,000): a selective search
    scan_ms = median_ms(lambda: cl.events.query(limit=20, search=rare), repeat)
    started = time.perf_counter()
    cl.events.enable_search_index()
    print(f"\nsearch index built over every event in {time.perf_counter() - started:.1f} s")
    print(f"{'query (search index on)':<36}{'seed ms':>10}{'chronolog ms':>14}{'speed-up':>10}")
    for needle in ("matrix", rare):
        seed_ms = median_ms(lambda n=needle: seed_page(seed, page=1, limit=20, search=n), repeat)  # type: ignore[misc]
        ours_ms = median_ms(lambda n=needle: cl.events.query(limit=20, search=n), repeat)  # type: ignore[misc]
        name = f"title search {needle!r} + total"
        print(f"{name:<36}{seed_ms:>10.1f}{ours_ms:>14.1f}{seed_ms / ours_ms:>9.1f}x")
    indexed_ms = median_ms(lambda: cl.events.query(limit=20, search=rare), repeat)
    print(f"'{rare}' with the index vs without: {scan_ms / indexed_ms:.0f}x faster")
    # What writes pay: the same batches appended with the index off, then on.
    batch = list(events(20_000, seed=2))
    cl.events.disable_search_index()
    started = time.perf_counter()
    for i in range(0, len(batch), 5000):
        cl.events.record_many(batch[i : i + 5000])
    without = time.perf_counter() - started
    cl.events.enable_search_index()
    again = list(events(20_000, seed=3))
    started = time.perf_counter()
    for i in range(0, len(again), 5000):
        cl.events.record_many(again[i : i + 5000])
    with_index = time.perf_counter() - started
    print(
        f"ingest 20,000 events, index on vs off: {len(batch) / with_index:,.0f} vs "
        f"{len(batch) / without:,.0f} ev/s, ratio {without / with_index:.2f}"
    )


if __name__ == "__main__":
    main()
