"""kill -9 mid-pipeline: worker processes run pipelines of stages while the test SIGKILLs
them. At the end every stage completed exactly once in the bookkeeping, each one was
released exactly once, and no stage started before the stage it runs after completed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from chronolog import Chronolog, NewJob
from chronolog.store.schema import events

from .test_jobs_crash import _spawn

PIPELINES = 40
STAGES = 4
PROCESSES = 3
KILLS = 4


@pytest.mark.slow
def test_sigkilled_workers_run_every_stage_once_and_in_order(db_url: str, tmp_path: Path) -> None:
    side = tmp_path / "side"
    side.mkdir()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "CHRONOLOG_TEST_SIDE_EFFECTS": str(side), "PYTHONPATH": str(root)}
    rng = random.Random(16)
    with Chronolog(db_url) as cl:
        pipes = [
            cl.jobs.pipeline(
                [
                    NewJob("record", {"sleep": 0.15, "stage": s}, max_attempts=50)
                    for s in range(STAGES)
                ],
                subject=("movie", n),
            )
            for n in range(PIPELINES)
        ]
        total = PIPELINES * STAGES
        workers = {f"w{n}": _spawn(db_url, f"w{n}", env) for n in range(PROCESSES)}
        spawned, kills = PROCESSES, 0
        killed: list[subprocess.Popen[bytes]] = []
        deadline = time.monotonic() + 90
        try:
            while kills < KILLS and time.monotonic() < deadline:
                time.sleep(rng.uniform(0.3, 0.6))
                running = cl.jobs.running(limit=100)
                holders = sorted({j.worker for j in running if j.worker in workers})
                if not holders:
                    continue
                proc = workers.pop(rng.choice(holders))
                proc.send_signal(signal.SIGKILL)
                killed.append(proc)
                kills += 1
                new = f"w{spawned}"
                spawned += 1
                workers[new] = _spawn(db_url, new, env)
            while time.monotonic() < deadline:
                if cl.jobs.counts().get("default", {}).get("completed") == total:
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

        assert kills == KILLS
        assert cl.jobs.counts() == {"default": {"completed": total}}, "stages lost or stuck"
        with cl.store.read() as conn:
            moves = [
                (int(r[0]), r[1], int(r[2]))
                for r in conn.execute(
                    select(events.c.target_id, events.c.action, events.c.id)
                    .where(events.c.event_type == "job")
                    .order_by(events.c.tx, events.c.id)
                )
            ]
        ids = [j.id for p in pipes for j in p.jobs]
        completed = Counter(i for i, action, _ in moves if action == "completed")
        assert completed == Counter(dict.fromkeys(ids, 1)), "a stage completed twice or never"
        ready = Counter(i for i, action, _ in moves if action == "ready")
        later = [j.id for p in pipes for j in p.jobs[1:]]
        assert ready == Counter(dict.fromkeys(later, 1)), "a stage released twice or never"
        position = {(i, action): n for n, (i, action, _) in enumerate(moves) if action != "running"}
        first_run = {}
        for n, (i, action, _) in enumerate(moves):
            if action == "running":
                first_run.setdefault(i, n)
        for pipe in pipes:
            for before, after in zip(pipe.jobs, pipe.jobs[1:], strict=False):
                # In the feed's order: released after the stage before completed, and
                # never claimed before that.
                assert position[(before.id, "completed")] < position[(after.id, "ready")]
                assert position[(after.id, "ready")] < first_run[after.id]
            final = cl.jobs.pipeline_get(pipe.id)
            assert final.state == "completed"
            assert all(j.waiting_for in (None, 0) for j in final.jobs)
        ran = Counter()
        for path in side.iterdir():
            for line in path.read_text().splitlines():
                if line.strip():
                    ran[int(line.split()[0])] += 1
        assert set(ran) == set(ids), "a stage never ran"
        if cl.store.is_sqlite:
            with cl.store.read() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
