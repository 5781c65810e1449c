"""Property tests: every query filter agrees with a brute-force filter in Python."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronolog import Actor, Chronolog, NewEvent, Target

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
_projects = itertools.count()

TYPES = ["scan", "deletion", "rule_match"]
ACTIONS = ["started", "deleted", "item_queued"]
ACTORS = ["user", "rule", "scheduler"]
STATUSES = ["success", "error", "processing"]
TITLES = ["Alien", "Aliens", "100% Wolf", "snake_case", "O'Brien", "Dune", None]

event_strategy = st.builds(
    lambda t, a, actor, actor_id, s, title, target_id, minutes: NewEvent(
        event_type=t,
        action=a,
        status=s,
        actor=Actor(actor, actor_id),
        target=Target("media_item", target_id, title) if title is not None else None,
        occurred_at=NOW - timedelta(minutes=minutes),
    ),
    st.sampled_from(TYPES),
    st.sampled_from(ACTIONS),
    st.sampled_from(ACTORS),
    st.sampled_from(["1", "2"]),
    st.sampled_from(STATUSES),
    st.sampled_from(TITLES),
    st.sampled_from(["1", "2", "3"]),
    st.integers(min_value=0, max_value=60 * 24 * 40),
)

subset = st.none() | st.lists(st.sampled_from(TYPES + ACTIONS + ACTORS + STATUSES), max_size=3)
query_strategy = st.fixed_dictionaries(
    {},
    optional={
        "event_types": st.lists(st.sampled_from(TYPES), min_size=1, max_size=2),
        "actions": st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2),
        "actor_types": st.lists(st.sampled_from(ACTORS), min_size=1, max_size=2),
        "actor_id": st.sampled_from(["1", "2"]),
        "statuses": st.lists(st.sampled_from(STATUSES), min_size=1, max_size=2),
        "search": st.sampled_from(["alien", "%", "_", "'", "WOLF", "ed", "o"]),
        "date_range": st.sampled_from(["24h", "7d", "30d", "all"]),
        "target": st.sampled_from(["1", "2", "3"]),
    },
)

SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def _matches(e: NewEvent, q: dict[str, object]) -> bool:
    assert isinstance(e.actor, Actor)
    target = e.target if isinstance(e.target, Target) else None
    if "event_types" in q and e.event_type not in q["event_types"]:  # type: ignore[operator]
        return False
    if "actions" in q and e.action not in q["actions"]:  # type: ignore[operator]
        return False
    if "actor_types" in q and e.actor.type not in q["actor_types"]:  # type: ignore[operator]
        return False
    if "actor_id" in q and e.actor.id != q["actor_id"]:
        return False
    if "statuses" in q and e.status not in q["statuses"]:  # type: ignore[operator]
        return False
    if "target" in q and (target is None or target.id != q["target"]):
        return False
    if "search" in q:
        needle = str(q["search"]).lower()
        title = (target.title or "") if target else ""
        if needle not in title.lower() and needle not in e.action.lower():
            return False
    span = SPANS.get(str(q.get("date_range")))
    return not (span is not None and e.occurred_at is not None and e.occurred_at < NOW - span)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=st.lists(event_strategy, max_size=40),
    queries=st.lists(query_strategy, min_size=1, max_size=4),
)
def test_query_equals_brute_force(
    db_url: str, events: list[NewEvent], queries: list[dict[str, object]]
) -> None:
    with Chronolog(db_url, clock=lambda: NOW) as root:
        name = f"p{next(_projects)}"
        root.projects.create(name)
        cl = root.using(name)
        ids = cl.events.record_many(events)
        by_id = dict(zip(ids, events, strict=True))
        for q in queries:
            kwargs = dict(q)
            if "target" in kwargs:
                kwargs["target_types"] = "media_item"
                kwargs["target_id"] = kwargs.pop("target")
            expected = sorted(
                (i for i, e in by_id.items() if _matches(e, q)),
                key=lambda i: (by_id[i].occurred_at, i),
                reverse=True,
            )
            got: list[int] = []
            cursor = None
            while True:
                page = cl.events.query(limit=7, cursor=cursor, **kwargs)  # type: ignore[arg-type]
                assert page.total == len(expected)
                got.extend(e.id for e in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert got == expected
            offset_page = cl.events.query(limit=5, page=2, **kwargs)  # type: ignore[arg-type]
            assert [e.id for e in offset_page.items] == expected[5:10]
