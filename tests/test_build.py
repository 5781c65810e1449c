"""``_build.builder``: the fast constructor of frozen, slotted dataclasses in hot loops."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from chronolog import Chronolog
from chronolog._build import builder
from chronolog.jobs import Job


@dataclasses.dataclass(frozen=True, slots=True)
class _Pair:
    left: int
    right: str = "r"


def test_a_built_object_equals_the_constructed_one_and_stays_frozen() -> None:
    build = builder(_Pair)
    made = build(1, "x")
    assert made == _Pair(1, "x")
    assert hash(made) == hash(_Pair(1, "x"))
    assert type(made) is _Pair
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.left = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        build(1)  # every field, no defaults


def test_only_slotted_dataclasses_without_post_init() -> None:
    @dataclasses.dataclass(frozen=True)
    class Plain:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="not a slotted dataclass"):
        builder(Plain)
    with pytest.raises(TypeError, match="__post_init__"):
        builder(Checked)


def test_a_claimed_job_has_every_field_where_it_belongs(cl: Chronolog) -> None:
    """The worker's jobs are built positionally: each value lands in its own field."""
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)  # due
    job = cl.jobs.enqueue(
        "mail", {"to": "a"}, queue="q1", priority=7, run_at=when, max_attempts=4, unique_key="u1"
    )
    claimed = cl.jobs.claim(["q1"], "w1", limit=1)
    assert len(claimed) == 1
    got = claimed[0]
    expected = dataclasses.replace(got)  # through __init__, by name
    assert got == expected
    fields = {f.name: getattr(got, f.name) for f in dataclasses.fields(Job)}
    assert fields["id"] == job.id
    assert fields["project"] == "default"
    assert (fields["queue"], fields["kind"], fields["payload"]) == ("q1", "mail", {"to": "a"})
    assert (fields["state"], fields["priority"], fields["attempt"]) == ("running", 7, 1)
    assert (fields["max_attempts"], fields["unique_key"], fields["worker"]) == (4, "u1", "w1")
    assert fields["run_at"] == when
    assert fields["created_at"] <= fields["started_at"]  # type: ignore[operator]
    assert fields["finished_at"] is None
    assert fields["lease_expires_at"] > fields["started_at"]  # type: ignore[operator]
    assert (fields["depends_on"], fields["dependents"], fields["pipeline_id"]) == ((), 0, None)
