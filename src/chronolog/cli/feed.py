"""``chronolog tail``: print the feed, optionally following it."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from ..models import Event
from ._common import DbOption, JsonOption, ProjectOption, console, open_store
from .events import STATUS_STYLE

__all__ = ["register"]


def _line(event: Event) -> str:
    style = STATUS_STYLE.get(event.status, "cyan")
    target = ""
    if event.target is not None:
        target = event.target.title or f"{event.target.type}:{event.target.id or ''}"
    return (
        f"[dim]{event.occurred_at:%Y-%m-%d %H:%M:%S}[/] #{event.id} {event.event_type} "
        f"{event.action} [{style}]{event.status}[/] {target}"
    )


def tail(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    after: Annotated[
        str | None, typer.Option(help="Start after this cursor (default: the last --lines).")
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Events to show first.")] = 10,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="Event type.")
    ] = None,
    action: Annotated[list[str] | None, typer.Option(help="Action.")] = None,
    status: Annotated[list[str] | None, typer.Option(help="Status.")] = None,
    json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Print the newest events in commit order; with --follow, wait for new ones."""
    with open_store(db, project) as cl:
        try:
            if after is None:
                # The last N matching events: the newest page, printed oldest first.
                recent = (
                    cl.events.query(
                        event_types=event_type,
                        actions=action,
                        statuses=status,
                        limit=max(1, min(lines, 100)),
                        with_total=False,
                    ).items
                    if lines > 0
                    else []
                )
                cursor = cl.feed.end_cursor()
                shown = list(reversed(recent))
            else:
                page = cl.feed.read(
                    after, limit=1000, event_types=event_type, actions=action, statuses=status
                )
                shown, cursor = page.items, page.next_cursor
            for event in shown:
                _print(event, json)
            if not follow:
                if not json:
                    console.print(f"[dim]cursor: {cursor}[/]")
                return
            for item in cl.feed.follow(
                cursor, event_types=event_type, actions=action, statuses=status
            ):
                _print(item.event, json)
        except KeyboardInterrupt:
            return


def _print(event: Event, json: bool) -> None:
    if json:
        sys.stdout.write(orjson.dumps(event.to_dict()).decode() + "\n")
        sys.stdout.flush()
    else:
        console.print(_line(event), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``tail`` to the top-level app."""
    app.command("tail")(tail)
