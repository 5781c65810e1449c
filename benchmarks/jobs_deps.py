"""What job dependencies cost a drain, on SQLite and PostgreSQL.

Two questions, each answered with ratios of drain times (lower = faster;
1.00 = the same):

1. **The dependency check, for users who use none** (the hot path): the same
   drain of N plain jobs by this code and by the code before dependencies
   existed (``--before REV``, default ``main``'s merge base with this branch;
   its ``src/`` is unpacked from git into a temp dir and run in a child
   process, alternating with this code, each on its own fresh database).
2. **The dependency bookkeeping, for users who use it**: in this process, the
   drain of N jobs where every job but the first of each chain runs after the
   one before it (chains of ``--chain`` stages), and of N jobs all released by
   one root (fan-out), against the drain of N jobs without dependencies.

A drain is W threads (default 1), each looping ``complete_and_claim`` with
batches of B (what ``chronolog worker`` does), until all N jobs completed.
Enqueueing is not timed. Every figure is the best (minimum) of ``--runs``
runs, each on a fresh database: on a machine shared with other work the
minimum is the figure least disturbed by it (the median is printed too).

Run: ``PYTHONPATH=. .venv/bin/python -m benchmarks.jobs_deps [--jobs 4000] [--runs 3]``
(PostgreSQL from ``CHRONOLOG_BENCH_PG_URL``, skipped when it does not answer).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def drain(url: str, n: int, shape: str, chain: int, workers: int, batch: int) -> float:
    """Enqueue ``n`` jobs of ``shape`` (plain, chains, fanout) and time their drain."""
    from chronolog import Chronolog, NewJob  # the code under test: this one or --before's

    with Chronolog(url) as cl:
        if shape == "plain":
            for start in range(0, n, 1000):
                cl.jobs.enqueue_many([NewJob("noop")] * min(1000, n - start))
        elif shape == "chains":
            stages = [
                NewJob("noop", ref=f"s{i}", after=(f"s{i - 1}",) if i else ()) for i in range(chain)
            ]
            for _ in range(n // chain):
                cl.jobs.enqueue_many(stages)
        elif shape == "fanout":
            root = cl.jobs.enqueue("noop")
            for start in range(0, n - 1, 1000):
                cl.jobs.enqueue_many([NewJob("noop", after=(root.id,))] * min(1000, n - 1 - start))
        else:  # pragma: no cover
            raise ValueError(shape)
        done = threading.Event()
        completed = [0]
        lock = threading.Lock()

        def work() -> None:
            with Chronolog(url) as mine:
                finished: list[tuple[int, int]] = []
                idle = 0
                while not done.is_set():
                    ids, claimed = mine.jobs.complete_and_claim(finished, None, limit=batch)
                    with lock:
                        completed[0] += len(ids)
                        if completed[0] >= n:
                            done.set()
                    finished = [(j.id, j.lease) for j in claimed]
                    if not claimed and not finished:
                        idle += 1
                        time.sleep(0.001 if idle < 100 else 0.01)
                    else:
                        idle = 0

        threads = [threading.Thread(target=work) for _ in range(workers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        counts = cl.jobs.counts()
        assert counts == {"default": {"completed": n}}, counts
        return elapsed


@contextmanager
def fresh(kind: str) -> Iterator[str]:
    """A fresh database URL of ``kind`` (sqlite or postgresql)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks._dbs import postgres_url, sqlite_url

    ctx: AbstractContextManager[str] = sqlite_url() if kind == "sqlite" else postgres_url()
    with ctx as url:
        yield url


def _child(args: argparse.Namespace) -> None:
    """Run one timed drain and print its seconds (used for the --before code)."""
    with fresh(args.child) as url:
        print(json.dumps(drain(url, args.jobs, "plain", args.chain, args.workers, args.batch)))


def _before_tree(rev: str, into: str) -> str:
    """Unpack ``rev``'s ``src/`` into ``into``; return the path to put on sys.path."""
    archive = os.path.join(into, "src.tar")
    with open(archive, "wb") as out:
        subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return os.path.join(into, "src")


def _before_drain(src: str, kind: str, args: argparse.Namespace) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(ROOT)])}
    out = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.jobs_deps", "--child", kind, "--jobs", str(args.jobs),
            "--workers", str(args.workers), "--batch", str(args.batch),
        ],
        cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4000)
    parser.add_argument("--chain", type=int, default=4, help="stages per chain")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", default=None, help="git revision of the code before")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks._dbs import pg_available

    kinds = ["sqlite"] + (["postgresql"] if pg_available() else [])
    before = (
        args.before
        or subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The code before is the merge base's minus this branch's commits; a fixed pre-branch
    # revision can be named instead.
    print(
        f"jobs {args.jobs}, {args.workers} threads x batches of {args.batch}, "
        f"best and median of {args.runs} runs; before = {before[:12]}"
    )
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="chronolog-before-") as tmp:
        src = _before_tree(before, tmp)
        for kind in kinds:

            def one(shape: str, kind: str = kind) -> float:
                with fresh(kind) as url:
                    return drain(url, args.jobs, shape, args.chain, args.workers, args.batch)

            # Alternate before / after so drift of the machine hits both alike.
            pairs = [(_before_drain(src, kind, args), one("plain")) for _ in range(args.runs)]
            results[kind] = {
                "before": [p[0] for p in pairs],
                "plain": [p[1] for p in pairs],
                "chains": [one("chains") for _ in range(args.runs)],
                "fanout": [one("fanout") for _ in range(args.runs)],
            }
    print()
    print(f"{'database':<11} {'figure':<7} {'plain before':>13} {'plain now':>10} "
          f"{'now/before':>11} {'chains/plain':>13} {'fan-out/plain':>14}")  # fmt: skip
    for kind, row in results.items():
        for label, pick in (("best", min), ("median", statistics.median)):
            got = {k: pick(v) for k, v in row.items()}
            print(
                f"{kind:<11} {label:<7} {got['before']:>12.3f}s {got['plain']:>9.3f}s "
                f"{got['plain'] / got['before']:>11.2f} {got['chains'] / got['plain']:>13.2f} "
                f"{got['fanout'] / got['plain']:>14.2f}"
            )
    print(
        "\nnow/before: this code's drain of plain jobs over the code before dependencies "
        "(1.00 = no cost).\nchains/plain, fan-out/plain: a drain whose jobs wait for others "
        "over the same drain without dependencies."
    )


if __name__ == "__main__":
    main()
