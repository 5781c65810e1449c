"""The media manager (seed 000) on chronolog: its state machines, a library, its Activity page.

The seed kept five transition tables (movie, series, season, episode, job),
left ``from_state`` NULL, and merged four unbounded queries in application
code for its timeline. Here one ``cl.states`` holds every kind; each storage
method of the seed's ``ActivityStorage`` interface becomes one call:

=============================  ==================================================
seed                           chronolog
=============================  ==================================================
ListDownloadingMovies          ``in_state("movie", "downloading")``
ListDownloadingSeries          ``in_state("series", …)`` + episodes downloading
ListRunningJobs                ``in_state("task", ["running", "pending"])``
ListErrorJobs(hours)           ``in_state("task", "error", since=now - hours)``
GetTransitionsByDate(days)     ``timeline(days=…)`` (paged in SQL, with day counts)
GetEntityTransitions           ``history(kind, id)``
=============================  ==================================================

The seed's jobs (library index, reconcile runs) are modelled as entities of
kind ``task`` with the seed's job machine: the kind ``job`` belongs to
chronolog's own job queue (``cl.jobs``), whose history (its activity events)
the timeline merges with the other kinds' moves.

Run it: ``python examples/media_manager.py [sqlite:///media.db]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chronolog import Actor, Chronolog, Timeline, Transition
from chronolog.jobs import Schedule
from chronolog.jobs.worker import JobContext

NEW = "new"
"""The seed's empty state (``MovieStateNew = ""``): where every item starts."""

MACHINES: dict[str, dict[str, Any]] = {
    "movie": {
        "states": [NEW, "missing", "discovered", "unreleased", "downloading", "downloaded"],
        "transitions": {
            NEW: ["unreleased", "missing", "discovered"],
            "missing": ["discovered", "downloading"],
            "unreleased": ["discovered", "missing"],
            "downloading": ["downloaded"],
        },
        "terminal": ["discovered", "downloaded"],
    },
    "series": {
        "states": [
            NEW,
            "missing",
            "discovered",
            "unreleased",
            "continuing",
            "downloading",
            "partial",
            "completed",
        ],
        "transitions": {
            NEW: ["unreleased", "missing", "discovered"],
            "discovered": ["missing", "continuing", "partial", "completed"],
            "missing": ["discovered", "downloading"],
            "unreleased": ["discovered", "missing"],
            "downloading": ["continuing", "partial", "completed"],
            "continuing": ["partial", "completed", "missing"],
            "partial": ["continuing", "completed", "missing"],
            "completed": ["continuing", "partial"],
        },
        "terminal": ["completed"],
    },
    "episode": {
        "states": [
            NEW,
            "missing",
            "discovered",
            "unreleased",
            "downloading",
            "downloaded",
            "completed",
        ],
        "transitions": {
            NEW: ["unreleased", "missing", "discovered"],
            "discovered": ["completed"],
            "missing": ["discovered", "downloading", "unreleased"],
            "unreleased": ["discovered", "missing"],
            "downloading": ["downloaded"],
            "downloaded": ["completed"],
        },
        "terminal": ["completed"],
    },
    "task": {
        "states": [NEW, "pending", "running", "error", "done", "cancelled"],
        "transitions": {
            NEW: ["pending"],
            "pending": ["running", "error", "cancelled"],
            "running": ["error", "done", "cancelled"],
        },
        "terminal": ["error", "done", "cancelled"],
    },
}
MACHINES["season"] = MACHINES["series"]  # the seed's season machine is the series one

DOWNLOAD_CLIENTS = {
    1: {"id": 1, "type": "usenet", "implementation": "sabnzbd", "host": "sabnzbd", "port": 8080},
    2: {"id": 2, "type": "torrent", "implementation": "transmission", "host": "tx", "port": 9091},
}
"""The seed's ``download_clients`` table; a move keeps the client's id and name in metadata."""

RECONCILER = Actor("worker", "reconciler", "Reconcile loop")
INDEXER = Actor("worker", "indexer", "Library index")

MOVIES = [
    (603, "The Matrix"),
    (78, "Blade Runner"),
    (949, "Heat"),
    (329865, "Arrival"),
    (438631, "Dune"),
    (152601, "Her"),
    (17431, "Moon"),
    (273481, "Sicario"),
]
SERIES = [
    ("tvdb-81189", "Breaking Bad", 2),
    ("tvdb-79126", "The Wire", 1),
    ("tvdb-371980", "Severance", 1),
]


def define_machines(cl: Chronolog) -> None:
    """Store the seed's machines (every process then sees the same ones)."""
    for kind, machine in MACHINES.items():
        cl.states.define(kind, initial=NEW, **machine)


def _download(client: int, download_id: str) -> dict[str, Any]:
    c = DOWNLOAD_CLIENTS[client]
    return {
        "download_client_id": client,
        "download_client": c["implementation"],
        "download_id": download_id,
    }


def build_library(cl: Chronolog, *, now: datetime) -> None:
    """Add a small library and move it along over the last three days, as the reconciler would."""
    define_machines(cl)
    t0 = now - timedelta(days=3)

    def at(hours: float) -> datetime:
        return t0 + timedelta(hours=hours)

    moves: list[dict[str, Any]] = []

    def move(kind: str, ident: str | int, to: str, when: float, **extra: Any) -> None:
        moves.append({"kind": kind, "id": ident, "to": to, "occurred_at": at(when), **extra})

    # Movies: every one is added as missing; some found on disk, some downloaded.
    for n, (tmdb, title) in enumerate(MOVIES):
        move("movie", tmdb, "missing", 1 + n * 0.1, title=title, actor=INDEXER)
    move("movie", 603, "discovered", 2, actor=INDEXER)
    for n, tmdb in enumerate((78, 949, 329865)):  # downloaded yesterday and before
        client = 1 + n % 2
        move(
            "movie",
            tmdb,
            "downloading",
            20 + n,
            actor=RECONCILER,
            metadata=_download(client, f"dl-{tmdb}"),
        )
        move(
            "movie",
            tmdb,
            "downloaded",
            40 + n,
            actor=RECONCILER,
            metadata=_download(client, f"dl-{tmdb}"),
        )
    move("movie", 438631, "downloading", 70, actor=RECONCILER, metadata=_download(2, "dl-dune"))
    move("movie", 152601, "downloading", 71.5, actor=RECONCILER, metadata=_download(1, "dl-her"))
    # Series → seasons → episodes (parents), Breaking Bad season 2 downloading now.
    for sid, title, seasons in SERIES:
        move("series", sid, "missing", 3, title=title, actor=INDEXER)
        for s in range(1, seasons + 1):
            season = f"{sid}-s{s}"
            move(
                "season",
                season,
                "missing",
                3.1,
                title=f"{title} season {s}",
                parent=("series", sid),
            )
            for e in range(1, 4):
                move(
                    "episode",
                    f"{season}e{e}",
                    "missing",
                    3.2,
                    title=f"{title} S{s:02}E{e:02}",
                    parent=("season", season),
                )
    move(
        "series", "tvdb-81189", "downloading", 60, actor=RECONCILER, metadata=_download(1, "dl-bb")
    )
    move(
        "season",
        "tvdb-81189-s2",
        "downloading",
        60,
        actor=RECONCILER,
        metadata=_download(1, "dl-bb-s2"),
    )
    for e in (1, 2):
        ep = f"tvdb-81189-s2e{e}"
        move(
            "episode",
            ep,
            "downloading",
            60 + e,
            actor=RECONCILER,
            metadata=_download(1, f"dl-bb-s2e{e}"),
        )
        move(
            "episode",
            ep,
            "downloaded",
            61 + e,
            actor=RECONCILER,
            metadata=_download(1, f"dl-bb-s2e{e}"),
        )
    move(
        "episode",
        "tvdb-81189-s2e3",
        "downloading",
        70,
        actor=RECONCILER,
        metadata=_download(1, "dl-bb-s2e3"),
    )
    move("series", "tvdb-371980", "discovered", 5, actor=INDEXER)
    move("series", "tvdb-371980", "continuing", 6, actor=INDEXER)
    # The seed's jobs: index and reconcile runs.
    for n, (to_states, hours) in enumerate(
        [
            (["pending", "running", "done"], 10),
            (["pending", "running", "error"], 30),  # failed two days ago
            (["pending", "running", "error"], 66),  # failed six hours ago
            (["pending", "running"], 71),  # running now
            (["pending"], 71.8),  # waiting
        ]
    ):
        for step, to in enumerate(to_states):
            extra: dict[str, Any] = {
                "title": f"reconcile #{n + 1}",
                "actor": Actor("scheduler", "cron", "Scheduler"),
            }
            if to == "error":
                extra["metadata"] = {"error": "indexer timed out after 30s"}
            move("task", n + 1, to, hours + step * 0.05, **extra)
    moves.sort(key=lambda m: m["occurred_at"])
    cl.states.transition_many(moves)


# -- the seed's recurring tasks, as schedules ----------------------------------------

SCHEDULES: dict[str, dict[str, Any]] = {
    "index-library": {"kind": "index_library", "cron": "0 */6 * * *"},
    "reconcile-downloads": {"kind": "reconcile_downloads", "every": 300},
}
"""The seed's two recurring tasks: index the library every six hours, reconcile the
download clients every five minutes (the seed ran them from an in-process ticker)."""


def install_schedules(cl: Chronolog) -> list[Schedule]:
    """Add (or keep, at every start) the recurring tasks on queue ``media``.

    Every worker fires them, no leader: each fire time runs once however many
    instances of the app run. A reconcile missed while the app was down runs once
    on restart (``latest``); a missed index run is skipped (``none``: the next one
    comes within six hours anyway).
    """
    return [
        cl.jobs.schedules.add(
            name,
            spec["kind"],
            cron=spec.get("cron"),
            every=spec.get("every"),
            queue="media",
            catch_up="none" if name == "index-library" else "latest",
        )
        for name, spec in SCHEDULES.items()
    ]


def handlers(cl: Chronolog) -> dict[str, Callable[[JobContext], None]]:
    """The worker's handlers: each run is a ``task`` entity moving pending → running →
    done, as the seed's job table recorded it, by the scheduler."""

    def run(ctx: JobContext) -> None:
        title = f"{ctx.job.kind.replace('_', ' ')} #{ctx.id}"
        who = Actor("scheduler", "schedules", "Scheduler")
        for state in ("pending", "running", "done"):
            cl.states.transition("task", f"job-{ctx.id}", state, title=title, actor=who)

    return {spec["kind"]: run for spec in SCHEDULES.values()}


# -- the seed's six questions --------------------------------------------------------


@dataclass(frozen=True)
class Downloading:
    """A row of the Activity page's "downloading" lists."""

    kind: str
    id: str
    title: str | None
    client: str | None
    download_id: str | None
    since: datetime | None
    episode: str | None = None


def downloading_movies(cl: Chronolog) -> list[Downloading]:
    """ListDownloadingMovies: movies downloading, with their download client, newest first."""
    page = cl.states.in_state("movie", "downloading", limit=100)
    return [_downloading(e) for e in page.items]


def downloading_series(cl: Chronolog) -> list[Downloading]:
    """ListDownloadingSeries: series downloading, with their client and the episode downloading now."""
    rows = []
    for series in cl.states.in_state("series", "downloading", limit=100).items:
        episode = None
        for season in cl.states.children("series", series.id, child_kind="season"):
            now = cl.states.in_state(
                "episode", "downloading", parent=("season", season.id), limit=1
            )
            if now.items:
                episode = now.items[0].title
                break
        row = _downloading(series)
        rows.append(Downloading(**{**row.__dict__, "episode": episode}))
    return rows


def _downloading(entity: Any) -> Downloading:
    metadata = entity.current.metadata if entity.current is not None else None
    metadata = metadata or {}
    return Downloading(
        kind=entity.kind,
        id=entity.id,
        title=entity.title,
        client=metadata.get("download_client"),
        download_id=metadata.get("download_id"),
        since=entity.state_since,
    )


def running_jobs(cl: Chronolog) -> list[tuple[str, str, str | None]]:
    """ListRunningJobs: (id, state, title) of tasks running or pending, newest first."""
    page = cl.states.in_state("task", ["running", "pending"], limit=100)
    return [(e.id, e.state or "", e.title) for e in page.items]


def error_jobs(cl: Chronolog, hours: int, *, now: datetime) -> list[tuple[str, str | None]]:
    """ListErrorJobs: (id, error) of tasks that went into error in the last ``hours``."""
    page = cl.states.in_state("task", "error", since=now - timedelta(hours=hours), limit=100)
    return [
        (e.id, (e.current.metadata or {}).get("error") if e.current else None) for e in page.items
    ]


def transitions_by_date(cl: Chronolog, days: int, *, now: datetime) -> Timeline:
    """GetTransitionsByDate: every kind's moves in the last ``days`` days, paged, with day counts."""
    return cl.states.timeline(days=days, until=now, limit=100)


def entity_transitions(cl: Chronolog, kind: str, entity_id: str | int) -> list[Transition]:
    """GetEntityTransitions: one entity's history by sort_key."""
    return cl.states.history(kind, entity_id)


def main(url: str = "sqlite:///media-manager.db") -> None:
    """Build the library and print the Activity page's answers."""
    now = datetime.now(UTC)
    with Chronolog(url) as cl:
        build_library(cl, now=now)
        for d in downloading_movies(cl):
            print(f"downloading movie: {d.title} via {d.client} ({d.download_id})")
        for d in downloading_series(cl):
            print(f"downloading series: {d.title} via {d.client}, now {d.episode}")
        print("jobs running or pending:", running_jobs(cl))
        print("jobs in error, last 24h:", error_jobs(cl, 24, now=now))
        timeline = transitions_by_date(cl, 2, now=now)
        print(f"moves in the last 2 days: {len(timeline.page.items)}")
        for day in timeline.days:
            print(f"  {day.day} {day.kind:8} → {day.to_state:12} {day.count}")
        history = entity_transitions(cl, "movie", 949)
        print("Heat:", " → ".join(f"{t.from_state}→{t.to_state}" for t in history))


if __name__ == "__main__":
    main(*sys.argv[1:2])
