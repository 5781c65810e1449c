"""The named statement catalogue: one module per part, one function per statement.

Each function's docstring starts with its name and a one-line purpose.
"""

from typing import Any, TypeAlias

from sqlalchemy import Row

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any width."""

__all__ = ["AnyRow"]
