"""chronolog's terminal UI (Textual): entities → detail → job → live log, and activity.

``chronolog tui`` runs it; :func:`run` (a store) and :func:`run_remote` (a
``chronolog serve`` through a :class:`~chronolog.Client`) do the same from
Python. Screens talk to a :class:`~chronolog.tui.source.DataSource` only:
:class:`~chronolog.tui.source.LocalSource` or :class:`~chronolog.tui.remote.RemoteSource`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core import Chronolog
from .app import ChronologApp
from .profiles import DEFAULT_PROFILES, KindProfile
from .source import DataSource, LocalSource

if TYPE_CHECKING:
    from ..client import Client
    from .remote import RemoteSource

__all__ = [
    "DEFAULT_PROFILES",
    "ChronologApp",
    "DataSource",
    "KindProfile",
    "LocalSource",
    "RemoteSource",
    "run",
    "run_remote",
]


def run(cl: Chronolog, *, profiles: Mapping[str, KindProfile] | None = None) -> None:
    """Run the TUI on ``cl`` until the user quits."""
    ChronologApp(LocalSource(cl), profiles=profiles).run()


def __getattr__(name: str) -> Any:
    # The remote source needs httpx: it loads only when asked for, not for a local store.
    if name == "RemoteSource":
        from .remote import RemoteSource

        return RemoteSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_remote(client: Client, *, profiles: Mapping[str, KindProfile] | None = None) -> None:
    """Run the TUI on the service ``client`` talks to until the user quits."""
    from .remote import RemoteSource

    source = RemoteSource(client)
    try:
        ChronologApp(source, profiles=profiles).run()
    finally:
        source.close()
