"""The activity log: record, update, query, page, purge, validate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chronolog import Actor, Chronolog, NewEvent, NotFound, Target, ValidationError
from chronolog._scope import Limits

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def fixed(db_url: str) -> Iterator[Chronolog]:
    """A Chronolog whose clock is stuck at NOW."""
    with Chronolog(db_url, clock=lambda: NOW) as chronolog:
        yield chronolog


def _snapshot(cl: Chronolog) -> list[tuple[object, ...]]:
    page = cl.events.query(limit=100)
    return [(e.id, e.status, e.error, e.metadata) for e in page.items]


def test_record_and_get_round_trip(fixed: Chronolog) -> None:
    at = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    event_id = fixed.events.record(
        "deletion",
        "deleted",
        actor=Actor("rule", "7", "Old movies"),
        target=Target("media_item", "42", "The Matrix"),
        occurred_at=at,
        metadata={"fileSize": 123, "nested": {"ok": [1, 2]}},
    )
    event = fixed.events.get(event_id)
    assert event.occurred_at == at.astimezone(UTC)
    assert event.occurred_at.tzinfo is UTC
    assert (event.event_type, event.action, event.status) == ("deletion", "deleted", "success")
    assert event.actor == Actor("rule", "7", "Old movies")
    assert event.target == Target("media_item", "42", "The Matrix")
    assert event.metadata == {"fileSize": 123, "nested": {"ok": [1, 2]}}
    assert event.to_dict()["occurred_at"] == "2026-11-20T06:30:15.123456Z"


def test_defaults_and_mapping_parties(fixed: Chronolog) -> None:
    event_id = fixed.events.record(
        "scan",
        "started",
        actor={"type": "scheduler", "id": "system", "name": "Library Scan"},
        target={"type": "scan", "id": 5},
    )
    event = fixed.events.get(event_id)
    assert event.occurred_at == NOW
    assert event.status == "success"
    assert event.target == Target("scan", "5", None)
    assert event.metadata is None


def test_record_many_returns_ids_in_order(cl: Chronolog) -> None:
    batch = [NewEvent("like", "create", metadata={"n": i}) for i in range(300)]
    ids = cl.events.record_many(batch)
    assert len(ids) == 300
    assert ids == sorted(ids)
    assert len(set(ids)) == 300
    for i in (0, 150, 299):
        assert cl.events.get(ids[i]).metadata == {"n": i}


def test_record_many_is_all_or_nothing(cl: Chronolog) -> None:
    cl.events.record("scan", "started")
    before = _snapshot(cl)
    batch: list[object] = [{"event_type": "ok", "action": "a"}] * 5 + [
        {"event_type": "", "action": "a"}
    ]
    with pytest.raises(ValidationError, match="event 5: event_type"):
        cl.events.record_many(batch)  # type: ignore[arg-type]
    assert _snapshot(cl) == before


def test_a_batch_numbers_its_first_item_too(cl: Chronolog) -> None:
    bad = {"event_type": "", "action": "a"}
    good = {"event_type": "ok", "action": "a"}
    for record in (cl.events.record_many, cl.events.record_all):
        with pytest.raises(ValidationError, match=r"^event 0: event_type") as caught:
            record([bad, good])
        assert caught.value.details["index"] == 0
        # A batch of one, and record(), have no other item to tell it from.
        with pytest.raises(ValidationError, match=r"^event_type") as caught:
            record(iter([bad]))
        assert "index" not in caught.value.details
    with pytest.raises(ValidationError, match=r"^event_type"):
        cl.events.record("", "a")
    assert cl.events.query().total == 0


def test_registry_failure_in_a_batch_writes_nothing(cl: Chronolog) -> None:
    cl.events.register_types("scan", "deletion")
    before = _snapshot(cl)
    with pytest.raises(ValidationError, match=r"unknown event type\(s\) \['protection'\]"):
        cl.events.record_many([NewEvent("scan", "started"), NewEvent("protection", "added")])
    assert _snapshot(cl) == before


def test_set_status_lifecycle(cl: Chronolog) -> None:
    event_id = cl.events.record("commit", "create", status="processing")
    updated = cl.events.set_status(event_id, "error", error="bad record")
    assert (updated.status, updated.error) == ("error", "bad record")
    assert cl.events.get(event_id).status == "error"
    assert cl.events.get(event_id).error == "bad record"
    cl.events.set_status(event_id, "success")
    assert cl.events.get(event_id).error is None
    with pytest.raises(NotFound):
        cl.events.set_status(event_id + 1000, "success")


def test_get_missing_and_bad_ids(cl: Chronolog) -> None:
    with pytest.raises(NotFound, match="event 99"):
        cl.events.get(99)
    with pytest.raises(ValidationError):
        cl.events.get("1")  # type: ignore[arg-type]


def test_recent_is_newest_first(fixed: Chronolog) -> None:
    for minutes in (30, 10, 20):
        fixed.events.record("scan", f"m{minutes}", occurred_at=NOW - timedelta(minutes=minutes))
    assert [e.action for e in fixed.events.recent(2)] == ["m10", "m20"]


def test_query_filters_combine(fixed: Chronolog) -> None:
    ev = fixed.events
    ev.record(
        "deletion", "deleted", actor=Actor("rule", "1"), target=Target("media_item", "1", "Alien")
    )
    ev.record(
        "deletion",
        "unmonitored",
        actor=Actor("user", "u1"),
        target=Target("media_item", "2", "Aliens"),
    )
    ev.record("scan", "completed", actor=Actor("scheduler", "system"), status="error")
    ev.record(
        "rule_match",
        "item_queued",
        actor=Actor("rule", "1"),
        target=Target("media_item", "1", "Alien"),
    )
    ev.record(
        "rule_match",
        "item_queued",
        actor=Actor("rule", "1"),
        target=Target("show", "1", "Alien Nation"),
    )

    def actions(**filters: object) -> list[str]:
        return sorted(e.action for e in ev.query(**filters).items)  # type: ignore[arg-type]

    assert actions(event_types=["deletion"]) == ["deleted", "unmonitored"]
    assert actions(event_types="deletion,scan") == ["completed", "deleted", "unmonitored"]
    assert actions(actor_types=["rule"], event_types=["deletion"]) == ["deleted"]
    assert actions(actor_id="u1") == ["unmonitored"]
    assert actions(statuses=["error"]) == ["completed"]
    assert actions(target_types="media_item", target_id="1") == ["deleted", "item_queued"]
    assert actions(target_types="media_item", target_id=1) == ["deleted", "item_queued"]
    assert actions(actions=["item_queued"], target_types="show") == ["item_queued"]
    assert actions(search="aliens") == ["unmonitored"]
    assert actions(search="ALIEN") == ["deleted", "item_queued", "item_queued", "unmonitored"]
    assert actions(search="queued") == ["item_queued", "item_queued"]


def test_search_treats_wildcards_and_quotes_literally(cl: Chronolog) -> None:
    titles = [
        "100% Pure",
        "100 Pure",
        "snake_case",
        "snakeXcase",
        "O'Brien",
        'say "hi"',
        "back\\slash",
    ]
    for title in titles:
        cl.events.record("scan", "done", target=Target("media_item", title, title))

    def found(text: str) -> list[str]:
        return sorted(
            e.target.title
            for e in cl.events.query(search=text).items
            if e.target and e.target.title
        )

    assert found("100%") == ["100% Pure"]
    assert found("%") == ["100% Pure"]
    assert found("_") == ["snake_case"]
    assert found("e_c") == ["snake_case"]
    assert found("O'B") == ["O'Brien"]
    assert found('"hi"') == ['say "hi"']
    assert found("k\\s") == ["back\\slash"]
    assert found("'; DROP TABLE events; --") == []
    assert cl.events.query().total == len(titles)


def test_target_id_requires_target_type(cl: Chronolog) -> None:
    with pytest.raises(ValidationError, match="target_id needs target_type"):
        cl.events.query(target_id="42")


def test_date_ranges_and_explicit_window(fixed: Chronolog) -> None:
    for hours in (1, 30, 24 * 10, 24 * 40):
        fixed.events.record("scan", f"h{hours}", occurred_at=NOW - timedelta(hours=hours))
    fixed.events.record("scan", "future", occurred_at=NOW + timedelta(hours=1))

    def actions(**kw: object) -> set[str]:
        return {e.action for e in fixed.events.query(**kw).items}  # type: ignore[arg-type]

    assert actions(date_range="24h") == {"h1", "future"}
    assert actions(date_range="7d") == {"h1", "h30", "future"}
    assert actions(date_range="30d") == {"h1", "h30", "h240", "future"}
    assert actions(date_range="all") == {"h1", "h30", "h240", "h960", "future"}
    assert actions(since=NOW - timedelta(hours=31), until=NOW) == {"h1", "h30"}
    # until is exclusive, since inclusive
    assert actions(since=NOW - timedelta(hours=30), until=NOW - timedelta(hours=1)) == {"h30"}


def test_offset_pages_and_total(fixed: Chronolog) -> None:
    fixed.events.record_many(
        [NewEvent("scan", f"a{i:02d}", occurred_at=NOW - timedelta(seconds=i)) for i in range(25)]
    )
    first = fixed.events.query(limit=10)
    third = fixed.events.query(limit=10, page=3)
    assert first.total == third.total == 25
    assert [e.action for e in first.items] == [f"a{i:02d}" for i in range(10)]
    assert [e.action for e in third.items] == [f"a{i:02d}" for i in range(20, 25)]
    assert third.next_cursor is None
    assert fixed.events.query(limit=10, page=4).items == []


def test_cursor_walks_every_event_once_including_ties(fixed: Chronolog) -> None:
    # Same timestamp for many events: the id breaks ties.
    fixed.events.record_many([NewEvent("scan", f"t{i}", occurred_at=NOW) for i in range(17)])
    fixed.events.record_many(
        [NewEvent("scan", f"u{i}", occurred_at=NOW - timedelta(days=1)) for i in range(5)]
    )
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = fixed.events.query(limit=4, cursor=cursor)
        seen.extend(e.id for e in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        assert page.total == 22
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 22
    assert pages == 6
    assert page.page == 6


def test_bad_cursors_are_refused(cl: Chronolog) -> None:
    cl.events.record_many([NewEvent("scan", "x")] * 3)
    cursor = cl.events.query(limit=1).next_cursor
    assert cursor is not None
    for bad in ["", "garbage!!", "eyJmb28iOiAxfQ", cursor[:-3] + "AAA", "x" * 600]:
        with pytest.raises(ValidationError, match="cursor"):
            cl.events.query(limit=1, cursor=bad)
    with pytest.raises(ValidationError, match="other filters"):
        cl.events.query(limit=1, cursor=cursor, event_types=["scan"])


@pytest.mark.parametrize("limit", [0, -1, 101, 10**9, True, 2.5])
def test_limits_outside_range_are_refused(cl: Chronolog, limit: object) -> None:
    with pytest.raises(ValidationError, match="limit"):
        cl.events.query(limit=limit)  # type: ignore[arg-type]


@pytest.mark.parametrize("page", [0, -3, "2"])
def test_bad_pages_are_refused(cl: Chronolog, page: object) -> None:
    with pytest.raises(ValidationError, match="page"):
        cl.events.query(page=page)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event_type": "", "action": "a"}, "event_type must be a non-empty string"),
        ({"event_type": "   ", "action": "a"}, "event_type must be a non-empty string"),
        ({"event_type": "x" * 65, "action": "a"}, "longer than 64"),
        ({"event_type": "scan", "action": ""}, "action must be a non-empty string"),
        ({"event_type": "scan", "action": None}, "action must be a non-empty string"),
        ({"event_type": "scan", "action": "a", "status": ""}, "status"),
        ({"event_type": "scan", "action": "a", "metadata": [1, 2]}, "must be a JSON object"),
        ({"event_type": "scan", "action": "a", "metadata": "[1]"}, "must be a JSON object"),
        ({"event_type": "scan", "action": "a", "metadata": "{not json"}, "not valid JSON"),
        (
            {"event_type": "scan", "action": "a", "metadata": {"x": object()}},
            "cannot be stored as JSON",
        ),
        ({"event_type": "scan", "action": "a", "metadata": {"x": "y" * 70_000}}, "over the limit"),
        (
            {"event_type": "scan", "action": "a", "occurred_at": datetime(2026, 1, 1)},
            "timezone-aware",
        ),
        ({"event_type": "scan", "action": "a", "occurred_at": "2026-01-01"}, "must be a datetime"),
        ({"event_type": "scan", "action": "a", "actor": {"id": "1"}}, "actor.type"),
        ({"event_type": "scan", "action": "a", "actor": "user"}, "actor must be"),
        (
            {"event_type": "scan", "action": "a", "actor": {"type": "u", "role": "x"}},
            "unknown fields",
        ),
        ({"event_type": "scan", "action": "a", "target": {"type": "m", "id": 1.5}}, "target.id"),
        ({"event_type": "scan", "action": "a", "target": Actor("user")}, "target must be a Target"),
        ({"event_type": "scan", "action": "a", "error": 42}, "error must be text"),
        # PostgreSQL cannot store NUL: refused on both databases alike.
        ({"event_type": "sc\x00an", "action": "a"}, "NUL"),
        ({"event_type": "scan", "action": "a", "target": {"type": "m", "title": "x\x00"}}, "NUL"),
        ({"event_type": "scan", "action": "a", "actor": Actor("user", "1\x00")}, "NUL"),
        ({"event_type": "scan", "action": "a", "error": "bad\x00"}, "NUL"),
        ({"event_type": "scan", "action": "a", "metadata": {"k": ["v\x00"]}}, "NUL"),
        ({"event_type": "scan", "action": "a", "metadata": {"k\x00": 1}}, "NUL"),
    ],
)
def test_validation_errors_change_nothing(
    cl: Chronolog, kwargs: dict[str, object], message: str
) -> None:
    cl.events.record("scan", "started")
    before = _snapshot(cl)
    with pytest.raises(ValidationError, match=message):
        cl.events.record(**kwargs)  # type: ignore[arg-type]
    assert _snapshot(cl) == before


def test_metadata_cap_is_configurable(db_url: str) -> None:
    with Chronolog(db_url, limits=Limits(metadata_bytes=100)) as small:
        small.events.record("scan", "a", metadata={"x": "y" * 50})
        with pytest.raises(ValidationError, match="over the limit of 100 bytes"):
            small.events.record("scan", "a", metadata={"x": "y" * 100})


def test_event_type_registry(cl: Chronolog) -> None:
    cl.events.record("anything", "goes")  # lax until a type is registered
    assert cl.events.register_types("scan", "deletion") == ["deletion", "scan"]
    assert cl.events.register_types("scan", "protection") == ["deletion", "protection", "scan"]
    cl.events.record("protection", "added")  # a new type is a data change, no migration
    with pytest.raises(ValidationError, match="unknown event type"):
        cl.events.record("anything", "goes")
    assert cl.events.unregister_types("scan", "deletion", "protection") == []
    cl.events.record("anything", "goes")
    assert cl.events.query(event_types=["anything"]).total == 2


def test_strict_statuses(cl: Chronolog) -> None:
    cl.events.record("commit", "create", status="validation_error")  # lax project
    cl.projects.update("default", strict_statuses=True)
    before = _snapshot(cl)
    with pytest.raises(ValidationError, match="unknown status"):
        cl.events.record("commit", "create", status="validation_error")
    event_id = cl.events.record("commit", "create", status="processing")
    with pytest.raises(ValidationError, match="unknown status"):
        cl.events.set_status(event_id, "validation_error")
    assert cl.events.get(event_id).status == "processing"
    cl.events.register_statuses("validation_error")
    cl.events.set_status(event_id, "validation_error")
    assert len(_snapshot(cl)) == len(before) + 1


def test_delete_older_than_in_batches(db_url: str) -> None:
    with Chronolog(db_url, clock=lambda: NOW) as cl:
        cl.events.record_many(
            [
                NewEvent("commit", "create", occurred_at=NOW - timedelta(hours=h))
                for h in range(1, 50)
            ]
        )
        removed = cl.events.delete_older_than("24h", batch_size=7)
        # hours 25..49 are older than the cutoff; hour 24 sits on it and stays
        assert removed == 25
        remaining = cl.events.query(limit=100).items
        assert len(remaining) == 24
        assert min(e.occurred_at for e in remaining) == NOW - timedelta(hours=24)
        with pytest.raises(ValidationError, match="duration"):
            cl.events.delete_older_than("soon")
        with pytest.raises(ValidationError, match="positive"):
            cl.events.delete_older_than(-5)


def test_delete_all_only_touches_one_project(cl: Chronolog) -> None:
    cl.projects.create("other")
    other = cl.using("other")
    other.events.record("scan", "x")
    cl.events.record_many([NewEvent("scan", "x")] * 4)
    assert cl.events.delete_all() == 4
    assert cl.events.query().total == 0
    assert other.events.query().total == 1


def test_ids_are_never_reused_after_purge(cl: Chronolog) -> None:
    first = cl.events.record("scan", "x")
    cl.events.delete_all()
    assert cl.events.record("scan", "y") > first


def test_literal_backslash_u0000_text_is_fine(cl: Chronolog) -> None:
    event_id = cl.events.record("scan", "a", metadata={"text": "\\u0000 is how JSON spells NUL"})
    assert cl.events.get(event_id).metadata == {"text": "\\u0000 is how JSON spells NUL"}


def test_nul_in_search_is_refused(cl: Chronolog) -> None:
    with pytest.raises(ValidationError, match="NUL"):
        cl.events.query(search="a\x00b")
