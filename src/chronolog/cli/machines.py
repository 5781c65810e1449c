"""``chronolog machines``: the state machines of entity kinds, defined from YAML or JSON."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from ..errors import ChronologError, ValidationError
from ..states import Machine
from ..states.machine import check_kind, parse_machine
from ._common import DbOption, ProjectOption, console, fail, open_store, print_json, print_table

__all__ = ["app", "machine_dict", "read_definitions"]

app = typer.Typer(
    help="State machines of entity kinds: list, show, define from a YAML or JSON file.",
    no_args_is_help=True,
)


def machine_dict(machine: Machine) -> dict[str, Any]:
    """A machine in the file format ``machines define`` reads."""
    return {"kind": machine.kind, **machine.to_dict()}


def _load(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")
    if path.lower().endswith(".json"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            fail(f"{path} is not valid JSON: {exc}")
    import yaml  # YAML is a superset of JSON: one reader for both

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        fail(f"{path} is not valid YAML or JSON: {exc}")


def read_definitions(data: Any) -> list[Machine]:
    """Machines from a parsed file: one definition with ``kind``; a list of them; or a
    mapping of kind → definition. Every one is checked (``ValidationError``)."""
    if isinstance(data, Mapping) and "machines" in data and len(data) == 1:
        data = data["machines"]
    if isinstance(data, Mapping) and "kind" in data:
        items: list[tuple[Any, Any]] = [(data.get("kind"), data)]
    elif isinstance(data, list):
        items = [(d.get("kind") if isinstance(d, Mapping) else None, d) for d in data]
    elif isinstance(data, Mapping) and data and all(isinstance(v, Mapping) for v in data.values()):
        items = list(data.items())
    else:
        raise ValidationError(
            "expected a machine (a mapping with kind, states, transitions), a list of "
            "them, or a mapping of kind → machine"
        )
    machines: list[Machine] = []
    for kind, definition in items:
        if not isinstance(definition, Mapping):
            raise ValidationError(f"the definition of {kind!r} is not a mapping")
        unknown = sorted(set(definition) - {"kind", "states", "transitions", "initial", "terminal"})
        if unknown:
            raise ValidationError(f"{kind!r}: unknown fields {unknown}")
        try:
            machines.append(
                parse_machine(
                    check_kind(kind, writing=True),
                    definition.get("states"),
                    definition.get("transitions") or {},
                    definition.get("initial"),
                    definition.get("terminal") or (),
                )
            )
        except ValidationError as exc:
            raise ValidationError(f"{kind!r}: {exc.message}") from None
    kinds = [m.kind for m in machines]
    twice = sorted({k for k in kinds if kinds.count(k) > 1})
    if twice:
        raise ValidationError(f"kinds defined twice: {twice}")
    return machines


@app.command("ls")
def ls(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: one object with items.")
    ] = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """List the kinds that have a machine, with how many entities each holds."""
    with open_store(db, project) as cl:
        machines = cl.states.machines()
        counts = {m.kind: cl.states.counts(m.kind) for m in machines}
    if as_json:
        print_json({"items": [machine_dict(m) for m in machines]})
        return
    table = Table(header_style="bold")
    for column in ("kind", "states", "initial", "terminal", "entities"):
        table.add_column(column, no_wrap=column in ("kind", "initial", "entities"))
    for m in machines:
        table.add_row(
            m.kind,
            " → ".join(m.states) if len(m.states) <= 6 else f"{len(m.states)} states",
            m.initial or "any",
            ", ".join(sorted(m.terminal)) or "-",
            str(sum(counts[m.kind].values())),
        )
    print_table(table)
    if not machines:
        console.print("no machines: define one with `chronolog machines define FILE`", style="dim")


@app.command("show")
def show(
    kind: Annotated[str, typer.Argument(help="Entity kind, e.g. movie.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the definition as JSON (define reads it).")
    ] = False,
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Show a kind's machine: its states with the entities in each, and the allowed moves."""
    with open_store(db, project) as cl:
        machine = cl.states.machine(kind)
        if machine is None:
            fail(f"kind {kind!r} has no state machine: any move is allowed")
        counts = cl.states.counts(kind)
    if as_json:
        print_json(machine_dict(machine))
        return
    table = Table(header_style="bold", title=f"{kind}: states and moves")
    table.add_column("state", no_wrap=True)
    table.add_column("entities", justify="right", no_wrap=True)
    table.add_column("may move to")
    for state in machine.states:
        marks = []
        if state == machine.initial:
            marks.append("initial")
        if state in machine.terminal:
            marks.append("terminal")
        label = Text(state, style="bold")
        if marks:
            label.append(f" ({', '.join(marks)})", style="dim")
        table.add_row(
            label, str(counts.get(state, 0)), ", ".join(machine.transitions.get(state, ())) or "-"
        )
    print_table(table)


@app.command("define")
def define(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE", help="A YAML or JSON file, or - for stdin."),
    ],
    db: DbOption = None,
    project: ProjectOption = "default",
) -> None:
    """Define (or redefine) state machines from a YAML or JSON file.

    The file holds one machine, a list of them, or a mapping of kind to
    machine. For example:

        kind: movie
        states: \\[missing, downloading, downloaded, imported]
        transitions:
          missing: \\[downloading]
          downloading: \\[downloaded, missing]
          downloaded: \\[imported]
        initial: missing
        terminal: \\[imported]

    Every machine in the file is checked before any is stored. A redefinition
    must keep the states entities are in now.
    """
    data = _load(file)
    try:
        machines = read_definitions(data)
    except ValidationError as exc:
        fail(f"{file}: {exc.message}")
    with open_store(db, project) as cl:
        for machine in machines:
            try:
                cl.states.define(
                    machine.kind,
                    machine.states,
                    machine.transitions,
                    initial=machine.initial,
                    terminal=sorted(machine.terminal),
                )
            except ChronologError as exc:
                fail(f"{machine.kind}: {exc.message}")
            console.print(f"defined {machine.kind}: {len(machine.states)} states", highlight=False)
