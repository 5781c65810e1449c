"""Stats: zero-filled buckets from rollups, exact edges, equal to brute force."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from chronolog import Actor, Chronolog, NewEvent, Series, ValidationError
from chronolog.stats import WINDOWS
from chronolog.store import migrate

NOW = datetime(2026, 11, 21, 12, 7, 30, tzinfo=UTC)
_names = itertools.count()


def brute(series: Series, events: list[tuple[datetime, str, str]], group_by: str | None):
    """Per bucket: total and counts per group, counted in Python from the raw events."""
    out = []
    for b in series.buckets:
        inside = [e for e in events if b.start <= e[0] < b.end]
        counts: dict[str, int] = {}
        if group_by == "action":
            for e in inside:
                counts[e[1]] = counts.get(e[1], 0) + 1
        out.append((len(inside), counts))
    return out


def check_shape(series: Series, now: datetime) -> None:
    edges = [b.start for b in series.buckets] + [series.buckets[-1].end]
    assert all(a < b for a, b in itertools.pairwise(edges))
    assert all(x.end == y.start for x, y in itertools.pairwise(series.buckets))
    last = series.buckets[-1]
    assert last.start <= now < last.end  # the last bucket holds now, none from the future


def test_named_windows_have_the_seed_shapes(cl: Chronolog) -> None:
    for window, (count, size) in WINDOWS.items():
        series = cl.stats.buckets(window, now=NOW)
        assert len(series.buckets) == count
        check_shape(series, NOW)
        if size < timedelta(days=1):
            assert all(b.end - b.start == size for b in series.buckets)
            expected = {"1h": (12, 5), "3h": (12, 0), "6h": (12, 0), "1d": (12, 0)}[window]
            assert (series.buckets[-1].start.hour, series.buckets[-1].start.minute) == expected
        else:
            assert series.buckets[-1].start == datetime(2026, 11, 21, tzinfo=UTC)
        assert series.total == 0


def test_counts_edges_and_groups(cl: Chronolog) -> None:
    at = [
        datetime(2026, 11, 21, 12, 5, tzinfo=UTC),  # first instant of the last 5-min bucket
        datetime(2026, 11, 21, 12, 4, 59, 999999, tzinfo=UTC),  # last instant before it
        datetime(2026, 11, 21, 11, 9, 59, 999999, tzinfo=UTC),  # before the 1h window
        datetime(2026, 11, 21, 12, 9, 59, tzinfo=UTC),  # later than now, same bucket
    ]
    cl.events.record_many(
        [
            NewEvent("app.bsky.feed.post", action, occurred_at=t)
            for t, action in zip(at, ["create", "update", "delete", "create"], strict=True)
        ]
    )
    series = cl.stats.buckets(
        "1h", group_by="action", actions=["create", "update", "delete"], now=NOW
    )
    assert series.groups == ("create", "update", "delete")
    last, before = series.buckets[-1], series.buckets[-2]
    assert last.counts == {"create": 2, "update": 0, "delete": 0}
    assert before.counts == {"create": 0, "update": 1, "delete": 0}
    assert series.total == 3
    assert all(set(b.counts) == {"create", "update", "delete"} for b in series.buckets)


def test_status_changes_move_counts(cl: Chronolog) -> None:
    event_id = cl.events.record("x", "create", status="processing", occurred_at=NOW)
    cl.events.set_status(event_id, "success")
    series = cl.stats.buckets("1d", group_by="status", now=NOW)
    assert series.buckets[-1].counts == {"processing": 0, "success": 1}
    only = cl.stats.buckets("1d", statuses="success", now=NOW)
    assert only.total == 1


def test_days_follow_the_time_zone_across_dst(cl: Chronolog) -> None:
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 3, 31, 10, 0, tzinfo=paris)  # DST began on Sunday 29 March
    times = [
        datetime(2026, 3, 29, 0, 30, tzinfo=paris),
        datetime(2026, 3, 29, 23, 59, tzinfo=paris),
        datetime(2026, 3, 30, 0, 0, tzinfo=paris),
        datetime(2026, 3, 28, 23, 59, 59, tzinfo=paris),
    ]
    cl.events.record_many([NewEvent("x", "create", occurred_at=t) for t in times])
    series = cl.stats.buckets("7d", tz="Europe/Paris", now=now)
    check_shape(series, now)
    lengths = [b.end.astimezone(UTC) - b.start.astimezone(UTC) for b in series.buckets]
    assert timedelta(hours=23) in lengths
    day = {b.start.date().isoformat(): b.total for b in series.buckets}
    assert day["2026-03-28"] == 1
    assert day["2026-03-29"] == 2
    assert day["2026-03-30"] == 1
    india = cl.stats.buckets("1d", tz="Asia/Kolkata", now=now)
    assert all(b.start.minute == 0 for b in india.buckets)  # local hours: :30 in UTC
    assert india.total == sum(1 for t in times if india.buckets[0].start <= t)


def test_counts_outlive_raw_events(cl: Chronolog) -> None:
    cl.events.record_many(
        [NewEvent("x", "create", occurred_at=NOW - timedelta(hours=h)) for h in range(30)]
    )
    before = cl.stats.buckets("7d", now=NOW)
    with Chronolog(_url(cl), clock=lambda: NOW) as fixed:
        assert fixed.events.delete_older_than("2h") == 27
    after = cl.stats.buckets("7d", now=NOW)
    assert [b.total for b in after.buckets] == [b.total for b in before.buckets]


def _quarter_rows(cl: Chronolog) -> tuple[int, int]:
    with cl.store.read() as conn:
        count, total = conn.execute(
            text(
                "SELECT COUNT(*), COALESCE(SUM(count), 0) FROM event_counts WHERE granularity = 900"
            )
        ).one()
    return int(count), int(total)


def test_upgrade_fills_quarter_hour_rollups_from_minutes(db_url: str) -> None:
    with Chronolog(db_url, clock=lambda: NOW) as cl:
        cl.events.record_many(
            [
                NewEvent("x", ("create", "update")[m % 2], occurred_at=NOW - timedelta(minutes=m))
                for m in range(0, 400, 7)
            ]
        )
        charts = {w: cl.stats.buckets(w, group_by="action", now=NOW) for w in ("3h", "6h", "1d")}
        written = _quarter_rows(cl)
        assert written[1] == len(range(0, 400, 7))
        # Back to the schema before quarter-hour rows (the downgrade drops them), then up again.
        with cl.store.write() as conn:
            command.downgrade(migrate.alembic_config(conn), "0006_jobs_claim_index")
        assert _quarter_rows(cl) == (0, 0)
        migrate.upgrade(cl.store)
        assert _quarter_rows(cl) == written
        assert {
            w: cl.stats.buckets(w, group_by="action", now=NOW) for w in ("3h", "6h", "1d")
        } == charts


def _url(cl: Chronolog) -> str:
    return (
        cl.store.url.render_as_string(hide_password=False)
        .replace("+psycopg", "")
        .replace("+pysqlite", "")
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": "2h"}, "window must be one of"),
        ({"window": "1h", "group_by": "actor_id"}, "group_by must be one of"),
        ({"window": "1h", "tz": "Mars/Olympus"}, "unknown time zone"),
        ({"window": "1h", "now": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"since": NOW, "bucket": "5m"}, "since must be before"),
        ({"since": NOW - timedelta(days=400), "bucket": "1m"}, "more than 5000 buckets"),
        ({"since": NOW - timedelta(hours=1), "bucket": "90s"}, "whole number of minutes"),
        ({"window": "1h", "since": NOW}, "not both"),
        ({}, "give a window"),
    ],
)
def test_bad_input_is_refused(cl: Chronolog, kwargs: dict[str, object], message: str) -> None:
    kwargs.setdefault("now", NOW)
    with pytest.raises(ValidationError, match=message):
        cl.stats.buckets(**kwargs)  # type: ignore[arg-type]


def test_explicit_range_is_aligned_outwards_and_capped_at_now(cl: Chronolog) -> None:
    series = cl.stats.buckets(
        since=NOW - timedelta(minutes=47),
        until=NOW + timedelta(days=2),
        bucket="15m",
        now=NOW,
    )
    check_shape(series, NOW)
    assert series.buckets[0].start == datetime(2026, 11, 21, 11, 15, tzinfo=UTC)
    assert len(series.buckets) == 4


WINDOW_NAMES = sorted(WINDOWS)
ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    offsets=st.lists(st.integers(min_value=-32 * 86400, max_value=3600), min_size=0, max_size=40),
    now_shift=st.integers(min_value=0, max_value=400 * 86400),
    window=st.sampled_from([*WINDOW_NAMES, "custom"]),
    zone=st.sampled_from(ZONES),
    bucket_minutes=st.sampled_from([1, 7, 15, 30, 45, 60, 90, 1440, 2880]),
    span_minutes=st.integers(min_value=1, max_value=3 * 1440),
)
def test_buckets_equal_brute_force(
    cl: Chronolog,
    offsets: list[int],
    now_shift: int,
    window: str,
    zone: str,
    bucket_minutes: int,
    span_minutes: int,
) -> None:
    name = f"h{next(_names)}"
    cl.projects.create(name)
    view = cl.using(name)
    now = datetime(2025, 10, 1, tzinfo=UTC) + timedelta(seconds=now_shift, microseconds=now_shift)
    actions = ["create", "update", "delete"]
    events = [
        (now + timedelta(seconds=off, microseconds=i * 7919 % 1_000_000), actions[i % 3], "ok")
        for i, off in enumerate(offsets)
    ]
    if events:
        view.events.record_many(
            [
                NewEvent(
                    "post",
                    action,
                    occurred_at=t,
                    actor=Actor("user", "1") if i % 2 else None,
                )
                for i, (t, action, _) in enumerate(events)
            ]
        )
    if window == "custom":
        series = view.stats.buckets(
            since=now - timedelta(minutes=span_minutes),
            bucket=timedelta(minutes=bucket_minutes),
            group_by="action",
            tz=zone,
            now=now,
        )
    else:
        series = view.stats.buckets(window, group_by="action", tz=zone, now=now)
    check_shape(series, now)
    expected = brute(series, events, "action")
    got = [(b.total, {k: v for k, v in b.counts.items() if v}) for b in series.buckets]
    assert got == expected


def test_open_ended_range_holds_now_on_a_bucket_edge(cl: Chronolog) -> None:
    # Found by the property test: now exactly on an edge must open a new bucket.
    now = datetime(2025, 10, 1, 0, 0, tzinfo=UTC)
    cl.events.record("x", "create", occurred_at=now)
    series = cl.stats.buckets(
        since=now - timedelta(minutes=1), bucket=timedelta(minutes=1), now=now
    )
    assert [b.start for b in series.buckets] == [now - timedelta(minutes=1), now]
    assert series.buckets[-1].total == 1
