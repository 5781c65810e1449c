"""Entities, state machines, transitions and their queries, on both databases."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from chronolog import (
    Actor,
    Chronolog,
    Conflict,
    EntityQuery,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from chronolog._scope import Limits
from chronolog.store.schema import entities, transitions

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

MOVIE = {
    "states": ["new", "missing", "discovered", "downloading", "downloaded"],
    "transitions": {
        "new": ["missing", "discovered"],
        "missing": ["discovered", "downloading"],
        "downloading": ["downloaded"],
    },
    "initial": "new",
    "terminal": ["downloaded"],
}


@pytest.fixture
def fixed(db_url: str) -> Iterator[Chronolog]:
    """A Chronolog whose clock is stuck at NOW."""
    with Chronolog(db_url, clock=lambda: NOW) as chronolog:
        yield chronolog


def _table_rows(cl: Chronolog) -> tuple[int, int, int]:
    with cl.store.read() as conn:
        n_entities = conn.execute(select(func.count()).select_from(entities)).scalar_one()
        n_moves = conn.execute(select(func.count()).select_from(transitions)).scalar_one()
    return n_entities, n_moves, cl.events.query(limit=1).total or 0


def test_first_move_creates_the_entity_from_the_initial_state(cl: Chronolog) -> None:
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    move = cl.states.transition("movie", 603, "missing", title="The Matrix")
    assert (move.from_state, move.to_state, move.sort_key, move.most_recent) == (
        "new",
        "missing",
        1,
        True,
    )
    entity = cl.states.get("movie", "603")
    assert entity.state == "missing"
    assert entity.title == "The Matrix"
    assert entity.current is not None
    assert entity.current.id == move.id


def test_move_into_the_initial_state_records_creation_from_nothing(cl: Chronolog) -> None:
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    move = cl.states.transition("movie", 1, "new")
    assert (move.from_state, move.to_state) == (None, "new")
    assert cl.states.transition("movie", 1, "missing").from_state == "new"


def test_free_form_kind_accepts_any_move_and_sets_from_state(cl: Chronolog) -> None:
    first = cl.states.transition("widget", "w", "a")
    second = cl.states.transition("widget", "w", "z")
    third = cl.states.transition("widget", "w", "z")
    assert first.from_state is None
    assert (second.from_state, third.from_state) == ("a", "z")
    assert [t.sort_key for t in cl.states.history("widget", "w")] == [1, 2, 3]


def test_forbidden_move_names_from_to_and_allowed_and_writes_nothing(cl: Chronolog) -> None:
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    cl.states.transition("movie", 1, "missing")
    cl.states.transition("movie", 1, "downloading")
    before = _table_rows(cl)
    with pytest.raises(InvalidTransition) as excinfo:
        cl.states.transition("movie", 1, "missing")
    err = excinfo.value
    assert "'downloading'" in err.message
    assert "'missing'" in err.message
    assert err.details["allowed"] == ["downloaded"]
    assert err.details["from_state"] == "downloading"
    with pytest.raises(InvalidTransition, match="allowed"):
        cl.states.transition("movie", 1, "no-such-state")
    with pytest.raises(InvalidTransition):  # a new entity: only moves out of "new"
        cl.states.transition("movie", 2, "downloaded")
    assert _table_rows(cl) == before
    with pytest.raises(NotFound):
        cl.states.get("movie", 2)


def test_expected_from_gives_optimistic_concurrency(cl: Chronolog) -> None:
    cl.states.transition("job_like", 1, "pending")
    cl.states.transition("job_like", 1, "running", expected_from="pending")
    with pytest.raises(Conflict, match="'running'"):
        cl.states.transition("job_like", 1, "done", expected_from="pending")
    assert cl.states.get("job_like", 1).state == "running"


def test_every_move_appends_an_event_in_the_same_transaction(fixed: Chronolog) -> None:
    move = fixed.states.transition(
        "movie",
        7,
        "downloading",
        title="Heat",
        actor=Actor("worker", "w1", "Reconciler"),
        metadata={"download_client": "sabnzbd", "download_id": "dl-1"},
    )
    assert move.event_id is not None
    event = fixed.events.get(move.event_id)
    assert (event.event_type, event.action, event.status) == ("movie", "downloading", "success")
    assert event.target is not None
    assert (event.target.type, event.target.id) == ("movie", "7")
    assert event.target.title == "Heat"
    assert event.actor == Actor("worker", "w1", "Reconciler")
    assert event.occurred_at == NOW
    assert event.metadata == {
        "from": None,
        "to": "downloading",
        "sort_key": 1,
        "metadata": {"download_client": "sabnzbd", "download_id": "dl-1"},
    }
    page = fixed.events.query(event_types=["movie"], actions=["downloading"])
    assert page.total == 1


def test_transition_many_is_atomic_and_allows_several_moves_per_entity(cl: Chronolog) -> None:
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    moves = cl.states.transition_many(
        [
            ("movie", 1, "missing"),
            ("movie", 2, "discovered"),
            {"kind": "movie", "id": 1, "to": "downloading", "metadata": {"c": 1}},
            ("movie", 1, "downloaded"),
        ]
    )
    assert [(m.entity_id, m.sort_key, m.most_recent) for m in moves] == [
        ("1", 1, False),
        ("2", 1, True),
        ("1", 2, False),
        ("1", 3, True),
    ]
    assert cl.states.get("movie", 1).state == "downloaded"
    before = _table_rows(cl)
    with pytest.raises(InvalidTransition, match="movie/3"):
        cl.states.transition_many([("movie", 4, "missing"), ("movie", 3, "downloaded")])
    assert _table_rows(cl) == before
    with pytest.raises(NotFound):
        cl.states.get("movie", 4)
    with pytest.raises(ValidationError, match="move 1: "):
        cl.states.transition_many([("movie", 2, "missing"), {"kind": "movie", "to": "x"}])
    assert cl.states.transition_many([]) == []


def test_history_is_by_sort_key_and_survives_title_changes(cl: Chronolog) -> None:
    for state in ("a", "b", "c", "d"):
        cl.states.transition("doc", "x", state, title=f"v-{state}")
    history = cl.states.history("doc", "x")
    assert [(t.sort_key, t.from_state, t.to_state) for t in history] == [
        (1, None, "a"),
        (2, "a", "b"),
        (3, "b", "c"),
        (4, "c", "d"),
    ]
    assert [t.most_recent for t in history] == [False, False, False, True]
    assert [t.sort_key for t in cl.states.history("doc", "x", after=2, limit=1)] == [3]
    assert cl.states.get("doc", "x").title == "v-d"
    with pytest.raises(NotFound):
        cl.states.history("doc", "nope")


def test_upsert_get_children_and_parent_checks(cl: Chronolog) -> None:
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    series = cl.states.upsert("series", "tt1", title="Dark", attributes={"tvdb": 1})
    assert series.state is None
    assert series.attributes == {"tvdb": 1}
    movie = cl.states.upsert("movie", "m1")
    assert movie.state == "new"  # starts in the initial state, created by a transition
    assert movie.current is not None
    assert movie.current.from_state is None
    cl.states.upsert("season", "tt1-s1", parent=("series", "tt1"), title="Season 1")
    cl.states.transition("season", "tt1-s2", "missing", parent=series)
    cl.states.transition("episode", "tt1-s1e1", "missing", parent=("season", "tt1-s1"))
    assert [c.id for c in cl.states.children("series", "tt1")] == ["tt1-s1", "tt1-s2"]
    assert [c.id for c in cl.states.children("series", "tt1", child_kind="episode")] == []
    assert cl.states.get("episode", "tt1-s1e1").parent == ("season", "tt1-s1")
    updated = cl.states.upsert("series", "tt1", title="Dark (2017)")
    assert (updated.title, updated.attributes) == ("Dark (2017)", {"tvdb": 1})
    with pytest.raises(NotFound, match="parent"):
        cl.states.upsert("season", "x", parent=("series", "missing"))
    with pytest.raises(ValidationError, match="own ancestor"):
        cl.states.upsert("series", "tt1", parent=("episode", "tt1-s1e1"))
    with pytest.raises(NotFound):
        cl.states.children("series", "nope")


def test_upsert_of_a_new_entity_records_its_creation(cl: Chronolog) -> None:
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    who = Actor("user", "u1", "Ann")
    movie = cl.states.upsert("movie", 603, title="The Matrix", actor=who)
    [created] = cl.states.history("movie", 603)
    assert (created.sort_key, created.from_state, created.to_state) == (1, None, "new")
    assert created.most_recent
    assert created.actor == who
    assert movie.current == created
    event = cl.events.get(created.event_id)  # type: ignore[arg-type]
    assert (event.event_type, event.action, event.target.id) == ("movie", "new", "603")
    assert event.metadata == {"from": None, "to": "new", "sort_key": 1}
    # changing it records nothing; its next move follows the creation
    cl.states.upsert("movie", 603, title="The Matrix (1999)", attributes={"year": 1999})
    assert len(cl.states.history("movie", 603)) == 1
    moved = cl.states.transition("movie", 603, "missing")
    assert (moved.sort_key, moved.from_state) == (2, "new")
    # no machine, so no state: one "created" event and no transition
    before = cl.events.query(event_types=["series"]).items
    cl.states.upsert("series", "tt1", title="Dark", actor=who)
    cl.states.upsert("series", "tt1", title="Dark (2017)")
    assert cl.states.history("series", "tt1") == []
    events = cl.events.query(event_types=["series"]).items
    assert len(events) == len(before) + 1
    assert (events[0].action, events[0].target.title, events[0].actor) == ("created", "Dark", who)
    assert cl.states.timeline(kinds="movie").count("movie", "new") == 1
    # a refused upsert records nothing
    total = cl.events.query().total
    with pytest.raises(NotFound):
        cl.states.upsert("season", "x", parent=("series", "missing"))
    assert cl.events.query().total == total


def test_concurrent_upserts_of_one_new_entity_record_one_creation(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: cl.states.upsert("movie", 7, title=f"t{i}"), range(8)))
        assert [t.to_state for t in cl.states.history("movie", 7)] == ["new"]
        assert cl.events.query(event_types=["movie"]).total == 1


def test_out_of_range_integers_are_validation_errors(cl: Chronolog) -> None:
    cl.states.transition("movie", 1, "missing")
    for bad in (2**31, 2**63, -1, True, 1.0):
        with pytest.raises(ValidationError, match="after must be an integer from 0"):
            cl.states.history("movie", 1, after=bad)  # type: ignore[arg-type]
    assert cl.states.history("movie", 1, after=2**31 - 1) == []
    with pytest.raises(ValidationError, match="limit"):
        cl.states.history("movie", 1, limit=2**31)
    # a forged cursor with positions beyond BIGINT: refused before any SQL
    cl.states.transition("movie", 2, "missing")
    for page in (cl.states.entities(limit=1), cl.states.timeline(limit=1).page):
        cursor = page.next_cursor
        assert cursor is not None
        body = cursor.rpartition(".")[0]  # a signed cursor: JSON, then its tag
        real = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        for t, i in ((2**63, 1), (1, 2**64 - 1), (-(2**63) - 1, 1), ("1", 1), (1, None)):
            forged = base64.urlsafe_b64encode(json.dumps({**real, "t": t, "i": i}).encode())
            read = cl.states.entities if real["k"] == "entities" else cl.states.timeline
            with pytest.raises(ValidationError, match="cursor"):
                read(limit=1, cursor=forged.decode())


def test_delete_removes_history_orphans_children_and_records_an_event(cl: Chronolog) -> None:
    cl.states.transition("season", "s1", "missing", title="Season 1")
    cl.states.transition("season", "s1", "downloading")
    cl.states.transition("disc", "s1-d1", "pending", parent=("season", "s1"))
    assert cl.states.delete("season", "s1", actor={"type": "user", "id": "admin"}) == 2
    with pytest.raises(NotFound):
        cl.states.get("season", "s1")
    with pytest.raises(NotFound):
        cl.states.history("season", "s1")
    assert cl.states.get("disc", "s1-d1").parent is None
    deleted = cl.events.query(event_types=["season"], actions=["deleted"]).items
    assert len(deleted) == 1
    assert deleted[0].metadata == {"from": "downloading", "transitions": 2}
    assert deleted[0].target is not None
    assert deleted[0].target.title == "Season 1"
    with pytest.raises(NotFound):
        cl.states.delete("season", "s1")
    # the id can be used again, with a fresh history
    assert cl.states.transition("season", "s1", "missing").sort_key == 1


def test_in_state_pages_newest_first_with_current_metadata(fixed: Chronolog) -> None:
    base = NOW - timedelta(hours=1)
    for i in range(7):
        fixed.states.transition(
            "movie",
            i,
            "downloading",
            metadata={"client": f"c{i % 2}"},
            occurred_at=base + timedelta(minutes=i),
        )
    fixed.states.transition("movie", 99, "missing")
    first = fixed.states.in_state("movie", "downloading", limit=3)
    assert [e.id for e in first.items] == ["6", "5", "4"]
    assert first.items[0].current is not None
    assert first.items[0].current.metadata == {"client": "c0"}
    second = fixed.states.in_state("movie", ["downloading"], limit=3, cursor=first.next_cursor)
    third = fixed.states.in_state("movie", ["downloading"], limit=3, cursor=second.next_cursor)
    assert [e.id for e in second.items] == ["3", "2", "1"]
    assert [e.id for e in third.items] == ["0"]
    assert third.next_cursor is None
    both = fixed.states.in_state("movie", ["downloading", "missing"], limit=100)
    assert len(both.items) == 8
    with pytest.raises(ValidationError, match="other filters"):
        fixed.states.in_state("movie", "missing", cursor=first.next_cursor)
    with pytest.raises(ValidationError, match="limit"):
        fixed.states.in_state("movie", "missing", limit=0)


def test_in_state_under_a_parent(cl: Chronolog) -> None:
    for season in ("s1", "s2"):
        cl.states.upsert("season", season)
        for n in range(3):
            cl.states.transition(
                "episode", f"{season}e{n}", "downloading", parent=("season", season)
            )
    page = cl.states.in_state("episode", "downloading", parent=("season", "s2"))
    assert sorted(e.id for e in page.items) == ["s2e0", "s2e1", "s2e2"]
    with pytest.raises(NotFound):
        cl.states.in_state("episode", "downloading", parent=("season", "zz"))


def test_active_leaves_out_terminal_states_and_counts_per_state(cl: Chronolog) -> None:
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    cl.states.transition_many(
        [
            ("movie", 1, "missing"),
            ("movie", 1, "downloading"),
            ("movie", 1, "downloaded"),
            ("movie", 2, "missing"),
            ("movie", 3, "discovered"),
            ("note", "n", "draft"),  # no machine: always active
        ]
    )
    assert sorted(e.id for e in cl.states.active("movie").items) == ["2", "3"]
    assert sorted((e.kind, e.id) for e in cl.states.active().items) == [
        ("movie", "2"),
        ("movie", "3"),
        ("note", "n"),
    ]
    assert cl.states.counts("movie") == {"downloaded": 1, "missing": 1, "discovered": 1}


def test_redefining_a_machine_must_keep_states_in_use(cl: Chronolog) -> None:
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    cl.states.transition("movie", 1, "missing")
    with pytest.raises(ValidationError, match=r"\['missing'\]"):
        cl.states.define("movie", ["new", "downloading"], {"new": ["downloading"]}, initial="new")
    machine = cl.states.define(
        "movie", ["new", "missing", "wanted"], {"missing": ["wanted"]}, initial="new"
    )
    assert cl.states.machine("movie") == machine
    assert cl.states.transition("movie", 1, "wanted").from_state == "missing"
    assert [m.kind for m in cl.states.machines()] == ["movie"]
    assert cl.states.machine("series") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"states": []}, "at least one state"),
        ({"states": ["a", "a"]}, "listed twice"),
        ({"states": "abc"}, "list of state names"),
        ({"transitions": {"a": ["zz"]}}, "unknown states"),
        ({"transitions": {"zz": ["a"]}}, "not one of the states"),
        ({"transitions": ["a"]}, "mapping"),
        ({"initial": "zz"}, "initial state"),
        ({"terminal": ["zz"]}, "terminal"),
        ({"states": ["a", " b"]}, "surrounding blanks"),
        ({"states": ["a", "x" * 65]}, "longer than 64"),
    ],
)
def test_bad_machine_definitions(cl: Chronolog, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"states": ["a", "b"], "transitions": {"a": ["b"]}}
    args.update(kwargs)
    with pytest.raises(ValidationError, match=message):
        cl.states.define("thing", **args)  # type: ignore[arg-type]
    assert cl.states.machine("thing") is None


@pytest.mark.parametrize(
    ("move", "message"),
    [
        ({"kind": "", "id": 1, "to": "a"}, "kind"),
        ({"kind": "job", "id": 1, "to": "a"}, "reserved"),
        ({"kind": "k", "id": "", "to": "a"}, "1 to 255"),
        ({"kind": "k", "id": True, "to": "a"}, "id must be text"),
        ({"kind": "k", "id": "x" * 256, "to": "a"}, "1 to 255"),
        ({"kind": "k", "id": 1, "to": None}, "to must be"),
        ({"kind": "k", "id": 1, "to": "a", "metadata": [1]}, "JSON object"),
        ({"kind": "k", "id": 1, "to": "a", "metadata": "{bad"}, "not valid JSON"),
        ({"kind": "k", "id": 1, "to": "a", "occurred_at": datetime(2026, 1, 1)}, "timezone"),
        ({"kind": "k", "id": 1, "to": "a", "parent": "series"}, "parent"),
        ({"kind": "k", "id": 1, "to": "a", "actor": "me"}, "actor"),
        ({"kind": "k", "id": 1, "to": "a", "title": 5}, "title"),
        ({"kind": "k", "id": 1, "to": "a", "colour": "red"}, "unknown move fields"),
    ],
)
def test_bad_moves_are_clear_errors_and_write_nothing(
    cl: Chronolog, move: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        cl.states.transition_many([move])
    assert _table_rows(cl) == (0, 0, 0)


def test_oversize_metadata_is_refused(db_url: str) -> None:
    with Chronolog(db_url, limits=Limits(metadata_bytes=2048)) as cl:
        with pytest.raises(ValidationError, match="over the limit"):
            cl.states.transition("k", 1, "a", metadata={"blob": "x" * 1500})
        assert _table_rows(cl) == (0, 0, 0)
        cl.states.transition("k", 1, "a", metadata={"blob": "x" * 900})


def test_job_history_is_readable_but_the_kind_is_not_writable(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("mail")
    (claimed,) = cl.jobs.claim(None, "w1")
    cl.jobs.complete(claimed.id, claimed.lease)
    moves = cl.states.history("job", job.id)
    assert [(t.from_state, t.to_state, t.sort_key) for t in moves] == [
        (None, "pending", 1),
        ("pending", "running", 2),
        ("running", "completed", 3),
    ]
    assert [t.most_recent for t in moves] == [False, False, True]
    assert moves[1].actor is not None
    assert moves[1].actor.id == "w1"
    assert {t.kind for t in moves} == {"job"}
    assert {t.title for t in moves} == {"mail"}
    assert all(t.event_id == t.id for t in moves)  # the move is its event
    assert [t.to_state for t in cl.states.history("job", job.id, after=1, limit=1)] == ["running"]
    with pytest.raises(NotFound):
        cl.states.history("job", 999_999)
    with pytest.raises(NotFound):
        cl.states.history("job", "not-a-number")
    with pytest.raises(ValidationError, match="reserved"):
        cl.states.define("job", ["a"], {})
    with pytest.raises(ValidationError, match="reserved"):
        cl.states.transition("job", job.id, "x")


def test_timeline_pages_in_sql_and_counts_each_entity_once_per_day(fixed: Chronolog) -> None:
    day = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    # movie 1 flaps: downloading twice on the same day counts once
    for i, state in enumerate(["downloading", "failed", "downloading", "downloaded"]):
        fixed.states.transition("movie", 1, state, occurred_at=day + timedelta(minutes=i))
    fixed.states.transition("movie", 2, "downloading", occurred_at=day + timedelta(hours=1))
    fixed.states.transition("series", 9, "downloading", occurred_at=day - timedelta(days=1))
    fixed.states.transition("movie", 3, "downloading", occurred_at=day - timedelta(days=30))
    timeline = fixed.states.timeline(days=7, limit=3)
    assert [(t.kind, t.entity_id, t.to_state) for t in timeline.page.items] == [
        ("movie", "2", "downloading"),
        ("movie", "1", "downloaded"),
        ("movie", "1", "downloading"),
    ]
    assert timeline.count("movie", "downloading", date(2026, 11, 20)) == 2
    assert timeline.count("movie", "downloaded") == 1
    assert timeline.count("series", "downloading", date(2026, 11, 19)) == 1
    assert timeline.count("movie", "downloading", date(2026, 10, 21)) == 0  # outside the window
    seen = list(timeline.page.items)
    cursor = timeline.page.next_cursor
    while cursor:
        nxt = fixed.states.timeline(days=7, limit=3, cursor=cursor, with_counts=False)
        seen.extend(nxt.page.items)
        cursor = nxt.page.next_cursor
    assert len(seen) == 6
    assert len({t.id for t in seen}) == 6
    only = fixed.states.timeline(days=7, kinds=["series"], states="downloading")
    assert [t.entity_id for t in only.page.items] == ["9"]
    with pytest.raises(ValidationError, match="days"):
        fixed.states.timeline(days=0)


def test_timeline_days_follow_the_given_time_zone(fixed: Chronolog) -> None:
    at = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # already the 21st in Paris
    fixed.states.transition("movie", 1, "downloaded", occurred_at=at)
    utc = fixed.states.timeline(days=3)
    paris = fixed.states.timeline(days=3, tz=ZoneInfo("Europe/Paris"))
    fixed_offset = fixed.states.timeline(days=3, tz=timezone(timedelta(hours=-5)))
    assert [d.day for d in utc.days] == [date(2026, 11, 20)]
    assert [d.day for d in paris.days] == [date(2026, 11, 21)]
    assert [d.day for d in fixed_offset.days] == [date(2026, 11, 20)]


def test_timeline_across_a_dst_change(db_url: str) -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # Paris went to UTC+2 on March 29
    with Chronolog(db_url, clock=lambda: now) as cl:
        cl.states.transition("m", 1, "x", occurred_at=datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
        cl.states.transition("m", 2, "x", occurred_at=datetime(2026, 3, 29, 22, 30, tzinfo=UTC))
        days = cl.states.timeline(days=5, tz=ZoneInfo("Europe/Paris")).days
    # 23:30 UTC at UTC+1 is the 29th; 22:30 UTC at UTC+2 is the 30th
    assert sorted((d.day, d.count) for d in days) == [
        (date(2026, 3, 29), 1),
        (date(2026, 3, 30), 1),
    ]


def test_schema_refuses_a_second_most_recent_row_and_a_repeated_sort_key(cl: Chronolog) -> None:
    cl.states.transition("m", 1, "a")
    pid = cl.scope.project_id
    insert = text(
        "INSERT INTO transitions (project_id, kind, entity_id, sort_key, from_state, to_state, "
        "most_recent, occurred_at) VALUES (:p, 'm', '1', :k, 'a', 'b', :mr, 0)"
    )
    with pytest.raises(Conflict), cl.store.write() as conn:
        conn.execute(insert, {"p": pid, "k": 2, "mr": True})
    with pytest.raises(Conflict), cl.store.write() as conn:
        conn.execute(insert, {"p": pid, "k": 1, "mr": False})


def test_projects_do_not_see_each_others_entities(cl: Chronolog) -> None:
    cl.projects.create("other")
    other = cl.using("other")
    cl.states.define("movie", **MOVIE)  # type: ignore[arg-type]
    other.states.transition("movie", 1, "anything")  # no machine in "other"
    with pytest.raises(NotFound):
        cl.states.get("movie", 1)
    assert other.states.in_state("movie", "anything").items[0].id == "1"
    assert cl.states.timeline().page.items == []


def test_entity_query_is_checked_when_built_and_round_trips() -> None:
    """The one value of the entity filter family: checked when built, and the same
    value again from its HTTP parameters and its JSON form."""
    assert EntityQuery(kinds="movie,series", states=["a", "a"]).kinds == ("movie", "series")
    assert EntityQuery(states=["a", "a"]).states == ("a",)
    with pytest.raises(ValidationError, match="states must list 1 to 100"):
        EntityQuery(states=[])
    with pytest.raises(ValidationError, match="kinds is longer than 64"):
        EntityQuery(kinds="k" * 65)
    with pytest.raises(ValidationError, match="active must be true or false"):
        EntityQuery(active="yes")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="parent must be a \\(kind, id\\) pair"):
        EntityQuery(parent=("season",))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="since must not be after until"):
        EntityQuery(since=datetime(2026, 2, 1, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="since"):
        EntityQuery(since=datetime(2026, 2, 1))  # naive
    with pytest.raises(ValidationError, match="active must be true or false"):
        EntityQuery.from_params({"active": "maybe"})
    q = EntityQuery.from_params(
        {"active": "false", "parent": "season/s1/x", "since": "2026-01-01T00:00:00+01:00"}
    )
    assert (q.active, q.parent, q.since) == (
        False,
        ("season", "s1/x"),
        datetime(2025, 12, 31, 23, tzinfo=UTC),
    )
    assert EntityQuery.from_params(q.to_params()) == q
    assert EntityQuery.from_dict(q.to_dict()) == q
    assert q.to_params()["active"] == "false"


def test_entity_lists_combine_every_filter(fixed: Chronolog) -> None:
    fixed.states.define("disc", ["new", "ripped"], {"new": ["ripped"]}, terminal=["ripped"])
    fixed.states.upsert("season", "s1")
    early, late = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    fixed.states.transition("disc", "d1", "new", parent=("season", "s1"), occurred_at=early)
    fixed.states.transition("disc", "d2", "new", occurred_at=early)
    fixed.states.transition("disc", "d2", "ripped", occurred_at=late)
    fixed.states.transition("tape", "t1", "ripped", occurred_at=late)  # no machine
    ids = lambda page: sorted(e.id for e in page.items)  # noqa: E731
    assert ids(fixed.states.list(states="ripped")) == ["d2", "t1"]  # any kind
    assert ids(fixed.states.list(states="ripped", active=True)) == ["t1"]  # tape never ends
    assert ids(fixed.states.list(active=False)) == ["d2"]
    assert ids(fixed.states.list(kinds=["disc", "tape"], parent=("season", "s1"))) == ["d1"]
    assert fixed.states.get("disc", "d2").state_since == late
    assert ids(fixed.states.list(kinds="disc", since=late)) == ["d2"]  # inclusive
    assert ids(fixed.states.list(kinds="disc", until=early)) == ["d1"]  # inclusive
    assert ids(fixed.states.list(since=early, until=late - timedelta(seconds=1))) == ["d1"]
    moves = fixed.states.timeline(since=early, until=late, states="ripped")
    assert sorted(t.entity_id for t in moves.page.items) == ["d2", "t1"]
    # A cursor continues only the query it was made for.
    first = fixed.states.list(EntityQuery(kinds=["disc", "tape"]), limit=1)
    with pytest.raises(ValidationError):
        fixed.states.list(EntityQuery(kinds="disc"), limit=1, cursor=first.next_cursor)
    rest = fixed.states.list(EntityQuery(kinds=["disc", "tape"]), limit=5, cursor=first.next_cursor)
    assert len(first.items) + len(rest.items) == 3
