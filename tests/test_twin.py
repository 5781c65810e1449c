"""The Client is the library's twin: the same tests run on the local parts and on the
remote ones (a real uvicorn serving the test's database), and the signatures of every
mirrored method agree but for a written list of intended differences.

As River runs one driver test suite per driver (``riverdrivertest.Exercise``), the
``parts`` fixture hands each test either ``cl`` or a ``Client`` with an admin token.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronolog import (
    Actor,
    Chronolog,
    Client,
    EntityQuery,
    EventQuery,
    InvalidTransition,
    JobQuery,
    NewEvent,
    NewJob,
    NotFound,
    Target,
    ValidationError,
)
from chronolog.client import RemoteEvents, RemoteFeed, RemoteJobs, RemoteStates, RemoteStats
from chronolog.events import Events
from chronolog.feed import Feed
from chronolog.jobs.queue import Jobs
from chronolog.states.part import States
from chronolog.stats import Stats

from ._http import serving

WRITER = Actor("user", "ana", "ana")


@pytest.fixture(params=["local", "remote"])
def parts(request: pytest.FixtureRequest, cl: Chronolog) -> Iterator[Any]:
    """``cl`` itself, or a ``Client`` over a real server of the same database (the
    token's member is ``ana``, so remote writes without an actor are hers)."""
    if request.param == "local":
        yield cl
        return
    cl.auth.set_member("ana", "admin")  # admin: defining a machine is an admin's write
    token = cl.auth.create_token("twin", "admin", user="ana").secret
    with serving(cl) as url, Client(url, token) as client:
        yield client


def test_events_record_query_get_and_status(parts: Any) -> None:
    ids = parts.events.record_many(
        [
            NewEvent("scan", "started", target=Target("library", "1", "Films")),
            NewEvent("deletion", "deleted", target=Target("media_item", "7", "Heat")),
            NewEvent(
                "deletion", "deleted", status="error", target=Target("media_item", "8", "Ran")
            ),
        ]
    )
    assert len(ids) == 3
    query = EventQuery(event_types="deletion", statuses=["error"])
    page = parts.events.query(query, limit=10)
    assert [e.id for e in page.items] == [ids[2]]
    assert page.total == 1
    # The keyword form builds the same query.
    assert [e.id for e in parts.events.query(event_types="deletion", limit=10)] == ids[:0:-1]
    by_target = parts.events.query(target_types="media_item", target_id=7)
    assert [e.id for e in by_target] == [ids[1]]
    assert parts.events.query(search="HEAT").total == 1
    event = parts.events.get(ids[0])
    assert (event.event_type, event.target) == ("scan", Target("library", "1", "Films"))
    assert parts.events.set_status(ids[0], "success").status == "success"
    assert [e.id for e in parts.events.recent(2)] == [ids[2], ids[1]]
    with pytest.raises(NotFound):
        parts.events.get(10**9)


def test_events_bad_queries_are_refused_alike(parts: Any) -> None:
    with pytest.raises(ValidationError, match="target_id needs target_types"):
        parts.events.query(target_id="7")
    with pytest.raises(ValidationError, match="unknown event filter"):
        parts.events.query(colour="red")
    with pytest.raises(ValidationError, match="date_range"):
        parts.events.query(date_range="1y")
    with pytest.raises(ValidationError, match="limit"):
        parts.events.query(limit=0)


def test_events_idempotency_key_replays(parts: Any) -> None:
    first = parts.events.record_many([NewEvent("a", "x")], idempotency_key="batch-1")
    again = parts.events.record_many([NewEvent("a", "x")], idempotency_key="batch-1")
    assert first == again
    assert parts.events.query(event_types="a").total == 1


def test_stats_buckets_with_a_query(parts: Any) -> None:
    now = datetime.now(UTC)
    parts.events.record_many(
        [
            NewEvent("job", "failed", status="error", occurred_at=now - timedelta(minutes=3)),
            NewEvent("job", "completed", occurred_at=now - timedelta(minutes=2)),
            NewEvent("scan", "done", occurred_at=now - timedelta(minutes=1)),
        ]
    )
    series = parts.stats.buckets("1h", query=EventQuery(event_types="job"), group_by="action")
    assert series.total == 2
    assert set(series.groups) == {"completed", "failed"}
    ranged = parts.stats.buckets(
        query=EventQuery(since=now - timedelta(hours=1)), bucket="15m", actions="done"
    )
    assert ranged.total == 1
    with pytest.raises(ValidationError, match="stats cannot filter on search"):
        parts.stats.buckets("1h", search="x")


def test_feed_reads_and_follows_with_a_query(parts: Any) -> None:
    ids = parts.events.record_many(
        [NewEvent("a", "x"), NewEvent("b", "y"), NewEvent("a", "z", actor=Actor("rule", "7"))]
    )
    page = parts.feed.read(limit=10, query=EventQuery(event_types="a"))
    assert [e.id for e in page.items] == [ids[0], ids[2]]
    assert [e.id for e in parts.feed.read(limit=10, actor_id="7").items] == [ids[2]]
    follower = parts.feed.follow(page.cursors[0], query=EventQuery(actions=["z"]), poll=0.2)
    item = next(iter(follower))
    assert item.event.id == ids[2]
    with pytest.raises(ValidationError, match="the feed cannot filter on search"):
        parts.feed.read(search="x")


def test_states_verbs(parts: Any) -> None:
    parts.states.define(
        "movie",
        states=["wanted", "downloading", "done"],
        transitions={"wanted": ["downloading"], "downloading": ["done"]},
        initial="wanted",
        terminal=["done"],
    )
    created = parts.states.upsert("movie", "heat", title="Heat", actor=WRITER)
    assert created.state == "wanted"
    assert created.current is not None
    assert created.current.actor == WRITER
    moved = parts.states.transition_many(
        [("movie", "heat", "downloading"), {"kind": "movie", "id": "ran", "to": "wanted"}]
    )
    assert [(t.entity_id, t.to_state) for t in moved] == [
        ("heat", "downloading"),
        ("ran", "wanted"),
    ]
    with pytest.raises(InvalidTransition):
        parts.states.transition("movie", "heat", "wanted")
    assert parts.states.counts("movie") == {"downloading": 1, "wanted": 1}
    assert [t.to_state for t in parts.states.history("movie", "heat")] == [
        "wanted",
        "downloading",
    ]
    assert {e.id for e in parts.states.in_state("movie", ["wanted"]).items} == {"ran"}
    assert parts.states.delete("movie", "ran", actor=WRITER) == 1
    with pytest.raises(NotFound):
        parts.states.get("movie", "ran")
    deleted = parts.events.query(event_types="movie", actions="deleted").items
    assert [(e.target.id, e.actor) for e in deleted] == [("ran", WRITER)]
    # A batch is all or nothing: a forbidden second move leaves the first unmade.
    with pytest.raises(InvalidTransition):
        parts.states.transition_many([("movie", "heat", "done"), ("movie", "heat", "wanted")])
    assert parts.states.get("movie", "heat").state == "downloading"


def test_entity_queries(parts: Any) -> None:
    parts.states.define(
        "movie",
        states=["wanted", "downloading", "done"],
        transitions={"wanted": ["downloading"], "downloading": ["done"]},
        initial="wanted",
        terminal=["done"],
    )
    start = datetime.now(UTC) - timedelta(seconds=1)
    parts.states.upsert("season", "s1")
    parts.states.transition_many(
        [
            {"kind": "movie", "id": "heat", "to": "wanted"},
            {"kind": "movie", "id": "heat", "to": "downloading"},
            {"kind": "movie", "id": "ran", "to": "wanted", "parent": ("season", "s1")},
            ("movie", "alien", "wanted"),
            ("movie", "alien", "downloading"),
            ("movie", "alien", "done"),
        ]
    )
    ids = lambda page: sorted(e.id for e in page.items)  # noqa: E731
    assert ids(parts.states.list(EntityQuery(kinds="movie", active=True))) == ["heat", "ran"]
    assert ids(parts.states.list(kinds="movie", active=False)) == ["alien"]
    assert ids(parts.states.list(parent=("season", "s1"))) == ["ran"]
    assert ids(parts.states.list(states=["downloading", "done"], since=start)) == [
        "alien",
        "heat",
    ]
    assert ids(parts.states.list(kinds="movie", until=start)) == []
    # The named lists are the same queries.
    assert parts.states.active("movie") == parts.states.list(kinds="movie", active=True)
    assert parts.states.in_state("movie", "wanted", parent=("season", "s1")).items == (
        parts.states.list(parent=("season", "s1")).items
    )
    moves = parts.states.timeline(EntityQuery(kinds="movie", states="downloading", since=start))
    assert sorted(t.entity_id for t in moves.page.items) == ["alien", "heat"]
    assert moves.count("movie", "downloading") == 2
    with pytest.raises(ValidationError, match="the timeline cannot filter on active"):
        parts.states.timeline(active=True)
    with pytest.raises(ValidationError, match="days or since"):
        parts.states.timeline(days=2, since=start)
    with pytest.raises(ValidationError, match="unknown entity filter"):
        parts.states.list(kind="movie")
    with pytest.raises(NotFound):
        parts.states.list(parent=("season", "nope"))


def test_jobs_verbs(parts: Any) -> None:
    boss = Actor("user", "boss", "Boss")
    job = parts.jobs.enqueue("rip", {"disc": 1}, queue="media", subject=("disc", 1), actor=boss)
    ids = parts.jobs.enqueue_many(
        [NewJob("encode", queue="media"), NewJob("scan", queue="library")], actor=boss
    )
    assert parts.jobs.history(job.id)[0].actor == ("user", "boss", "Boss")
    media = parts.jobs.list(JobQuery(queues="media"))
    assert {j.id for j in media.items} == {job.id, ids[0]}
    assert [j.id for j in parts.jobs.list(kinds="scan").items] == [ids[1]]
    assert [j.id for j in parts.jobs.list(subject=("disc", "1")).items] == [job.id]
    with pytest.raises(ValidationError, match="unknown job filter"):
        parts.jobs.list(queue="media")
    assert parts.jobs.counts() == {"media": {"pending": 2}, "library": {"pending": 1}}
    cancelled = parts.jobs.cancel(ids[1], actor=boss)
    assert cancelled.state == "cancelled"
    assert parts.jobs.retry(ids[1], actor=boss).state == "pending"
    moves = parts.jobs.history(ids[1])
    assert [m.to_state for m in moves] == ["pending", "cancelled", "pending"]
    assert {m.actor for m in moves} == {("user", "boss", "Boss")}
    # A claim whose lease runs out is rescued; one that fails for good is listed.
    (claimed,) = parts.jobs.claim("media", "w1", lease_seconds=0.2)
    assert [j.id for j in parts.jobs.running()] == [claimed.id]
    time.sleep(0.4)
    assert parts.jobs.rescue() == 1
    assert parts.jobs.get(claimed.id).state == "pending"
    (again,) = parts.jobs.claim("library", "w1")
    parts.jobs.fail(again.id, again.lease, "disc unreadable", retry=False)
    assert [j.id for j in parts.jobs.failed(timedelta(hours=1))] == [again.id]
    assert [j.id for j in parts.jobs.failed(datetime.now(UTC) + timedelta(hours=1))] == []


def test_queue_verbs_bulk_moves_and_pipelines_record_who(parts: Any) -> None:
    """Every operator verb takes ``actor=`` on both sides (over HTTP: an optional
    ``{"actor"}`` body; without one the server records the token's member)."""
    boss = Actor("user", "boss", "Boss")
    parts.jobs.enqueue_many([NewJob("rip", queue="media")] * 2)
    assert parts.jobs.pause("media", actor=boss).paused
    assert not parts.jobs.resume("media", actor=boss).paused
    assert parts.jobs.set_limit("media", concurrency=2, actor=boss).concurrency == 2
    queue_events = parts.events.query(event_types="queue", limit=10).items
    assert [(e.action, e.actor) for e in queue_events] == [
        ("limited", boss),
        ("resumed", boss),
        ("paused", boss),
    ]
    assert parts.jobs.cancel_many(JobQuery(queues="media"), actor=boss) == 2
    assert parts.jobs.retry_many(queues="media", actor=boss) == 2
    for job in parts.jobs.list(queues="media").items:
        moves = parts.jobs.history(job.id)
        assert [(m.action, m.actor) for m in moves[1:]] == [
            ("cancelled", ("user", "boss", "Boss")),
            ("retried", ("user", "boss", "Boss")),
        ]
    pipeline = parts.jobs.pipeline(["rip", "encode"], subject=("disc", "1"), actor=boss)
    firsts = {parts.jobs.history(j.id)[0].actor for j in pipeline.jobs}
    assert firsts == {("user", "boss", "Boss")}
    with pytest.raises(ValidationError, match="unknown job filter"):
        parts.jobs.cancel_many(queue="media")


def test_ping(parts: Any, backend: str) -> None:
    health = parts.ping()
    assert health.ready
    assert health.database == backend
    assert health.checks == {"database": None, "schema": None, "writable": None}


# -- the signatures ---------------------------------------------------------------------

INTENDED: dict[str, str] = {
    # Library-only verbs: administration, the store's own writers, the search index.
    "Events.delete_all": "purging is an admin task (CLI `cleanup`, retention policies)",
    "Events.delete_older_than": "purging is an admin task (retention policies)",
    "Events.enable_search_index": "a store-wide index, set up by the CLI",
    "Events.disable_search_index": "a store-wide index, set up by the CLI",
    "Events.search_index_enabled": "a store-wide index, set up by the CLI",
    "Events.expire_idempotency_keys": "server housekeeping",
    "Events.prepare": "for parts writing events in their own transaction",
    "Events.write_prepared": "for parts writing events in their own transaction",
    "Events.record_all": "an unbounded import in one transaction: not over one request",
    "Events.record_once": "the server's side of idempotent record_many",
    "Events.register_types": "project vocabulary is an admin task (CLI `projects`)",
    "Events.unregister_types": "project vocabulary is an admin task",
    "Events.registered_types": "project vocabulary is an admin task",
    "Events.register_statuses": "project vocabulary is an admin task",
    "Feed.afollow": "the async follower needs the store's notifier",
    "Jobs.log_tail": "the dashboard's log pager; a remote reader pages logs with after=",
    "RemoteJobs.release_unstarted": "gives back jobs a long-poll took for the worker",
    "Jobs.register_worker(remote)": "a worker registered through the client is remote",
    "Jobs.reconcile_waiting": "maintenance the rescue runs where the store is (the server's)",
    "Feed.matcher": "serves many followers from one read: the server's fan-out",
    "Feed.position": "compares cursors for the server's fan-out",
    # Parameters.
    "Events.record_many(request_hash)": "the server hashes the request body itself",
    "Stats.buckets(now)": "the server's clock decides now",
    "Feed.read(wait)": "remote only: a long-poll holds the request",
    "Feed.follow(reconnect)": "remote only: the delay before reconnecting a dropped stream",
}

PAIRS = [
    (Jobs, RemoteJobs),
    (Events, RemoteEvents),
    (Stats, RemoteStats),
    (Feed, RemoteFeed),
    (States, RemoteStates),
]


def _public(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member)
    }


def test_mirrored_signatures_agree() -> None:
    found: list[str] = []
    for local, remote in PAIRS:
        mine, theirs = _public(local), _public(remote)
        for name in sorted(set(mine) - set(theirs)):
            found.append(f"{local.__name__}.{name}")
        for name in sorted(set(theirs) - set(mine)):
            found.append(f"{remote.__name__}.{name}")
        for name in sorted(set(mine) & set(theirs)):
            a = inspect.signature(mine[name]).parameters
            b = inspect.signature(theirs[name]).parameters
            for param in sorted(set(a) | set(b)):
                pa, pb = a.get(param), b.get(param)
                if pa is None or pb is None or (pa.kind, pa.default) != (pb.kind, pb.default):
                    found.append(f"{local.__name__}.{name}({param})")
    unexplained = sorted(set(found) - set(INTENDED))
    assert not unexplained, f"differences without a written reason: {unexplained}"
    stale = sorted(set(INTENDED) - set(found))
    assert not stale, f"intended differences that no longer exist: {stale}"
