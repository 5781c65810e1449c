"""JSON in and out, with orjson, and the metadata checks every part shares."""

from __future__ import annotations

import json as stdlib_json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from .errors import ValidationError

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "WideInteger",
    "check_object",
    "dumps",
    "loads",
    "loads_checked",
    "wide_integer",
]

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
"""Integers in JSON documents (metadata, payloads, results, attributes) must fit in a
signed 64-bit integer, on both databases: beyond it JSON parsers (orjson, JavaScript)
turn them into floats and lose digits silently. Send larger numbers as strings."""

_LONG_DIGITS = re.compile(rb"\d{19}")
"""Any integer outside the signed 64-bit range has at least 19 digits."""


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


def _non_finite(raw: bytes, value: Any) -> float | None:
    """A NaN or infinite float in ``value``, if any: orjson writes them as ``null``, a
    silent change of the caller's data (and JSON has no such numbers)."""
    if b"null" not in raw:  # the common case: one byte search
        return None
    found = _first_leaf(value, lambda n: isinstance(n, float) and not math.isfinite(n))
    return None if found is None else float(found)


def _first_leaf(value: Any, wanted: Callable[[Any], bool]) -> Any:
    """The first value in ``value`` (mappings' values and lists walked in full) that
    ``wanted`` accepts, or None."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif wanted(node):
            return node
    return None


class WideInteger(ValueError):
    """JSON text holds an integer literal outside [INT_MIN, INT_MAX] (``number`` is it)."""

    def __init__(self, number: int) -> None:
        super().__init__(f"integer {number} is outside the signed 64-bit range")
        self.number = number


def _exact_int(text: str) -> int:
    number = int(text)
    if not INT_MIN <= number <= INT_MAX:
        raise WideInteger(number)
    return number


def loads_checked(text: str | bytes) -> Any:
    """Parse JSON text strictly (orjson), refusing integer literals outside 64 bits.

    orjson reads such a literal as a float, silently dropping digits; a long run
    of digits sends the text through the standard library's parser once more,
    which sees each integer literal exactly. Raises ``orjson.JSONDecodeError``
    or :class:`WideInteger`.
    """
    data = orjson.loads(text)
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _LONG_DIGITS.search(raw):
        stdlib_json.loads(raw, parse_int=_exact_int)
    return data


def wide_integer(value: Any) -> int | None:
    """The first integer in ``value`` (walked in full) outside [INT_MIN, INT_MAX], if any."""
    found = _first_leaf(
        value,
        lambda n: isinstance(n, int) and not isinstance(n, bool) and not INT_MIN <= n <= INT_MAX,
    )
    return None if found is None else int(found)


def _refuse_wide(name: str, number: int) -> ValidationError:
    shown = str(number) if len(str(number)) <= 40 else f"{str(number)[:37]}..."
    return ValidationError(
        f"{name} holds the integer {shown}, outside the signed 64-bit range "
        f"({INT_MIN} to {INT_MAX}); send it as a string",
        field=name,
    )


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
            if (
                (limit is None or len(raw) <= limit)
                and not _has_nul(raw, value)
                and not _LONG_DIGITS.search(raw)
                and _non_finite(raw, value) is None
            ):
                return value, raw.decode()
    if value is None:
        if allow_none:
            return None, None
        raise ValidationError(f"{name} is required", field=name)
    if isinstance(value, str | bytes):
        try:
            value = loads_checked(value)
        except orjson.JSONDecodeError as exc:
            raise ValidationError(f"{name} is not valid JSON: {exc}", field=name) from None
        except WideInteger as exc:
            raise _refuse_wide(name, exc.number) from None
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{name} must be a JSON object, got {type(value).__name__}", field=name
        )
    if type(value) is not dict:
        value = dict(value)
    try:
        text = orjson.dumps(value)
    except TypeError as exc:
        wide = wide_integer(value)
        if wide is not None:
            raise _refuse_wide(name, wide) from None
        raise ValidationError(f"{name} cannot be stored as JSON: {exc}", field=name) from None
    if _LONG_DIGITS.search(text):
        wide = wide_integer(value)
        if wide is not None:
            raise _refuse_wide(name, wide)
    bad = _non_finite(text, value)
    if bad is not None:
        raise ValidationError(
            f"{name} holds the number {bad!r}, which JSON cannot hold; send a finite "
            "number, null, or a string",
            field=name,
        )
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
