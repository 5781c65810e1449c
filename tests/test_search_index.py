"""The opt-in search index: the same answers as a scan, kept right by every write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from chronolog import Chronolog, Target

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

TITLES = [
    "Alien",
    "Aliens",
    "Alien Nation",
    "100% Pure",
    "snake_case",
    "snakeXcase",
    'say "hi"',
    "back\\slash",
    "O'Brien",
    "Amélie",
    "AMÉLIE FOREVER",
    "  spaced  out  ",
    None,
]
ACTIONS = ["deleted", "item_queued", "unmonitored", "scanned"]


def _fill(cl: Chronolog, start: datetime = NOW) -> list[int]:
    ids = []
    for i, title in enumerate(TITLES * 3):
        target = Target("media_item", str(i), title) if title is not None else None
        ids.append(
            cl.events.record(
                "scan",
                ACTIONS[i % len(ACTIONS)],
                target=target,
                occurred_at=start - timedelta(minutes=i),
            )
        )
    return ids


def _expected(cl: Chronolog, needle: str) -> list[int]:
    """Brute force over every event of the project: title or action contains the text."""
    low = needle.lower()
    out = []
    for e in cl.events.query(limit=100).items:
        title = e.target.title if e.target and e.target.title else ""
        if low in title.lower() or low in e.action.lower():
            out.append(e.id)
    return out


def _found(cl: Chronolog, needle: str, limit: int = 100) -> tuple[list[int], int | None]:
    page = cl.events.query(search=needle, limit=limit)
    return [e.id for e in page.items], page.total


NEEDLES = ["alien", "ALIENS", "100%", "%", "_", "e_c", '"hi"', "k\\s", "O'B", "ed", "queued"]
NEEDLES += ["d  o", "nation", "zzz", "'; DROP TABLE events; --", "ien nat", "AMÉLIE", "amélie"]


@pytest.mark.parametrize("indexed", [False, True], ids=["scan", "indexed"])
def test_search_answers_are_the_same_with_and_without_the_index(
    cl: Chronolog, indexed: bool
) -> None:
    _fill(cl)
    if indexed:
        cl.events.enable_search_index()
    assert cl.events.search_index_enabled() is indexed
    sqlite = cl.store.is_sqlite
    for needle in NEEDLES:
        if sqlite and not indexed and not needle.isascii():
            continue  # known gap: SQLite's LIKE folds ASCII letters only
        ids, total = _found(cl, needle)
        expected = _expected(cl, needle)
        assert ids == expected, needle
        assert total == len(expected), needle


def test_unicode_case_is_folded_by_the_index_on_sqlite_too(cl: Chronolog) -> None:
    _fill(cl)
    cl.events.enable_search_index()
    ids, _ = _found(cl, "amélie")
    assert len(ids) == 6  # "Amélie" and "AMÉLIE FOREVER", three times each


def test_the_index_follows_inserts_deletes_and_purges(db_url: str) -> None:
    clock = [NOW]
    with Chronolog(db_url, clock=lambda: clock[0]) as cl:
        cl.events.enable_search_index()
        cl.events.enable_search_index()  # idempotent
        _fill(cl, start=NOW - timedelta(days=10))
        _fill(cl)
        assert len(_found(cl, "alien")[0]) == 18
        removed = cl.events.delete_older_than("5d")
        assert removed == len(TITLES) * 3
        assert _found(cl, "alien")[0] == _expected(cl, "alien")
        assert len(_found(cl, "alien")[0]) == 9
        event_id = cl.events.record("scan", "done", target=Target("media_item", "x", "Alien 3"))
        cl.events.set_status(event_id, "error", "failed")  # a status change leaves the text alone
        assert event_id in _found(cl, "alien 3")[0]
        if cl.store.is_sqlite:
            with cl.store.write() as conn:  # FTS5 compares its index with the events table
                conn.exec_driver_sql(
                    "INSERT INTO event_search(event_search, rank) VALUES ('integrity-check', 0)"
                )
        cl.events.delete_all()
        assert _found(cl, "alien") == ([], 0)


def test_no_match_crosses_projects(cl: Chronolog) -> None:
    cl.events.enable_search_index()
    cl.projects.create("other")
    other = cl.using("other")
    _fill(other)
    assert _found(cl, "alien") == ([], 0)
    mine = cl.events.record("scan", "done", target=Target("media_item", "1", "Alien"))
    assert _found(cl, "alien") == ([mine], 1)
    assert len(_found(other, "alien")[0]) == 9


def test_pages_by_cursor_walk_every_match_once_in_order(cl: Chronolog) -> None:
    _fill(cl)
    cl.events.enable_search_index()
    expected = _expected(cl, "alien")
    seen: list[int] = []
    page = cl.events.query(search="alien", limit=4)
    seen += [e.id for e in page.items]
    while page.next_cursor:
        page = cl.events.query(search="alien", limit=4, cursor=page.next_cursor)
        seen += [e.id for e in page.items]
    assert seen == expected
    assert (
        cl.events.query(search="alien", limit=4, page=2).items
        == cl.events.query(search="alien", limit=100).items[4:8]
    )


def test_disabling_goes_back_to_a_scan(cl: Chronolog) -> None:
    _fill(cl)
    cl.events.enable_search_index()
    cl.events.disable_search_index()
    cl.events.disable_search_index()  # idempotent
    assert not cl.events.search_index_enabled()
    assert _found(cl, "alien")[0] == _expected(cl, "alien")
    cl.events.record("scan", "done", target=Target("media_item", "y", "Alien 4"))
    assert len(_found(cl, "alien 4")[0]) == 1
    if cl.store.is_sqlite:
        with cl.store.read() as conn:
            left = conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'event_search%'")
            ).scalar_one()
        assert left == 0  # no table, shadow table or trigger stays behind


def test_another_process_enabling_it_is_seen_at_once(db_url: str) -> None:
    with Chronolog(db_url) as first, Chronolog(db_url) as second:
        _fill(first)
        before = _found(first, "alien")
        second.events.enable_search_index()
        assert _found(first, "alien") == before
        second.events.disable_search_index()
        assert _found(first, "alien") == before


def test_partitioning_keeps_the_index(cl: Chronolog) -> None:
    if cl.store.is_sqlite:
        pytest.skip("range partitioning is PostgreSQL's")
    _fill(cl)
    cl.events.enable_search_index()
    cl.retention.partition_events("1d")
    assert cl.events.search_index_enabled()
    assert _found(cl, "alien")[0] == _expected(cl, "alien")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    needle=st.text(
        alphabet=st.sampled_from(list("aAlLiIeEnN %_\\\"'ÉéQ")), min_size=1, max_size=6
    ).filter(lambda s: s.strip())
)
def test_property_indexed_search_equals_brute_force(searchable: Chronolog, needle: str) -> None:
    ids, total = _found(searchable, needle)
    expected = _expected(searchable, needle.strip())
    if searchable.store.is_sqlite and len(needle.strip()) < 3 and not needle.isascii():
        return  # below three characters it is a LIKE scan, ASCII folding only
    assert ids == expected
    assert total == len(expected)


@pytest.fixture
def searchable(cl: Chronolog) -> Chronolog:
    _fill(cl)
    cl.events.enable_search_index()
    return cl
