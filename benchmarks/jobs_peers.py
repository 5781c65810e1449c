"""chronolog's job queue against its peers: pgqueuer, procrastinate, oban, huey.

Same workload for every queue, in one invocation, on this machine; each
round gives every queue a **new database** (PostgreSQL, created and dropped
here) or a **new file** (SQLite) for each of its two drains, and nothing runs
ANALYZE (a new deployment's first burst of jobs meets tables the planner has
no statistics for), except on the ``-analyzed`` row, which runs it between
the enqueue and the drain:

1. **enqueue**: one bulk enqueue of N no-op jobs through the queue's own bulk
   API (timed in the parent process, connection already open);
2. **drain**: the N pending jobs claimed, run and completed by the queue's own
   worker runtime, first with 1 worker process, then with ``--workers``. Each
   process runs the queue's worker at its defaults with ``--concurrency``
   jobs in flight where it has such a knob. chronolog's workers are
   ``chronolog worker benchmarks.peers.handlers:HANDLERS --concurrency C``
   processes, started from the command line as a user would. Every worker
   process is started and fully imported before the clock starts (it waits on
   the shared scoreboard, ``benchmarks/peers/board.py``); the clock runs from
   the first handler call to the moment every job is completed and the
   handlers have counted N calls.

Rounds interleave the queues (a burst of load on this shared machine hits
them alike); the best figure of each is kept, and the ratios chronolog ÷
peer are printed with the issue's targets.

Run it from the peers' environment (``benchmarks/peers/setup.sh`` creates it)::

    benchmarks/.venv-peers/bin/python benchmarks/jobs_peers.py --jobs 20000
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if __name__ == "__main__":
    # Run as a script, Python put benchmarks/ first on sys.path, where
    # benchmarks/http.py shadows the standard library's ``http`` (httpx, which
    # chronolog imports, needs it): replace it with the repository root.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
    sys.path.insert(0, ROOT)

from benchmarks.peers.board import Board, join, tick  # noqa: E402

QUEUE = "bench"


@dataclass
class Ctx:
    """What a runner needs to reach its database."""

    url: str  # PostgreSQL conninfo, or SQLite file path
    concurrency: int
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Runners. Each one: setup(ctx), enqueue(ctx, n) -> seconds, remaining(ctx) ->
# jobs not yet completed, work(ctx, board) in a child process (or, for
# chronolog, its own worker processes: see ``ChronologRunner.spawn``).


class Runner(abc.ABC):
    """One queue's harness; every peer implements the steps below."""

    name = ""
    backend = "postgresql"
    package = ""
    describe = ""
    # SQLite only: does every commit wait for an fsync? (huey's default and
    # chronolog's ?synchronous=full do; fsync=False and WAL's NORMAL do not.)
    # Ratios compare queues with the same answer only.
    fsync = True
    analyzed = False  # ANALYZE between the enqueue and the drain

    def setup(self, ctx: Ctx) -> None:  # noqa: B027 - optional step, empty by default
        """Prepare the queue's schema or files (optional)."""

    @abc.abstractmethod
    def enqueue(self, ctx: Ctx, n: int) -> float:
        """See the module comment above."""

    @abc.abstractmethod
    def remaining(self, ctx: Ctx) -> int:
        """See the module comment above."""

    @abc.abstractmethod
    def work(self, ctx: Ctx, go: Board) -> None:
        """Run the peer's worker in this (child) process until SIGTERM."""

    def spawn(self, ctx: Ctx, board: Board, slot: int, slots: int) -> Any:
        """Start worker process ``slot``: by default a multiprocessing child running ``work``."""
        proc = mp.get_context("spawn").Process(
            target=_child, args=(self, ctx, board.name, slots, slot), daemon=True
        )
        proc.start()
        return proc

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


async def _await_go(go: Board) -> None:
    await asyncio.to_thread(go.wait_go)


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
        tick()

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

    def work(self, ctx: Ctx, go: Board) -> None:
        async def main() -> None:
            app, _ = _procrastinate_app(ctx.url)
            async with app.open_async():
                await _await_go(go)
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

    def work(self, ctx: Ctx, go: Board) -> None:
        async def main() -> None:
            import asyncpg
            from pgqueuer.db import AsyncpgDriver
            from pgqueuer.qm import QueueManager
            from pgqueuer.queries import Queries

            conn = await asyncpg.connect(ctx.url)
            qm = QueueManager(Queries(AsyncpgDriver(conn)))

            @qm.entrypoint("noop")
            async def noop(job: Any) -> None:
                tick()

            await _await_go(go)
            _stop_on_sigterm(qm.shutdown.set)
            await qm.run(batch_size=ctx.concurrency)

        asyncio.run(main())


# --- oban --------------------------------------------------------------------


def _oban_worker() -> Any:
    from oban import worker

    @worker(queue=QUEUE)
    class NoopWorker:
        async def process(self, job: Any) -> None:
            tick()

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

    def work(self, ctx: Ctx, go: Board) -> None:
        async def main() -> None:
            from oban import Oban as ObanApp
            from psycopg_pool import AsyncConnectionPool

            oban_worker()
            stopping = asyncio.Event()
            async with AsyncConnectionPool(ctx.url, min_size=2, max_size=10, open=False) as pool:
                await pool.wait()
                await _await_go(go)
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
        tick()

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

    def work(self, ctx: Ctx, go: Board) -> None:
        import logging

        logging.getLogger("huey").setLevel(logging.WARNING)
        huey, _ = self._open(ctx)
        consumer = huey.create_consumer(workers=1, periodic=False, initial_delay=0.01)
        go.wait_go()
        consumer.run()  # handles SIGTERM itself (graceful stop)


# --- chronolog ---------------------------------------------------------------


class ChronologRunner(Runner):
    """chronolog: ``enqueue_many`` in the parent; ``chronolog worker`` processes drain."""

    package = "chronolog"

    def __init__(self, backend: str, *, synchronous: str = "", analyzed: bool = False) -> None:
        self.backend = backend
        self.analyzed = analyzed
        # SQLite: "" is chronolog's default (WAL, synchronous=NORMAL: no fsync per
        # commit); "full" fsyncs every commit, like huey's default.
        self.synchronous = synchronous
        # PostgreSQL commits with an fsync (synchronous_commit=on, the default).
        self.fsync = backend == "postgresql" or synchronous in ("full", "extra")
        self.name = f"chronolog-{'pg' if backend == 'postgresql' else 'sqlite'}"
        if synchronous:
            self.name += f"-{synchronous}"
        if analyzed:
            self.name += "-analyzed"
        self.describe = (
            "cl.jobs.enqueue_many() (one transaction); drain: `chronolog worker "
            "benchmarks.peers.handlers:HANDLERS --concurrency C` processes, a sync no-op handler"
        )
        if analyzed:
            self.describe += "; ANALYZE after the enqueue"
        if backend == "sqlite":
            self.describe += (
                f"; WAL, synchronous={synchronous.upper()} (an fsync per commit)"
                if self.fsync
                else "; WAL, synchronous=NORMAL (chronolog's default: no fsync per commit)"
            )
        self._poller: Any = None

    def _url(self, ctx: Ctx) -> str:
        if self.backend == "sqlite":
            query = f"?synchronous={self.synchronous}" if self.synchronous else ""
            return f"sqlite:///{ctx.url}{query}"
        return ctx.url

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

    def analyze(self, ctx: Ctx) -> None:
        if self.backend == "postgresql":
            _pg_exec(ctx.url, "analyze")
        else:
            with self._open(ctx) as cl:
                cl.store.optimize()

    def remaining(self, ctx: Ctx) -> int:
        if self.backend == "postgresql":
            return _pg_scalar(ctx.url, "select count(*) from jobs where state <> 'completed'")
        import sqlite3

        with contextlib.closing(sqlite3.connect(ctx.url, timeout=30)) as conn:
            return int(
                conn.execute("select count(*) from jobs where state <> 'completed'").fetchone()[0]
            )

    def work(self, ctx: Ctx, go: Board) -> None:  # pragma: no cover - spawn() runs the CLI
        raise NotImplementedError

    def spawn(self, ctx: Ctx, board: Board, slot: int, slots: int) -> Any:
        cli = os.path.join(os.path.dirname(sys.executable), "chronolog")
        env = {
            **os.environ,
            "JOBS_PEERS_BOARD": board.name,
            "JOBS_PEERS_SLOT": str(slot),
            "JOBS_PEERS_SLOTS": str(slots),
            "PYTHONPATH": ROOT,
        }
        return subprocess.Popen(
            [
                cli,
                "worker",
                "benchmarks.peers.handlers:HANDLERS",
                "--concurrency",
                str(ctx.concurrency),
                "--db",
                self._url(ctx),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


# ---------------------------------------------------------------------------
# Driving the runs.


def _child(runner: Runner, ctx: Ctx, board_name: str, slots: int, slot: int) -> None:
    board = join(board_name, slots, slot, untrack=False)
    board.mark_ready(slot)
    runner.work(ctx, board)


def _alive(proc: Any) -> bool:
    return proc.poll() is None if isinstance(proc, subprocess.Popen) else proc.is_alive()


def drain(runner: Runner, ctx: Ctx, n: int, processes: int, timeout: float) -> tuple[float, int]:
    """Drain n pending jobs with ``processes`` workers; (seconds, handler calls)."""
    board = Board(processes)
    procs = [runner.spawn(ctx, board, slot, processes) for slot in range(processes)]
    try:
        deadline = time.time() + 120
        while board.ready() < processes:
            if time.time() > deadline or not all(_alive(p) for p in procs):
                raise RuntimeError(f"{runner.name}: worker processes did not start")
            time.sleep(0.01)
        time.sleep(0.3)  # let them reach the wait
        board.go()
        started = time.time()
        deadline = started + timeout
        while True:
            # The handlers' count first (shared memory, free); the database only at the end.
            if board.calls() >= n and runner.remaining(ctx) == 0:
                break
            if not any(_alive(p) for p in procs):
                raise RuntimeError(f"{runner.name}: every worker process exited")
            if time.time() > deadline:
                raise TimeoutError(f"{runner.name}: {board.calls()}/{n} done after {timeout}s")
            time.sleep(0.01)
        ended = time.time()
        return ended - (board.first_call() or started), board.calls()
    finally:
        for proc in procs:
            if _alive(proc):
                proc.send_signal(signal.SIGTERM) if isinstance(proc, subprocess.Popen) else (
                    os.kill(proc.pid, signal.SIGTERM)
                )
        for proc in procs:
            try:
                proc.wait(15) if isinstance(proc, subprocess.Popen) else proc.join(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            if _alive(proc):
                proc.kill()
        board.close()


@contextlib.contextmanager
def database(runner: Runner, pg_admin: str, tmp: str, tag: str) -> Iterator[str]:
    """A new database (PostgreSQL) or file (SQLite) for one drain."""
    if runner.backend == "sqlite":
        directory = tempfile.mkdtemp(dir=tmp)
        try:
            yield os.path.join(directory, f"{runner.name}.db")
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    dbname = f"jobs_peers_{runner.name.replace('-', '_')}_{tag}_{os.getpid()}"
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


def one_round(runner: Runner, args: argparse.Namespace, res: Result, tmp: str) -> None:
    """Two drains (1 and --workers processes), each on a new database: setup, enqueue, drain."""
    n = args.jobs
    for processes in (1, args.workers):
        with database(runner, args.pg, tmp, f"w{processes}") as url:
            ctx = Ctx(url=url, concurrency=args.concurrency)
            runner.setup(ctx)
            try:
                secs = runner.enqueue(ctx, n)
                res.enqueue = max(res.enqueue, n / secs)
                if runner.analyzed:
                    runner.analyze(ctx)
                secs, calls = drain(runner, ctx, n, processes, args.timeout)
            finally:
                runner.close()
        if calls != n:
            res.note += f" drain with {processes} ran {calls} handler calls for {n} jobs;"
        if processes == 1:
            res.drain1 = max(res.drain1, n / secs)
        else:
            res.drain_n = max(res.drain_n, n / secs)


def _ratio(a: float, b: float) -> float:
    return a / b if a and b else 0.0


def targets(results: dict[str, Result], workers: int) -> list[tuple[str, float, float]]:
    """(target, measured ratio, required ratio) for the figures this run has."""
    rows: list[tuple[str, float, float]] = []

    def add(label: str, mine: str, peer: str, attr: str, want: float) -> None:
        if mine in results and peer in results:
            rows.append(
                (label, _ratio(getattr(results[mine], attr), getattr(results[peer], attr)), want)
            )

    add(
        "PostgreSQL drain, 1 process: chronolog ÷ pgqueuer",
        "chronolog-pg",
        "pgqueuer",
        "drain1",
        1.0,
    )
    add(
        f"PostgreSQL drain, {workers} processes: chronolog ÷ pgqueuer",
        "chronolog-pg",
        "pgqueuer",
        "drain_n",
        1.0,
    )
    add("fresh ÷ analysed, drain 1 process", "chronolog-pg", "chronolog-pg-analyzed", "drain1", 0.9)
    add(
        f"fresh ÷ analysed, drain {workers} processes",
        "chronolog-pg",
        "chronolog-pg-analyzed",
        "drain_n",
        0.9,
    )
    add(
        "PostgreSQL enqueue_many ÷ pgqueuer's batch enqueue",
        "chronolog-pg",
        "pgqueuer",
        "enqueue",
        1.0,
    )
    for attr, label in (("drain1", "1 process"), ("drain_n", f"{workers} processes")):
        add(
            f"SQLite drain, {label}: chronolog ?synchronous=full ÷ huey (fsync)",
            "chronolog-sqlite-full",
            "huey",
            attr,
            1.5,
        )
        add(
            f"SQLite drain, {label}: chronolog (default) ÷ huey fsync=False",
            "chronolog-sqlite",
            "huey-nofsync",
            attr,
            1.0,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20000, help="jobs per drain (N)")
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
        "--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin conninfo"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated runner names (default: all of them)"
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so worker processes and databases are cleaned up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    # SQLite is run twice per queue, like for like: an fsync per commit (huey's
    # default, chronolog ?synchronous=full) and none (huey fsync=False,
    # chronolog's default synchronous=NORMAL under WAL).
    runners: list[Runner] = [
        ChronologRunner("postgresql"),
        ChronologRunner("postgresql", analyzed=True),
        PgQueuer(),
        Procrastinate(),
        Oban(),
        ChronologRunner("sqlite"),
        ChronologRunner("sqlite", synchronous="full"),
        Huey(),
        Huey(fsync=False),
    ]
    if args.only:
        wanted = set(args.only.split(","))
        runners = [r for r in runners if r.name in wanted]

    print(
        f"jobs_peers: N={args.jobs} no-op jobs, drain with 1 and {args.workers} worker "
        f"processes, C={args.concurrency} in flight per process, best of {args.repeat} "
        f"alternating rounds, a new database (file) per drain, no ANALYZE but on -analyzed "
        f"rows; Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    for runner in runners:
        print(f"  {runner.name} {runner.version()}: {runner.describe}")
    print(flush=True)

    tmp = tempfile.mkdtemp(prefix="jobs_peers_")
    results = {r.name: Result(r.name, r.backend) for r in runners}
    load = [os.getloadavg()[0]]
    try:
        for round_no in range(1, args.repeat + 1):
            for runner in runners:
                res = results[runner.name]
                if res.failed:
                    continue
                try:
                    one_round(runner, args, res, tmp)
                except Exception as exc:  # report and go on with the other queues
                    res.failed, res.note = True, f"failed: {exc!r}"
                load.append(os.getloadavg()[0])
                print(
                    f"  round {round_no} {res.runner}: best so far enqueue {res.enqueue:,.0f}/s "
                    f"drain1 {res.drain1:,.0f}/s drain{args.workers} {res.drain_n:,.0f}/s "
                    f"(load {load[-1]:.1f}) {res.note}",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n1-minute load average during the run: {min(load):.1f} to {max(load):.1f}")

    print()
    head = (
        f"{'queue':<24} {'db':<10} {'enqueue/s':>10} {'drain 1w/s':>11} "
        f"{'drain ' + str(args.workers) + 'w/s':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in results.values():
        print(
            f"{r.runner:<24} {r.backend:<10} {r.enqueue:>10,.0f} {r.drain1:>11,.0f} "
            f"{r.drain_n:>11,.0f}  {r.note.strip()}"
        )
    rows = targets(results, args.workers)
    if rows:
        print("\ntargets (chronolog ÷ peer, same run, best of the rounds)")
        for label, got, want in rows:
            mark = "met" if got >= want else "MISSED"
            print(f"  {label:<66} {got:>6.2f}x  (target >= {want:.1f}x)  {mark}")


if __name__ == "__main__":
    # Run as the module ``benchmarks.jobs_peers`` (not ``__main__``) so worker
    # processes and task registries (huey, oban) name the same classes in every
    # process.
    from benchmarks import jobs_peers

    jobs_peers.main()
