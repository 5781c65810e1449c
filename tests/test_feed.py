"""The feed: stable order, opaque cursors, no gaps and no duplicates under concurrent writers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chronolog import Chronolog, NewEvent, ValidationError
from chronolog.store.sql import feed as feed_sql

from ._feed_writer import write

ROOT = Path(__file__).resolve().parent.parent


def settle(cl: Chronolog, timeout: float = 20.0) -> None:
    """Wait until every committed event is below PostgreSQL's visibility bound.

    The bound is the oldest transaction running anywhere in the cluster, so
    unrelated work (other test databases) can hold new rows back for a moment.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with cl.store.read() as conn:
            bound = feed_sql.feed_bound(conn, cl.store.dialect)
            if bound is None or not feed_sql.feed_held_back(conn, cl.scope.project_id, bound):
                return
        time.sleep(0.01)
    raise AssertionError("the feed's visibility bound did not pass the committed rows")


def test_read_pages_in_order_with_cursors(cl: Chronolog) -> None:
    ids = cl.events.record_many([NewEvent("a", "x", metadata={"n": i}) for i in range(250)])
    settle(cl)
    seen: list[int] = []
    cursor = None
    for _ in range(4):
        page = cl.feed.read(cursor, limit=100)
        seen += [e.id for e in page.items]
        assert len(page.cursors) == len(page.items)
        cursor = page.next_cursor
    assert seen == ids
    assert cl.feed.read(cursor).items == []
    more = cl.events.record("a", "y")
    settle(cl)
    assert [e.id for e in cl.feed.read(cursor).items] == [more]


def test_filters_narrow_and_cursor_moves_past_non_matching(cl: Chronolog) -> None:
    cl.events.record_many([NewEvent("a", "x"), NewEvent("b", "x"), NewEvent("a", "y")])
    settle(cl)
    page = cl.feed.read(event_types="a", actions=["x"])
    assert [(e.event_type, e.action) for e in page.items] == [("a", "x")]
    empty = cl.feed.read(page.next_cursor, event_types="zzz")
    assert empty.items == []
    late = cl.events.record("zzz", "x")
    settle(cl)
    assert [e.id for e in cl.feed.read(empty.next_cursor, event_types="zzz").items] == [late]
    assert cl.feed.read(cl.feed.end_cursor()).items == []


@pytest.mark.parametrize(
    "cursor",
    ["", "not base64!", "e30", "x" * 600, "eyJrIjoiZXZlbnRzIn0"],
)
def test_bad_cursor_is_refused(cl: Chronolog, cursor: str) -> None:
    with pytest.raises(ValidationError, match="cursor"):
        cl.feed.read(cursor)


def test_cursor_of_another_project_or_query_kind_is_refused(cl: Chronolog) -> None:
    cl.events.record_many([NewEvent("a", "x") for _ in range(3)])
    cl.projects.create("other")
    other = cl.using("other")
    with pytest.raises(ValidationError, match="cursor"):
        other.feed.read(cl.feed.read(limit=1).next_cursor)
    events_cursor = cl.events.query(limit=1).next_cursor
    assert events_cursor is not None
    with pytest.raises(ValidationError, match="not a feed cursor"):
        cl.feed.read(events_cursor)
    for bad in ({"limit": 0}, {"limit": True}, {"limit": 10**6}):
        with pytest.raises(ValidationError, match="limit"):
            cl.feed.read(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown event filter"):
        next(iter(cl.feed.follow(colour="x")))
    # An EventQuery field the feed cannot answer is refused by name, not ignored.
    with pytest.raises(ValidationError, match="the feed cannot filter on search"):
        next(iter(cl.feed.follow(search="x")))


def test_late_commit_of_an_older_transaction_is_not_skipped(cl: Chronolog, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip(
            "SQLite serialises writers: an older transaction cannot commit after a newer one"
        )
    cursor = cl.feed.end_cursor()
    rows = cl.events.prepare([NewEvent("slow", "x")])
    with cl.store.engine.connect() as slow:
        tx = slow.begin()
        (slow_id,) = cl.events.write_prepared(slow, rows)  # holds its transaction open
        fast_id = cl.events.record("fast", "x")
        assert fast_id > slow_id
        page = cl.feed.read(cursor)
        assert slow_id not in [e.id for e in page.items]
        assert fast_id not in [e.id for e in page.items]  # held back behind the older writer
        assert page.held_back
        cursor = page.next_cursor
        tx.commit()
    settle(cl)
    page = cl.feed.read(cursor)
    assert [e.id for e in page.items] == [slow_id, fast_id]  # commit order by transaction


def _committed(cl: Chronolog) -> list[int]:
    settle(cl)
    out: list[int] = []
    cursor = None
    while True:
        page = cl.feed.read(cursor, limit=1000)
        out += [e.id for e in page.items]
        cursor = page.next_cursor
        if not page.items:
            return out


@pytest.mark.slow
def test_follower_sees_every_commit_once_with_concurrent_writers(db_url: str) -> None:
    """3 writer processes + 2 writer threads commit with random delays; a follower
    (restarted halfway from its saved cursor) sees each committed event exactly once."""
    seen: list[int] = []
    saved: list[str] = []
    stop = threading.Event()

    def follow(after: str | None, quota: int | None) -> None:
        with Chronolog(db_url) as reader:
            for item in reader.feed.follow(after, limit=50, poll=0.05, stop=stop):
                seen.append(item.event.id)
                saved.append(item.cursor)
                if quota is not None and len(seen) >= quota:
                    return

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests._feed_writer", db_url, str(seed), "40"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2, 3)
    ]
    thread_ids: list[int] = []
    writers = [
        threading.Thread(target=write, args=(db_url, seed, 40, thread_ids)) for seed in (4, 5)
    ]
    for w in writers:
        w.start()
    first = threading.Thread(target=follow, args=(None, 150))
    first.start()
    first.join(60)
    assert not first.is_alive()
    second = threading.Thread(target=follow, args=(saved[-1], None))  # restart from the cursor
    second.start()
    committed: list[int] = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=120)
            assert p.returncode == 0
            committed += [int(x) for x in out.split()]
        for w in writers:
            w.join(120)
        committed = sorted(committed + thread_ids)
        deadline = time.monotonic() + 30
        while len(seen) < len(committed) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        second.join(10)
    assert len(seen) == len(set(seen)), "duplicates"
    assert sorted(seen) == committed
    with Chronolog(db_url) as reader:
        assert seen == _committed(reader)  # the same stable order on a fresh read


def test_async_follow_wakes_on_commit(cl: Chronolog) -> None:
    async def main() -> list[int]:
        got: list[int] = []
        stop = asyncio.Event()

        async def consume() -> None:
            async for item in cl.feed.afollow(cl.feed.end_cursor(), poll=5.0, stop=stop):
                got.append(item.event.id)
                if len(got) == 3:
                    stop.set()

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.1)
        started = time.monotonic()
        for _ in range(3):
            await asyncio.to_thread(cl.events.record, "a", "x")
        await asyncio.wait_for(task, 5)
        assert time.monotonic() - started < 2.0  # woken by the signal, not the 5 s poll
        return got

    got = asyncio.run(main())
    assert len(got) == 3
    assert got == sorted(got)


def test_follow_wakes_on_notify_from_another_process(db_url: str, backend: str) -> None:
    """A write in another process wakes the follower well before its fallback poll."""
    with Chronolog(db_url) as reader:
        stop = threading.Event()
        got: list[float] = []

        def run() -> None:
            for _ in reader.feed.follow(reader.feed.end_cursor(), poll=3.0, stop=stop):
                got.append(time.monotonic())
                stop.set()

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.3)
        subprocess.run(
            [sys.executable, "-m", "tests._feed_writer", db_url, "9", "1"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        committed = time.monotonic()
        thread.join(10)
        assert got
        if backend == "postgresql":
            assert got[0] - committed < 1.0  # LISTEN/NOTIFY, not the 3 s poll


def test_follow_returns_promptly_once_stop_is_set(cl: Chronolog) -> None:
    """Issue 15.9: a quiet follower with a long poll notices ``stop`` at once, on both
    databases (SQLite once waited out its whole poll)."""
    stop = threading.Event()
    ended: list[float] = []

    def run() -> None:
        for _ in cl.feed.follow(cl.feed.end_cursor(), poll=5.0, stop=stop):
            pass
        ended.append(time.monotonic())

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)  # the follower is waiting, with nothing to read
    stopped = time.monotonic()
    stop.set()
    thread.join(10)
    assert ended
    assert ended[0] - stopped < 0.5, ended[0] - stopped
