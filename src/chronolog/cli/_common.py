"""What every command shares: the store and output options, opening the store, printing."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.engine import make_url

from ..core import Chronolog
from ..errors import ChronologError, NotFound
from ..models import Actor, Page
from ..store.engine import DEFAULT_URL, Store, normalise_url

__all__ = [
    "DbOption",
    "JsonOption",
    "ProjectOption",
    "QuietOption",
    "console",
    "err_console",
    "fail",
    "local_actor",
    "local_or_remote",
    "local_user",
    "open_store",
    "print_json",
    "print_json_lines",
    "print_page_json",
    "print_table",
    "progress",
    "store_url",
]

console = Console()
_UNBOUNDED = 100_000
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="CHRONOLOG_DB",
        metavar="URL",
        help=f"Database URL (sqlite:///file.db or postgresql://…). Default: {DEFAULT_URL}.",
        show_default=False,
    ),
]
ProjectOption = Annotated[
    str,
    typer.Option(
        "--project", "-p", envvar="CHRONOLOG_PROJECT", metavar="NAME", help="Project to work in."
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print JSON instead of a table: one object with items and next_cursor.",
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print no progress and no summary; errors still show."),
]


EXTRAS = {
    "client": ("httpx",),
    "server": ("fastapi", "uvicorn", "jinja2", "prometheus_client"),
    "tui": ("textual",),
}
"""The optional stacks (``pyproject.toml``'s extras) and the modules each brings."""


def require_extra(extra: str) -> None:
    """End the command with how to install ``chronolog[extra]`` when its modules are missing
    (``pip install chronolog`` is the library and the CLI; the rest are extras)."""
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        fail(
            f"this needs chronolog[{extra}] ({', '.join(missing)} not installed): "
            f"pip install 'chronolog[{extra}]'"
        )


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def local_user() -> str | None:
    """The user running the command (``$USER``, else the login name), for actors."""
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if user:
        return user
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):  # no user database entry, e.g. in a container
        return None


def local_actor() -> Actor:
    """Who a command's writes are recorded as: the local user."""
    return Actor("user", local_user())


def store_url(db: str | None) -> str:
    """The store URL a command uses: ``--db``, else ``$CHRONOLOG_DB``, else the default."""
    return db or os.environ.get("CHRONOLOG_DB") or DEFAULT_URL


def _missing_store(url: str) -> str | None:
    """Why ``url`` holds no chronolog store yet (``None`` when it does), without creating it."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        if not Path(database).exists():
            return f"{database} does not exist"
    from ..store import migrate

    store = Store(url)
    try:
        with store.read() as conn:
            revision = migrate.current_revision(conn)
    finally:
        store.close()
    if revision is None:
        return "it holds no chronolog store"
    return None


@contextmanager
def open_store(
    db: str | None, project: str = "default", *, create: bool = False
) -> Iterator[Chronolog]:
    """Open the store for a command; chronolog errors become a clean exit.

    Only ``chronolog init`` passes ``create=True`` (``chronolog demo`` builds its own
    store): every other command, reading or writing, needs an existing store, so a
    mistyped path or database says so, naming ``chronolog init``, instead of
    creating an empty store. An existing store of an older schema is upgraded.
    """
    url = store_url(db)
    try:
        if not create:
            why = _missing_store(url)
            if why is not None:
                shown = make_url(url).render_as_string(hide_password=True)
                fail(
                    f"no chronolog store at {shown}: {why}. Check --db (or $CHRONOLOG_DB); "
                    "`chronolog init` creates a store."
                )
        try:
            store = Chronolog(url, project=project)
        except NotFound as exc:  # the project: say how, in this interface's words
            fail(f"{exc.message}: chronolog projects create {project}")
        with store as cl:
            yield cl
    except ChronologError as exc:
        fail(exc.message)


def local_or_remote(ctx: typer.Context, server: str | None) -> None:
    """Refuse ``--db`` together with ``--server``: a command reads one or the other."""
    if server is None:
        return
    sources = {
        name: ctx.get_parameter_source(name) for name in ("db", "server") if name in ctx.params
    }
    from_line = [n for n, s in sources.items() if s is not None and s.name == "COMMANDLINE"]
    db_given = ctx.params.get("db") is not None
    if not db_given:
        return
    if len(from_line) == 2:
        fail("give --db or --server, not both: a command works on a store or on a server")
    if not from_line:
        fail("both $CHRONOLOG_DB and $CHRONOLOG_SERVER are set: pass --db or --server to choose")
    # One came from the command line, the other from the environment: the line wins.
    if from_line == ["db"]:
        ctx.params["server"] = None


def print_table(table: Table) -> None:
    """Print a table; piped or redirected, at its natural width, so no word is split."""
    if console.is_terminal:
        console.print(table)
        return
    # Measured without the 80 columns a pipe is assumed to have: every cell at full length.
    width = Measurement.get(console, console.options.update_width(_UNBOUNDED), table).maximum
    # print(width=…) is capped at the console's width: a console as wide as the table.
    Console(width=max(width, 40), highlight=False).print(table)


def print_json(value: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(orjson.dumps(value).decode() + "\n")
    sys.stdout.flush()


def print_json_lines(rows: list[dict[str, Any]]) -> None:
    """Write one JSON object per line to stdout."""
    out = sys.stdout
    for row in rows:
        out.write(orjson.dumps(row).decode() + "\n")
    out.flush()


def print_page_json(
    page: Page[Any], item: Callable[[Any], Mapping[str, Any]], **extra: Any
) -> None:
    """A page as one JSON object, the HTTP API's shape: ``items``, ``total``, ``page``,
    ``limit`` and ``next_cursor`` (pass it to ``--cursor`` for the next page)."""
    print_json(
        {
            "items": [item(i) for i in page.items],
            "total": page.total,
            "page": page.page,
            "limit": page.limit,
            "next_cursor": page.next_cursor,
            **extra,
        }
    )


def progress(*, quiet: bool = False, total: bool = True) -> Progress:
    """A progress display on stderr (stdout stays the command's output), shown only on a
    terminal and never with ``--quiet``."""
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed:,}")]
    columns.append(TimeElapsedColumn())
    return Progress(
        *columns,
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
    )
