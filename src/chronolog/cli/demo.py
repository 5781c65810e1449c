"""``chronolog demo``: a store full of realistic activity, served on the dashboard."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import orjson
import typer
from rich.table import Table

from ..core import Chronolog
from ..errors import ChronologError, Conflict
from ..examples import agent_platform, jetstream, library_cleanup, media_manager, rip_pipeline
from ..store import migrate
from ..store.engine import Store, normalise_url
from ._common import QuietOption, console, fail, print_table, progress, require_extra
from .events import event_table

__all__ = ["DEMO_URL", "SCENARIOS", "build_scenarios", "register"]

DEMO_URL = "sqlite:///chronolog-demo.db"


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command("demo")(demo)


def _reset(url: str) -> None:
    parsed = normalise_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        fail("demo --fresh only deletes SQLite files; point --db at a SQLite file")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(parsed.database + suffix)


def holdings(url: str) -> str | None:
    """What the database at ``url`` already holds (``None``: nothing, the demo may fill it).

    Never creates anything: a missing SQLite file holds nothing.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or not os.path.exists(database):
            return None
    store = Store(url)
    try:
        with store.read() as conn:
            revision = migrate.current_revision(conn)
            tables = migrate.table_names(conn)
    finally:
        store.close()
    if revision is None:
        return f"{len(tables)} tables of another application" if tables else None
    found: list[str] = []
    with Chronolog(url) as cl:
        for project in cl.projects.list():
            view = cl.using(project.name)
            events = view.events.query(limit=1).total or 0
            entities = len(view.states.entities(limit=1).items)
            jobs = sum(sum(states.values()) for states in view.jobs.counts().values())
            if events or entities or jobs:
                found.append(f"{project.name} ({events} events, {jobs} jobs)")
    if not found:
        return None
    return "a chronolog store with data in project " + ", ".join(found)


def _jetstream_lines(now: datetime, count: int = 1500, seed: int = 7) -> list[str]:
    """Synthetic Jetstream commits over the last day, busier in the last hours."""
    rng = random.Random(seed)
    lines = []
    collections = ("app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow")
    for i in range(count):
        ago = timedelta(seconds=rng.random() ** 2 * 86_400)
        op = rng.choices(("create", "update", "delete"), weights=(80, 5, 15))[0]
        collection = rng.choice(collections)
        commit: dict[str, object] = {"operation": op, "collection": collection, "rkey": f"k{i}"}
        if op != "delete":
            valid = rng.random() > 0.03
            commit["record"] = {
                "$type": collection if valid else "unknown",
                "text": f"demo post {i}",
                "subject": {"uri": f"at://did:plc:demo/app.bsky.feed.post/{i}"},
            }
        at_us = int((now - ago).timestamp() * 1_000_000)
        event = {"did": f"did:plc:u{i % 40}", "time_us": at_us, "kind": "commit", "commit": commit}
        lines.append(orjson.dumps(event).decode())
    return lines


def _library_cleanup(cl: Chronolog) -> int:
    count = library_cleanup.simulate_day(cl)
    library_cleanup.install_schedules(cl)  # the nightly scan (Schedules page)
    return count


def _media_manager(cl: Chronolog) -> int:
    media_manager.define_machines(cl)
    media_manager.build_library(cl, now=datetime.now(UTC))
    media_manager.install_schedules(cl)  # index the library, reconcile downloads
    return cl.events.query(limit=1).total or 0


def _rip_pipeline(cl: Chronolog) -> int:
    rip_pipeline.build_demo(cl)
    _rip_jobs(cl)
    return cl.events.query(limit=1).total or 0


def _rip_jobs(cl: Chronolog) -> None:
    """The rip pipeline's jobs (rip_pipeline_jobs, without its worker processes): one
    done, one failed with its log, one running halfway, one waiting."""
    jobs = cl.jobs
    discs = [e.id for e in cl.states.entities("disc").items]
    for disc in sorted(discs):
        jobs.enqueue("rip", {"disc": disc, "titles": "1 2 3"}, queue="rip", subject=("disc", disc))
    jobs.enqueue("transcode", {"file": "heat.mkv", "preset": "hevc"}, queue="media")
    script = [
        ("info", "makemkvcon mkv disc:0 all"),
        ("info", "title 1: 47 min, 4.1 GB"),
        ("info", "title 2: 49 min, 4.3 GB"),
    ]
    claimed = jobs.claim(["rip"], "ripper-01", limit=3, lease_seconds=3600)
    for index, job in enumerate(claimed):
        jobs.log_many(job.id, job.lease, [(level, text, {}) for level, text in script])
        if index == 0:
            jobs.complete(job.id, job.lease, {"titles": 3, "bytes": 12_400_000_000})
        elif index == 1:
            jobs.log(job.id, "error", "read error on title 3 at sector 1839202", lease=job.lease)
            jobs.fail(job.id, job.lease, "makemkvcon exit 2: read error on title 3", retry=False)
        else:
            jobs.heartbeat(job.id, job.lease, progress=0.4, progress_text="title 2 of 3")


def _agent_platform(cl: Chronolog) -> int:
    store = agent_platform.AgentStore(cl)
    for n in range(40):
        kind = agent_platform.JOB_TYPES[n % 3]
        store.enqueue_job(kind, {"session": f"s{n}", "prompt": f"task {n}"})
    for n in range(34):
        job = store.dequeue_job(list(agent_platform.JOB_TYPES), f"agent-worker-{n % 4}")
        if job is None:
            break
        failure = RuntimeError("model quota exceeded") if n % 11 == 5 else None
        store.complete_job(job, failure)
    return cl.events.query(limit=1).total or 0


def _jetstream(cl: Chronolog) -> int:
    outcome = jetstream.JetstreamLog(cl).ingest(_jetstream_lines(datetime.now(UTC)))
    return sum(outcome.values())


SCENARIOS: dict[str, Callable[[Chronolog], int]] = {
    "default": _library_cleanup,
    "media-manager": _media_manager,
    "rip-pipeline": _rip_pipeline,
    "jetstream": _jetstream,
    "agent-platform": _agent_platform,
}
"""Project name → the example that fills it (``default`` is the library-cleanup tool)."""


def build_scenarios(cl: Chronolog, *, quiet: bool = True) -> dict[str, int]:
    """Fill one project per example scenario; returns how many events each holds.

    With ``quiet=False`` a progress bar on a terminal shows the scenarios.
    """
    built = {}
    with progress(quiet=quiet) as bar:
        task = bar.add_task("building the demo", total=len(SCENARIOS))
        for project, fill in SCENARIOS.items():
            bar.update(task, description=f"recording the {project} scenario")
            if project != "default":
                with contextlib.suppress(Conflict):
                    cl.projects.create(project)
            view = cl if project == "default" else cl.using(project)
            fill(view)
            built[project] = view.events.query(limit=1).total or 0
            bar.advance(task)
    return built


def demo(
    db: Annotated[
        str, typer.Option("--db", metavar="URL", help="Where to build the demo store.")
    ] = DEMO_URL,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Delete the SQLite file first, whatever it holds. Without it, a store "
            "that holds data is refused.",
        ),
    ] = False,
    serve: Annotated[
        bool, typer.Option(help="Serve the dashboard afterwards (--no-serve prints tables).")
    ] = True,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to serve on.")] = 8000,
    quiet: QuietOption = False,
) -> None:
    """Build a store from every example scenario, then open it on the dashboard.

    The store must be new or empty: one that holds data is never replaced
    unless --fresh is given (which deletes the SQLite file first).
    """
    if fresh:
        _reset(db)
    else:
        try:
            held = holdings(db)
        except ChronologError as exc:
            fail(exc.message)
        if held is not None:
            fail(
                f"{db} already holds {held}. The demo never writes into a store with data: "
                "pass --fresh to delete the file and build it anew, or choose another --db."
            )
    try:
        store = Chronolog(db)
    except ChronologError as exc:  # e.g. the SQLite file's directory does not exist
        fail(exc.message)
    with store as cl:
        built = build_scenarios(cl, quiet=quiet)
        if not quiet:
            for project, count in built.items():
                console.print(f"[bold green]✓[/] {project}: {count} events")
            console.print(f"into {db}\n")
        if not serve:
            _tables(cl, db)
            return
        # The media manager first: the login shows the first token's project.
        order = sorted(built, key=lambda p: p != "media-manager")
        tokens = [cl.using(p).auth.create_token("demo admin", "admin").secret for p in order]
        require_extra("server")
        import uvicorn

        from ..server import create_app

        console.print(
            f"[bold]Dashboard:[/] http://{host}:{port}/  — log in with these admin tokens "
            "(paste them all at once; one per project):",
            highlight=False,
        )
        console.print(" ".join(tokens), highlight=False, soft_wrap=True)
        uvicorn.run(create_app(cl), host=host, port=port, log_level="warning")


def _tables(cl: Chronolog, db: str) -> None:
    """The text summary of the library-cleanup scenario (``--no-serve``)."""
    print_table(event_table(cl.events.recent(15), title="Newest activity"))
    summary = Table(title="Summary of the last 24 hours", header_style="bold")
    summary.add_column("event type")
    for column in ("events", "by rules", "by users", "errors"):
        summary.add_column(column, justify="right")
    for event_type in library_cleanup.EVENT_TYPES:

        def total(
            event_type: str = event_type,
            actor_types: list[str] | None = None,
            statuses: list[str] | None = None,
        ) -> int:
            page = cl.events.query(
                event_types=[event_type],
                actor_types=actor_types,
                statuses=statuses,
                date_range="24h",
                limit=1,
            )
            return page.total or 0

        summary.add_row(
            event_type,
            str(total()),
            str(total(actor_types=["rule"])),
            str(total(actor_types=["user"])),
            str(total(statuses=["error"])),
        )
    print_table(summary)
    console.print(
        f"\nExplore: [bold]chronolog events ls --db {db} --type deletion[/] "
        f"or [bold]--search alien[/] or [bold]--json[/]"
    )
