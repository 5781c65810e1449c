"""``chronolog tui``: the terminal UI over a store."""

from __future__ import annotations

import typer

from ._common import DbOption, ProjectOption, open_store

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``tui`` command to ``app``."""
    app.command("tui")(tui)


def tui(db: DbOption = None, project: ProjectOption = "default") -> None:
    """Browse entities, their jobs and logs, and the activity, in a terminal UI."""
    from ..tui import run  # Textual loads only for this command

    with open_store(db, project) as cl:
        run(cl)
