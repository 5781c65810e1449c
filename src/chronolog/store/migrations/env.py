"""Alembic environment: chronolog always hands it an open connection."""

from __future__ import annotations

from alembic import context

from chronolog.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - chronolog always passes one
    raise RuntimeError("run chronolog migrations through chronolog.store.migrate")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
