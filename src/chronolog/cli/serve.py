"""``chronolog serve``: the HTTP service on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import DbOption, console, err_console, open_store

__all__ = ["register"]


def serve(
    db: DbOption = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; 0.0.0.0 exposes the service to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    project: Annotated[
        str, typer.Option(help="Project of the first admin token, on an empty store.")
    ] = "default",
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (/api/v1, /docs, /metrics, /health).

    On a store with no API token yet, an admin token for PROJECT is created
    and printed once: keep it, it is stored only as a hash.
    """
    import uvicorn

    from ..server import create_app

    with open_store(db, project) as cl:
        issued = cl.auth.bootstrap()
        if issued is not None:
            console.print(
                f"[bold]First start: admin token for project {cl.project!r} "
                f"(shown once, store it now):[/]\n{issued.secret}",
                highlight=False,
                soft_wrap=True,  # never break the token across lines
            )
        if host not in {"127.0.0.1", "localhost", "::1"}:
            err_console.print(
                f"[yellow]warning:[/] listening on {host}: reachable from the network"
            )
        app = create_app(cl)
        # Feed streams never end by themselves: give them 5 s at shutdown, then cut
        # them (followers reconnect elsewhere with Last-Event-ID).
        uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the command."""
    app.command("serve")(serve)
