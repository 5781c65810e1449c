"""Statements about projects and their registered vocabularies."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select, update

from ..schema import project_vocab, projects
from . import AnyRow

__all__ = [
    "project_by_name",
    "project_insert",
    "project_list",
    "project_update",
    "vocab_add",
    "vocab_list",
    "vocab_remove",
]


def project_by_name(conn: Connection, name: str) -> AnyRow | None:
    """project_by_name: one project's row by its name."""
    return conn.execute(
        select(
            projects.c.id,
            projects.c.name,
            projects.c.title,
            projects.c.strict_statuses,
            projects.c.created_at,
        ).where(projects.c.name == name)
    ).first()


def project_list(conn: Connection) -> Sequence[AnyRow]:
    """project_list: every project, by name."""
    return conn.execute(
        select(
            projects.c.id,
            projects.c.name,
            projects.c.title,
            projects.c.strict_statuses,
            projects.c.created_at,
        ).order_by(projects.c.name)
    ).all()


def project_insert(conn: Connection, name: str, title: str, created_at: int) -> int:
    """project_insert: create a project and return its id."""
    result = conn.execute(
        insert(projects)
        .values(name=name, title=title, created_at=created_at)
        .returning(projects.c.id)
    )
    return int(result.scalar_one())


def project_update(
    conn: Connection, project_id: int, *, title: str | None, strict_statuses: bool | None
) -> None:
    """project_update: change a project's title or strictness."""
    values: dict[str, object] = {}
    if title is not None:
        values["title"] = title
    if strict_statuses is not None:
        values["strict_statuses"] = strict_statuses
    if values:
        conn.execute(update(projects).where(projects.c.id == project_id).values(**values))


def vocab_list(conn: Connection, project_id: int, kind: str) -> list[str]:
    """vocab_list: the registered words of one kind (``event_type``/``status``), sorted."""
    return list(
        conn.execute(
            select(project_vocab.c.name)
            .where(project_vocab.c.project_id == project_id, project_vocab.c.kind == kind)
            .order_by(project_vocab.c.name)
        ).scalars()
    )


def vocab_add(
    conn: Connection, project_id: int, kind: str, names: Sequence[str], created_at: int
) -> None:
    """vocab_add: register words, skipping those already registered."""
    existing = set(vocab_list(conn, project_id, kind))
    rows = [
        {"project_id": project_id, "kind": kind, "name": n, "created_at": created_at}
        for n in dict.fromkeys(names)
        if n not in existing
    ]
    if rows:
        conn.execute(insert(project_vocab), rows)


def vocab_remove(conn: Connection, project_id: int, kind: str, names: Sequence[str]) -> int:
    """vocab_remove: unregister words; returns how many were registered."""
    result = conn.execute(
        delete(project_vocab).where(
            project_vocab.c.project_id == project_id,
            project_vocab.c.kind == kind,
            project_vocab.c.name.in_(list(names)),
        )
    )
    return result.rowcount
