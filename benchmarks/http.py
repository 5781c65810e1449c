"""The HTTP service against the library in-process, three figures:

- ``ingest``: events per second over HTTP (batched) vs ``cl.events.record_many``;
- ``jobs``: claim → complete round trips per second for a remote worker
  (``client.jobs``) vs the same loop on ``cl.jobs``;
- ``sse``: latency from a commit to an SSE follower (``client.feed.follow``)
  vs an in-process follower (``cl.feed.follow``).

Same rows, same database kind, same machine: the HTTP runs start ``chronolog
serve`` (uvicorn, one process) on a fresh store.

    python benchmarks/http.py --events 20000 --batch 500 --clients 1,4
    python benchmarks/http.py --parts jobs,sse --jobs 1000 --latency 100
    python benchmarks/http.py --parts load --streams 1000 --requests 200 --floods 60
    python benchmarks/http.py --parts slow --slow 30,100

``load`` (issue 14): the p50 of a cheap request (``GET /events?limit=1``) with
nothing open, with ``--streams`` open SSE streams (idle, then right after ten
events went to each), and with 100 waiting claim or feed long-polls; and the
server's memory while ``--floods`` strangers hold unfinished 8 MiB bodies.

``slow``: the server's memory while ``--slow`` SSE streams of one token follow the
feed from the start (300 events of 60 KiB, ``limit=1000``) and never read: what
one tenant's slow readers can make a server hold.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder is first on sys.path and this file
# would shadow the standard library's ``http`` package that httpx imports.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import platform
import queue
import re
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from chronolog import Actor, Chronolog, Client, NewEvent, Target

BASELINE = os.environ.get("CHRONOLOG_BENCH_BASELINE") == "1"
"""Measuring a server from before issue 14 (``PYTHONPATH=<old checkout>/src``): it has
no stream cap option."""

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

        with Chronolog(f"sqlite:///{path}"):
            pass  # `chronolog serve` opens stores, it does not create them
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
    rendered = url.render_as_string(hide_password=False)
    with Chronolog(rendered):
        pass  # `chronolog serve` opens stores, it does not create them
    return rendered, drop_db


def run_library(url: str, work: list[list[NewEvent]]) -> float:
    with Chronolog(url) as cl:
        started = time.perf_counter()
        for batch in work:
            cl.events.record_many(batch)
        elapsed = time.perf_counter() - started
        assert cl.events.query(limit=1).total == sum(map(len, work))
    return sum(map(len, work)) / elapsed


def serve(url: str, *extra: str) -> tuple[subprocess.Popen[bytes], str, str, Path]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = Path(tempfile.mkstemp(prefix="chronolog-serve-", suffix=".log")[1])
    token_file = log.with_suffix(".token")
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
                *extra,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "CHRONOLOG_TOKEN_FILE": str(token_file)},
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
    # The first admin token is in the token file (an older server printed it instead).
    written = token_file.read_text() if token_file.exists() else log.read_text()
    match = re.search(r"chl_[A-Za-z0-9_-]{43}", written)
    assert match, log.read_text()
    token_file.unlink(missing_ok=True)
    return proc, base, match.group(0), log


@contextlib.contextmanager
def served(url: str, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """:func:`serve`, stopped (and its log removed) when the block ends."""
    proc, base, token, log = serve(url, *extra)
    try:
        yield proc, base, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.unlink(missing_ok=True)


def run_http(url: str, work: list[list[NewEvent]], clients: int) -> float:
    with served(url) as (_proc, base, token):
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


# -- jobs: claim → complete round trips -------------------------------------------------


def _drain(jobs: Any, count: int) -> float:
    """Claim and complete one job at a time, ``count`` times; round trips per second."""
    started = time.perf_counter()
    for _ in range(count):
        (job,) = jobs.claim(["bench"], "bench-worker", limit=1, lease_seconds=30)
        jobs.complete(job.id, job.lease, {"ok": True})
    return count / (time.perf_counter() - started)


def run_jobs(backend: str, count: int) -> tuple[float, float]:
    url, drop = fresh_store(backend, "jobs")
    try:
        with Chronolog(url) as cl:
            cl.jobs.enqueue_many([{"kind": "noop", "queue": "bench"} for _ in range(2 * count)])
            library = _drain(cl.jobs, count)
        with served(url) as (_proc, base, token), Client(base, token) as client:
            client.whoami()
            remote = _drain(client.jobs, count)
        with Chronolog(url) as cl:
            assert cl.jobs.counts()["bench"]["completed"] == 2 * count
        return library, remote
    finally:
        drop()


# -- sse: commit → follower latency -----------------------------------------------------


def _latencies(follow: Any, record: Any, count: int) -> list[float]:
    """Milliseconds from just before each commit until the follower yields the event."""
    got: queue.Queue[tuple[int, float]] = queue.Queue()
    stop = threading.Event()

    def run() -> None:
        for item in follow(stop):
            got.put((item.event.id, time.perf_counter()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.5)  # connected and caught up
    out = []
    try:
        for i in range(count):
            started = time.perf_counter()
            event_id = record(i)
            seen_id, seen = got.get(timeout=30)
            assert seen_id == event_id, (seen_id, event_id)
            out.append((seen - started) * 1000)
            time.sleep(0.02)
    finally:
        stop.set()
    return out


def run_sse(backend: str, count: int) -> tuple[list[float], list[float], list[float]]:
    url, drop = fresh_store(backend, "sse")
    try:
        with Chronolog(url) as cl:
            end = cl.feed.end_cursor()
            local = _latencies(
                lambda stop: cl.feed.follow(end, poll=1.0, stop=stop),
                lambda i: cl.events.record("tick", str(i)),
                count,
            )
        with (
            served(url) as (_proc, base, token),
            Client(base, token) as follower,
            Client(base, token) as writer,
        ):
            start = follower.feed.read(limit=1000).next_cursor
            over_http = _latencies(
                lambda stop: follower.feed.follow(start, poll=1.0, stop=stop),
                lambda i: writer.events.record("tick", f"http {i}"),
                count,
            )
            # A writer in another process, straight to the database: on PostgreSQL
            # NOTIFY wakes the server; SQLite has no cross-process signal (poll: 1 s).
            with Chronolog(url) as direct:
                after = follower.feed.read(start, limit=1000).next_cursor
                direct_lat = _latencies(
                    lambda stop: follower.feed.follow(after, poll=1.0, stop=stop),
                    lambda i: direct.events.record("tick", f"direct {i}"),
                    count,
                )
        return local, over_http, direct_lat
    finally:
        drop()


# -- load: open streams, long-polls, body floods (issue 14) ------------------------------


def _p50_cheap(base: str, token: str, count: int) -> float:
    """Median milliseconds of ``GET /api/v1/events?limit=1`` over ``count`` requests."""
    times = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        http.get(f"{base}/api/v1/events", params={"limit": 1})
        for _ in range(count):
            started = time.perf_counter()
            response = http.get(f"{base}/api/v1/events", params={"limit": 1})
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return statistics.median(times)


class _Held:
    """``count`` open SSE streams (or long-polls) held by an asyncio loop in a thread."""

    def __init__(self, base: str, token: str, count: int, kind: str) -> None:
        self.opened = 0
        self.received = 0
        self.refused = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._run(base, token, count, kind)), daemon=True
        )
        self._thread.start()
        if not self._ready.wait(300):
            raise SystemExit(f"only {self.opened} of {count} {kind} opened")

    async def _one(self, http: httpx.AsyncClient, base: str, kind: str) -> None:
        while not self._stop.is_set():
            if kind == "streams":
                async with http.stream("GET", f"{base}/api/v1/feed/stream?heartbeat=15") as r:
                    if r.status_code != 200:
                        self.refused += 1
                        return
                    self.opened += 1
                    async for line in r.aiter_lines():
                        if line.startswith("data:"):
                            self.received += 1
                        if self._stop.is_set():
                            return
            elif kind == "claims":
                self.opened += 1
                r = await http.post(
                    f"{base}/api/v1/jobs/claim", json={"queues": ["none"], "wait_seconds": 30}
                )
                self.refused += r.status_code == 429
            else:  # feed long-polls
                self.opened += 1
                r = await http.get(f"{base}/api/v1/feed/end")
                cursor = r.json()["cursor"]
                r = await http.get(f"{base}/api/v1/feed", params={"after": cursor, "wait": 30})
                self.refused += r.status_code == 429

    async def _run(self, base: str, token: str, count: int, kind: str) -> None:
        limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
        timeout = httpx.Timeout(60, read=None)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers) as http:
            tasks = [asyncio.create_task(self._one(http, base, kind)) for _ in range(count)]
            while self.opened < count and not any(t.done() for t in tasks):
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)


def run_streams(backend: str, count: int, requests: int) -> list[str]:
    if count <= 0:
        return []
    """p50 of a cheap request idle, with ``count`` open streams, and with long-polls."""
    url, drop = fresh_store(backend, "streams")
    out = []
    try:
        cap = () if BASELINE else ("--max-streams-per-token", str(count + 10))
        with served(url, *cap) as (_proc, base, token):
            with Chronolog(url) as cl:
                cl.events.record_many([NewEvent("seed", "x")] * 100)
            idle = _p50_cheap(base, token, requests)
            held = _Held(base, token, count, "streams")
            try:
                loaded = _p50_cheap(base, token, requests)
                # Deliveries too: ten events, each to every open stream.
                with Client(base, token) as writer:
                    before = held.received
                    for i in range(10):
                        writer.events.record("tick", str(i))
                    deadline = time.monotonic() + 60
                    while held.received - before < 10 * count and time.monotonic() < deadline:
                        time.sleep(0.1)
                    delivered = held.received - before
                    busy = _p50_cheap(base, token, requests // 2)
            finally:
                held.close()
            out.append(f"{backend:<11} {'no open streams':<34} {idle:7.1f} ms {1.0:7.2f}")
            out.append(
                f"{backend:<11} {f'{held.opened} open SSE streams':<34} {loaded:7.1f} ms "
                f"{loaded / idle:7.2f}"
            )
            out.append(
                f"{backend:<11} {'  … right after 10 events to each':<34} {busy:7.1f} ms "
                f"{busy / idle:7.2f}   ({delivered}/{10 * count} delivered)"
            )
            for kind, n in (("claims", 100), ("polls", 100)):
                waiting = _Held(base, token, n, kind)
                try:
                    polled = _p50_cheap(base, token, requests)
                finally:
                    waiting.close()
                label = f"{n} waiting {'claim' if kind == 'claims' else 'feed'} long-polls"
                out.append(f"{backend:<11} {label:<34} {polled:7.1f} ms {polled / idle:7.2f}")
    finally:
        drop()
    return out


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_bodies(backend: str, connections: int, sent_mb: int) -> list[str]:
    """Server memory while ``connections`` strangers each announce an 8 MiB body and
    send ``sent_mb`` MiB of it, then hold the connection."""
    url, drop = fresh_store(backend, "bodies")
    out = []
    try:
        with served(url) as (proc, base, _token):
            host, port = base.removeprefix("http://").split(":")
            before = _rss_mb(proc.pid)
            head = (
                "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {8 * 1024 * 1024 - 1}\r\n\r\n"
            ).encode()
            chunk = b" " * (1024 * 1024)
            socks = []
            answered = 0
            for _ in range(connections):
                sock = socket.create_connection((host, int(port)))
                sock.settimeout(5)
                sock.sendall(head)
                try:
                    for _ in range(sent_mb):
                        sock.sendall(chunk)
                except OSError:
                    pass  # the server answered and closed: the rest is not read
                socks.append(sock)
            time.sleep(2)
            during = _rss_mb(proc.pid)
            for sock in socks:
                sock.settimeout(0.2)  # a fixed server has answered long ago
                with contextlib.suppress(OSError):
                    answered += sock.recv(12).startswith(b"HTTP/1.1 401")
                sock.close()
            time.sleep(2)
            after = _rss_mb(proc.pid)
            out.append(
                f"{backend:<11} {connections} strangers x {sent_mb} MiB of 8 MiB bodies: RSS "
                f"{before:.0f} MB before, {during:.0f} MB during ({during / before:.2f}x), "
                f"{after:.0f} MB after; {answered} answered 401 at once"
            )
    finally:
        drop()
    return out


def run_slow_readers(backend: str, streams: int) -> str:
    """Server RSS while ``streams`` feed streams from the start never read a byte."""
    url, drop = fresh_store(backend, "slow")
    try:
        blob = "x" * (60 * 1024)
        with Chronolog(url) as cl:
            for _ in range(3):
                cl.events.record_many(
                    [
                        {"event_type": "big", "action": f"a{i}", "metadata": {"blob": blob}}
                        for i in range(100)
                    ]
                )
        with served(url, "--max-streams-per-token", str(streams + 10)) as (proc, base, token):
            before = _rss_mb(proc.pid)
            opened = asyncio.run(_hold_unread(base, token, streams))
            during = _rss_mb(proc.pid)
    finally:
        drop()
    return (
        f"{backend:<11} {opened}/{streams} unread streams of 300 x 60 KiB events: RSS "
        f"{before:.0f} MB before, {during:.0f} MB while held "
        f"({(during - before) / max(opened, 1):.1f} MB a stream)"
    )


async def _hold_unread(base: str, token: str, streams: int) -> int:
    """Open ``streams`` streams, read only their headers, hold them 15 s; how many opened."""
    opened = 0
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=streams + 10)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:

        async def one() -> None:
            nonlocal opened
            headers = {"Authorization": f"Bearer {token}"}
            async with http.stream("GET", "/api/v1/feed/stream?limit=1000", headers=headers) as r:
                opened += r.status_code == 200
                await stop.wait()

        tasks = [asyncio.create_task(one()) for _ in range(streams)]
        await asyncio.sleep(15)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return opened


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms"


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
    parser.add_argument("--parts", default="ingest,jobs,sse", help="which figures to measure")
    parser.add_argument("--jobs", type=int, default=500, help="claim → complete round trips")
    parser.add_argument("--latency", type=int, default=50, help="events timed per SSE run")
    parser.add_argument("--streams", type=int, default=1000, help="open SSE streams (load)")
    parser.add_argument("--requests", type=int, default=200, help="cheap requests timed (load)")
    parser.add_argument("--floods", type=int, default=60, help="connections with bodies (load)")
    parser.add_argument("--slow", default="30,100", help="unread streams per run (slow)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    if "load" in parts:
        print(
            f"# p50 of GET /api/v1/events?limit=1 ({args.requests} requests) and its ratio to "
            "the same server with nothing open (target: within 2x)"
        )
        for backend in args.backends.split(","):
            for line in run_streams(backend, args.streams, args.requests):
                print(line, flush=True)
        print("# body floods: strangers holding unfinished 8 MiB bodies")
        for backend in args.backends.split(","):
            for line in run_bodies(backend, args.floods, 1):
                print(line, flush=True)
    if "slow" in parts:
        print("# slow readers: one token's feed streams that never read")
        for backend in args.backends.split(","):
            for count in args.slow.split(","):
                print(run_slow_readers(backend, int(count)), flush=True)
    if "jobs" in parts:
        print(
            f"# claim → complete, one job at a time, {args.jobs} round trips, best of {args.repeat}"
        )
        for backend in args.backends.split(","):
            best = (0.0, 0.0)
            for _ in range(args.repeat):
                library, remote = run_jobs(backend, args.jobs)
                best = (max(best[0], library), max(best[1], remote))
            print(f"{backend:<11} {'library in-process':<22} {best[0]:>10,.0f}/s {1.0:>7.2f}")
            print(
                f"{backend:<11} {'remote worker (HTTP)':<22} {best[1]:>10,.0f}/s "
                f"{best[1] / best[0]:>7.2f}"
            )
    if "sse" in parts:
        print(f"# commit → follower latency, {args.latency} events, one at a time")
        for backend in args.backends.split(","):
            local, over_http, direct = run_sse(backend, args.latency)
            print(f"{backend:<11} {'library follow':<30} {_summary(local)}")
            print(f"{backend:<11} {'SSE, write via HTTP':<30} {_summary(over_http)}")
            print(f"{backend:<11} {'SSE, write by another process':<30} {_summary(direct)}")
    if "ingest" not in parts:
        return
    work = batches(args.events, args.batch)
    print(
        f"# chronolog HTTP ingest: {args.events} events in batches of {args.batch}, "
        f"best of {args.repeat}"
    )
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
