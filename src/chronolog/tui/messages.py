"""The TUI's messages: how screens and the app talk without importing each other.

Screens post a request (``OpenEntity``, ``OpenJob``, ``OpenCreate``); it bubbles
to the app, which pushes the screen asked for (Textual's own pattern: a widget
posts a message, the app handles it). The app tells the active screen about
changes with :class:`StoreChanged`. No screen imports another or the app.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.message import Message

__all__ = ["OpenCreate", "OpenEntity", "OpenJob", "StoreChanged"]


class StoreChanged(Message, bubble=False):
    """Something in the store may have changed: the active screen re-reads what it shows."""


class OpenEntity(Message):
    """Show one entity (its detail screen)."""

    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__()
        self.kind = kind
        self.entity_id = entity_id


class OpenJob(Message):
    """Show one job (its detail screen and log)."""

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id


class OpenCreate(Message):
    """Open the form that creates an entity; ``done`` gets the entity (or ``None``)."""

    def __init__(
        self,
        kinds: Sequence[str],
        *,
        kind: str | None = None,
        parent: tuple[str, str] | None = None,
        done: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__()
        self.kinds = list(kinds)
        self.kind = kind
        self.parent = parent
        self.done = done
