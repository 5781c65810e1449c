"""The event filter options, written once for ``events ls``, ``feed tail`` and ``stats``.

Each command lists the options it offers (Typer reads a command's signature);
their spelling, help and the one function that turns them into an
:class:`~chronolog.EventQuery` live here, so the commands build the same value
the library, the HTTP routes and the UIs take.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Annotated, Any

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


_OPTIONS = {
    # option parameter → EventQuery field
    "event_type": "event_types",
    "action": "actions",
    "status": "statuses",
    "actor_type": "actor_types",
    "actor_id": "actor_id",
    "target_type": "target_types",
    "target_id": "target_id",
    "search": "search",
    "date_range": "date_range",
    "since": "since",
    "until": "until",
}


def event_query(tz: tzinfo, params: Mapping[str, Any]) -> EventQuery:
    """The command's filter options (``ctx.params``: those of the options above that the
    command offers) as an :class:`~chronolog.EventQuery`; a bad one ends the command
    with the library's message. Times without an offset are read in ``tz``."""
    values: dict[str, Any] = {}
    for option, name in _OPTIONS.items():
        value = params.get(option)
        if value is None or (isinstance(value, list | tuple) and not value):
            continue
        if name in ("since", "until"):
            value = _when(value, f"--{name}", tz)
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return EventQuery(**values)
    except ValidationError as exc:
        fail(exc.message)
