"""The job queue: produce, claim, fence, fail, rescue, retry, cancel, read; both databases."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from chronolog import (
    Actor,
    Chronolog,
    InvalidTransition,
    LeaseLost,
    NewJob,
    NotFound,
    ValidationError,
)
from chronolog._time import to_micros
from chronolog.store.schema import events, job_logs, jobs, transitions
from chronolog.store.schema.jobs import JOB_ACTIONS
from chronolog.store.sql import jobs as sql

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
_projects = itertools.count()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def q(db_url: str, clock: Clock) -> Iterator[Chronolog]:
    """A Chronolog whose clock the test moves."""
    with Chronolog(db_url, clock=clock) as chronolog:
        yield chronolog


def _snapshot(cl: Chronolog, job_id: int) -> tuple[Any, ...]:
    job = cl.jobs.get(job_id)
    return (job, cl.jobs.history(job_id), cl.jobs.logs(job_id), cl.events.query(limit=100).total)


def _history_invariants(cl: Chronolog) -> None:
    """Every job's history is its events: one per change, numbered 1..n, each starting
    from the state the previous one ended in, the last in the job's state; and no job
    rows in ``transitions``."""
    with cl.store.read() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(transitions).where(transitions.c.kind == "job")
            ).scalar_one()
            == 0
        )
        rows = conn.execute(
            select(events.c.id, events.c.target_id, events.c.action, events.c.metadata)
            .where(events.c.event_type == "job", events.c.target_type == "job")
            .order_by(events.c.id)
        ).all()
        states = {str(r.id): (r.state, r.history, r.attempt) for r in conn.execute(select(jobs))}
    by_job: dict[str, list[Any]] = {}
    for r in rows:
        meta = r.metadata if isinstance(r.metadata, dict) else json.loads(r.metadata)
        by_job.setdefault(r.target_id, []).append((r.action, meta))
    assert set(by_job) == set(states)
    for job_id, moves in by_job.items():
        assert [m["sort_key"] for _, m in moves] == list(range(1, len(moves) + 1))
        assert moves[0][1]["from"] is None
        for (_, before), (_, after) in itertools.pairwise(moves):
            assert after["from"] == before["state"]
        assert all(m["state"] == JOB_ACTIONS[action] for action, m in moves)
        state, history, attempt = states[job_id]
        assert moves[-1][1]["state"] == state
        assert moves[-1][1]["attempt"] == attempt
        assert history == len(moves)
        assert [(m.sort_key, m.to_state) for m in cl.jobs.history(int(job_id))] == [
            (m["sort_key"], m["state"]) for _, m in moves
        ]


# -- producing -------------------------------------------------------------------------------


def test_enqueue_and_get_round_trip(q: Chronolog, clock: Clock) -> None:
    job = q.jobs.enqueue(
        "transcode",
        {"file": "a.mkv", "n": [1, 2]},
        queue="media",
        priority=5,
        delay=30,
        max_attempts=4,
        subject=("season", 7),
    )
    got = q.jobs.get(job.id)
    assert got == job
    assert (got.queue, got.kind, got.state, got.priority) == ("media", "transcode", "pending", 5)
    assert got.payload == {"file": "a.mkv", "n": [1, 2]}
    assert got.run_at == T0 + timedelta(seconds=30)
    assert (got.attempt, got.max_attempts, got.lease, got.errors) == (0, 4, 0, ())
    assert got.subject == ("season", "7")
    assert got.created_at == T0
    assert got.to_dict()["run_at"] == "2026-11-21T12:00:30Z"
    moves = q.jobs.history(job.id)
    assert [(m.from_state, m.to_state) for m in moves] == [(None, "pending")]
    event = q.events.get(moves[0].event_id)
    assert (event.event_type, event.action, event.target.id) == ("job", "pending", str(job.id))


def test_enqueue_many_returns_ids_in_order_and_records_each(q: Chronolog) -> None:
    ids = q.jobs.enqueue_many(
        [NewJob("a"), {"kind": "b", "payload": {"x": 1}}, NewJob("c", queue="other")] * 40
    )
    assert len(ids) == 120
    assert len(set(ids)) == 120
    assert [q.jobs.get(i).kind for i in ids[:3]] == ["a", "b", "c"]
    assert q.jobs.get(ids[1]).payload == {"x": 1}
    assert q.jobs.counts() == {"default": {"pending": 80}, "other": {"pending": 40}}
    assert q.events.query(event_types=["job"], actions=["pending"], limit=1).total == 120
    _history_invariants(q)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"kind": ""}, "kind"),
        ({"kind": "x" * 65}, "kind"),
        ({"kind": "a", "payload": [1]}, "payload must be a JSON object"),
        ({"kind": "a", "payload": "{bad"}, "not valid JSON"),
        ({"kind": "a", "payload": {"big": "x" * 70_000}}, "over the limit"),
        ({"kind": "a", "priority": 1.5}, "priority"),
        ({"kind": "a", "max_attempts": 0}, "max_attempts"),
        ({"kind": "a", "run_at": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"kind": "a", "run_at": T0, "delay": 5}, "not both"),
        ({"kind": "a", "delay": -1}, "positive"),
        ({"kind": "a", "unique_key": ""}, "unique_key"),
        ({"kind": "a", "subject": ("season",)}, "subject"),
        ({"kind": "a", "queue": None}, "queue"),
        ({"kind": "a", "colour": "red"}, "unknown job fields"),
        ({"payload": {}}, "needs a kind"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(
    q: Chronolog, item: dict[str, Any], message: str
) -> None:
    q.jobs.enqueue("fine")
    with pytest.raises(ValidationError, match=message):
        q.jobs.enqueue_many([{"kind": "ok"}, item])
    assert q.jobs.counts() == {"default": {"pending": 1}}
    assert q.events.query(limit=10).total == 1


@pytest.mark.parametrize(
    "actor", [Actor("t" * 65, "a"), Actor("user", "a\x00b"), Actor("user", "a", "n" * 10_000)]
)
def test_bad_actor_is_refused_and_nothing_written(q: Chronolog, actor: Actor) -> None:
    # The queue builds its own events without re-validating them; a caller's actor
    # is still checked (once per call), so it cannot slip into the log.
    with pytest.raises(ValidationError):
        q.jobs.enqueue_many([NewJob("k"), NewJob("k")], actor=actor)
    job = q.jobs.enqueue("k")
    with pytest.raises(ValidationError):
        q.jobs.cancel(job.id, actor=actor)
    assert q.jobs.counts() == {"default": {"pending": 1}}
    assert q.events.query(limit=10).total == 1


def test_unique_key_holds_among_pending_and_running(q: Chronolog) -> None:
    first = q.jobs.enqueue("refresh", unique_key="series:1")
    again = q.jobs.enqueue("refresh", {"other": True}, unique_key="series:1")
    assert again.id == first.id
    assert again.payload is None
    ids = q.jobs.enqueue_many(
        [NewJob("refresh", unique_key="series:2"), NewJob("refresh", unique_key="series:2")]
    )
    assert ids[0] == ids[1]
    (claimed,) = q.jobs.claim(None, "w", limit=1)
    assert claimed.id == first.id
    assert q.jobs.enqueue("refresh", unique_key="series:1").id == first.id  # running holds it
    q.jobs.complete(claimed.id, claimed.lease)
    fresh = q.jobs.enqueue("refresh", unique_key="series:1")
    assert fresh.id != first.id
    assert q.events.query(event_types=["job"], actions=["pending"], limit=1).total == 3


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["enq", "claim_done", "claim_fail"]), st.integers(0, 3)),
        max_size=15,
    )
)
def test_property_unique_keys(db_url: str, ops: list[tuple[str, int]]) -> None:
    with Chronolog(db_url) as cl:
        project = f"u{next(_projects)}"
        cl.projects.create(project)
        p = cl.using(project)
        for op, k in ops:
            key = f"k{k}"
            if op == "enq":
                active = p.jobs.list(states=["pending", "running"], limit=100).items
                holder = [j for j in active if j.unique_key == key]
                job = p.jobs.enqueue("u", unique_key=key)
                if holder:
                    assert job.id == holder[0].id
                else:
                    assert job.state == "pending"
            else:
                for job in p.jobs.claim(None, "w", limit=1):
                    if op == "claim_done":
                        p.jobs.complete(job.id, job.lease)
                    else:
                        p.jobs.fail(job.id, job.lease, "x", retry=False)
            active = p.jobs.list(states=["pending", "running"], limit=100).items
            keys = [j.unique_key for j in active]
            assert len(keys) == len(set(keys))


# -- claiming --------------------------------------------------------------------------------


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=st.lists(
        st.tuples(st.integers(-2, 2), st.integers(-5, 5), st.sampled_from(["a", "b"])),
        min_size=1,
        max_size=15,
    ),
    batch=st.integers(1, 4),
)
def test_property_claim_order(db_url: str, specs: list[tuple[int, int, str]], batch: int) -> None:
    """Due jobs come out by priority (high first), then run_at, then id; future ones never."""
    clock = Clock()
    with Chronolog(db_url, clock=clock) as cl:
        project = f"o{next(_projects)}"
        cl.projects.create(project)
        p = cl.using(project)
        ids = p.jobs.enqueue_many(
            [
                NewJob("k", queue=queue, priority=prio, run_at=T0 + timedelta(seconds=offset))
                for prio, offset, queue in specs
            ]
        )
        jobs_by_id = dict(zip(ids, specs, strict=True))
        due = [i for i in ids if jobs_by_id[i][1] <= 0 and jobs_by_id[i][2] == "a"]
        expected = sorted(due, key=lambda i: (-jobs_by_id[i][0], jobs_by_id[i][1], i))
        got: list[int] = []
        while True:
            claimed = p.jobs.claim(["a"], "w", limit=batch)
            if not claimed:
                break
            assert len(claimed) <= batch
            got += [j.id for j in claimed]
        assert got == expected
        assert all(p.jobs.get(i).state == "pending" for i in ids if i not in got)


def test_claim_sets_lease_attempt_worker(q: Chronolog, clock: Clock) -> None:
    job = q.jobs.enqueue("k", queue="rip")
    assert q.jobs.claim(["other"], "w") == []
    (c,) = q.jobs.claim(["rip"], "w-1", lease_seconds=10, pid=4242)
    assert (c.id, c.state, c.attempt, c.lease, c.worker, c.pid) == (
        job.id,
        "running",
        1,
        1,
        "w-1",
        4242,
    )
    assert c.lease_expires_at == T0 + timedelta(seconds=10)
    assert c.started_at == T0
    assert q.jobs.claim(["rip"], "w-2") == []
    assert [(m.from_state, m.to_state, m.actor[1]) for m in q.jobs.history(job.id)] == [
        (None, "pending", None),
        ("pending", "running", "w-1"),
    ]
    with pytest.raises(ValidationError):
        q.jobs.claim([], "w")
    with pytest.raises(ValidationError):
        q.jobs.claim(["rip"], "w", limit=0)


def test_concurrent_claimers_never_share_a_job(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        ids = cl.jobs.enqueue_many([NewJob("k") for _ in range(300)])
    taken: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def claimer(n: int) -> None:
        try:
            with Chronolog(db_url) as mine:
                while True:
                    got = mine.jobs.claim(None, f"w{n}", limit=7)
                    if not got:
                        return
                    taken[n] += [j.id for j in got]
                    mine.jobs.complete_many([(j.id, j.lease) for j in got])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    flat = [i for part in taken for i in part]
    assert sorted(flat) == sorted(ids)
    with Chronolog(db_url) as cl:
        assert cl.jobs.counts() == {"default": {"completed": 300}}
        _history_invariants(cl)


def test_complete_and_claim_is_one_fenced_transaction(q: Chronolog, clock: Clock) -> None:
    ids = q.jobs.enqueue_many([NewJob("k", max_attempts=5) for _ in range(5)])
    done, first = q.jobs.complete_and_claim([], None, "w", limit=2)
    assert done == []
    assert [j.id for j in first] == ids[:2]
    stale = (first[1].id, first[1].lease - 1)
    done, second = q.jobs.complete_and_claim(
        [(first[0].id, first[0].lease, {"n": 1}), stale], None, "w", limit=2
    )
    assert done == [first[0].id]
    assert [j.id for j in second] == ids[2:4]
    assert q.jobs.get(first[0].id).result == {"n": 1}
    assert q.jobs.get(first[1].id).state == "running"  # the stale completion changed nothing
    with pytest.raises(ValidationError):
        q.jobs.complete_and_claim([(first[1].id, "x")], None, "w")
    with pytest.raises(ValidationError):  # bad claim arguments: the completion is not made
        q.jobs.complete_and_claim([(first[1].id, first[1].lease)], [], "w")
    assert q.jobs.get(first[1].id).state == "running"
    done, rest = q.jobs.complete_and_claim(
        [(j.id, j.lease) for j in (first[1], *second)], None, "w", limit=10
    )
    assert sorted(done) == sorted([first[1].id, *ids[2:4]])
    assert [j.id for j in rest] == ids[4:]
    assert q.jobs.complete_many([(j.id, j.lease) for j in rest]) == ids[4:]
    assert q.jobs.counts() == {"default": {"completed": 5}}
    completions = q.events.query(event_types=["job"], actions=["completed"], limit=50)
    assert sorted(int(e.target.id) for e in completions.items) == sorted(ids)
    _history_invariants(q)


# -- fencing -----------------------------------------------------------------------------------


def test_stale_lease_is_refused_and_changes_nothing(q: Chronolog, clock: Clock) -> None:
    job = q.jobs.enqueue("k", max_attempts=5)
    (old,) = q.jobs.claim(None, "w-old", lease_seconds=5)
    q.jobs.log(old.id, "info", "working", lease=old.lease)
    clock.advance(6)
    assert q.jobs.rescue() == 1
    (new,) = q.jobs.claim(None, "w-new", lease_seconds=5)
    assert new.lease == old.lease + 1
    before = _snapshot(q, job.id)
    for call in (
        lambda: q.jobs.complete(old.id, old.lease, {"twice": True}),
        lambda: q.jobs.fail(old.id, old.lease, "late"),
        lambda: q.jobs.heartbeat(old.id, old.lease),
        lambda: q.jobs.log(old.id, "info", "late", lease=old.lease),
        lambda: q.jobs.release(old.id, old.lease),
    ):
        with pytest.raises(LeaseLost) as info:
            call()
        assert info.value.current_lease == new.lease
        # A stale worker is not handed the number to carry on with: it must stop.
        assert "current_lease" not in info.value.details
        assert str(new.lease) not in info.value.message.replace(f"job {old.id}", "")
    assert q.jobs.complete_many([(old.id, old.lease)]) == []
    assert _snapshot(q, job.id) == before
    q.jobs.complete(new.id, new.lease, {"once": True})
    assert q.jobs.get(job.id).result == {"once": True}
    with pytest.raises(LeaseLost):
        q.jobs.complete(new.id, new.lease)
    with pytest.raises(NotFound):
        q.jobs.complete(999_999, 1)
    _history_invariants(q)


def test_heartbeat_extends_lease_and_records_progress(q: Chronolog, clock: Clock) -> None:
    q.jobs.enqueue("k")
    (job,) = q.jobs.claim(None, "w", lease_seconds=5)
    clock.advance(4)
    assert q.jobs.heartbeat(job.id, job.lease, progress=0.25, progress_text="title 1/4", extend=5)
    clock.advance(4)
    assert q.jobs.rescue() == 0
    got = q.jobs.get(job.id)
    assert (got.progress, got.progress_text, got.state) == (0.25, "title 1/4", "running")
    assert got.lease_expires_at == T0 + timedelta(seconds=9)
    with pytest.raises(ValidationError):
        q.jobs.heartbeat(job.id, job.lease, progress=1.5)


# -- failing, rescuing, retrying, cancelling ----------------------------------------------------


def test_fail_backs_off_keeps_every_error_then_fails(q: Chronolog, clock: Clock) -> None:
    job = q.jobs.enqueue("k", max_attempts=2)
    (c,) = q.jobs.claim(None, "w")
    after = q.jobs.fail(c.id, c.lease, "disc unreadable")
    assert after.state == "pending"
    wait = (after.run_at - T0).total_seconds()
    assert 1.5 <= wait <= 2.5  # 2 s ± 25 %
    assert q.jobs.claim(None, "w") == []  # not due yet
    clock.advance(3)
    (c,) = q.jobs.claim(None, "w")
    assert c.attempt == 2
    final = q.jobs.fail(c.id, c.lease, "still unreadable")
    assert final.state == "failed"
    assert [(e.attempt, e.error) for e in final.errors] == [
        (1, "disc unreadable"),
        (2, "still unreadable"),
    ]
    assert [j.id for j in q.jobs.failed(since=timedelta(hours=1))] == [job.id]
    assert q.jobs.failed(since=T0 + timedelta(hours=1)) == []
    failed_events = q.events.query(event_types=["job"], actions=["failed"], limit=10)
    assert failed_events.total == 1
    assert failed_events.items[0].error == "still unreadable"
    assert q.events.query(event_types=["job"], actions=["retrying"], limit=1).total == 1


def test_fail_without_retry_and_with_retry_in(q: Chronolog, clock: Clock) -> None:
    a, b = (q.jobs.enqueue("k"), q.jobs.enqueue("k"))
    ca, cb = q.jobs.claim(None, "w", limit=2)
    assert q.jobs.fail(ca.id, ca.lease, "bad input", retry=False).state == "failed"
    again = q.jobs.fail(cb.id, cb.lease, "try now", retry_in=0)
    assert (again.state, again.run_at) == ("pending", T0)
    assert {a.id, b.id} == {ca.id, cb.id}


def test_rescue_puts_expired_back_and_logs_why(q: Chronolog, clock: Clock) -> None:
    one = q.jobs.enqueue("k", max_attempts=2)
    last = q.jobs.enqueue("k", max_attempts=1)
    q.jobs.claim(None, "dead-worker", limit=2, lease_seconds=10)
    clock.advance(5)
    assert q.jobs.rescue() == 0
    clock.advance(6)
    assert q.jobs.rescue() == 2
    assert q.jobs.get(one.id).state == "pending"
    gone = q.jobs.get(last.id)
    assert gone.state == "failed"
    assert "dead-worker stopped heartbeating" in gone.errors[0].error
    lines = q.jobs.logs(one.id)
    assert lines[-1].level == "warning"
    assert lines[-1].message.startswith("rescued: lease expired")
    assert q.events.query(event_types=["job"], actions=["rescued"], limit=1).total == 1
    _history_invariants(q)


def test_claim_rescues_on_its_own(q: Chronolog, clock: Clock) -> None:
    job = q.jobs.enqueue("k")
    q.jobs.claim(None, "dies", lease_seconds=1)
    clock.advance(2)
    q.jobs._next_rescue = 0.0  # the once-a-second gate, passed in a test with a fake clock
    (again,) = q.jobs.claim(None, "lives")
    assert (again.id, again.attempt, again.worker) == (job.id, 2, "lives")


def test_cancel_and_retry(q: Chronolog) -> None:
    pending = q.jobs.enqueue("k")
    running = q.jobs.enqueue("k")
    assert q.jobs.cancel(pending.id, actor=Actor("user", "ana")).state == "cancelled"
    assert q.jobs.cancel(pending.id).state == "cancelled"  # idempotent
    (c,) = q.jobs.claim(None, "w")
    assert c.id == running.id
    assert q.jobs.heartbeat(c.id, c.lease) is True
    q.jobs.cancel(c.id)
    assert q.jobs.heartbeat(c.id, c.lease) is False  # the worker is told to stop
    q.jobs.log(c.id, "warning", "stopping", lease=c.lease)  # it may still say why
    with pytest.raises(LeaseLost):
        q.jobs.complete(c.id, c.lease)
    q.jobs.enqueue("k")
    (done,) = q.jobs.claim(None, "w")
    q.jobs.complete(done.id, done.lease)
    with pytest.raises(InvalidTransition, match="completed"):
        q.jobs.cancel(done.id)
    with pytest.raises(InvalidTransition):
        q.jobs.retry(done.id)
    back = q.jobs.retry(c.id, actor=Actor("user", "ana"))
    assert (back.state, back.finished_at) == ("pending", None)
    (again,) = q.jobs.claim(None, "w")
    assert again.id == c.id
    assert again.lease == c.lease + 1
    history = [(m.from_state, m.to_state) for m in q.jobs.history(c.id)]
    assert history == [
        (None, "pending"),
        ("pending", "running"),
        ("running", "cancelled"),
        ("cancelled", "pending"),
        ("pending", "running"),
    ]
    cancel_event = q.events.query(event_types=["job"], actions=["cancelled"], limit=5).items[-1]
    assert cancel_event.actor is not None
    assert cancel_event.actor.id == "ana"
    # a cancel is neither a success nor an error: charts and error counts never read it as one
    assert cancel_event.status == "cancelled"
    with pytest.raises(NotFound):
        q.jobs.cancel(424242)


def test_retry_respects_unique_key(q: Chronolog) -> None:
    job = q.jobs.enqueue("k", unique_key="one")
    q.jobs.cancel(job.id)
    q.jobs.enqueue("k", unique_key="one")
    with pytest.raises(Exception, match="uniqueness"):
        q.jobs.retry(job.id)
    assert q.jobs.get(job.id).state == "cancelled"


def test_release_gives_the_attempt_back(q: Chronolog) -> None:
    q.jobs.enqueue("k")
    (c,) = q.jobs.claim(None, "w")
    back = q.jobs.release(c.id, c.lease, "shutting down")
    assert (back.state, back.attempt) == ("pending", 0)
    assert q.jobs.logs(c.id)[-1].message == "released: shutting down"


# -- logs and reading ---------------------------------------------------------------------------


def test_logs_tail_after_and_validation(q: Chronolog) -> None:
    q.jobs.enqueue("k")
    (c,) = q.jobs.claim(None, "w")
    q.jobs.log(c.id, "info", "one", lease=c.lease, step=1)
    q.jobs.log_many(c.id, c.lease, [("warning", "two", None), ("error", "three", {"x": 1})])
    lines = q.jobs.logs(c.id)
    assert [(line.level, line.message) for line in lines] == [
        ("info", "one"),
        ("warning", "two"),
        ("error", "three"),
    ]
    assert lines[0].fields == {"step": 1}
    assert lines[0].attempt == 1
    assert [line.message for line in q.jobs.logs(c.id, after=lines[0].id)] == ["two", "three"]
    assert q.jobs.logs(c.id, after=lines[-1].id) == []
    with pytest.raises(ValidationError, match="level"):
        q.jobs.log(c.id, "loud", "x", lease=c.lease)
    with pytest.raises(ValidationError):
        q.jobs.logs(c.id, after=-1)
    with pytest.raises(NotFound):
        q.jobs.logs(31337)
    assert len(q.jobs.logs(c.id)) == 3


def test_list_filters_and_pages(q: Chronolog) -> None:
    ids = q.jobs.enqueue_many(
        [NewJob("rip", queue="rip", subject=("disc", "D1")) for _ in range(5)]
        + [NewJob("encode", queue="enc") for _ in range(4)]
    )
    page = q.jobs.list(limit=4)
    assert [j.id for j in page.items] == sorted(ids, reverse=True)[:4]
    seen = [j.id for j in page.items]
    while page.next_cursor:
        page = q.jobs.list(limit=4, cursor=page.next_cursor)
        seen += [j.id for j in page.items]
    assert seen == sorted(ids, reverse=True)
    assert {j.kind for j in q.jobs.list(queues="rip").items} == {"rip"}
    assert len(q.jobs.list(subject=("disc", "D1")).items) == 5
    assert q.jobs.list(subject=("disc", "nope")).items == []
    assert len(q.jobs.list(kinds=["encode"], states="pending").items) == 4
    with pytest.raises(ValidationError, match="unknown states"):
        q.jobs.list(states="lost")
    with pytest.raises(ValidationError):
        q.jobs.list(limit=1000)
    with pytest.raises(ValidationError):
        q.jobs.list(queues="rip", cursor=q.jobs.list(limit=1).next_cursor)
    (c,) = q.jobs.claim(["enc"], "w")
    assert [j.id for j in q.jobs.running()] == [c.id]
    # A claim hands out each job with its subject (or none).
    claimed = q.jobs.claim(["rip", "enc"], "w", limit=9)
    assert {j.subject for j in claimed} == {None, ("disc", "D1")}
    assert [j.subject for j in claimed if j.kind == "rip"] == [("disc", "D1")] * 5


def test_projects_do_not_see_each_others_jobs(q: Chronolog) -> None:
    q.projects.create("other")
    other = q.using("other")
    job = q.jobs.enqueue("k")
    assert other.jobs.claim(None, "w") == []
    with pytest.raises(NotFound):
        other.jobs.get(job.id)
    with pytest.raises(NotFound):
        other.jobs.cancel(job.id)


# -- retention statements -------------------------------------------------------------------------


def test_purge_statements(q: Chronolog, clock: Clock) -> None:
    ids = q.jobs.enqueue_many([NewJob("k") for _ in range(5)])
    claimed = q.jobs.claim(None, "w", limit=5)
    for c in claimed:
        q.jobs.log(c.id, "info", "line", lease=c.lease)
    q.jobs.complete_many([(c.id, c.lease) for c in claimed[:3]])
    clock.advance(100)
    cutoff = int((clock.now - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    pid = q.scope.project_id
    with q.store.write() as conn:
        assert sql.job_log_purge_batch(conn, pid, cutoff, 2) == 2
    with q.store.write() as conn:
        assert sql.job_log_purge_batch(conn, pid, cutoff, 10) == 1  # running jobs keep theirs
    with q.store.write() as conn:
        assert sql.job_purge_finished_batch(conn, pid, cutoff, 2) == 2
    with q.store.write() as conn:
        assert sql.job_purge_finished_batch(conn, pid, cutoff, 10) == 1
        assert sql.job_purge_finished_batch(conn, pid, cutoff, 10) == 0
    remaining = {j.id for j in q.jobs.list().items}
    assert remaining == {c.id for c in claimed[3:]}
    with q.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(job_logs)).scalar_one() == 2
    assert set(ids) >= remaining
    # The purged jobs' history is their events: it outlives them.
    for gone in set(ids) - remaining:
        with pytest.raises(NotFound):
            q.jobs.get(gone)
        assert [m.to_state for m in q.jobs.history(gone)] == ["pending", "running", "completed"]


def test_large_batches_are_chunked(q: Chronolog) -> None:
    ids = q.jobs.enqueue_many([NewJob("k") for _ in range(2500)])
    claimed = q.jobs.claim(None, "w", limit=2500)
    assert len(claimed) == 2500
    done = q.jobs.complete_many([(j.id, j.lease) for j in claimed])
    assert sorted(done) == sorted(ids)
    assert q.jobs.counts() == {"default": {"completed": 2500}}
    _history_invariants(q)


def test_a_large_batch_refused_late_writes_nothing(q: Chronolog) -> None:
    """PostgreSQL checks the jobs of a large batch while the COPY writes the first
    ones: a refusal far into it still leaves nothing behind."""
    items: list[Any] = [{"kind": "k", "payload": {"n": i}} for i in range(2500)]
    items[2100] = {"kind": "k", "priority": "high"}
    with pytest.raises(ValidationError) as caught:
        q.jobs.enqueue_many(items)
    assert caught.value.details["index"] == 2100
    assert str(caught.value).startswith("job 2100: ")
    assert q.jobs.counts() == {}
    assert q.events.query().items == []


def test_a_large_batch_with_a_late_unique_key_takes_the_general_path(q: Chronolog) -> None:
    held = q.jobs.enqueue("k", unique_key="only-one")
    items: list[Any] = [{"kind": "k", "payload": {"n": i}} for i in range(1500)]
    items[1200] = {"kind": "k", "unique_key": "only-one"}
    items[1300] = {"kind": "k", "subject": ("season", "s1")}
    ids = q.jobs.enqueue_many(items)
    assert len(ids) == 1500
    assert ids[1200] == held.id
    assert len(set(ids)) == 1500  # every other item is a new job
    assert q.jobs.get(ids[1300]).subject == ("season", "s1")
    plain = [i for n, i in enumerate(ids) if n not in (1200, 1300)]
    assert plain == sorted(plain)  # in input order
    assert q.jobs.counts() == {"default": {"pending": 1500}}
    assert [q.jobs.get(i).payload for i in ids[:3]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    _history_invariants(q)


def test_subject_created_by_a_job_is_listed_by_states(cl: Chronolog) -> None:
    # Regression: entity_ensure left state_since NULL and states' pages skipped the row.
    cl.jobs.enqueue("rip", {"disc": 1}, subject=("season", "dark/s01"))
    listed = [(e.kind, e.id) for e in cl.states.entities(kind="season").items]
    assert listed == [("season", "dark/s01")]
    assert [(e.kind, e.id) for e in cl.states.active(kind="season")] == [("season", "dark/s01")]


def test_bulk_moves_write_the_event_one_move_would_and_its_counters(q: Chronolog) -> None:
    # The bulk paths (enqueue, the worker's batch) write their events in SQL; the
    # moves of one job build them with _trail.job_event: both must be the same event.
    from chronolog._rollups import rollup_rows
    from chronolog.jobs._trail import Move, job_event
    from chronolog.store.schema import event_counts

    who = Actor("user", "u1", "Ana")
    ids = q.jobs.enqueue_many([NewJob("mail", queue="q1"), NewJob("sms", queue="q2")], actor=who)
    _, claimed = q.jobs.complete_and_claim([], None, "w1", limit=2)
    q.jobs.complete_and_claim([(j.id, j.lease, {"ok": True}) for j in claimed], None, "w1")
    at = to_micros(T0)
    kinds = {ids[0]: ("mail", "q1"), ids[1]: ("sms", "q2")}
    expected = []
    for job_id, (kind, queue) in kinds.items():
        expected += [
            Move(job_id, kind, queue, 1, None, "pending", 0, ("user", "u1", "Ana"), at),
            Move(job_id, kind, queue, 2, "pending", "running", 1, ("worker", "w1", None), at),
            Move(job_id, kind, queue, 3, "running", "completed", 1, ("worker", "w1", None), at),
        ]
    pid = q.scope.project_id
    want = sorted(
        (
            job_event(pid, m)._replace(metadata=json.loads(job_event(pid, m).metadata))
            for m in expected
        ),
        key=lambda e: (e.target_id, e.metadata["sort_key"]),
    )
    cols = [events.c[n] for n in job_event(pid, expected[0])._fields]
    with q.store.read() as conn:
        rows = conn.execute(select(*cols).where(events.c.event_type == "job")).all()
        counts = conn.execute(
            select(
                event_counts.c.granularity,
                event_counts.c.bucket,
                event_counts.c.action,
                event_counts.c.status,
                event_counts.c.actor_type,
                func.sum(event_counts.c.count),
            ).group_by(
                *(
                    event_counts.c[n]
                    for n in ("granularity", "bucket", "action", "status", "actor_type")
                )
            )
        ).all()
    got = sorted(
        (
            type(want[0])(*r[:-1], r[-1] if isinstance(r[-1], dict) else json.loads(r[-1]))
            for r in rows
        ),
        key=lambda e: (e.target_id, e.metadata["sort_key"]),
    )
    assert got == want
    # The counters the SQL added are the events part's rollup of those events.
    rolled: dict[tuple[Any, ...], int] = {}
    for c in rollup_rows([job_event(pid, m) for m in expected], 0):
        key = (c[1], c[2], c[4], c[5], c[6])
        rolled[key] = rolled.get(key, 0) + c[-1]
    assert {tuple(r[:-1]): int(r[-1]) for r in counts} == rolled


def test_claims_of_every_size_take_what_they_ask_for(q: Chronolog) -> None:
    # The batch statement has the claim's limit in its text up to a bound and binds
    # it beyond: completing alone (limit 0), small and large claims must not mix.
    ids = q.jobs.enqueue_many([NewJob("k") for _ in range(400)])
    (first,) = q.jobs.claim(None, "w", limit=1)
    assert q.jobs.complete_many([(first.id, first.lease)]) == [first.id]
    assert len(q.jobs.claim(None, "w", limit=300)) == 300
    assert len(q.jobs.claim(None, "w", limit=5)) == 5
    assert len(q.jobs.claim(None, "w", limit=1000)) == len(ids) - 306


def test_a_bulk_enqueue_writes_its_events_in_job_order(q: Chronolog) -> None:
    # The feed shows a batch's events in the order of its jobs (ids as numbers:
    # job 10 after job 9, not after job 1).
    ids = q.jobs.enqueue_many([NewJob("k") for _ in range(12)])  # one statement
    ids += q.jobs.enqueue_many([NewJob("k") for _ in range(250)])  # COPY
    with q.store.read() as conn:
        targets = conn.execute(
            select(events.c.target_id).where(events.c.event_type == "job").order_by(events.c.id)
        ).scalars()
        assert [int(t) for t in targets] == ids
