"""``chronolog token``: create, list and revoke API tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..auth import ROLES
from ._common import (
    DbOption,
    JsonOption,
    ProjectOption,
    console,
    fail,
    open_store,
    print_json_lines,
)

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
        str | None, typer.Option(help="Lifetime such as 30d or 12h; default: no expiry.")
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
    json: JsonOption = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List a project's tokens (never their secrets)."""
    with open_store(db, project) as cl:
        tokens = cl.auth.tokens(include_revoked=all_)
    if json:
        print_json_lines([t.to_dict() for t in tokens])
        return
    table = Table(header_style="bold")
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
        table.add_column(column)
    when = "%Y-%m-%d %H:%M"
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix + "…",
            t.role,
            t.user or "",
            t.created_at.strftime(when),
            t.expires_at.strftime(when) if t.expires_at else "never",
            t.last_used_at.strftime(when) if t.last_used_at else "",
            t.revoked_at.strftime(when) if t.revoked_at else "",
        )
    console.print(table)


@app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `token ls`).")],
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    with open_store(db, project) as cl:
        token = cl.auth.revoke_token(token_id)
    console.print(f"revoked token {token.id} ({token.name})", highlight=False)
