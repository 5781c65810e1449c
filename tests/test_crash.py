"""Promise 1: a batch is written whole or not at all, also under kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

from sqlalchemy import text

from chronolog import Chronolog

BATCH = 400

WRITER = textwrap.dedent(
    """
    import sys
    from chronolog import Chronolog, NewEvent
    url, start = sys.argv[1], int(sys.argv[2])
    with Chronolog(url) as cl:
        print("ready", flush=True)
        for k in range(start, start + 10_000):
            cl.events.record_many(
                [NewEvent("crash", f"b{k}", metadata={"i": i, "pad": "x" * 200}) for i in range({batch})]
            )
    """
).replace("{batch}", str(BATCH))


def test_kill_9_never_leaves_half_a_batch(db_url: str) -> None:
    rng = random.Random(7)
    start = 0
    for _round in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, str(start)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.3, 1.2))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        start += 10_000

    with Chronolog(db_url) as cl, cl.store.read() as conn:
        if cl.store.is_sqlite:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        sizes = dict(
            conn.execute(text("SELECT action, COUNT(*) FROM events GROUP BY action")).all()
        )
        assert sizes, "the writer never committed a batch"
        torn = {action: n for action, n in sizes.items() if n != BATCH}
        assert torn == {}
        # The counters moved in the same transactions as the rows.
        counted = conn.execute(
            text("SELECT SUM(count) FROM event_counts WHERE granularity = 60")
        ).scalar_one()
        assert int(counted) == sum(sizes.values())
