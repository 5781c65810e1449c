"""The ``chronolog`` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import typer

from . import cleanup, demo, entities, events, feed, init, jobs, serve, stats, token

__all__ = ["app", "main"]

app = typer.Typer(
    name="chronolog",
    help="chronolog: the activity layer for applications.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
init.register(app)
demo.register(app)
stats.register(app)
feed.register(app)
cleanup.register(app)
app.add_typer(events.app, name="events")
app.add_typer(entities.app, name="entities")
serve.register(app)
app.add_typer(token.app, name="token")
jobs.register(app)


def main() -> None:
    """Entry point of the ``chronolog`` console script."""
    app()
