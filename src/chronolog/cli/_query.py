"""The event filter options, written once for ``events ls``, ``feed tail`` and ``stats``.

Each command lists the options it offers (Typer reads a command's signature);
their spelling, help and the one function that turns them into an
:class:`~chronolog.EventQuery` live here, so the commands build the same value
the library, the HTTP routes and the UIs take.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated

import typer

from ..errors import ValidationError
from ..query import EventQuery
from ._common import fail
from ._when import TIME_HELP, parse_time

__all__ = [
    "ActionOption",
    "ActorIdOption",
    "ActorTypeOption",
    "RangeOption",
    "SearchOption",
    "SinceOption",
    "StatusOption",
    "TargetIdOption",
    "TargetTypeOption",
    "TypeOption",
    "UntilOption",
    "event_query",
]

TypeOption = Annotated[
    list[str] | None, typer.Option("--type", "-t", help="Event type (repeatable).")
]
ActionOption = Annotated[
    list[str] | None, typer.Option("--action", "-a", help="Action (repeatable).")
]
StatusOption = Annotated[
    list[str] | None, typer.Option("--status", "-s", help="Status (repeatable).")
]
ActorTypeOption = Annotated[
    list[str] | None, typer.Option("--actor-type", help="Actor type (repeatable).")
]
ActorIdOption = Annotated[str | None, typer.Option("--actor-id", help="Actor id.")]
TargetTypeOption = Annotated[
    list[str] | None, typer.Option("--target-type", help="Target type (repeatable).")
]
TargetIdOption = Annotated[
    str | None, typer.Option("--target-id", help="Target id (needs one --target-type).")
]
SearchOption = Annotated[
    str | None, typer.Option("--search", help="Text in the target's title or the action.")
]
RangeOption = Annotated[
    str | None, typer.Option("--range", metavar="RANGE", help="24h, 7d, 30d or all.")
]
SinceOption = Annotated[
    str | None, typer.Option("--since", metavar="WHEN", help=f"Lower bound: {TIME_HELP}.")
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", metavar="WHEN", help="Upper bound (exclusive), as --since."),
]


def _when(value: str | None, name: str, tz: tzinfo) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, tz)
    except typer.BadParameter as exc:
        fail(f"{name}: {exc.message}")


def event_query(
    tz: tzinfo,
    *,
    event_type: list[str] | None = None,
    action: list[str] | None = None,
    status: list[str] | None = None,
    actor_type: list[str] | None = None,
    actor_id: str | None = None,
    target_type: list[str] | None = None,
    target_id: str | None = None,
    search: str | None = None,
    date_range: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> EventQuery:
    """The options as an :class:`~chronolog.EventQuery` (a bad one ends the command with
    the library's message; times without an offset are read in ``tz``)."""
    try:
        return EventQuery(
            event_types=tuple(event_type) if event_type else None,
            actions=tuple(action) if action else None,
            statuses=tuple(status) if status else None,
            actor_types=tuple(actor_type) if actor_type else None,
            actor_id=actor_id,
            target_types=tuple(target_type) if target_type else None,
            target_id=target_id,
            search=search,
            date_range=date_range,
            since=_when(since, "--since", tz),
            until=_when(until, "--until", tz),
        )
    except ValidationError as exc:
        fail(exc.message)
