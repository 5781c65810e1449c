"""``chronolog init`` and ``chronolog migrate``: create or upgrade a store."""

from __future__ import annotations

import typer
from sqlalchemy.engine import make_url

from ..store import migrate as migrations
from ._common import DbOption, console, open_store, store_url

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("init")(init)
    app.command("migrate")(migrate)


def init(db: DbOption = None) -> None:
    """Create the store (or bring its schema up to date) and print where it is."""
    with open_store(db, create=True):
        url = make_url(store_url(db)).render_as_string(hide_password=True)
        console.print(
            f"chronolog store ready at [bold]{url}[/] (schema {migrations.head_revision()})"
        )


def migrate(db: DbOption = None) -> None:
    """Upgrade an existing store's schema to the newest revision."""
    with open_store(db):
        url = make_url(store_url(db)).render_as_string(hide_password=True)
        console.print(
            f"chronolog store ready at [bold]{url}[/] (schema {migrations.head_revision()})"
        )
