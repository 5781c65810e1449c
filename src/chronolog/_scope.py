"""What every part holds: the store, the project it works in, the clock and limits."""

from __future__ import annotations

from dataclasses import dataclass

from ._time import Clock
from .store.engine import Store

__all__ = ["Limits", "Scope"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on caller input; every one is checked before anything is written."""

    metadata_bytes: int = 64 * 1024
    """Largest metadata / attributes / payload JSON object, serialised."""
    text_chars: int = 64 * 1024
    """Longest free text (error messages, titles)."""
    batch_size: int = 50_000
    """Most items in one ``*_many`` call."""
    page_size: int = 100
    """Largest ``limit`` of a page."""
    page_bytes: int = 8 * 1024 * 1024
    """A page stops adding items past this many bytes of JSON (it always holds one):
    its ``next_cursor`` continues after the last item it holds."""
    log_line_chars: int = 8 * 1024
    """A job log line longer than this is cut to it (and says how much was cut)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """A store seen from one project."""

    store: Store
    project: str
    project_id: int
    clock: Clock
    limits: Limits
