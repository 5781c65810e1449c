"""Events ingested per second over HTTP (batched) vs the library in-process.

Same rows, same database kind, same process machine: the library baseline
calls ``cl.events.record_many`` directly; the HTTP run starts ``chronolog
serve`` (uvicorn, one process) on a fresh store and posts the same batches
through ``chronolog.Client`` from one or more threads. Prints events/s and
the ratio HTTP / library.

    python benchmarks/http.py --events 20000 --batch 500 --clients 1,4
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder is first on sys.path and this file
# would shadow the standard library's ``http`` package that httpx imports.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import platform
import re
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from chronolog import Actor, Chronolog, Client, NewEvent, Target

PG_URL = os.environ.get("CHRONOLOG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def batches(total: int, size: int) -> list[list[NewEvent]]:
    """Realistic rows (the library-cleanup seed's deletions), in batches."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        NewEvent(
            "deletion",
            "deleted" if i % 3 else "unmonitored",
            status="error" if i % 17 == 0 else "success",
            actor=Actor("rule", str(i % 5), "Unwatched for a year"),
            target=Target("media_item", str(i), f"Movie {i}"),
            occurred_at=start + timedelta(seconds=i),
            metadata={"fileSize": 1_000_000 + i, "mediaType": "movie", "deletionAction": "delete"},
        )
        for i in range(total)
    ]
    return [rows[i : i + size] for i in range(0, total, size)]


def fresh_store(backend: str, tag: str) -> tuple[str, Any]:
    """A URL of an empty database and a function dropping it."""
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="chronolog-bench-")
        path = Path(directory) / f"{tag}.db"

        def drop_file() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{path}", drop_file
    name = f"chronolog_bench_http_{tag}_{os.getpid()}"
    admin_info = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_info, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop_db() -> None:
        with psycopg.connect(admin_info, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = make_url(PG_URL).set(database=name).set(drivername="postgresql")
    return url.render_as_string(hide_password=False), drop_db


def run_library(url: str, work: list[list[NewEvent]]) -> float:
    with Chronolog(url) as cl:
        started = time.perf_counter()
        for batch in work:
            cl.events.record_many(batch)
        elapsed = time.perf_counter() - started
        assert cl.events.query(limit=1).total == sum(map(len, work))
    return sum(map(len, work)) / elapsed


def serve(url: str) -> tuple[subprocess.Popen[bytes], str, str, Path]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = Path(tempfile.mkstemp(prefix="chronolog-serve-", suffix=".log")[1])
    code = "from chronolog.cli import main; main()"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                "serve",
                "--db",
                url,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start:\n{log.read_text()}")
        time.sleep(0.1)
    match = re.search(r"chl_[A-Za-z0-9_-]{43}", log.read_text())
    assert match, log.read_text()
    return proc, base, match.group(0), log


def run_http(url: str, work: list[list[NewEvent]], clients: int) -> float:
    proc, base, token, log = serve(url)
    try:
        with Client(base, token) as warm:  # the first request pays for imports and pools
            warm.events.recent(1)
        pool = [Client(base, token) for _ in range(clients)]
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as executor:
                list(
                    executor.map(
                        lambda ib: pool[ib[0] % clients].events.record_many(ib[1]),
                        enumerate(work),
                    )
                )
            elapsed = time.perf_counter() - started
            total = pool[0].events.query(limit=1).total
        finally:
            for client in pool:
                client.close()
        assert total == sum(map(len, work)), total
        return sum(map(len, work)) / elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000, help="events per run")
    parser.add_argument("--batch", type=int, default=500, help="events per request / record_many")
    parser.add_argument(
        "--clients", default="1,4", help="comma-separated HTTP client thread counts"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per path; the best is reported (noisy hosts)"
    )
    args = parser.parse_args()
    work = batches(args.events, args.batch)
    print(
        f"# chronolog HTTP ingest: {args.events} events in batches of {args.batch}, "
        f"best of {args.repeat}"
    )
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"{'backend':<11} {'path':<22} {'events/s':>10} {'ratio':>7}")
    for backend in args.backends.split(","):
        library = 0.0
        for _ in range(args.repeat):
            url, drop = fresh_store(backend, "lib")
            try:
                library = max(library, run_library(url, work))
            finally:
                drop()
        print(f"{backend:<11} {'library in-process':<22} {library:>10,.0f} {1.0:>7.2f}")
        for clients in (int(c) for c in args.clients.split(",")):
            rate = 0.0
            for _ in range(args.repeat):
                url, drop = fresh_store(backend, f"http{clients}")
                try:
                    rate = max(rate, run_http(url, work, clients))
                finally:
                    drop()
            label = f"HTTP, {clients} client{'s' if clients > 1 else ''}"
            print(f"{backend:<11} {label:<22} {rate:>10,.0f} {rate / library:>7.2f}")


if __name__ == "__main__":
    main()
