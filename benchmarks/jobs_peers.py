"""chronolog's job queue against its peers: procrastinate, pgqueuer, oban, huey.

Same workload for every queue, in one invocation, on this machine:

1. **enqueue**: one bulk enqueue of N no-op jobs through the queue's own bulk
   API (timed in the parent process, connection already open).
2. **drain**: N pending no-op jobs claimed, run and completed by the queue's
   own worker runtime, first with 1 worker process, then with ``--workers``
   processes. Each process runs the peer's worker with ``--concurrency`` jobs
   in flight (the peer's own knob for it: see ``describe`` of each runner).
   Worker processes are started and fully imported before the clock starts
   (they wait on an event); the clock stops when the database shows every job
   completed and the handlers have counted N calls.

PostgreSQL peers (procrastinate, pgqueuer, oban, chronolog) each get a fresh
database on ``--pg`` created and dropped by this script; SQLite peers (huey's
SqliteHuey, chronolog) get a fresh file in a temporary directory.

Run it from the peers' environment (``benchmarks/peers/setup.sh`` creates it)::

    benchmarks/.venv-peers/bin/python benchmarks/jobs_peers.py --jobs 5000
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import psycopg

QUEUE = "bench"

# ---------------------------------------------------------------------------
# Shared bookkeeping between the parent and the worker processes.

_COUNTS: Any = None  # mp.Array("q"): handler calls per worker slot
_FIRST: Any = None  # mp.Array("d"): wall time of each slot's first call
_SLOT = 0


def _tick() -> None:
    """The no-op job body: count the call (each process owns its slot)."""
    counts = _COUNTS
    if counts[_SLOT] == 0:
        _FIRST[_SLOT] = time.time()
    counts[_SLOT] += 1


@dataclass
class Ctx:
    """What a runner needs to reach its database."""

    url: str  # PostgreSQL conninfo, or SQLite file path
    concurrency: int
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Runners. Each one: backend, setup(ctx), enqueue(ctx, n) -> seconds,
# remaining(ctx) -> jobs not yet completed, clear(ctx), work(ctx, go) in a child.


class Runner(abc.ABC):
    """One queue's harness; every peer implements the four steps below."""

    name = ""
    backend = "postgresql"
    package = ""
    describe = ""
    # SQLite only: does every commit wait for an fsync? (huey's default and
    # chronolog's ?synchronous=full do; fsync=False and WAL's NORMAL do not.)
    # Ratios compare queues with the same answer only.
    fsync = True

    def setup(self, ctx: Ctx) -> None:  # noqa: B027 - optional step, empty by default
        """Prepare the queue's schema or files (optional)."""

    @abc.abstractmethod
    def enqueue(self, ctx: Ctx, n: int) -> float:
        """See the module comment above."""

    @abc.abstractmethod
    def remaining(self, ctx: Ctx) -> int:
        """See the module comment above."""

    @abc.abstractmethod
    def clear(self, ctx: Ctx) -> None:
        """See the module comment above."""

    @abc.abstractmethod
    def work(self, ctx: Ctx, go: Any) -> None:
        """Run the peer's worker in this (child) process until SIGTERM."""

    def analyze(self, ctx: Ctx) -> None:
        """Refresh planner statistics, as autovacuum would in a long-running database."""
        if self.backend == "postgresql":
            _pg_exec(ctx.url, "analyze")

    def close(self) -> None:  # noqa: B027 - optional step, empty by default
        """Release what the parent held open for polling."""

    def version(self) -> str:
        return metadata.version(self.package)


def _pg_scalar(url: str, sql: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def _pg_exec(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


async def _wait_go(go: Any) -> None:
    await asyncio.to_thread(go.wait)


def _stop_on_sigterm(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)


# --- procrastinate ---------------------------------------------------------


def _procrastinate_app(url: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop", queue=QUEUE)
    async def noop(n: int) -> None:
        _tick()

    return app, noop


class Procrastinate(Runner):
    name = "procrastinate"
    package = "procrastinate"
    describe = (
        "task.batch_defer_async(); App.run_worker_async(concurrency=C) with an async "
        "no-op task, LISTEN/NOTIFY on (defaults)"
    )

    def setup(self, ctx: Ctx) -> None:
        async def main() -> None:
            app, _ = _procrastinate_app(ctx.url)
            async with app.open_async():
                await app.schema_manager.apply_schema_async()

        asyncio.run(main())

    def enqueue(self, ctx: Ctx, n: int) -> float:
        async def main() -> float:
            app, noop = _procrastinate_app(ctx.url)
            async with app.open_async():
                args = [{"n": i} for i in range(n)]
                start = time.perf_counter()
                await noop.batch_defer_async(*args)
                return time.perf_counter() - start

        return asyncio.run(main())

    def remaining(self, ctx: Ctx) -> int:
        return _pg_scalar(
            ctx.url, "select count(*) from procrastinate_jobs where status <> 'succeeded'"
        )

    def clear(self, ctx: Ctx) -> None:
        _pg_exec(ctx.url, "truncate procrastinate_jobs cascade")

    def work(self, ctx: Ctx, go: Any) -> None:
        async def main() -> None:
            app, _ = _procrastinate_app(ctx.url)
            async with app.open_async():
                await _wait_go(go)
                await app.run_worker_async(queues=[QUEUE], concurrency=ctx.concurrency, wait=True)

        asyncio.run(main())


# --- pgqueuer --------------------------------------------------------------


class PgQueuer(Runner):
    name = "pgqueuer"
    package = "pgqueuer"
    describe = (
        "Queries.enqueue() with lists (one INSERT … unnest); QueueManager.run("
        "batch_size=C) on an asyncpg connection, async no-op entrypoint"
    )

    def setup(self, ctx: Ctx) -> None:
        async def main() -> None:
            import asyncpg
            from pgqueuer.db import AsyncpgDriver
            from pgqueuer.queries import Queries

            conn = await asyncpg.connect(ctx.url)
            try:
                await Queries(AsyncpgDriver(conn)).install()
            finally:
                await conn.close()

        asyncio.run(main())

    def enqueue(self, ctx: Ctx, n: int) -> float:
        async def main() -> float:
            import asyncpg
            from pgqueuer.db import AsyncpgDriver
            from pgqueuer.queries import Queries

            conn = await asyncpg.connect(ctx.url)
            try:
                queries = Queries(AsyncpgDriver(conn))
                payloads: list[bytes | None] = [b'{"n": %d}' % i for i in range(n)]
                start = time.perf_counter()
                await queries.enqueue(["noop"] * n, payloads, [0] * n)
                return time.perf_counter() - start
            finally:
                await conn.close()

        return asyncio.run(main())

    def remaining(self, ctx: Ctx) -> int:
        # Finished jobs leave the queue table (moved to pgqueuer_log).
        return _pg_scalar(ctx.url, "select count(*) from pgqueuer")

    def clear(self, ctx: Ctx) -> None:
        _pg_exec(ctx.url, "truncate pgqueuer, pgqueuer_log, pgqueuer_statistics")

    def work(self, ctx: Ctx, go: Any) -> None:
        async def main() -> None:
            import asyncpg
            from pgqueuer.db import AsyncpgDriver
            from pgqueuer.qm import QueueManager
            from pgqueuer.queries import Queries

            conn = await asyncpg.connect(ctx.url)
            qm = QueueManager(Queries(AsyncpgDriver(conn)))

            @qm.entrypoint("noop")
            async def noop(job: Any) -> None:
                _tick()

            await _wait_go(go)
            _stop_on_sigterm(qm.shutdown.set)
            await qm.run(batch_size=ctx.concurrency)

        asyncio.run(main())


# --- oban --------------------------------------------------------------------


def _oban_worker() -> Any:
    from oban import worker

    @worker(queue=QUEUE)
    class NoopWorker:
        async def process(self, job: Any) -> None:
            _tick()

    return NoopWorker


_OBAN_WORKER: Any = None


def oban_worker() -> Any:
    """The no-op oban worker class, defined once per process (oban registers it)."""
    global _OBAN_WORKER
    if _OBAN_WORKER is None:
        _OBAN_WORKER = _oban_worker()
    return _OBAN_WORKER


class Oban(Runner):
    name = "oban"
    package = "oban"
    describe = (
        "Oban.enqueue_many() (one INSERT); embedded Oban(queues={q: C}) with an async "
        "no-op worker (the producer fetches up to C and acks in batches)"
    )

    def setup(self, ctx: Ctx) -> None:
        async def main() -> None:
            from oban import schema
            from psycopg_pool import AsyncConnectionPool

            async with AsyncConnectionPool(ctx.url, min_size=1, max_size=2, open=False) as pool:
                await schema.install(pool)

        asyncio.run(main())

    def enqueue(self, ctx: Ctx, n: int) -> float:
        async def main() -> float:
            from oban import Oban as ObanApp
            from psycopg_pool import AsyncConnectionPool

            worker_cls = oban_worker()
            async with AsyncConnectionPool(ctx.url, min_size=1, max_size=2, open=False) as pool:
                oban = ObanApp(pool=pool)
                await pool.wait()
                start = time.perf_counter()
                jobs = [worker_cls.new({"n": i}) for i in range(n)]
                await oban.enqueue_many(jobs)
                return time.perf_counter() - start

        return asyncio.run(main())

    def remaining(self, ctx: Ctx) -> int:
        return _pg_scalar(ctx.url, "select count(*) from oban_jobs where state <> 'completed'")

    def clear(self, ctx: Ctx) -> None:
        _pg_exec(ctx.url, "truncate oban_jobs")

    def work(self, ctx: Ctx, go: Any) -> None:
        async def main() -> None:
            from oban import Oban as ObanApp
            from psycopg_pool import AsyncConnectionPool

            oban_worker()
            stopping = asyncio.Event()
            async with AsyncConnectionPool(ctx.url, min_size=2, max_size=10, open=False) as pool:
                await pool.wait()
                await _wait_go(go)
                _stop_on_sigterm(stopping.set)
                async with ObanApp(pool=pool, queues={QUEUE: ctx.concurrency}):
                    await stopping.wait()

        asyncio.run(main())


# --- huey (SQLite) -------------------------------------------------------------


def _huey(path: str, fsync: bool | None = None) -> Any:
    from huey import SqliteHuey

    # fsync=None keeps SQLite's default (synchronous=FULL under WAL: an fsync
    # per commit); fsync=False sets synchronous=OFF.
    huey = SqliteHuey("bench", filename=path, results=False, fsync=fsync)

    @huey.task(name="noop")
    def noop(n: int) -> None:
        _tick()

    return huey, noop


class Huey(Runner):
    backend = "sqlite"
    package = "huey"

    def __init__(self, *, fsync: bool = True) -> None:
        self.fsync = fsync
        self.name = "huey" if fsync else "huey-nofsync"
        self.describe = (
            "SqliteHuey(results=False), task.map() (huey has no bulk insert: one INSERT "
            "per job); consumer with 1 thread per process (C is not used: a huey worker "
            "dequeues one task at a time), WAL, "
            + (
                "defaults otherwise (synchronous=FULL: an fsync per commit)"
                if fsync
                else "fsync=False (synchronous=OFF: no fsync per commit)"
            )
        )

    def _open(self, ctx: Ctx) -> Any:
        return _huey(ctx.url, None if self.fsync else False)

    def enqueue(self, ctx: Ctx, n: int) -> float:
        huey, noop = self._open(ctx)
        try:
            start = time.perf_counter()
            noop.map(range(n))
            return time.perf_counter() - start
        finally:
            huey.storage.close()

    def remaining(self, ctx: Ctx) -> int:
        huey, _ = self._open(ctx)
        try:
            return int(huey.pending_count())
        finally:
            huey.storage.close()

    def clear(self, ctx: Ctx) -> None:
        huey, _ = self._open(ctx)
        try:
            huey.flush()
        finally:
            huey.storage.close()

    def work(self, ctx: Ctx, go: Any) -> None:
        import logging

        logging.getLogger("huey").setLevel(logging.WARNING)
        huey, _ = self._open(ctx)
        consumer = huey.create_consumer(workers=1, periodic=False, initial_delay=0.01)
        go.wait()
        consumer.run()  # handles SIGTERM itself (graceful stop)


# --- chronolog -----------------------------------------------------------------


def _chronolog_available() -> bool:
    from chronolog.jobs import Jobs

    return all(hasattr(Jobs, name) for name in ("enqueue_many", "claim", "complete"))


class ChronologRunner(Runner):
    package = "chronolog"

    def __init__(self, backend: str, *, loop: bool = False, synchronous: str = "") -> None:
        self.backend = backend
        self.loop = loop
        # SQLite: "" is chronolog's default (WAL, synchronous=NORMAL: no fsync per
        # commit); "full" fsyncs every commit, like huey's default.
        self.synchronous = synchronous
        # PostgreSQL commits with an fsync (synchronous_commit=on, the default).
        self.fsync = backend == "postgresql" or synchronous in ("full", "extra")
        self.name = f"chronolog-{'pg' if backend == 'postgresql' else 'sqlite'}"
        if synchronous:
            self.name += f"-{synchronous}"
        if loop:
            self.name += "-loop"
            self.describe = (
                "cl.jobs.enqueue_many() (one transaction); drain: a bare loop of "
                "claim(limit=C) + complete_many() of the claimed batch"
            )
        else:
            self.describe = (
                "cl.jobs.enqueue_many() (one transaction); drain: chronolog.jobs.Worker("
                "concurrency=C) running a sync no-op handler (what `chronolog worker` runs)"
            )
        if backend == "sqlite":
            self.describe += (
                f"; WAL, synchronous={synchronous.upper()} (an fsync per commit)"
                if self.fsync
                else "; WAL, synchronous=NORMAL (chronolog's default: no fsync per commit)"
            )
        self._poller: Any = None  # the parent's open store, to poll for completion

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_poller": None}  # the parent's store stays home

    def _url(self, ctx: Ctx) -> str:
        if self.backend == "sqlite":
            query = f"?synchronous={self.synchronous}" if self.synchronous else ""
            return f"sqlite:///{ctx.url}{query}"
        return ctx.url.replace("postgresql://", "postgresql+psycopg://", 1)

    def _open(self, ctx: Ctx) -> Any:
        from chronolog import Chronolog

        return Chronolog(self._url(ctx))

    def setup(self, ctx: Ctx) -> None:
        self._open(ctx).close()

    def enqueue(self, ctx: Ctx, n: int) -> float:
        with self._open(ctx) as cl:
            specs = [{"kind": "noop", "payload": {"n": i}, "queue": QUEUE} for i in range(n)]
            start = time.perf_counter()
            cl.jobs.enqueue_many(specs)
            return time.perf_counter() - start

    def remaining(self, ctx: Ctx) -> int:
        if self._poller is None:
            self._poller = self._open(ctx)
        counts = self._poller.jobs.counts().get(QUEUE, {})
        return sum(v for state, v in counts.items() if state != "completed")

    def close(self) -> None:
        if self._poller is not None:
            self._poller.close()
            self._poller = None

    def clear(self, ctx: Ctx) -> None:
        import sqlalchemy as sa

        with self._open(ctx) as cl, cl.store.engine.begin() as conn:
            conn.execute(sa.text("delete from job_logs"))
            conn.execute(sa.text("delete from jobs"))

    def work(self, ctx: Ctx, go: Any) -> None:
        if not self.loop:
            from chronolog.jobs.worker import Worker

            with self._open(ctx) as cl:
                worker = Worker(
                    cl.jobs,
                    {"noop": lambda job: _tick()},
                    queues=[QUEUE],
                    concurrency=ctx.concurrency,
                    lease=60,
                    name=f"bench-{os.getpid()}",
                )
                go.wait()
                worker.run(install_signals=True)
            return
        stop = False

        def on_term(*_: Any) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_term)
        with self._open(ctx) as cl:
            name = f"bench-{os.getpid()}"
            jobs = cl.jobs
            go.wait()
            while not stop:
                claimed = jobs.claim([QUEUE], name, limit=ctx.concurrency, lease=60)
                if not claimed:
                    time.sleep(0.005)
                    continue
                for _job in claimed:
                    _tick()
                jobs.complete_many([(job.id, job.lease) for job in claimed])


# ---------------------------------------------------------------------------
# Driving the runs.


def _child(
    runner: Runner, ctx: Ctx, slot: int, counts: Any, first: Any, ready: Any, go: Any
) -> None:
    global _COUNTS, _FIRST, _SLOT
    _COUNTS, _FIRST, _SLOT = counts, first, slot
    ready.put(slot)
    runner.work(ctx, go)


def drain(runner: Runner, ctx: Ctx, n: int, processes: int, timeout: float) -> tuple[float, int]:
    """Drain n pending jobs with `processes` workers; (seconds, handler calls)."""
    spawn = mp.get_context("spawn")
    counts = spawn.Array("q", processes, lock=False)
    first = spawn.Array("d", processes, lock=False)
    ready = spawn.Queue()
    go = spawn.Event()
    procs = [
        spawn.Process(
            target=_child, args=(runner, ctx, slot, counts, first, ready, go), daemon=True
        )
        for slot in range(processes)
    ]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            ready.get(timeout=60)
        time.sleep(0.3)  # let the children finish importing and reach go.wait()
        go.set()
        started = time.time()
        deadline = started + timeout
        while True:
            if sum(counts) >= n and runner.remaining(ctx) == 0:
                break
            if not any(proc.is_alive() for proc in procs):
                raise RuntimeError(f"{runner.name}: every worker process exited")
            if time.time() > deadline:
                raise TimeoutError(f"{runner.name}: {sum(counts)}/{n} done after {timeout}s")
            time.sleep(0.01)
        ended = time.time()
        begun = min((first[i] for i in range(processes) if first[i] > 0), default=started)
        return ended - begun, sum(counts)
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
                proc.join()


@contextlib.contextmanager
def database(runner: Runner, pg_admin: str, tmp: str) -> Iterator[str]:
    """A fresh database (PostgreSQL) or file (SQLite) for one runner."""
    if runner.backend == "sqlite":
        path = os.path.join(tmp, f"{runner.name}.db")
        yield path
        return
    dbname = f"jobs_peers_{runner.name.replace('-', '_')}_{os.getpid()}"
    _pg_exec(pg_admin, f'drop database if exists "{dbname}" with (force)')
    _pg_exec(pg_admin, f'create database "{dbname}"')
    try:
        yield pg_admin.rsplit("/", 1)[0] + "/" + dbname
    finally:
        _pg_exec(pg_admin, f'drop database if exists "{dbname}" with (force)')


@dataclass
class Result:
    runner: str
    backend: str
    enqueue: float = 0.0  # best jobs/s over the rounds
    drain1: float = 0.0
    drain_n: float = 0.0
    note: str = ""
    failed: bool = False


def one_round(runner: Runner, ctx: Ctx, args: argparse.Namespace, res: Result) -> None:
    """Enqueue, drain with 1 worker, enqueue, drain with --workers; keep the best figures."""
    n = args.jobs
    for processes in (1, args.workers):
        secs = runner.enqueue(ctx, n)
        res.enqueue = max(res.enqueue, n / secs)
        if args.analyze:
            runner.analyze(ctx)
        secs, calls = drain(runner, ctx, n, processes, args.timeout)
        if calls != n:
            res.note += f" drain with {processes} ran {calls} handler calls for {n} jobs;"
        if processes == 1:
            res.drain1 = max(res.drain1, n / secs)
        else:
            res.drain_n = max(res.drain_n, n / secs)
        runner.clear(ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000, help="jobs per phase (N)")
    parser.add_argument(
        "--workers", type=int, default=4, help="worker processes for the N-worker drain"
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, help="jobs in flight per worker process (C)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds; best figure kept")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per drain before giving up"
    )
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="drain on fresh tables without ANALYZE (PostgreSQL plans then assume empty tables)",
    )
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin conninfo"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated runner names (default: all available)"
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so worker processes and databases are cleaned up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    # SQLite is run twice per queue, like for like: an fsync per commit (huey's
    # default, chronolog ?synchronous=full) and none (huey fsync=False,
    # chronolog's default synchronous=NORMAL under WAL).
    runners: list[Runner] = [Procrastinate(), PgQueuer(), Oban(), Huey(), Huey(fsync=False)]
    optional: list[Runner] = []
    if _chronolog_available():
        runners = [
            ChronologRunner("postgresql"),
            *runners,
            ChronologRunner("sqlite"),
            ChronologRunner("sqlite", synchronous="full"),
        ]
        # Not run by default (slow at this stage); name them in --only to compare
        # the worker runtime with a bare claim/complete loop.
        optional = [ChronologRunner("postgresql", loop=True), ChronologRunner("sqlite", loop=True)]
    else:
        print("chronolog: no cl.jobs in this checkout yet: peers only\n")
    if args.only:
        wanted = set(args.only.split(","))
        runners = [r for r in [*runners, *optional] if r.name in wanted]

    print(
        f"jobs_peers: N={args.jobs} no-op jobs, drain with 1 and {args.workers} worker "
        f"processes, C={args.concurrency} in flight per process, best of {args.repeat}, "
        f"{'ANALYZE before each drain' if args.analyze else 'fresh tables, no ANALYZE'}; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    for runner in runners:
        print(f"  {runner.name} {runner.version()}: {runner.describe}")
    print()

    tmp = tempfile.mkdtemp(prefix="jobs_peers_")
    results = [Result(r.name, r.backend) for r in runners]
    load = [os.getloadavg()[0]]
    try:
        with contextlib.ExitStack() as stack:
            ctxs: list[Ctx | None] = []
            for runner, res in zip(runners, results, strict=True):
                try:
                    url = stack.enter_context(database(runner, args.pg, tmp))
                    made = Ctx(url=url, concurrency=args.concurrency)
                    runner.setup(made)
                    stack.callback(runner.close)
                    ctxs.append(made)
                except Exception as exc:
                    res.failed, res.note = True, f"setup failed: {exc!r}"
                    ctxs.append(None)
            # Rounds interleave the queues so that a burst of load on the machine
            # hits them all alike; the best figure of each is kept.
            for round_no in range(1, args.repeat + 1):
                for runner, maybe, res in zip(runners, ctxs, results, strict=True):
                    if maybe is None or res.failed:
                        continue
                    try:
                        one_round(runner, maybe, args, res)
                    except Exception as exc:  # report and go on with the other queues
                        res.failed, res.note = True, f"failed: {exc!r}"
                    print(
                        f"  round {round_no} {res.runner}: best so far enqueue {res.enqueue:,.0f}/s "
                        f"drain1 {res.drain1:,.0f}/s drain{args.workers} {res.drain_n:,.0f}/s "
                        f"(load {os.getloadavg()[0]:.1f}) {res.note}",
                        flush=True,
                    )
                    load.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n1-minute load average during the run: {min(load):.1f} to {max(load):.1f}")

    print()
    head = f"{'queue':<22} {'db':<10} {'enqueue/s':>10} {'drain 1w/s':>11} {'drain ' + str(args.workers) + 'w/s':>11}"
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.runner:<22} {r.backend:<10} {r.enqueue:>10,.0f} {r.drain1:>11,.0f} "
            f"{r.drain_n:>11,.0f}  {r.note.strip()}"
        )
    # chronolog's figures per (database, fsync per commit): each peer is compared
    # with the chronolog run of the same database and the same durability.
    ours: dict[tuple[str, bool], Result] = {}
    for runner, r in zip(runners, results, strict=True):
        if r.runner.startswith("chronolog") and not r.runner.endswith("-loop"):
            ours.setdefault((r.backend, runner.fsync), r)
    if ours:
        print(
            "\nratios chronolog / peer on the same database and durability (> 1: chronolog ahead)"
        )
        print(
            f"{'peer':<17} {'against':<22} {'enqueue':>8} {'drain 1w':>9} {'drain ' + str(args.workers) + 'w':>9}"
        )
        for runner, r in zip(runners, results, strict=True):
            mine = ours.get((r.backend, runner.fsync))
            if mine is None or r.runner.startswith("chronolog"):
                continue

            def ratio(a: float, b: float) -> str:
                return f"{a / b:.2f}x" if a and b else "-"

            print(
                f"{r.runner:<17} {mine.runner:<22} {ratio(mine.enqueue, r.enqueue):>8} "
                f"{ratio(mine.drain1, r.drain1):>9} {ratio(mine.drain_n, r.drain_n):>9}"
            )


if __name__ == "__main__":
    # Run as the module `benchmarks.jobs_peers` (not `__main__`) so worker
    # processes and task registries (huey, oban) name the same classes in every
    # process. Run as a script, Python put benchmarks/ first on sys.path, where
    # benchmarks/http.py shadows the standard library's `http` (httpx, which
    # chronolog imports, needs it): replace it with the repository root.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    sys.path.insert(0, os.path.dirname(_here))
    from benchmarks import jobs_peers

    jobs_peers.main()
