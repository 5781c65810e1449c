"""``chronolog projects``: list and create the tenants of a store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..models import Project
from ._common import DbOption, console, open_store, print_json, print_table
from ._when import TzOption, show_time, zone, zone_label

__all__ = ["app", "project_dict"]

app = typer.Typer(help="List and create projects (every row belongs to one).", no_args_is_help=True)


def project_dict(project: Project) -> dict[str, object]:
    """A project as JSON (the time as RFC 3339)."""
    return {
        "name": project.name,
        "title": project.title,
        "created_at": project.created_at.isoformat().replace("+00:00", "Z"),
        "strict_statuses": project.strict_statuses,
        "event_types": list(project.event_types),
        "statuses": list(project.statuses),
    }


@app.command("ls")
def ls(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: one object with items.")
    ] = False,
    tz: TzOption = None,
    db: DbOption = None,
) -> None:
    """List the store's projects with their registered vocabularies."""
    with open_store(db) as cl:
        projects = cl.projects.list()
    if as_json:
        print_json({"items": [project_dict(p) for p in projects]})
        return
    zone_ = zone(tz)
    table = Table(header_style="bold")
    table.add_column("name", no_wrap=True)
    table.add_column("title")
    table.add_column(f"created ({zone_label(zone_)})", no_wrap=True)
    table.add_column("event types")
    table.add_column("statuses")
    for p in projects:
        table.add_row(
            p.name,
            p.title,
            show_time(p.created_at, zone_),
            ", ".join(p.event_types) or "any",
            (", ".join(p.statuses) or "-") + (" (strict)" if p.strict_statuses else " (any)"),
        )
    print_table(table)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits, - and _ (up to 64).")],
    title: Annotated[str | None, typer.Option(help="A display title.")] = None,
    strict_statuses: Annotated[
        bool,
        typer.Option("--strict-statuses", help="Refuse status words that are not registered."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Create a project; work in it with --project NAME (or $CHRONOLOG_PROJECT)."""
    with open_store(db) as cl:
        project = cl.projects.create(name, title=title, strict_statuses=strict_statuses)
    console.print(f"project {project.name} created", highlight=False)
