"""``chronolog events``: record and list activity."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from ..errors import ValidationError
from ..models import Actor, Event, Target
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    QuietOption,
    console,
    fail,
    open_store,
    print_page_json,
    print_table,
    progress,
)
from ._query import (
    ActionOption,
    ActorIdOption,
    ActorTypeOption,
    RangeOption,
    SearchOption,
    SinceOption,
    StatusOption,
    TargetIdOption,
    TargetTypeOption,
    TypeOption,
    UntilOption,
    event_query,
)
from ._when import TIME_HELP, TzOption, parse_time, show_time, zone, zone_label

__all__ = ["actor_label", "app", "event_table"]

app = typer.Typer(help="Record and list events of the activity log.", no_args_is_help=True)

STATUS_STYLE = {"success": "green", "error": "red", "processing": "yellow", "cancelled": "dim"}


def actor_label(actor: Actor | None) -> str:
    """Who, as every table shows it (see :meth:`chronolog.Actor.label`)."""
    return "" if actor is None else actor.label


def _when(value: str | None, name: str, tz: tzinfo) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, tz)
    except typer.BadParameter as exc:
        fail(f"{name}: {exc.message}")


@app.command("log")
def log(
    event_type: Annotated[
        str | None, typer.Argument(metavar="TYPE", help="Event type, e.g. scan.")
    ] = None,
    action: Annotated[str | None, typer.Argument(help="Action, e.g. started.")] = None,
    status: Annotated[
        str, typer.Option(help="processing, success, error, cancelled or a custom word.")
    ] = "success",
    actor_type: Annotated[str | None, typer.Option(help="Who: user, rule, scheduler …")] = None,
    actor_id: Annotated[str | None, typer.Option(help="The actor's id.")] = None,
    actor_name: Annotated[str | None, typer.Option(help="The actor's display name.")] = None,
    target_type: Annotated[str | None, typer.Option(help="What: media_item, job …")] = None,
    target_id: Annotated[str | None, typer.Option(help="The target's id.")] = None,
    target_title: Annotated[str | None, typer.Option(help="The target's display title.")] = None,
    error: Annotated[str | None, typer.Option(help="Error text.")] = None,
    metadata: Annotated[str | None, typer.Option(metavar="JSON", help="A JSON object.")] = None,
    at: Annotated[
        str | None,
        typer.Option(metavar="WHEN", help=f"When it happened: {TIME_HELP}. Default: now."),
    ] = None,
    tz: TzOption = None,
    quiet: QuietOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Record one event from flags, or JSON lines from stdin when no event type is given.

    Each stdin line is an object with the fields of an event (event_type,
    action, status, actor, target, occurred_at, error, metadata). Every line
    is checked before any is written, and they are written in one
    transaction: all of them, or none. The new ids are printed one a line.
    """
    zone_ = zone(tz)
    with open_store(db, project) as cl:
        if event_type is None:
            if sys.stdin.isatty():
                fail("give an event type and action, or pipe JSON lines to stdin")
            with progress(quiet=quiet, total=False) as bar:
                reading = bar.add_task("reading events from stdin", total=None)
                lines: list[int] = []  # the stdin line of each event, for errors
                items = _from_stdin(zone_, lambda n: bar.update(reading, completed=n), lines)
                try:
                    ids = cl.events.record_all(items, progress=_writing(bar, reading))
                except ValidationError as exc:
                    fail(_at_line(exc, lines))
            if not ids:
                fail("no event type given and nothing on stdin")
        else:
            if action is None:
                fail("give an ACTION after the event type")
            actor = _party("actor", Actor, actor_type, actor_id, actor_name)
            target = _party("target", Target, target_type, target_id, target_title)
            ids = [
                cl.events.record(
                    event_type,
                    action,
                    status=status,
                    actor=actor,
                    target=target,
                    occurred_at=_when(at, "--at", zone_),
                    error=error,
                    metadata=metadata,
                )
            ]
    sys.stdout.write("".join(f"{event_id}\n" for event_id in ids))
    sys.stdout.flush()


def _party(
    name: str,
    cls: type[Actor] | type[Target],
    kind: str | None,
    ident: str | None,
    label: str | None,
) -> Any:
    """The actor or target of the flags, refusing what the library and the HTTP API
    refuse (an id or name without a type) and an empty id, which no filter finds."""
    third = "name" if cls is Actor else "title"
    if kind is None:
        given = [f"--{name}-{f}" for f, v in (("id", ident), (third, label)) if v is not None]
        if given:
            verb = "needs" if len(given) == 1 else "need"
            article = "an" if name == "actor" else "a"
            fail(
                f"{' and '.join(given)} {verb} --{name}-type: {article} {name} is a type and an id"
            )
        return None
    if ident is not None and not ident.strip():
        fail(f"--{name}-id is empty: give the {name}'s id, or leave the flag out")
    return cls(kind, ident, label)


def _writing(bar: Any, reading: Any) -> Any:
    """The progress callback of the writing phase (a bar of its own once reading is done)."""
    task: list[Any] = []

    def written(done: int, total: int) -> None:
        if not task:
            bar.update(reading, visible=False)
            task.append(bar.add_task("recording events", total=total))
        bar.update(task[0], completed=done)

    return written


def _at_line(exc: ValidationError, lines: list[int]) -> str:
    """The library's refusal of a stdin event, numbered by its stdin line (1-based, as
    JSON errors are) instead of its 0-based index in the batch."""
    index = exc.details.get("index")
    if index is None and len(lines) == 1:
        index = 0  # a batch of one is not numbered by the library
    if not isinstance(index, int) or not 0 <= index < len(lines):
        return exc.message
    message = exc.message.removeprefix(f"event {index}: ")
    return f"stdin line {lines[index]}: {message}"


def _from_stdin(tz: tzinfo, counted: Any, lines: list[int]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(sys.stdin, 1):
        if line.strip():
            lines.append(number)
            yield _from_json(line, number, tz)
        if number % 1000 == 0:
            counted(number)


def _from_json(line: str, number: int, tz: tzinfo) -> dict[str, Any]:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        fail(f"stdin line {number} is not JSON: {exc}")
    if not isinstance(data, dict):
        fail(f"stdin line {number} is not a JSON object")
    if isinstance(data.get("occurred_at"), str):
        data["occurred_at"] = _when(data["occurred_at"], f"stdin line {number}: occurred_at", tz)
    return data


def event_table(events: list[Event], title: str | None = None, tz: tzinfo | None = None) -> Table:
    """A Rich table of events, newest first (times in ``tz``, default UTC)."""
    zone_ = tz or zone(None)
    table = Table(title=title, header_style="bold", expand=False)
    table.add_column("id", no_wrap=True)
    table.add_column(f"when ({zone_label(zone_)})", no_wrap=True)
    for column in ("type", "action", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("actor")
    table.add_column("target")
    for e in events:
        style = STATUS_STYLE.get(e.status, "cyan")
        target = ""
        if e.target is not None:
            target = e.target.title or f"{e.target.type}:{e.target.id or ''}"
        table.add_row(
            str(e.id),
            show_time(e.occurred_at, zone_),
            e.event_type,
            e.action,
            f"[{style}]{e.status}[/]",
            actor_label(e.actor),
            target,
        )
    return table


@app.command("ls")
def ls(
    ctx: typer.Context,
    event_type: TypeOption = None,
    action: ActionOption = None,
    actor_type: ActorTypeOption = None,
    actor_id: ActorIdOption = None,
    target_type: TargetTypeOption = None,
    target_id: TargetIdOption = None,
    status: StatusOption = None,
    search: SearchOption = None,
    date_range: RangeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(help="Events per page (1..100).")] = 20,
    page: Annotated[int, typer.Option(help="Page number.")] = 1,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of a previous page.")] = None,
    as_json: JsonOption = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List events newest first, with filters."""
    zone_ = zone(tz)
    with open_store(db, project) as cl:
        query = event_query(zone_, ctx.params)
        result = cl.events.query(
            query,
            limit=limit,
            page=page,
            cursor=cursor,
        )
    if as_json:
        print_page_json(result, Event.to_dict)
        return
    print_table(event_table(list(result.items), tz=zone_))
    console.print(
        f"page {result.page} · {len(result.items)} of {result.total} events"
        + (f" · next: --cursor {result.next_cursor}" if result.next_cursor else ""),
        style="dim",
        highlight=False,
        soft_wrap=True,  # a cursor is copied whole, never broken across lines
    )


@app.command("search-index")
def search_index(
    switch: Annotated[
        str | None,
        typer.Argument(
            metavar="on|off",
            help="on: build the index; off: drop it; nothing: say whether it is on.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """The opt-in trigram index behind events ls --search (every project of the store).

    Searches then cost what their matches cost, not a read of every event;
    writes of events get slower (see benchmarks/README.md).
    """
    if switch not in (None, "on", "off"):
        fail(f"expected on or off, got {switch!r}")
    with open_store(db) as cl:
        if switch == "on":
            cl.events.enable_search_index()
        elif switch == "off":
            cl.events.disable_search_index()
        state = "on" if cl.events.search_index_enabled() else "off"
    console.print(f"search index: {state}")
