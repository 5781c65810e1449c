"""``chronolog schedules …``: recurring jobs from a shell (``cl.jobs.schedules``).

Workers fire schedules themselves (``chronolog worker``, and the server for
remote workers): these commands only manage them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Annotated

import typer
from rich.table import Table

from ..jobs import Schedule
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    console,
    local_actor,
    open_store,
    print_json,
    print_table,
)
from ._when import TzOption, duration_option, show_time, zone, zone_label

__all__ = ["app", "register"]

app = typer.Typer(
    help="Recurring jobs: list, add (or change), remove, pause, resume, next fire times.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Schedule name.")]


def register(app_: typer.Typer) -> None:
    """Add ``schedules`` to the ``chronolog`` command."""
    app_.add_typer(app, name="schedules")


def _fires(times: list[datetime], tz: tzinfo) -> str:
    return "\n".join(show_time(t, tz, "%Y-%m-%d %H:%M:%S") for t in times)


def _table(items: list[tuple[Schedule, list[datetime]]], tz: tzinfo) -> Table:
    table = Table(title=f"schedules (times in {zone_label(tz)})", title_justify="left")
    for column in ("name", "when", "kind", "queue", "state", "next fires", "last fire", "fires"):
        table.add_column(column, overflow="fold")
    for s, nxt in items:
        table.add_row(
            s.name,
            s.timing,
            s.kind,
            s.queue,
            "[yellow]paused[/]" if s.paused else "[green]active[/]",
            _fires(nxt, tz),
            show_time(s.last_fire_at, tz) if s.last_fire_at else "-",
            f"{s.fires}" + (f" ({s.missed} missed)" if s.missed else ""),
        )
    return table


@app.command("ls")
def ls(
    next_n: Annotated[
        int, typer.Option("--next", "-n", min=1, max=50, help="Next fire times shown each.")
    ] = 3,
    as_json: JsonOption = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List schedules with their next fire times."""
    with open_store(db, project) as cl:
        items = [
            (s, cl.jobs.schedules.next_fires(s.name, next_n)) for s in cl.jobs.schedules.list()
        ]
    if as_json:
        print_json(
            {
                "items": [
                    {**s.to_dict(), "next_fires": [t.isoformat() for t in nxt]} for s, nxt in items
                ]
            }
        )
        return
    if not items:
        console.print("no schedules", style="dim")
        return
    print_table(_table(items, zone(tz)))


@app.command("add")
def add(
    name: NameArg,
    kind: Annotated[str, typer.Argument(help="Job kind each fire enqueues.")],
    cron: Annotated[
        str | None,
        typer.Option(metavar="EXPR", help="Five-field cron, e.g. '0 3 * * *' (in --tz)."),
    ] = None,
    every: Annotated[timedelta | None, duration_option("Fixed interval", "--every")] = None,
    payload: Annotated[str | None, typer.Option(metavar="JSON", help="A JSON object.")] = None,
    queue: Annotated[str, typer.Option("--queue", "-Q", help="Queue.")] = "default",
    tz: Annotated[
        str, typer.Option("--tz", metavar="ZONE", help="Time zone of the cron fields.")
    ] = "UTC",
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    max_attempts: Annotated[int, typer.Option(help="Attempts of each job.")] = 3,
    catch_up: Annotated[
        str,
        typer.Option(metavar="latest|none|all", help="What missed fire times do."),
    ] = "latest",
    max_catch_up: Annotated[
        int, typer.Option(help="Missed fire times enqueued at most (catch-up 'all').")
    ] = 100,
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Add a schedule, or change the one named NAME (same timing: next fire kept)."""
    with open_store(db, project) as cl:
        s = cl.jobs.schedules.add(
            name,
            kind,
            cron=cron,
            every=every,
            payload=payload,
            queue=queue,
            tz=tz,
            priority=priority,
            max_attempts=max_attempts,
            catch_up=catch_up,
            max_catch_up=max_catch_up,
            actor=local_actor(),
        )
        nxt = cl.jobs.schedules.next_fires(name, 3)
    if as_json:
        print_json({**s.to_dict(), "next_fires": [t.isoformat() for t in nxt]})
        return
    shown = zone(s.tz)
    console.print(
        f"schedule {s.name}: {s.timing} → {s.kind}; next {show_time(nxt[0], shown)}"
        f" ({zone_label(shown)})",
        highlight=False,
        soft_wrap=True,
    )


@app.command("rm")
def rm(name: NameArg, db: DbOption = None, project: ProjectOption = "default") -> None:
    """Remove a schedule (the jobs it enqueued stay)."""
    with open_store(db, project) as cl:
        cl.jobs.schedules.remove(name, actor=local_actor())
    console.print(f"schedule {name} removed", highlight=False)


@app.command("pause")
def pause(name: NameArg, db: DbOption = None, project: ProjectOption = "default") -> None:
    """Stop firing a schedule (missed fire times follow its catch-up on resume)."""
    with open_store(db, project) as cl:
        cl.jobs.schedules.pause(name, actor=local_actor())
    console.print(f"schedule {name} paused", highlight=False)


@app.command("resume")
def resume(name: NameArg, db: DbOption = None, project: ProjectOption = "default") -> None:
    """Fire a paused schedule again."""
    with open_store(db, project) as cl:
        cl.jobs.schedules.resume(name, actor=local_actor())
    console.print(f"schedule {name} resumed", highlight=False)


@app.command("next")
def next_fires(
    name: NameArg,
    n: Annotated[int, typer.Option("-n", min=1, max=1000, help="How many.")] = 5,
    as_json: JsonOption = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Print the next N fire times of a schedule."""
    with open_store(db, project) as cl:
        times = cl.jobs.schedules.next_fires(name, n)
    if as_json:
        print_json({"name": name, "fires": [t.isoformat() for t in times]})
        return
    for t in times:
        console.print(show_time(t, zone(tz)), highlight=False)
