"""``chronolog tui``: the terminal UI over a store."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from ._common import DbOption, ProjectOption, fail, open_store

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
    db: DbOption = None,
    project: ProjectOption = "default",
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            help="KIND:KEY=JOB: the key enqueues a JOB job for KIND (repeatable; replaces "
            "the kind's default r/m/t keys).",
        ),
    ] = None,
) -> None:
    """Browse entities, their jobs and logs, and the activity, in a terminal UI."""
    from ..tui import DEFAULT_PROFILES, KindProfile, run  # Textual loads only for this command

    try:
        stages = parse_stages(stage or [])
    except ValueError as exc:
        fail(str(exc))
    profiles = dict(DEFAULT_PROFILES)
    for kind, keys in stages.items():
        profiles[kind] = dataclasses.replace(profiles.get(kind) or KindProfile(), stages=keys)
    with open_store(db, project) as cl:
        run(cl, profiles=profiles)
