"""Opaque cursors: what a caller hands back to continue where a page ended.

A cursor is URL-safe base64 of a small JSON object, then ``.`` and an
HMAC-SHA256 tag (truncated to 128 bits) under a key kept in the store
(``store_keys``, made by migration 0011), so every server of one store
accepts the others' cursors and nobody can edit one: a changed position, a
window or a page number is refused before any of it reaches a query. The
object carries a fingerprint of the query it came from, so a cursor used with
other filters is refused instead of silently returning the wrong rows; each
number read back is range-checked all the same (:func:`cursor_int`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from typing import Any
from weakref import WeakKeyDictionary

import orjson

from .errors import ValidationError
from .store.engine import Store
from .store.sql import keys as sql

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "cursor_int",
    "cursor_key",
    "decode_cursor",
    "encode_cursor",
    "fingerprint",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_LENGTH = 512
"""The longest cursor accepted (the routes' ``max_length`` too)."""

_TAG_BYTES = 16
_NOT_VALID = "cursor is not valid: pass the next_cursor of a previous page"
_keys: WeakKeyDictionary[Store, bytes] = WeakKeyDictionary()
_keys_lock = threading.Lock()


def cursor_key(store: Store) -> bytes:
    """The store's cursor key (read once per open store; made if a store lacks one)."""
    key = _keys.get(store)
    if key is None:
        with store.read() as conn:
            key = sql.store_key_get(conn, "cursor")
        if key is None:  # a store whose key was removed: the first to notice makes one
            with store.write() as conn:
                sql.store_key_add(
                    conn, store.dialect, "cursor", os.urandom(32), int(time.time() * 1e6)
                )
                key = sql.store_key_get(conn, "cursor")
            assert key is not None
        with _keys_lock:
            _keys[store] = key
    return key


def fingerprint(*parts: Any) -> str:
    """A short, stable hash of the query a cursor belongs to."""
    return hashlib.blake2s(
        orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=6
    ).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _tag(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:_TAG_BYTES])


def encode_cursor(store: Store, kind: str, fp: str, **position: Any) -> str:
    """Pack a position into an opaque, signed cursor string."""
    body = _b64(orjson.dumps({"k": kind, "f": fp, **position}))
    return f"{body}.{_tag(cursor_key(store), body)}"


def decode_cursor(store: Store, cursor: str, kind: str, fp: str) -> dict[str, Any]:
    """Unpack a cursor made by :func:`encode_cursor` for the same store, kind and query.

    ``ValidationError`` for anything else: not a cursor, a tag that does not
    match (edited, or from another store), another kind, another query.
    """
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_LENGTH:
        raise ValidationError(_NOT_VALID, field="cursor")
    body, dot, tag = cursor.rpartition(".")
    if (
        not dot
        or not body.isascii()
        or not hmac.compare_digest(
            tag.encode("ascii", "replace"), _tag(cursor_key(store), body).encode("ascii")
        )
    ):
        raise ValidationError(_NOT_VALID, field="cursor")
    try:
        data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise ValidationError(_NOT_VALID, field="cursor") from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise ValidationError(f"cursor is not a {kind} cursor", field="cursor")
    if data.get("f") != fp:
        raise ValidationError(
            "cursor belongs to a query with other filters; start again without a cursor",
            field="cursor",
        )
    return data


def cursor_int(data: dict[str, Any], name: str, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    """The integer ``name`` of a decoded cursor, within [low, high] (else ``ValidationError``)."""
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(_NOT_VALID, field="cursor")
    return value
