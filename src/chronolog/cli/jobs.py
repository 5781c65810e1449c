"""``chronolog jobs …``, ``chronolog worker`` and ``chronolog exec``: the job queue from a shell."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import timedelta, tzinfo
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..errors import ChronologError, Forbidden, Unauthorized
from ..jobs import Job
from ..jobs.exec import CommandNotFound, command_handler
from ..jobs.models import QueueInfo
from ..jobs.worker import Handler, Worker
from ..models import Actor
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    QuietOption,
    console,
    err_console,
    fail,
    local_actor,
    local_or_remote,
    open_store,
    print_json,
    print_json_lines,
    print_page_json,
    print_table,
    require_extra,
)
from ._query import (
    JobKindOption,
    JobQueueOption,
    JobSinceOption,
    JobStateOption,
    SubjectOption,
    job_query,
    parse_subject,
)
from ._when import (
    TIME_HELP,
    TzOption,
    duration_option,
    parse_time,
    seconds,
    show_time,
    zone,
    zone_label,
)
from ._worker_report import (
    WorkerReport,
    console_logging,
    idle_hints,
    print_hints,
    print_summary,
)

__all__ = ["app", "register"]

app = typer.Typer(help="List, inspect, retry, cancel and enqueue jobs.", no_args_is_help=True)

STATE_STYLE = {
    "waiting": "blue",
    "pending": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "dim",
}
LEVEL_STYLE = {
    "debug": "dim",
    "info": "",
    "warning": "yellow",
    "error": "red",
    "critical": "bold red",
}

QueueOption = Annotated[
    list[str] | None,
    typer.Option("--queue", "-Q", help="Queue to work on (repeatable; default all)."),
]


def register(app_: typer.Typer) -> None:
    """Add ``jobs``, ``worker`` and ``exec`` to the ``chronolog`` command."""
    app_.add_typer(app, name="jobs")
    app_.command("worker")(worker)
    app_.command("exec", context_settings={"allow_interspersed_args": False})(exec_command)


def _table(jobs: list[Job], tz: tzinfo) -> Table:
    table = Table(header_style="bold")
    for column in ("id", "queue", "kind", "state", "attempt"):
        table.add_column(column, no_wrap=True)
    table.add_column("subject")
    table.add_column("worker")
    table.add_column(f"created ({zone_label(tz)})", no_wrap=True)
    for j in jobs:
        table.add_row(
            str(j.id),
            j.queue,
            j.kind,
            f"[{STATE_STYLE.get(j.state, '')}]{j.state}[/]",
            f"{j.attempt}/{j.max_attempts}",
            "" if j.subject is None else f"{j.subject[0]}:{j.subject[1]}",
            j.worker or "",
            show_time(j.created_at, tz),
        )
    return table


@app.command("ls")
def ls(
    ctx: typer.Context,
    state: JobStateOption = None,
    queue: JobQueueOption = None,
    kind: JobKindOption = None,
    subject: SubjectOption = None,
    since: JobSinceOption = None,
    limit: Annotated[int, typer.Option(help="Jobs per page (1..100).")] = 20,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of a previous page.")] = None,
    as_json: JsonOption = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List jobs newest first, with counts per queue and state."""
    query = job_query(zone(tz), ctx.params)
    with open_store(db, project) as cl:
        page = cl.jobs.list(query, limit=limit, cursor=cursor)
        counts = cl.jobs.counts()
    if as_json:
        print_page_json(page, Job.to_dict, counts=counts)
        return
    print_table(_table(list(page.items), zone(tz)))
    summary = " · ".join(
        f"{q}: " + ", ".join(f"{n} {s}" for s, n in states.items()) for q, states in counts.items()
    )
    console.print(summary or "no jobs", style="dim", highlight=False)
    if page.next_cursor:
        console.print(
            f"next: --cursor {page.next_cursor}", style="dim", highlight=False, soft_wrap=True
        )


def _who(actor: tuple[str | None, str | None, str | None]) -> str | None:
    """A history entry's actor as every interface shows it."""
    kind, ident, name = actor
    return None if kind is None else Actor(kind, ident, name).label


@app.command("show")
def show(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="Job id.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the job and its history as JSON.")
    ] = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Show one job: its fields, the error of each failed attempt (whole), its history."""
    with open_store(db, project) as cl:
        job = cl.jobs.get(job_id)
        history = cl.jobs.history(job_id)
    if as_json:
        data = job.to_dict()
        data["history"] = [
            {
                "from": m.from_state,
                "to": m.to_state,
                "at": m.at.isoformat().replace("+00:00", "Z"),
                "actor": _who(m.actor),
            }
            for m in history
        ]
        print_json(data)
        return
    zone_ = zone(tz)
    times = {"run_at", "heartbeat_at", "lease_expires_at", "created_at", "started_at"}
    times |= {"finished_at"}
    for key, value in job.to_dict().items():
        if key in ("errors", "project") or value is None or value == []:
            continue
        if key == "dependents" and not value:
            continue
        if key in times:
            value = show_time(getattr(job, key), zone_) + f" {zone_label(zone_)}"
        if key == "progress":
            value = f"{round(job.progress * 100)}%" if job.progress is not None else ""
        if isinstance(value, dict | list):
            value = orjson.dumps(value).decode()
        # Values are data, not markup: "[error]" in a payload stays as written.
        console.print(Text.assemble((f"{key:>16}", "bold"), " ", str(value)))
    for e in job.errors:
        console.print(
            f"[red]attempt {e.attempt} failed[/] {show_time(e.at, zone_)}"
            + (f" on {escape(e.worker)}" if e.worker else "")
            + ":",
            highlight=False,
        )
        # The whole error, every line of it (a traceback), indented under its heading.
        console.print(
            Text("\n".join("    " + line for line in e.error.splitlines()) or "    (no message)"),
            soft_wrap=True,
        )
    if history:
        console.print(Text("history", style="bold"))
    for m in history:
        who = _who(m.actor) or ""
        console.print(
            Text(
                f"  {show_time(m.at, zone_)}  {m.from_state or '·'} → {m.to_state}  {who}".rstrip()
            ),
            soft_wrap=True,
        )


@app.command("logs")
def logs(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="Job id.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    after: Annotated[int, typer.Option(help="Start after this line id.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Print a job's log; with --follow, until the job finishes."""
    zone_ = zone(tz)
    with open_store(db, project) as cl:
        try:
            while True:
                lines = cl.jobs.logs(job_id, after=after)
                for line in lines:
                    if as_json:
                        print_json_lines([line.to_dict()])
                    else:
                        text = Text(
                            f"{show_time(line.at, zone_, '%H:%M:%S')} {line.level:<7} "
                            f"{line.message}",
                            style=LEVEL_STYLE.get(line.level, ""),
                        )
                        console.print(text, highlight=False, soft_wrap=True)
                    after = line.id
                if not follow:
                    return
                if not lines:
                    if cl.jobs.get(job_id).state not in ("waiting", "pending", "running"):
                        return
                    time.sleep(0.3)
        except KeyboardInterrupt:
            return


@app.command("retry")
def retry(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="Job id.")],
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Send a failed or cancelled job back to pending (recorded as done by you)."""
    with open_store(db, project) as cl:
        job = cl.jobs.retry(job_id, actor=local_actor())
    console.print(f"job {job.id} is {job.state}", highlight=False)


@app.command("cancel")
def cancel(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="Job id.")],
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Cancel a pending job, or a running one (its handler is told within a second)."""
    with open_store(db, project) as cl:
        job = cl.jobs.cancel(job_id, actor=local_actor())
    console.print(f"job {job.id} is {job.state}", highlight=False)


@app.command("enqueue")
def enqueue(
    kind: Annotated[str, typer.Argument(help="Job kind, e.g. rip.")],
    payload: Annotated[str | None, typer.Option(metavar="JSON", help="A JSON object.")] = None,
    queue: Annotated[str, typer.Option("--queue", "-Q", help="Queue.")] = "default",
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    delay: Annotated[
        timedelta | None, duration_option("Wait this long before it may run", "--delay")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="WHEN", help=f"Not before this time: {TIME_HELP}."),
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option(help="Attempts before it fails for good.")
    ] = None,
    unique_key: Annotated[
        str | None, typer.Option(help="At most one pending or running job holds it.")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(metavar="KIND:ID", help="The entity it works on.")
    ] = None,
    after: Annotated[
        list[int] | None,
        typer.Option(
            "--after", metavar="ID", help="Run after this job completed (repeatable); waits."
        ),
    ] = None,
    on_failure: Annotated[
        str,
        typer.Option(
            metavar="cancel|run", help="What a failed or cancelled --after job does to it."
        ),
    ] = "cancel",
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Add a job (recorded as enqueued by you) and print its id."""
    subject_key = None if subject is None else parse_subject(subject)
    if delay is not None and at is not None:
        fail("give --delay or --at, not both")
    try:
        run_at = None if at is None else parse_time(at, zone(tz))
    except typer.BadParameter as exc:
        fail(f"--at: {exc.message}")
    with open_store(db, project) as cl:
        job = cl.jobs.enqueue(
            kind,
            payload,
            queue=queue,
            priority=priority,
            run_at=run_at,
            delay=delay,
            max_attempts=max_attempts,
            unique_key=unique_key,
            subject=subject_key,
            after=after,
            on_failure=on_failure,
            actor=local_actor(),
        )
    console.print(job.id, highlight=False)


@app.command("pipeline")
def pipeline(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="Id of one of its jobs.")],
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Show the pipeline a job is a stage of: its stages, in order, with their states."""
    with open_store(db, project) as cl:
        found = cl.jobs.pipeline_of(job_id)
    if found is None:
        fail(f"job {job_id} is not a stage of a pipeline")
    if as_json:
        print_json(found.to_dict())
        return
    subject = f" on {found.subject[0]}:{found.subject[1]}" if found.subject else ""
    console.print(
        Text(f"pipeline {found.id} {found.name}{subject}: {found.state}", style="bold"),
        highlight=False,
    )
    for n, job in enumerate(found.jobs, 1):
        after = f"  after {', '.join(map(str, job.depends_on))}" if job.depends_on else ""
        mark = " ←" if job.id == job_id else ""
        console.print(
            Text.assemble(
                f"  {n}. {job.id:>6} {job.kind:<16} ",
                (f"{job.state:<10}", STATE_STYLE.get(job.state, "")),
                after + mark,
            ),
            highlight=False,
        )


def _load(target: str) -> Any:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        fail(f"{target!r} is not MODULE:OBJECT")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        fail(f"cannot load {target}: {exc}")
    return obj


def _run(
    handlers: Any,
    queue: list[str] | None,
    concurrency: int,
    lease: float,
    timeout: float | None,
    grace: float,
    burst: bool,
    name: str | None,
    db: str | None,
    project: str,
    server: str | None = None,
    token: str | None = None,
    quiet: bool = False,
    command: str = "worker",
) -> None:
    if server is not None:
        _run_remote(
            handlers,
            queue,
            concurrency,
            lease,
            timeout,
            grace,
            burst,
            name,
            server,
            token,
            quiet,
            command,
        )
        return
    with open_store(db, project) as cl:
        waiting: int | None = None
        if burst and not quiet:  # the bar's total: the jobs it would claim, waiting now
            # A worker with a handler per kind claims only those kinds (Worker.kinds).
            kinds = list(handlers) if isinstance(handlers, Mapping) and handlers else None
            counts = cl.jobs.counts(kind=kinds)
            waiting = sum(
                states.get("pending", 0) for q, states in counts.items() if not queue or q in queue
            )
        report = WorkerReport(waiting, lines=not quiet, progress=burst and not quiet)
        w = Worker(
            cl.jobs,
            handlers,
            queues=queue or None,
            concurrency=concurrency,
            lease_seconds=lease,
            timeout=timeout,
            grace=grace,
            name=name,
            maintenance=lambda: cl.retention.run_if_due("1h"),
            on_outcome=report if report.lines or report.enabled else None,
        )
        if not quiet:
            err_console.print(
                f"worker {w.name}: queues {', '.join(queue) if queue else 'all'}, "
                f"kinds {', '.join(w.kinds) if w.kinds else 'all'}, concurrency {concurrency}",
                highlight=False,
                style="dim",
            )
        _work(w, report, burst, quiet, command, queue, cl.jobs.queues)


def _work(
    w: Worker,
    report: WorkerReport,
    burst: bool,
    quiet: bool,
    command: str,
    queues: list[str] | None,
    queue_infos: Callable[[], list[QueueInfo]],
) -> None:
    """Run the worker with its console output; exit non-zero when it stopped on a refusal.

    A ``--burst`` that found nothing to do in the queues it was given says why it may
    have (one of them paused with pending jobs, or with no jobs at all: a typo)."""
    with console_logging():
        try:
            with report:
                stats = w.run(burst=burst, install_signals=True)
        except (Unauthorized, Forbidden) as exc:
            print_summary(w.name, w.stats)
            fail(f"chronolog {command} stopped: {_refusal(exc)}")
    if quiet:
        return
    print_summary(w.name, stats)
    if burst and queues and not stats.claimed:
        # Only a hint: a store or server gone away says nothing more.
        with contextlib.suppress(ChronologError):
            print_hints(idle_hints(queues, queue_infos()))


def _refusal(exc: ChronologError) -> str:
    """A refused token in one line, with what is needed."""
    if isinstance(exc, Forbidden):
        return f"{exc.message}: a worker needs a token with the write role"
    return f"the server refused the token ({exc.message}): a worker needs a valid write token"


def _run_remote(
    handlers: Any,
    queue: list[str] | None,
    concurrency: int,
    lease: float,
    timeout: float | None,
    grace: float,
    burst: bool,
    name: str | None,
    server: str,
    token: str | None,
    quiet: bool,
    command: str,
) -> None:
    """The same worker, with jobs claimed from a chronolog server instead of a database."""
    require_extra("client")
    from ..auth import role_allows
    from ..client import Client

    if not token:
        fail("--server needs --token (or $CHRONOLOG_TOKEN): a token with the write role")
    with Client(server, token) as client:
        try:
            me = client.whoami()
        except (Unauthorized, Forbidden) as exc:
            fail(f"chronolog {command}: {_refusal(exc)} at {server}")
        except ChronologError as exc:
            fail(f"cannot use {server}: {exc.message}")
        role = str(me.get("role"))
        if not role_allows(role, "write"):
            # A read token may look but not claim: say so now rather than loop on 403.
            fail(
                f"chronolog {command}: the token has the {role} role in project "
                f"{me.get('project')!r}; claiming jobs needs the write role "
                "(chronolog token create NAME --role write)"
            )
        report = WorkerReport(None, lines=not quiet, progress=burst and not quiet)
        w = Worker(
            client.jobs,
            handlers,
            queues=queue or None,
            concurrency=concurrency,
            lease_seconds=lease,
            timeout=timeout,
            grace=grace,
            name=name,
            on_outcome=report if report.lines or report.enabled else None,
        )
        if not quiet:
            err_console.print(
                f"worker {w.name} on {server}: queues {', '.join(queue) if queue else 'all'}, "
                f"concurrency {concurrency}",
                highlight=False,
                style="dim",
            )
        _work(w, report, burst, quiet, command, queue, client.jobs.queues)


ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="CHRONOLOG_SERVER",
        help="Run jobs of a chronolog server (URL) instead of a database (--db).",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="CHRONOLOG_TOKEN", help="API token for --server (write role)."),
]

ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", "-c", min=1, help="Jobs at a time.")
]
LeaseOption = Annotated[
    timedelta | None,
    duration_option("How long a claim holds, renewed by heartbeats; default 30s", "--lease"),
]
TimeoutOption = Annotated[
    timedelta | None, duration_option("Time limit of one job; default none", "--timeout")
]
GraceOption = Annotated[
    timedelta | None,
    duration_option("Time running jobs get on SIGTERM/SIGINT; default 30s", "--grace"),
]
BurstOption = Annotated[bool, typer.Option("--burst", help="Exit when no job is due.")]
NameOption = Annotated[str | None, typer.Option("--name", help="Worker name (default host:pid).")]


def worker(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(metavar="MODULE:OBJECT", help="A dict of kind → handler, or one handler."),
    ],
    queue: QueueOption = None,
    concurrency: ConcurrencyOption = 1,
    lease: LeaseOption = None,
    timeout: TimeoutOption = None,
    grace: GraceOption = None,
    burst: BurstOption = False,
    name: NameOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
    server: ServerOption = None,
    token: TokenOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run Python job handlers until SIGTERM/SIGINT.

    Jobs come from the store (--db), or from a chronolog server (--server with --token).
    """
    local_or_remote(ctx, server)
    server = ctx.params.get("server", server)
    handlers: Any = _load(target)
    if not callable(handlers) and not isinstance(handlers, dict):
        fail(f"{target} is neither a dict of handlers nor a callable")
    _run(
        handlers,
        queue,
        concurrency,
        seconds(lease) or 30.0,
        seconds(timeout),
        seconds(grace) or 30.0,
        burst,
        name,
        db,
        project,
        server,
        token,
        quiet,
        "worker",
    )


def exec_command(
    ctx: typer.Context,
    command: Annotated[list[str], typer.Argument(help="The command and its arguments, after --.")],
    queue: QueueOption = None,
    concurrency: ConcurrencyOption = 1,
    lease: LeaseOption = None,
    timeout: TimeoutOption = None,
    grace: GraceOption = None,
    burst: BurstOption = False,
    name: NameOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
    server: ServerOption = None,
    token: TokenOption = None,
    quiet: QuietOption = False,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            help="Pass this variable of the worker's environment to the command (NAME), "
            "or set one (NAME=VALUE). Repeatable. Without it the command sees only PATH, "
            "HOME, USER, SHELL, the locale, TZ and TMPDIR: never CHRONOLOG_TOKEN or "
            "CHRONOLOG_SECRET_KEY, since its output lands in job logs.",
        ),
    ] = None,
) -> None:
    """Run COMMAND once per job: exit 0 completes it, anything else fails it.

    The job's payload is in the environment and in {placeholders} of the
    command; its output is streamed into the job log. Jobs come from the
    store (--db), or from a chronolog server (--server URL --token T). The
    command sees only PATH, HOME, the locale, TZ and TMPDIR of the worker's
    environment, and what --env names.
    """
    local_or_remote(ctx, server)
    server = ctx.params.get("server", server)
    try:
        handler: Handler = command_handler(command, env=env or ())
    except CommandNotFound as exc:  # before anything is claimed
        fail(f"chronolog exec: {exc}")
    except ValueError as exc:
        fail(str(exc))
    _run(
        handler,
        queue,
        concurrency,
        seconds(lease) or 30.0,
        seconds(timeout),
        seconds(grace) or 30.0,
        burst,
        name,
        db,
        project,
        server,
        token,
        quiet,
        "exec",
    )
