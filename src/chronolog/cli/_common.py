"""What every command shares: the store option, opening it, printing."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console

from ..core import Chronolog
from ..errors import ChronologError
from ..store.engine import DEFAULT_URL

__all__ = [
    "DbOption",
    "JsonOption",
    "ProjectOption",
    "console",
    "fail",
    "open_store",
    "print_json_lines",
]

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="CHRONOLOG_DB",
        help=f"Database URL (sqlite:///file.db or postgresql://…). Default: {DEFAULT_URL}.",
        show_default=False,
    ),
]
ProjectOption = Annotated[
    str, typer.Option("--project", "-p", envvar="CHRONOLOG_PROJECT", help="Project to work in.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def open_store(db: str | None, project: str = "default") -> Iterator[Chronolog]:
    """Open the store for a command; chronolog errors become a clean exit."""
    try:
        with Chronolog(db or os.environ.get("CHRONOLOG_DB") or DEFAULT_URL, project=project) as cl:
            yield cl
    except ChronologError as exc:
        fail(exc.message)


def print_json_lines(rows: list[dict[str, Any]]) -> None:
    """Write one JSON object per line to stdout."""
    out = sys.stdout
    for row in rows:
        out.write(orjson.dumps(row).decode() + "\n")
    out.flush()
