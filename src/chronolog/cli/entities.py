"""``chronolog entities``: list entities, show one with its history, move one."""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated

import typer
from rich.table import Table

from ..models import Actor
from ..states import Entity, Transition
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    console,
    local_user,
    open_store,
    print_json,
    print_page_json,
    print_table,
)
from ._query import (
    ActiveOption,
    EnteredSinceOption,
    EnteredUntilOption,
    EntityKindOption,
    EntityStateOption,
    ParentOption,
    entity_query,
)
from ._when import TzOption, show_time, zone, zone_label

__all__ = ["app", "entity_table", "history_table"]

app = typer.Typer(help="Entities with a lifecycle and their state history.", no_args_is_help=True)


def _when(entity_or_move: Entity | Transition, tz: tzinfo) -> str:
    at = (
        entity_or_move.state_since
        if isinstance(entity_or_move, Entity)
        else entity_or_move.occurred_at
    )
    return show_time(at, tz)


def entity_table(items: list[Entity], title: str | None = None, tz: tzinfo | None = None) -> Table:
    """A Rich table of entities with their current state and its metadata."""
    zone_ = tz or zone(None)
    table = Table(title=title, header_style="bold")
    for column in ("kind", "id", "title", "state", f"since ({zone_label(zone_)})"):
        table.add_column(column, no_wrap=column not in ("title", "id"))
    table.add_column("parent")
    table.add_column("metadata")
    for e in items:
        metadata = e.current.metadata if e.current is not None else None
        table.add_row(
            e.kind,
            e.id,
            e.title or "",
            f"[cyan]{e.state or '—'}[/]",
            _when(e, zone_),
            "" if e.parent is None else f"{e.parent[0]}/{e.parent[1]}",
            "" if not metadata else ", ".join(f"{k}={v}" for k, v in metadata.items()),
        )
    return table


def history_table(
    moves: list[Transition], title: str | None = None, tz: tzinfo | None = None
) -> Table:
    """A Rich table of one entity's transitions, oldest first."""
    zone_ = tz or zone(None)
    table = Table(title=title, header_style="bold")
    for column in ("#", f"when ({zone_label(zone_)})", "from", "to"):
        table.add_column(column, no_wrap=True)
    table.add_column("actor")
    table.add_column("metadata")
    for t in moves:
        actor = "" if t.actor is None else t.actor.label
        table.add_row(
            str(t.sort_key),
            _when(t, zone_),
            t.from_state or "—",
            f"[cyan]{t.to_state}[/]",
            actor,
            "" if not t.metadata else ", ".join(f"{k}={v}" for k, v in t.metadata.items()),
        )
    return table


@app.command("ls")
def ls(
    ctx: typer.Context,
    kind: EntityKindOption = None,
    state: EntityStateOption = None,
    active: ActiveOption = None,
    parent: ParentOption = None,
    since: EnteredSinceOption = None,
    until: EnteredUntilOption = None,
    limit: Annotated[int, typer.Option(help="Entities per page (1..100).")] = 20,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of a previous page.")] = None,
    as_json: JsonOption = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List entities, newest move first: of some kinds, in some states, active or
    finished, children of one parent, entered their state since / until."""
    query = entity_query(zone(tz), ctx.params)
    with open_store(db, project) as cl:
        page = cl.states.list(query, limit=limit, cursor=cursor)
    if as_json:
        print_page_json(page, Entity.to_dict)
        return
    print_table(entity_table(list(page.items), tz=zone(tz)))
    console.print(
        f"{len(page.items)} entities"
        + (f" · next: --cursor {page.next_cursor}" if page.next_cursor else ""),
        style="dim",
        highlight=False,
        soft_wrap=True,
    )


@app.command("show")
def show(
    kind: Annotated[str, typer.Argument(help="Entity kind, e.g. movie.")],
    entity_id: Annotated[str, typer.Argument(metavar="ID", help="Entity id.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the entity and its history as JSON.")
    ] = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Show an entity's current state and its whole history."""
    with open_store(db, project) as cl:
        entity = cl.states.get(kind, entity_id)
        moves = cl.states.history(kind, entity_id)
        children = cl.states.children(kind, entity_id)
    if as_json:
        print_json(
            {
                **entity.to_dict(),
                "history": [t.to_dict() for t in moves],
                "children": [c.to_dict() for c in children],
            }
        )
        return
    zone_ = zone(tz)
    print_table(entity_table([entity], title=f"{kind}/{entity_id}", tz=zone_))
    print_table(history_table(moves, title="history", tz=zone_))
    if children:
        print_table(entity_table(children, title="children", tz=zone_))


@app.command("move")
def move(
    kind: Annotated[str, typer.Argument(help="Entity kind, e.g. movie.")],
    entity_id: Annotated[str, typer.Argument(metavar="ID", help="Entity id.")],
    state: Annotated[str, typer.Argument(help="The state to move to.")],
    expect: Annotated[
        str | None, typer.Option("--expect", help="Refuse unless the entity is in this state.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Set the entity's title.")] = None,
    metadata: Annotated[
        str | None, typer.Option(metavar="JSON", help="A JSON object kept with the move.")
    ] = None,
    actor_type: Annotated[str, typer.Option(help="Who moves it.")] = "user",
    actor_id: Annotated[str | None, typer.Option(help="Default: your user name.")] = None,
    actor_name: Annotated[str | None, typer.Option(help="Display name of the actor.")] = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Move an entity to STATE (creating it on its first move); its machine must allow it."""
    with open_store(db, project) as cl:
        done = cl.states.transition(
            kind,
            entity_id,
            state,
            actor=Actor(actor_type, actor_id or local_user(), actor_name),
            metadata=metadata,
            title=title,
            expected_from=expect,
        )
    console.print(
        f"{kind}/{entity_id}: {done.from_state or '—'} → [cyan]{done.to_state}[/] "
        f"(#{done.sort_key})",
        highlight=False,
    )
