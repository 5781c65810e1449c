"""Projects: the tenants every row belongs to (``cl.projects``)."""

from __future__ import annotations

import re

from ._scope import Scope
from ._time import from_micros, to_micros
from .errors import Conflict, NotFound, ValidationError
from .models import Project
from .store.sql import projects as sql

__all__ = ["PROJECT_NAME", "Projects", "check_project_name"]

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""A project name: lower-case letters, digits, ``-`` and ``_``, up to 64 characters."""


def check_project_name(name: object) -> str:
    """Return ``name`` if it is a valid project name, else raise ``ValidationError``."""
    if not isinstance(name, str) or not PROJECT_NAME.match(name):
        raise ValidationError(
            f"project name {name!r} is not valid: use lower-case letters, digits, '-' and '_' "
            "(up to 64, starting with a letter or digit)",
            field="project",
        )
    return name


class Projects:
    """Create, list and configure projects."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def create(
        self, name: str, *, title: str | None = None, strict_statuses: bool = False
    ) -> Project:
        """Create a project (``Conflict`` if the name is taken)."""
        check_project_name(name)
        if title is not None and (
            not isinstance(title, str) or not title.strip() or len(title) > 200
        ):
            raise ValidationError(
                "title must be non-empty text of at most 200 characters", field="title"
            )
        store = self._scope.store
        with store.write() as conn:
            if sql.project_by_name(conn, name) is not None:
                raise Conflict(f"project {name!r} already exists")
            project_id = sql.project_insert(
                conn, name, title or name, to_micros(self._scope.clock())
            )
            if strict_statuses:
                sql.project_update(conn, project_id, title=None, strict_statuses=True)
        return self.get(name)

    def get(self, name: str) -> Project:
        """One project with its registered vocabularies (``NotFound`` if missing)."""
        with self._scope.store.read() as conn:
            row = sql.project_by_name(conn, name)
            if row is None:
                raise NotFound(f"project {name!r} not found")
            types = sql.vocab_list(conn, row.id, "event_type")
            statuses = sql.vocab_list(conn, row.id, "status")
        return Project(
            name=row.name,
            title=row.title,
            created_at=from_micros(row.created_at),
            strict_statuses=bool(row.strict_statuses),
            event_types=tuple(types),
            statuses=tuple(statuses),
        )

    def list(self) -> list[Project]:
        """Every project, by name."""
        with self._scope.store.read() as conn:
            names = [r.name for r in sql.project_list(conn)]
        return [self.get(n) for n in names]

    def update(
        self, name: str, *, title: str | None = None, strict_statuses: bool | None = None
    ) -> Project:
        """Change a project's title or whether it only accepts known status words."""
        with self._scope.store.write() as conn:
            row = sql.project_by_name(conn, name)
            if row is None:
                raise NotFound(f"project {name!r} not found")
            sql.project_update(conn, row.id, title=title, strict_statuses=strict_statuses)
        return self.get(name)
