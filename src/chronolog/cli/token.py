"""``chronolog token``: create, list and revoke API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from ..auth import ROLES, ApiToken
from ._common import (
    DbOption,
    ProjectOption,
    console,
    fail,
    open_store,
    print_json,
    print_table,
)
from ._when import TzOption, duration_option, show_time, zone, zone_label

__all__ = ["app"]

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A label, e.g. ripper-01.")],
    role: Annotated[str, typer.Option(help="read, write or admin.")] = "read",
    user: Annotated[
        str | None, typer.Option(help="Tie it to a member (capped by their role).")
    ] = None,
    expires_in: Annotated[
        timedelta | None, duration_option("Lifetime; default: no expiry", "--expires-in")
    ] = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Issue a token and print it once (only its hash is stored)."""
    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}")
    with open_store(db, project) as cl:
        issued = cl.auth.create_token(name, role, user=user, expires_in=expires_in)
    console.print(issued.secret, highlight=False, soft_wrap=True)


@app.command("ls")
def ls(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    json: Annotated[
        bool, typer.Option("--json", help="Print JSON: one object with items.")
    ] = False,
    tz: TzOption = None,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List a project's tokens (never their secrets)."""
    with open_store(db, project) as cl:
        tokens = cl.auth.tokens(include_revoked=all_)
    if json:
        print_json({"items": [ApiToken.to_dict(t) for t in tokens]})
        return
    zone_ = zone(tz)
    table = Table(header_style="bold", caption=f"times in {zone_label(zone_)}")
    for column in (
        "id",
        "name",
        "prefix",
        "role",
        "user",
        "created",
        "expires",
        "last used",
        "revoked",
    ):
        table.add_column(column, no_wrap=column != "name")
    when = "%Y-%m-%d %H:%M"
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix + "…",
            t.role,
            t.user or "",
            show_time(t.created_at, zone_, when),
            show_time(t.expires_at, zone_, when) if t.expires_at else "never",
            show_time(t.last_used_at, zone_, when),
            show_time(t.revoked_at, zone_, when),
        )
    print_table(table)


@app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (see token ls).")],
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    with open_store(db, project) as cl:
        token = cl.auth.revoke_token(token_id)
    console.print(f"revoked token {token.id} ({token.name})", highlight=False)
