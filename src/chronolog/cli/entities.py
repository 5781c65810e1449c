"""``chronolog entities``: list entities, show one with its history, move one."""

from __future__ import annotations

import os
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
    fail,
    open_store,
    print_json_lines,
)

__all__ = ["app", "entity_table", "history_table"]

app = typer.Typer(help="Entities with a lifecycle and their state history.", no_args_is_help=True)


def _when(entity_or_move: Entity | Transition) -> str:
    at = (
        entity_or_move.state_since
        if isinstance(entity_or_move, Entity)
        else entity_or_move.occurred_at
    )
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S")


def entity_table(items: list[Entity], title: str | None = None) -> Table:
    """A Rich table of entities with their current state and its metadata."""
    table = Table(title=title, header_style="bold")
    for column in ("kind", "id", "title", "state", "since (UTC)", "parent", "metadata"):
        table.add_column(column, overflow="fold")
    for e in items:
        metadata = e.current.metadata if e.current is not None else None
        table.add_row(
            e.kind,
            e.id,
            e.title or "",
            f"[cyan]{e.state or '—'}[/]",
            _when(e),
            "" if e.parent is None else f"{e.parent[0]}/{e.parent[1]}",
            "" if not metadata else ", ".join(f"{k}={v}" for k, v in metadata.items()),
        )
    return table


def history_table(moves: list[Transition], title: str | None = None) -> Table:
    """A Rich table of one entity's transitions, oldest first."""
    table = Table(title=title, header_style="bold")
    for column in ("#", "when (UTC)", "from", "to", "actor", "metadata"):
        table.add_column(column, overflow="fold")
    for t in moves:
        actor = "" if t.actor is None else (t.actor.name or f"{t.actor.type}:{t.actor.id or ''}")
        table.add_row(
            str(t.sort_key),
            _when(t),
            t.from_state or "—",
            f"[cyan]{t.to_state}[/]",
            actor,
            "" if not t.metadata else ", ".join(f"{k}={v}" for k, v in t.metadata.items()),
        )
    return table


@app.command("ls")
def ls(
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="Entity kind.")] = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", "-s", help="State (repeatable; needs --kind).")
    ] = None,
    active: Annotated[
        bool, typer.Option("--active", help="Only entities not in a terminal state.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Entities per page (1..100).")] = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of a previous page.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List entities, newest move first: in some states (--kind and --state), or active."""
    if state and not kind:
        fail("--state needs --kind")
    if state and active:
        fail("give --state or --active, not both")
    with open_store(db, project) as cl:
        if state and kind:
            page = cl.states.in_state(kind, state, limit=limit, cursor=cursor)
        elif active:
            page = cl.states.active(kind, limit=limit, cursor=cursor)
        else:
            page = cl.states.entities(kind, limit=limit, cursor=cursor)
    if as_json:
        print_json_lines([e.to_dict() for e in page.items])
        return
    console.print(entity_table(list(page.items)))
    console.print(
        f"{len(page.items)} entities"
        + (f" · next: --cursor {page.next_cursor}" if page.next_cursor else ""),
        style="dim",
        highlight=False,
    )


@app.command("show")
def show(
    kind: Annotated[str, typer.Argument(help="Entity kind, e.g. movie.")],
    entity_id: Annotated[str, typer.Argument(metavar="ID", help="Entity id.")],
    as_json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Show an entity's current state and its whole history."""
    with open_store(db, project) as cl:
        entity = cl.states.get(kind, entity_id)
        moves = cl.states.history(kind, entity_id)
        children = cl.states.children(kind, entity_id)
    if as_json:
        print_json_lines([{**entity.to_dict(), "history": [t.to_dict() for t in moves]}])
        return
    console.print(entity_table([entity], title=f"{kind}/{entity_id}"))
    console.print(history_table(moves, title="history"))
    if children:
        console.print(entity_table(children, title="children"))


@app.command("move")
def move(
    kind: Annotated[str, typer.Argument(help="Entity kind, e.g. movie.")],
    entity_id: Annotated[str, typer.Argument(metavar="ID", help="Entity id.")],
    state: Annotated[str, typer.Argument(help="The state to move to.")],
    expect: Annotated[
        str | None, typer.Option("--expect", help="Refuse unless the entity is in this state.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Set the entity's title.")] = None,
    metadata: Annotated[str | None, typer.Option(help="A JSON object kept with the move.")] = None,
    actor_type: Annotated[str, typer.Option(help="Who moves it.")] = "user",
    actor_id: Annotated[str | None, typer.Option()] = None,
    actor_name: Annotated[str | None, typer.Option()] = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Move an entity to STATE (creating it on its first move); its machine must allow it."""
    with open_store(db, project) as cl:
        done = cl.states.transition(
            kind,
            entity_id,
            state,
            actor=Actor(actor_type, actor_id or os.environ.get("USER"), actor_name),
            metadata=metadata,
            title=title,
            expected_from=expect,
        )
    console.print(
        f"{kind}/{entity_id}: {done.from_state or '—'} → [cyan]{done.to_state}[/] "
        f"(#{done.sort_key})",
        highlight=False,
    )
