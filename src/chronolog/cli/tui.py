"""``chronolog tui``: the terminal UI over a store, or over a chronolog server."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from ..errors import ChronologError
from ._common import DbOption, ProjectOption, fail, local_or_remote, open_store, require_extra

__all__ = ["parse_stages", "register"]


def register(app: typer.Typer) -> None:
    """Add the ``tui`` command to ``app``."""
    app.command("tui")(tui)


def parse_stages(specs: list[str]) -> dict[str, dict[str, str]]:
    """``["season:r=rip", "season:x=extract"]`` → ``{"season": {"r": "rip", "x": "extract"}}``."""
    stages: dict[str, dict[str, str]] = {}
    for spec in specs:
        kind, _, binding = spec.partition(":")
        key, _, job = binding.partition("=")
        if not kind or len(key) != 1 or not key.isalpha() or not job:
            raise ValueError(f"--stage {spec!r}: expected KIND:KEY=JOB with a one-letter key")
        stages.setdefault(kind, {})[key] = job
    return stages


def tui(
    ctx: typer.Context,
    db: DbOption = None,
    project: ProjectOption = "default",
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="CHRONOLOG_SERVER",
            help="Browse a chronolog server (URL) instead of a database (--db); the "
            "project is the token's.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CHRONOLOG_TOKEN",
            help="API token for --server (read role to browse, write to move and enqueue).",
        ),
    ] = None,
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            metavar="KIND:KEY=JOB",
            help="The key enqueues a JOB job on entities of KIND (repeatable; replaces "
            "the kind's default r/m/t keys).",
        ),
    ] = None,
) -> None:
    """Browse entities, their jobs and logs, the activity, queues and schedules, in a terminal UI.

    It shows a store (--db), or a chronolog server (--server URL --token T).
    """
    local_or_remote(ctx, server)
    server = ctx.params.get("server", server)
    require_extra("tui")
    from ..tui import (  # Textual loads only for this command
        DEFAULT_PROFILES,
        KindProfile,
        run,
        run_remote,
    )

    try:
        stages = parse_stages(stage or [])
    except ValueError as exc:
        fail(str(exc))
    profiles = dict(DEFAULT_PROFILES)
    for kind, keys in stages.items():
        profiles[kind] = dataclasses.replace(profiles.get(kind) or KindProfile(), stages=keys)
    if server is not None:
        require_extra("client")
        from ..client import Client  # httpx loads only for a server

        if not token:
            fail("--server needs --token (or $CHRONOLOG_TOKEN): a token with the read role")
        with Client(server, token) as client:
            try:
                client.whoami()  # a wrong URL or token fails here, not inside the screens
            except ChronologError as exc:
                fail(f"cannot use {server}: {exc.message}")
            run_remote(client, profiles=profiles)
        return
    with open_store(db, project) as cl:
        run(cl, profiles=profiles)
