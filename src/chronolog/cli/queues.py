"""``chronolog queues ls|pause|resume|limit``, ``chronolog workers`` and
``chronolog jobs retry-many|cancel-many``: queue controls, the worker registry and bulk
moves from a shell (thin over ``cl.jobs``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ValidationError
from ..jobs.queues import QueueInfo
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    console,
    err_console,
    fail,
    local_actor,
    open_store,
    print_json,
    print_table,
)
from ._query import (
    JobKindOption,
    JobQueueOption,
    JobSinceOption,
    JobStateOption,
    SubjectOption,
    job_query,
)
from ._when import TzOption, duration_option, parse_duration, zone

__all__ = ["app", "register"]

app = typer.Typer(help="List queues; pause, resume and limit them.", no_args_is_help=True)

_STATES = ("pending", "running", "completed", "failed", "cancelled")


def register(app_: typer.Typer, jobs_app: typer.Typer) -> None:
    """Add ``queues``, ``workers`` and ``jobs retry-many|cancel-many`` to the command."""
    app_.add_typer(app, name="queues")
    app_.command("workers")(workers)
    jobs_app.command("retry-many")(retry_many)
    jobs_app.command("cancel-many")(cancel_many)


def _rate(info: QueueInfo) -> str:
    if info.rate is None:
        return ""
    return f"{info.rate[0]}/{info.rate[1]:g}s"


def _say(info: QueueInfo) -> None:
    limits = []
    if info.concurrency is not None:
        limits.append(f"at most {info.concurrency} running")
    if info.rate is not None:
        limits.append(f"at most {info.rate[0]} starts per {info.rate[1]:g}s")
    state = "paused" if info.paused else "active"
    text = f"queue {info.name}: {state}"
    if limits:
        text += ", " + ", ".join(limits)
    console.print(text, highlight=False)


@app.command("ls")
def ls(
    as_json: JsonOption = False, db: DbOption = None, project: ProjectOption = "default"
) -> None:
    """Every queue: jobs by state, paused, limits."""
    with open_store(db, project) as cl:
        queues = cl.jobs.queues()
    if as_json:
        print_json([q.to_dict() for q in queues])
        return
    if not queues:
        console.print("no queues yet", style="dim")
        return
    table = Table(header_style="bold")
    table.add_column("queue", no_wrap=True)
    for state in _STATES:
        table.add_column(state, justify="right")
    table.add_column("paused")
    table.add_column("concurrency", justify="right")
    table.add_column("rate")
    for q in queues:
        table.add_row(
            q.name,
            *(str(q.counts.get(s, 0)) for s in _STATES),
            "[yellow]paused[/]" if q.paused else "",
            "" if q.concurrency is None else str(q.concurrency),
            _rate(q),
        )
    print_table(table)


QueueArg = Annotated[str, typer.Argument(metavar="QUEUE", help="The queue's name.")]


@app.command("pause")
def pause(queue: QueueArg, db: DbOption = None, project: ProjectOption = "default") -> None:
    """Stop every worker claiming from QUEUE at its next claim (running jobs finish)."""
    with open_store(db, project) as cl:
        info = cl.jobs.pause(queue, actor=local_actor())
        queues = [] if any(info.counts.values()) else cl.jobs.queues()
    _say(info)
    if not any(info.counts.values()):  # pausing ahead is allowed; still, a typo?
        known = ", ".join(q.name for q in queues if any(q.counts.values()))
        err_console.print(
            f"note: queue {queue} has no jobs yet"
            + (f" (queues with jobs: {known})" if known else ""),
            highlight=False,
            soft_wrap=True,
        )


@app.command("resume")
def resume(queue: QueueArg, db: DbOption = None, project: ProjectOption = "default") -> None:
    """Let workers claim from QUEUE again."""
    with open_store(db, project) as cl:
        _say(cl.jobs.resume(queue, actor=local_actor()))


def _parse_rate(value: str) -> tuple[int, float]:
    count, sep, per = value.partition("/")
    if not sep:
        fail("--rate must be N/DURATION, e.g. 10/1s or 100/1m")
    try:
        n = int(count)
    except ValueError:
        fail(f"--rate: {count!r} is not a whole number")
    try:
        period = parse_duration(per if per[:1].isdigit() else f"1{per}").total_seconds()
    except typer.BadParameter as exc:
        fail(f"--rate: {exc.message}")
    return n, period


@app.command("limit")
def limit(
    queue: QueueArg,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", help="At most N running at once (all workers)."),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option("--rate", metavar="N/DURATION", help="At most N starts per DURATION (10/1s)."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove both limits.")] = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Set QUEUE's limits (both are replaced: a limit not given is cleared)."""
    if clear and (concurrency is not None or rate is not None):
        fail("--clear takes no --concurrency or --rate")
    if not clear and concurrency is None and rate is None:
        fail("give --concurrency and/or --rate, or --clear to remove the limits")
    parsed = None if rate is None else _parse_rate(rate)
    with open_store(db, project) as cl:
        _say(cl.jobs.set_limit(queue, concurrency=concurrency, rate=parsed, actor=local_actor()))


def workers(
    stale_after: Annotated[
        timedelta | None,
        duration_option("Silence after which a worker shows stale; default 30s", "--stale-after"),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Registered workers: host, pid, queues, running jobs, last heartbeat (stale ones marked)."""
    after = 30.0 if stale_after is None else stale_after.total_seconds()
    with open_store(db, project) as cl:
        rows = cl.jobs.workers(stale_after=after)
    if as_json:
        print_json([w.to_dict() for w in rows])
        return
    if not rows:
        console.print("no workers registered", style="dim")
        return
    table = Table(header_style="bold")
    for column in ("name", "host", "pid", "queues", "concurrency", "running", "heartbeat"):
        table.add_column(column, no_wrap=column != "queues")
    for w in rows:
        beat = f"{w.heartbeat_age:.0f}s ago"
        table.add_row(
            w.name + (" (remote)" if w.remote else ""),
            w.host,
            "" if w.pid is None else str(w.pid),
            "all" if w.queues is None else ", ".join(w.queues),
            str(w.concurrency),
            ", ".join(str(i) for i in w.running) or "-",
            f"[red]{beat} stale[/]" if w.stale else beat,
        )
    print_table(table)


AllOption = Annotated[
    bool, typer.Option("--all", help="No filter: every job in the states (needed without one).")
]


def _bulk(
    verb: str, ctx: typer.Context, everything: bool, tz: str | None, db: str | None, project: str
) -> None:
    query = job_query(zone(tz), ctx.params)  # the filter options of `jobs ls`
    with open_store(db, project) as cl:
        move = cl.jobs.retry_many if verb == "retried" else cl.jobs.cancel_many
        try:
            n = move(query, all=everything, actor=local_actor())
        except ValidationError as exc:
            if exc.details.get("field") != "all":
                raise
            # The library's words are the Python and HTTP field names: say the flags.
            which = exc.message.rpartition(" to move ")[2]
            fail(f"give a filter (--queue, --kind, --subject or --since), or --all to move {which}")
    console.print(f"{n} job{'s' if n != 1 else ''} {verb}", highlight=False)


def _bulk_command(verb: str, doc: str) -> Callable[..., None]:
    """``jobs retry-many`` or ``jobs cancel-many``: the filter options of ``jobs ls``."""

    def command(
        ctx: typer.Context,
        queue: JobQueueOption = None,
        kind: JobKindOption = None,
        state: JobStateOption = None,
        subject: SubjectOption = None,
        since: JobSinceOption = None,
        everything: AllOption = False,
        tz: TzOption = None,
        db: DbOption = None,
        project: ProjectOption = "default",
    ) -> None:
        _bulk(verb, ctx, everything, tz, db, project)

    command.__doc__ = doc
    return command


retry_many = _bulk_command(
    "retried", "Send every failed or cancelled job of the filter back to pending (one transaction)."
)
cancel_many = _bulk_command(
    "cancelled", "Cancel every pending or running job of the filter (one transaction)."
)
