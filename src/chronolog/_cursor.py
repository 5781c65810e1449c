"""Opaque cursors: what a caller hands back to continue where a page ended.

A cursor is URL-safe base64 of a small JSON object. It carries a fingerprint
of the query it came from, so a cursor used with other filters is refused
instead of silently returning the wrong rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson

from .errors import ValidationError

__all__ = ["decode_cursor", "encode_cursor", "fingerprint"]


def fingerprint(*parts: Any) -> str:
    """A short, stable hash of the query a cursor belongs to."""
    return hashlib.blake2s(
        orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=6
    ).hexdigest()


def encode_cursor(kind: str, fp: str, **position: Any) -> str:
    """Pack a position into an opaque cursor string."""
    raw = orjson.dumps({"k": kind, "f": fp, **position})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, fp: str) -> dict[str, Any]:
    """Unpack a cursor made by :func:`encode_cursor` for the same kind and query."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > 512:
        raise ValidationError(
            "cursor is not valid: pass the next_cursor of a previous page", field="cursor"
        )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise ValidationError(
            "cursor is not valid: pass the next_cursor of a previous page", field="cursor"
        ) from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise ValidationError(f"cursor is not a {kind} cursor", field="cursor")
    if data.get("f") != fp:
        raise ValidationError(
            "cursor belongs to a query with other filters; start again without a cursor",
            field="cursor",
        )
    return data
