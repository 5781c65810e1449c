"""What a query value costs per call: ``cl.events.query`` building its ``EventQuery``
each time, against the same page read from the store directly.

Issue 17 made every filter one immutable value (``EventQuery``, ``JobQuery``,
``EntityQuery``) that each call builds and checks. This measures that cost where
it shows most: a small page (``--limit``, default 50, no total) of an indexed filter, read
again and again from a warm database, so the statement itself is cheap. Each
round runs, on the same data and connection pool:

- ``store``: the named statements ``events.query`` runs (``event_where`` +
  ``event_page`` on a prebuilt ``EventFilter``, rows turned into ``Event``), no
  query value, no checks, no cursor;
- ``query(prebuilt)``: ``cl.events.query(q)`` with one ``EventQuery`` built once;
- ``query(EventQuery)``: ``cl.events.query(EventQuery(...))``, a new value per call;
- ``query(keywords)``: ``cl.events.query(event_types=…, actions=…)``, the value
  built from keywords per call;

and the construction alone (``EventQuery(...)``, ``EntityQuery(...)``,
``JobQuery(...)``) in a tight loop. Ratios are of median times per call; the
interesting ones are ``query(EventQuery) / store`` (everything the library adds
to the bare statements) and the construction's share of a call.

    PYTHONPATH=. .venv/bin/python -m benchmarks.query_value --events 20000 --calls 2000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from benchmarks._data import events
from benchmarks._dbs import pg_available, postgres_url, sqlite_url
from chronolog import Chronolog, EntityQuery, EventQuery, JobQuery
from chronolog.events import event_filter, event_from_row
from chronolog.store.sql import events as sql


def per_call(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """The median over ``rounds`` of the mean time of one call, in microseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def run(url: str, label: str, n: int, calls: int, rounds: int, limit: int) -> None:
    with Chronolog(url) as cl:
        rows = list(events(n))
        for i in range(0, n, 5000):
            cl.events.record_many(rows[i : i + 5000])
        kinds, verbs = ("scan",), ("failed",)
        prebuilt = EventQuery(event_types=kinds, actions=verbs)
        store, scope = cl.store, cl.scope
        flt = event_filter(scope.project_id, prebuilt, None, None)
        dialect = store.dialect
        expected = [e.id for e in cl.events.query(prebuilt, limit=limit, with_total=False)]

        def bare() -> object:
            with store.read() as conn:
                terms = sql.event_where(dialect, flt)
                found = sql.event_page(
                    conn, terms, limit=limit + 1, offset=0, before=None, dialect=dialect
                )
            return [event_from_row(r, scope.project) for r in found[:limit]]

        assert [e.id for e in bare()] == expected  # type: ignore[attr-defined]
        cases: dict[str, Callable[[], object]] = {
            "store": bare,
            "query(prebuilt)": lambda: cl.events.query(prebuilt, limit=limit, with_total=False),
            "query(EventQuery)": lambda: cl.events.query(
                EventQuery(event_types=kinds, actions=verbs), limit=limit, with_total=False
            ),
            "query(keywords)": lambda: cl.events.query(
                event_types=kinds, actions=verbs, limit=limit, with_total=False
            ),
        }
        for fn in cases.values():  # warm up: caches, statements, the pool
            for _ in range(50):
                fn()
        # Interleaved rounds, so drift on a shared machine hits every case alike.
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, fn in cases.items():
                results[name].append(per_call(fn, calls, 1))
        medians = {name: statistics.median(ts) for name, ts in results.items()}
    build = {
        "EventQuery(...)": per_call(
            lambda: EventQuery(event_types=kinds, actions=verbs), calls * 10, rounds
        ),
        "EntityQuery(...)": per_call(
            lambda: EntityQuery(kinds=("movie",), states=("downloading",), active=True),
            calls * 10,
            rounds,
        ),
        "JobQuery(...)": per_call(
            lambda: JobQuery(states=("failed",), queues=("rip",)), calls * 10, rounds
        ),
    }
    print(f"\n{label}: {n:,} events, a page of {limit} ({len(expected)} rows), {calls} calls")
    print(f"{'case':<22}{'µs/call':>10}{'÷ store':>10}")
    for name, us in medians.items():
        print(f"{name:<22}{us:>10.1f}{us / medians['store']:>10.2f}")
    for name, us in build.items():
        share = us / medians["query(EventQuery)"]
        print(f"{name:<22}{us:>10.2f}   ({share:.1%} of a query(EventQuery) call)")
    extra = medians["query(EventQuery)"] - medians["query(prebuilt)"]
    print(
        f"building the value per call: {extra:+.1f} µs ({extra / medians['store']:+.1%} of store)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--limit", type=int, default=50, help="Events per page.")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        with sqlite_url() as url:
            run(url, "sqlite", args.events, args.calls, args.rounds, args.limit)
    if args.only != "sqlite" and pg_available():
        with postgres_url() as url:
            run(url, "postgresql", args.events, args.calls, args.rounds, args.limit)


if __name__ == "__main__":
    main()
