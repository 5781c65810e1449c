"""``chronolog jobs …``, ``chronolog worker`` and ``chronolog exec``: the job queue from a shell."""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import ChronologError
from ..jobs import Job
from ..jobs.exec import command_handler
from ..jobs.worker import Handler, Worker
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    console,
    fail,
    open_store,
    print_json_lines,
)

__all__ = ["app", "register"]

app = typer.Typer(help="List, inspect, retry, cancel and enqueue jobs.", no_args_is_help=True)

STATE_STYLE = {
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
    typer.Option("--queue", "-q", help="Queue to work on (repeatable; default all)."),
]


def register(app_: typer.Typer) -> None:
    """Add ``jobs``, ``worker`` and ``exec`` to the ``chronolog`` command."""
    app_.add_typer(app, name="jobs")
    app_.command("worker")(worker)
    app_.command("exec", context_settings={"allow_interspersed_args": False})(exec_command)


def _table(jobs: list[Job]) -> Table:
    table = Table(header_style="bold")
    for column in ("id", "queue", "kind", "state", "attempt", "subject", "worker", "created (UTC)"):
        table.add_column(column, overflow="fold")
    for j in jobs:
        table.add_row(
            str(j.id),
            j.queue,
            j.kind,
            f"[{STATE_STYLE.get(j.state, '')}]{j.state}[/]",
            f"{j.attempt}/{j.max_attempts}",
            "" if j.subject is None else f"{j.subject[0]}:{j.subject[1]}",
            j.worker or "",
            j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


@app.command("ls")
def ls(
    state: Annotated[
        list[str] | None, typer.Option("--state", "-s", help="State (repeatable).")
    ] = None,
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queue (repeatable).")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", "-k", help="Kind (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Jobs per page (1..100).")] = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of a previous page.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List jobs newest first, with counts per queue and state."""
    with open_store(db, project) as cl:
        page = cl.jobs.list(states=state, queue=queue, kind=kind, limit=limit, cursor=cursor)
        counts = cl.jobs.counts()
    if as_json:
        print_json_lines([j.to_dict() for j in page.items])
        return
    console.print(_table(list(page.items)))
    summary = " · ".join(
        f"{q}: " + ", ".join(f"{n} {s}" for s, n in states.items()) for q, states in counts.items()
    )
    console.print(summary or "no jobs", style="dim", highlight=False)
    if page.next_cursor:
        console.print(f"next: --cursor {page.next_cursor}", style="dim", highlight=False)


@app.command("show")
def show(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Show one job: its fields, errors of past attempts and history."""
    with open_store(db, project) as cl:
        job = cl.jobs.get(job_id)
        history = cl.jobs.history(job_id)
    if as_json:
        data = job.to_dict()
        data["history"] = [
            {"from": m.from_state, "to": m.to_state, "at": m.at.isoformat(), "actor": m.actor}
            for m in history
        ]
        print_json_lines([data])
        return
    for key, value in job.to_dict().items():
        if key not in ("errors", "project") and value is not None:
            console.print(f"[bold]{key:>16}[/] {value}", highlight=False)
    for e in job.errors:
        console.print(
            f"[red]attempt {e.attempt} failed[/] {e.at:%H:%M:%S}: {e.error}", highlight=False
        )
    for m in history:
        who = m.actor[1] or m.actor[0] or ""
        console.print(
            f"  {m.at:%Y-%m-%d %H:%M:%S}  {m.from_state or '·'} → {m.to_state}  {who}",
            highlight=False,
        )


@app.command("logs")
def logs(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    after: Annotated[int, typer.Option(help="Start after this line id.")] = 0,
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Print a job's log; with --follow, until the job finishes."""
    with open_store(db, project) as cl:
        try:
            while True:
                lines = cl.jobs.logs(job_id, after=after)
                for line in lines:
                    if as_json:
                        print_json_lines([line.to_dict()])
                    else:
                        style = LEVEL_STYLE.get(line.level, "")
                        text = f"{line.at:%H:%M:%S} {line.level:<7} {line.message}"
                        console.print(
                            f"[{style}]{text}[/]" if style else text,
                            highlight=False,
                            markup=bool(style),
                        )
                    after = line.id
                if not follow:
                    return
                if not lines:
                    if cl.jobs.get(job_id).state not in ("pending", "running"):
                        return
                    time.sleep(0.3)
        except KeyboardInterrupt:
            return


@app.command("retry")
def retry(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Send a failed or cancelled job back to pending."""
    with open_store(db, project) as cl:
        job = cl.jobs.retry(job_id)
    console.print(f"job {job.id} is {job.state}", highlight=False)


@app.command("cancel")
def cancel(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Cancel a pending job, or a running one (its worker stops at its next heartbeat)."""
    with open_store(db, project) as cl:
        job = cl.jobs.cancel(job_id)
    console.print(f"job {job.id} is {job.state}", highlight=False)


@app.command("enqueue")
def enqueue(
    kind: Annotated[str, typer.Argument(help="Job kind, e.g. rip.")],
    payload: Annotated[str | None, typer.Option(help="A JSON object.")] = None,
    queue: Annotated[str, typer.Option("--queue", "-q", help="Queue.")] = "default",
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    delay: Annotated[float | None, typer.Option(help="Seconds to wait before it may run.")] = None,
    max_attempts: Annotated[
        int | None, typer.Option(help="Attempts before it fails for good.")
    ] = None,
    unique_key: Annotated[
        str | None, typer.Option(help="At most one pending/running job with it.")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="KIND:ID of the entity it works on.")] = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Add a job and print its id."""
    subject_key: tuple[str, str] | None = None
    if subject is not None:
        kind_part, sep, id_part = subject.partition(":")
        if not sep:
            fail("--subject must be KIND:ID")
        subject_key = (kind_part, id_part)
    with open_store(db, project) as cl:
        job = cl.jobs.enqueue(
            kind,
            payload,
            queue=queue,
            priority=priority,
            delay=delay,
            max_attempts=max_attempts,
            unique_key=unique_key,
            subject=subject_key,
        )
    console.print(job.id, highlight=False)


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
) -> None:
    if server is not None:
        _run_remote(handlers, queue, concurrency, lease, timeout, grace, burst, name, server, token)
        return
    with open_store(db, project) as cl:
        w = Worker(
            cl.jobs,
            handlers,
            queues=queue or None,
            concurrency=concurrency,
            lease=lease,
            timeout=timeout,
            grace=grace,
            name=name,
            maintenance=lambda: cl.retention.run_if_due("1h"),
        )
        console.print(
            f"worker {w.name}: queues {', '.join(queue) if queue else 'all'}, concurrency {concurrency}",
            highlight=False,
            style="dim",
        )
        stats = w.run(burst=burst, install_signals=True)
    console.print(
        f"worker {w.name} stopped: {stats.completed} completed, {stats.failed} failed, "
        f"{stats.released} released",
        highlight=False,
        style="dim",
    )


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
) -> None:
    """The same worker, with jobs claimed from a chronolog server instead of a database."""
    from ..client import Client

    if not token:
        fail("--server needs --token (or $CHRONOLOG_TOKEN): a token with the write role")
    with Client(server, token) as client:
        try:
            client.whoami()
        except ChronologError as exc:
            fail(f"cannot use {server}: {exc.message}")
        w = Worker(
            client.jobs,
            handlers,
            queues=queue or None,
            concurrency=concurrency,
            lease=lease,
            timeout=timeout,
            grace=grace,
            name=name,
        )
        console.print(
            f"worker {w.name} on {server}: queues {', '.join(queue) if queue else 'all'}, "
            f"concurrency {concurrency}",
            highlight=False,
            style="dim",
        )
        stats = w.run(burst=burst, install_signals=True)
    console.print(
        f"worker {w.name} stopped: {stats.completed} completed, {stats.failed} failed, "
        f"{stats.released} released",
        highlight=False,
        style="dim",
    )


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
LeaseOption = Annotated[float, typer.Option(help="Lease seconds (renewed by heartbeats).")]
TimeoutOption = Annotated[float | None, typer.Option(help="Per-job time limit in seconds.")]
GraceOption = Annotated[float, typer.Option(help="Seconds running jobs get on SIGTERM/SIGINT.")]
BurstOption = Annotated[bool, typer.Option("--burst", help="Exit when no job is due.")]
NameOption = Annotated[str | None, typer.Option("--name", help="Worker name (default host:pid).")]


def worker(
    target: Annotated[
        str, typer.Argument(help="MODULE:OBJECT: a dict of kind → handler, or one handler.")
    ],
    queue: QueueOption = None,
    concurrency: ConcurrencyOption = 1,
    lease: LeaseOption = 30.0,
    timeout: TimeoutOption = None,
    grace: GraceOption = 30.0,
    burst: BurstOption = False,
    name: NameOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Run Python job handlers until SIGTERM/SIGINT (from --db, or --server with --token)."""
    handlers: Any = _load(target)
    if not callable(handlers) and not isinstance(handlers, dict):
        fail(f"{target} is neither a dict of handlers nor a callable")
    _run(
        handlers, queue, concurrency, lease, timeout, grace, burst, name, db, project, server, token
    )


def exec_command(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments, after --.")],
    queue: QueueOption = None,
    concurrency: ConcurrencyOption = 1,
    lease: LeaseOption = 30.0,
    timeout: TimeoutOption = None,
    grace: GraceOption = 30.0,
    burst: BurstOption = False,
    name: NameOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
    server: ServerOption = None,
    token: TokenOption = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            help="Pass this variable of the worker's environment to the command (NAME), "
            "or set one (NAME=VALUE). Repeatable. Without it the command sees only PATH, "
            "HOME, USER, SHELL, the locale, TZ and TMPDIR: never CHRONOLOG_TOKEN or "
            "CHRONOLOG_SECRET_KEY, since its output lands in job logs.",
        ),
    ] = None,
) -> None:
    """Run COMMAND once per job: payload in the environment and in {placeholders},
    output streamed into the job log, exit 0 completes, anything else fails.
    Jobs come from --db, or from a chronolog server with --server URL --token T."""
    try:
        handler: Handler = command_handler(command, env=env or ())
    except ValueError as exc:
        fail(str(exc))
    _run(
        handler, queue, concurrency, lease, timeout, grace, burst, name, db, project, server, token
    )
