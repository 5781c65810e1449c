"""SQLAlchemy's pysqlite dialect, with table hints (``INDEXED BY``) rendered.

SQLAlchemy's SQLite compiler drops ``Select.with_hint()`` text silently, so
``SQLiteDialect.use_index`` would pin nothing. The store opens SQLite files
through this dialect (``sqlite+chronolog``), which is pysqlite in every other
respect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

__all__ = ["DRIVER", "HintingSQLiteDialect"]

DRIVER = "sqlite+chronolog"
"""The drivername the store gives SQLite URLs."""


class _HintingCompiler(SQLiteCompiler):
    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


class HintingSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, plus ``INDEXED BY`` / ``NOT INDEXED`` from ``with_hint(…, "sqlite")``."""

    statement_compiler = _HintingCompiler
    supports_statement_cache = True


registry.register("sqlite.chronolog", __name__, "HintingSQLiteDialect")
