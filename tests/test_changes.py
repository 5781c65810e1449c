"""``cl.subscribe(topic)``: the one wait for changes, on both databases, and ``cl.ping()``."""

from __future__ import annotations

import time

from chronolog import Chronolog


def test_a_subscription_hears_this_process_and_others(cl: Chronolog, db_url: str) -> None:
    changes = cl.subscribe("events", poll=0.1)
    seen = changes.wait(changes.token(), 0)  # the first wait starts listening
    cl.events.record("a", "x")
    after = changes.wait(seen, 5)
    assert after != seen  # this process's write, at once
    # Another store object has its own notifier: as another process would be. PostgreSQL
    # hears it by LISTEN/NOTIFY, SQLite by reading the newest event once per quiet poll.
    with Chronolog(db_url) as other:
        other.events.record("b", "y")
    deadline = time.monotonic() + 10
    token = after
    while token == after and time.monotonic() < deadline:
        token = changes.wait(after, 0.5)
    assert token != after


def test_a_quiet_subscription_times_out(cl: Chronolog) -> None:
    changes = cl.subscribe("jobs", poll=None)
    seen = changes.wait(changes.token(), 0)
    started = time.monotonic()
    assert changes.wait(seen, 0.3) == seen
    assert time.monotonic() - started >= 0.25


def test_ping_says_ready(cl: Chronolog, backend: str) -> None:
    health = cl.ping()
    assert health.ready
    assert health.database == backend
    assert health.checks == {"database": None, "schema": None, "writable": None}
