"""The ripping-pipeline entities (seed 003): keys that hold, discs as children, the landing view."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import pytest

from chronolog import Chronolog, Conflict, ValidationError
from chronolog.examples import rip_pipeline as rp


@pytest.fixture
def pipeline(db_url: str) -> Iterator[Chronolog]:
    with Chronolog(db_url) as cl:
        rp.define_machines(cl)
        yield cl


def test_keys_never_hold_a_null() -> None:
    assert rp.media_key("Amélie") == ("movie", "amelie")
    assert rp.media_key("The Wire", 2) == ("season", "the-wire/s02")
    assert rp.media_key("Heat", 0) == ("season", "heat/s00")
    with pytest.raises(ValidationError):
        rp.media_key("!!!")
    with pytest.raises(ValidationError):
        rp.media_key("Dark", -1)


def test_a_movie_without_season_is_unique(pipeline: Chronolog) -> None:
    rp.add_media(pipeline, "Heat")
    with pytest.raises(Conflict, match="already tracked"):
        rp.add_media(pipeline, "heat")  # same safe name: the seed's NULL season let this through
    rp.add_media(pipeline, "Heat", season=1)  # a show of the same name is another item
    with pytest.raises(Conflict):
        rp.add_media(pipeline, "HEAT", season=1)
    assert [e.id for e in pipeline.states.entities("movie").items] == ["heat"]
    assert [e.id for e in pipeline.states.entities("season").items] == ["heat/s01"]
    movie = pipeline.states.get("movie", "heat")
    assert movie.attributes == {"type": "movie", "name": "Heat", "season": None}
    assert movie.state == "created"


def _add(args: tuple[str, str]) -> str:
    url, name = args
    with Chronolog(url) as cl:
        try:
            rp.add_media(cl, name)
        except Conflict:
            return "conflict"
        return "created"


def test_two_processes_adding_the_same_movie_make_one(pipeline: Chronolog, db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        outcomes = pool.map(_add, [(db_url, "Blade Runner")] * 3)
    assert sorted(outcomes) == ["conflict", "conflict", "created"]
    assert len(pipeline.states.history("movie", "blade-runner")) == 1


def test_discs_are_children_with_their_own_states(pipeline: Chronolog) -> None:
    rp.add_media(pipeline, "Dark", season=1)
    for disc in (1, 2, 3):
        rp.add_disc(pipeline, "Dark", 1, disc)
    with pytest.raises(Conflict):
        rp.add_disc(pipeline, "Dark", 1, 2)
    pipeline.states.transition("season", "dark/s01", "ripping")
    rp.rip_disc(pipeline, "Dark", 1, 1, ok=True)
    rp.rip_disc(pipeline, "Dark", 1, 2, ok=False)
    assert rp.season_progress(pipeline, "Dark", 1) == (1, 3)
    discs = pipeline.states.children("season", "dark/s01", child_kind="disc")
    assert [(d.id, d.state) for d in discs] == [
        ("dark/s01/d1", "ripped"),
        ("dark/s01/d2", "failed"),
        ("dark/s01/d3", "pending"),
    ]
    assert discs[1].current is not None
    assert discs[1].current.metadata == {"error": "read error at sector 1183744"}
    # retry the failed disc, rip the last: the season is ripped
    pipeline.states.transition("disc", "dark/s01/d2", "pending")
    rp.rip_disc(pipeline, "Dark", 1, 2, ok=True)
    assert pipeline.states.get("season", "dark/s01").state == "ripping"
    rp.rip_disc(pipeline, "Dark", 1, 3, ok=True)
    assert pipeline.states.get("season", "dark/s01").state == "ripped"
    assert [t.to_state for t in pipeline.states.history("disc", "dark/s01/d2")] == [
        "pending",
        "failed",
        "pending",
        "ripped",
    ]


def test_landing_shows_active_items_only(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        rp.build_demo(cl)
        active = {(e.kind, e.id) for e in rp.landing(cl).items}
        everything = {(e.kind, e.id) for e in rp.landing(cl, show_all=True).items}
    assert ("movie", "heat") not in active  # done
    assert ("disc", "dark/s01/d1") not in active  # ripped
    assert {("movie", "amelie"), ("season", "dark/s01"), ("disc", "dark/s01/d2")} <= active
    assert ("movie", "heat") in everything
    assert len(everything) == 6
