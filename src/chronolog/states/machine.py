"""State machine definitions: validating what a caller defines, and the names every part checks.

Nothing here touches the database; :mod:`.part` stores and loads the
definitions through ``store/sql/states.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ValidationError
from .models import Machine

__all__ = [
    "MAX_STATES",
    "RESERVED_KINDS",
    "check_entity_id",
    "check_kind",
    "check_state",
    "machine_from_json",
    "parse_machine",
]

MAX_STATES = 256
"""Most states one machine may declare."""

RESERVED_KINDS = frozenset({"job"})
"""Kinds whose history another part writes (``job``: chronolog's jobs). Readable, not writable here."""


def check_kind(value: Any, *, writing: bool = False) -> str:
    """A kind: non-empty text of at most 64 characters, without surrounding blanks."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValidationError(
            f"kind must be non-empty text without surrounding blanks, got {value!r}", field="kind"
        )
    if len(value) > 64:
        raise ValidationError("kind is longer than 64 characters", field="kind")
    if writing and value in RESERVED_KINDS:
        raise ValidationError(
            f"kind {value!r} is reserved: chronolog's jobs record their history under it "
            "(use cl.jobs, or another kind name)",
            field="kind",
        )
    return value


def check_entity_id(value: Any, name: str = "id") -> str:
    """An entity id: text (an integer is turned into text) of 1 to 255 characters."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(f"{name} must be text (or an integer), got {value!r}", field=name)
    text = str(value)
    if not text or len(text) > 255:
        raise ValidationError(f"{name} must be 1 to 255 characters", field=name)
    return text


def check_state(value: Any, name: str = "state") -> str:
    """A state name: non-empty text of at most 64 characters, without surrounding blanks."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValidationError(
            f"{name} must be non-empty text without surrounding blanks, got {value!r}", field=name
        )
    if len(value) > 64:
        raise ValidationError(f"{name} is longer than 64 characters", field=name)
    return value


def _state_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(f"{name} must be a list of state names", field=name)
    return [check_state(v, name) for v in value]


def parse_machine(
    kind: str,
    states: Any,
    transitions: Any,
    initial: Any = None,
    terminal: Any = (),
) -> Machine:
    """Validate a definition and build its :class:`Machine`; every error names the culprit."""
    names = _state_list(states, "states")
    if not names:
        raise ValidationError("a machine needs at least one state", field="states")
    if len(names) > MAX_STATES:
        raise ValidationError(f"a machine has at most {MAX_STATES} states", field="states")
    duplicates = sorted({s for s in names if names.count(s) > 1})
    if duplicates:
        raise ValidationError(f"states listed twice: {duplicates}", field="states")
    known = set(names)
    if not isinstance(transitions, Mapping):
        raise ValidationError(
            "transitions must be a mapping {from_state: [to_state, …]}", field="transitions"
        )
    moves: dict[str, tuple[str, ...]] = {}
    for source, targets in transitions.items():
        source = check_state(source, "transitions")
        if source not in known:
            raise ValidationError(
                f"transitions: {source!r} is not one of the states {names}", field="transitions"
            )
        listed = _state_list(targets, f"transitions[{source!r}]")
        unknown = sorted(set(listed) - known)
        if unknown:
            raise ValidationError(
                f"transitions[{source!r}] names unknown states {unknown}; states are {names}",
                field="transitions",
            )
        moves[source] = tuple(dict.fromkeys(listed))  # keep order, drop repeats
    if initial is not None:
        initial = check_state(initial, "initial")
        if initial not in known:
            raise ValidationError(
                f"initial state {initial!r} is not one of the states {names}", field="initial"
            )
    ends = _state_list(terminal, "terminal")
    unknown_ends = sorted(set(ends) - known)
    if unknown_ends:
        raise ValidationError(
            f"terminal names unknown states {unknown_ends}; states are {names}", field="terminal"
        )
    return Machine(
        kind=kind,
        states=tuple(names),
        transitions=moves,
        initial=initial,
        terminal=frozenset(ends),
    )


def machine_from_json(kind: str, definition: Mapping[str, Any]) -> Machine:
    """Rebuild a stored definition (written by :meth:`Machine.to_dict`)."""
    return Machine(
        kind=kind,
        states=tuple(definition["states"]),
        transitions={k: tuple(v) for k, v in definition["transitions"].items()},
        initial=definition.get("initial"),
        terminal=frozenset(definition.get("terminal", ())),
    )
