"""The library-cleanup tool (seed 002) on chronolog: scans, rules, deletions, its activity page.

The seed's services (``scanner.ts``, ``deletion.ts``) called ``logActivity``;
here they call ``cl.events.record``. Its repository (``getActivityLog``) and its
routes (``GET /`` and ``GET /recent``) become ``cl.events.query``.

Run it: ``python examples/library_cleanup.py [sqlite:///cleanup.db]``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chronolog import Actor, Chronolog, NewEvent, Target
from chronolog.jobs import Schedule
from chronolog.jobs.worker import JobContext

EVENT_TYPES = ("scan", "deletion", "rule_match", "protection", "manual_action", "error")
"""The seed's event types, registered so the project is strict about them."""

SCANNER = Actor("scheduler", "system", "Library Scan")

TITLES = [
    "The Matrix",
    "Alien",
    "Aliens",
    "Blade Runner",
    "Heat",
    "Arrival",
    "Dune",
    "Her",
    "Moon",
    "Sicario",
    "Up",
    "Coco",
    "Brazil",
    "Big Fish",
    "Amélie",
    "Oldboy",
    "Breaking Bad",
    "The Wire",
    "Severance",
    "Dark",
    "Fargo",
    "Chernobyl",
    "Succession",
    "100% Wolf",
    "Spider-Man: Into the Spider-Verse",
    "O'Brother, Where Art Thou?",
]


@dataclass(frozen=True)
class MediaItem:
    """An item of the Plex library the tool looks after."""

    id: int
    title: str
    type: str
    file_size: int


@dataclass(frozen=True)
class Rule:
    """A cleanup rule (e.g. "movies not watched for a year")."""

    id: int
    name: str
    grace_period_days: int


def library(seed: int = 2) -> list[MediaItem]:
    """A small library of movies and shows."""
    rng = random.Random(seed)
    return [
        MediaItem(
            i + 1,
            title,
            "show" if i >= 16 and i < 23 else "movie",
            rng.randint(700, 60_000) * 2**20,
        )
        for i, title in enumerate(TITLES)
    ]


RULES = [Rule(1, "Unwatched for a year", 14), Rule(2, "Low-rated duplicates", 7)]


class CleanupService:
    """The seed's scanner and deletion services, logging through chronolog."""

    def __init__(self, cl: Chronolog) -> None:
        self.cl = cl
        cl.events.register_types(*EVENT_TYPES)

    def scan(
        self, *, at: datetime, items_scanned: int, items_flagged: int, failed: bool = False
    ) -> None:
        """A library scan: ``scan/started`` then ``scan/completed`` or ``scan/failed``."""
        self.cl.events.record("scan", "started", actor=SCANNER, occurred_at=at)
        duration_ms = 40_000 + items_scanned * 35
        scan_id = str(int(at.timestamp()))
        self.cl.events.record(
            "scan",
            "failed" if failed else "completed",
            status="error" if failed else "success",
            actor=SCANNER,
            target=Target("scan", scan_id),
            occurred_at=at + timedelta(milliseconds=duration_ms),
            error="Plex server timed out after 30s" if failed else None,
            metadata={
                "itemsScanned": items_scanned,
                "itemsFlagged": items_flagged,
                "duration": duration_ms,
            },
        )

    def mark_for_deletion(self, item: MediaItem, rule: Rule | None, *, at: datetime) -> None:
        """A rule (or a user) queues an item for deletion after a grace period."""
        grace = rule.grace_period_days if rule else 3
        self.cl.events.record(
            "rule_match",
            "item_queued",
            actor=Actor("rule", str(rule.id), rule.name)
            if rule
            else Actor("user", "admin", "Manual queue"),
            target=Target("media_item", str(item.id), item.title),
            occurred_at=at,
            metadata={
                "gracePeriodDays": grace,
                "deleteAfter": (at + timedelta(days=grace)).isoformat(),
            },
        )

    def execute_delete(
        self,
        item: MediaItem,
        *,
        at: datetime,
        rule: Rule | None = None,
        unmonitor_only: bool = False,
    ) -> None:
        """Delete (or only unmonitor) an item, by a rule or by hand."""
        self.cl.events.record(
            "deletion",
            "unmonitored" if unmonitor_only else "deleted",
            actor=Actor("rule", str(rule.id), rule.name)
            if rule
            else Actor("user", "admin", "Manual deletion"),
            target=Target("media_item", str(item.id), item.title),
            occurred_at=at,
            metadata={
                "mediaType": item.type,
                "fileSize": item.file_size,
                "deletionAction": "unmonitor_only" if unmonitor_only else "delete_files",
                "overseerrReset": not unmonitor_only,
            },
        )

    def protect(self, item: MediaItem, *, at: datetime) -> None:
        """A user protects an item from every rule."""
        self.cl.events.record(
            "protection",
            "added",
            actor=Actor("user", "admin", "Harry"),
            target=Target("media_item", str(item.id), item.title),
            occurred_at=at,
        )


SCAN_SCHEDULE = "nightly-scan"
"""The tool's nightly library scan, a schedule (the seed's scanner ran from a cron job)."""


def install_schedules(cl: Chronolog, *, tz: str = "UTC") -> Schedule:
    """Add (or keep, at every start) the nightly scan: ``library_scan`` at 03:00 in ``tz``.

    Workers fire it themselves (``chronolog worker`` with :func:`handlers`): no cron
    job to install; a night with no worker running is scanned once when one starts
    (``catch_up="latest"``), never twice.
    """
    return cl.jobs.schedules.add(
        SCAN_SCHEDULE,
        "library_scan",
        cron="0 3 * * *",
        tz=tz,
        queue="cleanup",
        catch_up="latest",
        payload={"roots": ["/media/movies", "/media/tv"]},
    )


def handlers(cl: Chronolog) -> dict[str, Callable[[JobContext], dict[str, int]]]:
    """The worker's handlers: ``library_scan`` records the scan as the seed did (actor
    ``scheduler``: the schedule started it)."""

    def library_scan(ctx: JobContext) -> dict[str, int]:
        items = library(ctx.id)
        flagged = sum(1 for item in items if item.file_size > 30 * 1024**3)
        CleanupService(cl).scan(
            at=datetime.now(UTC), items_scanned=len(items), items_flagged=flagged
        )
        ctx.log("info", f"scanned {len(items)} items, {flagged} flagged")
        return {"items_scanned": len(items), "items_flagged": flagged}

    return {"library_scan": library_scan}


def simulate_day(cl: Chronolog, *, end: datetime | None = None, seed: int = 2) -> int:
    """Record a realistic day of the tool's activity, ending at ``end``; returns the event count."""
    end = end or datetime.now(UTC)
    start = end - timedelta(hours=24)
    rng = random.Random(seed)
    items = library(seed)
    service = CleanupService(cl)
    before = cl.events.query(limit=1).total or 0
    for hour in (1, 7, 13, 19):  # the scheduler scans every six hours
        at = start + timedelta(hours=hour, minutes=rng.randint(0, 5))
        service.scan(
            at=at, items_scanned=len(items) * 40, items_flagged=rng.randint(0, 6), failed=hour == 13
        )
    queued = rng.sample(items, 10)
    for n, item in enumerate(queued):
        at = start + timedelta(hours=1, minutes=20 + n * 3)
        service.mark_for_deletion(item, RULES[n % 2] if n < 8 else None, at=at)
    for n, item in enumerate(queued[:6]):
        at = start + timedelta(hours=9 + n, minutes=rng.randint(0, 59))
        service.execute_delete(
            item, at=at, rule=RULES[n % 2] if n < 4 else None, unmonitor_only=n % 3 == 2
        )
    service.protect(queued[7], at=start + timedelta(hours=20, minutes=12))
    cl.events.record_many(
        [
            NewEvent(
                "manual_action",
                "settings_changed",
                actor=Actor("user", "admin", "Harry"),
                occurred_at=start + timedelta(hours=21),
                metadata={"setting": "gracePeriodDays", "to": 14},
            ),
            NewEvent(
                "error",
                "overseerr_unreachable",
                status="error",
                actor=SCANNER,
                occurred_at=start + timedelta(hours=22, minutes=5),
                error="connect ECONNREFUSED 10.0.0.5:5055",
            ),
        ]
    )
    return (cl.events.query(limit=1).total or 0) - before


def activity_log(
    cl: Chronolog,
    *,
    page: int = 1,
    limit: int = 20,
    date_range: str = "all",
    event_types: list[str] | None = None,
    actor_types: list[str] | None = None,
    search: str | None = None,
) -> dict[str, Any]:
    """The seed's ``GET /`` body: ``{success, data: {items, total, page, limit}}``."""
    result = cl.events.query(
        page=page,
        limit=min(limit, 100),
        date_range=date_range,
        event_types=event_types,
        actor_types=actor_types,
        search=search,
    )
    items = [
        {
            "id": e.id,
            "eventType": e.event_type,
            "action": e.action,
            "actorType": e.actor.type if e.actor else None,
            "actorName": e.actor.name if e.actor else None,
            "targetType": e.target.type if e.target else None,
            "targetId": e.target.id if e.target else None,
            "targetTitle": e.target.title if e.target else None,
            "metadata": e.metadata,
            "createdAt": e.occurred_at.isoformat().replace("+00:00", "Z"),
        }
        for e in result.items
    ]
    return {
        "success": True,
        "data": {"items": items, "total": result.total, "page": result.page, "limit": result.limit},
    }


def recent(cl: Chronolog, limit: int = 10) -> list[dict[str, Any]]:
    """The seed's ``GET /recent`` list (its dashboard's recent-activity widget)."""
    return activity_log(cl, limit=limit)["data"]["items"]  # type: ignore[no-any-return]


def main(url: str = "sqlite:///library-cleanup.db") -> None:
    """Play one day and print the seed's queries."""
    with Chronolog(url) as cl:
        print(f"recorded {simulate_day(cl)} events")
        for label, kwargs in [
            ("deletions in the last 24h", {"event_types": ["deletion"], "date_range": "24h"}),
            ("everything rules did", {"actor_types": ["rule"]}),
            ("search 'alien'", {"search": "alien"}),
        ]:
            body = activity_log(cl, **kwargs)  # type: ignore[arg-type]
            titles = [i["targetTitle"] or i["action"] for i in body["data"]["items"]]
            print(f"{label}: {body['data']['total']} → {titles}")
        print("recent:", [f"{i['eventType']}/{i['action']}" for i in recent(cl, 5)])


if __name__ == "__main__":
    main(*sys.argv[1:2])
