"""The ``chronolog`` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import typer

from . import demo, entities, events, init, jobs, tui

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
app.add_typer(events.app, name="events")
app.add_typer(entities.app, name="entities")
jobs.register(app)
tui.register(app)


def main() -> None:
    """Entry point of the ``chronolog`` console script."""
    app()
