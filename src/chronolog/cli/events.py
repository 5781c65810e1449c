"""``chronolog events``: record and list activity."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from ..models import Actor, Event, Target
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    console,
    fail,
    open_store,
    print_json_lines,
)

__all__ = ["app", "event_table"]

app = typer.Typer(help="Record and list events of the activity log.", no_args_is_help=True)

STATUS_STYLE = {"success": "green", "error": "red", "processing": "yellow"}


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name} {value!r} is not an ISO 8601 time")
    if parsed.tzinfo is None:
        fail(f"{name} {value!r} has no time zone; add Z or an offset")
    return parsed


@app.command("log")
def log(
    event_type: Annotated[str | None, typer.Argument(help="Event type, e.g. scan.")] = None,
    action: Annotated[str | None, typer.Argument(help="Action, e.g. started.")] = None,
    status: Annotated[
        str, typer.Option(help="processing, success, error or a custom word.")
    ] = "success",
    actor_type: Annotated[str | None, typer.Option(help="Who: user, rule, scheduler …")] = None,
    actor_id: Annotated[str | None, typer.Option()] = None,
    actor_name: Annotated[str | None, typer.Option()] = None,
    target_type: Annotated[str | None, typer.Option(help="What: media_item, job …")] = None,
    target_id: Annotated[str | None, typer.Option()] = None,
    target_title: Annotated[str | None, typer.Option()] = None,
    error: Annotated[str | None, typer.Option(help="Error text.")] = None,
    metadata: Annotated[str | None, typer.Option(help="A JSON object.")] = None,
    at: Annotated[
        str | None, typer.Option(help="When it happened (ISO 8601); default now.")
    ] = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Record one event from flags, or JSON lines from stdin when no event type is given.

    Each stdin line is an object with the fields of an event
    (event_type, action, status, actor, target, occurred_at, error, metadata).
    """
    with open_store(db, project) as cl:
        if event_type is None:
            items = [_from_json(line) for line in sys.stdin if line.strip()]
            if not items:
                fail("no event type given and nothing on stdin")
            ids = cl.events.record_many(items)
        else:
            if action is None:
                fail("give an ACTION after the event type")
            actor = Actor(actor_type, actor_id, actor_name) if actor_type else None
            target = Target(target_type, target_id, target_title) if target_type else None
            ids = [
                cl.events.record(
                    event_type,
                    action,
                    status=status,
                    actor=actor,
                    target=target,
                    occurred_at=_when(at, "--at"),
                    error=error,
                    metadata=metadata,
                )
            ]
    for event_id in ids:
        console.print(event_id, highlight=False)


def _from_json(line: str) -> dict[str, Any]:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        fail(f"stdin line is not JSON: {exc}")
    if not isinstance(data, dict):
        fail("each stdin line must be a JSON object")
    if isinstance(data.get("occurred_at"), str):
        data["occurred_at"] = _when(data["occurred_at"], "occurred_at")
    return data


def event_table(events: list[Event], title: str | None = None) -> Table:
    """A Rich table of events, newest first."""
    table = Table(title=title, header_style="bold", expand=False)
    for column in ("id", "when (UTC)", "type", "action", "status", "actor", "target"):
        table.add_column(column, overflow="fold")
    for e in events:
        style = STATUS_STYLE.get(e.status, "cyan")
        actor = "" if e.actor is None else (e.actor.name or f"{e.actor.type}:{e.actor.id or ''}")
        target = ""
        if e.target is not None:
            target = e.target.title or f"{e.target.type}:{e.target.id or ''}"
        table.add_row(
            str(e.id),
            e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.event_type,
            e.action,
            f"[{style}]{e.status}[/]",
            actor,
            target,
        )
    return table


@app.command("ls")
def ls(
    event_type: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="Event type (repeatable).")
    ] = None,
    action: Annotated[
        list[str] | None, typer.Option("--action", "-a", help="Action (repeatable).")
    ] = None,
    actor_type: Annotated[list[str] | None, typer.Option(help="Actor type (repeatable).")] = None,
    actor_id: Annotated[str | None, typer.Option()] = None,
    target_type: Annotated[str | None, typer.Option()] = None,
    target_id: Annotated[str | None, typer.Option(help="Needs --target-type.")] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", "-s", help="Status (repeatable).")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Text in target title or action.")
    ] = None,
    date_range: Annotated[str | None, typer.Option("--range", help="24h, 7d, 30d or all.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 lower bound.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 upper bound (exclusive).")] = None,
    limit: Annotated[int, typer.Option(help="Events per page (1..100).")] = 20,
    page: Annotated[int, typer.Option(help="Page number.")] = 1,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of a previous page.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List events newest first, with filters."""
    with open_store(db, project) as cl:
        result = cl.events.query(
            event_types=event_type or None,
            actions=action or None,
            actor_types=actor_type or None,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            statuses=status or None,
            search=search,
            date_range=date_range,
            since=_when(since, "--since"),
            until=_when(until, "--until"),
            limit=limit,
            page=page,
            cursor=cursor,
        )
    if as_json:
        print_json_lines([e.to_dict() for e in result.items])
        return
    console.print(event_table(list(result.items)))
    console.print(
        f"page {result.page} · {len(result.items)} of {result.total} events"
        + (f" · next: --cursor {result.next_cursor}" if result.next_cursor else ""),
        style="dim",
        highlight=False,
        soft_wrap=True,  # never break the cursor across lines: it is meant to be copied
    )


@app.command("search-index")
def search_index(
    switch: Annotated[
        str | None,
        typer.Argument(help="on: build the index; off: drop it; nothing: say whether it is on."),
    ] = None,
    db: DbOption = None,
) -> None:
    """The opt-in trigram index behind ``events ls --search`` (every project of the store).

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
