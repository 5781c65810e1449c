"""Job dependencies (``after=``, ``on_failure``), the ``waiting`` state and pipelines.

One suite on both databases: ordering, fan-in, fan-out, failure and cancel
propagation, ``on_failure="run"``, refusals that write nothing, retries, and
exactly one release under concurrent completions (and under the PostgreSQL
race of an enqueue against a completion that waits for its row lock).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from chronolog import Chronolog, NewJob, ValidationError
from chronolog.errors import InvalidTransition, NotFound
from chronolog.jobs import _links
from chronolog.store.schema import events


def _events(cl: Chronolog) -> int:
    with cl.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def _drain(cl: Chronolog, *, queues: Any = None) -> list[str]:
    """Claim and complete until nothing is claimable; the kinds in completion order."""
    order: list[str] = []
    while True:
        claimed = cl.jobs.claim(queues, limit=1)
        if not claimed:
            return order
        job = claimed[0]
        cl.jobs.complete(job.id, job.lease)
        order.append(job.kind)


def _actions(cl: Chronolog, job_id: int) -> list[str]:
    return [m.action or "" for m in cl.jobs.history(job_id)]


def test_a_chain_runs_in_order_and_waits_meanwhile(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a", priority=-5)
    b = cl.jobs.enqueue("b", after=[a.id], priority=9)
    c = cl.jobs.enqueue("c", after=[b.id], priority=9)
    assert (a.state, b.state, c.state) == ("pending", "waiting", "waiting")
    assert b.depends_on == (a.id,)
    assert b.waiting_for == 1
    assert b.on_failure == "cancel"
    assert cl.jobs.get(a.id).dependents == 1
    # A waiting job is never claimed, whatever its priority.
    first = cl.jobs.claim(None, limit=10)
    assert [j.kind for j in first] == ["a"]
    assert cl.jobs.claim(None, limit=10) == []
    cl.jobs.complete(first[0].id, first[0].lease)
    assert cl.jobs.get(b.id).state == "pending"
    assert cl.jobs.get(b.id).waiting_for == 0
    assert cl.jobs.get(c.id).state == "waiting"
    assert _drain(cl) == ["b", "c"]
    assert _actions(cl, b.id) == ["waiting", "ready", "running", "completed"]
    history = cl.jobs.history(b.id)
    assert [m.sort_key for m in history] == [1, 2, 3, 4]
    assert history[1].from_state == "waiting"
    assert history[1].to_state == "pending"
    assert cl.jobs.counts() == {"default": {"completed": 3}}


def test_fan_in_waits_for_every_dependency(cl: Chronolog) -> None:
    parts = [cl.jobs.enqueue("part", {"n": n}) for n in range(3)]
    join = cl.jobs.enqueue("join", after=[p.id for p in parts])
    assert join.waiting_for == 3
    claimed = cl.jobs.claim(None, limit=3)
    cl.jobs.complete(claimed[0].id, claimed[0].lease)
    assert cl.jobs.get(join.id).waiting_for == 2
    # Two completions in one batch count twice.
    done, nxt = cl.jobs.complete_and_claim([(j.id, j.lease) for j in claimed[1:]], None, limit=5)
    assert sorted(done) == sorted(j.id for j in claimed[1:])
    if not nxt:  # the release lands after the batch's own claim (one snapshot)
        nxt = cl.jobs.claim(None, limit=5)
    assert [j.id for j in nxt] == [join.id]
    assert _actions(cl, join.id).count("ready") == 1


def test_fan_out_releases_every_dependent(cl: Chronolog) -> None:
    root = cl.jobs.enqueue("root")
    leaves = [cl.jobs.enqueue("leaf", {"n": n}, after=[root.id]) for n in range(4)]
    assert cl.jobs.get(root.id).dependents == 4
    assert _drain(cl) == ["root", "leaf", "leaf", "leaf", "leaf"]
    for leaf in leaves:
        assert _actions(cl, leaf.id) == ["waiting", "ready", "running", "completed"]
    links = cl.jobs.dependencies(root.id)
    assert [d.id for d in links.dependents] == [leaf.id for leaf in leaves]
    assert links.after == ()
    assert [a.id for a in cl.jobs.dependencies(leaves[0].id).after] == [root.id]


def test_a_failed_dependency_cancels_its_dependents_transitively(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a", max_attempts=2, priority=5)
    b = cl.jobs.enqueue("b", after=[a.id])
    c = cl.jobs.enqueue("c", after=[b.id])
    other = cl.jobs.enqueue("other")
    (job,) = cl.jobs.claim(None, limit=1)
    assert job.id == a.id
    # A failed attempt with attempts left is no failure yet: b keeps waiting.
    assert cl.jobs.fail(a.id, job.lease, "flaky", retry_in=0).state == "pending"
    assert cl.jobs.get(b.id).state == "waiting"
    (job,) = cl.jobs.claim("default", limit=1)
    assert job.id == a.id
    cl.jobs.fail(a.id, job.lease, "broken for good")
    assert cl.jobs.get(a.id).state == "failed"
    for dependent, cause in ((b, a), (c, b)):
        after = cl.jobs.get(dependent.id)
        assert after.state == "cancelled"
        assert after.finished_at is not None
        last = cl.jobs.history(dependent.id)[-1]
        assert last.action == "cancelled"
        assert last.from_state == "waiting"
        assert last.metadata is not None
        assert last.metadata["dependency"] == cause.id
        state = "failed" if cause is a else "cancelled"
        assert last.metadata["reason"] == f"job {cause.id} it runs after was {state}"
    assert cl.jobs.get(other.id).state == "pending"


def test_on_failure_run_runs_anyway(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a", max_attempts=1)
    ok = cl.jobs.enqueue("ok")
    cleanup = cl.jobs.enqueue("cleanup", after=[a.id, ok.id], on_failure="run")
    strict = cl.jobs.enqueue("strict", after=[a.id, ok.id])
    claimed = {j.kind: j for j in cl.jobs.claim(None, limit=2)}
    cl.jobs.fail(a.id, claimed["a"].lease, "boom")
    assert cl.jobs.get(cleanup.id).state == "waiting"  # ok has not completed yet
    assert cl.jobs.get(cleanup.id).waiting_for == 1
    assert cl.jobs.get(strict.id).state == "cancelled"
    cl.jobs.complete(ok.id, claimed["ok"].lease)
    assert cl.jobs.get(cleanup.id).state == "pending"
    assert _drain(cl) == ["cleanup"]


def test_cancel_propagates_and_a_waiting_job_can_be_cancelled(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a")
    b = cl.jobs.enqueue("b", after=[a.id])
    c = cl.jobs.enqueue("c", after=[b.id])
    d = cl.jobs.enqueue("d", after=[c.id], on_failure="run")
    cancelled = cl.jobs.cancel(b.id)
    assert cancelled.state == "cancelled"
    assert cl.jobs.get(a.id).state == "pending"  # upstream untouched
    assert cl.jobs.get(c.id).state == "cancelled"
    assert cl.jobs.history(c.id)[-1].metadata["dependency"] == b.id  # type: ignore[index]
    # d runs after c whatever becomes of it.
    assert cl.jobs.get(d.id).state == "pending"
    assert _actions(cl, d.id) == ["waiting", "ready"]
    # Cancelling a running dependency cancels its dependents at once.
    e = cl.jobs.enqueue("e")
    f = cl.jobs.enqueue("f", after=[e.id])
    job = next(j for j in cl.jobs.claim(None, limit=5) if j.id == e.id)
    assert job.state == "running"
    cl.jobs.cancel(e.id)
    assert cl.jobs.get(f.id).state == "cancelled"


def test_refusals_write_nothing(cl: Chronolog, db_url: str) -> None:
    a = cl.jobs.enqueue("a")
    before = (_events(cl), cl.jobs.counts(), cl.jobs.get(a.id))
    with pytest.raises(ValidationError, match="cycle"):
        cl.jobs.enqueue_many(
            [
                NewJob("x", ref="x", after=("z",)),
                NewJob("y", ref="y", after=("x",)),
                NewJob("z", ref="z", after=("y", a.id)),
            ]
        )
    with pytest.raises(ValidationError, match="cycle"):
        cl.jobs.enqueue_many([NewJob("self", ref="s", after=("s",))])
    with pytest.raises(ValidationError, match="no job of the batch"):
        cl.jobs.enqueue_many([NewJob("x", after=("nobody",))])
    with pytest.raises(ValidationError, match="two jobs"):
        cl.jobs.enqueue_many([NewJob("x", ref="r"), NewJob("y", ref="r")])
    with pytest.raises(ValidationError, match="not jobs of project"):
        cl.jobs.enqueue_many([NewJob("ok"), NewJob("x", after=(a.id, 999_999))])
    with pytest.raises(ValidationError, match="on_failure"):
        cl.jobs.enqueue("x", after=[a.id], on_failure="maybe")
    with pytest.raises(ValidationError, match="unique_key"):
        cl.jobs.enqueue("x", after=[a.id], unique_key="k")
    with pytest.raises(ValidationError, match="job ids"):
        cl.jobs.enqueue("x", after=[1.5])  # type: ignore[list-item]
    # Another project's job is no job of this project.
    cl.projects.create("elsewhere")
    other = cl.using("elsewhere")
    theirs = other.jobs.enqueue("theirs")
    with pytest.raises(ValidationError, match="not jobs of project"):
        cl.jobs.enqueue("x", after=[theirs.id])
    assert other.jobs.get(theirs.id).dependents == 0
    # The one event more is the other project's job, enqueued above.
    assert (_events(cl) - 1, cl.jobs.counts(), cl.jobs.get(a.id)) == before


def test_a_batch_links_its_own_jobs_by_ref(cl: Chronolog) -> None:
    ids = cl.jobs.enqueue_many(
        [
            NewJob("join", ref="join", after=("l", "r")),
            NewJob("left", ref="l", after=("root",)),
            NewJob("right", ref="r", after=("root",)),
            {"kind": "root", "ref": "root"},
        ]
    )
    jobs = {cl.jobs.get(i).kind: cl.jobs.get(i) for i in ids}
    assert jobs["root"].state == "pending"
    assert jobs["join"].depends_on == (jobs["left"].id, jobs["right"].id)
    assert _drain(cl) in (["root", "left", "right", "join"], ["root", "right", "left", "join"])


def test_enqueue_after_finished_jobs(cl: Chronolog) -> None:
    done = cl.jobs.enqueue("done")
    gone = cl.jobs.enqueue("gone", max_attempts=1)
    claimed = {j.kind: j for j in cl.jobs.claim(None, limit=2)}
    cl.jobs.complete(done.id, claimed["done"].lease)
    cl.jobs.fail(gone.id, claimed["gone"].lease, "no")
    assert cl.jobs.enqueue("x", after=[done.id]).state == "pending"
    late = cl.jobs.enqueue("y", after=[done.id, gone.id])
    assert late.state == "cancelled"
    assert cl.jobs.history(late.id)[0].metadata["dependency"] == gone.id  # type: ignore[index]
    assert cl.jobs.enqueue("z", after=[gone.id], on_failure="run").state == "pending"


def test_retry_brings_a_pipeline_back(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a", max_attempts=1)
    b = cl.jobs.enqueue("b", after=[a.id])
    (job,) = cl.jobs.claim(None)
    cl.jobs.fail(a.id, job.lease, "disk full")
    assert cl.jobs.get(b.id).state == "cancelled"
    # Retrying the dependent first: it waits for a, which has not completed.
    again = cl.jobs.retry(b.id)
    assert again.state == "waiting"
    assert again.waiting_for == 1
    assert cl.jobs.history(b.id)[-1].action == "waiting"
    assert cl.jobs.retry(a.id).state == "pending"
    assert _drain(cl) == ["a", "b"]


def test_pipeline_helper(cl: Chronolog) -> None:
    pipe = cl.jobs.pipeline(
        ["rip", "remux", NewJob("transcode", {"preset": "hq"}, queue="gpu"), {"kind": "filebot"}],
        subject=("movie", 42),
    )
    assert pipe.name == "rip movie/42"
    assert [j.kind for j in pipe.jobs] == ["rip", "remux", "transcode", "filebot"]
    assert [j.state for j in pipe.jobs] == ["pending", "waiting", "waiting", "waiting"]
    assert all(j.subject == ("movie", "42") and j.pipeline_id == pipe.id for j in pipe.jobs)
    assert pipe.jobs[2].queue == "gpu"
    assert pipe.jobs[2].payload == {"preset": "hq"}
    assert [j.depends_on for j in pipe.jobs] == [(), *((p.id,) for p in pipe.jobs[:-1])]
    assert pipe.state == "pending"
    assert pipe.done == 0
    assert cl.jobs.pipeline_of(pipe.jobs[3].id) == pipe
    assert cl.jobs.pipeline_of(cl.jobs.enqueue("alone").id) is None
    order = _drain(cl, queues=["default", "gpu"])
    assert [k for k in order if k != "alone"] == ["rip", "remux", "transcode", "filebot"]
    done = cl.jobs.pipeline_get(pipe.id)
    assert done.state == "completed"
    assert done.done == 4
    assert done.to_dict()["jobs"][1]["depends_on"] == [pipe.jobs[0].id]
    with pytest.raises(NotFound):
        cl.jobs.pipeline_get(pipe.id + 1000)
    cl.projects.create("elsewhere")
    with pytest.raises(NotFound):
        cl.using("elsewhere").jobs.pipeline_get(pipe.id)
    with pytest.raises(ValidationError):
        cl.jobs.pipeline([])


def test_pipeline_fan_out_and_failure(cl: Chronolog) -> None:
    pipe = cl.jobs.pipeline(
        [
            NewJob("rip", ref="rip", max_attempts=1),
            NewJob("subs", ref="subs", after=("rip",)),
            NewJob("audio", ref="audio", after=("rip",)),
            NewJob("mux", after=("subs", "audio")),
        ],
        name="season 2",
    )
    assert pipe.name == "season 2"
    (job,) = cl.jobs.claim(None)
    cl.jobs.fail(job.id, job.lease, "scratched disc")
    after = cl.jobs.pipeline_get(pipe.id)
    assert [j.state for j in after.jobs] == ["failed", "cancelled", "cancelled", "cancelled"]
    assert after.state == "failed"


def test_waiting_is_a_state_everywhere(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a", queue="rip")
    b = cl.jobs.enqueue("b", queue="rip", after=[a.id])
    assert cl.jobs.counts() == {"rip": {"pending": 1, "waiting": 1}}
    assert [j.id for j in cl.jobs.list(states="waiting")] == [b.id]
    assert b.to_dict()["depends_on"] == [a.id]


def test_concurrent_completions_release_exactly_once(db_url: str) -> None:
    """Two workers complete the two dependencies of many jobs at the same moment."""
    pairs = 30
    with Chronolog(db_url) as cl, Chronolog(db_url) as cl2:
        joins = []
        for _ in range(pairs):
            left, right = cl.jobs.enqueue("left"), cl.jobs.enqueue("right")
            joins.append((left, right, cl.jobs.enqueue("join", after=[left.id, right.id])))
        held = {j.id: j for j in cl.jobs.claim(None, limit=2 * pairs)}
        errors: list[BaseException] = []
        for left, right, _ in joins:
            gate = threading.Barrier(2)

            def finish(c: Chronolog, job_id: int, gate: threading.Barrier = gate) -> None:
                try:
                    gate.wait(5)
                    c.jobs.complete(job_id, held[job_id].lease)
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            threads = [
                threading.Thread(target=finish, args=(cl, left.id)),
                threading.Thread(target=finish, args=(cl2, right.id)),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
        assert not errors, errors
        for _, _, join in joins:
            got = cl.jobs.get(join.id)
            assert (got.state, got.waiting_for) == ("pending", 0), got
            assert Counter(_actions(cl, join.id)) == Counter({"waiting": 1, "ready": 1})


def test_an_enqueue_racing_a_completion_is_released(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dependent is enqueued (the dependency locked, counted unfinished) while the
    dependency's completion waits for that lock: PostgreSQL's batch statement took its
    snapshot before the dependent existed. It is still released, exactly once."""
    with Chronolog(db_url) as cl, Chronolog(db_url) as cl2:
        dep = cl.jobs.enqueue("dep")
        (job,) = cl.jobs.claim(None)
        started = threading.Event()
        insert_edges = _links.links_sql.job_dependency_insert_many

        def slow_edges(*args: Any) -> None:
            insert_edges(*args)
            started.set()
            time.sleep(0.5)  # the completion's statement starts now, and waits for the lock

        monkeypatch.setattr(_links.links_sql, "job_dependency_insert_many", slow_edges)
        made: list[int] = []
        enqueuer = threading.Thread(
            target=lambda: made.append(cl.jobs.enqueue("next", after=[dep.id]).id)
        )
        enqueuer.start()
        assert started.wait(5)
        cl2.jobs.complete(dep.id, job.lease)
        enqueuer.join(10)
        got = cl.jobs.get(made[0])
        assert (got.state, got.waiting_for) == ("pending", 0)
        assert Counter(_actions(cl, got.id)) == Counter({"waiting": 1, "ready": 1})


def test_a_dependent_enqueued_while_its_dependency_runs_is_released(cl: Chronolog) -> None:
    """The worker's batch knows which jobs it claimed had dependents; one that had none
    then (PostgreSQL's lean statement) still releases a dependent enqueued meanwhile,
    exactly once, with its ready event."""
    first = cl.jobs.enqueue("first")
    _, (job,) = cl.jobs.complete_and_claim([], None, "w")
    assert job.dependents == 0
    later = cl.jobs.enqueue("later", after=[first.id])
    assert cl.jobs.get(later.id).state == "waiting"
    completed, _ = cl.jobs.complete_and_claim([(job.id, job.lease)], None, "w", limit=1)
    assert completed == [first.id]
    got = cl.jobs.get(later.id)
    assert (got.state, got.waiting_for) == ("pending", 0)
    assert Counter(_actions(cl, later.id)) == Counter({"waiting": 1, "ready": 1})
    # And a job claimed with a dependent releases it in the batch's own statement.
    third = cl.jobs.enqueue("third", after=[later.id])
    _, (claimed,) = cl.jobs.complete_and_claim([], None, "w")
    assert (claimed.id, claimed.dependents) == (later.id, 1)
    cl.jobs.complete_and_claim([(claimed.id, claimed.lease)], None, "w", limit=1)
    assert cl.jobs.get(third.id).state in ("pending", "running")
    assert Counter(_actions(cl, third.id))["ready"] == 1


def test_reconcile_repairs_a_release_left_undone(cl: Chronolog) -> None:
    """What a crash between the PostgreSQL batch and its follow-up would leave: a waiting
    job whose dependencies all completed. The rescue's re-count releases it."""
    a = cl.jobs.enqueue("a")
    b = cl.jobs.enqueue("b", after=[a.id])
    (job,) = cl.jobs.claim(None)
    cl.jobs.complete(a.id, job.lease)
    with cl.store.write() as conn:  # undo the release by hand
        conn.exec_driver_sql(
            f"UPDATE jobs SET state = 'waiting', waiting_for = 1 WHERE id = {b.id}"
        )
    assert cl.jobs.reconcile_waiting() == 1
    assert cl.jobs.get(b.id).state == "pending"
    assert cl.jobs.reconcile_waiting() == 0


def test_the_batch_writes_the_release_event_one_move_would(db_url: str) -> None:
    """The release by a completion is written by each database's batch SQL (PostgreSQL)
    or by ``_trail.record`` (SQLite): the same event and counters either way."""
    import json
    from datetime import UTC, datetime

    from chronolog._rollups import rollup_rows
    from chronolog._time import to_micros
    from chronolog.jobs._trail import Move, job_event
    from chronolog.store.schema import event_counts

    at = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    with Chronolog(db_url, clock=lambda: at) as cl:
        a = cl.jobs.enqueue("a", queue="q1")
        b = cl.jobs.enqueue("b", queue="q2", after=[a.id])
        _, (job,) = cl.jobs.complete_and_claim([], None, "w1")
        cl.jobs.complete_and_claim([(job.id, job.lease)], None, "w1", limit=1)
        pid = cl.scope.project_id
        want = job_event(
            pid,
            Move(b.id, "b", "q2", 2, "waiting", "ready", 0, ("worker", None, None), to_micros(at)),
        )
        cols = [events.c[n] for n in want._fields]
        with cl.store.read() as conn:
            (row,) = conn.execute(
                select(*cols).where(events.c.event_type == "job", events.c.action == "ready")
            ).all()
            counts = conn.execute(
                select(
                    event_counts.c.granularity,
                    event_counts.c.bucket,
                    event_counts.c.actor_type,
                    func.sum(event_counts.c.count),
                )
                .where(event_counts.c.action == "ready")
                .group_by(
                    event_counts.c.granularity, event_counts.c.bucket, event_counts.c.actor_type
                )
            ).all()
        metadata = row[-1] if isinstance(row[-1], dict) else json.loads(row[-1])
        assert (*row[:-1], metadata) == (*want[:-1], json.loads(want.metadata))
        rolled = {(c[1], c[2], c[6]): c[-1] for c in rollup_rows([want], 0)}
        assert {tuple(r[:-1]): int(r[-1]) for r in counts} == rolled


def _fail_for_good(cl: Chronolog, job_id: int) -> None:
    (job,) = cl.jobs.claim(None, limit=1)
    assert job.id == job_id
    cl.jobs.fail(job.id, job.lease, "disk full", retry=False)


def test_retry_revives_the_chain_its_failure_cancelled(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a")
    b = cl.jobs.enqueue("b", after=[a.id])
    c = cl.jobs.enqueue("c", after=[b.id])
    _fail_for_good(cl, a.id)
    assert [cl.jobs.get(j.id).state for j in (b, c)] == ["cancelled", "cancelled"]
    before = _events(cl)
    again = cl.jobs.retry(a.id)
    assert again.state == "pending"
    for dependent, cause in ((b, a), (c, b)):
        now = cl.jobs.get(dependent.id)
        assert (now.state, now.waiting_for, now.finished_at) == ("waiting", 1, None)
        last = cl.jobs.history(dependent.id)[-1]
        assert (last.action, last.from_state, last.to_state) == ("waiting", "cancelled", "waiting")
        assert last.sort_key == 3  # waiting, cancelled, revived: one event per change
        assert last.metadata is not None
        assert last.metadata["revived"] is True
        assert last.metadata["revived_by"] == cause.id
        verb = "retried" if cause is a else "revived"
        assert last.metadata["reason"] == f"revived: job {cause.id} it runs after was {verb}"
    assert _actions(cl, b.id) == ["waiting", "cancelled", "waiting"]
    assert _events(cl) - before == 3  # the retry and two revives
    assert cl.jobs.counts() == {"default": {"pending": 1, "waiting": 2}}
    assert _drain(cl) == ["a", "b", "c"]
    assert _actions(cl, c.id)[-3:] == ["ready", "running", "completed"]


def test_retry_revives_only_what_the_chain_cancelled(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a")
    b = cl.jobs.enqueue("b", after=[a.id])
    by_hand = cl.jobs.enqueue("by_hand", after=[a.id])
    under_hand = cl.jobs.enqueue("under_hand", after=[by_hand.id])
    run = cl.jobs.enqueue("run", after=[a.id], on_failure="run")
    other = cl.jobs.enqueue("other")
    held = cl.jobs.enqueue("held", after=[a.id, other.id])
    cl.jobs.cancel(by_hand.id)  # an operator's cancel: it stays cancelled
    assert cl.jobs.get(under_hand.id).state == "cancelled"  # propagated from by_hand
    (job,) = cl.jobs.claim(None, limit=1)
    assert job.id == a.id
    cl.jobs.fail(a.id, job.lease, "broken", retry=False)
    assert cl.jobs.get(run.id).state == "pending"  # on_failure="run": released
    (job,) = [j for j in cl.jobs.claim(None, limit=2) if j.id == other.id] or [None]
    assert job is not None
    cl.jobs.fail(other.id, job.lease, "also broken", retry=False)
    assert cl.jobs.get(held.id).state == "cancelled"
    run_history = cl.jobs.history(run.id)
    cl.jobs.retry(a.id)
    assert cl.jobs.get(b.id).state == "waiting"
    assert cl.jobs.get(by_hand.id).state == "cancelled"
    assert cl.jobs.get(under_hand.id).state == "cancelled"
    # held's other dependency is still failed: it stays cancelled until that one's retry.
    assert cl.jobs.get(held.id).state == "cancelled"
    # The on_failure="run" dependent is unaffected.
    assert cl.jobs.history(run.id) == run_history
    cl.jobs.retry(other.id)
    revived = cl.jobs.get(held.id)
    assert (revived.state, revived.waiting_for) == ("waiting", 2)
    assert cl.jobs.history(held.id)[-1].metadata["revived_by"] == other.id  # type: ignore[index]
    # Retrying the operator's cancel brings back what it cancelled.
    cl.jobs.retry(by_hand.id)
    assert cl.jobs.get(under_hand.id).state == "waiting"


def test_retry_revives_a_pipeline_fan_in(cl: Chronolog) -> None:
    pipe = cl.jobs.pipeline(
        [
            NewJob("rip", ref="rip", max_attempts=1),
            NewJob("subs", ref="subs", after=("rip",)),
            NewJob("audio", ref="audio", after=("rip",)),
            NewJob("mux", after=("subs", "audio")),
        ]
    )
    _fail_for_good(cl, pipe.jobs[0].id)
    assert cl.jobs.pipeline_get(pipe.id).state == "failed"
    cl.jobs.retry(pipe.jobs[0].id)
    after = cl.jobs.pipeline_get(pipe.id)
    assert [j.state for j in after.jobs] == ["pending", "waiting", "waiting", "waiting"]
    assert [j.waiting_for for j in after.jobs] == [None, 1, 1, 2]
    assert _actions(cl, pipe.jobs[3].id) == ["waiting", "cancelled", "waiting"]
    assert _drain(cl)[::3] == ["rip", "mux"]
    assert cl.jobs.pipeline_get(pipe.id).state == "completed"


def test_retry_many_revives_and_waits(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a", queue="rip")
    b = cl.jobs.enqueue("b", queue="rip", after=[a.id])
    c = cl.jobs.enqueue("c", queue="mux", after=[b.id])
    _fail_for_good(cl, a.id)
    # b is retried by the filter (it waits for a, not pending), c is revived.
    assert cl.jobs.retry_many(queues="rip") == 2
    assert cl.jobs.get(a.id).state == "pending"
    assert (cl.jobs.get(b.id).state, cl.jobs.get(b.id).waiting_for) == ("waiting", 1)
    last = cl.jobs.history(b.id)[-1]
    assert (last.action, last.from_state, last.to_state) == ("waiting", "cancelled", "waiting")
    assert last.metadata is not None
    assert last.metadata["reason"] == "retried; waits for the jobs it runs after"
    assert "revived" not in last.metadata  # the filter retried it: an operator's move
    assert [m.sort_key for m in cl.jobs.history(b.id)] == [1, 2, 3]
    assert cl.jobs.get(c.id).state == "waiting"
    assert cl.jobs.history(c.id)[-1].metadata["revived_by"] == b.id  # type: ignore[index]
    assert _drain(cl, queues=["rip", "mux"]) == ["a", "b", "c"]


def test_retry_refusals_unchanged(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a")
    b = cl.jobs.enqueue("b", after=[a.id])
    before = (_events(cl), cl.jobs.get(a.id), cl.jobs.get(b.id))
    for job in (a, b):
        with pytest.raises(InvalidTransition):
            cl.jobs.retry(job.id)
    with pytest.raises(NotFound):
        cl.jobs.retry(999_999)
    assert (_events(cl), cl.jobs.get(a.id), cl.jobs.get(b.id)) == before


def test_cancel_many_propagates_and_retry_many_revives(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a", queue="q")
    b = cl.jobs.enqueue("b", queue="r", after=[a.id])
    run = cl.jobs.enqueue("run", queue="r", after=[a.id], on_failure="run")
    assert cl.jobs.cancel_many(queues="q") == 1
    assert cl.jobs.get(b.id).state == "cancelled"
    assert cl.jobs.history(b.id)[-1].metadata["dependency"] == a.id  # type: ignore[index]
    assert cl.jobs.get(run.id).state == "pending"
    assert cl.jobs.retry_many(queues="q") == 1
    assert (cl.jobs.get(b.id).state, cl.jobs.get(b.id).waiting_for) == ("waiting", 1)
    assert _actions(cl, run.id) == ["waiting", "ready"]
    assert sorted(_drain(cl, queues=["q", "r"])) == ["a", "b", "run"]


def test_retry_counts_again_for_a_waiting_on_failure_run_dependent(cl: Chronolog) -> None:
    a = cl.jobs.enqueue("a", priority=5)
    x = cl.jobs.enqueue("x")
    run = cl.jobs.enqueue("run", after=[a.id, x.id], on_failure="run")
    _fail_for_good(cl, a.id)
    assert cl.jobs.get(run.id).waiting_for == 1  # a counted as finished
    history = cl.jobs.history(run.id)
    cl.jobs.retry(a.id)
    assert (cl.jobs.get(run.id).state, cl.jobs.get(run.id).waiting_for) == ("waiting", 2)
    assert cl.jobs.history(run.id) == history  # no move, no event
    # x completing alone does not release it: a runs again first.
    claimed = {j.kind: j for j in cl.jobs.claim(None, limit=2)}
    cl.jobs.complete(x.id, claimed["x"].lease)
    assert cl.jobs.get(run.id).state == "waiting"
    cl.jobs.complete(a.id, claimed["a"].lease)
    assert _drain(cl) == ["run"]
    assert cl.jobs.get(a.id).state == "completed"
