"""``chronolog cleanup`` and ``chronolog retention``: how long rows are kept, and the purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from ..core import Chronolog
from ..retention import PURGERS
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    QuietOption,
    console,
    fail,
    open_store,
    print_json,
    print_table,
    progress,
)
from ._when import DURATION_HELP, duration_option, parse_duration

__all__ = ["app", "register"]

app = typer.Typer(help="Show and set how long each kind of row is kept.", no_args_is_help=True)

KINDS = ("events", "minute_rollups", "hour_rollups", "day_rollups", "job_logs", "finished_jobs")
"""The built-in retention kinds, each with its own --keep-… option."""

_KIND_HELP = {
    "events": "raw events (their counts stay in the rollups)",
    "minute_rollups": "minute and quarter-hour counts (charts of 1h to 6h)",
    "hour_rollups": "hour counts (charts of 1d to 7d)",
    "day_rollups": "day counts (charts of 30d and more)",
    "job_logs": "job log lines",
    "finished_jobs": "completed, failed and cancelled jobs",
}


def _keep(kind: str) -> Any:
    return typer.Option(
        f"--keep-{kind.replace('_', '-')}",
        metavar="DURATION",
        help=f"Keep {_KIND_HELP[kind]} this long ({DURATION_HELP}, or forever).",
        show_default=False,
    )


KeepEvents = Annotated[str | None, _keep("events")]
KeepMinute = Annotated[str | None, _keep("minute_rollups")]
KeepHour = Annotated[str | None, _keep("hour_rollups")]
KeepDay = Annotated[str | None, _keep("day_rollups")]
KeepLogs = Annotated[str | None, _keep("job_logs")]
KeepFinished = Annotated[str | None, _keep("finished_jobs")]
KeepOther = Annotated[
    list[str] | None,
    typer.Option(
        "--keep",
        metavar="KIND=DURATION",
        help="Any retention kind, including ones a plug-in registered (repeatable).",
    ),
]


def _policy(value: str, where: str) -> timedelta | None:
    if value.strip().lower() in {"forever", "always", "never-delete"}:
        return None
    try:
        return parse_duration(value)
    except typer.BadParameter as exc:
        fail(f"{where}: {exc.message}, or forever")


def changes(named: dict[str, str | None], other: list[str] | None) -> dict[str, timedelta | None]:
    """The policies to set from --keep-KIND and --keep KIND=DURATION (None: keep forever)."""
    wanted: dict[str, timedelta | None] = {}
    for kind, value in named.items():
        if value is not None:
            wanted[kind] = _policy(value, f"--keep-{kind.replace('_', '-')}")
    for spec in other or []:
        kind, sep, value = spec.partition("=")
        kind = kind.strip().replace("-", "_")
        if not sep or not kind:
            fail(f"--keep {spec!r}: expected KIND=DURATION, e.g. job_logs=7d")
        if kind not in PURGERS:
            fail(f"--keep {spec!r}: unknown kind; known: {', '.join(sorted(PURGERS))}")
        wanted[kind] = _policy(value, f"--keep {kind}")
    return wanted


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def policy_table(cl: Chronolog) -> Table:
    """Every retention kind of the project and how long it is kept."""
    policies = cl.retention.policies()
    table = Table(header_style="bold", title=f"retention of project {cl.project}")
    table.add_column("kind", no_wrap=True)
    table.add_column("kept", no_wrap=True)
    table.add_column("what")
    for kind in sorted(set(PURGERS) | set(policies), key=_order):
        span = policies.get(kind)
        table.add_row(
            kind,
            "forever" if span is None else _span(span),
            _KIND_HELP.get(kind, "registered by a plug-in"),
        )
    return table


def _order(kind: str) -> tuple[int, str]:
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), kind)


@app.command("show")
def show(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the policies as a JSON object (seconds).")
    ] = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List how long each kind of row is kept (no policy: forever)."""
    with open_store(db, project) as cl:
        if as_json:
            policies = cl.retention.policies()
            print_json({k: int(v.total_seconds()) for k, v in sorted(policies.items(), key=_kv)})
            return
        print_table(policy_table(cl))


def _kv(item: tuple[str, timedelta]) -> tuple[int, str]:
    return _order(item[0])


@app.command("set")
def set_policies(
    keep_events: KeepEvents = None,
    keep_minute_rollups: KeepMinute = None,
    keep_hour_rollups: KeepHour = None,
    keep_day_rollups: KeepDay = None,
    keep_job_logs: KeepLogs = None,
    keep_finished_jobs: KeepFinished = None,
    keep: KeepOther = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Set how long kinds of rows are kept; purges happen in cleanup, workers and servers."""
    wanted = changes(
        {
            "events": keep_events,
            "minute_rollups": keep_minute_rollups,
            "hour_rollups": keep_hour_rollups,
            "day_rollups": keep_day_rollups,
            "job_logs": keep_job_logs,
            "finished_jobs": keep_finished_jobs,
        },
        keep,
    )
    if not wanted:
        fail("nothing to set: give --keep-events 30d, --keep job_logs=7d …")
    with open_store(db, project) as cl:
        cl.retention.set(**wanted)
        print_table(policy_table(cl))


def cleanup(
    older_than: Annotated[
        timedelta | None,
        duration_option("Also delete events older than this, policy or not; counts stay"),
    ] = None,
    keep_events: KeepEvents = None,
    keep_minute_rollups: KeepMinute = None,
    keep_hour_rollups: KeepHour = None,
    keep_day_rollups: KeepDay = None,
    keep_job_logs: KeepLogs = None,
    keep_finished_jobs: KeepFinished = None,
    keep: KeepOther = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows per transaction.")
    ] = 5000,
    max_batches: Annotated[
        int, typer.Option(min=1, help="Batches per kind in one run (the next run goes on).")
    ] = 1000,
    all_events: Annotated[
        bool, typer.Option("--all", help="Delete every event and count of the project.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --all.")] = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Purge old rows following the project's retention policies, in short transactions.

    The --keep-… options first set policies (as retention set does); see them
    with retention show. Progress shows per kind on a terminal.
    """
    wanted = changes(
        {
            "events": keep_events,
            "minute_rollups": keep_minute_rollups,
            "hour_rollups": keep_hour_rollups,
            "day_rollups": keep_day_rollups,
            "job_logs": keep_job_logs,
            "finished_jobs": keep_finished_jobs,
        },
        keep,
    )
    with open_store(db, project) as cl:
        if all_events:
            if not yes and not typer.confirm(f"Delete every event of project {project!r}?"):
                raise typer.Exit(1)
            deleted = cl.events.delete_all()
            if as_json:
                print_json({"deleted_events": deleted})
            elif not quiet:
                console.print(f"deleted {deleted} events")
            return
        if wanted:
            cl.retention.set(**wanted)
        older = 0
        with progress(quiet=quiet, total=False) as bar:
            if older_than is not None:
                task = bar.add_task(f"events older than {_span(older_than)}", total=None)
                older = cl.events.delete_older_than(
                    older_than,
                    batch_size=batch_size,
                    progress=lambda n: bar.update(task, completed=n),
                )
            tasks: dict[str, Any] = {}

            def purged(kind: str, removed: int) -> None:
                if kind not in tasks:
                    tasks[kind] = bar.add_task(f"purging {kind}", total=None)
                bar.update(tasks[kind], completed=removed)

            report = cl.retention.run(
                batch_size=batch_size, max_batches=max_batches, progress=purged
            )
    if as_json:
        print_json(
            {
                "removed": report.removed,
                "older_than_removed": older,
                "complete": report.complete,
            }
        )
        return
    if quiet:
        return
    if older_than is not None:
        console.print(f"events older than {_span(older_than)}: {older} deleted")
    policies = ", ".join(f"{k}={v}" for k, v in report.removed.items()) or "no policies"
    console.print(
        f"retention: removed {report.total} rows ({policies})"
        + ("" if report.complete else "; more remain, run again")
    )


def register(app_: typer.Typer) -> None:
    """Add ``cleanup`` and ``retention`` to the top-level app."""
    app_.command("cleanup")(cleanup)
    app_.add_typer(app, name="retention")
