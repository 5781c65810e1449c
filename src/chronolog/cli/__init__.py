"""The ``chronolog`` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import typer

from . import (
    cleanup,
    demo,
    entities,
    events,
    feed,
    init,
    jobs,
    machines,
    projects,
    queues,
    serve,
    stats,
    token,
    tui,
)
from ._help import ProductGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="chronolog",
    cls=ProductGroup,
    help="chronolog: the activity layer for applications.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# In the order a new user meets them: the store, its data, the work, the services.
init.register(app)
app.add_typer(events.app, name="events")
app.add_typer(entities.app, name="entities")
app.add_typer(machines.app, name="machines")
app.add_typer(projects.app, name="projects")
jobs.register(app)
queues.register(app, jobs.app)
stats.register(app)
feed.register(app)
cleanup.register(app)
app.add_typer(token.app, name="token")
serve.register(app)
tui.register(app)
demo.register(app)


def main() -> None:
    """Entry point of the ``chronolog`` console script."""
    app()
