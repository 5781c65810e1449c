"""``chronolog demo``: a store full of realistic activity, to look at."""

from __future__ import annotations

import contextlib
import os
from typing import Annotated

import typer
from rich.table import Table

from ..core import Chronolog
from ..examples import library_cleanup
from ..store.engine import normalise_url
from ._common import console, fail
from .events import event_table

__all__ = ["DEMO_URL", "register"]

DEMO_URL = "sqlite:///chronolog-demo.db"


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command("demo")(demo)


def _reset(url: str) -> None:
    parsed = normalise_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        fail("demo --fresh only deletes SQLite files; point --db at a SQLite file")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(parsed.database + suffix)


def demo(
    db: Annotated[str, typer.Option("--db", help="Where to build the demo store.")] = DEMO_URL,
    fresh: Annotated[bool, typer.Option(help="Start from an empty file.")] = True,
) -> None:
    """Build a SQLite store in the working directory from the example scenarios and show it."""
    if fresh:
        _reset(db)
    with Chronolog(db) as cl:
        with console.status("recording a day of the library-cleanup tool…"):
            count = library_cleanup.simulate_day(cl)
        console.print(f"[bold green]✓[/] recorded {count} events into {db}\n")
        console.print(event_table(cl.events.recent(15), title="Newest activity"))
        summary = Table(title="Summary of the last 24 hours", header_style="bold")
        summary.add_column("event type")
        for column in ("events", "by rules", "by users", "errors"):
            summary.add_column(column, justify="right")
        for event_type in library_cleanup.EVENT_TYPES:

            def total(
                event_type: str = event_type,
                actor_types: list[str] | None = None,
                statuses: list[str] | None = None,
            ) -> int:
                page = cl.events.query(
                    event_types=[event_type],
                    actor_types=actor_types,
                    statuses=statuses,
                    date_range="24h",
                    limit=1,
                )
                return page.total or 0

            summary.add_row(
                event_type,
                str(total()),
                str(total(actor_types=["rule"])),
                str(total(actor_types=["user"])),
                str(total(statuses=["error"])),
            )
        console.print(summary)
        console.print(
            f"\nExplore: [bold]chronolog events ls --db {db} --type deletion[/] "
            f"or [bold]--search alien[/] or [bold]--json[/]"
        )
