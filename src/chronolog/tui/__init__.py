"""chronolog's terminal UI (Textual): entities → detail → job → live log, and activity.

``chronolog tui`` runs it; :func:`run` does the same from Python. Screens talk
to a :class:`~chronolog.tui.source.DataSource` only, so a remote source can
replace :class:`~chronolog.tui.source.LocalSource`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core import Chronolog
from .app import ChronologApp
from .profiles import DEFAULT_PROFILES, KindProfile
from .source import DataSource, EventFilters, LocalSource

__all__ = [
    "DEFAULT_PROFILES",
    "ChronologApp",
    "DataSource",
    "EventFilters",
    "KindProfile",
    "LocalSource",
    "run",
]


def run(cl: Chronolog, *, profiles: Mapping[str, KindProfile] | None = None) -> None:
    """Run the TUI on ``cl`` until the user quits."""
    ChronologApp(LocalSource(cl), profiles=profiles).run()
