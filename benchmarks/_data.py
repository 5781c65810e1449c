"""Synthetic activity shared by the benchmarks: realistic shapes, deterministic."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from chronolog import Actor, NewEvent, Target

EVENT_TYPES = ["scan", "deletion", "rule_match", "protection", "manual_action", "error"]
ACTIONS = {
    "scan": ["started", "completed", "failed"],
    "deletion": ["deleted", "unmonitored"],
    "rule_match": ["item_queued"],
    "protection": ["added", "removed"],
    "manual_action": ["settings_changed"],
    "error": ["overseerr_unreachable"],
}
ACTOR_TYPES = ["scheduler", "user", "rule"]
WORDS = [
    "matrix",
    "alien",
    "dune",
    "heat",
    "moon",
    "blade",
    "runner",
    "wire",
    "dark",
    "fargo",
    "up",
]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def events(n: int, *, days: int = 30, seed: int = 1) -> Iterator[NewEvent]:
    """``n`` events spread over the ``days`` before NOW, oldest first."""
    rng = random.Random(seed)
    span = days * 86_400
    for i in range(n):
        event_type = rng.choice(EVENT_TYPES)
        actor_type = rng.choice(ACTOR_TYPES)
        item = rng.randrange(50_000)
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {item}"
        yield NewEvent(
            event_type=event_type,
            action=rng.choice(ACTIONS[event_type]),
            status="error" if rng.random() < 0.03 else "success",
            actor=Actor(actor_type, str(rng.randrange(20)), f"{actor_type} {rng.randrange(20)}"),
            target=Target("media_item", str(item), title),
            occurred_at=NOW - timedelta(seconds=span * (n - i) / n),
            metadata={"fileSize": rng.randrange(10**10), "n": i},
        )


def as_row(e: NewEvent, project_id: int = 1) -> tuple[object, ...]:
    """The same event as a raw insert tuple (chronolog's column order and encodings)."""
    assert isinstance(e.actor, Actor)
    assert isinstance(e.target, Target)
    assert e.occurred_at is not None
    delta = e.occurred_at - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (
        project_id, micros, e.event_type, e.action, e.status,
        e.actor.type, e.actor.id, e.actor.name,
        e.target.type, e.target.id, e.target.title,
        e.error, orjson.dumps(e.metadata).decode(),
    )  # fmt: skip
