"""Schedules benchmark: what firing schedules costs a worker that drains jobs.

Every worker calls ``cl.jobs.schedules.fire_due()`` when it starts and every
half second (``jobs/_ticker.py``). Measured on SQLite and PostgreSQL, each
database fresh, in the same process:

* ``drain``: a ``Worker`` (concurrency 4, burst) drains N no-op jobs with
  schedule firing on (as shipped) and off (``fire_schedules=False``, the
  baseline), alternating rounds; the ratio is on / off throughput (1.0 = free).
  The store holds one schedule that is not due, as an application's would.
* ``fire_due, nothing due``: one call when no schedule is due (the common
  case: one index read), µs per call;
* ``fire_due, one due``: one call that fires one 1-second schedule (one job,
  its fire row and its event), µs per call.

Run: ``PYTHONPATH=. .venv/bin/python -m benchmarks.schedules --jobs 3000 [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from chronolog import Chronolog, NewJob
from chronolog.jobs.worker import Worker

from ._dbs import pg_available, postgres_url, sqlite_url


def _drain(cl: Chronolog, jobs: int, fire: bool) -> float:
    cl.jobs.enqueue_many([NewJob("noop") for _ in range(jobs)])
    worker = Worker(cl.jobs, lambda ctx: None, concurrency=4, fire_schedules=fire)
    start = time.perf_counter()
    stats = worker.run(burst=True)
    took = time.perf_counter() - start
    assert stats.completed == jobs, stats
    return jobs / took


def _fire_cost(url: str, calls: int) -> tuple[float, float]:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    with Chronolog(url, clock=lambda: clock[0]) as cl:
        cl.jobs.schedules.add("bench", "noop", every=1)
        s = cl.jobs.schedules
        s.fire_due("bench")
        start = time.perf_counter()
        for _ in range(calls):
            s.fire_due("bench")  # nothing due: the clock stands still
        idle = (time.perf_counter() - start) / calls * 1e6
        start = time.perf_counter()
        for _ in range(calls):
            clock[0] += timedelta(seconds=1)
            assert len(s.fire_due("bench")) == 1
        due = (time.perf_counter() - start) / calls * 1e6
    return idle, due


def run(kind: str, url: str, jobs: int, rounds: int) -> None:
    with Chronolog(url) as cl:
        cl.jobs.schedules.add("nightly", "noop", cron="0 3 * * *")  # present, not due
        on: list[float] = []
        off: list[float] = []
        _drain(cl, 200, True)  # warm-up
        for _ in range(rounds):
            off.append(_drain(cl, jobs, False))
            on.append(_drain(cl, jobs, True))
    idle, due = _fire_cost(url, 200)
    ratio = statistics.median(on) / statistics.median(off)
    print(
        f"{kind:<10} drain {jobs} jobs: firing on {statistics.median(on):8.0f} jobs/s, "
        f"off {statistics.median(off):8.0f} jobs/s, ratio {ratio:.2f} "
        f"(rounds {', '.join(f'{a / b:.2f}' for a, b in zip(on, off, strict=True))}); "
        f"fire_due: nothing due {idle:.0f} µs, one due {due:.0f} µs"
    )


def main() -> None:
    """Run the benchmark on SQLite and (when it answers) PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with sqlite_url() as url:
        run("sqlite", url, args.jobs, args.rounds)
    if pg_available():
        with postgres_url() as url:
            run("postgresql", url, args.jobs, args.rounds)


if __name__ == "__main__":
    main()
