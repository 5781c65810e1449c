"""``chronolog serve``: the HTTP service on uvicorn."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ..auth import IssuedToken
from ..core import Chronolog
from ._common import DbOption, console, err_console, fail, open_store, require_extra

__all__ = ["TOKEN_FILE", "register", "write_token_file"]

TOKEN_FILE = "chronolog-admin-token"
"""Where the first admin token goes by default (in the working directory)."""


def write_token_file(path: Path, secret: str) -> Path:
    """Write ``secret`` to ``path`` readable and writable by its owner only (mode 600),
    replacing the file whole (a stale token file of an earlier store is overwritten).
    Returns the absolute path."""
    path = path.expanduser().absolute()
    fd, temp = tempfile.mkstemp(prefix=".chronolog-token-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secret + "\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _bootstrap(cl: Chronolog, token_file: Path) -> None:
    """On a store with no token yet: issue an admin token, write it to ``token_file``
    (never to standard output, which services send to their logs), say where."""
    directory = token_file.expanduser().absolute().parent
    if not directory.is_dir() or not os.access(directory, os.W_OK):
        fail(f"cannot write the first admin token to {token_file}: choose --token-file")
    issued: IssuedToken | None = cl.auth.bootstrap()
    if issued is None:
        return
    try:
        where = write_token_file(token_file, issued.secret)
    except OSError as exc:
        cl.auth.revoke_token(issued.token.id)  # nobody could use it: do not leave it valid
        fail(f"cannot write the first admin token to {token_file}: {exc.strerror}")
    console.print(
        f"First start: an admin token for project {cl.project!r} was written to {where} "
        "(readable by its owner only; it is shown nowhere else).",
        highlight=False,
        soft_wrap=True,
    )
    if sys.stdout.isatty():  # a person at a terminal, not a service log
        console.print(f"It is: {issued.secret}", highlight=False, soft_wrap=True)


def serve(
    db: DbOption = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; 0.0.0.0 exposes the service to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    project: Annotated[
        str, typer.Option(help="Project of the first admin token, on an empty store.")
    ] = "default",
    token_file: Annotated[
        Path,
        typer.Option(
            envvar="CHRONOLOG_TOKEN_FILE",
            help="Where the first admin token is written (mode 600), on an empty store.",
        ),
    ] = Path(TOKEN_FILE),
    max_streams_per_token: Annotated[
        int,
        typer.Option(
            min=1,
            help="Open feed streams and waiting long-polls one token may hold (429 beyond).",
        ),
    ] = 100,
    max_streams_per_project: Annotated[
        int,
        typer.Option(
            min=1,
            help="Open feed streams and waiting long-polls one project's tokens may hold "
            "together (429 beyond).",
        ),
    ] = 1000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (/api/v1, /docs, /metrics, /health, /ready) and the dashboard.

    On a store with no API token yet, an admin token for PROJECT is created
    and written to --token-file (readable by its owner only), never printed to
    the logs: keep it, the store holds only its hash.
    """
    require_extra("server")
    import uvicorn

    from ..server import create_app

    with open_store(db, project) as cl:
        # Checks first: a wrong secrets key issues nothing.
        app = create_app(
            cl,
            max_streams_per_token=max_streams_per_token,
            max_streams_per_project=max_streams_per_project,
        )
        _bootstrap(cl, token_file)
        if host not in {"127.0.0.1", "localhost", "::1"}:
            err_console.print(
                f"[yellow]warning:[/] listening on {host}: reachable from the network"
            )
        # Feed streams never end by themselves: give them 5 s at shutdown, then cut
        # them (followers reconnect elsewhere with Last-Event-ID).
        uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the command."""
    app.command("serve")(serve)
