"""The input checks every part shares: words, lists of words, actors and targets, keys.

One module, so that parts never import each other's private helpers. Pure
functions over plain values: no store, no database (the client imports them too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ValidationError
from .models import Actor, Target

__all__ = [
    "ACTOR_LIMITS",
    "TARGET_LIMITS",
    "WORD_LIMITS",
    "check_idempotency_key",
    "no_nul",
    "party",
    "word",
    "words",
]

WORD_LIMITS = {"event_type": 64, "action": 64, "status": 32}
"""The longest event type, action and status, in characters."""
ACTOR_LIMITS = {"type": 64, "id": 255, "name": 255}
"""The longest actor type, id and display name."""
TARGET_LIMITS = {"type": 64, "id": 255}
"""The longest target type and id (a title is capped by ``Limits.text_chars``)."""


def word(value: Any, name: str) -> str:
    # Fast path first: this runs for every field of every event of a bulk ingest.
    if (
        type(value) is str
        and value
        and len(value) <= WORD_LIMITS[name]
        and not value.isspace()
        and "\x00" not in value
    ):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string", field=name)
    no_nul(value, name)
    limit = WORD_LIMITS[name]
    if len(value) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters", field=name)
    return value


def no_nul(value: str, name: str) -> None:
    # PostgreSQL cannot store NUL in text; refuse it on both databases alike.
    if "\x00" in value:
        raise ValidationError(f"{name} must not contain NUL characters", field=name)


def party(
    value: Any, name: str, cls: type[Actor] | type[Target], limits: dict[str, int], title_cap: int
) -> tuple[str | None, str | None, str | None]:
    """Validate an actor / target given as the dataclass, a mapping or None."""
    if value is None:
        return None, None, None
    if type(value) is cls:
        # Fast path for well-formed dataclasses; anything odd takes the checks below.
        f_kind, f_id = value.type, value.id
        f_third = value.name if isinstance(value, Actor) else value.title
        if (
            type(f_kind) is str
            and f_kind
            and len(f_kind) <= limits["type"]
            and not f_kind.isspace()
            and "\x00" not in f_kind
            and (
                f_id is None
                or (
                    type(f_id) is str
                    and f_id
                    and len(f_id) <= limits["id"]
                    and "\x00" not in f_id
                    and not f_id.isspace()
                )
            )
            and (
                f_third is None
                or (
                    type(f_third) is str
                    and len(f_third) <= limits.get("name", title_cap)
                    and "\x00" not in f_third
                )
            )
        ):
            return f_kind, f_id, f_third
    if isinstance(value, Actor | Target):
        if not isinstance(value, cls):
            raise ValidationError(f"{name} must be a {cls.__name__}", field=name)
        fields: dict[str, Any] = {"type": value.type, "id": value.id}
        third = value.name if isinstance(value, Actor) else value.title
    elif isinstance(value, Mapping):
        unknown = set(value) - {"type", "id", "name" if cls is Actor else "title"}
        if unknown:
            raise ValidationError(f"{name} has unknown fields: {sorted(unknown)}", field=name)
        fields = {"type": value.get("type"), "id": value.get("id")}
        third = value.get("name" if cls is Actor else "title")
    else:
        raise ValidationError(
            f"{name} must be a {cls.__name__}, a mapping or None, got {type(value).__name__}",
            field=name,
        )
    kind = fields["type"]
    if not isinstance(kind, str) or not kind.strip():
        raise ValidationError(f"{name}.type must be a non-empty string", field=f"{name}.type")
    if len(kind) > limits["type"]:
        raise ValidationError(f"{name}.type is longer than {limits['type']} characters")
    no_nul(kind, f"{name}.type")
    ident = fields["id"]
    if ident is not None:
        if isinstance(ident, bool) or not isinstance(ident, str | int):
            raise ValidationError(f"{name}.id must be text (or an integer)", field=f"{name}.id")
        ident = str(ident)
        if not ident.strip():
            # No filter could ever find it; an absent id is None.
            raise ValidationError(
                f"{name}.id must not be empty (leave it out for none)", field=f"{name}.id"
            )
        if len(ident) > limits["id"]:
            raise ValidationError(f"{name}.id is longer than {limits['id']} characters")
        no_nul(ident, f"{name}.id")
    if third is not None:
        if not isinstance(third, str):
            raise ValidationError(f"{name} display name must be text", field=name)
        cap = limits.get("name", title_cap)
        if len(third) > cap:
            raise ValidationError(f"{name} display name is longer than {cap} characters")
        no_nul(third, name)
    return kind, ident, third


def check_idempotency_key(key: object) -> str:
    """An idempotency key: 1 to 200 printable ASCII characters (``ValidationError`` else)."""
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= 200
        or not key.isascii()
        or not key.isprintable()
    ):
        raise ValidationError(
            "an idempotency key is 1 to 200 printable ASCII characters", field="idempotency_key"
        )
    return key


def words(value: Any, name: str) -> tuple[str, ...] | None:
    """A filter list: None, one string (comma-separated allowed) or an iterable of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    try:
        items = tuple(value)
    except TypeError:
        raise ValidationError(f"{name} must be a list of strings", field=name) from None
    if not all(isinstance(v, str) for v in items):
        raise ValidationError(f"{name} must be a list of strings", field=name)
    if len(items) > 100:
        raise ValidationError(f"{name} lists more than 100 values", field=name)
    return items
