"""Pages bounded by bytes as well as by count.

A page of 100 events whose metadata is 64 KiB each is 6 MiB; of jobs, entities
or log lines, as much again. Every pager counts the JSON size of what it hands
out and stops at ``Limits.page_bytes``: the page then holds fewer items than
its ``limit``, and its ``next_cursor`` continues after the last one it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["fitting", "json_size"]


def json_size(item: Any) -> int:
    """The size of ``item`` as JSON, in bytes (dataclasses and datetimes as orjson
    writes them, which is about what a route answers)."""
    return len(orjson.dumps(item))


def fitting(items: Sequence[Any], budget: int) -> int:
    """How many of ``items``, from the first, fit in ``budget`` bytes (at least one)."""
    total = 0
    for count, item in enumerate(items):
        total += json_size(item)
        if total > budget and count:
            return count
    return len(items)
