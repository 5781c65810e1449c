"""Schedules (``cl.jobs.schedules``) on both databases: exactly one job per fire time under
several worker processes, catch-up policies, cron across DST, bad input, re-adds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chronolog import Chronolog, ValidationError
from chronolog.errors import NotFound
from chronolog.jobs import Job
from chronolog.jobs.worker import Worker

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"
SECOND = timedelta(seconds=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 27, 12, 0, 0, 250_000, tzinfo=UTC))


@pytest.fixture
def ccl(db_url: str, clock: Clock) -> Iterator[Chronolog]:
    """A Chronolog whose clock the test moves."""
    with Chronolog(db_url, clock=clock) as chronolog:
        yield chronolog


def _jobs(cl: Chronolog, kind: str) -> list[datetime]:
    """The run_at (= fire time) of every job of ``kind``, oldest first."""
    return sorted(j.run_at for j in _all_jobs(cl, kind))


def _all_jobs(cl: Chronolog, kind: str, states: list[str] | None = None) -> list[Job]:
    found: list[Job] = []
    cursor = None
    while True:
        page = cl.jobs.list(kinds=[kind], states=states, limit=100, cursor=cursor)
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            return found


# -- exactly once, with no leader ---------------------------------------------------------


@pytest.mark.slow
def test_worker_processes_make_one_job_per_fire_time_none_missed(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        cl.jobs.schedules.add("tick", "tick", every=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCH,
                "worker",
                "tests.jobs_handlers:TICK",
                "--name",
                f"w{i}",
                "--grace",
                "2",
                "--db",
                db_url,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(4)
    ]
    try:
        # Each says so once it runs (imports take seconds on a busy machine); the
        # schedule already runs meanwhile, its fire times waiting for a firer.
        for p in procs:  # the start-up line is on stderr (stdout is for data)
            assert p.stderr is not None
            assert b"worker w" in p.stderr.readline()
        start = datetime.now(UTC)
        time.sleep(4.0)
        stop = datetime.now(UTC)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert all("Traceback" not in e for e in errors), errors
    with Chronolog(db_url) as cl:
        fires = _jobs(cl, "tick")
        # One job per fire time: no fire time twice ...
        assert len(fires) == len(set(fires))
        # ... and none missed: every whole second from the first fire on is there,
        # certainly every one while all four workers ran.
        first, last = fires[0], fires[-1]
        assert fires == [first + i * SECOND for i in range(len(fires))]
        assert first <= start.replace(microsecond=0)
        assert last >= stop.replace(microsecond=0) - 2 * SECOND
        recorded = cl.jobs.schedules.fires("tick", 1000)
        assert sorted(f.fire_at for f in recorded) == fires
        fired_by = {f.fired_by for f in recorded}
        assert fired_by <= {f"w{i}" for i in range(4)}
        # Each fire is the job's first event: action "fired", by the scheduler.
        events = cl.events.query(event_types=["job"], actions=["fired"], limit=100)
        assert events.total == len(fires)
        assert {e.actor.type for e in events.items if e.actor} == {"scheduler"}
        assert cl.jobs.schedules.get("tick").fires == len(fires)
        done = _all_jobs(cl, "tick", ["completed"])
        states = sorted((j.id, j.state, j.worker) for j in _all_jobs(cl, "tick"))
        assert len(done) >= len(fires) - 2, (states, errors)  # the workers ran them too


def test_concurrent_firers_in_threads_enqueue_each_fire_once(
    ccl: Chronolog, clock: Clock, db_url: str
) -> None:
    import threading

    ccl.jobs.schedules.add("burst", "burst", every=1, catch_up="all", max_catch_up=50)
    clock.advance(timedelta(seconds=30))
    views = [Chronolog(db_url, clock=clock) for _ in range(4)]
    got: list[list[int]] = []
    barrier = threading.Barrier(len(views))

    def fire(cl: Chronolog) -> None:
        barrier.wait()
        got.append(cl.jobs.schedules.fire_due(f"t{id(cl)}"))

    threads = [threading.Thread(target=fire, args=(v,)) for v in views]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for v in views:
        v.close()
    ids = [i for batch in got for i in batch]
    assert len(ids) == len(set(ids)) == 30
    assert len(_jobs(ccl, "burst")) == 30


# -- catch-up ------------------------------------------------------------------------------


CATCH_UP = {"all": 10, "latest": 1, "none": 0}
"""Jobs each policy enqueues for the ten fire times missed while paused."""


def test_catch_up_after_a_pause(ccl: Chronolog, clock: Clock) -> None:
    s = ccl.jobs.schedules
    for policy in CATCH_UP:  # one hourly schedule per policy, side by side
        s.add(f"hourly-{policy}", f"report-{policy}", every=3600, catch_up=policy)
    clock.advance(timedelta(hours=1))
    assert len(s.fire_due("w")) == 3  # on time, each
    for policy in CATCH_UP:
        s.pause(f"hourly-{policy}")
    clock.advance(timedelta(hours=10, minutes=30))  # ten fire times pass, all late
    assert s.fire_due("w") == []  # paused: nothing fires
    for policy in CATCH_UP:
        s.resume(f"hourly-{policy}")
    fired = s.fire_due("w")
    assert len(fired) == sum(CATCH_UP.values())
    newest = clock().replace(minute=0, second=0, microsecond=0)
    for policy, expected in CATCH_UP.items():
        after = s.get(f"hourly-{policy}")
        assert after.missed == 10 - expected, policy
        assert after.next_fire_at > clock()
        times = _jobs(ccl, f"report-{policy}")
        assert len(times) == 1 + expected, policy
        assert times[1:] == [newest - i * 3600 * SECOND for i in range(expected - 1, -1, -1)]
    # Then on time again, whatever the policy.
    clock.advance(timedelta(minutes=30))
    assert len(s.fire_due("w")) == 3
    missed = ccl.events.query(event_types=["schedule"], actions=["missed"]).items
    assert sorted(
        (e.target.id, e.metadata["missed"]) for e in missed if e.target and e.metadata
    ) == [
        ("hourly-latest", 9),
        ("hourly-none", 10),
    ]


def test_catch_up_after_downtime_and_max_catch_up(ccl: Chronolog, clock: Clock) -> None:
    s = ccl.jobs.schedules
    s.add("minutely", "sync", cron="* * * * *", catch_up="all", max_catch_up=5)
    clock.advance(timedelta(minutes=30, seconds=30))  # no worker ran for half an hour
    fired = s.fire_due("w")
    assert len(fired) == 5  # the newest five of the thirty missed
    times = _jobs(ccl, "sync")
    assert times == [
        clock().replace(second=0, microsecond=0) - i * 60 * SECOND for i in range(4, -1, -1)
    ]
    assert s.get("minutely").missed == 25
    assert s.fire_due("w") == []  # each fire time once


def test_fires_within_grace_are_on_time_under_every_policy(ccl: Chronolog, clock: Clock) -> None:
    s = ccl.jobs.schedules
    s.add("fast", "fast", every=1, catch_up="none")
    clock.advance(timedelta(seconds=3))  # a slow round: three fires, none late enough to skip
    assert len(s.fire_due("w")) == 3
    assert s.get("fast").missed == 0
    assert len(s.fires("fast")) == 3
    # A week later the old fire rows (the keys of past fire times) are forgotten;
    # their jobs and events stay.
    clock.advance(timedelta(days=8))
    # The fire times of the last 5 s (GRACE) are on time; the rest of the week missed.
    assert len(s.fire_due("w")) == 5
    newest = clock().replace(microsecond=0)
    assert [f.fire_at for f in s.fires("fast")] == [newest - i * SECOND for i in range(5)]
    assert len(_jobs(ccl, "fast")) == 8
    assert s.get("fast").missed == 8 * 86400 - 5


# -- cron and time zones ---------------------------------------------------------------------


def test_cron_next_fires_across_dst_in_a_named_zone(ccl: Chronolog, clock: Clock) -> None:
    s = ccl.jobs.schedules
    s.add("nightly", "scan", cron="30 2 * * *", tz="Europe/Berlin")
    # 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that night and
    # fires at 03:00 local (cronie's rule); the UTC times move by an hour.
    fires = s.next_fires("nightly", 4)
    assert fires == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 03:00 CEST (02:30 skipped)
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2026, 3, 31, 0, 30, tzinfo=UTC),
    ]
    # Fired as time goes by: one job per night, at those times.
    for _ in range(4):
        clock.advance(timedelta(days=1))
        s.fire_due("w")
    assert _jobs(ccl, "scan") == fires
    # Autumn: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, fires once.
    clock.at = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    autumn = s.next_fires("nightly", 3)
    assert [f.date().isoformat() for f in autumn] == ["2026-10-25", "2026-10-26", "2026-10-27"]
    assert autumn[1] - autumn[0] in (timedelta(hours=24), timedelta(hours=25))


def test_interval_fires_on_multiples_of_every(ccl: Chronolog) -> None:
    s = ccl.jobs.schedules
    s.add("quarter", "q", every=timedelta(minutes=15))
    assert s.next_fires("quarter", 2) == [
        datetime(2026, 3, 27, 12, 15, tzinfo=UTC),
        datetime(2026, 3, 27, 12, 30, tzinfo=UTC),
    ]


# -- managing -------------------------------------------------------------------------------


BAD_INPUT: list[tuple[dict[str, object], str | None, str]] = [
    ({"cron": "61 * * * *"}, "cron", "bad cron expression"),
    ({"cron": "* * * *"}, "cron", "five fields"),
    ({"cron": "@daily"}, "cron", "five fields"),
    ({"every": 0}, "every", "from 1 to"),
    ({"every": -5}, "every", "from 1 to"),
    ({"every": timedelta(milliseconds=1500)}, "every", "whole number of seconds"),
    ({"every": True}, "every", "from 1 to"),
    ({"cron": "* * * * *", "every": 5}, "cron", "exactly one of cron and every"),
    ({}, "cron", "exactly one of cron and every"),
    ({"every": 5, "tz": "Mars/Olympus_Mons"}, "tz", "unknown time zone"),
    ({"every": 5, "tz": "../../etc/passwd"}, "tz", "IANA time zone"),
    ({"every": 5, "catch_up": "sometimes"}, "catch_up", "catch_up must be one of"),
    ({"every": 5, "max_catch_up": 0}, "max_catch_up", "from 1 to"),
    ({"every": 5, "max_attempts": 0}, "max_attempts", "from 1 to"),
    ({"every": 5, "queue": ""}, "queue", "non-empty"),
    ({"every": 5, "payload": [1, 2]}, None, "payload"),
]
"""Bad ``add`` arguments, the field the error names, and what its message says."""


def test_bad_input_is_refused_and_changes_nothing(cl: Chronolog) -> None:
    cl.jobs.schedules.add("keep", "k", every=60)
    before = cl.jobs.schedules.get("keep")
    events = cl.events.query().total
    for kwargs, field, says in BAD_INPUT:
        for name in ("new", "keep"):  # neither a new schedule nor a change
            with pytest.raises(ValidationError) as caught:
                cl.jobs.schedules.add(name, "k", **kwargs)  # type: ignore[arg-type]
            assert says in str(caught.value), kwargs
            if field is not None:
                assert caught.value.details.get("field") == field, kwargs
    assert [x.name for x in cl.jobs.schedules.list()] == ["keep"]
    assert cl.jobs.schedules.get("keep") == before
    assert cl.events.query().total == events


def test_bad_names_and_unknown_schedules(cl: Chronolog) -> None:
    s = cl.jobs.schedules
    for bad in ("", "has space", "x" * 65, "-dash-first", "a/b"):
        with pytest.raises(ValidationError, match="schedule name"):
            s.add(bad, "k", every=5)
    for verb in (s.get, s.pause, s.resume, s.remove, s.next_fires, s.fires):
        with pytest.raises(NotFound, match="schedule 'ghost' not found"):
            verb("ghost")
    s.add("ok", "k", every=5)
    with pytest.raises(ValidationError):
        s.next_fires("ok", 0)
    assert [x.name for x in s.list()] == ["ok"]


def test_readd_keeps_timing_and_pause_a_new_timing_starts_over(
    ccl: Chronolog, clock: Clock
) -> None:
    s = ccl.jobs.schedules
    first = s.add("idx", "index", every=3600, payload={"full": False})
    s.pause("idx")
    clock.advance(timedelta(minutes=30))
    again = s.add("idx", "index", every=3600, payload={"full": True}, priority=5)
    # Same timing (a deploy re-adding its schedules): next fire and pause kept.
    assert again.next_fire_at == first.next_fire_at
    assert again.paused
    assert again.payload == {"full": True}
    assert again.priority == 5
    changed = s.add("idx", "index", cron="0 3 * * *", tz="Europe/Berlin")
    assert changed.next_fire_at == datetime(2026, 3, 28, 2, 0, tzinfo=UTC)
    assert changed.paused  # an operator's pause survives a redeploy
    actions = [e.action for e in ccl.events.query(event_types=["schedule"]).items]
    assert sorted(actions) == ["added", "changed", "changed", "paused"]
    s.remove("idx")
    assert s.list() == []
    with pytest.raises(NotFound):
        s.get("idx")


def test_a_worker_fires_schedules_and_runs_their_jobs(cl: Chronolog) -> None:
    import threading

    ran: list[int] = []
    cl.jobs.schedules.add("beat", "beat", every=1, payload={"n": 1})
    w = Worker(cl.jobs, {"beat": lambda ctx: ran.append(ctx.id)}, name="local-worker")
    t = threading.Thread(target=w.run)
    t.start()
    deadline = time.monotonic() + 15
    while len(ran) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    w.stop()
    t.join(10)
    assert len(ran) >= 2
    job = cl.jobs.get(ran[0])
    assert job.payload == {"n": 1}
    first = cl.jobs.history(job.id)[0]
    assert first.action == "fired"
    assert first.actor == ("scheduler", "local-worker", None)
    assert first.metadata is not None
    assert first.metadata["schedule"] == "beat"
    assert first.metadata["fire_at"] == job.run_at.isoformat().replace("+00:00", "Z")


def test_the_examples_recurring_tasks_are_schedules(ccl: Chronolog, clock: Clock) -> None:
    from chronolog.examples import library_cleanup, media_manager

    media_manager.define_machines(ccl)
    made = media_manager.install_schedules(ccl)
    scan = library_cleanup.install_schedules(ccl)
    assert [s.name for s in made] == ["index-library", "reconcile-downloads"]
    assert scan.cron == "0 3 * * *"
    clock.advance(timedelta(minutes=2))
    # A restart re-adds them: same timing, so nothing moves and nothing fires twice.
    again = media_manager.install_schedules(ccl)
    assert [s.next_fire_at for s in again] == [s.next_fire_at for s in made]
    # Down from 12:00 until 03:00 next night: the index runs missed are skipped
    # (none), reconcile runs once for the night (latest: the 03:00 one is on time),
    # and the nightly scan runs.
    clock.at = datetime(2026, 3, 28, 3, 0, 1, tzinfo=UTC)
    handlers = {**media_manager.handlers(ccl), **library_cleanup.handlers(ccl)}
    stats = Worker(ccl.jobs, handlers, name="media-app").run(burst=True)
    assert stats.completed == 2
    assert [s.fires for s in ccl.jobs.schedules.list()] == [0, 1, 1]  # index, scan, reconcile
    assert ccl.jobs.schedules.get("index-library").missed == 2
    tasks = ccl.states.entities("task").items
    assert [(t.state, t.title) for t in tasks] == [
        ("done", f"reconcile downloads #{tasks[0].id[4:]}")
    ]
    scans = ccl.events.query(event_types=["scan"]).items
    assert {(e.action, e.actor.type if e.actor else None) for e in scans} == {
        ("started", "scheduler"),
        ("completed", "scheduler"),
    }
    fired = ccl.events.query(event_types=["job"], actions=["fired"]).items
    assert sorted(e.metadata["schedule"] for e in fired) == ["nightly-scan", "reconcile-downloads"]
