"""``chronolog tail``: print the feed, optionally following it."""

from __future__ import annotations

import sys
from datetime import tzinfo
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from ..models import Event
from ._common import DbOption, ProjectOption, console, open_store
from ._query import (
    ActionOption,
    ActorIdOption,
    ActorTypeOption,
    StatusOption,
    TargetIdOption,
    TargetTypeOption,
    TypeOption,
    event_query,
)
from ._when import TzOption, show_time, zone
from .events import STATUS_STYLE

__all__ = ["register"]


def _line(event: Event, tz: tzinfo) -> str:
    style = STATUS_STYLE.get(event.status, "cyan")
    target = ""
    if event.target is not None:
        target = event.target.title or f"{event.target.type}:{event.target.id or ''}"
    return (
        f"[dim]{show_time(event.occurred_at, tz)}[/] #{event.id} {escape(event.event_type)} "
        f"{escape(event.action)} [{style}]{escape(event.status)}[/] {escape(target)}"
    )


def tail(
    ctx: typer.Context,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    after: Annotated[
        str | None,
        typer.Option(metavar="CURSOR", help="Start after this cursor (default: the last --lines)."),
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Events to show first.")] = 10,
    event_type: TypeOption = None,
    action: ActionOption = None,
    status: StatusOption = None,
    actor_type: ActorTypeOption = None,
    actor_id: ActorIdOption = None,
    target_type: TargetTypeOption = None,
    target_id: TargetIdOption = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines (one event a line), a stream.")
    ] = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Print the newest events in commit order; with --follow, wait for new ones."""
    zone_ = zone(tz)
    query = event_query(zone_, ctx.params)
    with open_store(db, project) as cl:
        try:
            if after is None:
                # The last N matching events: the newest page, printed oldest first.
                recent = (
                    cl.events.query(
                        query,
                        limit=max(1, min(lines, 100)),
                        with_total=False,
                    ).items
                    if lines > 0
                    else []
                )
                cursor = cl.feed.end_cursor()
                shown = list(reversed(recent))
            else:
                page = cl.feed.read(after, limit=1000, query=query)
                shown, cursor = page.items, page.next_cursor
            for event in shown:
                _print(event, json, zone_)
            if not follow:
                if not json:
                    console.print(f"[dim]cursor: {cursor}[/]", soft_wrap=True)
                return
            for item in cl.feed.follow(cursor, query=query):
                _print(item.event, json, zone_)
        except KeyboardInterrupt:
            return


def _print(event: Event, json: bool, tz: tzinfo) -> None:
    if json:
        sys.stdout.write(orjson.dumps(event.to_dict()).decode() + "\n")
        sys.stdout.flush()
    else:
        console.print(_line(event, tz), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``tail`` to the top-level app."""
    app.command("tail")(tail)
