"""The media-manager scenario (seed 000): each of its six Activity questions, answered."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from chronolog import Chronolog, InvalidTransition
from chronolog.examples import media_manager as mm

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def library(db_url: str) -> Iterator[Chronolog]:
    with Chronolog(db_url, clock=lambda: NOW) as cl:
        mm.build_library(cl, now=NOW)
        yield cl


def test_machines_are_the_seeds(library: Chronolog) -> None:
    movie = library.states.machine("movie")
    assert movie is not None
    assert movie.allowed("missing") == ("discovered", "downloading")
    season, series = library.states.machine("season"), library.states.machine("series")
    assert season is not None
    assert series is not None
    assert season.transitions == series.transitions
    assert {m.kind for m in library.states.machines()} == {
        "movie",
        "series",
        "season",
        "episode",
        "task",
    }
    with pytest.raises(InvalidTransition, match="allowed from 'downloaded': \\[\\]"):
        library.states.transition("movie", 78, "missing")


def test_downloading_movies_with_their_client(library: Chronolog) -> None:
    rows = mm.downloading_movies(library)
    assert [(r.title, r.client, r.download_id) for r in rows] == [
        ("Her", "sabnzbd", "dl-her"),
        ("Dune", "transmission", "dl-dune"),
    ]


def test_downloading_series_with_client_and_current_episode(library: Chronolog) -> None:
    rows = mm.downloading_series(library)
    assert len(rows) == 1
    assert (rows[0].title, rows[0].client, rows[0].episode) == (
        "Breaking Bad",
        "sabnzbd",
        "Breaking Bad S02E03",
    )


def test_running_and_pending_jobs(library: Chronolog) -> None:
    assert mm.running_jobs(library) == [
        ("5", "pending", "reconcile #5"),
        ("4", "running", "reconcile #4"),
    ]


def test_jobs_in_error_in_the_last_hours(library: Chronolog) -> None:
    assert mm.error_jobs(library, 24, now=NOW) == [("3", "indexer timed out after 30s")]
    assert [j for j, _ in mm.error_jobs(library, 72, now=NOW)] == ["3", "2"]


def test_transitions_by_date(library: Chronolog) -> None:
    timeline = mm.transitions_by_date(library, 2, now=NOW)
    items = timeline.page.items
    assert items[0].kind == "task"
    assert items[0].to_state == "pending"
    assert all(a.occurred_at >= b.occurred_at for a, b in itertools.pairwise(items))
    assert all(t.occurred_at >= NOW - timedelta(days=2) for t in items)
    assert {t.kind for t in items} == {"movie", "series", "season", "episode", "task"}
    assert timeline.count("movie", "downloaded", date(2026, 11, 20)) == 3
    assert timeline.count("movie", "downloading") == 2
    # "movies downloaded per day" is also a plain activity-log query
    downloaded = library.events.query(event_types=["movie"], actions=["downloaded"])
    assert downloaded.total == 3


def test_one_entitys_history(library: Chronolog) -> None:
    history = mm.entity_transitions(library, "movie", 949)
    assert [(t.sort_key, t.from_state, t.to_state) for t in history] == [
        (1, "new", "missing"),
        (2, "missing", "downloading"),
        (3, "downloading", "downloaded"),
    ]
    assert history[1].metadata == {
        "download_client_id": 2,
        "download_client": "transmission",
        "download_id": "dl-949",
    }
    assert history[0].title == "Heat"
