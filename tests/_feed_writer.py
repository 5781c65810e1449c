"""A writer process for the feed tests: commits batches with random delays, prints ids.

``python -m tests._feed_writer URL SEED BATCHES``: each line of stdout is the
ids of one committed batch, written after its commit.
"""

from __future__ import annotations

import random
import sys
import time

from chronolog import Chronolog, NewEvent


def write(url: str, seed: int, batches: int, out: list[int] | None = None) -> list[int]:
    rng = random.Random(seed)
    done: list[int] = []
    with Chronolog(url) as cl:
        for b in range(batches):
            # Mostly small batches; now and then one of >= 64 rows (the COPY path on PostgreSQL).
            size = rng.choice([1, 1, 2, 3, 5, 70])
            ids = cl.events.record_many(
                [NewEvent("w", f"s{seed}", metadata={"b": b, "i": i}) for i in range(size)]
            )
            done.extend(ids)
            if out is not None:
                out.extend(ids)
            else:
                print(" ".join(map(str, ids)), flush=True)
            time.sleep(rng.random() * 0.01)
    return done


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
