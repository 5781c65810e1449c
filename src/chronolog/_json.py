"""JSON in and out, with orjson, and the metadata checks every part shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from .errors import ValidationError

__all__ = ["check_object", "dumps", "loads"]


def dumps(value: Any) -> str:
    """Serialise to compact JSON text (non-str keys and NaN are refused)."""
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    """Parse JSON text."""
    return orjson.loads(text)


def _has_nul(raw: bytes, value: Any) -> bool:
    """Whether a serialised JSON value holds U+0000 in any key or string."""
    if b"\\u0000" not in raw:  # the common case: one byte search
        return False

    def walk(node: Any) -> bool:
        if isinstance(node, str):
            return "\x00" in node
        if isinstance(node, Mapping):
            return any(walk(k) or walk(v) for k, v in node.items())
        if isinstance(node, list | tuple):
            return any(walk(item) for item in node)
        return False

    return walk(value)


def check_object(
    value: Any, *, name: str, limit: int | None = None, allow_none: bool = True
) -> tuple[dict[str, Any] | None, str | None]:
    """Validate a JSON object argument and return it with its serialised text.

    Accepts a mapping, a JSON string holding an object, or ``None``. Raises
    ``ValidationError`` for anything else, for values JSON cannot hold, and
    for a serialised size above ``limit`` bytes.
    """
    if type(value) is dict:
        # Fast path for the common case; errors fall through to the checks below.
        try:
            raw = orjson.dumps(value)
        except TypeError:
            pass
        else:
            if (limit is None or len(raw) <= limit) and not _has_nul(raw, value):
                return value, raw.decode()
    if value is None:
        if allow_none:
            return None, None
        raise ValidationError(f"{name} is required", field=name)
    if isinstance(value, str | bytes):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValidationError(f"{name} is not valid JSON: {exc}", field=name) from None
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{name} must be a JSON object, got {type(value).__name__}", field=name
        )
    if type(value) is not dict:
        value = dict(value)
    try:
        text = orjson.dumps(value)
    except TypeError as exc:
        raise ValidationError(f"{name} cannot be stored as JSON: {exc}", field=name) from None
    if _has_nul(text, value):
        # PostgreSQL's jsonb cannot hold U+0000; refuse it on both databases alike.
        raise ValidationError(f"{name} must not contain NUL characters (\\u0000)", field=name)
    if limit is not None and len(text) > limit:
        raise ValidationError(
            f"{name} is {len(text)} bytes, over the limit of {limit} bytes",
            field=name,
            size=len(text),
            limit=limit,
        )
    return value, text.decode()
