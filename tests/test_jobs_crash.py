"""The crash test: worker processes drain thousands of jobs while the test SIGKILLs them.

At the end every job is completed exactly once in the bookkeeping (one
``completed`` event, a history that is one event per change, and the run
that completed it left its side effect), none is lost or stuck, and a killed
worker's late ``complete`` is refused with ``LeaseLost``. Handlers run at
least once: a killed worker's jobs run again elsewhere, and the number of
such repeats is bounded by what the killed workers held.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from chronolog import Chronolog, LeaseLost, NewJob
from chronolog.store.schema import events

ROOT = Path(__file__).resolve().parent.parent
JOBS = 1500
CONCURRENCY = 4
PROCESSES = 4
KILLS = 6
LEASE = 2.0
LAUNCH = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"


def _spawn(db_url: str, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "worker",
            "tests.jobs_handlers:CRASH",
            "--concurrency",
            str(CONCURRENCY),
            "--lease",
            str(LEASE),
            "--grace",
            "5",
            "--name",
            name,
            "--db",
            db_url,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_sigkilled_workers_lose_nothing_and_complete_nothing_twice(
    db_url: str, tmp_path: Path
) -> None:
    side = tmp_path / "side"
    side.mkdir()
    env = {**os.environ, "CHRONOLOG_TEST_SIDE_EFFECTS": str(side), "PYTHONPATH": str(ROOT)}
    rng = random.Random(4)
    with Chronolog(db_url) as cl:
        ids = cl.jobs.enqueue_many(
            # Long enough that the drain outlasts the kills however fast the queue gets
            # (16 slots x 50 ms: at most ~320 jobs/s, ~5 s for all of them).
            [NewJob("record", {"sleep": 0.05}, max_attempts=50) for _ in range(JOBS)]
        )
        workers = {f"w{n}": _spawn(db_url, f"w{n}", env) for n in range(PROCESSES)}
        spawned = PROCESSES
        killed: list[subprocess.Popen[bytes]] = []
        stale: list[tuple[int, int]] = []
        kills = 0
        deadline = time.monotonic() + 90
        try:
            # Let the workers start, then kill a random one holding jobs, KILLS times.
            while time.monotonic() < deadline and not cl.jobs.counts()["default"].get("completed"):
                time.sleep(0.2)
            while kills < KILLS and time.monotonic() < deadline:
                time.sleep(rng.uniform(0.2, 0.5))
                if cl.jobs.counts()["default"].get("completed") == JOBS:
                    break  # drained before every kill: the assert below says so
                running = cl.jobs.running(limit=100)
                holders = sorted({j.worker for j in running if j.worker in workers})
                if not holders:
                    continue
                name = rng.choice(holders)
                held = [j for j in running if j.worker == name]
                proc = workers.pop(name)
                proc.send_signal(signal.SIGKILL)
                killed.append(proc)
                kills += 1
                after_kill = [cl.jobs.get(j.id) for j in held]
                stale += [
                    (j.id, j.lease) for j in after_kill if j.state == "running" and j.worker == name
                ]
                new = f"w{spawned}"
                spawned += 1
                workers[new] = _spawn(db_url, new, env)
            while time.monotonic() < deadline:
                if cl.jobs.counts().get("default", {}).get("completed") == JOBS:
                    break
                time.sleep(0.3)
        finally:
            for proc in killed:
                proc.wait()
            for proc in workers.values():
                proc.send_signal(signal.SIGTERM)
            for proc in workers.values():
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:  # pragma: no cover - reported by the asserts
                    proc.kill()
                    proc.wait()

        assert kills == KILLS, cl.jobs.counts()
        assert cl.jobs.counts() == {"default": {"completed": JOBS}}, "jobs lost or stuck"
        with cl.store.read() as conn:
            completions = Counter(
                int(r[0])
                for r in conn.execute(
                    select(events.c.target_id).where(
                        events.c.event_type == "job", events.c.action == "completed"
                    )
                )
            )
            final = {
                r[0]: (r[1], r[2])
                for r in conn.execute(text("SELECT id, lease, history FROM jobs"))
            }
            moves = conn.execute(
                select(func.count()).select_from(events).where(events.c.event_type == "job")
            ).scalar_one()
        assert completions == Counter(dict.fromkeys(ids, 1)), "a job completed twice or never"
        final_lease = {job_id: lease for job_id, (lease, _) in final.items()}
        # Every change is one event: as many job events as moves the job rows counted.
        assert moves == sum(history for _, history in final.values())
        for job_id in rng.sample(ids, 20):
            history = cl.jobs.history(job_id)
            assert [m.sort_key for m in history] == list(range(1, len(history) + 1))
            assert all(b.from_state == a.to_state for a, b in itertools.pairwise(history))
            assert history[-1].to_state == "completed"

        runs: Counter[tuple[int, int]] = Counter()
        for path in side.iterdir():
            for line in path.read_text().splitlines():
                if line.strip():
                    job_id, lease = line.split()
                    runs[(int(job_id), int(lease))] += 1
        ran = Counter(job_id for job_id, _ in runs.elements())
        assert set(ran) == set(ids), "a job never ran"
        # The run that completed the job is the one holding its final lease.
        assert all(runs[(job_id, final_lease[job_id])] == 1 for job_id in ids)
        repeats = sum(ran.values()) - JOBS
        assert repeats <= KILLS * CONCURRENCY * 2, f"{repeats} repeated runs for {KILLS} kills"

        # A killed worker comes back late with its old lease: refused, nothing changes.
        assert stale, "no killed worker held a running job"
        for job_id, lease in stale:
            before = cl.jobs.get(job_id)
            with pytest.raises(LeaseLost):
                cl.jobs.complete(job_id, lease, {"late": True})
            assert cl.jobs.get(job_id) == before
        if cl.store.is_sqlite:
            with cl.store.read() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
