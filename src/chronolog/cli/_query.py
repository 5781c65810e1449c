"""The filter options, written once: of events (``events ls``, ``feed tail``, ``stats``),
of jobs (``jobs ls``, ``jobs retry-many``, ``jobs cancel-many``) and of entities
(``entities ls``).

Each command lists the options it offers (Typer reads a command's signature);
their spelling, help and the functions that turn them into an
:class:`~chronolog.EventQuery`, :class:`~chronolog.JobQuery` or
:class:`~chronolog.EntityQuery` live here, so the commands build the same value
the library, the HTTP routes and the UIs take.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Annotated, Any, TypeVar

import typer

from ..errors import ValidationError
from ..query import EntityQuery, EventQuery, JobQuery
from ._common import fail
from ._when import TIME_HELP, parse_time

__all__ = [
    "ActionOption",
    "ActiveOption",
    "ActorIdOption",
    "ActorTypeOption",
    "EnteredSinceOption",
    "EnteredUntilOption",
    "EntityKindOption",
    "EntityStateOption",
    "JobKindOption",
    "JobQueueOption",
    "JobSinceOption",
    "JobStateOption",
    "ParentOption",
    "RangeOption",
    "SearchOption",
    "SinceOption",
    "StatusOption",
    "SubjectOption",
    "TargetIdOption",
    "TargetTypeOption",
    "TypeOption",
    "UntilOption",
    "entity_query",
    "event_query",
    "job_query",
    "parse_subject",
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


JobStateOption = Annotated[
    list[str] | None, typer.Option("--state", "-s", help="Job state (repeatable).")
]
JobQueueOption = Annotated[
    list[str] | None, typer.Option("--queue", "-Q", help="Queue (repeatable).")
]
JobKindOption = Annotated[
    list[str] | None, typer.Option("--kind", "-k", help="Job kind (repeatable).")
]
SubjectOption = Annotated[
    str | None,
    typer.Option("--subject", metavar="KIND:ID", help="The subject entity, as jobs ls shows it."),
]
JobSinceOption = Annotated[
    str | None, typer.Option("--since", metavar="WHEN", help=f"Created at or after: {TIME_HELP}.")
]

EntityKindOption = Annotated[
    list[str] | None, typer.Option("--kind", "-k", help="Entity kind (repeatable).")
]
EntityStateOption = Annotated[
    list[str] | None, typer.Option("--state", "-s", help="Current state (repeatable).")
]
ActiveOption = Annotated[
    bool | None,
    typer.Option(
        "--active/--finished",
        help="Only entities not in a terminal state of their machine (--finished: only those in one).",
    ),
]
ParentOption = Annotated[
    str | None, typer.Option("--parent", metavar="KIND/ID", help="The parent entity.")
]
EnteredSinceOption = Annotated[
    str | None,
    typer.Option("--since", metavar="WHEN", help=f"Entered their state at or after: {TIME_HELP}."),
]
EnteredUntilOption = Annotated[
    str | None,
    typer.Option("--until", metavar="WHEN", help="Entered their state at or before, as --since."),
]


def _when(value: str | None, name: str, tz: tzinfo) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, tz)
    except typer.BadParameter as exc:
        fail(f"{name}: {exc.message}")


_EVENT_OPTIONS = {
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
_JOB_OPTIONS = {
    "state": "states",
    "queue": "queues",
    "kind": "kinds",
    "subject": "subject",
    "since": "since",
}
_ENTITY_OPTIONS = {
    "kind": "kinds",
    "state": "states",
    "active": "active",
    "parent": "parent",
    "since": "since",
    "until": "until",
}

Q = TypeVar("Q", EventQuery, JobQuery, EntityQuery)


def parse_subject(value: str, flag: str = "--subject") -> tuple[str, str]:
    """``KIND:ID`` (split at the first ``:``, the form ``jobs ls`` shows) as a pair; a
    value without the ``:`` ends the command saying so."""
    kind, sep, ident = value.partition(":")
    if not sep:
        fail(f"{flag} must be KIND:ID (as jobs ls shows it, e.g. movie:heat), not {value!r}")
    return kind, ident


def _flag(option: str) -> str:
    return "--" + {"event_type": "type", "date_range": "range"}.get(option, option).replace(
        "_", "-"
    )


def _in_flags(message: str, options: Mapping[str, str]) -> str:
    """The library's message with its field names (``target_types``) as this command's
    flags (``--target-type``): the user typed flags, not fields."""
    names = {name: _flag(option) for option, name in options.items()}
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    return pattern.sub(lambda m: names[m.group(1)], message)


def _query(cls: type[Q], options: Mapping[str, str], tz: tzinfo, params: Mapping[str, Any]) -> Q:
    values: dict[str, Any] = {}
    for option, name in options.items():
        value = params.get(option)
        if value is None or (isinstance(value, list | tuple) and not value):
            continue
        if name in ("since", "until"):
            value = _when(value, f"--{name}", tz)
        elif name == "subject":
            value = parse_subject(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return cls.from_params(values)
    except ValidationError as exc:
        fail(_in_flags(exc.message, options))


def event_query(tz: tzinfo, params: Mapping[str, Any]) -> EventQuery:
    """The command's event filter options (``ctx.params``: those of the options above
    that the command offers) as an :class:`~chronolog.EventQuery`; a bad one ends the
    command with the library's message. Times without an offset are read in ``tz``."""
    return _query(EventQuery, _EVENT_OPTIONS, tz, params)


def job_query(tz: tzinfo, params: Mapping[str, Any]) -> JobQuery:
    """The command's job filter options as a :class:`~chronolog.JobQuery` (as
    :func:`event_query`)."""
    return _query(JobQuery, _JOB_OPTIONS, tz, params)


def entity_query(tz: tzinfo, params: Mapping[str, Any]) -> EntityQuery:
    """The command's entity filter options as an :class:`~chronolog.EntityQuery` (as
    :func:`event_query`)."""
    return _query(EntityQuery, _ENTITY_OPTIONS, tz, params)
