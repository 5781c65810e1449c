"""State history: transitions per second, and in_state / history latency against the seed.

Run: ``python benchmarks/states.py [--db postgresql://…] [--entities 100000] [--per-entity 5]``

1. **Writes.** ``cl.states.transition`` (one move per transaction) and
   ``transition_many`` (batches) against a raw-driver baseline doing the same
   statements in the same process: lock the entity, read its newest
   sort_key, append the event and its two counter rows, clear ``most_recent``,
   insert the transition, update the entity. Ratio = chronolog / raw.
2. **Reads** on ``--entities`` movies with ``--per-entity`` moves each, loaded
   into chronolog's tables and into the media-manager seed's own
   ``movie`` / ``movie_transition`` tables (its DDL and indexes):
   ``in_state`` (first page and page 20) vs the seed's ``ListDownloadingMovies``;
   ``history`` vs ``GetEntityTransitions``; ``timeline(days=7)`` vs the
   seed's ``GetTransitionsByDate`` (movie table only). Ratio = seed time /
   chronolog time (above 1: chronolog is faster).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from chronolog import Chronolog

NOW = datetime.now(UTC).replace(microsecond=0)
NOW_US = int(NOW.timestamp()) * 1_000_000
DAY_US = 86_400_000_000
SPAN_DAYS = 365


# -- databases -----------------------------------------------------------------------


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A fresh SQLite file (default) or a fresh database on the given PostgreSQL server."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="chronolog-states-") as tmp:
            yield f"sqlite:///{os.path.join(tmp, 'states.db')}"
        return
    name = f"chronolog_states_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Raw:
    """The raw driver connection under a chronolog store, with its placeholder style."""

    def __init__(self, cl: Chronolog) -> None:
        self.pg = not cl.store.is_sqlite
        self._sa = cl.store.engine.raw_connection()
        self.conn: Any = self._sa.driver_connection
        self.p = "%s" if self.pg else "?"

    def sql(self, text: str) -> str:
        return text.replace("?", self.p)

    def begin(self) -> None:
        if self.pg:
            return  # psycopg opens a transaction on the first statement
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.commit() if self.pg else self.conn.execute("COMMIT")

    def close(self) -> None:
        self._sa.close()


# -- loading ------------------------------------------------------------------------


def moves_of(i: int, per_entity: int, rng: random.Random) -> list[str]:
    """The states one movie goes through: missing, then download cycles; 1% still downloading."""
    states = ["missing"]
    while len(states) < per_entity:
        states.append("downloading" if len(states) % 2 else "downloaded")
    if rng.random() < 0.01 and states[-1] != "downloading":
        states.append("downloading")
    return states


def load(cl: Chronolog, n_entities: int, per_entity: int) -> int:
    """Bulk-load movies into chronolog's tables and the seed's; returns transitions written."""
    raw = Raw(cl)
    cur = raw.conn.cursor()
    seed_ddl = [
        "CREATE TABLE download_client (id INTEGER PRIMARY KEY, type TEXT NOT NULL, "
        "implementation TEXT NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL)",
        "CREATE TABLE movie (id INTEGER PRIMARY KEY, path TEXT, monitored INTEGER NOT NULL, "
        "quality_profile_id INTEGER NOT NULL, added TIMESTAMP, movie_metadata_id INTEGER)",
        f"CREATE TABLE movie_transition (id {'BIGSERIAL' if raw.pg else 'INTEGER'} PRIMARY KEY, movie_id INTEGER NOT NULL "
        "REFERENCES movie(id) ON DELETE CASCADE, to_state TEXT NOT NULL, from_state TEXT, "
        "most_recent BOOLEAN NOT NULL, sort_key INTEGER NOT NULL, download_client_id INTEGER "
        "REFERENCES download_client(id), download_id TEXT, created_at TIMESTAMP, "
        "updated_at TIMESTAMP)",
        # the seed's indexes, exactly
        "CREATE UNIQUE INDEX idx_movie_transitions_by_parent_most_recent ON "
        f"movie_transition(movie_id, most_recent) WHERE most_recent = {'true' if raw.pg else '1'}",
        "CREATE UNIQUE INDEX idx_movie_transitions_by_parent_sort_key ON "
        "movie_transition(movie_id, sort_key)",
    ]
    raw.begin()
    for ddl in seed_ddl:
        cur.execute(ddl)
    cur.execute(
        raw.sql("INSERT INTO download_client VALUES (?, ?, ?, ?, ?)"),
        (1, "usenet", "sabnzbd", "sabnzbd", 8080),
    )
    raw.commit()
    rng = random.Random(7)
    pid = cl.scope.project_id
    written = 0
    chunk = 20_000
    for start in range(0, n_entities, chunk):
        ents, moves, seed_movies, seed_moves = [], [], [], []
        for i in range(start, min(start + chunk, n_entities)):
            states = moves_of(i, per_entity, rng)
            first = NOW_US - rng.randrange(SPAN_DAYS * DAY_US)
            times = sorted(first + rng.randrange(NOW_US - first) for _ in states)
            metadata = orjson.dumps({"download_client_id": 1, "download_id": f"dl-{i}"}).decode()
            ents.append(
                (i + 1, pid, "movie", str(i), f"Movie {i}", states[-1], times[-1], first, times[-1])
            )
            seed_movies.append((i + 1, f"/movies/{i}", 1, 1, _stamp(first), i))
            for k, (state, at) in enumerate(zip(states, times, strict=True)):
                last = k == len(states) - 1
                moves.append(
                    (
                        pid,
                        "movie",
                        str(i),
                        i + 1,
                        k + 1,
                        states[k - 1] if k else None,
                        state,
                        last,
                        metadata if state == "downloading" else None,
                        at,
                    )
                )
                seed_moves.append(
                    (
                        i + 1,
                        state,
                        states[k - 1] if k else None,
                        last,
                        k + 1,
                        1 if state == "downloading" else None,
                        f"dl-{i}" if state == "downloading" else None,
                        _stamp(at),
                        _stamp(at),
                    )
                )
        written += len(moves)
        raw.begin()
        cur.executemany(
            raw.sql(
                "INSERT INTO entities (pk, project_id, kind, entity_id, title, state, state_since, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            ents,
        )
        cur.executemany(
            raw.sql(
                "INSERT INTO transitions (project_id, kind, entity_id, entity_pk, sort_key, "
                "from_state, to_state, most_recent, metadata, occurred_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            moves,
        )
        cur.executemany(raw.sql("INSERT INTO movie VALUES (?, ?, ?, ?, ?, ?)"), seed_movies)
        cur.executemany(
            raw.sql(
                "INSERT INTO movie_transition (movie_id, to_state, from_state, most_recent, "
                "sort_key, download_client_id, download_id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            seed_moves,
        )
        raw.commit()
        print(f"  loaded {min(start + chunk, n_entities):>9,} movies", end="\r", flush=True)
    raw.begin()
    if raw.pg:
        cur.execute("SELECT setval('entities_pk_seq', (SELECT max(pk) FROM entities))")
    cur.execute("ANALYZE")
    raw.commit()
    raw.close()
    print()
    return written


def _stamp(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- writes -------------------------------------------------------------------------


def raw_moves(cl: Chronolog, picks: list[int], batch: int) -> float:
    """The same statements as chronolog, through the driver; returns moves per second."""
    raw = Raw(cl)
    cur = raw.conn.cursor()
    pid = cl.scope.project_id
    machine = raw.sql("SELECT definition FROM machines WHERE project_id = ? AND kind = ?")
    lock = raw.sql(
        "SELECT pk, state, title FROM entities WHERE project_id = ? AND kind = ? AND entity_id = ?"
        + (" FOR UPDATE" if raw.pg else "")
    )
    head = raw.sql(
        "SELECT sort_key FROM transitions WHERE project_id = ? AND kind = ? AND entity_id = ? "
        "AND most_recent" + ("" if raw.pg else " = 1")
    )
    event = raw.sql(
        "INSERT INTO events (project_id, occurred_at, event_type, action, status, actor_type, "
        "actor_id, actor_name, target_type, target_id, target_title, error, metadata) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" + (" RETURNING id" if raw.pg else "")
    )
    count = raw.sql(
        "INSERT INTO event_counts (project_id, granularity, bucket, event_type, action, status, "
        "actor_type, target_type, shard, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (project_id, granularity, bucket, event_type, action, status, actor_type, "
        "target_type, shard) DO UPDATE SET count = event_counts.count + excluded.count"
    )
    clear = raw.sql(
        "UPDATE transitions SET most_recent = ? WHERE project_id = ? AND kind = ? "
        "AND entity_id = ? AND most_recent = ?"
    )
    insert = raw.sql(
        "INSERT INTO transitions (project_id, kind, entity_id, entity_pk, sort_key, from_state, "
        "to_state, most_recent, actor_type, actor_id, actor_name, metadata, occurred_at, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    state_set = raw.sql(
        "UPDATE entities SET state = ?, state_since = ?, updated_at = ? WHERE pk = ?"
    )
    started = time.perf_counter()
    for start in range(0, len(picks), batch):
        group = picks[start : start + batch]
        raw.begin()
        now = int(time.time() * 1_000_000)
        cur.execute(machine, (pid, "movie"))
        cur.fetchall()
        rows = []
        if len(group) == 1:
            for i in group:
                cur.execute(lock, (pid, "movie", str(i)))
                pk, state, title = cur.fetchone()
                cur.execute(head, (pid, "movie", str(i)))
                rows.append((i, pk, state, title, cur.fetchone()[0]))
        else:  # set-based, as transition_many does: IN lists of up to 400 keys
            found: dict[str, tuple[Any, ...]] = {}
            heads: dict[str, int] = {}
            keys = sorted(str(i) for i in group)
            for c in range(0, len(keys), 400):
                part = keys[c : c + 400]
                marks = ", ".join([raw.p] * len(part))
                cur.execute(
                    raw.sql(
                        "SELECT entity_id, pk, state, title FROM entities WHERE project_id = ? "
                    )
                    + f"AND kind = {raw.p} AND entity_id IN ({marks}) ORDER BY entity_id"
                    + (" FOR UPDATE" if raw.pg else ""),
                    (pid, "movie", *part),
                )
                found.update({r[0]: r[1:] for r in cur.fetchall()})
                cur.execute(
                    raw.sql("SELECT entity_id, sort_key FROM transitions WHERE project_id = ? ")
                    + f"AND kind = {raw.p} AND entity_id IN ({marks}) AND most_recent"
                    + ("" if raw.pg else " = 1"),
                    (pid, "movie", *part),
                )
                heads.update(dict(cur.fetchall()))
            rows = [(i, *found[str(i)], heads[str(i)]) for i in group]
        event_rows = [
            (
                pid,
                now,
                "movie",
                "bench",
                "success",
                None,
                None,
                None,
                "movie",
                str(i),
                title,
                None,
                orjson.dumps({"from": state, "to": "bench", "sort_key": sort_key + 1}).decode(),
            )
            for i, _pk, state, title, sort_key in rows
        ]
        if raw.pg:
            cur.executemany(event, event_rows, returning=True)
            event_ids = []
            while True:
                event_ids.append(cur.fetchone()[0])
                if not cur.nextset():
                    break
        else:
            cur.executemany(event, event_rows)
            last = cur.execute("SELECT last_insert_rowid()").fetchone()[0]
            event_ids = list(range(last - len(event_rows) + 1, last + 1))
        bucket = now // 1_000_000
        cur.executemany(
            count,
            [
                (
                    pid,
                    g,
                    bucket - bucket % g,
                    "movie",
                    "bench",
                    "success",
                    "",
                    "movie",
                    0,
                    len(rows),
                )
                for g in (60, 3600)
            ],
        )
        cur.executemany(clear, [(False, pid, "movie", str(r[0]), True) for r in rows])
        cur.executemany(
            insert,
            [
                (
                    pid,
                    "movie",
                    str(i),
                    pk,
                    sort_key + 1,
                    state,
                    "bench",
                    True,
                    None,
                    None,
                    None,
                    None,
                    now,
                    event_id,
                )
                for (i, pk, state, _t, sort_key), event_id in zip(rows, event_ids, strict=True)
            ],
        )
        cur.executemany(state_set, [("bench", now, now, pk) for _i, pk, *_ in rows])
        raw.commit()
    elapsed = time.perf_counter() - started
    raw.close()
    return len(picks) / elapsed


def chronolog_moves(cl: Chronolog, picks: list[int], batch: int) -> float:
    """Moves per second through ``transition`` (batch 1) or ``transition_many``."""
    started = time.perf_counter()
    if batch == 1:
        for i in picks:
            cl.states.transition("movie", i, "bench")
    else:
        for start in range(0, len(picks), batch):
            cl.states.transition_many([("movie", i, "bench") for i in picks[start : start + batch]])
    return len(picks) / (time.perf_counter() - started)


# -- reads --------------------------------------------------------------------------


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def seed_queries(raw: Raw) -> dict[str, Callable[[Any], object]]:
    """The seed's own SQL for its ActivityStorage methods (movie table)."""
    cur = raw.conn.cursor()
    mr = "true" if raw.pg else "1"
    downloading = (
        "SELECT movie.*, t.to_state, t.created_at, t.download_id, c.implementation "
        "FROM movie JOIN movie_transition t ON movie.id = t.movie_id AND t.most_recent = "
        f"{mr} LEFT JOIN download_client c ON t.download_client_id = c.id "
        "WHERE t.to_state = 'downloading' ORDER BY t.created_at DESC"
    )
    history = raw.sql("SELECT * FROM movie_transition WHERE movie_id = ? ORDER BY sort_key ASC")
    since = _stamp(NOW_US - 7 * DAY_US)
    by_date = raw.sql(
        "SELECT id, movie_id, to_state, from_state, created_at FROM movie_transition "
        "WHERE created_at > ? ORDER BY created_at DESC"
    )

    def run(sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        cur.execute(sql, params)
        rows: list[Any] = cur.fetchall()
        if raw.pg:
            raw.conn.rollback()
        return rows

    return {
        "downloading": lambda _: run(downloading),
        "history": lambda i: run(history, (i + 1,)),
        "by_date": lambda _: run(by_date, (since,)),
    }


def reads(cl: Chronolog, n_entities: int, runs: int) -> list[tuple[str, float, float]]:
    raw = Raw(cl)
    seed = seed_queries(raw)
    rng = random.Random(3)
    results = []
    ours = median_ms(lambda: cl.states.in_state("movie", "downloading", limit=50), runs)
    theirs = median_ms(lambda: seed["downloading"](None), runs)
    results.append(("in_state page 1 (50) vs ListDownloadingMovies (all rows)", ours, theirs))
    cursor = None
    for _ in range(19):
        cursor = cl.states.in_state("movie", "downloading", limit=50, cursor=cursor).next_cursor
    deep = median_ms(
        lambda: cl.states.in_state("movie", "downloading", limit=50, cursor=cursor), runs
    )
    results.append(("in_state page 20 (cursor) vs ListDownloadingMovies", deep, theirs))
    ids = [rng.randrange(n_entities) for _ in range(runs + 1)]
    it = iter(ids)
    ours = median_ms(lambda: cl.states.history("movie", next(it)), runs)
    it2 = iter(ids)
    theirs = median_ms(lambda: seed["history"](next(it2)), runs)
    results.append(("history vs GetEntityTransitions", ours, theirs))
    ours = median_ms(lambda: cl.states.timeline(days=7, limit=50), max(runs // 5, 3))
    theirs = median_ms(lambda: seed["by_date"](None), max(runs // 5, 3))
    results.append(("timeline 7d page + day counts vs GetTransitionsByDate", ours, theirs))
    raw.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="PostgreSQL server URL (default: a temp SQLite file)")
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--per-entity", type=int, default=5, help="moves per movie")
    parser.add_argument("--moves", type=int, default=2_000, help="moves timed per write mode")
    parser.add_argument("--batch", type=int, default=500, help="moves per transition_many")
    parser.add_argument("--runs", type=int, default=50, help="repetitions per read")
    args = parser.parse_args(argv)
    with database(args.db) as url, Chronolog(url) as cl:
        backend = "SQLite" if cl.store.is_sqlite else "PostgreSQL"
        print(f"chronolog states benchmark · {backend} · python {sys.version.split()[0]}")
        started = time.perf_counter()
        total = load(cl, args.entities, args.per_entity)
        print(
            f"data: {args.entities:,} entities, {total:,} transitions "
            f"(loaded in {time.perf_counter() - started:.0f}s)"
        )
        rng = random.Random(11)
        print("\nwrites (moves/s, same process, same table sizes)")
        for batch in (1, args.batch):
            mine = chronolog_moves(cl, rng.sample(range(args.entities), args.moves), batch)
            base = raw_moves(cl, rng.sample(range(args.entities), args.moves), batch)
            label = "transition" if batch == 1 else f"transition_many({batch})"
            print(
                f"  {label:24} {mine:9,.0f}/s   raw SQL {base:9,.0f}/s   ratio {mine / base:5.2f}"
            )
        print("\nreads (median ms; ratio = seed / chronolog, above 1 = chronolog faster)")
        for label, ours, theirs in reads(cl, args.entities, args.runs):
            print(f"  {label:58} {ours:8.2f} ms  seed {theirs:9.2f} ms  ratio {theirs / ours:8.1f}")


if __name__ == "__main__":
    main()
