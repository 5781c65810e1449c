"""Schema migrations: Alembic, run programmatically on an open store.

Two processes opening a fresh store at once must not both migrate: SQLite
serialises them with ``BEGIN IMMEDIATE`` and PostgreSQL with an advisory lock;
the second finds the schema at head and does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from .engine import Store

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["alembic_config", "current_revision", "head_revision", "table_names", "upgrade"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 7_261_504_113  # arbitrary, constant: "chronolog migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at chronolog's migrations (and ``connection``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration chronolog ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision a database is at, or ``None`` for an empty one."""
    # Alembic loads when a store is opened, not with `import chronolog`.
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def table_names(conn: Connection) -> list[str]:
    """The tables of the database (its default schema), chronolog's or not."""
    from sqlalchemy import inspect

    return sorted(inspect(conn).get_table_names())


def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest), if it is not there yet."""
    target = head_revision() if revision == "head" else revision
    with store.read() as probe:
        if current_revision(probe) == target:
            return
    with store.write() as conn:
        if not store.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        if current_revision(conn) == target:
            return
        from alembic import command

        command.upgrade(alembic_config(conn), revision)
