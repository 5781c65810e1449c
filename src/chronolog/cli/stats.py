"""``chronolog stats``: a terminal bar chart of event counts per bucket."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from ..models import Series
from ._common import DbOption, ProjectOption, console, open_store, print_json
from ._query import (
    ActionOption,
    ActorTypeOption,
    StatusOption,
    TargetTypeOption,
    TypeOption,
    event_query,
)
from ._when import TzOption, zone

__all__ = ["chart", "register"]

_COLOURS = ["green", "yellow", "red", "cyan", "magenta", "blue"]
_WIDTH = 50


def chart(series: Series) -> Table:
    """A Rich table with one bar per bucket (stacked by group when grouped)."""
    table = Table(header_style="bold", box=None, title=f"{series.window or ''} ({series.tz})")
    table.add_column("bucket start", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("total", justify="right")
    peak = max((b.total for b in series.buckets), default=0) or 1
    day = series.buckets[0].end - series.buckets[0].start >= timedelta(days=1)
    for b in series.buckets:
        label = b.start.strftime("%a %Y-%m-%d" if day else "%m-%d %H:%M")
        if series.group_by:
            bar = "".join(
                f"[{_COLOURS[i % len(_COLOURS)]}]"
                + "█" * round(b.counts[g] * _WIDTH / peak)
                + "[/]"
                for i, g in enumerate(series.groups)
            )
        else:
            bar = "[green]" + "█" * round(b.total * _WIDTH / peak) + "[/]"
        table.add_row(label, bar, str(b.total))
    if series.group_by:
        legend = "  ".join(
            f"[{_COLOURS[i % len(_COLOURS)]}]█[/] {g or '(none)'}"
            for i, g in enumerate(series.groups)
        )
        table.caption = legend
    return table


def stats(
    ctx: typer.Context,
    window: Annotated[
        str, typer.Argument(metavar="WINDOW", help="1h, 3h, 6h, 1d, 7d or 30d.")
    ] = "1d",
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by", "-g", help="action, event_type, status, actor_type, target_type."
        ),
    ] = None,
    event_type: TypeOption = None,
    action: ActionOption = None,
    status: StatusOption = None,
    actor_type: ActorTypeOption = None,
    target_type: TargetTypeOption = None,
    tz: TzOption = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print the series as JSON: one object with its buckets.")
    ] = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Chart event counts per time bucket (from rollups: instant at any size)."""
    query = event_query(zone(tz), ctx.params)
    with open_store(db, project) as cl:
        series = cl.stats.buckets(window, query=query, group_by=group_by, tz=tz)
    if json:
        print_json(series.to_dict())
        return
    console.print(chart(series))


def register(app: typer.Typer) -> None:
    """Add ``stats`` to the top-level app."""
    app.command("stats")(stats)
