"""Feed latency: from a writer's commit to a follower yielding the event, p50 / p99.

    python benchmarks/feed.py --events 300

Cases:

* SQLite, writer thread on the same store: woken by the in-process signal;
* SQLite, writer in another process: no cross-process signal, so the
  follower's ``poll`` (0.05 s here) bounds the latency;
* PostgreSQL, writer in another process: woken by ``LISTEN/NOTIFY``.

Each writer commits one event at a time with a random 2-20 ms pause and
notes the wall-clock time after each commit; the follower notes when it
yields each event. Baseline in the same run: the follower's poll interval
(what a polling reader would average at best: half of it).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg
from sqlalchemy.engine import make_url

from chronolog import Chronolog

POLL = 0.05
WRITER = """
import random, sys, time
from chronolog import Chronolog
url, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(3)
with Chronolog(url) as cl:
    for i in range(n):
        event_id = cl.events.record("bench", "tick")
        print(event_id, time.time(), flush=True)
        time.sleep(0.002 + rng.random() * 0.018)
"""


def follow(url: str, n: int, received: dict[int, float], ready: threading.Event) -> None:
    with Chronolog(url) as cl:
        cursor = cl.feed.end_cursor()
        stop = threading.Event()
        gen = cl.feed.follow(cursor, poll=POLL, stop=stop)
        ready.set()
        for item in gen:
            received[item.event.id] = time.time()
            if len(received) >= n:
                stop.set()


def run_case(url: str, n: int, same_store: bool) -> list[float]:
    received: dict[int, float] = {}
    ready = threading.Event()
    committed: dict[int, float] = {}
    if same_store:
        with Chronolog(url) as cl:
            thread = threading.Thread(target=_follow_on, args=(cl, n, received, ready))
            thread.start()
            ready.wait(10)
            time.sleep(0.2)
            rng = random.Random(3)
            for _ in range(n):
                event_id = cl.events.record("bench", "tick")
                committed[event_id] = time.time()
                time.sleep(0.002 + rng.random() * 0.018)
            thread.join(60)
    else:
        thread = threading.Thread(target=follow, args=(url, n, received, ready))
        thread.start()
        ready.wait(10)
        time.sleep(0.5)
        out = subprocess.run(
            [sys.executable, "-c", WRITER, url, str(n)], capture_output=True, text=True, check=True
        ).stdout
        for line in out.split("\n"):
            if line.strip():
                event_id, at = line.split()
                committed[int(event_id)] = float(at)
        thread.join(60)
    return [received[i] - committed[i] for i in committed if i in received]


def _follow_on(cl: Chronolog, n: int, received: dict[int, float], ready: threading.Event) -> None:
    stop = threading.Event()
    gen = cl.feed.follow(cl.feed.end_cursor(), poll=POLL, stop=stop)
    ready.set()
    for item in gen:
        received[item.event.id] = time.time()
        if len(received) >= n:
            stop.set()


def report(name: str, latencies: list[float], n: int) -> None:
    if not latencies:
        print(f"{name:<44} no events received")
        return
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"{name:<44} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  received {len(latencies)}/{n}"
        f"  (poll baseline: {POLL * 500:.0f} ms average)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "CHRONOLOG_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, python {platform.python_version()}, cores {os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/feed.db"
        Chronolog(url).close()
        report(
            "sqlite, same store (in-process signal)", run_case(url, args.events, True), args.events
        )
        report(
            "sqlite, writer process (poll fallback)", run_case(url, args.events, False), args.events
        )
    admin_url = make_url(args.pg).set(drivername="postgresql")
    name = f"chronolog_bench_feed_{os.getpid()}"
    try:
        admin = psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True)
    except psycopg.OperationalError as exc:
        print(f"postgresql: skipped ({str(exc).strip().splitlines()[0]})")
        return
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        Chronolog(url).close()
        report(
            "postgresql, writer process (LISTEN/NOTIFY)",
            run_case(url, args.events, False),
            args.events,
        )
        report(
            "postgresql, same store (in-process signal)",
            run_case(url, args.events, True),
            args.events,
        )
    finally:
        with psycopg.connect(
            admin_url.render_as_string(hide_password=False), autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
