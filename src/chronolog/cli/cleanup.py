"""``chronolog cleanup``: apply retention policies, or purge by age."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import DbOption, ProjectOption, console, open_store

__all__ = ["register"]


def cleanup(
    older_than: Annotated[
        str | None, typer.Option(help="Also delete events older than this (e.g. 24h); counts stay.")
    ] = None,
    keep_events: Annotated[
        str | None, typer.Option(help="Set the events policy, e.g. 30d.")
    ] = None,
    keep_minute_rollups: Annotated[
        str | None, typer.Option(help="Set the minute-rollups policy.")
    ] = None,
    keep_hour_rollups: Annotated[
        str | None, typer.Option(help="Set the hour-rollups policy.")
    ] = None,
    all_events: Annotated[
        bool, typer.Option("--all", help="Delete every event and count of the project.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --all.")] = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Purge old rows in short batches following the project's retention policies."""
    with open_store(db, project) as cl:
        if all_events:
            if not yes and not typer.confirm(f"Delete every event of project {project!r}?"):
                raise typer.Exit(1)
            console.print(f"deleted {cl.events.delete_all()} events")
            return
        changes = {
            k: v
            for k, v in (
                ("events", keep_events),
                ("minute_rollups", keep_minute_rollups),
                ("hour_rollups", keep_hour_rollups),
            )
            if v is not None
        }
        if changes:
            cl.retention.set(**changes)
        if older_than is not None:
            console.print(
                f"events older than {older_than}: {cl.events.delete_older_than(older_than)} deleted"
            )
        report = cl.retention.run()
    policies = ", ".join(f"{k}={v}" for k, v in report.removed.items()) or "no policies"
    console.print(
        f"retention: removed {report.total} rows ({policies})"
        + ("" if report.complete else "; more remain, run again")
    )


def register(app: typer.Typer) -> None:
    """Add ``cleanup`` to the top-level app."""
    app.command("cleanup")(cleanup)
